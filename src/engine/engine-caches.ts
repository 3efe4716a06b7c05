// The sync engine's four caches: what the kernel holds here (internal, conntracks and
// expectations) and what the peer sent (external). A commit copies the entries it wrote into the
// internal caches (adopts them) a little later, or as soon as anything reads or changes them.
import { ArenaCache } from '../cache/arena-cache.js';
import { ExpectCache } from '../cache/expect-cache.js';
import type { CtsyncConfig } from '../config/model.js';
import type { Logger } from '../log.js';
import { warnWhenFull } from './cache-full.js';

export class EngineCaches {
  private readonly internalCache: ArenaCache;
  /** In shared memory: a commit's workers read it in place. */
  readonly external: ArenaCache;
  private readonly internalExpectCache: ExpectCache;
  readonly externalExpect: ExpectCache;
  /** How the internal cache stores entries (what the kernel-event transcoder must produce). */
  readonly internalStoreAs: { commitTimeout: boolean; tcpWindowTracking: boolean; longHelper: 'omit' };
  /** The copy a commit left to do (see `internal`). */
  private pendingAdopt: (() => void) | undefined = undefined;

  constructor(config: CtsyncConfig, log: Logger, nextTurn: (cb: () => void) => void) {
    const g = config.general;
    const commitTimeout = config.sync.commitTimeout !== undefined;
    const storeAs = {
      commitTimeout,
      tcpWindowTracking: config.sync.options.tcpWindowTracking,
      longHelper: 'omit' as const,
    };
    this.internalStoreAs = storeAs;
    this.internalCache = new ArenaCache('internal', g.hashLimit, storeAs, g.hashSize);
    this.external = new ArenaCache(
      'external',
      g.hashLimit,
      { tcpWindowTracking: true, longHelper: 'omit' },
      g.hashSize,
      true,
    );
    this.internalExpectCache = new ExpectCache('internal', g.hashLimit, { commitTimeout, longHelper: 'omit' });
    this.externalExpect = new ExpectCache('external', g.hashLimit, { longHelper: 'omit' });
    // a full cache (HashLimit) refuses entries: said in the log, and in -s (stats-text.ts)
    warnWhenFull(this.internalCache, 'internal', log, nextTurn);
    warnWhenFull(this.external, 'external', log, nextTurn);
    warnWhenFull(this.internalExpectCache, 'internal expectation', log, nextTurn);
    warnWhenFull(this.externalExpect, 'external expectation', log, nextTurn);
  }

  /**
   * The internal cache. The entries of the last commit are copied in shortly after the commit,
   * or earlier on the first access, or before the external cache changes: nothing can see or
   * change either cache before the copy.
   */
  get internal(): ArenaCache {
    if (this.pendingAdopt !== undefined) this.settle();
    return this.internalCache;
  }

  /** The internal expectation cache (settles a pending copy first, as `internal` does). */
  get internalExpect(): ExpectCache {
    if (this.pendingAdopt !== undefined) this.settle();
    return this.internalExpectCache;
  }

  /**
   * The internal caches without settling a pending copy: for the copy itself, for a commit
   * that is still running, and for serialising what FT-FW transmits (the entries it holds are
   * there already).
   */
  get internalAsIs(): ArenaCache {
    return this.internalCache;
  }

  get internalExpectAsIs(): ExpectCache {
    return this.internalExpectCache;
  }

  /** Leaves `copy` to run on the next settle() (at the latest). */
  deferAdopt(copy: () => void): void {
    this.pendingAdopt = copy;
  }

  get adoptPending(): boolean {
    return this.pendingAdopt !== undefined;
  }

  /** Runs the copy a commit left pending, if any. */
  settle(): void {
    const adopt = this.pendingAdopt;
    if (adopt === undefined) return;
    this.pendingAdopt = undefined;
    adopt();
  }
}
