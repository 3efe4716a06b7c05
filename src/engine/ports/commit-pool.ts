// The commit workers as the engine sees them: they write the external cache into the kernel.
// Production: engine/commit-pool.ts (worker threads); tests: a fake that records the commits.
import type { ArenaCache } from '../../cache/arena-cache.js';
import type { CommitOptions, CommitResult } from '../commit-pool.js';

export interface CommitPoolPort {
  /** Netlink port ids of the workers' sockets: the events their requests cause are ours. */
  readonly portIds: number[];
  /** Workers running (0 while stopped: they run only while there is something to commit). */
  readonly size: number;
  /** A commit or a start is in progress. */
  readonly busy: boolean;
  /** Told the workers' port ids whenever they start or stop (the event filter follows). */
  onPorts?: (portIds: number[]) => void;
  /** Starts and warms the workers; joins a start in progress. */
  start(): Promise<void>;
  /** Commits every live entry of `cache` into the kernel's table. */
  commit(cache: ArenaCache, opts: CommitOptions): Promise<CommitResult>;
  stop(): void;
}
