// The failover state machine: which role this node plays (backup, active...) and the one-at-a-time
// transitions between roles, driven by requests from keepalived (notify arguments, notify FIFO),
// people (`ctsync promote`) and start-up. The machine knows *when* to commit, flush, resync and
// purge, never *how*: it calls an injected HaActions, and reads time through an injected clock.
//
// Roles
//   starting ─┬─► promoting ─► active ─► demoting ─► backup
//             ├─► demoting ─► backup ─► promoting ─► active
//             ├─► fault (from any role)      stopped (from any role; terminal)
//
// Transitions (kind: steps, in order). Targets are what requests ask for; the table below says which
// transition a target needs from each stable role (— = already there: a no-op unless `force`).
//
//   from \ target   active    backup    fault    stopped
//   starting        promote   demote    fault    stop
//   backup          —         demote*   fault    stop        (* only with force)
//   active          promote*  demote    fault    stop
//   fault           promote   demote    fault*   stop
//   promoting       (only reached as "from" when FAULT/STOP preempted a promotion) fault, stop
//   demoting        (likewise) fault, stop
//   stopped         refused: the daemon is going down
//
//   promote  guardOn, preHook, commitExternal, guardOff, flushCaches, resyncInternalFromKernel,
//            bulkSend, postHook — conntrackd's `primary` (-c, -f, -R, -B) as one step. The guard
//            (docs/conntrackd-compat.md §3.1) is released right after the commit: it only has to cover the commit, and
//            flushing, reloading and bulk-sending a large table can take seconds.
//   demote   preHook, requestResync (-n), schedulePurge (-t), postHook — the `backup` script,
//            whatever the previous role (starting, fault and active all end in backup this way).
//   fault    preHook, schedulePurge (-t), postHook — the `fault` script; hooks see
//            CTSYNC_TRANSITION=fault (the demote hooks are used).
//   stop     nothing: the daemon is shutting down; the kernel table keeps forwarding.
//
// Rules for concurrent requests (keepalived's notify scripts race: docs/conntrackd-compat.md §3.2)
//   * One transition at a time; steps of two transitions never interleave.
//   * A request arriving while a transition runs becomes the single pending request; a later one
//     replaces it (latest target wins; the replaced request resolves as `superseded`). When the
//     running transition ends, the pending one is planned from the role reached then, so
//     MASTER, BACKUP during a promotion → the promotion finishes, then one demotion.
//   * A request for the target of the transition in flight (MASTER twice) joins it and cancels any
//     pending request (MASTER, BACKUP, MASTER during a promotion → one promotion, no demotion).
//   * A request for the role already held is a no-op (MASTER twice commits once) unless `force`.
//   * FAULT and STOP preempt: while one of them is the pending request, the running promotion or
//     demotion stops at the next step boundary. The step in flight (e.g. the commit) is never
//     interrupted — a half-applied netlink batch is worse than a finished one — the remaining
//     steps are skipped except the cleanup step guardOff, the transition ends as `preempted`, and
//     the fault (or stop) transition runs at once. Why FAULT preempts and BACKUP does not:
//     BACKUP mid-promotion is a flap; finishing the promotion (flush, reload, bulk send) hands the
//     peer, now taking over, our freshest table. FAULT means keepalived found this node unfit
//     (link down, failed track script): bulk sending and post-promote hooks are pointless or
//     harmful, so stop as soon as it is safe.
//
// Rules for failing steps (a step fails when it throws, reports a failure, or exceeds stepTimeoutMs)
//   * A failed pre-hook aborts the transition when onPreHookFailure is 'abort' (promote/demote
//     only: a fault transition cannot be refused). The node stays in the role it had, nothing was
//     committed or flushed; the result is `aborted`, logged as an error, and the status shows
//     `wanted` ≠ `role`. A repeated request (keepalived re-notifying, `ctsync promote`) retries.
//   * Every other failure is reported loudly and the transition continues: it ends `degraded`.
//     In particular a failed commit still promotes. keepalived has already moved the VIP here;
//     aborting would black-hole it, and whatever part of the table did get committed carries
//     traffic. The commit is not retried automatically either: once traffic flows, new flows
//     exist in the kernel, and a late commit (EEXIST → delete + create) would overwrite them with
//     older state from the peer. Re-commit by hand with `ctsync promote --force` if wanted.
//   * Hooks and the guard are optional: an HaActions without guardOn/guardOff, or a hook runner
//     reporting `skipped`, records the step as skipped.
import type { HaLog } from './log.js';

export type Role = 'starting' | 'backup' | 'promoting' | 'active' | 'demoting' | 'fault' | 'stopped';
export type Target = 'active' | 'backup' | 'fault' | 'stopped';
export type TransitionKind = 'promote' | 'demote' | 'fault' | 'stop';
export type ReasonSource = 'notify' | 'fifo' | 'manual' | 'startup';

export interface Reason {
  source: ReasonSource;
  /** What caused the request, for logs and hooks: the FIFO line, the notify arguments, the command. */
  detail: string;
}

export interface RequestOptions {
  /** Run the transition even when the node already holds the target role (re-commit, re-purge). */
  force?: boolean;
}

export type StepName =
  | 'guardOn'
  | 'preHook'
  | 'commitExternal'
  | 'guardOff'
  | 'flushCaches'
  | 'resyncInternalFromKernel'
  | 'bulkSend'
  | 'requestResync'
  | 'schedulePurge'
  | 'postHook';

/** What an action may report besides succeeding: a detail for the status, a warning that degrades the transition. */
export interface StepReport {
  detail?: string;
  /** Set when the step did its job only partly (e.g. some entries could not be committed). */
  warning?: string;
}

export interface HookReport {
  status: 'ok' | 'skipped' | 'failed';
  detail?: string;
}

/** What the actions are told about the transition they belong to. */
export interface TransitionContext {
  readonly id: number;
  readonly kind: TransitionKind;
  readonly from: Role;
  readonly target: Target;
  readonly reason: Reason;
  readonly force: boolean;
  readonly startedAt: number;
}

/**
 * The operations a transition drives. Every function may be slow and may throw; a throw is a
 * failed step (see the failure rules above). Typically built with createHaActions (actions.ts).
 */
export interface HaActions {
  /** Start holding traffic to the VIPs (guard.ts). Optional. */
  guardOn?(ctx: TransitionContext): Promise<StepReport | void>;
  /** Stop holding traffic. Optional; called whenever guardOn was called, even after an abort. */
  guardOff?(ctx: TransitionContext): Promise<StepReport | void>;
  /** Runs the user's pre/post hook for ctx.kind (promote, demote or fault). */
  runHook(phase: 'pre' | 'post', ctx: TransitionContext): Promise<HookReport>;
  /** `-c`: commit the external cache to the kernel. */
  commitExternal(ctx: TransitionContext): Promise<StepReport | void>;
  /** `-f`: flush the internal and external caches. */
  flushCaches(ctx: TransitionContext): Promise<StepReport | void>;
  /** `-R`: reload the internal cache from the kernel table, silently. */
  resyncInternalFromKernel(ctx: TransitionContext): Promise<StepReport | void>;
  /** `-B`: send the internal cache to the peers. */
  bulkSend(ctx: TransitionContext): Promise<StepReport | void>;
  /** `-n`: ask the peers for their internal caches. */
  requestResync(ctx: TransitionContext): Promise<StepReport | void>;
  /** `-t`: flush the kernel table and the internal cache after PurgeTimeout. */
  schedulePurge(ctx: TransitionContext): Promise<StepReport | void>;
}

/** Time and one-shot timers (same shape as sync/ftfw.ts's FtFwEnv). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimer(ms: number, cb: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, cb) => setTimeout(cb, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type StepResult = 'ok' | 'warning' | 'failed' | 'skipped';

export interface StepRecord {
  name: StepName;
  result: StepResult;
  startedAt: number;
  durationMs: number;
  /** Detail reported by the action, the failure message, or why the step was skipped. */
  detail?: string;
}

/**
 * ok: every step succeeded (or had nothing to do). degraded: the target role was reached but a
 * step failed or warned. aborted: a pre-hook failed with onPreHookFailure 'abort'; the role is
 * unchanged. preempted: FAULT or STOP cut the transition short.
 */
export type TransitionResult = 'ok' | 'degraded' | 'aborted' | 'preempted';

export interface TransitionRecord {
  id: number;
  kind: TransitionKind;
  /** Role before the transition. */
  from: Role;
  /** Role the transition aimed at (reached when result is ok or degraded). */
  to: Role;
  reason: Reason;
  force: boolean;
  startedAt: number;
  durationMs: number;
  result: TransitionResult;
  steps: StepRecord[];
  /** One line on what went wrong, when result is not ok. */
  error?: string;
}

export type RequestOutcome =
  | { outcome: 'completed'; transition: TransitionRecord }
  | { outcome: 'noop'; role: Role }
  | { outcome: 'superseded'; by: { target: Target; reason: Reason } }
  | { outcome: 'refused'; why: string };

export interface HaStatus {
  role: Role;
  /** When the node entered `role` (ms since the epoch). */
  since: number;
  /** The latest request accepted (what keepalived or the operator wants). */
  wanted?: { target: Target; reason: Reason; at: number };
  /** The transition running now. */
  current?: {
    id: number;
    kind: TransitionKind;
    from: Role;
    to: Role;
    reason: Reason;
    startedAt: number;
    step?: StepName;
    stepStartedAt?: number;
  };
  /** The request that runs after `current` (or that preempts it: fault, stopped). */
  pending?: { target: Target; reason: Reason; force: boolean; requestedAt: number; preempts: boolean };
  last?: TransitionRecord;
  /** Newest last, at most historySize. */
  history: TransitionRecord[];
  counters: HaCounters;
}

export interface HaCounters {
  requests: number;
  transitions: number;
  /** Requests for the role already held. */
  noops: number;
  /** Requests that joined the transition in flight or the identical pending request. */
  collapsed: number;
  /** Pending requests replaced by a later one. */
  superseded: number;
  preempted: number;
  aborted: number;
  degraded: number;
  refused: number;
}

export interface MachineOptions {
  actions: HaActions;
  log: HaLog;
  clock?: Clock;
  /** hooks.onPreHookFailure. Default 'continue'. */
  onPreHookFailure?: 'abort' | 'continue';
  /** Transitions kept in status().history. Default 32. */
  historySize?: number;
  /** A step still running after this long counts as failed and the transition moves on. Default 120000. */
  stepTimeoutMs?: number;
  /** Called after every transition (metrics, control-socket push). Must not throw. */
  onTransition?: (rec: TransitionRecord) => void;
}

type StableRole = 'starting' | 'backup' | 'active' | 'fault';

/** Transition needed to reach a target from a stable role; null = already there. */
const TABLE: Record<StableRole, Record<Target, TransitionKind | null>> = {
  starting: { active: 'promote', backup: 'demote', fault: 'fault', stopped: 'stop' },
  backup: { active: 'promote', backup: null, fault: 'fault', stopped: 'stop' },
  active: { active: null, backup: 'demote', fault: 'fault', stopped: 'stop' },
  fault: { active: 'promote', backup: 'demote', fault: null, stopped: 'stop' },
};

/** The transition a target forces when the role already matches. */
const FORCED: Record<Target, TransitionKind> = { active: 'promote', backup: 'demote', fault: 'fault', stopped: 'stop' };

const STEPS: Record<TransitionKind, readonly StepName[]> = {
  promote: [
    'guardOn',
    'preHook',
    'commitExternal',
    'guardOff',
    'flushCaches',
    'resyncInternalFromKernel',
    'bulkSend',
    'postHook',
  ],
  demote: ['preHook', 'requestResync', 'schedulePurge', 'postHook'],
  fault: ['preHook', 'schedulePurge', 'postHook'],
  stop: [],
};

/** Role while the transition runs, and once it has succeeded. */
const DURING: Record<TransitionKind, Role> = {
  promote: 'promoting',
  demote: 'demoting',
  fault: 'fault',
  stop: 'stopped',
};
const AFTER: Record<TransitionKind, Role> = { promote: 'active', demote: 'backup', fault: 'fault', stop: 'stopped' };
const TARGET_OF: Record<TransitionKind, Target> = {
  promote: 'active',
  demote: 'backup',
  fault: 'fault',
  stop: 'stopped',
};

/** Which running transitions a pending target cuts short. */
const PREEMPTS: Record<Target, readonly TransitionKind[]> = {
  active: [],
  backup: [],
  fault: ['promote', 'demote'],
  stopped: ['promote', 'demote', 'fault'],
};

export function reasonText(r: Reason): string {
  return `${r.source}: ${r.detail}`;
}

interface Req {
  target: Target;
  reason: Reason;
  force: boolean;
  at: number;
  waiters: Array<(o: RequestOutcome) => void>;
}

interface Run {
  ctx: TransitionContext;
  waiters: Array<(o: RequestOutcome) => void>;
  step?: StepName;
  stepStartedAt?: number;
}

export class FailoverMachine {
  private readonly actions: HaActions;
  private readonly log: HaLog;
  private readonly clock: Clock;
  private readonly onPreHookFailure: 'abort' | 'continue';
  private readonly historySize: number;
  private readonly stepTimeoutMs: number;
  private readonly onTransition?: (rec: TransitionRecord) => void;

  private role: Role = 'starting';
  private since: number;
  private wanted?: { target: Target; reason: Reason; at: number };
  private running?: Run;
  private pending?: Req;
  private draining?: Promise<void>;
  private readonly history: TransitionRecord[] = [];
  private nextId = 1;
  private readonly counters: HaCounters = {
    requests: 0,
    transitions: 0,
    noops: 0,
    collapsed: 0,
    superseded: 0,
    preempted: 0,
    aborted: 0,
    degraded: 0,
    refused: 0,
  };

  constructor(opts: MachineOptions) {
    this.actions = opts.actions;
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
    this.onPreHookFailure = opts.onPreHookFailure ?? 'continue';
    this.historySize = Math.max(1, opts.historySize ?? 32);
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 120_000;
    this.onTransition = opts.onTransition;
    this.since = this.clock.now();
  }

  get currentRole(): Role {
    return this.role;
  }

  /**
   * Asks for a role. Never throws or rejects; the promise settles when the request has had its
   * effect: the transition it ran or joined completed, it was a no-op, it was superseded by a later
   * request, or it was refused (after `stopped`). FIFO and notify inputs may ignore the promise;
   * `ctsync promote` can wait for it and print the record.
   */
  request(target: Target, reason: Reason, opts: RequestOptions = {}): Promise<RequestOutcome> {
    const req: Req = { target, reason, force: opts.force === true, at: this.clock.now(), waiters: [] };
    const done = new Promise<RequestOutcome>((resolve) => req.waiters.push(resolve));
    this.counters.requests++;
    const why = this.refusal(target);
    if (why) {
      this.counters.refused++;
      this.log.warn(`ha: request ${target} (${reasonText(reason)}) refused: ${why}`);
      settle(req.waiters, { outcome: 'refused', why });
      return done;
    }
    this.wanted = { target, reason, at: req.at };
    const run = this.running;
    const p = this.pending;
    if (!run && !p) {
      if (this.kindFor(this.role, req) === null) {
        this.noop(req);
        return done;
      }
      this.pending = req;
      this.kick();
      return done;
    }
    if (run && target === run.ctx.target && !req.force) {
      // The transition in flight already goes there: join it; whatever was pending is outdated.
      if (p) this.supersede(p, req);
      this.pending = undefined;
      this.counters.collapsed++;
      run.waiters.push(...req.waiters);
      this.log.verbose(`ha: request ${target} (${reasonText(reason)}) joins the running ${run.ctx.kind}`);
      return done;
    }
    if (p && p.target === target && p.force === req.force) {
      this.counters.collapsed++;
      p.waiters.push(...req.waiters);
      this.log.verbose(
        `ha: request ${target} (${reasonText(reason)}) collapses into the pending one (${reasonText(p.reason)})`,
      );
      return done;
    }
    if (p) this.supersede(p, req);
    this.pending = req;
    if (run) {
      const preempts = PREEMPTS[target].includes(run.ctx.kind);
      this.log.info(
        `ha: request ${target} (${reasonText(reason)}) ${preempts ? `preempts the running ${run.ctx.kind} at its next step` : `queued behind the running ${run.ctx.kind}`}`,
      );
    }
    this.kick();
    return done;
  }

  /** Resolves when no transition runs and none is pending. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  status(): HaStatus {
    const run = this.running;
    const s: HaStatus = {
      role: this.role,
      since: this.since,
      history: this.history.slice(),
      counters: { ...this.counters },
    };
    if (this.wanted) s.wanted = { ...this.wanted };
    if (run) {
      s.current = {
        id: run.ctx.id,
        kind: run.ctx.kind,
        from: run.ctx.from,
        to: AFTER[run.ctx.kind],
        reason: run.ctx.reason,
        startedAt: run.ctx.startedAt,
      };
      if (run.step) {
        s.current.step = run.step;
        s.current.stepStartedAt = run.stepStartedAt;
      }
    }
    const p = this.pending;
    if (p)
      s.pending = {
        target: p.target,
        reason: p.reason,
        force: p.force,
        requestedAt: p.at,
        preempts: !!run && PREEMPTS[p.target].includes(run.ctx.kind),
      };
    const last = this.history[this.history.length - 1];
    if (last) s.last = last;
    return s;
  }

  // ------------------------------------------------------------------------------- planning

  private refusal(target: Target): string | undefined {
    if (this.role === 'stopped') return 'the daemon has stopped';
    if (this.pending?.target === 'stopped' && target !== 'stopped') return 'the daemon is stopping';
    if (this.running?.ctx.kind === 'stop' && target !== 'stopped') return 'the daemon is stopping';
    return undefined;
  }

  /** The transition `req` needs from `role`; null when the role is already the target. */
  private kindFor(role: Role, req: Req): TransitionKind | null {
    let kind: TransitionKind | null;
    switch (role) {
      case 'starting':
      case 'backup':
      case 'active':
      case 'fault':
        kind = TABLE[role][req.target];
        break;
      case 'promoting':
      case 'demoting':
        // Only reached when fault/stop cut a transition short: the target alone decides.
        kind = FORCED[req.target];
        break;
      case 'stopped':
        return null;
    }
    if (kind === null && req.force) kind = FORCED[req.target];
    return kind;
  }

  private noop(req: Req): void {
    this.counters.noops++;
    this.log.verbose(`ha: already ${this.role}; request ${req.target} (${reasonText(req.reason)}) changes nothing`);
    settle(req.waiters, { outcome: 'noop', role: this.role });
  }

  private supersede(old: Req, by: Req): void {
    this.counters.superseded++;
    this.log.info(
      `ha: pending request ${old.target} (${reasonText(old.reason)}) superseded by ${by.target} (${reasonText(by.reason)})`,
    );
    settle(old.waiters, { outcome: 'superseded', by: { target: by.target, reason: by.reason } });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // A request may have arrived after the loop's last look at `pending`.
      if (this.pending) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let req = this.pending; req; req = this.pending) {
      this.pending = undefined;
      const kind = this.kindFor(this.role, req);
      if (kind === null) {
        this.noop(req);
        continue;
      }
      try {
        await this.execute(kind, req);
      } catch (err) {
        // execute() catches everything an action can throw; this is a bug in the machine itself.
        this.log.error(`ha: internal error during ${kind}: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }

  // ------------------------------------------------------------------------------- running

  private setRole(role: Role): void {
    if (role === this.role) return;
    this.role = role;
    this.since = this.clock.now();
  }

  /** A fault or stop request is pending that cuts the running transition short. */
  private preempted(run: Run): boolean {
    const p = this.pending;
    return !!p && PREEMPTS[p.target].includes(run.ctx.kind);
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private async execute(kind: TransitionKind, req: Req): Promise<void> {
    const from = this.role;
    const startedAt = this.clock.now();
    const ctx: TransitionContext = {
      id: this.nextId++,
      kind,
      from,
      target: TARGET_OF[kind],
      reason: req.reason,
      force: req.force,
      startedAt,
    };
    const run: Run = { ctx, waiters: req.waiters };
    this.running = run;
    this.setRole(DURING[kind]);
    this.log.info(
      `ha: ${kind} ${from} → ${AFTER[kind]} started (${reasonText(req.reason)})${req.force ? ' [forced]' : ''}`,
    );

    const steps: StepRecord[] = [];
    let result: TransitionResult = 'ok';
    let error: string | undefined;
    let guardHeld = false;
    try {
      for (const name of STEPS[kind]) {
        if (name === 'guardOff') {
          if (guardHeld) {
            guardHeld = false;
            steps.push(await this.step(run, name));
          } else {
            steps.push(this.skipped(name, 'the guard was not on'));
          }
          continue;
        }
        if (result === 'aborted' || result === 'preempted') {
          steps.push(this.skipped(name, result));
          continue;
        }
        if (this.preempted(run)) {
          result = 'preempted';
          error = `${this.pending!.target} requested (${reasonText(this.pending!.reason)}) before ${name}`;
          steps.push(this.skipped(name, result));
          continue;
        }
        const rec = await this.step(run, name);
        steps.push(rec);
        if (name === 'guardOn' && rec.result !== 'skipped') guardHeld = true;
        if (
          name === 'preHook' &&
          rec.result === 'failed' &&
          this.onPreHookFailure === 'abort' &&
          (kind === 'promote' || kind === 'demote')
        ) {
          result = 'aborted';
          error = `pre-${kind} hook failed: ${rec.detail ?? 'no detail'}`;
        }
      }
    } finally {
      // Nothing above throws (step() catches), but the guard must never be left on.
      if (guardHeld) steps.push(await this.step(run, 'guardOff'));
    }
    if (result === 'ok' && steps.some((s) => s.result === 'failed' || s.result === 'warning')) {
      result = 'degraded';
      error = steps
        .filter((s) => s.result === 'failed' || s.result === 'warning')
        .map((s) => `${s.name} ${s.result}${s.detail ? `: ${s.detail}` : ''}`)
        .join('; ');
    }

    if (result === 'ok' || result === 'degraded') this.setRole(AFTER[kind]);
    else if (result === 'aborted') this.setRole(from);
    // preempted: stay in the transitional role; the preempting transition starts right away.

    const rec: TransitionRecord = {
      id: ctx.id,
      kind,
      from,
      to: AFTER[kind],
      reason: req.reason,
      force: req.force,
      startedAt,
      durationMs: this.clock.now() - startedAt,
      result,
      steps,
    };
    if (error !== undefined) rec.error = error;
    this.running = undefined;
    this.counters.transitions++;
    if (result === 'degraded') this.counters.degraded++;
    if (result === 'aborted') this.counters.aborted++;
    if (result === 'preempted') this.counters.preempted++;
    this.history.push(rec);
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize);
    this.report(rec);
    settle(run.waiters, { outcome: 'completed', transition: rec });
    try {
      this.onTransition?.(rec);
    } catch (err) {
      this.log.error(`ha: onTransition listener failed: ${(err as Error).message}`);
    }
  }

  private report(rec: TransitionRecord): void {
    const head = `ha: ${rec.kind} ${rec.from} → ${rec.to}`;
    const tail = `in ${rec.durationMs} ms (${reasonText(rec.reason)})`;
    switch (rec.result) {
      case 'ok':
        this.log.info(`${head} done ${tail}`);
        break;
      case 'degraded':
        this.log.error(`${head} done with failures ${tail}: ${rec.error}`);
        break;
      case 'aborted':
        this.log.error(`${head} ABORTED ${tail}: ${rec.error}; role stays ${this.role}`);
        break;
      case 'preempted':
        this.log.warn(`${head} preempted ${tail}: ${rec.error}`);
        break;
    }
  }

  private skipped(name: StepName, why: string): StepRecord {
    return { name, result: 'skipped', startedAt: this.clock.now(), durationMs: 0, detail: why };
  }

  /** Runs one step with the step timeout; never throws. */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private async step(run: Run, name: StepName): Promise<StepRecord> {
    const ctx = run.ctx;
    const startedAt = this.clock.now();
    run.step = name;
    run.stepStartedAt = startedAt;
    const a = this.actions;
    const invoke = (): Promise<StepReport | HookReport | void> => {
      switch (name) {
        case 'guardOn':
          return a.guardOn ? a.guardOn(ctx) : Promise.resolve({ status: 'skipped', detail: 'no guard' });
        case 'guardOff':
          return a.guardOff ? a.guardOff(ctx) : Promise.resolve({ status: 'skipped', detail: 'no guard' });
        case 'preHook':
          return a.runHook('pre', ctx);
        case 'postHook':
          return a.runHook('post', ctx);
        case 'commitExternal':
          return a.commitExternal(ctx);
        case 'flushCaches':
          return a.flushCaches(ctx);
        case 'resyncInternalFromKernel':
          return a.resyncInternalFromKernel(ctx);
        case 'bulkSend':
          return a.bulkSend(ctx);
        case 'requestResync':
          return a.requestResync(ctx);
        case 'schedulePurge':
          return a.schedulePurge(ctx);
      }
    };
    // An action that throws synchronously fails its step like one that rejects.
    const call = Promise.resolve().then(invoke);
    let timer: unknown;
    const timeout = new Promise<{ timedOut: true }>((resolve) => {
      timer = this.clock.setTimer(this.stepTimeoutMs, () => resolve({ timedOut: true }));
    });
    let outcome: { ok: true; value: StepReport | HookReport | void } | { ok: false; err: unknown } | { timedOut: true };
    try {
      outcome = await Promise.race([
        call.then(
          (value) => ({ ok: true as const, value }),
          (err: unknown) => ({ ok: false as const, err }),
        ),
        timeout,
      ]);
    } finally {
      this.clock.clearTimer(timer);
    }
    const rec: StepRecord = { name, result: 'ok', startedAt, durationMs: this.clock.now() - startedAt };
    if ('timedOut' in outcome) {
      rec.result = 'failed';
      rec.detail = `timed out after ${this.stepTimeoutMs} ms (still running in the background)`;
    } else if (!outcome.ok) {
      rec.result = 'failed';
      rec.detail = errorText(outcome.err);
    } else {
      const v = outcome.value;
      if (v && 'status' in v) {
        rec.result = v.status === 'ok' ? 'ok' : v.status === 'skipped' ? 'skipped' : 'failed';
        if (v.detail !== undefined) rec.detail = v.detail;
      } else if (v) {
        if (v.warning !== undefined) {
          rec.result = 'warning';
          rec.detail = v.detail !== undefined ? `${v.warning} (${v.detail})` : v.warning;
        } else if (v.detail !== undefined) {
          rec.detail = v.detail;
        }
      }
    }
    run.step = undefined;
    run.stepStartedAt = undefined;
    const line = `ha: ${ctx.kind} step ${name} ${rec.result} in ${rec.durationMs} ms${rec.detail ? `: ${rec.detail}` : ''}`;
    if (rec.result === 'failed') this.log.error(line);
    else if (rec.result === 'warning') this.log.warn(line);
    else this.log.verbose(line);
    return rec;
  }
}

function settle(waiters: Array<(o: RequestOutcome) => void>, o: RequestOutcome): void {
  for (const w of waiters.splice(0)) w(o);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
