// The daemon's Prometheus endpoint, started only when the configuration has a `metrics` section
// (prom-client is loaded then, not otherwise).
import type { MetricsConfig } from './config.js';
import type { MetricsFigures } from './figures.js';
import type { Logger } from '../log.js';

export interface MetricsEndpoint {
  observeCommit(seconds: number): void;
  close(): void;
}

export async function startMetricsEndpoint(
  cfg: MetricsConfig,
  figures: () => MetricsFigures,
  log: Logger,
): Promise<MetricsEndpoint> {
  const { ctsyncRegistry } = await import('./registry.js');
  const { MetricsServer } = await import('./server.js');
  const reg = ctsyncRegistry(figures);
  const server = new MetricsServer(cfg, reg.registry, (msg) => log.warn(msg));
  await server.listen();
  log.info(`metrics: Prometheus endpoint on http://${server.where()}/metrics`);
  return { observeCommit: reg.observeCommit, close: () => server.close() };
}
