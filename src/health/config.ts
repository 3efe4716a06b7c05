// The `health` section of ctsync's JSON configuration: thresholds of the findings of `ctsync
// health`, the cache audit, and the track file keepalived reads. Every setting has a default, so
// the section is optional (and a conntrackd.conf, which has no such settings, gets the defaults).
//
//   { "health": { "peerSilentSeconds": 10, "audit": { "periodSeconds": 60, "sample": 256 },
//                 "trackFile": { "path": "/run/ctsync/synced", "weight": 50 } } }

export interface HealthThresholds {
  /** peer-silent: no message from the peer for longer than this (s). FT-FW says ALIVE every second. */
  peerSilentSeconds: number;
  /** loss-unrecovered: losses no resend could repair within this window (s) are reported. */
  lossWindowSeconds: number;
  /** resend-queue-full: the resend queue is at least this full (fraction), or evicted entries in lossWindowSeconds. */
  resendQueueNearFull: number;
  /** overruns-repeating: at least overrunCount kernel event overruns within overrunWindowSeconds. */
  overrunCount: number;
  overrunWindowSeconds: number;
  /** cache-divergence is `failed` (not `degraded`) when at least this fraction of an audit's sample diverged. */
  auditFailedFraction: number;
}

export interface AuditConfig {
  /** Seconds between audits; 0 turns the audit off. */
  periodSeconds: number;
  /** Internal entries looked up in the kernel per audit. */
  sample: number;
  /** Kernel entries (the first of a dump) looked up in the internal cache per audit. */
  kernelSample: number;
  /** A difference is counted only if it is still there this long after it was seen (ms): events in flight. */
  confirmMs: number;
}

export interface TrackFileConfig {
  /** The file keepalived's `track_file` reads; the daemon writes 0 when synced, -weight when not. */
  path: string;
  weight: number;
}

export interface HealthConfig {
  thresholds: HealthThresholds;
  audit: AuditConfig;
  /** How long the peer's answer to a RESYNC may take before it is asked again (s). */
  resyncRetrySeconds: number;
  /** Seconds between evaluations (and track file updates). */
  periodSeconds: number;
  trackFile?: TrackFileConfig;
}

export type HealthConfigInput = Partial<HealthThresholds> & {
  audit?: Partial<AuditConfig>;
  resyncRetrySeconds?: number;
  periodSeconds?: number;
  trackFile?: { path: string; weight?: number };
};

export const HEALTH_DEFAULTS: HealthConfig = {
  thresholds: {
    peerSilentSeconds: 10,
    lossWindowSeconds: 300,
    resendQueueNearFull: 0.9,
    overrunCount: 3,
    overrunWindowSeconds: 600,
    auditFailedFraction: 0.5,
  },
  audit: { periodSeconds: 60, sample: 256, kernelSample: 256, confirmMs: 2000 },
  resyncRetrySeconds: 120,
  periodSeconds: 1,
};

/** A track file's default weight: more than the usual gap between the two nodes' priorities. */
export const DEFAULT_TRACK_WEIGHT = 50;

export function resolveHealthConfig(input: HealthConfigInput | undefined): HealthConfig {
  const i = input ?? {};
  const d = HEALTH_DEFAULTS;
  const thresholds = { ...d.thresholds };
  for (const k of Object.keys(thresholds) as Array<keyof HealthThresholds>) {
    const v = i[k];
    if (v !== undefined) thresholds[k] = v;
  }
  const out: HealthConfig = {
    thresholds,
    audit: { ...d.audit, ...i.audit },
    resyncRetrySeconds: i.resyncRetrySeconds ?? d.resyncRetrySeconds,
    periodSeconds: i.periodSeconds ?? d.periodSeconds,
  };
  if (i.trackFile) out.trackFile = { path: i.trackFile.path, weight: i.trackFile.weight ?? DEFAULT_TRACK_WEIGHT };
  return out;
}

const seconds = (what: string) => ({ type: 'number', minimum: 0, expected: `${what} in seconds (>= 0)` });
const positiveSeconds = (what: string) => ({
  type: 'number',
  exclusiveMinimum: 0,
  expected: `${what} in seconds (> 0)`,
});
const fraction = (what: string) => ({
  type: 'number',
  exclusiveMinimum: 0,
  maximum: 1,
  expected: `${what}: a fraction in (0, 1]`,
});
const count = (what: string) => ({ type: 'integer', minimum: 1, expected: `${what}: an integer >= 1` });

export const healthSchema = {
  type: 'object',
  additionalProperties: false,
  expected: 'the health section: {"peerSilentSeconds": 10, "trackFile": {"path": "/run/ctsync/synced"}}',
  properties: {
    peerSilentSeconds: positiveSeconds('how long the peer may be silent'),
    lossWindowSeconds: positiveSeconds('the window of loss-unrecovered'),
    resendQueueNearFull: fraction('how full the resend queue may get'),
    overrunCount: count('overruns within overrunWindowSeconds that make a finding'),
    overrunWindowSeconds: positiveSeconds('the window of overruns-repeating'),
    auditFailedFraction: fraction("the fraction of an audit's sample that makes the divergence failed"),
    resyncRetrySeconds: positiveSeconds("how long the peer's answer to a resync may take"),
    periodSeconds: positiveSeconds('the time between evaluations'),
    audit: {
      type: 'object',
      additionalProperties: false,
      expected: 'the audit: {"periodSeconds": 60, "sample": 256, "kernelSample": 256, "confirmMs": 2000}',
      properties: {
        periodSeconds: seconds('the time between audits (0: no audit)'),
        sample: { type: 'integer', minimum: 0, expected: 'internal entries looked up per audit (>= 0)' },
        kernelSample: { type: 'integer', minimum: 0, expected: 'kernel entries looked up per audit (>= 0)' },
        confirmMs: { type: 'integer', minimum: 0, expected: 'milliseconds before a difference is confirmed (>= 0)' },
      },
    },
    trackFile: {
      type: 'object',
      required: ['path'],
      additionalProperties: false,
      expected: 'the track file: {"path": "/run/ctsync/synced", "weight": 50}',
      properties: {
        path: { type: 'string', pattern: '^/', expected: 'an absolute file path' },
        weight: { type: 'integer', minimum: 1, maximum: 253, expected: 'the priority an unsynced node loses (1-253)' },
      },
    },
  },
} as const;
