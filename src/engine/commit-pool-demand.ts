// When the commit workers run. Two worker threads hold ~18 MB of resident memory each (a V8
// isolate each, with the commit path compiled and warm): an idle daemon holds ~57-69 MB without
// them, ~82-110 MB with them (tools/bench/bench-idle-rss.ts). They are needed only when there is
// something to commit, so they run while the external cache holds entries:
// - started as soon as the cache takes its first entry (ArenaCache.onFilled): a backup's cache
//   fills from the peer seconds, usually hours, before the failover that commits it, so the
//   workers are warm by then. Their start and warm-up take ~0.7-1.3 s on two busy CPUs
//   (tools/bench/bench-commit-inproc.ts --lazy), and the warm-up matters: a cold first commit was
//   measured 40-60 ms slower per 100k entries. A commit that comes while they still start waits
//   for them (CommitPool.commit) rather than running cold; with a backup started after its
//   primary held 100k flows, they were warm before its cache was full (bench-commit.sh
//   BENCH_LATE_BACKUP=1: no wait);
// - stopped once the cache has been empty at two checks in a row (CHECK_EVERY_MS apart), and
//   no commit or start is running: a node that was promoted flushes its external cache, and
//   what the new backup sends it is its own few flows, often none. Entries arriving later
//   start them again. Never stopped while the cache holds entries, however long it sits: a
//   failover can come at any time, and bringing them back warm takes the second above.
// A failed start is logged; the next check, the next filling or the next commit tries again.
import type { CommitPoolPort } from './ports/commit-pool.js';

/** Between two checks of an empty cache. */
export const CHECK_EVERY_MS = 60_000;

/** What this module needs of the external cache. */
export interface FilledCache {
  readonly size: number;
  onFilled?: () => void;
}

/** What this module needs of the pool. */
export type DemandPool = Pick<CommitPoolPort, 'start' | 'stop' | 'size' | 'busy'>;

export interface PoolDemandOptions {
  log: { error(message: string): unknown; verbose(message: string): unknown };
  setInterval?: (cb: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
  checkEveryMs?: number;
}

/** Runs `pool` while `cache` holds entries (see above). Returns the function that stops following. */
export function runPoolWhileFilled(pool: DemandPool, cache: FilledCache, opts: PoolDemandOptions): () => void {
  const { log } = opts;
  const every = opts.setInterval ?? ((cb, ms) => setInterval(cb, ms).unref());
  const clear = opts.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout));
  /** The cache was empty at the last check (and has not been filled since). */
  let emptyBefore = false;
  /** Not unfollowed yet (a start that the daemon's stop cut short is no error to log). */
  let following = true;
  const start = (): void => {
    if (pool.size > 0 || pool.busy) return;
    const t0 = Date.now();
    pool.start().then(
      () =>
        log.verbose(
          `commit workers started (${pool.size}, warm in ${Date.now() - t0} ms): the external cache holds entries`,
        ),
      (err: Error) => {
        if (following) log.error(`commit workers did not start: ${err.message} (tried again at the next commit)`);
      },
    );
  };
  cache.onFilled = () => {
    emptyBefore = false;
    start();
  };
  const check = (): void => {
    if (cache.size > 0) {
      emptyBefore = false;
      start();
      return;
    }
    if (emptyBefore && pool.size > 0 && !pool.busy) {
      pool.stop();
      log.verbose('commit workers stopped: the external cache has been empty for a while');
    }
    emptyBefore = true;
  };
  const timer = every(check, opts.checkEveryMs ?? CHECK_EVERY_MS);
  if (cache.size > 0) start();
  return () => {
    following = false;
    clear(timer);
    cache.onFilled = undefined;
  };
}
