// The commit workers as the engine sees them: they write the external cache into the kernel.
// Production: engine/commit-pool.ts (worker threads); tests: a fake that records the commits.
import type { ArenaCache } from '../../cache/arena-cache.js';
import type { CommitOptions, CommitResult } from '../commit-pool.js';

export interface CommitPoolPort {
  /** Netlink port ids of the workers' sockets: the events their requests cause are ours. */
  readonly portIds: number[];
  start(): Promise<void>;
  /** Commits every live entry of `cache` into the kernel's table. */
  commit(cache: ArenaCache, opts: CommitOptions): Promise<CommitResult>;
  stop(): void;
}
