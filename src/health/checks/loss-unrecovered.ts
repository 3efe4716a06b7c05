// loss-unrecovered: messages were lost in a way no resend repairs, within lossWindowSeconds:
// the peer asked us again for messages that had left our resend queue (a bulk follows), or the
// peer's answer to our RESYNC arrived with gaps (part of its table may be missing here).
import type { HealthCheck } from '../finding.js';

export const lossUnrecovered: HealthCheck = {
  name: 'loss-unrecovered',
  window: (t) => t.lossWindowSeconds,
  evaluate(w, t) {
    const then = w.since(t.lossWindowSeconds);
    const unservable = w.now.unservableNacks - then.unservableNacks;
    const unclean = w.now.peerBulksUnclean - then.peerBulksUnclean;
    if (unservable <= 0 && unclean <= 0) return undefined;
    const parts = [];
    if (unservable > 0)
      parts.push(`${unservable} NACKs from the peer for messages no longer held (a bulk resends all)`);
    if (unclean > 0) parts.push(`${unclean} answers of the peer to our resync arrived with gaps`);
    return { severity: 'degraded', message: `in the last ${t.lossWindowSeconds} s: ${parts.join('; ')}` };
  },
};
