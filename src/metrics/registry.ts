// The Prometheus registry: every ctsync metric is read from a MetricsFigures snapshot when
// Prometheus scrapes (collect() callbacks), so the daemon's hot paths do nothing for metrics.
// Only the commit duration histogram is fed as commits end (they are rare).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ROLES, type MetricsFigures } from './figures.js';

/** Commit durations, seconds: a few entries take milliseconds, hundreds of thousands seconds. */
export const COMMIT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Read = () => MetricsFigures;
type LabelledValues = Array<[Record<string, string>, number]>;

type Values = (f: MetricsFigures) => LabelledValues;

/** A gauge or counter whose series are all set from the snapshot at each scrape. */
function declare(
  kind: 'gauge' | 'counter',
  reg: Registry,
  name: string,
  help: string,
  labelNames: string[],
  values: Values,
  read: Read,
): void {
  const fill = (m: Gauge | Counter, put: (labels: Record<string, string>, v: number) => void): void => {
    m.reset();
    m.remove({}); // an unlabelled series would read 0 when the figure does not exist
    for (const [labels, v] of values(read())) put(labels, v);
  };
  const opts = { name, help, labelNames, registers: [reg] };
  if (kind === 'gauge')
    new Gauge({
      ...opts,
      collect() {
        fill(this, (l, v) => this.set(l, v));
      },
    });
  else
    new Counter({
      ...opts,
      collect() {
        fill(this, (l, v) => this.inc(l, v));
      },
    });
}

const gauge = (reg: Registry, name: string, help: string, labelNames: string[], values: Values, read: Read): void =>
  declare('gauge', reg, name, help, labelNames, values, read);
const counter = (reg: Registry, name: string, help: string, labelNames: string[], values: Values, read: Read): void =>
  declare('counter', reg, name, help, labelNames, values, read);

const one = (v: number | undefined): LabelledValues => (v === undefined ? [] : [[{}, v]]);
const byLabel = (label: string, o: Record<string, number>): LabelledValues =>
  Object.entries(o).map(([k, v]) => [{ [label]: k }, v]);

function haMetrics(reg: Registry, read: Read): void {
  gauge(
    reg,
    'ctsync_ha_role',
    "The node's failover role: 1 for the current role, 0 for the others.",
    ['role'],
    (f) => (f.ha ? ROLES.map((r) => [{ role: r }, f.ha?.role === r ? 1 : 0]) : []),
    read,
  );
  counter(
    reg,
    'ctsync_ha_transitions_total',
    'Failover transitions finished.',
    [],
    (f) => one(f.ha?.transitions),
    read,
  );
  counter(
    reg,
    'ctsync_ha_transitions_not_ok_total',
    'Failover transitions that did not end ok, by result.',
    ['result'],
    (f) => (f.ha ? byLabel('result', f.ha.transitionsNotOk) : []),
    read,
  );
  gauge(
    reg,
    'ctsync_ha_transition_running_seconds',
    'How long the running failover transition has run (0: none runs).',
    [],
    (f) => one(f.ha?.transitionRunningSeconds),
    read,
  );
  counter(reg, 'ctsync_guard_holds_total', 'Traffic guard holds released.', [], (f) => one(f.guard?.holds), read);
  counter(
    reg,
    'ctsync_guard_held_packets_total',
    'Packets the traffic guard dropped while a commit ran.',
    [],
    (f) => one(f.guard?.droppedPackets),
    read,
  );
}

function cacheMetrics(reg: Registry, read: Read): void {
  gauge(
    reg,
    'ctsync_cache_entries',
    'Live entries in a cache.',
    ['cache', 'kind'],
    (f) => {
      const c = f.caches;
      const v: LabelledValues = [
        [{ cache: 'internal', kind: 'ct' }, c.internal],
        [{ cache: 'external', kind: 'ct' }, c.external],
      ];
      if (c.internalExpect !== undefined) v.push([{ cache: 'internal', kind: 'expect' }, c.internalExpect]);
      if (c.externalExpect !== undefined) v.push([{ cache: 'external', kind: 'expect' }, c.externalExpect]);
      return v;
    },
    read,
  );
  counter(
    reg,
    'ctsync_kernel_event_overruns_total',
    'Kernel event socket overruns (events lost, a resync follows).',
    [],
    (f) => one(f.overruns),
    read,
  );
  counter(
    reg,
    'ctsync_kernel_resyncs_total',
    'Reloads of the internal cache from a kernel dump.',
    [],
    (f) => one(f.resyncs),
    read,
  );
}

function ftfwMetrics(reg: Registry, read: Read): void {
  counter(
    reg,
    'ctsync_ftfw_messages_sent_total',
    'FT-FW messages sent, by type.',
    ['type'],
    (f) => byLabel('type', f.ftfw.sent),
    read,
  );
  counter(
    reg,
    'ctsync_ftfw_messages_received_total',
    'FT-FW messages received, by type.',
    ['type'],
    (f) => byLabel('type', f.ftfw.received),
    read,
  );
  counter(
    reg,
    'ctsync_ftfw_messages_resent_total',
    'FT-FW messages sent again, by why.',
    ['reason'],
    (f) => byLabel('reason', f.ftfw.resent),
    read,
  );
  counter(
    reg,
    'ctsync_ftfw_messages_lost_total',
    'Sequence numbers missing in what the peer sent.',
    [],
    (f) => one(f.ftfw.lost),
    read,
  );
  counter(
    reg,
    'ctsync_ftfw_nacks_unrecovered_total',
    'NACKs from the peer for messages no longer held (not recoverable by a resend).',
    [],
    (f) => one(f.ftfw.unrecovered),
    read,
  );
  counter(
    reg,
    'ctsync_ftfw_resend_queue_evictions_total',
    'Resend queue entries dropped because the queue was full.',
    [],
    (f) => one(f.ftfw.evicted),
    read,
  );
}

function queueMetrics(reg: Registry, read: Read): void {
  gauge(
    reg,
    'ctsync_ftfw_resend_queue_messages',
    "Messages in the resend queue, waiting for the peer's ACK.",
    [],
    (f) => one(f.ftfw.resendQueue.length),
    read,
  );
  gauge(
    reg,
    'ctsync_ftfw_resend_queue_capacity_messages',
    'Size of the resend queue (ResendQueueSize).',
    [],
    (f) => one(f.ftfw.resendQueue.capacity),
    read,
  );
  gauge(
    reg,
    'ctsync_ftfw_tx_queue_messages',
    'Messages waiting for the next transmit pass.',
    [],
    (f) => one(f.ftfw.txQueue),
    read,
  );
  gauge(
    reg,
    'ctsync_peer_last_seen_seconds',
    'Seconds since the last message from the peer (absent before the first).',
    [],
    (f) => one(f.peerLastSeenSeconds),
    read,
  );
  gauge(
    reg,
    'ctsync_replication_lag_seconds',
    'How long the oldest update the peer has not acknowledged has waited since first sent (0: all acknowledged).',
    [],
    (f) => one(f.replicationLagSeconds),
    read,
  );
  counter(
    reg,
    'ctsync_datagrams_dropped_total',
    'Datagrams dropped as malformed or from a stranger, by reason.',
    ['reason'],
    (f) => byLabel('reason', f.malformed),
    read,
  );
}

function authMetrics(reg: Registry, read: Read): void {
  counter(
    reg,
    'ctsync_auth_accepted_total',
    'Sync datagrams with a valid, fresh authentication trailer.',
    [],
    (f) => one(f.auth?.accepted),
    read,
  );
  counter(
    reg,
    'ctsync_auth_failures_total',
    'Sync datagrams that failed authentication (forged, unsigned, stale, replayed), by reason.',
    ['reason'],
    (f) => (f.auth ? byLabel('reason', f.auth.failed) : []),
    read,
  );
  counter(
    reg,
    'ctsync_auth_dropped_total',
    'Sync datagrams dropped for failing authentication (the mode decides which failures pass).',
    [],
    (f) => one(f.auth?.dropped),
    read,
  );
}

function commitMetrics(reg: Registry, read: Read): Histogram {
  counter(
    reg,
    'ctsync_commits_total',
    'Commits of the external cache into the kernel.',
    [],
    (f) => one(f.commits.commits),
    read,
  );
  counter(
    reg,
    'ctsync_commit_entries_total',
    'Entries committed into the kernel, by result.',
    ['result'],
    (f) => [
      [{ result: 'ok' }, f.commits.entriesCommitted],
      [{ result: 'failed' }, f.commits.entriesFailed],
    ],
    read,
  );
  return new Histogram({
    name: 'ctsync_commit_duration_seconds',
    help: 'How long commits of the external cache took.',
    buckets: COMMIT_BUCKETS,
    registers: [reg],
  });
}

export interface CtsyncRegistry {
  registry: Registry;
  /** Called as each commit ends. */
  observeCommit(seconds: number): void;
}

/**
 * A registry of ctsync's metrics read from `figures` (called once per scrape), plus
 * prom-client's default process metrics (`defaultMetrics` false leaves them out: tests).
 */
export function ctsyncRegistry(figures: () => MetricsFigures, defaultMetrics = true): CtsyncRegistry {
  const registry = new Registry();
  // one snapshot per scrape: every collect() of the same scrape runs before the next macrotask
  let snapshot: MetricsFigures | undefined;
  const read: Read = () => {
    if (!snapshot) {
      snapshot = figures();
      setImmediate(() => (snapshot = undefined));
    }
    return snapshot;
  };
  haMetrics(registry, read);
  cacheMetrics(registry, read);
  ftfwMetrics(registry, read);
  queueMetrics(registry, read);
  authMetrics(registry, read);
  const commitDuration = commitMetrics(registry, read);
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  return { registry, observeCommit: (s) => commitDuration.observe(s) };
}
