import assert from 'node:assert/strict';
import { ctsyncRegistry } from '../../../src/metrics/registry.js';
import { metricsFigures, type FigureSources, type MetricsFigures } from '../../../src/metrics/figures.js';
import { parseExposition } from '../../helpers/metrics.js';
import { newCommitTally } from '../../../src/metrics/commit-tally.js';
import { newCounters, type FtFwStats } from '../../../src/sync/ftfw-types.js';

function sources(): FigureSources {
  const ftfw: FtFwStats = {
    ...newCounters(),
    dataSent: 10,
    ackReceived: 4,
    nackRetransmits: 3,
    lostExact: 2,
    unservableNacks: 1,
    rsQueueLen: 7,
    txQueueLen: 0,
    hello: 'done',
    nextSeq: 11,
    lastSeqReceived: 5,
  };
  return {
    ftfw,
    peerLastRxAt: 1_000_000,
    ackless: false,
    unackedSince: 1_001_500,
    auth: {
      accepted: 40,
      failed: {
        'no-trailer': 0,
        malformed: 1,
        'unknown-key': 0,
        'bad-mac': 5,
        stale: 0,
        replay: 2,
        'not-encrypted': 0,
      },
      dropped: 8,
    },
    resendQueueSize: 131072,
    channel: {
      bytesSent: 0,
      packetsSent: 0,
      bytesReceived: 0,
      packetsReceived: 0,
      sendErrors: 0,
      receiveErrors: 0,
      foreign: 6,
    },
    malformed: { total: 1, truncated: 1, badSize: 0, badVersion: 0, badHeader: 0, badType: 0, badPayload: 0 },
    caches: { internal: 100, external: 50 },
    overruns: 2,
    resyncs: 3,
    commits: {
      ...newCommitTally(),
      commits: 1,
      entriesCommitted: 50,
      entriesFailed: 2,
      secondsTotal: 0.2,
      lastSeconds: 0.2,
    },
    ha: {
      role: 'active',
      counters: {
        requests: 2,
        transitions: 2,
        noops: 0,
        collapsed: 0,
        superseded: 0,
        preempted: 0,
        aborted: 0,
        degraded: 1,
        refused: 0,
      },
      current: { startedAt: 1_002_000 },
      guard: { enabled: true, holds: 1, droppedPackets: 9 },
    },
    now: 1_004_500,
  };
}

/** `name{labels} value` lines of the exposition, without comments. */
async function samples(figures: () => MetricsFigures): Promise<Map<string, number>> {
  const { registry, observeCommit } = ctsyncRegistry(figures, false);
  observeCommit(0.2);
  return parseExposition(await registry.metrics());
}

describe('metrics: registry', () => {
  it('exports every figure under its Prometheus name', async () => {
    const s = await samples(() => metricsFigures(sources()));
    const want: Array<[string, number]> = [
      ['ctsync_ha_role{role="active"}', 1],
      ['ctsync_ha_role{role="backup"}', 0],
      ['ctsync_ha_transitions_total', 2],
      ['ctsync_ha_transitions_not_ok_total{result="degraded"}', 1],
      ['ctsync_ha_transition_running_seconds', 2.5],
      ['ctsync_guard_holds_total', 1],
      ['ctsync_guard_held_packets_total', 9],
      ['ctsync_cache_entries{cache="internal",kind="ct"}', 100],
      ['ctsync_cache_entries{cache="external",kind="ct"}', 50],
      ['ctsync_kernel_event_overruns_total', 2],
      ['ctsync_kernel_resyncs_total', 3],
      ['ctsync_ftfw_messages_sent_total{type="data"}', 10],
      ['ctsync_ftfw_messages_received_total{type="ack"}', 4],
      ['ctsync_ftfw_messages_resent_total{reason="nack"}', 3],
      ['ctsync_ftfw_messages_lost_total', 2],
      ['ctsync_ftfw_nacks_unrecovered_total', 1],
      ['ctsync_ftfw_resend_queue_messages', 7],
      ['ctsync_ftfw_resend_queue_capacity_messages', 131072],
      ['ctsync_peer_last_seen_seconds', 4.5],
      ['ctsync_replication_lag_seconds', 3],
      ['ctsync_auth_accepted_total', 40],
      ['ctsync_auth_failures_total{reason="bad-mac"}', 5],
      ['ctsync_auth_failures_total{reason="replay"}', 2],
      ['ctsync_auth_dropped_total', 8],
      ['ctsync_datagrams_dropped_total{reason="truncated"}', 1],
      ['ctsync_datagrams_dropped_total{reason="foreign"}', 6],
      ['ctsync_commits_total', 1],
      ['ctsync_commit_entries_total{result="ok"}', 50],
      ['ctsync_commit_entries_total{result="failed"}', 2],
      ['ctsync_commit_duration_seconds_bucket{le="0.25"}', 1],
      ['ctsync_commit_duration_seconds_bucket{le="0.1"}', 0],
      ['ctsync_commit_duration_seconds_count', 1],
    ];
    for (const [name, value] of want) assert.equal(s.get(name), value, name);
  });

  it('leaves out what does not exist yet: no failover layer, no guard, no peer heard, no authentication', async () => {
    const src = sources();
    delete src.ha;
    delete src.auth;
    src.peerLastRxAt = -Infinity;
    const s = await samples(() => metricsFigures(src));
    const names = [...s.keys()];
    for (const absent of ['ctsync_ha_role', 'ctsync_guard_', 'ctsync_peer_last_seen_seconds', 'ctsync_auth_'])
      assert.ok(!names.some((n) => n.startsWith(absent)), absent);
    assert.equal(s.get('ctsync_ftfw_messages_lost_total'), 2);
  });

  it('replication lag: 0 when all is acknowledged, absent in NOTRACK (no acknowledgements)', async () => {
    const src = sources();
    src.unackedSince = undefined;
    assert.equal((await samples(() => metricsFigures(src))).get('ctsync_replication_lag_seconds'), 0);
    src.ackless = true;
    assert.ok(!(await samples(() => metricsFigures(src))).has('ctsync_replication_lag_seconds'));
  });

  it('reads the figures once per scrape and again at the next', async () => {
    let reads = 0;
    const { registry } = ctsyncRegistry(() => {
      reads++;
      return metricsFigures(sources());
    }, false);
    await registry.metrics();
    assert.equal(reads, 1);
    await new Promise((r) => setImmediate(r));
    await registry.metrics();
    assert.equal(reads, 2);
  });

  it('adds the default process metrics when asked', async () => {
    const { registry } = ctsyncRegistry(() => metricsFigures(sources()));
    const text = await registry.metrics();
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.match(text, /^nodejs_heap_size_used_bytes /m);
  });
});
