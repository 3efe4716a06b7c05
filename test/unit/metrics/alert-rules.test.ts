// The example alerting rules (etc/prometheus/ctsync-alerts.yml) under the real promtool: they
// load, their unit tests (ctsync-alerts.test.yml) pass, every rule has a case where it fires and
// one where it does not, and those cases notice a rule that never fires. The rules name only
// metrics the daemon exports.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { requireCommands } from '../../helpers/netns.js';
import { repoRoot } from '../../../tools/lib/repo.js';
import { exportedMetricNames, metricNamesIn } from '../../helpers/promql.js';

const DIR = path.join(repoRoot(), 'etc/prometheus');
const RULES = 'ctsync-alerts.yml';
const TESTS = 'ctsync-alerts.test.yml';

interface Rule {
  alert: string;
  expr: string;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface TestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

const readYaml = <T>(file: string): T => yaml.load(fs.readFileSync(path.join(DIR, file), 'utf8')) as T;
const rules = (): Rule[] => readYaml<RuleFile>(RULES).groups.flatMap((g) => g.rules);

function promtool(args: string[], cwd: string): { ok: boolean; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe('metrics: example Prometheus alerting rules (etc/prometheus)', function () {
  this.timeout(120_000);
  before(function () {
    requireCommands.call(this, 'promtool');
  });

  it('promtool check rules: they load', () => {
    const r = promtool(['check', 'rules', RULES], DIR);
    assert.ok(r.ok, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${rules().length} rules found`));
  });

  it('promtool test rules: their unit tests pass', () => {
    const r = promtool(['test', 'rules', TESTS], DIR);
    assert.ok(r.ok, r.out);
  });

  it('every rule has a case where it fires and one where it does not', () => {
    const cases = readYaml<TestFile>(TESTS).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of rules()) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert}: no case where it fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert}: no case where it does not fire`,
      );
    }
  });

  it('the unit tests fail when any one rule never fires', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-alerts-'));
    try {
      fs.copyFileSync(path.join(DIR, TESTS), path.join(scratch, TESTS));
      const original = readYaml<RuleFile>(RULES);
      for (const { alert } of rules()) {
        const mutant = structuredClone(original);
        for (const g of mutant.groups) for (const r of g.rules) if (r.alert === alert) r.expr = `(${r.expr}) > +Inf`;
        fs.writeFileSync(path.join(scratch, RULES), yaml.dump(mutant));
        assert.ok(!promtool(['test', 'rules', TESTS], scratch).ok, `${alert} never firing goes unnoticed`);
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('they name only metrics the daemon exports', () => {
    const exported = exportedMetricNames();
    for (const { alert, expr } of rules()) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${alert}: no metric found in ${expr}`);
      for (const n of names) assert.ok(exported.has(n), `${alert}: ${n} is not a metric ctsync exports`);
    }
  });
});
