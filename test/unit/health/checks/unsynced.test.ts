import { strict as assert } from 'node:assert';
import { unsynced } from '../../../../src/health/checks/unsynced.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

describe('health/checks/unsynced', () => {
  it('holds while the external cache is not known complete', () => {
    const s = sample(7000, { sync: { tracked: true, synced: false, reason: 'start-up', since: 1000 } });
    assert.deepEqual(unsynced.evaluate(windowOf(s), T), {
      severity: 'degraded',
      message: 'external cache incomplete for 6 s: no complete copy of the peer table since start-up',
    });
  });

  it('holds nothing when synced, or when the mode cannot tell', () => {
    assert.equal(unsynced.evaluate(windowOf(sample(0)), T), undefined);
    const notrack = sample(0, { sync: { tracked: false, synced: false, reason: 'start-up', since: 0 } });
    assert.equal(unsynced.evaluate(windowOf(notrack), T), undefined);
  });
});
