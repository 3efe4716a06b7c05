// External caches -> kernel (`-c`, a promotion): the commit pool writes the external conntrack
// cache, then the expectations go in after their masters. The committed entries are then adopted
// into the internal caches (they are the peer's, nothing to send), and flows the kernel created
// meanwhile, whose events we did not listen to, are picked up from a dump.
import type { Expect } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import { ObjectState } from '../cache/sync-cache.js';
import type { CommitResult } from './commit-pool.js';
import { EngineFlow, type EngineContext } from './engine-flow.js';
import type { KernelIntake } from './kernel-intake.js';
import type { CommitPoolPort } from './ports/commit-pool.js';
import type { KernelEventSource } from './ports/kernel.js';

/** After a commit, the copy into the internal cache waits this long for the client's reply to go out. */
const ADOPT_DELAY_MS = 50;
/** What an expectation gets when what is left of the peer's timeout is nothing. */
const EXPECT_MIN_TIMEOUT_S = 60;

/** Sum of per-CPU u32 counter increments (each may have wrapped). */
export function countDelta(before: readonly number[], after: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < after.length; i++) d += (after[i] - (before[i] ?? 0)) >>> 0;
  return d;
}

/** What SyncEngine.commit() does with the internal cache afterwards. */
export interface CommitMode {
  /** What to commit: conntrack entries, expectations (after their masters), or both (default). */
  what?: 'ct' | 'expect' | 'both';
  /**
   * Copy the committed entries into the internal cache (default). A promotion passes false: it
   * reloads the internal cache from the kernel right after, which covers them.
   */
  adopt?: boolean;
}

/** What committing the external expectation cache did. */
export interface ExpectCommitResult {
  committed: number;
  replaced: number;
  failed: Array<{ expect: Expect; reason: string }>;
  seconds: number;
}

/** A commit's result: the conntrack part (zero when only expectations were asked for) and the expectation part. */
export interface EngineCommitResult extends CommitResult {
  /** Present when expectations were committed (ExpectationSync on, and asked for). */
  expect?: ExpectCommitResult;
}

export class Committer extends EngineFlow {
  /** The kernel event subscription (set once the engine has started). */
  events: Pick<KernelEventSource, 'hearNew'> | undefined = undefined;
  private hashWarned = false;

  constructor(
    ctx: EngineContext,
    private readonly intake: KernelIntake,
    private readonly pool: CommitPoolPort,
  ) {
    super(ctx);
  }

  /**
   * `-c`: commits the external conntrack cache, then (ExpectationSync on) the external
   * expectation cache: an expectation needs its master in the table.
   */
  async commit(mode: CommitMode = {}): Promise<EngineCommitResult> {
    this.caches.settle();
    const what = mode.what ?? 'both';
    const r: EngineCommitResult =
      what === 'expect' ? { committed: 0, replaced: 0, failed: [], seconds: 0 } : await this.commitConntrack(mode);
    if (what !== 'ct' && this.expectations) r.expect = await this.commitExpectations(mode.adopt !== false);
    return r;
  }

  /**
   * Commits the external cache into the kernel (worker threads, batched), then makes the
   * internal cache hold the committed entries, as if their events had been heard.
   *
   * The kernel builds an event for every entry created while anyone in the host listens to the
   * NEW group (a filter that drops them comes after): that alone is a third of the kernel's
   * time for a big commit. So the NEW group is left for the duration of the commit. The
   * committed entries need no event (they are copied from the external cache, filtered already by
   * the peer, and silently: they are the peer's flows). Flows created by packets meanwhile would
   * be missed: the kernel's insert counter tells whether there were any, and if so a dump picks
   * them up (and replicates them) once the commit is done.
   */
  private async commitConntrack(mode: CommitMode): Promise<CommitResult> {
    const cfg = this.config.sync;
    const clock = this.clock;
    const t0 = clock.monotonic();
    const insertsBefore = await this.kernelInserts();
    const tStats = clock.monotonic();
    const touched = new Set<string>();
    this.intake.touchedDuringCommit = touched;
    this.events?.hearNew(false);
    let r: CommitResult;
    try {
      r = await this.pool.commit(this.caches.external, {
        commitTimeout: cfg.commitTimeout,
        tcpWindowTracking: cfg.options.tcpWindowTracking,
      });
    } finally {
      this.events?.hearNew(true);
      this.intake.touchedDuringCommit = undefined;
    }
    const tPool = clock.monotonic();
    const insertsAfter = await this.kernelInserts();
    r.phases = { statsBefore: tStats - t0, ...r.phases, statsAfter: clock.monotonic() - tPool };
    // entries updated in place insert nothing; new and created-again ones do
    const foreign =
      insertsBefore === undefined || insertsAfter === undefined || r.inserted === undefined
        ? -1
        : countDelta(insertsBefore, insertsAfter) - r.inserted;
    this.warnSmallKernelHash();
    if (mode.adopt === false) return r;
    const failed = new Set(r.failed.map((f) => f.key));
    const now = Math.floor(clock.now() / 1000);
    this.caches.deferAdopt(() => {
      // what the kernel reported on during the commit is newer than the peer's entry
      const skip = failed.size + touched.size > 0 ? (key: string) => failed.has(key) || touched.has(key) : undefined;
      this.caches.external.copyLiveInto(this.caches.internalAsIs, now, skip);
      if (foreign !== 0) {
        this.pickUpMissedFlows(foreign).catch((err) =>
          this.log.error(`reading the flows created during the commit failed: ${(err as Error).message}`),
        );
      }
    });
    // Not at once: the copy takes the main thread for 50-90 ms per 100k entries, and the client
    // that asked for the commit is done only when it reads the end of our reply. Whatever
    // needs the internal cache first (an event, a command) makes the copy then.
    clock.setTimer(ADOPT_DELAY_MS, () => this.caches.settle());
    return r;
  }

  /**
   * Commits the external expectation cache. The kernel gives a new expectation its helper's
   * timeout whatever the request says, so the timeout conntrackd would compute (CommitTimeout,
   * else what is left of the peer's) is set by an update right after. Committed expectations go
   * into the internal expectation cache silently (they are the peer's), unless `adopt` is false.
   */
  private async commitExpectations(adopt: boolean): Promise<ExpectCommitResult> {
    const t0 = this.clock.monotonic();
    const now = Math.floor(this.clock.now() / 1000);
    const fixed = this.config.sync.commitTimeout;
    const external = this.caches.externalExpect;
    const list: Expect[] = [];
    for (const obj of external.values()) {
      if (obj.state === ObjectState.DEAD) continue;
      const x = external.expect(obj);
      if (fixed !== undefined) x.timeout = fixed;
      else if (x.timeout !== undefined) {
        const left = x.timeout - (now - obj.updated);
        x.timeout = left > 0 ? left : EXPECT_MIN_TIMEOUT_S;
      }
      list.push(x);
    }
    const r = await this.kernel.createExpect(list, { replace: true });
    const failed = r.failed.map((f) => ({ expect: f.entry, reason: f.reason }));
    const failedAt = new Set(r.failed.map((f) => f.index));
    const made = list.filter((_, i) => !failedAt.has(i));
    const timed = made.filter((x) => x.timeout !== undefined);
    if (timed.length) {
      const u = await this.kernel.updateExpect(timed);
      for (const f of u.failed)
        failed.push({ expect: f.entry, reason: `created, but its timeout could not be set: ${f.reason}` });
    }
    if (adopt) for (const x of made) this.caches.internalExpectAsIs.add(x, now);
    return { committed: made.length, replaced: r.replaced, failed, seconds: (this.clock.monotonic() - t0) / 1000 };
  }

  /** The kernel's per-CPU insert counters (ctnetlink creates and packets alike), if readable. */
  private async kernelInserts(): Promise<number[] | undefined> {
    try {
      return (await this.kernel.cpuStats()).map((s) => s.insert ?? 0);
    } catch (err) {
      this.log.verbose(`conntrack statistics unavailable: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Flows created while the NEW group was left: read from the kernel and handled as the NEW
   * events that were not heard (cached and replicated). `expected` is how many the insert
   * counter saw, -1 when unknown.
   */
  private async pickUpMissedFlows(expected: number): Promise<void> {
    let found = 0;
    await this.kernel.dump({}, (e) => {
      if (!this.filter.entry(e)) return;
      const internal = this.caches.internal;
      const held = internal.handleOfKey(flowKey(e));
      if (held !== 0 && internal.stateOf(held) !== ObjectState.DEAD) return;
      found++;
      this.intake.applyDecoded('NEW', e, 0);
    });
    this.log.info(
      `flows created while the commit ran: ${found} picked up from the kernel${expected > 0 ? ` (the kernel counted ${expected} inserts besides ours)` : ''}`,
    );
  }

  /**
   * A table much bigger than the kernel's hash makes every insert walk long chains: a commit of
   * a million entries then takes several times longer (the hash is per host, set by the
   * nf_conntrack `hashsize` module parameter). Said once, with the figures.
   */
  private warnSmallKernelHash(): void {
    if (this.hashWarned) return;
    const buckets = this.kernel.hashBuckets();
    if (buckets === undefined) return;
    const n = this.caches.external.size;
    if (n <= 2 * buckets) return;
    this.hashWarned = true;
    this.log.warn(
      `the kernel conntrack hash has ${buckets} buckets for ${n} entries here: inserts and commits slow down; raise it (echo N > /sys/module/nf_conntrack/parameters/hashsize, N >= ${n}) as for conntrackd`,
    );
  }
}
