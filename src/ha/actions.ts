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

export interface HaActionsOptions {
  ops: HaOperations;
  hooks?: HookRunner;
  guard?: TrafficGuard;
}

export function createHaActions(o: HaActionsOptions): HaActions {
  const { ops, hooks, guard } = o;
  let hold: GuardHold | undefined;
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
  if (guard) {
    actions.guardOn = async () => {
      hold = await guard.hold();
      return { detail: 'holding' };
    };
    actions.guardOff = async () => {
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
  }
  return actions;
}
