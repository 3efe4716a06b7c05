// src/ha/runtime.ts: the assembled failover layer as the daemon uses it — initial role, notify
// arguments (bad ones change nothing), manual requests, status with the keepalived view, shutdown.
// No FIFO and no guard here (their own tests cover them).
import { strict as assert } from 'node:assert';
import { resolveHaConfig } from '../../../src/ha/config.js';
import { KeepalivedInputError } from '../../../src/ha/keepalived.js';
import { HaRuntime } from '../../../src/ha/runtime.js';
import type { HaOperations } from '../../../src/ha/actions.js';
import { RecLog } from '../../helpers/fakes.js';

function ops(calls: string[]): HaOperations {
  return {
    commit: async () => {
      calls.push('-c');
      return { committed: 1, replaced: 0, failed: [], seconds: 0 };
    },
    flushCaches: () => {
      calls.push('-f');
      return {};
    },
    reloadInternal: async () => {
      calls.push('-R');
      return 0;
    },
    bulkSend: () => {
      calls.push('-B');
      return 0;
    },
    requestResync: () => {
      calls.push('-n');
    },
    schedulePurge: () => {
      calls.push('-t');
      return 60;
    },
  };
}

describe('ha runtime: the assembled failover layer', () => {
  it('enters initialRole at start, follows notify arguments, refuses bad ones without a transition', async () => {
    const calls: string[] = [];
    const ha = new HaRuntime(
      resolveHaConfig({ track: { instances: ['VI_1', 'VI_2'] }, initialRole: 'backup', node: 'gw-a' }),
      ops(calls),
      new RecLog(),
    );
    await ha.start();
    await ha.machine.idle();
    assert.equal(ha.status().role, 'backup');
    assert.deepEqual(ha.status().last?.reason, { source: 'startup', detail: 'ha.initialRole' });
    assert.deepEqual(calls, ['-n', '-t']);

    assert.throws(() => ha.notify(['INSTANCE', 'VI_1', 'master', '100']), KeepalivedInputError);
    assert.equal(ha.status().counters.requests, 1, 'no request from bad input');

    // VI_2 has not reported yet: nothing is requested, the node stays backup
    assert.deepEqual(ha.notify(['INSTANCE', 'VI_1', 'MASTER', '100']), {
      kind: 'waiting',
      missing: ['VI_2'],
      detail: 'INSTANCE "VI_1" MASTER 100 (waiting for VI_2)',
    });
    assert.equal(ha.notify(['INSTANCE', 'VI_2', 'MASTER', '100']).kind, 'request');
    await ha.machine.idle();
    assert.equal(ha.status().role, 'active');
    assert.deepEqual(calls.slice(2), ['-c', '-f', '-R', '-B']);
    const s = ha.status();
    assert.deepEqual(s.keepalived, {
      follows: 'instances',
      names: { VI_1: { state: 'MASTER', priority: 100 }, VI_2: { state: 'MASTER', priority: 100 } },
      target: 'active',
    });
    assert.deepEqual(s.guard, { enabled: false, holding: false });
    assert.equal(s.fifo, undefined);
    assert.deepEqual(s.last?.reason, {
      source: 'notify',
      detail: 'INSTANCE "VI_2" MASTER 100 (all of VI_1, VI_2 MASTER)',
    });
  });

  it('manual requests, and shutdown to stopped', async () => {
    const calls: string[] = [];
    const ha = new HaRuntime(resolveHaConfig({ track: { groups: ['G1'] } }), ops(calls), new RecLog());
    await ha.start();
    assert.equal(ha.status().role, 'starting', 'no initialRole: wait for keepalived');
    const o = await ha.request('active', 'ctsync promote');
    assert.equal(o.outcome === 'completed' && o.transition.reason.source, 'manual');
    const again = await ha.request('active', 'ctsync promote --force', { force: true });
    assert.equal(again.outcome === 'completed' && again.transition.from, 'active');
    assert.equal(calls.filter((c) => c === '-c').length, 2);
    await ha.stop();
    assert.equal(ha.status().role, 'stopped');
    assert.equal((await ha.request('backup', 'late')).outcome, 'refused');
  });
});
