// cache-divergence: the last audit found entries the internal cache holds and the kernel does not,
// or the other way round, still there after the confirmation delay. The daemon then repairs the
// cache from the kernel; the finding ends with the next audit that finds nothing.
import type { HealthCheck } from '../finding.js';

export const cacheDivergence: HealthCheck = {
  name: 'cache-divergence',
  window: () => 0,
  evaluate({ now }, t) {
    const a = now.audit;
    if (!a) return undefined;
    const diverged = a.missingInKernel + a.missingInCache;
    if (diverged === 0) return undefined;
    const sampled = a.sampled + a.kernelSampled;
    const failed = sampled > 0 && diverged >= t.auditFailedFraction * sampled;
    return {
      severity: failed ? 'failed' : 'degraded',
      message:
        `audit: ${a.missingInKernel} of ${a.sampled} internal entries not in the kernel, ` +
        `${a.missingInCache} of ${a.kernelSampled} kernel entries not in the internal cache`,
    };
  },
};
