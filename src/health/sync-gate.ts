// The answer keepalived gets (`ctsync health --sync`, the track file): may this node become the
// master? Not while its external cache is incomplete, unless it is the master already (it
// commits nothing more then; the cache is emptied at the promotion anyway, and a demotion makes
// it unsynced until the peer's table has arrived whole). Pure.
import type { SyncStatus } from './sync-state.js';
import { UNSYNCED_TEXT } from './sync-state.js';

export interface SyncGate {
  pass: boolean;
  why: string;
}

/** `role`: the failover layer's role, when it runs. */
export function syncGate(sync: SyncStatus, role: string | undefined): SyncGate {
  if (!sync.tracked)
    return { pass: true, why: 'not tracked: the sync mode (NOTRACK) cannot tell when a resync is complete' };
  if (sync.synced) return { pass: true, why: 'synced: the external cache holds the peer table' };
  if (role === 'active' || role === 'promoting')
    return { pass: true, why: `active: the external cache is not used while this node is the master` };
  return { pass: false, why: `unsynced: ${UNSYNCED_TEXT[sync.reason ?? 'start-up']}` };
}

/** What the track file holds: 0 when the gate passes, -weight when it does not. */
export function trackFileValue(gate: SyncGate, weight: number): string {
  return `${gate.pass ? 0 : -weight}\n`;
}
