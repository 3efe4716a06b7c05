// What a health check reports, and what it reads. Pure types: the daemon fills a HealthSample
// from its counters (daemon/health-monitor.ts); the checks (checks/) and the evaluator
// (evaluator.ts) only read it.
import type { HealthThresholds } from './config.js';
import type { SyncStatus } from './sync-state.js';

/** degraded: the node works but something needs a look; failed: it cannot do its job. */
export type Severity = 'degraded' | 'failed';

/** Exit status of `ctsync health`: 0 ok, 1 degraded, 2 failed. */
export type HealthStatus = 'ok' | Severity;

/** What one check finds now; absent when all is well. */
export interface FindingReport {
  severity: Severity;
  /** One line for a human, with the figures that made it. */
  message: string;
}

/** A finding as the evaluator keeps it: the check's name, and since when it holds. */
export interface Finding extends FindingReport {
  name: string;
  /** ms since the epoch (the sample's clock) when it started. */
  since: number;
}

/** The last audit of the internal cache against the kernel (daemon/cache-audit.ts). */
export interface AuditResult {
  /** When it ended (ms since the epoch). */
  at: number;
  /** Internal entries looked up in the kernel, and those the kernel did not have (confirmed). */
  sampled: number;
  missingInKernel: number;
  /** Kernel entries looked up in the internal cache, and those it did not have (confirmed). */
  kernelSampled: number;
  missingInCache: number;
}

/** One reading of the daemon's counters. Counters only grow; checks compare two readings. */
export interface HealthSample {
  /** ms since the epoch. */
  at: number;
  /** When the daemon started (ms since the epoch). */
  startedAt: number;
  /** The peer's last message (ms since the epoch); -Infinity before the first. */
  peerLastRxAt: number;
  /** NACKs from the peer for messages no longer held (the peer lost them; a resend cannot help). */
  unservableNacks: number;
  /** Answers to our RESYNCs that arrived with gaps (some of the peer's table may be missing). */
  peerBulksUnclean: number;
  resendQueue: { length: number; capacity: number };
  /** Resend queue entries evicted because it was full. */
  evicted: number;
  overruns: number;
  /** The newest audit, if one ran. */
  audit?: AuditResult;
  sync: SyncStatus;
}

/** The samples a check may compare: the newest, and the oldest kept within a window. */
export interface SampleWindow {
  readonly now: HealthSample;
  /** The oldest sample not older than `seconds` before now (now itself when none is). */
  since(seconds: number): HealthSample;
}

/** One finding's rule: a name and a pure function of the samples and thresholds. */
export interface HealthCheck {
  readonly name: string;
  /** The longest window it looks back (s): the evaluator keeps samples that long. */
  window(t: HealthThresholds): number;
  evaluate(w: SampleWindow, t: HealthThresholds): FindingReport | undefined;
}
