// resend-queue-full: the resend queue (what waits for the peer's ACK) is nearly full, or had to
// evict entries within lossWindowSeconds: the link or the peer cannot keep up, and losses would
// no longer be repaired by a resend.
import type { HealthCheck } from '../finding.js';

export const resendQueueFull: HealthCheck = {
  name: 'resend-queue-full',
  window: (t) => t.lossWindowSeconds,
  evaluate(w, t) {
    const { length, capacity } = w.now.resendQueue;
    const evicted = w.now.evicted - w.since(t.lossWindowSeconds).evicted;
    const full = capacity > 0 && length >= t.resendQueueNearFull * capacity;
    if (!full && evicted <= 0) return undefined;
    const parts = [`resend queue ${length} of ${capacity}`];
    if (evicted > 0) parts.push(`${evicted} entries evicted in the last ${t.lossWindowSeconds} s`);
    return { severity: 'degraded', message: parts.join(', ') };
  },
};
