import { strict as assert } from 'node:assert';
import { HealthEvaluator, worstStatus } from '../../../src/health/evaluator.js';
import { HEALTH_CHECKS } from '../../../src/health/checks/index.js';
import type { HealthCheck } from '../../../src/health/finding.js';
import { T, sample } from '../../helpers/health-samples.js';

describe('health/evaluator', () => {
  it('reports nothing for a quiet, synced node', () => {
    const ev = new HealthEvaluator(HEALTH_CHECKS, T).evaluate(sample(1000));
    assert.deepEqual(ev, { findings: [], started: [], ended: [], status: 'ok' });
  });

  it('tells a finding once when it starts, keeps its start time, and tells when it ends', () => {
    const ev = new HealthEvaluator(HEALTH_CHECKS, T);
    ev.evaluate(sample(0));
    const silent = { peerLastRxAt: 0 };
    const a = ev.evaluate(sample(11_000, silent));
    assert.deepEqual(
      a.started.map((f) => [f.name, f.since]),
      [['peer-silent', 11_000]],
    );
    assert.equal(a.status, 'degraded');
    const b = ev.evaluate(sample(12_000, silent));
    assert.deepEqual(b.started, []);
    assert.equal(b.findings[0]?.since, 11_000);
    const c = ev.evaluate(sample(13_000));
    assert.deepEqual(
      c.ended.map((f) => f.name),
      ['peer-silent'],
    );
    assert.equal(c.status, 'ok');
  });

  it('restarts a finding whose severity changes, and the worst severity is the status', () => {
    let severity: 'degraded' | 'failed' = 'degraded';
    const check: HealthCheck = {
      name: 'x',
      window: () => 0,
      evaluate: () => ({ severity, message: severity }),
    };
    const ev = new HealthEvaluator([check], T);
    assert.equal(ev.evaluate(sample(0)).started.length, 1);
    severity = 'failed';
    const r = ev.evaluate(sample(1000));
    assert.deepEqual(
      r.started.map((f) => [f.severity, f.since]),
      [['failed', 1000]],
    );
    assert.equal(r.status, 'failed');
    assert.equal(worstStatus([]), 'ok');
  });

  it('keeps the samples of the longest window and gives a check the oldest within its own', () => {
    const seen: number[] = [];
    const check: HealthCheck = {
      name: 'x',
      window: () => 10,
      evaluate: (w) => {
        seen.push(w.since(5).at, w.since(10).at);
        return undefined;
      },
    };
    const ev = new HealthEvaluator([check], T);
    for (let t = 0; t <= 20_000; t += 1000) ev.evaluate(sample(t));
    assert.deepEqual(seen.slice(-2), [15_000, 10_000]);
  });
});
