// The sync engine: kernel events -> internal cache -> FT-FW -> peer, and peer -> FT-FW -> external
// cache. One module owns each piece of state: the caches (cache/), the protocol (sync/ftfw),
// the sockets (netlink/, sync/channel). This file only wires them and implements the commands.
import { readFileSync } from 'node:fs';
import type { Entry, EventType, Expect } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import { makeFilter } from '../conntrack/filter.js';
import { ObjectState } from '../cache/sync-cache.js';
import { ExpectCache, ExpectObject, expectKey } from '../cache/expect-cache.js';
import { ConntrackClient } from '../netlink/conntrack-client.js';
import { ConntrackEvents } from '../netlink/conntrack-events.js';
import { decodeConntrack } from '../netlink/ctnetlink.js';
import { EventTranscoder } from './event-transcoder.js';
import { makeEventFilter } from './flow-filter.js';
import { FtFw, type BulkReason, type PeerBulkAnswer, type TxSink } from '../sync/ftfw.js';
import { DatagramBuilder, FLAG, MSG, decodeCtAttrs, decodeDatagram, encodeControl, type MalformedReason, type MsgHeader, type SyncVisitor } from '../sync/wire.js';
import type { CtScan } from '../sync/wire-attrs.js';
import { ArenaCache } from '../cache/arena-cache.js';
import { RefreshStamps } from '../cache/refresh-stamps.js';
import { SyncChannel, type ChannelOptions } from '../sync/channel.js';
import { CommitPool, type CommitResult } from './commit-pool.js';
import { runPoolWhileFilled } from './commit-pool-demand.js';
import { warnWhenFull } from './cache-full.js';
import type { CtsyncConfig } from '../config/model.js';
import type { Logger } from '../log.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * Objects a bulk send hands to FT-FW per loop turn. The peer's ACKs are read between turns, so
 * the protocol's per-object records are released and reused as the bulk goes: queued all at
 * once, 100,000 of them would live at the same time and cost the garbage collector more than
 * the sending itself.
 */
const BULK_PER_TURN = 4096;

const BULK_REASON_TEXT: Record<BulkReason, string> = {
  'resync-requested': 'resync requested by other node',
  'peer-restart': 'the peer restarted',
  'nack-evicted': 'the peer asked for messages no longer held',
  startup: 'start-up',
  local: 'requested here',
};

/** Sum of per-CPU u32 counter increments (each may have wrapped). */
export function countDelta(before: readonly number[], after: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < after.length; i++) d += ((after[i] - (before[i] ?? 0)) >>> 0);
  return d;
}

export interface MalformedCounters {
  total: number;
  truncated: number;
  badSize: number;
  badVersion: number;
  badHeader: number;
  badType: number;
  badPayload: number;
}

/** Channel options from the configured (first / default) link. */
export function channelOptions(cfg: CtsyncConfig): ChannelOptions {
  const ch = cfg.sync.channels.find((c) => c.default) ?? cfg.sync.channels[0];
  if (ch.kind === 'udp') {
    return {
      kind: 'udp', localAddress: (ch.ipv4Address ?? ch.ipv6Address)!, destination: ch.destination, port: ch.port,
      interface: ch.interface, sndSocketBuffer: ch.sndSocketBuffer, rcvSocketBuffer: ch.rcvSocketBuffer, checksum: ch.checksum,
    };
  }
  return {
    kind: 'multicast', localAddress: ch.ipv4Interface ?? '0.0.0.0', group: ch.group, port: ch.port,
    interface: ch.interface, sndSocketBuffer: ch.sndSocketBuffer, rcvSocketBuffer: ch.rcvSocketBuffer, checksum: ch.checksum,
  };
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

/**
 * The ExpectationSync predicate: expectations of the listed helpers (case-insensitive name
 * prefixes, as conntrackd matches them), or all (true), or none (false).
 */
export function makeExpectHelperFilter(setting: boolean | string[]): (x: Expect) => boolean {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  const names = setting.map((h) => h.toLowerCase());
  return (x) => {
    const h = x.helper?.toLowerCase();
    return h !== undefined && names.some((n) => h.startsWith(n));
  };
}

/**
 * What FT-FW queues: a conntrack of the internal cache by its handle (a number, no object per
 * flow), or an expectation object.
 */
export type SyncItem = number | ExpectObject;

export class SyncEngine {
  private readonly internalCache: ArenaCache;
  /** FT-FW's record per internal handle (FtFwOptions.nodeOf). */
  private readonly ftfwNodes: Array<object | undefined> = [];
  /** A flow key, as bytes. */
  private readonly keyScratch = Buffer.allocUnsafe(64);
  readonly external: ArenaCache;
  /** ExpectationSync on: the expectation caches are fed, sent and committed. */
  readonly expectations: boolean;
  private readonly internalExpectCache: ExpectCache;
  readonly externalExpect: ExpectCache;
  private readonly expectHelperWanted: (x: Expect) => boolean;
  /** EXP messages dropped because ExpectationSync is off here. */
  expectMessagesIgnored = 0;
  readonly ftfw: FtFw<SyncItem>;
  readonly channel: SyncChannel;
  readonly kernel: ConntrackClient;
  private readonly commitPool = new CommitPool();
  /** Unties the commit pool from the external cache (commit-pool-demand.ts). */
  private unfollowPool?: () => void;
  private events?: ConntrackEvents;
  private readonly replicate: (e: Entry) => boolean;
  private readonly replicateScanned: (t: EventTranscoder) => boolean;
  private readonly transcoder: EventTranscoder;
  private readonly builder: DatagramBuilder;
  private txScheduled = false;
  /** What a bulk send has still to queue: the internal caches' iterators, conntracks first. */
  /**
   * A bulk send in progress: the next conntrack handle to queue (0: none left), then the
   * expectations. A plain cursor, not an iterator over both: one loop over numbers stays
   * optimized, where a call site that met a generator and then a Map iterator deoptimized
   * on every turn of a resync (trace-deopt).
   */
  private bulkNextHandle = 0;
  private bulkExpects?: Iterator<ExpectObject>;
  /** stop() was called: nothing is sent any more. */
  private stopped = false;
  /** Date.now() of the datagram being handled (0 outside one). */
  private rxNow = 0;
  /** Unix seconds, read once per batch of kernel events (a clock call per event cost ~5%). */
  private eventNow = nowSeconds();
  private overrunTimer?: NodeJS.Timeout;
  private lastOverrunAt = 0;
  private readonly scratch = Buffer.allocUnsafe(4096);
  readonly malformed: MalformedCounters = { total: 0, truncated: 0, badSize: 0, badVersion: 0, badHeader: 0, badType: 0, badPayload: 0 };
  /** Events the kernel reported that we caused ourselves (commit, flush): applied, not sent. */
  ownEvents = 0;
  /** RESYNC epoch of each external entry's last refresh by the peer (reconcileExternal). */
  private readonly refreshed = new RefreshStamps();
  /** External entries removed because the peer's complete answer to a resync left them out. */
  staleRemoved = 0;
  /** Well-formed messages whose entry cannot be used (no addresses or protocol). */
  unusable = 0;
  overruns = 0;
  resyncs = 0;
  /** What the last reload from the kernel found (entries, changed or new, purged). */
  lastReload?: { entries: number; changed: number; purged: number };
  readonly startedAt = Date.now();

  constructor(readonly config: CtsyncConfig, private readonly log: Logger) {
    const storeAs = { commitTimeout: config.sync.commitTimeout !== undefined, tcpWindowTracking: config.sync.options.tcpWindowTracking, longHelper: 'omit' as const };
    this.internalCache = new ArenaCache('internal', config.general.hashLimit, storeAs, config.general.hashSize);
    // shared memory: a commit's workers read it in place
    this.external = new ArenaCache('external', config.general.hashLimit, { tcpWindowTracking: true, longHelper: 'omit' }, config.general.hashSize, true);
    const expSync = config.sync.options.expectationSync;
    this.expectations = expSync !== false;
    this.expectHelperWanted = makeExpectHelperFilter(expSync);
    this.internalExpectCache = new ExpectCache('internal', config.general.hashLimit, { commitTimeout: storeAs.commitTimeout, longHelper: 'omit' });
    this.externalExpect = new ExpectCache('external', config.general.hashLimit, { longHelper: 'omit' });
    // a full cache (HashLimit) refuses entries: said in the log, and in -s (stats-text.ts)
    warnWhenFull(this.internalCache, 'internal', log);
    warnWhenFull(this.external, 'external', log);
    warnWhenFull(this.internalExpectCache, 'internal expectation', log);
    warnWhenFull(this.externalExpect, 'external expectation', log);
    this.replicate = makeFilter(config.general.filter);
    this.replicateScanned = makeEventFilter(config.general.filter);
    this.transcoder = new EventTranscoder(storeAs);
    this.kernel = new ConntrackClient();
    this.channel = new SyncChannel(channelOptions(config));
    this.builder = new DatagramBuilder({ mtu: this.channel.maxDatagram + 28, reserve: 28, onDatagram: (d) => this.channel.send(d), lend: true });
    this.ftfw = new FtFw<SyncItem>(
      { now: () => this.rxNow || Date.now(), setTimer: (ms, cb) => setTimeout(cb, ms), clearTimer: (h) => clearTimeout(h as NodeJS.Timeout) },
      {
        released: (obj) => this.released(obj),
        bulk: (reason) => {
          this.log.info(`sending the internal cache to the peer (${BULK_REASON_TEXT[reason]})`);
          this.startBulkPass();
        },
        txPending: () => this.scheduleTx(),
        peerStart: ({ firstContact }) => this.log.info(firstContact ? 'peer contacted us' : 'peer restarted'),
        peerBulkComplete: (answer) => this.reconcileExternal(answer),
        peerSequenceReset: ({ lastSeq, seq }) =>
          this.log.warn(`the peer's messages all looked late (ours: after ${lastSeq}, its: ${seq}): its sequence is taken as new, and a resync is asked for what was dropped`),
        handshakeComplete: () => this.log.verbose('handshake with the peer complete'),
      },
      {
        // the protocol's per-object record: by handle for conntracks, on the object for expectations
        nodeOf: (o) => (typeof o === 'number' ? this.ftfwNodes[o] : o.ftfw),
        setNodeOf: (o, n) => {
          if (typeof o === 'number') this.ftfwNodes[o] = n;
          else o.ftfw = n;
        },
        ackWindowSize: config.sync.ackWindowSize,
        resendQueueSize: config.sync.resendQueueSize,
        startupResync: config.sync.startupResync,
      },
    );
  }

  /**
   * The internal cache. The entries of the last commit are copied in shortly after the commit
   * (settleCommit), or earlier on the first access, or before the external cache changes:
   * nothing can see or change either cache before the copy.
   */
  get internal(): ArenaCache {
    if (this.pendingAdopt) this.settleCommit();
    return this.internalCache;
  }

  /** The internal expectation cache (settles a pending commit first, as `internal` does). */
  get internalExpect(): ExpectCache {
    if (this.pendingAdopt) this.settleCommit();
    return this.internalExpectCache;
  }

  /**
   * Whether an expectation is replicated: its helper is one ExpectationSync names, and the
   * Filter's protocol and address rules let its master flow through (as conntrackd checks the
   * master; there is no TCP state to check).
   */
  replicatesExpect(x: Expect): boolean {
    if (!this.expectHelperWanted(x)) return false;
    const m = x.master;
    return this.replicate({ family: x.family, orig: m, reply: { src: m.dst, dst: m.src, proto: m.proto } });
  }

  /** Whether the Filter lets this flow be replicated (and flushed by `-F`). */
  replicates(e: Entry): boolean {
    return this.replicate(e);
  }

  get eventsReceived(): number {
    return this.events?.received ?? 0;
  }

  get eventBufferSize(): number {
    return this.events?.receiveBufferSize ?? 0;
  }

  async start(): Promise<void> {
    await this.channel.open();
    this.channel.on('datagram', (d) => this.onDatagram(d));
    this.channel.on('error', (err) => this.onChannelError(err));
    const g = this.config.general;
    // Start at the largest allowed buffer: it costs memory only when it fills, and an overrun
    // costs a resync. (conntrackd starts small and doubles only after losing events.)
    const buffer = Math.max(g.netlinkBufferSize ?? 0, g.netlinkBufferSizeMaxGrowth, 16 * 1024 * 1024);
    this.events = new ConntrackEvents({
      rcvbuf: buffer, rcvbufMax: Math.max(buffer, g.netlinkBufferSizeMaxGrowth), iterationLimit: g.eventIterationLimit, raw: true,
      expectations: this.expectations,
    });
    this.events.on('expect', (type, x, pid) => this.onKernelExpect(type, x, pid));
    // byte to byte (event-transcoder.ts); onRawKernelEvent itself falls back to the decoded
    // path (onKernelEvent) for what the transcoder declines
    this.events.onRawConntrack = (type, buf, off, len, pid) => this.onRawKernelEvent(type, buf, off, len, pid);
    this.events.onDrain = () => {
      this.eventNow = nowSeconds();
    };
    this.events.on('overrun', ({ bufferSize }) => this.onOverrun(bufferSize));
    this.events.on('malformed', (err) => this.log.warn(`kernel event skipped: ${err.message}`));
    this.events.on('error', (err) => this.log.error(`kernel events: ${err.message}`));
    // events caused by our own requests (commit workers, flushes) are dropped in the kernel: a
    // big commit cannot overrun the event socket, and nothing is echoed to the peer. The commit
    // workers run while the external cache holds entries; their sockets join the filter then.
    this.events.ignorePorts([this.kernel.portId]);
    this.commitPool.onPorts = (ports) => this.events?.ignorePorts([this.kernel.portId, ...ports]);
    this.unfollowPool = runPoolWhileFilled(this.commitPool, this.external, { log: this.log });
    // subscribe before the dump, so nothing that changes during the dump is missed
    this.events.start();
    const n = await this.reloadInternal(false);
    this.log.info(`internal cache loaded from the kernel: ${n} entries; syncing over ${this.channel.description}`);
    this.ftfw.start();
    this.scheduleTx();
  }

  /**
   * Socket errors of the sync link. While the peer's daemon is down its host answers every ALIVE
   * with ICMP port unreachable, a warning a second: the log's rate limit (log-rate-limit.ts)
   * turns that into a few lines, then one line a minute with the count.
   */
  private onChannelError(err: Error): void {
    const hint = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? ': the peer refuses the sync port (is its daemon running?)' : '';
    this.log.warn(`sync channel: ${err.message}${hint}`);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.overrunTimer);
    this.bulkNextHandle = 0;
    this.bulkExpects = undefined;
    this.ftfw.stop();
    this.unfollowPool?.();
    this.commitPool.stop();
    this.events?.stop();
    this.events?.close();
    this.channel.close();
    this.kernel.close();
  }

  // ------------------------------------------------------------------------- kernel -> internal

  /**
   * A kernel event as bytes: filtered, keyed and turned into wire attributes without an Entry.
   * Whatever the transcoder declines (malformed, or a rare case it leaves to the general path)
   * goes through decodeConntrack and onKernelEvent, which give the exact error or result.
   */
  private onRawKernelEvent(type: 'NEW' | 'UPDATE' | 'DESTROY', buf: Buffer, off: number, len: number, pid: number): void {
    const t = this.transcoder;
    if (!t.scan(buf, off, len)) return this.onKernelEvent(type, decodeConntrack(buf, off, len), pid);
    if (!this.replicateScanned(t)) return;
    const kb = this.keyScratch;
    const kl = t.keyBytes(kb);
    if (kl < 0) return this.onKernelEvent(type, decodeConntrack(buf, off, len), pid);
    this.touchedDuringCommit?.add(kb.toString('latin1', 0, kl));
    const now = this.eventNow;
    const c = this.internal;
    const held = type === 'NEW' ? 0 : c.findHandle(kb, 0, kl);
    const live = held !== 0 && c.stateOf(held) !== ObjectState.DEAD;
    let n = 0;
    if (live) {
      const start = c.attrsStart(held);
      n = t.encodeMergedFrom(c.buffer, start, start + c.attrsLength(held));
    } else if (type !== 'DESTROY') n = t.encode();
    if (n < 0) return this.onKernelEvent(type, decodeConntrack(buf, off, len), pid);
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
      this.scheduleTx();
    }
  }

  private onKernelEvent(type: 'NEW' | 'UPDATE' | 'DESTROY', e: Entry, pid: number): void {
    if (!this.replicate(e)) return;
    const own = pid !== 0 && pid === this.kernel.portId;
    if (own) this.ownEvents++;
    const now = nowSeconds();
    const key = flowKey(e);
    this.touchedDuringCommit?.add(key);
    const c = this.internal;
    let h: number;
    if (type === 'NEW') h = c.storeEntry(key, e, now, ObjectState.NEW);
    else if (type === 'UPDATE') h = c.updateEntry(key, e, now);
    else h = c.killEntry(key, now, e);
    // our own commits/flushes are the peer's entries coming back: never echo them
    if (h !== 0 && !own) {
      this.ftfw.queueObject(h);
      this.scheduleTx();
    }
  }

  private onKernelExpect(type: EventType, x: Expect, pid: number): void {
    if (!this.replicatesExpect(x)) return;
    const own = pid !== 0 && pid === this.kernel.portId;
    if (own) this.ownEvents++;
    const now = nowSeconds();
    const key = expectKey(x);
    const cache = this.internalExpect;
    const obj = type === 'DESTROY' ? cache.kill(key, now) : cache.replace(x, now, key);
    if (obj && !own) {
      this.ftfw.queueObject(obj);
      this.scheduleTx();
    }
  }

  private onOverrun(bufferSize: number): void {
    this.overruns++;
    this.lastOverrunAt = Date.now();
    const delay = this.config.general.netlinkOverrunResync;
    this.log.warn(`kernel event overrun (buffer ${bufferSize} bytes): events were lost; resync from the kernel ${delay === false ? 'disabled (NetlinkOverrunResync off)' : `once the events calm down, within ${delay} s`}`);
    if (delay === false || this.overrunTimer) return;
    // conntrackd waits the whole NetlinkOverrunResync (30 s by default) with a stale cache; we
    // resync as soon as the burst is over (no overrun and no event for half a second), and at
    // the latest after that delay
    const deadline = Date.now() + delay * 1000;
    let seen = this.eventsReceived;
    const check = (): void => {
      const now = Date.now();
      const quiet = this.eventsReceived === seen && now - this.lastOverrunAt >= 500;
      seen = this.eventsReceived;
      if (!quiet && now < deadline) {
        this.overrunTimer = setTimeout(check, 500);
        return;
      }
      this.overrunTimer = undefined;
      this.resyncFromKernel().catch((err) => this.log.error(`resync after overrun failed: ${(err as Error).message}`));
    };
    this.overrunTimer = setTimeout(check, 500);
  }

  /**
   * Re-reads the kernel table into the internal cache. With `send`, changed and vanished entries
   * are replicated (an overrun resync); without, the reload is silent (`-R`).
   * Returns the number of entries dumped.
   */
  async reloadInternal(send: boolean, what: 'ct' | 'expect' | 'both' = 'both'): Promise<number> {
    let n = 0;
    if (what !== 'expect') n += await this.reloadInternalConntrack(send);
    if (what !== 'ct' && this.expectations) n += await this.reloadInternalExpect(send);
    return n;
  }

  private async reloadInternalConntrack(send: boolean): Promise<number> {
    const now = nowSeconds();
    const c = this.internal;
    // handles seen in the dump (a handle stays with its flow while the dump runs)
    const seen = new Uint8Array(c.maxHandle + 1);
    const seenLater = new Set<number>();
    let changed = 0;
    let purged = 0;
    const n = await this.kernel.dump({}, (e) => {
      if (!this.replicate(e)) return;
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
      if (!c.has(h) || c.stateOf(h) === ObjectState.DEAD || (h < seen.length ? seen[h] === 1 : seenLater.has(h))) continue;
      purged++;
      c.kill(h, now);
      if (send) this.ftfw.queueObject(h);
      // (one record per flow while the protocol holds it: a held one goes once released)
      else if (!this.ftfw.holds(h)) c.removeHandle(h);
    }
    if (send) this.scheduleTx();
    this.lastReload = { entries: n, changed, purged };
    return n;
  }

  /** reloadInternal for the expectation table (what the Filter and ExpectationSync let through). */
  private async reloadInternalExpect(send: boolean): Promise<number> {
    const now = nowSeconds();
    const cache = this.internalExpect;
    const seen = new Set<string>();
    let n = 0;
    await this.kernel.dumpExpect({}, (x) => {
      if (!this.replicatesExpect(x)) return;
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
    if (send) this.scheduleTx();
    return n;
  }

  /**
   * The scheduled consistency check: the internal cache against the kernel table. Differences
   * (missed events) are fixed and replicated, and reported.
   */
  async checkConsistency(): Promise<{ entries: number; changed: number; purged: number }> {
    await this.reloadInternal(true);
    const r = this.lastReload!;
    if (r.changed || r.purged) this.log.warn(`consistency check: ${r.changed} entries differed from the kernel and ${r.purged} were gone; fixed and sent to the peer`);
    else this.log.verbose(`consistency check: internal cache matches the kernel (${r.entries} entries)`);
    return r;
  }

  async resyncFromKernel(): Promise<void> {
    this.resyncs++;
    const t0 = Date.now();
    const n = await this.reloadInternal(true);
    this.log.info(`resync with the kernel table done: ${n} entries in ${Date.now() - t0} ms`);
  }

  // ------------------------------------------------------------------------- internal -> peer

  private released(item: SyncItem): void {
    // a destroyed entry lives on only until the peer has heard of its death
    if (this.ftfw.holds(item)) return;
    if (typeof item === 'number') {
      const c = this.internal;
      if (c.has(item) && c.stateOf(item) === ObjectState.DEAD) c.removeHandle(item);
      return;
    }
    const cache = this.internalExpect;
    if (item.state === ObjectState.DEAD && cache.get(item.key) === item) cache.remove(item.key);
  }

  /**
   * `-B`: sends every internal object to the peer, conntracks then expectations. FT-FW runs one
   * bulk pass at a time: asked for while one runs, it follows it. Returns how many objects it
   * covers.
   */
  bulkSend(): number {
    this.ftfw.requestBulk();
    this.scheduleTx();
    return this.internal.totalObjects + this.internalExpect.totalObjects;
  }

  /** A bulk pass FT-FW asked for: queued BULK_PER_TURN per loop turn from here on. */
  private startBulkPass(): void {
    this.bulkNextHandle = 1;
    this.bulkExpects = this.internalExpect.values();
    this.scheduleTx();
  }

  /** Queues the next part of a bulk send; true while some is left. */
  private feedBulk(): boolean {
    let budget = BULK_PER_TURN;
    let h = this.bulkNextHandle;
    if (h > 0) {
      // handles added meanwhile may or may not be sent: they are queued as they come anyway
      const c = this.internal;
      const top = c.maxHandle;
      for (; h <= top && budget > 0; h++) {
        if (c.has(h)) {
          this.ftfw.queueObject(h);
          budget--;
        }
      }
      this.bulkNextHandle = h > top ? 0 : h;
    }
    while (budget > 0 && this.bulkExpects) {
      const r = this.bulkExpects.next();
      if (r.done) this.bulkExpects = undefined;
      else {
        this.ftfw.queueObject(r.value);
        budget--;
      }
    }
    return this.bulkNextHandle > 0 || this.bulkExpects !== undefined;
  }

  /** `-n`: ask the peer for its whole internal cache. */
  requestResync(): void {
    this.ftfw.requestResync();
    this.scheduleTx();
  }

  private scheduleTx(): void {
    if (this.txScheduled || this.stopped) return;
    this.txScheduled = true;
    // one transmit pass per loop turn: everything queued by a batch of events goes out packed
    setImmediate(() => {
      this.txScheduled = false;
      // stopped meanwhile: the channel is closed
      if (!this.stopped) this.transmit();
    });
  }

  private transmit(): void {
    if (this.bulkNextHandle > 0 || this.bulkExpects) {
      if (this.feedBulk()) this.scheduleTx();
      else this.ftfw.bulkQueued();
    }
    this.ftfw.transmitTo(this.txSink);
    this.builder.flush();
    this.channel.flush();
  }

  /** Serialises what a transmit pass sends (no message object per item). */
  private readonly txSink: TxSink<SyncItem> = {
    object: (item, seq, flags) => {
      if (typeof item === 'number') {
        const c = this.internalCache;
        const state = c.stateOf(item);
        const start = c.attrsStart(item);
        this.builder.addStoredBytes(state === ObjectState.NEW ? MSG.CT_NEW : state === ObjectState.ALIVE ? MSG.CT_UPD : MSG.CT_DEL,
          flags, seq, c.buffer, start, start + c.attrsLength(item));
        return;
      }
      const s = item.state;
      this.builder.addStored(s === ObjectState.NEW ? MSG.EXP_NEW : s === ObjectState.ALIVE ? MSG.EXP_UPD : MSG.EXP_DEL, flags, seq, item.attrs);
    },
    // flags is the whole flags byte (ACK/NACK/RESYNC/ALIVE bit included)
    control: (_kind, seq, flags, from, to) => {
      const end = encodeControl(this.scratch, 0, flags, seq, from, to);
      this.builder.addRaw(this.scratch.subarray(0, end));
    },
  };

  // ------------------------------------------------------------------------- peer -> external

  private onDatagram(d: Buffer): void {
    // one clock reading per datagram, for the protocol and the cache (not one per message)
    this.rxNow = Date.now();
    this.rxSec = Math.floor(this.rxNow / 1000);
    decodeDatagram(d, d.length, this.rxVisitor);
    this.rxNow = 0;
    this.scheduleTx();
  }

  /** Unix seconds of the datagram being handled. */
  private rxSec = 0;

  /** What decodeDatagram calls per message (one object for the engine's lifetime). */
  private readonly rxVisitor: SyncVisitor = {
    // keyed, not decoded: the backup stores what it receives as it arrived
    ctKeyed: (type, flags, seq, scan, buf, start, end) => {
      if (this.ftfw.receiveHeader(type, flags, seq) !== 'apply') return;
      this.applyExternal(type, scan, this.rxSec, buf as Buffer, start, end);
    },
    exp: (type, flags, seq, x) => {
      if (this.ftfw.receiveHeader(type, flags, seq) !== 'apply') return;
      this.applyExternalExpect(type, x, this.rxSec);
    },
    control: (flags, seq, from, to) => {
      if (this.ftfw.receiveHeader(MSG.CTL, flags, seq, from, to) === 'bad') this.countMalformed('bad-header');
    },
    malformed: (reason, _offset, header) => this.onMalformed(reason, header),
  };

  /**
   * Applies a peer's message to the external cache. conntrackd accepts any attribute subset; an
   * entry without addresses or protocol cannot be keyed nor committed, so it is counted as
   * unusable instead (never stored, never a crash).
   */
  private applyExternal(type: number, scan: CtScan, now: number, buf: Buffer, start: number, end: number): void {
    const kl = scan.keyLen;
    if (kl === 0) {
      this.unusable++;
      return;
    }
    // the last commit's copy takes the external entries as they were committed
    if (this.pendingAdopt) this.settleCommit();
    const ext = this.external;
    const kb = scan.keyBytes;
    if (type === MSG.CT_DEL) {
      ext.removeRaw(kb, 0, kl);
      return;
    }
    // a message for a flow we do not hold, or one that carries every attribute the held flow
    // has (what conntrackd and ctsync send: the whole cached entry), is stored as received; only
    // a partial update of a held flow is merged field by field
    let h = 0;
    if (type === MSG.CT_NEW) h = ext.store(kb, 0, kl, buf, start, end, now, ObjectState.NEW);
    else {
      const rec = ext.find(kb, 0, kl);
      if (rec < 0) h = ext.store(kb, 0, kl, buf, start, end, now, ObjectState.ALIVE);
      else if (ext.coveredBy(rec, scan.maskLo, scan.maskHi)) {
        h = ext.handleAt(rec);
        ext.overwrite(rec, buf, start, end, now);
      } else {
        try {
          const e = decodeCtAttrs(buf, start, end);
          if (e) {
            h = ext.handleAt(rec);
            ext.mergeUpdate(rec, e, now);
          }
        } catch (err) {
          this.unusable++;
          this.log.debug(`peer entry not stored: ${(err as Error).message}`);
        }
      }
    }
    if (h !== 0) this.refreshed.stamp(h, this.ftfw.resyncEpoch);
  }

  /**
   * The peer's answer to one of our RESYNCs arrived whole (FT-FW R3): what the external caches
   * hold and the peer did not send since is gone from the peer's table (deleted while its DEL
   * could not reach us), and would be committed at the next failover.
   */
  private reconcileExternal({ epoch, clean }: PeerBulkAnswer): void {
    if (!clean) {
      this.log.info(`the peer's answer to our resync arrived with gaps: entries it no longer has may stay in the external cache (a resync is asked again later)`);
      return;
    }
    if (this.pendingAdopt) this.settleCommit();
    const flows = this.refreshed.sweep(this.external, epoch);
    let expects = 0;
    for (const obj of [...this.externalExpect.values()]) {
      if (obj.refreshed >= epoch) continue;
      this.externalExpect.remove(obj.key);
      expects++;
    }
    this.staleRemoved += flows + expects;
    const what = `${flows} flows${this.expectations ? ` and ${expects} expectations` : ''}`;
    if (flows + expects > 0) this.log.info(`external cache reconciled with the peer's table: removed ${what} the peer no longer has`);
    else this.log.verbose('external cache reconciled with the peer\'s table: nothing stale');
  }

  /** Applies a peer's EXP message to the external expectation cache (when ExpectationSync is on). */
  private applyExternalExpect(type: number, x: Expect, now: number): void {
    if (!this.expectations) {
      this.expectMessagesIgnored++;
      return;
    }
    const key = expectKey(x);
    try {
      if (type === MSG.EXP_DEL) this.externalExpect.remove(key);
      else {
        const obj = type === MSG.EXP_NEW ? this.externalExpect.add(x, now, key) : this.externalExpect.replace(x, now, key);
        if (obj) obj.refreshed = this.ftfw.resyncEpoch;
      }
    } catch (err) {
      // decodable but not storable (e.g. no master tuple): as for conntracks, counted, never a crash
      this.unusable++;
      this.log.debug(`peer expectation not stored: ${(err as Error).message}`);
    }
  }

  private onMalformed(reason: MalformedReason, header?: MsgHeader): void {
    // conntrackd runs its sequence tracking on these too (see wire.ts SyncVisitor.malformed)
    if (header && reason !== 'bad-version') this.ftfw.receive({ type: header.type, flags: header.flags & (FLAG.HELLO | FLAG.HELLO_BACK), seq: header.seq });
    this.countMalformed(reason);
  }

  private countMalformed(reason: MalformedReason): void {
    this.malformed.total++;
    switch (reason) {
      case 'truncated': this.malformed.truncated++; break;
      case 'bad-size': this.malformed.badSize++; break;
      case 'bad-version': this.malformed.badVersion++; break;
      case 'bad-header': this.malformed.badHeader++; break;
      case 'bad-type': this.malformed.badType++; break;
      case 'bad-payload': this.malformed.badPayload++; break;
    }
  }

  // ------------------------------------------------------------------------- cache commands

  /** Keys the kernel reported on while a commit ran: their events are newer than the peer's entries. */
  private touchedDuringCommit?: Set<string>;
  /** Copies the last commit's entries into the internal cache (see `internal`). */
  private pendingAdopt?: () => void;

  /**
   * `-c`: commits the external conntrack cache, then (ExpectationSync on) the external
   * expectation cache: an expectation needs its master in the table.
   */
  async commit(mode: CommitMode = {}): Promise<EngineCommitResult> {
    this.settleCommit();
    const what = mode.what ?? 'both';
    const r: EngineCommitResult = what === 'expect' ? { committed: 0, replaced: 0, failed: [], seconds: 0 } : await this.commitConntrack(mode);
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
    const t0 = performance.now();
    const insertsBefore = await this.kernelInserts();
    const tStats = performance.now();
    const touched = new Set<string>();
    this.touchedDuringCommit = touched;
    this.events?.hearNew(false);
    let r: CommitResult;
    try {
      r = await this.commitPool.commit(this.external, { commitTimeout: cfg.commitTimeout, tcpWindowTracking: cfg.options.tcpWindowTracking });
    } finally {
      this.events?.hearNew(true);
      this.touchedDuringCommit = undefined;
    }
    const tPool = performance.now();
    const insertsAfter = await this.kernelInserts();
    r.phases = { statsBefore: tStats - t0, ...r.phases, statsAfter: performance.now() - tPool };
    // entries updated in place insert nothing; new and created-again ones do
    const foreign = insertsBefore === undefined || insertsAfter === undefined || r.inserted === undefined ? -1 : countDelta(insertsBefore, insertsAfter) - r.inserted;
    this.warnSmallKernelHash();
    if (mode.adopt === false) return r;
    const failed = new Set(r.failed.map((f) => f.key));
    const now = nowSeconds();
    this.pendingAdopt = () => {
      // what the kernel reported on during the commit is newer than the peer's entry
      const skip = failed.size + touched.size > 0 ? (key: string) => failed.has(key) || touched.has(key) : undefined;
      this.external.copyLiveInto(this.internalCache, now, skip);
      if (foreign !== 0) {
        this.pickUpMissedFlows(foreign).catch((err) => this.log.error(`reading the flows created during the commit failed: ${(err as Error).message}`));
      }
    };
    // Not at once: the copy takes the main thread for 50-90 ms per 100k entries, and the client
    // that asked for the commit is done only when it reads the end of our reply. Whatever
    // needs the internal cache first (an event, a command) makes the copy then.
    setTimeout(() => this.settleCommit(), 50);
    return r;
  }

  /**
   * Commits the external expectation cache. The kernel gives a new expectation its helper's
   * timeout whatever the request says, so the timeout conntrackd would compute (CommitTimeout,
   * else what is left of the peer's) is set by an update right after. Committed expectations go
   * into the internal expectation cache silently (they are the peer's), unless `adopt` is false.
   */
  private async commitExpectations(adopt: boolean): Promise<ExpectCommitResult> {
    const t0 = performance.now();
    const now = nowSeconds();
    const fixed = this.config.sync.commitTimeout;
    const list: Expect[] = [];
    for (const obj of this.externalExpect.values()) {
      if (obj.state === ObjectState.DEAD) continue;
      const x = this.externalExpect.expect(obj);
      if (fixed !== undefined) x.timeout = fixed;
      else if (x.timeout !== undefined) {
        const left = x.timeout - (now - obj.updated);
        x.timeout = left > 0 ? left : 60;
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
      for (const f of u.failed) failed.push({ expect: f.entry, reason: `created, but its timeout could not be set: ${f.reason}` });
    }
    if (adopt) for (const x of made) this.internalExpectCache.add(x, now);
    return { committed: made.length, replaced: r.replaced, failed, seconds: (performance.now() - t0) / 1000 };
  }

  /** Runs the copy a commit left pending, if any. */
  settleCommit(): void {
    const adopt = this.pendingAdopt;
    if (!adopt) return;
    this.pendingAdopt = undefined;
    adopt();
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
      if (!this.replicate(e)) return;
      const held = this.internal.handleOfKey(flowKey(e));
      if (held !== 0 && this.internal.stateOf(held) !== ObjectState.DEAD) return;
      found++;
      this.onKernelEvent('NEW', e, 0);
    });
    this.log.info(`flows created while the commit ran: ${found} picked up from the kernel${expected > 0 ? ` (the kernel counted ${expected} inserts besides ours)` : ''}`);
  }

  private hashWarned = false;

  /**
   * A table much bigger than the kernel's hash makes every insert walk long chains: a commit of
   * a million entries then takes several times longer (the hash is per host, set by the
   * nf_conntrack `hashsize` module parameter). Said once, with the figures.
   */
  private warnSmallKernelHash(): void {
    if (this.hashWarned) return;
    let buckets = 0;
    try {
      buckets = Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_buckets', 'utf8'));
    } catch {
      return;
    }
    const n = this.external.size;
    if (!(buckets > 0) || n <= 2 * buckets) return;
    this.hashWarned = true;
    this.log.warn(`the kernel conntrack hash has ${buckets} buckets for ${n} entries here: inserts and commits slow down; raise it (echo N > /sys/module/nf_conntrack/parameters/hashsize, N >= ${n}) as for conntrackd`);
  }

  /** Drops entries from the internal cache without telling the peer (our own kernel flush). */
  forgetInternal(entries: Entry[]): void {
    const c = this.internal;
    for (const e of entries) {
      const h = c.handleOfKey(flowKey(e));
      if (h === 0) continue;
      this.ftfw.forget(h);
      c.removeHandle(h);
    }
  }

  /** Drops every expectation from the internal cache without telling the peer (our own kernel flush). */
  forgetInternalExpectations(): void {
    for (const obj of this.internalExpect.values()) this.ftfw.forget(obj);
    this.internalExpect.flush();
  }

  /**
   * `-f`: flush one or both caches, conntracks and expectations (conntrackd's `-f internal`
   * keeps the expectations; expectations whose masters were flushed are of no use).
   */
  flushCaches(which: 'internal' | 'external' | 'both'): { internal?: number; external?: number; internalExpect?: number; externalExpect?: number } {
    const out: { internal?: number; external?: number; internalExpect?: number; externalExpect?: number } = {};
    this.settleCommit();
    if (which !== 'external') {
      for (const h of this.internal.handles()) this.ftfw.forget(h);
      out.internal = this.internal.flush();
      if (this.expectations) {
        out.internalExpect = this.internalExpect.size;
        this.forgetInternalExpectations();
      }
    }
    if (which !== 'internal') {
      out.external = this.external.flush();
      if (this.expectations) out.externalExpect = this.externalExpect.flush();
    }
    return out;
  }
}
