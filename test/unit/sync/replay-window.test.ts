// Tests of the anti-replay window (src/sync/replay-window.ts): rules one by one, and a property
// against a model (a set of accepted counters): any order of arrivals gives the model's answer.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { REPLAY_WINDOW, ReplayWindow, type Freshness } from '../../../src/sync/replay-window.js';

function arrive(w: ReplayWindow, epoch: bigint, counter: number): Freshness {
  const f = w.check(epoch, counter);
  if (f === 'fresh') w.accept(epoch, counter);
  return f;
}

describe('sync/replay-window', () => {
  it('takes the first epoch and counter it sees, then each counter once', () => {
    const w = new ReplayWindow();
    assert.equal(arrive(w, 10n, 500), 'fresh');
    assert.equal(arrive(w, 10n, 500), 'replay');
    assert.equal(arrive(w, 10n, 502), 'fresh');
    assert.equal(arrive(w, 10n, 501), 'fresh', 'reordered within the window');
    assert.equal(arrive(w, 10n, 501), 'replay');
  });

  it('calls a lower epoch stale and takes a higher one at once (a restart)', () => {
    const w = new ReplayWindow();
    arrive(w, 10n, 900);
    assert.equal(arrive(w, 9n, 5000), 'stale');
    assert.equal(arrive(w, 11n, 0), 'fresh');
    assert.equal(arrive(w, 10n, 901), 'stale');
    assert.equal(arrive(w, 11n, 0), 'replay');
  });

  it('calls a counter below the window stale', () => {
    const w = new ReplayWindow();
    arrive(w, 1n, 0);
    arrive(w, 1n, REPLAY_WINDOW + 5);
    assert.equal(w.check(1n, 5), 'stale');
    assert.equal(w.check(1n, 6), 'fresh');
  });

  it('answers as a model of accepted counters, for any arrival order within the window', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 * REPLAY_WINDOW }), { maxLength: 400 }), (arrivals) => {
        const w = new ReplayWindow();
        const accepted = new Set<number>();
        let highest = -1;
        for (const c of arrivals) {
          const expected: Freshness =
            highest >= 0 && c <= highest - REPLAY_WINDOW ? 'stale' : accepted.has(c) ? 'replay' : 'fresh';
          assert.equal(arrive(w, 7n, c), expected, `counter ${c} after ${highest}`);
          if (expected === 'fresh') {
            accepted.add(c);
            highest = Math.max(highest, c);
          }
        }
      }),
    );
  });
});
