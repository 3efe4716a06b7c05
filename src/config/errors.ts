// Problems found in a configuration, and how they are printed.
//
// One problem per line, always starting with where it is:
//   JSON config:      <source>: <key path>: <what is wrong and what was expected>
//                     ctsync.json: sync.channels[0].port: must be <= 65535, got 70000
//   conntrackd.conf:  <source>:<line>:<column>: <message naming the option>
//                     conntrackd.conf:12:3: unknown option 'Foo' in Sync > Mode FTFW
// A ConfigError carries every problem found (not just the first); its message is the problems'
// lines joined with '\n'. Warnings use the same shape and format.

export interface ConfigProblem {
  /** File name (or any label) the configuration came from. */
  readonly source: string;
  /** Key path in the native (JSON) model, e.g. `sync.channels[0].port`. */
  readonly path?: string;
  /** 1-based position in a conntrackd.conf file. */
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

export function formatProblem(p: ConfigProblem): string {
  if (p.line !== undefined) return `${p.source}:${p.line}${p.column !== undefined ? `:${p.column}` : ''}: ${p.message}`;
  if (p.path !== undefined && p.path !== '') return `${p.source}: ${p.path}: ${p.message}`;
  return `${p.source}: ${p.message}`;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` if it is close enough to be a plausible typo, else undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase());
    if (d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.min(word.length, best.length) / 3));
  return bestScore <= limit ? best : undefined;
}
