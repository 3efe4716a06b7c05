// The guard steps of createHaActions with commit on demand: preferred to the drop guard, which
// holds when commit on demand cannot start; neither: traffic passes, with a warning.
import { strict as assert } from 'node:assert';
import { createHaActions, type HaOperations, type OnDemandPort } from '../../../src/ha/actions.js';
import type { TrafficGuard } from '../../../src/ha/guard.js';
import type { TransitionContext } from '../../../src/ha/machine.js';

const ops = {} as HaOperations;
const ctx = {} as TransitionContext;

function onDemand(calls: string[], fail?: string): OnDemandPort {
  return {
    async hold() {
      if (fail) throw new Error(fail);
      calls.push('queue on');
      return {
        release: async () => {
          calls.push('queue off');
          return { heldMs: 12, committed: 3, packets: 5 };
        },
      };
    },
    async arm() {},
    async disarm() {},
  };
}

function guard(calls: string[]): TrafficGuard {
  return {
    hold: async () => {
      calls.push('guard on');
      return { release: async () => (calls.push('guard off'), { heldMs: 9, releasedBy: 'caller' }) };
    },
  } as unknown as TrafficGuard;
}

describe('ha/actions: commit on demand and the guard', () => {
  it('commit on demand is preferred to the guard', async () => {
    const calls: string[] = [];
    const a = createHaActions({ ops, guard: guard(calls), onDemand: onDemand(calls) });
    assert.deepEqual(await a.guardOn!(ctx), { detail: 'commit on demand' });
    assert.deepEqual(await a.guardOff!(ctx), { detail: 'commit on demand for 12 ms: 3 entries for 5 packets' });
    assert.deepEqual(calls, ['queue on', 'queue off']);
  });

  it('the guard holds when commit on demand cannot start, and says why', async () => {
    const calls: string[] = [];
    const a = createHaActions({ ops, guard: guard(calls), onDemand: onDemand(calls, 'no NFQUEUE') });
    const on = await a.guardOn!(ctx);
    assert.deepEqual(on, {
      detail: 'holding (the drop guard)',
      warning: 'commit on demand could not start: no NFQUEUE',
    });
    await a.guardOff!(ctx);
    assert.deepEqual(calls, ['guard on', 'guard off']);
  });

  it('without a guard, a failed start lets traffic pass, with a warning', async () => {
    const a = createHaActions({ ops, onDemand: onDemand([], 'queue taken') });
    assert.deepEqual(await a.guardOn!(ctx), {
      detail: 'traffic passes unguarded',
      warning: 'commit on demand could not start: queue taken',
    });
    assert.deepEqual(await a.guardOff!(ctx), { detail: 'the guard was not installed' });
  });
});
