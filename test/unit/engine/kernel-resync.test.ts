// The internal cache against the kernel's table (src/engine/kernel-resync.ts), on fake ports:
// reloads (-R), the resync after an event overrun, the consistency check.
import { strict as assert } from 'node:assert';
import { MSG } from '../../../src/sync/wire.js';
import { startedEngine, udpFlow, type EngineRig } from '../../helpers/engine-fakes.js';

const dataOf = (rig: EngineRig) => rig.channel.messages().filter((m) => m.type !== MSG.CTL);

describe('engine: bulk and resync with the kernel', () => {
  it('start-up loads the internal cache from a dump taken after the events are subscribed', async () => {
    const rig = await startedEngine(undefined, (p) => {
      p.kernel.add(udpFlow(1));
      p.kernel.add(udpFlow(2));
    });
    assert.equal(rig.engine.internal.size, 2);
    assert.deepEqual(rig.kernel.dumpsWhileListening, [true]);
    assert.deepEqual(rig.events.ignored, [rig.kernel.portId], 'our own requests are not heard');
    assert.deepEqual(dataOf(rig), [], 'a silent load');
    // the commit workers start later, when there is something to commit: their requests then too
    await rig.commitPool.start();
    assert.deepEqual(rig.events.ignored, [rig.kernel.portId, ...rig.commitPool.portIds]);
  });

  it('NetlinkEventsReliable reaches the event subscription (off by default, as in conntrackd)', async () => {
    assert.equal((await startedEngine()).events.opts.reliable, false);
    const rig = await startedEngine((c) => (c.general = { netlinkEventsReliable: true }));
    assert.equal(rig.events.opts.reliable, true);
  });

  it('-R reloads silently: new and changed entries stored, vanished ones purged, nothing sent', async () => {
    const rig = await startedEngine(undefined, (p) => {
      p.kernel.add(udpFlow(1));
      p.kernel.add(udpFlow(2));
    });
    rig.kernel.remove(udpFlow(1));
    rig.kernel.add(udpFlow(2, { timeout: 77 }));
    rig.kernel.add(udpFlow(3));
    assert.equal(await rig.engine.reloadInternal(false), 2);
    rig.clock.settle();
    assert.equal(rig.engine.internal.size, 2);
    assert.equal(rig.engine.internal.totalObjects, 2, 'the purged entry is gone, not DEAD');
    assert.deepEqual(rig.engine.lastReload, { entries: 2, changed: 2, purged: 1 });
    assert.deepEqual(dataOf(rig), []);
  });

  it('the consistency check sends what differed from the kernel', async () => {
    const rig = await startedEngine(undefined, (p) => {
      p.kernel.add(udpFlow(1));
      p.kernel.add(udpFlow(2));
    });
    rig.kernel.remove(udpFlow(1));
    rig.kernel.add(udpFlow(3));
    const r = await rig.engine.checkConsistency();
    assert.deepEqual(r, { entries: 2, changed: 1, purged: 1 });
    rig.clock.settle();
    const sent = dataOf(rig).map((m) => [m.type, m.entry?.orig.src]);
    assert.deepEqual(
      sent.sort(),
      [
        [MSG.CT_NEW, '198.51.100.4'],
        [MSG.CT_DEL, '198.51.100.2'],
      ].sort(),
    );
    assert.ok(rig.log.lines.some((l) => /1 entries differed from the kernel and 1 were gone/.test(l)));
  });

  it('an overrun triggers a reload once the events calm down, and the differences are sent', async () => {
    const rig = await startedEngine();
    rig.kernel.add(udpFlow(1)); // an event lost in the overrun
    rig.events.overrun();
    assert.equal(rig.engine.overruns, 1);
    // events keep coming for a while: no reload yet
    for (let i = 0; i < 4; i++) {
      rig.clock.run(400);
      rig.events.conntrack([['UPDATE', udpFlow(50 + i)]]);
    }
    assert.equal(rig.kernel.dumps, 1, 'only the start-up dump so far');
    rig.clock.run(1000);
    await new Promise((r) => setImmediate(r)); // the reload's dump resolves
    assert.equal(rig.kernel.dumps, 2, 'reloaded once the events stopped');
    assert.equal(rig.engine.resyncs, 1);
    rig.clock.run(10_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(rig.kernel.dumps, 2, 'once');
    rig.clock.settle();
    assert.ok(
      dataOf(rig).some((m) => m.type === MSG.CT_NEW && m.entry?.orig.src === '198.51.100.2'),
      'the missed flow is sent',
    );
  });

  it('an overrun with events that never calm down reloads at NetlinkOverrunResync at the latest', async () => {
    const rig = await startedEngine((c) => {
      c.general = { ...c.general, netlinkOverrunResync: 5 };
    });
    rig.events.overrun();
    for (let i = 0; i < 9; i++) {
      rig.events.conntrack([['UPDATE', udpFlow(i)]]);
      rig.clock.run(400);
    }
    assert.equal(rig.kernel.dumps, 1, 'not before the deadline');
    for (let i = 0; i < 5; i++) {
      rig.events.conntrack([['UPDATE', udpFlow(i)]]);
      rig.clock.run(400);
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(rig.kernel.dumps, 2);
  });

  it('with NetlinkOverrunResync off an overrun is only counted and said', async () => {
    const rig = await startedEngine((c) => {
      c.general = { ...c.general, netlinkOverrunResync: false };
    });
    rig.events.overrun();
    rig.clock.run(60_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(rig.kernel.dumps, 1);
    assert.equal(rig.engine.overruns, 1);
    assert.ok(rig.log.lines.some((l) => /disabled \(NetlinkOverrunResync off\)/.test(l)));
  });
});
