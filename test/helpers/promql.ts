// What the example rules and dashboard may name: the daemon's metrics as its registry declares
// them (ctsync's and prom-client's default process metrics), and the metric names a PromQL
// expression uses.
import { ctsyncRegistry } from '../../src/metrics/registry.js';

/** Series Prometheus makes itself for every target. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/**
 * Every series name the daemon's endpoint can carry: each declared metric, with `_bucket`,
 * `_sum` and `_count` for a histogram and `_sum` and `_count` for a summary; plus Prometheus's
 * own per-target series.
 */
export function exportedMetricNames(): Set<string> {
  const names = new Set<string>(SCRAPE_SERIES);
  for (const m of declaredMetrics()) for (const s of m.series) names.add(s);
  return names;
}

/** The metrics the daemon's registry declares: name, and the series names each one has. */
export function declaredMetrics(): Array<{ name: string; series: string[] }> {
  const { registry } = ctsyncRegistry(() => {
    throw new Error('the names are read without a scrape');
  });
  return registry.getMetricsAsArray().map((m) => {
    const type = String(m.type);
    const suffixes =
      type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    return { name: m.name, series: suffixes.map((s) => m.name + s) };
  });
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names `expr` uses. A light reading of PromQL (no full parser): strings, label
 * matchers, ranges, grouping label lists, Grafana variables and numbers are removed; what is left
 * of the identifiers, apart from keywords and function names (an identifier before `(`), names
 * metrics.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\b\d[\w.]*/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}
