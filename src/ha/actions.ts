// HaActions from the daemon's operations: what the machine's steps mean in ctsync terms.
// The daemon passes its existing operations (DaemonHandler: commit, flushCaches, schedulePurge;
// SyncEngine: reloadInternal, bulkSend, requestResync), plus the hook runner and the guard when
// configured:
//
//   const actions = createHaActions({
//     ops: {
//       commit: () => handler.commit(),
//       flushCaches: (w) => handler.flushCaches(w),
//       schedulePurge: () => handler.schedulePurge(),
//       reloadInternal: (send) => engine.reloadInternal(send),
//       bulkSend: () => engine.bulkSend(),
//       requestResync: () => engine.requestResync(),
//     },
//     hooks: new HookRunner({ hooks: cfg.hooks, log, node: cfg.node }),
//     guard: cfg.guard.enabled ? new TrafficGuard(cfg.guard, { log }) : undefined,
//   });
import type { GuardHold, TrafficGuard } from './guard.js';
import type { HookRunner } from './hooks.js';
import type { HaActions, HookReport, StepReport, TransitionContext } from './machine.js';

/** The daemon operations the transitions use (structural: DaemonHandler + SyncEngine fit). */
export interface HaOperations {
  /** `-c`. Resolves with what was committed; rejects if it could not run at all. */
  commit(): Promise<{ committed: number; replaced: number; failed: readonly unknown[]; seconds: number }>;
  /** `-f`. */
  flushCaches(which: 'both'): { internal?: number; external?: number };
  /** `-R` with send=false. Resolves with the number of entries dumped. */
  reloadInternal(send: false): Promise<number>;
  /** `-B`. Returns the number of entries queued. */
  bulkSend(): number;
  /** `-n`. */
  requestResync(): void;
  /** `-t`. Returns the delay in seconds. */
  schedulePurge(): number;
}

/** Commit on demand around the commit (src/daemon/on-demand.ts); a hold that cannot start throws. */
export interface OnDemandPort {
  hold(): Promise<{ release(): Promise<{ heldMs: number; committed: number; packets: number }> }>;
  /** Start-up: replaces rules a killed run left by this run's, idle until a hold binds the queue. */
  arm(): Promise<void>;
  /** Shutdown: removes the rules. */
  disarm(): Promise<void>;
}

export interface HaActionsOptions {
  ops: HaOperations;
  hooks?: HookRunner;
  guard?: TrafficGuard;
  /** Preferred to the guard; the guard (if any) holds when it cannot start. */
  onDemand?: OnDemandPort;
}

export function createHaActions(o: HaActionsOptions): HaActions {
  const { ops, hooks, guard, onDemand } = o;
  const actions: HaActions = {
    async runHook(phase, ctx: TransitionContext): Promise<HookReport> {
      if (!hooks || ctx.kind === 'stop') return { status: 'skipped', detail: 'no hooks' };
      const r = await hooks.run({ transition: ctx.kind, phase, from: ctx.from, to: ctx.target, reason: ctx.reason });
      if (r.status === 'skipped') return { status: 'skipped', detail: `no ${r.hook} hook` };
      if (r.status === 'ok') return { status: 'ok', detail: `${r.hook} ok in ${r.durationMs} ms` };
      return { status: 'failed', detail: r.reason };
    },
    async commitExternal(): Promise<StepReport> {
      const r = await ops.commit();
      const detail = `committed ${r.committed} entries (${r.replaced} replaced) in ${r.seconds.toFixed(3)} s`;
      return r.failed.length > 0
        ? { detail, warning: `${r.failed.length} entries could not be committed` }
        : { detail };
    },
    async flushCaches(): Promise<StepReport> {
      const r = ops.flushCaches('both');
      return { detail: `flushed ${r.internal ?? 0} internal, ${r.external ?? 0} external entries` };
    },
    async resyncInternalFromKernel(): Promise<StepReport> {
      return { detail: `internal cache reloaded: ${await ops.reloadInternal(false)} kernel entries` };
    },
    async bulkSend(): Promise<StepReport> {
      return { detail: `${ops.bulkSend()} entries queued to the peers` };
    },
    async requestResync(): Promise<StepReport> {
      ops.requestResync();
      return { detail: 'resync requested from the peers' };
    },
    async schedulePurge(): Promise<StepReport> {
      return { detail: `kernel table purge in ${ops.schedulePurge()} s` };
    },
  };
  if (guard || onDemand) Object.assign(actions, guardSteps(guard, onDemand));
  return actions;
}

/** guardOn/guardOff: commit on demand when it starts, else the drop guard. */
function guardSteps(
  guard: TrafficGuard | undefined,
  onDemand: OnDemandPort | undefined,
): Pick<HaActions, 'guardOn' | 'guardOff'> {
  let hold: GuardHold | undefined;
  let queued: Awaited<ReturnType<OnDemandPort['hold']>> | undefined;
  const steps: Pick<HaActions, 'guardOn' | 'guardOff'> = {};
  steps.guardOn = async () => {
    let failed = '';
    if (onDemand) {
      try {
        queued = await onDemand.hold();
        return { detail: 'commit on demand' };
      } catch (err) {
        failed = `commit on demand could not start: ${(err as Error).message}`;
        if (!guard) return { detail: 'traffic passes unguarded', warning: failed };
      }
    }
    hold = await guard!.hold();
    return failed ? { detail: 'holding (the drop guard)', warning: failed } : { detail: 'holding' };
  };
  steps.guardOff = async () => {
    const q = queued;
    queued = undefined;
    if (q) {
      const r = await q.release();
      return { detail: `commit on demand for ${r.heldMs} ms: ${r.committed} entries for ${r.packets} packets` };
    }
    const h = hold;
    hold = undefined;
    if (!h) return { detail: 'the guard was not installed' };
    const r = await h.release();
    const detail = `held ${r.heldMs} ms${r.droppedPackets !== undefined ? `, ${r.droppedPackets} packets dropped` : ''}`;
    if (r.error) throw new Error(`${r.error} (${detail})`);
    return r.releasedBy === 'max-hold'
      ? { detail, warning: 'maximum hold reached before the commit finished' }
      : { detail };
  };
  return steps;
}
