import { strict as assert } from 'node:assert';
import { overrunsRepeating } from '../../../../src/health/checks/overruns-repeating.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

describe('health/checks/overruns-repeating', () => {
  it('holds from overrunCount overruns within the window, not before', () => {
    assert.equal(overrunsRepeating.evaluate(windowOf(sample(0), sample(1000, { overruns: 2 })), T), undefined);
    const r = overrunsRepeating.evaluate(windowOf(sample(0), sample(1000, { overruns: 3 })), T);
    assert.equal(r?.message, '3 kernel event overruns in the last 600 s (limit 2)');
  });

  it('does not count overruns older than the window', () => {
    const late = T.overrunWindowSeconds * 1000 + 1;
    const w = windowOf(sample(0), sample(1, { overruns: 3 }), sample(late, { overruns: 3 }));
    assert.equal(overrunsRepeating.evaluate(w, T), undefined);
  });
});
