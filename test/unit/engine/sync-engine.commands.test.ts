// The engine's commands on fake ports: -f (flush caches), -n (ask the peer for a resync),
// -B (bulk), and the kernel flush's forgetting (-F, -k of the daemon handler).
import { strict as assert } from 'node:assert';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import { FakePeer, ackAll, handshake, startedEngine, udpFlow, type EngineRig } from '../../helpers/engine-fakes.js';

const controls = (rig: EngineRig, flag: number) =>
  rig.channel.messages().filter((m) => m.type === MSG.CTL && m.flags & flag);

/** An engine with flows 1..3 in its internal cache and 4..5 from the peer, past the handshake. */
async function busyEngine(): Promise<{ rig: EngineRig; peer: FakePeer }> {
  const rig = await startedEngine(undefined, (p) => {
    for (const i of [1, 2, 3]) p.kernel.add(udpFlow(i));
  });
  const peer = new FakePeer(rig.channel);
  handshake(rig, peer);
  peer.send((b, next) => {
    b.addCt(MSG.CT_NEW, 0, next(), udpFlow(4));
    b.addCt(MSG.CT_NEW, 0, next(), udpFlow(5));
  });
  rig.clock.settle();
  ackAll(rig, peer);
  rig.clock.settle();
  rig.channel.messages();
  return { rig, peer };
}

describe('engine: cache commands', () => {
  it('-f internal empties the internal cache only; nothing queued for it goes out any more', async () => {
    const { rig } = await busyEngine();
    rig.events.conntrack([['UPDATE', udpFlow(1, { timeout: 5 })]]);
    const r = rig.engine.flushCaches('internal');
    assert.deepEqual(r, { internal: 3 });
    rig.clock.settle();
    assert.equal(rig.engine.internal.size, 0);
    assert.equal(rig.engine.external.size, 2);
    assert.deepEqual(
      rig.channel.messages().filter((m) => m.type !== MSG.CTL),
      [],
      'the queued update is forgotten',
    );
    assert.equal(rig.engine.ftfw.stats().txQueueLen, 0);
  });

  it('-f external empties the external cache only; -f both, both', async () => {
    const { rig } = await busyEngine();
    assert.deepEqual(rig.engine.flushCaches('external'), { external: 2 });
    assert.equal(rig.engine.internal.size, 3);
    assert.deepEqual(rig.engine.flushCaches('both'), { internal: 3, external: 0 });
    assert.equal(rig.engine.internal.size + rig.engine.external.size, 0);
  });

  it('-n sends a RESYNC to the peer', async () => {
    const { rig } = await busyEngine();
    rig.engine.requestResync();
    rig.clock.settle();
    assert.equal(controls(rig, FLAG.RESYNC).length, 1);
  });

  it('-n before the handshake waits for it (a HELLO-flagged RESYNC is never NACKed)', async () => {
    const rig = await startedEngine((c) => {
      c.sync.startupResync = false;
    });
    rig.engine.requestResync();
    rig.clock.run(2000);
    assert.equal(controls(rig, FLAG.RESYNC).length, 0);
    const peer = new FakePeer(rig.channel);
    let resyncs = 0;
    handshake(rig, peer).forEach((m) => {
      if (m.type === MSG.CTL && m.flags & FLAG.RESYNC) resyncs++;
    });
    assert.ok(resyncs >= 1, 'sent once the handshake and its linger are over');
  });

  it('-B answers how many objects it covers and sends them', async () => {
    const { rig } = await busyEngine();
    assert.equal(rig.engine.bulkSend(), 3);
    rig.clock.run(1500);
    assert.equal(rig.channel.messages().filter((m) => m.type === MSG.CT_NEW).length, 3);
  });

  it('a kernel flush of ours forgets the flows without telling the peer', async () => {
    const { rig } = await busyEngine();
    rig.engine.forgetInternal([udpFlow(1), udpFlow(2), udpFlow(99)]);
    rig.clock.run(1500);
    assert.equal(rig.engine.internal.size, 1);
    assert.equal(rig.engine.internal.totalObjects, 1, 'removed, not DEAD');
    assert.deepEqual(
      rig.channel.messages().filter((m) => m.type !== MSG.CTL),
      [],
    );
  });
});
