// The daemon's answers that need no engine of their own: `-s process` lists the operations that
// conntrackd would run in a child process while they run here (fake engine and kernel).
import { strict as assert } from 'node:assert';
import { DaemonHandler, type DaemonControl } from '../../../src/daemon/handler.js';
import type { EngineCommitResult } from '../../../src/engine/sync-engine.js';

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
