// Reads a running daemon's figures (engine, failover layer, commit tally) into MetricsFigures.
import type { SyncEngine } from '../engine/sync-engine.js';
import type { HaRuntime } from '../ha/runtime.js';
import type { CommitTally } from './commit-tally.js';
import { metricsFigures, type MetricsFigures } from './figures.js';

export function daemonFigures(engine: SyncEngine, ha: HaRuntime | undefined, commits: CommitTally): MetricsFigures {
  const caches: MetricsFigures['caches'] = { internal: engine.internal.size, external: engine.external.size };
  if (engine.expectations) {
    caches.internalExpect = engine.internalExpect.size;
    caches.externalExpect = engine.externalExpect.size;
  }
  return metricsFigures({
    ftfw: engine.ftfw.stats(),
    peerLastRxAt: engine.ftfw.peerLastRxAt,
    ackless: engine.ftfw.ackless,
    unackedSince: engine.ftfw.unackedSince(),
    ...(engine.channel.authCounters ? { auth: engine.channel.authCounters } : {}),
    resendQueueSize: engine.config.sync.resendQueueSize,
    channel: engine.channel.stats,
    malformed: engine.malformed,
    caches,
    overruns: engine.overruns,
    resyncs: engine.resyncs,
    commits,
    ...(ha ? { ha: ha.status() } : {}),
    now: Date.now(),
  });
}
