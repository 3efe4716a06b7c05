// FtFwOptions resolved once: defaults filled in, conntrackdCompat applied, checked. The parts of an
// FtFw share the one frozen result.
import type { FtFwOptions } from './ftfw-types.js';

/** What an FtFw runs with (see FtFwOptions for what each means). */
export interface FtFwSettings {
  readonly ackWindowSize: number;
  readonly resendQueueSize: number;
  readonly alivePeriodMs: number;
  readonly conntrackdCompat: boolean;
  readonly startupResync: boolean;
  readonly resyncOnPeerRestart: boolean;
  readonly bulkOnPeerRestart: boolean;
  readonly replayHelloPhase: boolean;
  /** helloLingerPeriods in ms. */
  readonly lingerMs: number;
  readonly bulkOnStartup: boolean;
  readonly ackHoleRetransmit: boolean;
  /** 0: the S3 safety net is off. */
  readonly retransmitTimeoutPeriods: number;
  readonly retransmitMaxPeriods: number;
  readonly bulkOnUnservableNack: boolean;
  /** S7: objects are only transmitted while the resend queue holds fewer entries than this (Infinity: no flow control). */
  readonly objectLimit: number;
  readonly reorderTolerance: number;
  readonly maxReorderMs: number;
  readonly restartSeqJump: number;
  readonly reconcile: boolean;
  readonly reconcileRetries: number;
  readonly bulkMinGapMs: number;
  readonly restartHoldOffMs: number;
  readonly restartHoldOffMaxMs: number;
  readonly stallRecovery: boolean;
}

/** Resolves and checks `options` (a RangeError names a bad one). */
export function resolveFtFwOptions<O>(options: FtFwOptions<O>): FtFwSettings {
  const compat = options.conntrackdCompat ?? false;
  // ctsync's improvements: off in compat, on by default otherwise
  const ours = (v: boolean | undefined, dflt: boolean): boolean => !compat && (v ?? dflt);
  // checked in this order (the first bad one is named)
  const ackWindowSize = positiveInt(options.ackWindowSize ?? 300, 'ackWindowSize');
  const resendQueueSize = positiveInt(options.resendQueueSize ?? 131072, 'resendQueueSize');
  const alivePeriodMs = positiveInt(options.alivePeriodMs ?? 1000, 'alivePeriodMs');
  const lingerMs = nonNegInt(options.helloLingerPeriods ?? 3, 'helloLingerPeriods') * alivePeriodMs;
  const retransmitTimeoutPeriods = compat
    ? 0
    : nonNegInt(options.retransmitTimeoutPeriods ?? 5, 'retransmitTimeoutPeriods');
  const retransmitMaxPeriods = Math.max(
    retransmitTimeoutPeriods,
    nonNegInt(options.retransmitMaxPeriods ?? 60, 'retransmitMaxPeriods'),
  );
  const reorderTolerance = nonNegInt(options.reorderTolerance ?? 64, 'reorderTolerance');
  const maxReorderMs = nonNegInt(options.maxReorderMs ?? 1000, 'maxReorderMs');
  const restartSeqJump = positiveInt(options.restartSeqJump ?? 65536, 'restartSeqJump');
  const reconcileRetries = nonNegInt(options.reconcileRetries ?? 3, 'reconcileRetries');
  const bulkMinGapMs = compat ? 0 : nonNegInt(options.bulkMinGapMs ?? 1000, 'bulkMinGapMs');
  const restartHoldOffMs = nonNegInt(options.restartHoldOffMs ?? 5000, 'restartHoldOffMs');
  const restartHoldOffMaxMs = Math.max(
    restartHoldOffMs,
    nonNegInt(options.restartHoldOffMaxMs ?? 300_000, 'restartHoldOffMaxMs'),
  );
  return Object.freeze({
    ackWindowSize,
    resendQueueSize,
    alivePeriodMs,
    conntrackdCompat: compat,
    // a conntrackd option (default off there): honoured in compat, on by default otherwise
    startupResync: options.startupResync ?? !compat,
    resyncOnPeerRestart: ours(options.resyncOnPeerRestart, true),
    bulkOnPeerRestart: ours(options.bulkOnPeerRestart, true),
    replayHelloPhase: ours(options.replayHelloPhase, true),
    lingerMs,
    bulkOnStartup: ours(options.bulkOnStartup, true),
    ackHoleRetransmit: ours(options.ackHoleRetransmit, true),
    retransmitTimeoutPeriods,
    retransmitMaxPeriods,
    bulkOnUnservableNack: ours(options.bulkOnUnservableNack, true),
    // a reserve for control messages: they must never be the ones that cannot go out
    objectLimit: ours(options.flowControl, true)
      ? Math.max(1, resendQueueSize - Math.min(1024, Math.floor(resendQueueSize / 4)))
      : Infinity,
    reorderTolerance,
    maxReorderMs,
    restartSeqJump,
    reconcile: ours(options.reconcile, true),
    reconcileRetries,
    bulkMinGapMs,
    restartHoldOffMs,
    restartHoldOffMaxMs,
    stallRecovery: ours(options.stallRecovery, true),
  });
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`ftfw: ${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`ftfw: ${name} must be a non-negative integer, got ${v}`);
  return v;
}
