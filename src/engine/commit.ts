// Commit: the external cache (the peer's flows) into the kernel table, in batches. Entries that
// already exist are replaced; TCP entries get "be liberal" (the new primary has not seen the
// window), unless TCPWindowTracking is on. Timeouts as conntrackd computes them.
import type { Entry } from '../conntrack/entry.js';
import type { CreateFailure } from '../netlink/conntrack-client.js';
import { ConntrackClient } from '../netlink/conntrack-client.js';
import { ObjectState, SyncCache } from '../cache/sync-cache.js';

export interface CommitResult {
  committed: number;
  replaced: number;
  failed: CreateFailure[];
  seconds: number;
}

export interface CommitOptions {
  /** CommitTimeout: fixed timeout for every committed entry. */
  commitTimeout?: number;
  /** TCPWindowTracking: keep window tracking (no BE_LIBERAL). */
  tcpWindowTracking: boolean;
  now?: number;
}

/**
 * The timeout an entry gets on commit: CommitTimeout if configured, else what the peer last
 * reported minus the time since, and 60 s when that is not positive (conntrackd's rule).
 */
export function commitTimeout(cached: number | undefined, updated: number, now: number, fixed?: number): number {
  if (fixed !== undefined) return fixed;
  const left = (cached ?? 0) - (now - updated);
  return left > 0 ? left : 60;
}

export async function commitCache(client: ConntrackClient, cache: SyncCache, opts: CommitOptions): Promise<CommitResult> {
  const t0 = process.hrtime.bigint();
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  // masters first: a RELATED entry can only be created once its master exists
  const plain: Entry[] = [];
  const related: Entry[] = [];
  for (const obj of cache.values()) {
    if (obj.state === ObjectState.DEAD) continue;
    const e = cache.entry(obj);
    e.timeout = commitTimeout(e.timeout, obj.updated, now, opts.commitTimeout);
    (e.master ? related : plain).push(e);
  }
  const result: CommitResult = { committed: 0, replaced: 0, failed: [], seconds: 0 };
  for (const batch of [plain, related]) {
    if (batch.length === 0) continue;
    const r = await client.create(batch, { replace: true, liberal: !opts.tcpWindowTracking });
    result.committed += r.created + r.replaced;
    result.replaced += r.replaced;
    result.failed.push(...r.failed);
  }
  result.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return result;
}
