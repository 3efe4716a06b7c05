// overruns-repeating: the kernel event socket overran overrunCount times or more within
// overrunWindowSeconds. One overrun is repaired by a resync from the kernel; repeated ones mean
// the daemon does not keep up with the kernel's events.
import type { HealthCheck } from '../finding.js';

export const overrunsRepeating: HealthCheck = {
  name: 'overruns-repeating',
  window: (t) => t.overrunWindowSeconds,
  evaluate(w, t) {
    const n = w.now.overruns - w.since(t.overrunWindowSeconds).overruns;
    if (n < t.overrunCount) return undefined;
    return {
      severity: 'degraded',
      message: `${n} kernel event overruns in the last ${t.overrunWindowSeconds} s (limit ${t.overrunCount - 1})`,
    };
  },
};
