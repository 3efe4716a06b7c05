// The example Grafana dashboard (etc/grafana/ctsync-dashboard.json): every PromQL expression in
// it (panel queries, template variables) names only metrics the daemon's registry declares, every
// ctsync metric has a panel, and promtool parses every expression.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireCommands } from '../../helpers/netns.js';
import { declaredMetrics, exportedMetricNames, metricNamesIn } from '../../helpers/promql.js';
import { repoRoot } from '../../../tools/lib/repo.js';

const FILE = path.join(repoRoot(), 'etc/grafana/ctsync-dashboard.json');

interface Panel {
  title?: string;
  type: string;
  panels?: Panel[];
  targets?: Array<{ expr?: string }>;
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboard = (): Dashboard => JSON.parse(fs.readFileSync(FILE, 'utf8')) as Dashboard;

/** Every panel, those inside collapsed rows included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Each PromQL expression with where it is: panel queries, and the series of label_values(). */
function expressions(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const p of allPanels(d.panels)) {
    if (p.type === 'row') continue;
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr ?? '' });
  }
  for (const v of d.templating.list.filter((v) => v.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const series = /^label_values\((.+),\s*\w+\)$/.exec(q.trim())?.[1];
    assert.ok(series, `variable $${v.name}: expected label_values(series, label), found ${q}`);
    out.push({ where: `variable $${v.name}`, expr: series });
  }
  return out;
}

/** Grafana's variables replaced by values PromQL accepts. */
const withoutVariables = (expr: string): string =>
  expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, 'x');

describe('metrics: example Grafana dashboard (etc/grafana)', () => {
  it('every panel queries something', () => {
    for (const p of allPanels(dashboard().panels).filter((p) => p.type !== 'row'))
      assert.ok(
        (p.targets ?? []).some((t) => t.expr?.trim()),
        `panel "${p.title}" has no query`,
      );
  });

  it('its expressions name only metrics the daemon exports', () => {
    const exported = exportedMetricNames();
    for (const { where, expr } of expressions(dashboard())) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${where}: no metric found in ${expr}`);
      for (const n of names) assert.ok(exported.has(n), `${where}: ${n} is not a metric ctsync exports`);
    }
  });

  it('shows every ctsync metric', () => {
    const shown = new Set(expressions(dashboard()).flatMap(({ expr }) => metricNamesIn(expr)));
    const missing = declaredMetrics()
      .filter((m) => m.name.startsWith('ctsync_') && !m.series.some((s) => shown.has(s)))
      .map((m) => m.name);
    assert.deepEqual(missing, [], 'ctsync metrics without a panel');
  });

  it('promtool parses every expression', function () {
    requireCommands.call(this, 'promtool');
    const exprs = expressions(dashboard());
    // as recording rules of a scratch rule file: `promtool check rules` parses each expression
    const rules = exprs.map(
      (e, i) => `      - record: dashboard:expr${i}\n        expr: ${JSON.stringify(withoutVariables(e.expr))}`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-dashboard-'));
    try {
      const file = path.join(dir, 'dashboard-rules.yml');
      fs.writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
