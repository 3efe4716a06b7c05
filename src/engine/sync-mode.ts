// The sync mode the engine is handed (conntrackd's `Mode` block): FT-FW, reliable, or NOTRACK,
// best effort. Both take the same clock, hooks and per-object records; each uses what it needs.
import type { SyncMode } from '../config/model.js';
import { FtFw, type FtFwEnv, type FtFwHooks, type FtFwOptions } from '../sync/ftfw.js';
import { NoTrack } from '../sync/notrack.js';
import type { SyncProtocol } from '../sync/sync-protocol.js';

export function createSyncProtocol<O>(
  mode: SyncMode,
  env: FtFwEnv,
  hooks: FtFwHooks<O>,
  options: FtFwOptions<O>,
): SyncProtocol<O> {
  switch (mode) {
    case 'ftfw':
      return new FtFw<O>(env, hooks, options);
    case 'notrack':
      return new NoTrack<O>(env, hooks, { startupResync: options.startupResync });
  }
}
