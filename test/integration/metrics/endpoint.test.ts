// The Prometheus endpoint of a real daemon pair: replication, a commit and the peer's silence
// show in the figures scraped over HTTP from the peer's namespace.
import { strict as assert } from 'node:assert';
import { SyncPair, mixedFlows } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { enableMetrics, httpGet, scrape } from '../../helpers/metrics.js';

const A_METRICS = 'http://192.0.2.1:9469/metrics';
const B_METRICS = 'http://192.0.2.2:9469/metrics';
const FLOWS = 300;

describe('metrics: Prometheus endpoint of a running daemon', function () {
  this.timeout(180_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('metrics', { impl: 'ctsync' }, { impl: 'ctsync' });
    enableMetrics(pair.a, '192.0.2.1', 9469);
    enableMetrics(pair.b, '192.0.2.2', 9469);
    await pair.b.start();
    await pair.a.start();
    await pair.a.settled();
    await pair.b.settled();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('serves the figures of replication on both nodes', async function () {
    await pair.load(pair.a, mixedFlows(FLOWS));
    await pair.converge(pair.a, pair.b);
    const a = await scrape(pair.b.ns, A_METRICS);
    const b = await scrape(pair.a.ns, B_METRICS);
    assert.equal(a.get('ctsync_cache_entries{cache="internal",kind="ct"}'), FLOWS);
    assert.equal(b.get('ctsync_cache_entries{cache="external",kind="ct"}'), FLOWS);
    assert.ok(a.get('ctsync_ftfw_messages_sent_total{type="data"}')! >= FLOWS);
    assert.ok(b.get('ctsync_ftfw_messages_received_total{type="data"}')! >= FLOWS);
    assert.ok(a.get('ctsync_ftfw_messages_received_total{type="ack"}')! >= 1);
    assert.equal(b.get('ctsync_ftfw_messages_lost_total'), 0);
    assert.equal(b.get('ctsync_ftfw_nacks_unrecovered_total'), 0);
    assert.ok(b.get('ctsync_peer_last_seen_seconds')! < 10);
    // the ACK timer releases what was sent within about a second (docs/ftfw-protocol.md §9.6)
    assert.ok(a.get('ctsync_replication_lag_seconds')! < 10, `lag ${a.get('ctsync_replication_lag_seconds')}`);
    assert.ok(!a.has('ctsync_auth_accepted_total'), 'no authentication configured');
    assert.equal([...a.keys()].filter((k) => k.startsWith('ctsync_ha_role{') && a.get(k) === 1).length, 1, 'one role');
    assert.ok(a.has('process_cpu_seconds_total') && a.has('nodejs_heap_size_used_bytes'), 'default metrics');
  });

  it('counts a commit: entries, duration histogram', async function () {
    const r = await pair.b.client(['-c']);
    assert.equal(r.exitCode, 0, r.stderr);
    const b = await scrape(pair.a.ns, B_METRICS);
    assert.equal(b.get('ctsync_commits_total'), 1);
    assert.equal(b.get('ctsync_commit_entries_total{result="ok"}'), FLOWS);
    assert.equal(b.get('ctsync_commit_entries_total{result="failed"}'), 0);
    assert.equal(b.get('ctsync_commit_duration_seconds_count'), 1);
    assert.equal(b.get('ctsync_commit_duration_seconds_bucket{le="+Inf"}'), 1);
  });

  it('`-s --json` and `status --json` carry the same figures', async function () {
    const b = await scrape(pair.a.ns, B_METRICS);
    type Figures = { caches: { external: number }; commits: { commits: number; entriesCommitted: number } };
    const stats = await pair.b.client(['-s', '--json']);
    assert.equal(stats.exitCode, 0, stats.stderr);
    const fromStats = (JSON.parse(stats.stdout) as { metrics: Figures }).metrics;
    const status = await pair.b.client(['status', '--json']);
    assert.equal(status.exitCode, 0, status.stderr);
    const fromStatus = (JSON.parse(status.stdout) as { metrics: Figures }).metrics;
    for (const f of [fromStats, fromStatus]) {
      assert.equal(f.commits.commits, b.get('ctsync_commits_total'));
      assert.equal(f.commits.entriesCommitted, b.get('ctsync_commit_entries_total{result="ok"}'));
      assert.equal(f.caches.external, b.get('ctsync_cache_entries{cache="external",kind="ct"}'));
    }
  });

  it('answers only GET /metrics', async function () {
    const other = await httpGet(pair.a.ns, 'http://192.0.2.2:9469/');
    assert.equal(other.status, 404);
    const ok = await httpGet(pair.a.ns, B_METRICS);
    assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
  });

  it('shows the peer going silent', async function () {
    const before = (await scrape(pair.a.ns, B_METRICS)).get('ctsync_peer_last_seen_seconds')!;
    await pair.a.kill();
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await scrape(pair.a.ns, B_METRICS)).get('ctsync_peer_last_seen_seconds')!;
    assert.ok(after >= 2.5 && after > before, `last seen ${before} s, then ${after} s`);
  });
});
