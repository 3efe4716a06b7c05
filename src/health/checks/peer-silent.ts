// peer-silent: nothing from the peer for longer than peerSilentSeconds (FT-FW says ALIVE every
// second when it has nothing else to say). Before the first message, counted from start-up.
import type { HealthCheck } from '../finding.js';

export const peerSilent: HealthCheck = {
  name: 'peer-silent',
  window: () => 0,
  evaluate({ now }, t) {
    const heard = Number.isFinite(now.peerLastRxAt);
    const silentMs = now.at - (heard ? now.peerLastRxAt : now.startedAt);
    if (silentMs <= t.peerSilentSeconds * 1000) return undefined;
    const s = Math.floor(silentMs / 1000);
    return {
      severity: 'degraded',
      message: heard
        ? `no message from the peer for ${s} s (limit ${t.peerSilentSeconds} s)`
        : `no message from the peer since start-up, ${s} s ago (limit ${t.peerSilentSeconds} s)`,
    };
  },
};
