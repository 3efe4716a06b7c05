// The internal caches against the kernel's tables: a reload from a dump (`-R`, start-up, a
// promotion), the resync after lost events (overrun), and the scheduled consistency check. What
// differs is fixed and, except for a silent reload, sent to the peer.
import { flowKey } from '../conntrack/key.js';
import { expectKey } from '../cache/expect-cache.js';
import { ObjectState } from '../cache/sync-cache.js';
import { EngineFlow, type EngineContext } from './engine-flow.js';
import type { TimerHandle } from './ports/clock.js';

/** After an overrun: the events are calm once none came, and no overrun, for this long. */
const QUIET_MS = 500;

/** What a reload from the kernel found. */
export interface ReloadResult {
  entries: number;
  /** Entries that were new or differed from the cache. */
  changed: number;
  /** Cached entries the kernel no longer had. */
  purged: number;
}

export class KernelResync extends EngineFlow {
  overruns = 0;
  resyncs = 0;
  /** What the last reload of the conntrack table found. */
  lastReload?: ReloadResult;
  private overrunTimer: TimerHandle | undefined = undefined;
  private lastOverrunAt = 0;

  constructor(
    ctx: EngineContext,
    /** Kernel events read so far (the overrun resync waits until they stop coming). */
    private readonly eventsReceived: () => number,
  ) {
    super(ctx);
  }

  stop(): void {
    if (this.overrunTimer !== undefined) this.clock.clearTimer(this.overrunTimer);
    this.overrunTimer = undefined;
  }

  /** The kernel dropped events (KernelEventHandlers.overrun). */
  readonly onOverrun = (bufferSize: number): void => {
    this.overruns++;
    this.lastOverrunAt = this.clock.now();
    const delay = this.config.general.netlinkOverrunResync;
    this.log.warn(
      `kernel event overrun (buffer ${bufferSize} bytes): events were lost; resync from the kernel ${delay === false ? 'disabled (NetlinkOverrunResync off)' : `once the events calm down, within ${delay} s`}`,
    );
    if (delay === false || this.overrunTimer !== undefined) return;
    // conntrackd waits the whole NetlinkOverrunResync (30 s by default) with a stale cache; we
    // resync as soon as the burst is over (no overrun and no event for half a second), and at
    // the latest after that delay
    const deadline = this.clock.now() + delay * 1000;
    let seen = this.eventsReceived();
    const check = (): void => {
      const now = this.clock.now();
      const received = this.eventsReceived();
      const quiet = received === seen && now - this.lastOverrunAt >= QUIET_MS;
      seen = received;
      if (!quiet && now < deadline) {
        this.overrunTimer = this.clock.setTimer(QUIET_MS, check);
        return;
      }
      this.overrunTimer = undefined;
      this.resyncFromKernel().catch((err) => this.log.error(`resync after overrun failed: ${(err as Error).message}`));
    };
    this.overrunTimer = this.clock.setTimer(QUIET_MS, check);
  };

  /**
   * Re-reads the kernel table into the internal cache. With `send`, changed and vanished entries
   * are replicated (an overrun resync); without, the reload is silent (`-R`).
   * Returns the number of entries dumped.
   */
  async reload(send: boolean, what: 'ct' | 'expect' | 'both' = 'both'): Promise<number> {
    let n = 0;
    if (what !== 'expect') n += await this.reloadConntrack(send);
    if (what !== 'ct' && this.expectations) n += await this.reloadExpect(send);
    return n;
  }

  private async reloadConntrack(send: boolean): Promise<number> {
    const now = this.nowSeconds();
    const c = this.caches.internal;
    // handles seen in the dump (a handle stays with its flow while the dump runs)
    const seen = new Uint8Array(c.maxHandle + 1);
    const seenLater = new Set<number>();
    let changed = 0;
    let purged = 0;
    const n = await this.kernel.dump({}, (e) => {
      if (!this.filter.entry(e)) return;
      const h = c.replaceEntry(flowKey(e), e, now);
      if (h === 0) return;
      if (h < seen.length) seen[h] = 1;
      else seenLater.add(h);
      if (c.lastChanged) {
        changed++;
        if (send) this.ftfw.queueObject(h);
      }
    });
    // purge: what the cache has and the kernel no longer does
    for (let h = 1; h <= c.maxHandle; h++) {
      if (!c.has(h) || c.stateOf(h) === ObjectState.DEAD || (h < seen.length ? seen[h] === 1 : seenLater.has(h)))
        continue;
      purged++;
      c.kill(h, now);
      if (send) this.ftfw.queueObject(h);
      // (one record per flow while the protocol holds it: a held one goes once released)
      else if (!this.ftfw.holds(h)) c.removeHandle(h);
    }
    if (send) this.tx.schedule();
    this.lastReload = { entries: n, changed, purged };
    return n;
  }

  /** reload for the expectation table (what the Filter and ExpectationSync let through). */
  private async reloadExpect(send: boolean): Promise<number> {
    const now = this.nowSeconds();
    const cache = this.caches.internalExpect;
    const seen = new Set<string>();
    let n = 0;
    await this.kernel.dumpExpect({}, (x) => {
      if (!this.filter.expect(x)) return;
      n++;
      const key = expectKey(x);
      seen.add(key);
      const before = cache.get(key);
      const prevAttrs = before && before.state !== ObjectState.DEAD ? before.attrs : undefined;
      const obj = cache.replace(x, now, key);
      if (obj && obj.attrs !== prevAttrs && send) this.ftfw.queueObject(obj);
    });
    for (const obj of [...cache.values()]) {
      if (obj.state === ObjectState.DEAD || seen.has(obj.key)) continue;
      cache.kill(obj.key, now);
      if (send) this.ftfw.queueObject(obj);
      else if (!this.ftfw.holds(obj)) cache.remove(obj.key);
    }
    if (send) this.tx.schedule();
    return n;
  }

  /**
   * The scheduled consistency check: the internal cache against the kernel table. Differences
   * (missed events) are fixed and replicated, and reported.
   */
  async checkConsistency(): Promise<ReloadResult> {
    await this.reload(true);
    const r = this.lastReload!;
    if (r.changed || r.purged)
      this.log.warn(
        `consistency check: ${r.changed} entries differed from the kernel and ${r.purged} were gone; fixed and sent to the peer`,
      );
    else this.log.verbose(`consistency check: internal cache matches the kernel (${r.entries} entries)`);
    return r;
  }

  async resyncFromKernel(): Promise<void> {
    this.resyncs++;
    const t0 = this.clock.now();
    const n = await this.reload(true);
    this.log.info(`resync with the kernel table done: ${n} entries in ${this.clock.now() - t0} ms`);
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }
}
