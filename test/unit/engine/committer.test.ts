// External caches -> kernel (src/engine/committer.ts), on fake ports: a commit pool that writes
// into a fake kernel table, a kernel event source the test drives during the commit.
import { strict as assert } from 'node:assert';
import type { Expect } from '../../../src/conntrack/entry.js';
import { flowKey } from '../../../src/conntrack/key.js';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import type { EngineCaches } from '../../../src/engine/engine-caches.js';
import { FakePeer, startedEngine, udpFlow, type EngineRig } from '../../helpers/engine-fakes.js';

/**
 * The peer sends flows `ids` (CT_NEW), so that the external cache holds them; what the engine
 * sends in return (its bulk for a peer it sees for the first time) is done and dropped.
 */
function fromPeer(rig: EngineRig, ids: number[]): FakePeer {
  const peer = new FakePeer(rig.channel);
  peer.send((b, next) => {
    for (const i of ids) b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(i));
  });
  assert.equal(rig.engine.external.size, ids.length);
  rig.clock.settle();
  rig.channel.messages();
  return peer;
}

const srcs = (rig: EngineRig): string[] =>
  [...rig.engine.internal.values()].map((o) => rig.engine.internal.entry(o).orig.src).sort();
/** The internal cache's size without making a pending copy (which its getter would). */
const adoptedSoFar = (rig: EngineRig): number =>
  (rig.engine as unknown as { caches: EngineCaches }).caches.internalAsIs.size;
const dataOf = (rig: EngineRig) => rig.channel.messages().filter((m) => m.type !== MSG.CTL);

describe('engine: commit (external cache -> kernel)', () => {
  it('commits the external cache, then adopts the committed entries into the internal cache, silently', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2, 3]);
    const r = await rig.engine.commit();
    assert.equal(r.committed, 3);
    assert.equal(rig.kernel.table.size, 3);
    assert.equal(rig.engine.internal.size, 3, 'adopted');
    assert.deepEqual(srcs(rig), ['198.51.100.2', '198.51.100.3', '198.51.100.4']);
    rig.clock.run(1000);
    assert.deepEqual(dataOf(rig), [], "the peer's own flows are not sent back");
  });

  it('the copy waits a little (the reply goes out first), or runs on the first access', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2]);
    await rig.engine.commit();
    assert.equal(adoptedSoFar(rig), 0, 'not at once');
    rig.clock.run(50);
    assert.equal(adoptedSoFar(rig), 2, 'after 50 ms');
    const rig2 = await startedEngine();
    fromPeer(rig2, [1, 2]);
    await rig2.engine.commit();
    assert.equal(adoptedSoFar(rig2), 0);
    assert.equal(rig2.engine.internal.size, 2, 'reading the internal cache makes the copy');
  });

  it('a promotion (adopt: false) leaves the internal cache alone', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2]);
    await rig.engine.commit({ adopt: false });
    rig.clock.run(1000);
    assert.equal(rig.kernel.table.size, 2);
    assert.equal(rig.engine.internal.size, 0);
  });

  it('leaves the NEW events group during the commit, and joins it again', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1]);
    let during: boolean | undefined;
    rig.commitPool.during = () => (during = rig.events.hearingNew);
    await rig.engine.commit();
    assert.equal(during, false);
    assert.deepEqual(rig.events.hearNewCalls, [false, true]);
  });

  it('flows the kernel created meanwhile (insert counter) are picked up from a dump and sent', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2]);
    // a packet creates a flow while the NEW group is left: its event is not heard
    rig.commitPool.during = () => {
      rig.kernel.add(udpFlow(9));
      rig.events.conntrack([['NEW', udpFlow(9)]]);
    };
    await rig.engine.commit();
    rig.clock.run(50);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(srcs(rig), ['198.51.100.10', '198.51.100.2', '198.51.100.3']);
    rig.clock.settle();
    const sent = dataOf(rig);
    assert.deepEqual(
      sent.map((m) => [m.type, m.entry?.orig.src]),
      [[MSG.CT_NEW, '198.51.100.10']],
      'only the missed flow is replicated',
    );
    assert.ok(
      rig.log.lines.some((l) => /1 picked up from the kernel \(the kernel counted 1 inserts besides ours\)/.test(l)),
      rig.log.lines.join('\n'),
    );
  });

  it('no dump when the insert counter says only the commit inserted', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2]);
    await rig.engine.commit();
    rig.clock.run(50);
    await new Promise((r) => setImmediate(r));
    assert.equal(rig.kernel.dumps, 1, 'the start-up dump only');
  });

  it('what the kernel reported on during the commit, and what failed, is not overwritten by the copy', async () => {
    const rig = await startedEngine();
    fromPeer(rig, [1, 2, 3]);
    rig.commitPool.failKeys.add(flowKey(udpFlow(3)));
    rig.commitPool.during = () => rig.events.conntrack([['UPDATE', udpFlow(1, { timeout: 333 })]]);
    const r = await rig.engine.commit();
    assert.equal(r.failed.length, 1);
    rig.clock.run(50);
    assert.deepEqual(srcs(rig), ['198.51.100.2', '198.51.100.3'], 'the failed one is not adopted');
    const h = rig.engine.internal.handleOfKey(flowKey(udpFlow(1)));
    assert.equal(rig.engine.internal.entryOf(h).timeout, 333, "the kernel's newer state stays");
  });

  it('warns once when the kernel hash is much smaller than the table', async () => {
    const rig = await startedEngine();
    rig.kernel.buckets = 1;
    fromPeer(rig, [1, 2, 3]);
    await rig.engine.commit();
    await rig.engine.commit();
    assert.equal(
      rig.log.lines.filter((l) => /the kernel conntrack hash has 1 buckets for 3 entries/.test(l)).length,
      1,
    );
  });

  it('with ExpectationSync, expectations are committed after the conntracks, with what is left of their timeout', async () => {
    const rig = await startedEngine((c) => {
      c.sync.options = { expectationSync: true };
    });
    const peer = fromPeer(rig, [1]);
    const x: Expect = {
      family: 2,
      helper: 'ftp',
      timeout: 300,
      master: { src: '198.51.100.2', dst: '203.0.113.1', proto: 17, sport: 10000, dport: 53 },
      tuple: { src: '198.51.100.2', dst: '203.0.113.1', proto: 6, sport: 0, dport: 50000 },
      mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    };
    peer.send((b, next) => b.addExp(MSG.EXP_NEW, FLAG.HELLO, next(), x));
    rig.clock.run(100_000);
    const r = await rig.engine.commit();
    assert.equal(r.committed, 1);
    assert.equal(r.expect?.committed, 1);
    assert.equal(rig.kernel.createdExpect.length, 1);
    assert.equal(rig.kernel.createdExpect[0][0].timeout, 200, '300 s less the 100 s it has been held');
    assert.equal(rig.kernel.updatedExpect[0][0].timeout, 200, "set again: the kernel gives the helper's own");
    assert.equal(rig.engine.internalExpect.size, 1, 'adopted');
  });
});
