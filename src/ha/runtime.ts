// The failover layer assembled from the `ha` + `hooks` config: machine, keepalived tracker, FIFO
// reader, hooks and guard, so the daemon wires one object:
//
//   const ha = new HaRuntime(resolveHaConfig(cfg.ha, cfg.hooks), ops, log);   // ops: see actions.ts
//   await ha.start();                 // clears a stale guard, arms on-demand, opens the FIFO, enters initialRole
//   ha.notify(['GROUP', 'G1', 'MASTER', '0']);       // `ctsync notify ...` (throws KeepalivedInputError)
//   await ha.request('active', 'ctsync promote', { force: true });   // manual
//   ha.status();                      // for `ctsync status`
//   await ha.stop();                  // daemon shutdown: closes the FIFO, role → stopped, disarms
import { createHaActions, type HaOperations, type OnDemandPort } from './actions.js';
import type { HaConfig } from './config.js';
import { NotifyFifoReader, type FifoReaderStats } from './fifo.js';
import { TrafficGuard, type NftRunner } from './guard.js';
import { HookRunner } from './hooks.js';
import {
  KeepalivedTracker,
  applyKeepalivedEvent,
  fifoLineHandler,
  parseNotifyArgs,
  type TrackDecision,
  type TrackerSnapshot,
} from './keepalived.js';
import type { HaLog } from './log.js';
import {
  FailoverMachine,
  type Clock,
  type HaStatus,
  type RequestOptions,
  type RequestOutcome,
  type Target,
  type TransitionRecord,
} from './machine.js';

export interface HaRuntimeStatus extends HaStatus {
  keepalived: TrackerSnapshot;
  fifo?: FifoReaderStats & { path: string };
  guard: { enabled: boolean; holding: boolean; holds?: number; droppedPackets?: number };
}

export interface HaRuntimeOptions {
  clock?: Clock;
  /** nft for the guard (tests run it in a namespace). */
  nft?: NftRunner;
  onTransition?: (rec: TransitionRecord) => void;
  /** Commit on demand (the daemon builds it when ha.onDemand.enabled). */
  onDemand?: OnDemandPort;
}

export class HaRuntime {
  readonly machine: FailoverMachine;
  readonly tracker: KeepalivedTracker;
  readonly guard?: TrafficGuard;
  readonly hooks: HookRunner;
  readonly fifo?: NotifyFifoReader;
  private readonly onDemand: OnDemandPort | undefined;

  constructor(
    private readonly cfg: HaConfig,
    ops: HaOperations,
    private readonly log: HaLog,
    opts: HaRuntimeOptions = {},
  ) {
    this.tracker = new KeepalivedTracker(cfg.track);
    this.onDemand = opts.onDemand;
    this.hooks = new HookRunner({ hooks: cfg.hooks, log, ...(cfg.node ? { node: cfg.node } : {}) });
    if (cfg.guard.enabled)
      this.guard = new TrafficGuard(cfg.guard, {
        log,
        ...(opts.nft ? { nft: opts.nft } : {}),
        ...(opts.clock ? { clock: opts.clock } : {}),
      });
    this.machine = new FailoverMachine({
      actions: createHaActions({
        ops,
        hooks: this.hooks,
        ...(this.guard ? { guard: this.guard } : {}),
        ...(opts.onDemand ? { onDemand: opts.onDemand } : {}),
      }),
      log,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onTransition ? { onTransition: opts.onTransition } : {}),
      onPreHookFailure: cfg.hooks.onPreHookFailure,
      historySize: cfg.historySize,
      stepTimeoutMs: cfg.stepTimeoutMs,
    });
    if (cfg.fifo) {
      this.fifo = new NotifyFifoReader({
        path: cfg.fifo.path,
        create: cfg.fifo.create,
        log,
        onLine: fifoLineHandler(this.tracker, this.machine, log),
      });
    }
  }

  /** Removes a guard table a crashed run left, starts reading the FIFO, enters ha.initialRole. */
  async start(): Promise<void> {
    await this.guard?.clearStale();
    await this.onDemand?.arm();
    this.fifo?.start();
    if (this.cfg.initialRole)
      void this.machine.request(this.cfg.initialRole, { source: 'startup', detail: 'ha.initialRole' });
  }

  /**
   * The arguments keepalived appended to a `notify` script (`ctsync notify TYPE NAME STATE PRIO`).
   * Throws KeepalivedInputError on bad input, before anything changes.
   */
  notify(args: readonly string[]): TrackDecision {
    return applyKeepalivedEvent(parseNotifyArgs(args), this.tracker, this.machine, this.log);
  }

  /** A manual request (`ctsync promote|demote`). */
  request(target: Exclude<Target, 'stopped'>, detail: string, opts: RequestOptions = {}): Promise<RequestOutcome> {
    return this.machine.request(target, { source: 'manual', detail }, opts);
  }

  status(): HaRuntimeStatus {
    const s: HaRuntimeStatus = {
      ...this.machine.status(),
      keepalived: this.tracker.snapshot(),
      guard: { enabled: this.guard !== undefined, holding: this.guard?.active !== undefined, ...this.guard?.totals },
    };
    if (this.fifo && this.cfg.fifo) s.fifo = { path: this.cfg.fifo.path, ...this.fifo.stats };
    return s;
  }

  /** Daemon shutdown: stop reading, let the running step finish, role → stopped. */
  async stop(): Promise<void> {
    await this.fifo?.stop();
    await this.machine.request('stopped', { source: 'manual', detail: 'daemon shutdown' });
    await this.machine.idle();
    await this.onDemand?.disarm();
  }
}
