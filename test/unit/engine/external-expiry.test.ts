// Mode ALARM through the engine on fake ports (src/engine/external-expiry.ts, src/sync/alarm.ts):
// the sender sends its whole internal cache again every RefreshTime; the receiver drops an
// external entry CacheTimeout after the peer last sent it.
import { strict as assert } from 'node:assert';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import { FakePeer, startedEngine, udpFlow, type EngineRig } from '../../helpers/engine-fakes.js';

const alarm =
  (refreshTime: number, cacheTimeout: number) =>
  (c: { sync: { mode?: string; refreshTime?: number; cacheTimeout?: number } }): void => {
    c.sync.mode = 'alarm';
    c.sync.refreshTime = refreshTime;
    c.sync.cacheTimeout = cacheTimeout;
  };

const externalSports = (rig: EngineRig): number[] =>
  [...rig.engine.external.values()].map((o) => rig.engine.external.entry(o).orig.sport!).sort();

describe('engine: Mode ALARM (refresh and expiry)', () => {
  it('sends every internal entry again each RefreshTime, and never an ALIVE or a RESYNC', async () => {
    const rig = await startedEngine(alarm(10, 30), (p) => {
      for (let i = 0; i < 3; i++) p.kernel.add(udpFlow(i * 250));
    });
    rig.engine.requestResync(); // -n: nothing in ALARM
    rig.clock.run(9_999);
    assert.deepEqual(rig.channel.messages(), [], 'nothing before the first RefreshTime');
    rig.clock.run(1);
    const first = rig.channel.messages();
    assert.deepEqual(
      first.map((m) => [m.type === MSG.CT_NEW || m.type === MSG.CT_UPD, m.flags, m.entry?.orig.sport]),
      [
        [true, 0, 10000],
        [true, 0, 10001],
        [true, 0, 10002],
      ],
    );
    rig.clock.run(10_000);
    assert.equal(rig.channel.messages().length, 3, 'again after another RefreshTime');
    assert.equal(rig.engine.ftfw.stats().resyncSent, 0);
    assert.equal(rig.engine.ftfw.stats().aliveSent, 0);
  });

  it('drops an external entry CacheTimeout after its last refresh, and shows the time left', async () => {
    const rig = await startedEngine(alarm(10, 30));
    const peer = new FakePeer(rig.channel);
    const a = udpFlow(0);
    const b = udpFlow(250);
    peer.send((d, next) => {
      d.addCt(MSG.CT_NEW, 0, next(), a);
      d.addCt(MSG.CT_NEW, 0, next(), b);
    });
    assert.deepEqual(externalSports(rig), [10000, 10001]);
    rig.clock.run(20_000);
    peer.send((d, next) => d.addCt(MSG.CT_UPD, 0, next(), a)); // a is refreshed, b is not
    const expiry = rig.engine.expiry!;
    const h = rig.engine.external.handleOfKey([...rig.engine.external.values()][0]!.key);
    const nowSec = Math.floor(rig.clock.now() / 1000);
    assert.equal(expiry.expiresIn(rig.engine.external.updatedOf(h), nowSec), 30);
    rig.clock.run(10_500);
    assert.deepEqual(externalSports(rig), [10000], 'b went 30 s after it last came');
    rig.clock.run(20_000);
    assert.deepEqual(externalSports(rig), [], 'a went 30 s after its refresh');
    assert.equal(expiry.expired, 2);
  });

  it('ignores a message with any flag (another mode’s peer), as conntrackd does', async () => {
    const rig = await startedEngine(alarm(10, 30));
    const peer = new FakePeer(rig.channel);
    peer.send((d, next) => {
      d.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(0));
      d.addControl(FLAG.RESYNC, next(), 0, 0);
      d.addControl(FLAG.ALIVE, next());
    });
    rig.clock.run(1_000);
    assert.equal(rig.engine.external.size, 0);
    assert.equal(rig.engine.malformed.total, 0);
    assert.deepEqual(rig.channel.messages(), [], 'no bulk answers a RESYNC');
  });
});
