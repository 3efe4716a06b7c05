// Pure helpers of the sync engine.
import { strict as assert } from 'node:assert';
import { countDelta } from '../../../src/engine/sync-engine.js';

describe('countDelta (per-CPU u32 kernel counters)', () => {
  it('sums the increments of every CPU', () => {
    assert.equal(countDelta([10, 20], [15, 20]), 5);
    assert.equal(countDelta([0, 0, 0], [1, 2, 3]), 6);
  });

  it('counts through a wrap of a 32-bit counter', () => {
    assert.equal(countDelta([0xfffffffe, 7], [3, 7]), 5);
  });

  it('counts a CPU that appeared since (no earlier figure) from zero', () => {
    assert.equal(countDelta([4], [6, 9]), 11);
  });
});
