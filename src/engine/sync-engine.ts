// The sync engine: kernel events -> internal cache -> FT-FW -> peer, and peer -> FT-FW -> external
// cache, and the commands on them. It owns the caches and the protocol and wires the flows, one
// module each: kernel-intake.ts (kernel events in), transmitter.ts (to the peer, bulk passes),
// reception.ts (from the peer, reconciliation), kernel-resync.ts (reloads, overruns, consistency
// check), committer.ts (external -> kernel). What is outside the process (the kernel, the peer
// link, the commit workers, the clock) comes in as ports (ports/), built by the daemon
// (production/ports.ts) or by a test.
import type { Entry, Expect } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import type { ArenaCache } from '../cache/arena-cache.js';
import type { ExpectCache } from '../cache/expect-cache.js';
import type { CtsyncConfig } from '../config/model.js';
import type { Logger } from '../log.js';
import type { BulkReason } from '../sync/ftfw.js';
import type { SyncProtocol } from '../sync/sync-protocol.js';
import { Committer, type CommitMode, type EngineCommitResult } from './committer.js';
import { EngineCaches } from './engine-caches.js';
import { ExternalExpiry } from './external-expiry.js';
import type { EngineContext } from './engine-flow.js';
import { KernelInjector } from './kernel-inject.js';
import { KernelIntake } from './kernel-intake.js';
import { KernelResync, type ReloadResult } from './kernel-resync.js';
import type {
  EngineClock,
  EnginePorts,
  KernelEventSource,
  KernelPort,
  PeerChannel,
  CommitPoolPort,
} from './ports/index.js';
import { runPoolWhileFilled } from './commit-pool-demand.js';
import { createSyncProtocol } from './sync-mode.js';
import { Reception, type MalformedCounters } from './reception.js';
import { ReplicationFilter } from './replication-filter.js';
import { Transmitter, type SyncItem } from './transmitter.js';

export { countDelta, type CommitMode, type EngineCommitResult, type ExpectCommitResult } from './committer.js';
export { makeExpectHelperFilter } from './replication-filter.js';
export type { MalformedCounters } from './reception.js';
export type { SyncItem } from './transmitter.js';
export type { EnginePorts } from './ports/index.js';

/** What the engine tells about the external cache's completeness (health/sync-state.ts listens). */
export interface SyncObserver {
  /** The peer (re)started, or contacted us for the first time. */
  peerStarted(firstContact: boolean): void;
  /** The peer's answer to our RESYNC number `epoch` has arrived (clean: whole). */
  peerAnswered(epoch: number, clean: boolean): void;
  /** The external cache was emptied (`-f`, a promotion). */
  externalFlushed(): void;
}

const BULK_REASON_TEXT: Record<BulkReason, string> = {
  'resync-requested': 'resync requested by other node',
  'peer-restart': 'the peer restarted',
  'nack-evicted': 'the peer asked for messages no longer held',
  startup: 'start-up',
  local: 'requested here',
  refresh: 'periodic refresh, Mode ALARM',
};

/** The kernel event buffer ctsync starts with, at least (see start()). */
const EVENT_BUFFER_MIN = 16 * 1024 * 1024;

export class SyncEngine {
  /** The sync mode (FT-FW, or NOTRACK): see sync-mode.ts. */
  readonly ftfw: SyncProtocol<SyncItem>;
  readonly channel: PeerChannel;
  readonly kernel: KernelPort;
  /** ExpectationSync on: the expectation caches are fed, sent and committed. */
  readonly expectations: boolean;
  readonly startedAt: number;
  private readonly caches: EngineCaches;
  private readonly filter: ReplicationFilter;
  private readonly commitPool: CommitPoolPort;
  /** FT-FW's record per internal handle (FtFwOptions.nodeOf). */
  private readonly ftfwNodes: Array<object | undefined> = [];
  private readonly tx: Transmitter;
  private readonly intake: KernelIntake;
  private readonly reception: Reception;
  private readonly resync: KernelResync;
  private readonly committer: Committer;
  private readonly clock: EngineClock;
  /** DisableExternalCache on: the peer's messages go into the kernel as they arrive. */
  readonly injector: KernelInjector | undefined;
  /** Mode ALARM: external entries the peer stops refreshing go after CacheTimeout. */
  readonly expiry: ExternalExpiry | undefined;
  private events?: KernelEventSource;
  /** Unties the commit pool from the external cache (commit-pool-demand.ts). */
  private unfollowPool?: () => void;
  /** Told when the external cache gains or loses completeness (set by the daemon). */
  syncObserver?: SyncObserver;

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  constructor(
    readonly config: CtsyncConfig,
    private readonly log: Logger,
    ports: EnginePorts,
  ) {
    const { kernel, channel, commitPool, clock } = ports;
    this.kernel = kernel;
    this.channel = channel;
    this.commitPool = commitPool;
    this.clock = clock;
    this.startedAt = clock.now();
    const expSync = config.sync.options.expectationSync;
    this.expectations = expSync !== false;
    this.caches = new EngineCaches(config, log, (report) => clock.nextTurn(report));
    this.filter = new ReplicationFilter(config.general.filter, expSync);
    this.ftfw = createSyncProtocol<SyncItem>(
      config.sync.mode,
      // inside a datagram, its arrival time (one clock reading per datagram)
      {
        now: () => this.reception.rxNow || clock.now(),
        setTimer: (ms, cb) => clock.setTimer(ms, cb),
        clearTimer: (h) => clock.clearTimer(h),
      },
      {
        released: (obj) => this.tx.released(obj),
        bulk: (reason) => {
          // a refresh comes every RefreshTime: not worth a line each at the default level
          const line = `sending the internal cache to the peer (${BULK_REASON_TEXT[reason]})`;
          if (reason === 'refresh') this.log.verbose(line);
          else this.log.info(line);
          this.tx.startBulkPass();
        },
        txPending: () => this.tx.schedule(),
        peerStart: ({ firstContact }) => {
          this.log.info(firstContact ? 'peer contacted us' : 'peer restarted');
          this.syncObserver?.peerStarted(firstContact);
        },
        peerBulkComplete: (answer) => {
          this.reception.reconcile(answer);
          this.syncObserver?.peerAnswered(answer.epoch, answer.clean);
        },
        peerSequenceReset: ({ lastSeq, seq }) =>
          this.log.warn(
            `the peer's messages all looked late (ours: after ${lastSeq}, its: ${seq}): its sequence is taken as new, and a resync is asked for what was dropped`,
          ),
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
      config.sync.refreshTime,
    );
    this.tx = new Transmitter(this.caches, this.ftfw, channel, clock);
    const cacheTimeout = config.sync.cacheTimeout;
    if (cacheTimeout !== undefined) this.expiry = new ExternalExpiry(this.caches, cacheTimeout, clock);
    if (config.sync.disableExternalCache)
      this.injector = new KernelInjector(kernel, !config.sync.options.tcpWindowTracking, log);
    const ctx: EngineContext = {
      config,
      log,
      caches: this.caches,
      filter: this.filter,
      ftfw: this.ftfw,
      tx: this.tx,
      kernel,
      clock,
      expectations: this.expectations,
      injector: this.injector,
    };
    this.intake = new KernelIntake(ctx);
    this.reception = new Reception(ctx);
    this.resync = new KernelResync(ctx, () => this.eventsReceived);
    this.committer = new Committer(ctx, this.intake, commitPool);
  }

  // ------------------------------------------------------------------------- caches

  /**
   * The internal cache. The entries of the last commit are copied in shortly after the commit,
   * or earlier on the first access, or before the external cache changes: nothing can see or
   * change either cache before the copy.
   */
  get internal(): ArenaCache {
    return this.caches.internal;
  }

  /** The internal expectation cache (settles a pending commit first, as `internal` does). */
  get internalExpect(): ExpectCache {
    return this.caches.internalExpect;
  }

  get external(): ArenaCache {
    return this.caches.external;
  }

  get externalExpect(): ExpectCache {
    return this.caches.externalExpect;
  }

  /** Whether the Filter lets this flow be replicated (and flushed by `-F`). */
  replicates(e: Entry): boolean {
    return this.filter.entry(e);
  }

  /** Whether an expectation is replicated (ExpectationSync's helpers, the Filter on its master). */
  replicatesExpect(x: Expect): boolean {
    return this.filter.expect(x);
  }

  // ------------------------------------------------------------------------- counters

  get malformed(): MalformedCounters {
    return this.reception.malformed;
  }

  /** Well-formed messages whose entry cannot be used (no addresses or protocol). */
  get unusable(): number {
    return this.reception.unusable;
  }

  /** External entries removed because the peer's complete answer to a resync left them out. */
  get staleRemoved(): number {
    return this.reception.staleRemoved;
  }

  /** EXP messages dropped because ExpectationSync is off here. */
  get expectMessagesIgnored(): number {
    return this.reception.expectMessagesIgnored;
  }

  /** Events the kernel reported that we caused ourselves (commit, flush): applied, not sent. */
  get ownEvents(): number {
    return this.intake.ownEvents;
  }

  get overruns(): number {
    return this.resync.overruns;
  }

  get resyncs(): number {
    return this.resync.resyncs;
  }

  /** What the last reload from the kernel found (entries, changed or new, purged). */
  get lastReload(): ReloadResult | undefined {
    return this.resync.lastReload;
  }

  get eventsReceived(): number {
    return this.events?.received ?? 0;
  }

  get eventBufferSize(): number {
    return this.events?.receiveBufferSize ?? 0;
  }

  // ------------------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.channel.open({ datagram: this.reception.onDatagram, error: (err) => this.onChannelError(err) });
    const g = this.config.general;
    // Start at the largest allowed buffer: it costs memory only when it fills, and an overrun
    // costs a resync. (conntrackd starts small and doubles only after losing events.)
    const buffer = Math.max(g.netlinkBufferSize ?? 0, g.netlinkBufferSizeMaxGrowth, EVENT_BUFFER_MIN);
    const events = this.kernel.subscribe(
      {
        rcvbuf: buffer,
        rcvbufMax: Math.max(buffer, g.netlinkBufferSizeMaxGrowth),
        iterationLimit: g.eventIterationLimit,
        expectations: this.expectations,
        reliable: g.netlinkEventsReliable,
      },
      {
        conntrack: this.intake.onConntrack,
        expect: this.intake.onExpect,
        batch: this.intake.onBatch,
        overrun: this.resync.onOverrun,
        malformed: (err) => this.log.warn(`kernel event skipped: ${err.message}`),
        error: (err) => this.log.error(`kernel events: ${err.message}`),
      },
    );
    this.events = events;
    this.committer.events = events;
    // events caused by our own requests (commit workers, flushes) are dropped in the kernel: a
    // big commit cannot overrun the event socket, and nothing is echoed to the peer. The commit
    // workers run while the external cache holds entries; their sockets join the filter then.
    events.ignorePorts([this.kernel.portId]);
    this.commitPool.onPorts = (ports) => events.ignorePorts([this.kernel.portId, ...ports]);
    const clock = this.clock;
    this.unfollowPool = runPoolWhileFilled(this.commitPool, this.caches.external, {
      log: this.log,
      setInterval: (cb, ms) => {
        const timer = { handle: undefined as unknown };
        const tick = (): void => {
          timer.handle = clock.setTimer(ms, tick);
          cb();
        };
        timer.handle = clock.setTimer(ms, tick);
        return timer;
      },
      clearInterval: (timer) => clock.clearTimer((timer as { handle: unknown }).handle),
    });
    // subscribe before the dump, so nothing that changes during the dump is missed
    events.start();
    const n = await this.reloadInternal(false);
    this.log.info(`internal cache loaded from the kernel: ${n} entries; syncing over ${this.channel.description}`);
    this.ftfw.start();
    this.expiry?.start();
    this.tx.schedule();
  }

  /**
   * Socket errors of the sync link. While the peer's daemon is down its host answers every ALIVE
   * with ICMP port unreachable, a warning a second: the log's rate limit (log-rate-limit.ts)
   * turns that into a few lines, then one line a minute with the count.
   */
  private onChannelError(err: Error): void {
    const hint =
      (err as NodeJS.ErrnoException).code === 'ECONNREFUSED'
        ? ': the peer refuses the sync port (is its daemon running?)'
        : '';
    this.log.warn(`sync channel: ${err.message}${hint}`);
  }

  stop(): void {
    this.tx.stop();
    this.resync.stop();
    this.ftfw.stop();
    this.expiry?.stop();
    this.unfollowPool?.();
    this.commitPool.stop();
    this.events?.stop();
    this.events?.close();
    this.channel.close();
    this.kernel.close();
  }

  // ------------------------------------------------------------------------- kernel tables

  /**
   * Re-reads the kernel table into the internal cache. With `send`, changed and vanished entries
   * are replicated (an overrun resync); without, the reload is silent (`-R`).
   * Returns the number of entries dumped.
   */
  reloadInternal(send: boolean, what: 'ct' | 'expect' | 'both' = 'both'): Promise<number> {
    return this.resync.reload(send, what);
  }

  /** The scheduled consistency check: differences with the kernel are fixed, sent and reported. */
  checkConsistency(): Promise<ReloadResult> {
    return this.resync.checkConsistency();
  }

  resyncFromKernel(): Promise<void> {
    return this.resync.resyncFromKernel();
  }

  /** `-c` (see Committer.commit). */
  commit(mode: CommitMode = {}): Promise<EngineCommitResult> {
    return this.committer.commit(mode);
  }

  /** Runs the copy a commit left pending, if any. */
  settleCommit(): void {
    this.caches.settle();
  }

  // ------------------------------------------------------------------------- the peer

  /**
   * `-B`: sends every internal object to the peer, conntracks then expectations. FT-FW runs one
   * bulk pass at a time: asked for while one runs, it follows it. Returns how many objects it
   * covers.
   */
  bulkSend(): number {
    this.ftfw.requestBulk();
    this.tx.schedule();
    return this.internal.totalObjects + this.internalExpect.totalObjects;
  }

  /** `-n`: ask the peer for its whole internal cache. */
  requestResync(): void {
    this.ftfw.requestResync();
    this.tx.schedule();
  }

  // ------------------------------------------------------------------------- cache commands

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
  flushCaches(which: 'internal' | 'external' | 'both'): {
    internal?: number;
    external?: number;
    internalExpect?: number;
    externalExpect?: number;
  } {
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
      this.syncObserver?.externalFlushed();
    }
    return out;
  }
}
