// The daemon's answers on fake engines: `-s process` lists the operations that conntrackd would
// run in a child process while they run here; `-e` in Mode ALARM says when entries expire.
import { strict as assert } from 'node:assert';
import { DaemonHandler, type DaemonControl } from '../../../src/daemon/handler.js';
import type { EngineCommitResult } from '../../../src/engine/sync-engine.js';
import { ACTION } from '../../../src/control/actions.js';

/** A promise and its resolve, for an operation the test finishes when it wants. */
function pending<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function handlerWith(engine: object): DaemonHandler {
  const quiet = { info() {}, verbose() {}, warn() {}, error() {} };
  const control = {
    engine,
    ha: () => undefined,
    log: quiet,
    shutdown() {},
    eventsReceived: () => 0,
    eventBufferSize: () => 0,
    onCommit() {},
  } as unknown as DaemonControl;
  return new DaemonHandler(control);
}

const done: EngineCommitResult = { committed: 0, replaced: 0, failed: [], seconds: 0 } as unknown as EngineCommitResult;

describe('daemon/handler: -s process', function () {
  it('prints nothing when nothing runs, as conntrackd without children', function () {
    assert.equal(handlerWith({}).stats('process'), '');
  });

  it("lists a running commit in conntrackd's layout, with the daemon's pid", async function () {
    const commit = pending<EngineCommitResult>();
    const h = handlerWith({ commit: () => commit.promise });
    const running = h.commit();
    assert.equal(h.stats('process'), `PID=${process.pid} type=commit\n`);
    commit.resolve(done);
    await running;
    assert.equal(h.stats('process'), '');
  });

  it('lists a running kernel flush', async function () {
    const dump = pending<number>();
    const engine = {
      kernel: { dump: () => dump.promise, delete: async () => ({ deleted: 0 }) },
      replicates: () => true,
      forgetInternal() {},
    };
    const h = handlerWith(engine);
    const flush = h.flushKernel('ct');
    assert.equal(h.stats('process'), `PID=${process.pid} type=flush\n`);
    dump.resolve(0);
    await flush;
    assert.equal(h.stats('process'), '');
  });
});

describe('daemon/handler: -e in Mode ALARM', function () {
  const entry = {
    family: 2,
    orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1000, dport: 53 },
    status: 8,
    timeout: 30,
  };

  it('says when each entry expires, and reads the time per entry: a chunked dump sees later arrivals', async function () {
    const realNow = Date.now;
    let now = 1_750_000_000_000;
    Date.now = () => now;
    try {
      const t = Math.floor(now / 1000);
      const external = {
        // the second entry arrives while the dump is under way (its clock has moved on)
        *values() {
          yield { state: 1, added: t - 3, updated: t - 1 };
          now += 5_000;
          yield { state: 1, added: t + 5, updated: t + 5 };
        },
        entry: () => entry,
      };
      const expiry = { expiresIn: (updated: number, nowSec: number) => updated + 180 - nowSec };
      const h = handlerWith({ external, expiry, expectations: false });
      const out = await h.conntrackd(ACTION.DUMP_EXTERNAL);
      let text = '';
      if (typeof out === 'string') text = out;
      else for await (const chunk of out) text += chunk;
      const suffixes = text
        .split('\n')
        .filter(Boolean)
        .map((l) => / (\[expires in -?\d+s\] \[active since -?\d+s\])$/.exec(l)?.[1]);
      assert.deepEqual(suffixes, ['[expires in 179s] [active since 3s]', '[expires in 180s] [active since 0s]']);
    } finally {
      Date.now = realNow;
    }
  });
});
