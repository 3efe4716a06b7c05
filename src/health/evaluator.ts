// The health evaluator: runs every check on each new sample and tells which findings started
// and which ended since the previous sample. Pure: samples carry their time; nothing here reads
// a clock or does I/O. It keeps the samples of the longest window a check looks back.
import type { HealthThresholds } from './config.js';
import type { Finding, HealthCheck, HealthSample, HealthStatus, SampleWindow } from './finding.js';

export interface Evaluation {
  /** Every finding that holds now, in the checks' order. */
  findings: Finding[];
  started: Finding[];
  /** Findings that held at the previous sample and do not now. */
  ended: Finding[];
  status: HealthStatus;
}

export function worstStatus(findings: readonly Finding[]): HealthStatus {
  if (findings.some((f) => f.severity === 'failed')) return 'failed';
  return findings.length > 0 ? 'degraded' : 'ok';
}

export class HealthEvaluator {
  private samples: HealthSample[] = [];
  private active = new Map<string, Finding>();
  private readonly keepMs: number;

  constructor(
    private readonly checks: readonly HealthCheck[],
    private readonly thresholds: HealthThresholds,
  ) {
    this.keepMs = Math.max(0, ...checks.map((c) => c.window(thresholds))) * 1000;
  }

  evaluate(sample: HealthSample): Evaluation {
    this.samples.push(sample);
    const oldest = sample.at - this.keepMs;
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.at < oldest) drop++;
    if (drop > 0) this.samples.splice(0, drop);
    const window = this.window(sample);
    const findings: Finding[] = [];
    const started: Finding[] = [];
    const seen = new Set<string>();
    for (const check of this.checks) {
      const report = check.evaluate(window, this.thresholds);
      if (!report) continue;
      seen.add(check.name);
      const before = this.active.get(check.name);
      // a finding whose severity changes starts again (the log tells both)
      const finding: Finding =
        before && before.severity === report.severity
          ? { ...report, name: check.name, since: before.since }
          : { ...report, name: check.name, since: sample.at };
      if (!before || before.severity !== report.severity) started.push(finding);
      findings.push(finding);
    }
    const ended = [...this.active.values()].filter((f) => !seen.has(f.name));
    this.active = new Map(findings.map((f) => [f.name, f]));
    return { findings, started, ended, status: worstStatus(findings) };
  }

  private window(now: HealthSample): SampleWindow {
    const samples = this.samples;
    return {
      now,
      since(seconds: number): HealthSample {
        const from = now.at - seconds * 1000;
        for (const s of samples) if (s.at >= from) return s;
        return now;
      },
    };
  }
}
