// The daemon's health figures in one plain, JSON-ready object: what the Prometheus endpoint
// exports and what `-s --json` / `status --json` carry. Read from the counters the daemon keeps
// anyway (the ones behind `-s`), when someone asks: nothing on the hot paths changes for them.
import type { FtFwStats } from '../sync/ftfw-types.js';
import type { ChannelStats } from '../sync/channel.js';
import type { MalformedCounters } from '../engine/reception.js';
import type { HaCounters, Role } from '../ha/machine.js';
import type { AuthCounters } from '../sync/auth-verifier.js';
import type { CommitTally } from './commit-tally.js';

export const ROLES: readonly Role[] = ['starting', 'backup', 'promoting', 'active', 'demoting', 'fault', 'stopped'];

export interface RoleFigures {
  role: Role;
  /** Transitions finished, and those among them that did not end ok. */
  transitions: number;
  transitionsNotOk: { aborted: number; degraded: number; preempted: number };
  /** How long the running transition has run, seconds; 0 when none runs. */
  transitionRunningSeconds: number;
}

export interface MetricsFigures {
  /** Absent when the failover layer is not running. */
  ha?: RoleFigures;
  /** Live entries per cache; the expectation caches only with ExpectationSync on. */
  caches: { internal: number; external: number; internalExpect?: number; externalExpect?: number };
  ftfw: {
    sent: { data: number; ack: number; nack: number; resync: number; alive: number };
    received: { data: number; ack: number; nack: number; resync: number; alive: number };
    /** Messages sent again, by why. */
    resent: { nack: number; hole: number; timeout: number; handshake: number; regression: number };
    /** Sequence numbers missing at gaps in what the peer sent (exact count). */
    lost: number;
    /** NACKs from the peer asking for messages no longer held: not recoverable by a resend (a bulk follows). */
    unrecovered: number;
    /** Resend queue entries dropped because the queue was full. */
    evicted: number;
    resendQueue: { length: number; capacity: number };
    txQueue: number;
  };
  /** Seconds since the last message from the peer; undefined before the first. */
  peerLastSeenSeconds: number | undefined;
  /**
   * The replication lag probe, seconds: how long the oldest update the peer has not acknowledged
   * has waited since it was first sent (the peer's acknowledged copy is complete up to then); 0
   * when the peer has acknowledged everything sent. Undefined in NOTRACK (no acknowledgements).
   */
  replicationLagSeconds: number | undefined;
  overruns: number;
  resyncs: number;
  commits: CommitTally;
  /** Absent without a configured guard. */
  guard?: { holds: number; droppedPackets: number };
  /** Datagrams dropped unread or unusable, by reason. */
  malformed: Record<
    'truncated' | 'badSize' | 'badVersion' | 'badHeader' | 'badType' | 'badPayload' | 'foreign',
    number
  >;
  /** Sync authentication's verdicts (forged, stale or replayed datagrams); absent without authentication. */
  auth?: AuthCounters;
}

/** What the figures are read from: the engine's counters and the failover layer's status. */
export interface FigureSources {
  ftfw: FtFwStats;
  /** FT-FW's time of the last message from the peer (ms since the epoch; -Infinity before one). */
  peerLastRxAt: number;
  /** The sync mode has no acknowledgements (NOTRACK): no replication lag. */
  ackless: boolean;
  /** FT-FW's time of the first transmission of the oldest object the peer has not acknowledged. */
  unackedSince: number | undefined;
  /** The channel's authentication counters, with authentication configured. */
  auth?: AuthCounters;
  resendQueueSize: number;
  channel: ChannelStats;
  malformed: MalformedCounters;
  caches: MetricsFigures['caches'];
  overruns: number;
  resyncs: number;
  commits: CommitTally;
  ha?: {
    role: Role;
    counters: HaCounters;
    current?: { startedAt: number };
    guard: { enabled: boolean; holds?: number; droppedPackets?: number };
  };
  /** ms since the epoch. */
  now: number;
}

function roleFigures(ha: NonNullable<FigureSources['ha']>, now: number): RoleFigures {
  const c = ha.counters;
  return {
    role: ha.role,
    transitions: c.transitions,
    transitionsNotOk: { aborted: c.aborted, degraded: c.degraded, preempted: c.preempted },
    transitionRunningSeconds: ha.current ? Math.max(0, now - ha.current.startedAt) / 1000 : 0,
  };
}

function replicationLag(s: FigureSources): number | undefined {
  if (s.ackless) return undefined;
  return s.unackedSince === undefined ? 0 : Math.max(0, s.now - s.unackedSince) / 1000;
}

export function metricsFigures(s: FigureSources): MetricsFigures {
  const f = s.ftfw;
  const m = s.malformed;
  const out: MetricsFigures = {
    caches: { ...s.caches },
    ftfw: {
      sent: { data: f.dataSent, ack: f.ackSent, nack: f.nackSent, resync: f.resyncSent, alive: f.aliveSent },
      received: {
        data: f.dataReceived,
        ack: f.ackReceived,
        nack: f.nackReceived,
        resync: f.resyncReceived,
        alive: f.aliveReceived,
      },
      resent: {
        nack: f.nackRetransmits,
        hole: f.holeRetransmits,
        timeout: f.timeoutRetransmits,
        handshake: f.helloReplays,
        regression: f.regressionRetransmits,
      },
      lost: f.lostExact,
      unrecovered: f.unservableNacks,
      evicted: f.rsEvicted,
      resendQueue: { length: f.rsQueueLen, capacity: s.resendQueueSize },
      txQueue: f.txQueueLen,
    },
    peerLastSeenSeconds: Number.isFinite(s.peerLastRxAt) ? Math.max(0, s.now - s.peerLastRxAt) / 1000 : undefined,
    replicationLagSeconds: replicationLag(s),
    overruns: s.overruns,
    resyncs: s.resyncs,
    commits: { ...s.commits },
    malformed: {
      truncated: m.truncated,
      badSize: m.badSize,
      badVersion: m.badVersion,
      badHeader: m.badHeader,
      badType: m.badType,
      badPayload: m.badPayload,
      foreign: s.channel.foreign,
    },
  };
  if (s.auth) out.auth = { accepted: s.auth.accepted, failed: { ...s.auth.failed }, dropped: s.auth.dropped };
  if (s.ha) {
    out.ha = roleFigures(s.ha, s.now);
    const g = s.ha.guard;
    if (g.enabled) out.guard = { holds: g.holds ?? 0, droppedPackets: g.droppedPackets ?? 0 };
  }
  return out;
}
