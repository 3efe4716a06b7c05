// unsynced: the external cache is not known to hold the peer's whole table (sync-state.ts has
// the rule). What `ctsync health --sync` and the track file tell keepalived.
import type { HealthCheck } from '../finding.js';
import { UNSYNCED_TEXT } from '../sync-state.js';

export const unsynced: HealthCheck = {
  name: 'unsynced',
  window: () => 0,
  evaluate({ now }) {
    const s = now.sync;
    if (!s.tracked || s.synced || !s.reason) return undefined;
    const s0 = Math.floor((now.at - s.since) / 1000);
    return { severity: 'degraded', message: `external cache incomplete for ${s0} s: ${UNSYNCED_TEXT[s.reason]}` };
  },
};
