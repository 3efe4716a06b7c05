// A real Prometheus (Debian's prometheus package) scrapes both gateways of the failover lab
// (tools/lab: keepalived, ctsync with the traffic guard and signed sync datagrams, a strict
// firewall, long-lived TCP through the VIPs) during a failover, and its HTTP API shows what
// happened: every metric the daemon declares is there for both nodes, the roles flipped, the
// transition and the commit were counted, the cache sizes are the daemons' own, and the example
// alert rules load and evaluate without firing. Prometheus runs in gwB's namespace on its
// loopback and reaches gwA's endpoint over the sync link.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireRoot } from '../../helpers/netns.js';
import { PrometheusServer, type Sample } from '../../helpers/prometheus.js';
import { declaredMetrics } from '../../helpers/promql.js';
import { Lab, type LabOptions } from '../../../tools/lab/lab.js';
import { ADDR, type GwName } from '../../../tools/lab/topology.js';
import { repoRoot } from '../../../tools/lib/repo.js';

const FLOWS = 1000;
const CONNECTIONS = 3;
const JOB = 'ctsync';
const OPTIONS: LabOptions = {
  sync: true,
  connections: CONNECTIONS,
  flows: FLOWS,
  failure: 'keepalived',
  failback: false,
  ha: 'native',
  advertInt: 0.2,
  preemptDelay: 2,
  stallMs: 6000,
  holdMs: 1000,
  prefix: 'tprom',
  statusEvery: 0,
  metrics: true,
};

/** One gateway's series, as the selector of a query. */
const of = (gw: GwName, labels = ''): string => `{job="${JOB}",instance="${gw}"${labels ? `,${labels}` : ''}}`;

/** Every series of the job at one instant, with a lookup (one query: each one costs a process). */
class Snapshot {
  constructor(readonly samples: Sample[]) {}

  static async take(p: PrometheusServer): Promise<Snapshot> {
    return new Snapshot(await p.query(`{job="${JOB}"}`));
  }

  /** Names present for `gw`. */
  names(gw: GwName): Set<string> {
    return new Set(this.samples.filter((s) => s.metric.instance === gw).map((s) => s.metric.__name__!));
  }

  /** The one sample of `name` on `gw` with these labels. */
  get(gw: GwName, name: string, labels: Record<string, string> = {}): number {
    const hits = this.samples.filter(
      (s) =>
        s.metric.__name__ === name &&
        s.metric.instance === gw &&
        Object.entries(labels).every(([k, v]) => s.metric[k] === v),
    );
    assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)} on ${gw}: ${hits.length} samples`);
    return hits[0]!.value;
  }

  caches(gw: GwName): { internal: number; external: number } {
    return {
      internal: this.get(gw, 'ctsync_cache_entries', { cache: 'internal', kind: 'ct' }),
      external: this.get(gw, 'ctsync_cache_entries', { cache: 'external', kind: 'ct' }),
    };
  }
}

/**
 * Default metrics prom-client leaves out while they have nothing to count: active requests by
 * type (none while idle).
 */
const EMPTY_WHEN_IDLE = new Set(['nodejs_active_requests']);

describe('metrics: a real Prometheus scrapes the failover lab', function () {
  this.timeout(300_000);
  const lines: string[] = [];
  let lab: Lab | undefined;
  let prom: PrometheusServer | undefined;
  let dir: string | undefined;
  /** Prometheus's view before the failover (once gwB's external cache mirrors gwA's internal one) and after. */
  let beforeFailover: Snapshot;
  let afterFailover: Snapshot;
  /** The daemons' own cache sizes when Prometheus's view equalled them, before and after. */
  const own: Partial<Record<'before' | 'after', Record<GwName, { internal: number; external: number }>>> = {};

  /** Takes a snapshot once Prometheus's cache sizes equal the daemons' own and `cond` holds. */
  async function settledSnapshot(when: 'before' | 'after', cond: (s: Snapshot) => boolean): Promise<Snapshot> {
    let snap: Snapshot | undefined;
    let last = '';
    await prom!.until(
      async () => {
        const mine = { gwA: await lab!.cacheCounts('gwA'), gwB: await lab!.cacheCounts('gwB') };
        snap = await Snapshot.take(prom!);
        const seen = { gwA: snap.caches('gwA'), gwB: snap.caches('gwB') };
        last = `daemons ${JSON.stringify(mine)}, Prometheus ${JSON.stringify(seen)}`;
        own[when] = mine;
        return JSON.stringify(mine) === JSON.stringify(seen) && cond(snap);
      },
      30_000,
      `Prometheus's cache sizes to equal the daemons' (${when} the failover; last: ${last})`,
    );
    return snap!;
  }

  before(async function () {
    requireRoot.call(this, 'keepalived', 'nft', 'flock', 'prometheus');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-prom-'));
    try {
      lab = new Lab({ ...OPTIONS, print: (l) => lines.push(l) });
      await lab.setup();
      await lab.start();
      const gwA = lab.gateway('gwA');
      const gwB = lab.gateway('gwB');
      prom = await PrometheusServer.start(gwB.ns, {
        dir,
        job: JOB,
        targets: { gwA: `${gwA.syncAddr}:${ADDR.metricsPort}`, gwB: `${gwB.syncAddr}:${ADDR.metricsPort}` },
        ruleFiles: [path.join(repoRoot(), 'etc/prometheus/ctsync-alerts.yml')],
      });
      const p = prom;
      await p.until(async () => (await p.query(`up{job="${JOB}"} == 1`)).length === 2, 30_000, 'both targets up');
      beforeFailover = await settledSnapshot(
        'before',
        (s) =>
          s.get('gwA', 'ctsync_ha_role', { role: 'active' }) === 1 &&
          s.get('gwB', 'ctsync_ha_role', { role: 'backup' }) === 1 &&
          s.caches('gwA').internal === s.caches('gwB').external &&
          s.caches('gwB').external >= FLOWS,
      );
      await lab.failover();
      const commits = beforeFailover.get('gwB', 'ctsync_commits_total');
      afterFailover = await settledSnapshot(
        'after',
        (s) =>
          s.get('gwB', 'ctsync_commits_total') > commits && s.get('gwB', 'ctsync_ha_role', { role: 'active' }) === 1,
      );
    } catch (err) {
      console.log(lines.map((l) => `        ${l}`).join('\n') + (prom ? `\n        prometheus:\n${prom.log()}` : ''));
      throw err;
    }
  });

  after(async function () {
    await prom?.stop();
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has every metric the daemon declares, for both nodes', function () {
    const missing: string[] = [];
    for (const gw of ['gwA', 'gwB'] as const) {
      const names = afterFailover.names(gw);
      for (const m of declaredMetrics())
        if (!EMPTY_WHEN_IDLE.has(m.name) && !m.series.some((s) => names.has(s))) missing.push(`${m.name} on ${gw}`);
    }
    assert.deepEqual(missing, []);
  });

  it('shows the roles flipped and the transition counted', async function () {
    const [a, b] = [beforeFailover, afterFailover];
    assert.equal(b.get('gwB', 'ctsync_ha_role', { role: 'active' }), 1, 'gwB is active');
    assert.equal(b.get('gwA', 'ctsync_ha_role', { role: 'active' }), 0, 'gwA is no longer active');
    assert.equal(a.get('gwB', 'ctsync_ha_role', { role: 'backup' }), 1, 'gwB was backup');
    assert.ok(
      b.get('gwB', 'ctsync_ha_transitions_total') > a.get('gwB', 'ctsync_ha_transitions_total'),
      'gwB counted its promotion',
    );
    assert.equal(b.get('gwB', 'ctsync_ha_transition_running_seconds'), 0, 'no transition runs');
    // Prometheus's history has the flip: gwB's active series went from 0 to 1 within the test
    const flips = await prom!.value(`changes(ctsync_ha_role${of('gwB', 'role="active"')}[10m])`);
    assert.ok(flips >= 1, `gwB's role changed ${flips} times`);
  });

  it('counts the commit of the promotion: entries, no failures, its duration, the guard', function () {
    const [a, b] = [beforeFailover, afterFailover];
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      b.get('gwB', name, labels) - a.get('gwB', name, labels);
    assert.ok(delta('ctsync_commits_total') >= 1);
    const committed = delta('ctsync_commit_entries_total', { result: 'ok' });
    assert.ok(committed >= FLOWS + CONNECTIONS, `gwB committed ${committed} entries`);
    assert.equal(b.get('gwB', 'ctsync_commit_entries_total', { result: 'failed' }), 0);
    assert.ok(delta('ctsync_commit_duration_seconds_count') >= 1);
    assert.ok(delta('ctsync_guard_holds_total') >= 1, "the guard held gwB's traffic during the commit");
  });

  it("reports the daemons' own cache sizes; before the failover gwB's external cache mirrors gwA's internal one", function () {
    for (const [when, snap] of [
      ['before', beforeFailover],
      ['after', afterFailover],
    ] as const)
      for (const gw of ['gwA', 'gwB'] as const) assert.deepEqual(snap.caches(gw), own[when]![gw], `${gw} ${when}`);
    assert.equal(beforeFailover.caches('gwB').external, beforeFailover.caches('gwA').internal);
    assert.ok(beforeFailover.caches('gwA').internal >= FLOWS + CONNECTIONS);
  });

  it('shows a healthy link: peer heard, replication lag small, no loss, signed datagrams accepted', function () {
    const s = afterFailover;
    for (const gw of ['gwA', 'gwB'] as const) {
      assert.ok(s.get(gw, 'ctsync_peer_last_seen_seconds') < 10, `${gw} hears its peer`);
      assert.ok(s.get(gw, 'ctsync_replication_lag_seconds') < 10, `${gw}'s replication lag`);
      assert.equal(s.get(gw, 'ctsync_ftfw_nacks_unrecovered_total'), 0);
      assert.ok(s.get(gw, 'ctsync_auth_accepted_total') > 0, `${gw} accepted signed datagrams`);
      for (const reason of ['bad-mac', 'unknown-key', 'replay', 'no-trailer'])
        assert.equal(s.get(gw, 'ctsync_auth_failures_total', { reason }), 0, `${gw}: ${reason}`);
      assert.ok(s.get(gw, 'ctsync_ftfw_messages_sent_total', { type: 'ack' }) > 0);
      assert.ok(s.get(gw, 'process_cpu_seconds_total') > 0);
    }
    assert.ok(s.get('gwB', 'ctsync_ftfw_messages_received_total', { type: 'data' }) >= FLOWS);
  });

  it('evaluates the example alert rules on the live figures, none firing', async function () {
    const p = prom!;
    const rules = await p.api<{
      groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>;
    }>('/api/v1/rules');
    const all = rules.groups.flatMap((g) => g.rules);
    assert.ok(all.length >= 6, `${all.length} rules loaded`);
    for (const r of all) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? r.health}`);
    assert.deepEqual(await p.query('ALERTS{alertstate="firing"}'), []);
  });
});
