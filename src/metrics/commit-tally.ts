// What the daemon's commits added up to since it started: read by the Prometheus endpoint and by
// `-s --json`. Commits are rare (a promotion, a manual -c), so they are counted as they end.
import type { EngineCommitResult } from '../engine/sync-engine.js';

export interface CommitTally {
  /** Commits run (conntrack part; one per -c or promotion). */
  commits: number;
  entriesCommitted: number;
  entriesFailed: number;
  /** Sum of the commits' durations, seconds. */
  secondsTotal: number;
  /** The latest commit's duration, seconds (undefined before the first). */
  lastSeconds: number | undefined;
}

export function newCommitTally(): CommitTally {
  return { commits: 0, entriesCommitted: 0, entriesFailed: 0, secondsTotal: 0, lastSeconds: undefined };
}

/** Adds one commit's result (expectations included) to the tally. */
export function tallyCommit(t: CommitTally, r: EngineCommitResult): void {
  t.commits++;
  t.entriesCommitted += r.committed + (r.expect?.committed ?? 0);
  t.entriesFailed += r.failed.length + (r.expect?.failed.length ?? 0);
  const seconds = r.seconds + (r.expect?.seconds ?? 0);
  t.secondsTotal += seconds;
  t.lastSeconds = seconds;
}
