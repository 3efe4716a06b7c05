// The sync mode the engine is handed (conntrackd's `Mode` block): FT-FW, reliable; NOTRACK, best
// effort; or ALARM, best effort with a periodic refresh of every entry. All take the same clock,
// hooks and per-object records; each uses what it needs.
import type { SyncMode } from '../config/model.js';
import { FtFw, type FtFwEnv, type FtFwHooks, type FtFwOptions } from '../sync/ftfw.js';
import { Alarm } from '../sync/alarm.js';
import { NoTrack } from '../sync/notrack.js';
import type { SyncProtocol } from '../sync/sync-protocol.js';

export function createSyncProtocol<O>(
  mode: SyncMode,
  env: FtFwEnv,
  hooks: FtFwHooks<O>,
  options: FtFwOptions<O>,
  refreshTimeSec?: number,
): SyncProtocol<O> {
  switch (mode) {
    case 'ftfw':
      return new FtFw<O>(env, hooks, options);
    case 'notrack':
      return new NoTrack<O>(env, hooks, { startupResync: options.startupResync });
    case 'alarm':
      return new Alarm<O>(env, hooks, { refreshMs: (refreshTimeSec ?? 60) * 1000 });
  }
}
