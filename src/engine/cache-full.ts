// A cache that refuses entries because it holds HashLimit of them already: a warning in the log
// and a line in `-s`. The caches count refusals (createFailed) and call onRefused; this module
// says what that means for each cache.
/** What this module needs of a conntrack or expectation cache. */
export interface LimitedCache {
  readonly limit: number;
  readonly size: number;
  readonly counters: { readonly createFailed: number };
  onRefused?: () => void;
}

export type CacheRole = 'internal' | 'external' | 'internal expectation' | 'external expectation';

/** Per cache: what it refuses, and what a refusal costs. */
const ROLES: Record<CacheRole, { refused: string; cost: string }> = {
  internal: { refused: 'kernel entries', cost: 'those flows are not sent to the peer' },
  external: { refused: 'entries', cost: 'those flows from the peer are not committed on failover' },
  'internal expectation': { refused: 'kernel expectations', cost: 'they are not sent to the peer' },
  'external expectation': {
    refused: 'expectations',
    cost: 'those expectations from the peer are not committed on failover',
  },
};

/**
 * Logs a warning when `cache` refuses entries. One refusal may follow another thousands of times
 * in a loop turn (a bulk from the peer): they are counted, and reported once `defer` runs
 * (default: after the current turn's I/O), with the total so far. The log's rate limit
 * (log-rate-limit.ts) keeps a long stretch of full cache to a few lines and counted summaries.
 */
export function warnWhenFull(
  cache: LimitedCache,
  role: CacheRole,
  log: { warn(message: string): unknown },
  defer: (report: () => void) => void = setImmediate,
): void {
  let pending = false;
  cache.onRefused = () => {
    if (pending) return;
    pending = true;
    defer(() => {
      pending = false;
      const r = ROLES[role];
      log.warn(
        `${role} cache full: ${cache.counters.createFailed} ${r.refused} refused so far (HashLimit ${cache.limit}): ${r.cost}; raise HashLimit`,
      );
    });
  };
}

/**
 * The `-s` line of a cache that refused entries since the daemon started; undefined for one
 * that never did. "was full" once it has room again (entries expired, or a flush).
 */
export function cacheFullText(cache: LimitedCache, role: CacheRole): string | undefined {
  const refused = cache.counters.createFailed;
  if (refused === 0) return undefined;
  const full = cache.size >= cache.limit;
  return `${role} cache ${full ? 'full' : 'was full'}: ${refused} ${ROLES[role].refused} refused (HashLimit ${cache.limit}${full ? '' : `, ${cache.size} held now`})`;
}
