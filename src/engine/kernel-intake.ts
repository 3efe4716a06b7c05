// Kernel events -> internal cache -> FT-FW: each event the Filter lets through is stored (a NEW,
// an update merged into the held entry, a death) and queued for the peer. Events our own requests
// caused (commits, flushes) are stored but never echoed.
import type { Entry, EventType, Expect } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import { expectKey } from '../cache/expect-cache.js';
import { ObjectState } from '../cache/sync-cache.js';
import { decodeConntrack } from '../netlink/ctnetlink.js';
import { EngineFlow, type EngineContext } from './engine-flow.js';
import { EventTranscoder } from './event-transcoder.js';

type CtEventType = 'NEW' | 'UPDATE' | 'DESTROY';

export class KernelIntake extends EngineFlow {
  private readonly transcoder: EventTranscoder;
  /** A flow key, as bytes. */
  private readonly keyScratch = Buffer.allocUnsafe(64);
  /** Unix seconds, read once per batch of kernel events (a clock call per event cost ~5%). */
  private eventNow: number;
  /** Events the kernel reported that we caused ourselves (commit, flush): applied, not sent. */
  ownEvents = 0;
  /** While a commit runs: the keys of the flows the kernel reported on (Committer). */
  touchedDuringCommit: Set<string> | undefined = undefined;

  constructor(ctx: EngineContext) {
    super(ctx);
    this.transcoder = new EventTranscoder(ctx.caches.internalStoreAs);
    this.eventNow = this.nowSeconds();
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** A batch of events begins (KernelEventHandlers.batch). */
  readonly onBatch = (): void => {
    this.eventNow = this.nowSeconds();
  };

  /**
   * A kernel event as bytes (KernelEventHandlers.conntrack): filtered, keyed and turned into
   * wire attributes without an Entry. Whatever the transcoder declines (malformed, or a rare
   * case it leaves to the general path) goes through decodeConntrack and applyDecoded, which
   * give the exact error or result.
   */
  readonly onConntrack = (type: EventType, buf: Buffer, off: number, len: number, pid: number): void => {
    this.applyRaw(type as CtEventType, buf, off, len, pid);
  };

  /** An expectation event (KernelEventHandlers.expect). */
  readonly onExpect = (type: EventType, x: Expect, pid: number): void => {
    if (!this.filter.expect(x)) return;
    const own = pid !== 0 && pid === this.kernel.portId;
    if (own) this.ownEvents++;
    const now = this.nowSeconds();
    const key = expectKey(x);
    const cache = this.caches.internalExpect;
    const obj = type === 'DESTROY' ? cache.kill(key, now) : cache.replace(x, now, key);
    if (obj && !own) {
      this.ftfw.queueObject(obj);
      this.tx.schedule();
    }
  };

  private applyRaw(type: CtEventType, buf: Buffer, off: number, len: number, pid: number): void {
    const t = this.transcoder;
    if (!t.scan(buf, off, len)) return this.applyDecoded(type, decodeConntrack(buf, off, len), pid);
    if (!this.filter.scanned(t)) return;
    const kb = this.keyScratch;
    const kl = t.keyBytes(kb);
    if (kl < 0) return this.applyDecoded(type, decodeConntrack(buf, off, len), pid);
    this.touchedDuringCommit?.add(kb.toString('latin1', 0, kl));
    const now = this.eventNow;
    const c = this.caches.internal;
    const held = type === 'NEW' ? 0 : c.findHandle(kb, 0, kl);
    const live = held !== 0 && c.stateOf(held) !== ObjectState.DEAD;
    let n = 0;
    if (live) {
      const start = c.attrsStart(held);
      n = t.encodeMergedFrom(c.buffer, start, start + c.attrsLength(held));
    } else if (type !== 'DESTROY') n = t.encode();
    if (n < 0) return this.applyDecoded(type, decodeConntrack(buf, off, len), pid);
    const own = pid !== 0 && pid === this.kernel.portId;
    if (own) this.ownEvents++;
    let h = 0;
    if (type === 'NEW') h = c.store(kb, 0, kl, t.out, 0, n, now, ObjectState.NEW);
    else if (type === 'UPDATE') {
      if (live) {
        h = held;
        c.overwriteHandle(held, t.out, 0, n, now);
      } else h = c.store(kb, 0, kl, t.out, 0, n, now, ObjectState.ALIVE);
    } else if (live ? c.kill(held, now, t.out, 0, n) : c.kill(0, now)) h = held;
    if (h !== 0 && !own) {
      this.ftfw.queueObject(h);
      this.tx.schedule();
    }
  }

  /** A decoded kernel event (the general path; also the flows a commit picks up afterwards). */
  applyDecoded(type: CtEventType, e: Entry, pid: number): void {
    if (!this.filter.entry(e)) return;
    const own = pid !== 0 && pid === this.kernel.portId;
    if (own) this.ownEvents++;
    const now = this.nowSeconds();
    const key = flowKey(e);
    this.touchedDuringCommit?.add(key);
    const c = this.caches.internal;
    let h: number;
    if (type === 'NEW') h = c.storeEntry(key, e, now, ObjectState.NEW);
    else if (type === 'UPDATE') h = c.updateEntry(key, e, now);
    else h = c.killEntry(key, now, e);
    // our own commits/flushes are the peer's entries coming back: never echo them
    if (h !== 0 && !own) {
      this.ftfw.queueObject(h);
      this.tx.schedule();
    }
  }
}
