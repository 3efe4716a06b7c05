import { strict as assert } from 'node:assert';
import { cacheDivergence } from '../../../../src/health/checks/cache-divergence.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

const audit = (missingInKernel: number, missingInCache: number) => ({
  at: 0,
  sampled: 10,
  missingInKernel,
  kernelSampled: 10,
  missingInCache,
});

describe('health/checks/cache-divergence', () => {
  it('holds nothing without an audit, or with a clean one', () => {
    assert.equal(cacheDivergence.evaluate(windowOf(sample(0)), T), undefined);
    assert.equal(cacheDivergence.evaluate(windowOf(sample(0, { audit: audit(0, 0) })), T), undefined);
  });

  it('is degraded for a few differences, failed from auditFailedFraction of the sample', () => {
    const few = cacheDivergence.evaluate(windowOf(sample(0, { audit: audit(1, 0) })), T);
    assert.deepEqual(few, {
      severity: 'degraded',
      message: 'audit: 1 of 10 internal entries not in the kernel, 0 of 10 kernel entries not in the internal cache',
    });
    assert.equal(cacheDivergence.evaluate(windowOf(sample(0, { audit: audit(6, 4) })), T)?.severity, 'failed');
  });
});
