// Commit on demand (#18): while a promotion's bulk commit runs, the packets that would meet
// conntrack before their entry exists are queued (NFQUEUE rules, ha/queue-rules.ts). For each,
// the flow is found in the external cache (packet-flow-finder.ts: either direction, NAT
// included), its one entry committed at once (entry-committer.ts), and the packet accepted;
// a packet of a flow the cache does not know is accepted unchanged (the ruleset decides).
//
// Bounded, and failing open: the kernel holds at most maxQueueLength packets (beyond, it accepts
// them: FAIL_OPEN; rule counters minus packets read tell how many); at most
// maxCommitsPerSecond entries are committed on demand (beyond, the packet is accepted without
// its entry, as without the queue); a packet that waits for the NAT reply index longer than
// maxWaitMs is accepted without its entry. Every such release is counted.
//
// I/O and time come in as ports (queue, entry committer, clock): the unit tests drive it with fakes.
import type { ArenaCache } from '../cache/arena-cache.js';
import type { QueuedPacket } from '../netlink/queue-packet.js';
import type { EntryCommitPort } from './entry-committer.js';
import { PacketFlowFinder } from './packet-flow-finder.js';
import type { EngineClock, TimerHandle } from './ports/clock.js';

export interface OnDemandLimits {
  /** Packets the kernel holds in the queue; beyond, it accepts them. */
  maxQueueLength: number;
  /** The longest a packet waits for its lookup (only while the NAT reply index is built). */
  maxWaitMs: number;
  /** Entries committed on demand per second, at most. */
  maxCommitsPerSecond: number;
}

/** The queue side: QueueSocket. */
export interface QueuePort {
  onReadable(cb: () => void): void;
  /** Calls fn for each queued packet read; returns the count, or -errno. */
  readPackets(fn: (p: QueuedPacket, buf: Buffer) => void): number;
  accept(id: number): void;
  acceptUpTo(maxId: number): void;
  close(): void;
}

export interface OnDemandCounters {
  /** Packets read from the queue. */
  packets: number;
  /** Entries committed on demand. */
  committed: number;
  /** Entries found in the kernel already (the bulk or a packet was first). */
  existing: number;
  /** Commits the kernel refused (the packet was accepted all the same). */
  failed: number;
  /** Packets of flows the cache does not know, accepted unchanged. */
  unknown: number;
  /** Packets accepted without their entry: the rate limit. */
  rateLimited: number;
  /** Packets accepted without their entry: they waited maxWaitMs. */
  waitedTooLong: number;
  /** Read errors (an overrun: the packets are accepted by the next batch verdict). */
  readErrors: number;
}

interface Waiting {
  id: number;
  since: number;
  bytes: Buffer;
}

const EEXIST = 17;

export class OnDemandCommit {
  readonly counters: OnDemandCounters = {
    packets: 0,
    committed: 0,
    existing: 0,
    failed: 0,
    unknown: 0,
    rateLimited: 0,
    waitedTooLong: 0,
    readErrors: 0,
  };
  private readonly finder: PacketFlowFinder;
  private waiting: Waiting[] = [];
  private tokens: number;
  private lastRefill: number;
  private waitTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly cache: ArenaCache,
    private readonly queue: QueuePort,
    private readonly committer: EntryCommitPort,
    private readonly clock: EngineClock,
    private readonly limits: OnDemandLimits,
  ) {
    this.finder = new PacketFlowFinder(cache);
    this.tokens = limits.maxCommitsPerSecond;
    this.lastRefill = clock.monotonic();
  }

  /** Starts reading the queue and building the NAT reply index (a slice per loop turn). */
  start(): void {
    this.queue.onReadable(() => this.drain());
    this.indexNext();
    this.drain();
  }

  private indexNext(): void {
    if (this.stopped) return;
    if (this.finder.indexSlice()) this.releaseWaiting(false);
    else this.clock.nextTurn(() => this.indexNext());
  }

  /** Reads and answers what is queued. */
  drain(): void {
    if (this.stopped) return;
    let maxId = -1;
    const before = this.waiting.length;
    const singles: number[] = [];
    for (;;) {
      const n = this.queue.readPackets((p, buf) => {
        this.counters.packets++;
        const r = this.finder.find(buf, p.payload, p.payloadLength);
        if (r === 'pending') {
          this.waiting.push({
            id: p.id,
            since: this.clock.monotonic(),
            bytes: Buffer.from(buf.subarray(p.payload, p.payload + p.payloadLength)),
          });
          return;
        }
        if (r === 'unknown') this.counters.unknown++;
        else this.commitOne(r.found);
        if (this.waiting.length > 0) singles.push(p.id);
        else maxId = Math.max(maxId, p.id);
      });
      if (n < 0) this.counters.readErrors++;
      if (n <= 0) break;
    }
    // a batch verdict would also accept the waiting packets: then one verdict each
    if (maxId >= 0) this.queue.acceptUpTo(maxId);
    for (const id of singles) this.queue.accept(id);
    if (this.waiting.length > before && this.waitTimer === undefined) this.armWaitTimer();
  }

  private commitOne(handle: number): void {
    const now = this.clock.monotonic();
    const rate = this.limits.maxCommitsPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) {
      this.counters.rateLimited++;
      return;
    }
    this.tokens--;
    const err = this.committer.commit(this.cache, handle, Math.floor(this.clock.now() / 1000));
    if (err === 0) this.counters.committed++;
    else if (err === EEXIST) this.counters.existing++;
    else this.counters.failed++;
  }

  private armWaitTimer(): void {
    const oldest = this.waiting[0];
    if (!oldest) return;
    const due = Math.max(0, oldest.since + this.limits.maxWaitMs - this.clock.monotonic());
    this.waitTimer = this.clock.setTimer(due, () => {
      this.waitTimer = undefined;
      this.releaseWaiting(true);
    });
  }

  /**
   * Answers the waiting packets: the index is complete (look them up again), or `expired` (accept
   * those that waited maxWaitMs without their entry).
   */
  private releaseWaiting(expired: boolean): void {
    const now = this.clock.monotonic();
    const keep: Waiting[] = [];
    for (const w of this.waiting) {
      if (!this.finder.ready && !(expired && now - w.since >= this.limits.maxWaitMs)) {
        keep.push(w);
        continue;
      }
      const r = this.finder.ready ? this.finder.find(w.bytes, 0, w.bytes.length) : 'pending';
      if (r === 'pending') this.counters.waitedTooLong++;
      else if (r === 'unknown') this.counters.unknown++;
      else this.commitOne(r.found);
      this.queue.accept(w.id);
    }
    this.waiting = keep;
    if (this.waitTimer !== undefined && keep.length === 0) {
      this.clock.clearTimer(this.waitTimer);
      this.waitTimer = undefined;
    } else if (this.waitTimer === undefined && keep.length > 0) this.armWaitTimer();
  }

  /** Stops: answers what is queued and waiting (accepted), closes the queue and the committer. */
  stop(): OnDemandCounters {
    if (this.stopped) return this.counters;
    this.drain();
    for (const w of this.waiting) {
      this.counters.waitedTooLong++;
      this.queue.accept(w.id);
    }
    this.waiting = [];
    if (this.waitTimer !== undefined) this.clock.clearTimer(this.waitTimer);
    this.stopped = true;
    this.queue.close();
    this.committer.close();
    return this.counters;
  }
}
