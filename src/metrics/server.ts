// The Prometheus endpoint: GET /metrics on the address the `metrics` section names.
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from './config.js';

export class MetricsServer {
  private readonly server: http.Server;

  constructor(
    private readonly cfg: MetricsConfig,
    private readonly registry: Registry,
    private readonly onError: (msg: string) => void,
  ) {
    this.server = http.createServer((req, res) => void this.answer(req, res));
  }

  /** Resolves once listening; rejects with the address in the message (in use, not local...). */
  listen(): Promise<void> {
    const where = this.where();
    return new Promise((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void =>
        reject(new Error(`metrics: cannot listen on ${where}: ${err.code ?? err.message}`));
      this.server.once('error', failed);
      this.server.listen({ host: this.cfg.address, port: this.cfg.port }, () => {
        this.server.off('error', failed);
        this.server.on('error', (err) => this.onError(`metrics: ${where}: ${err.message}`));
        resolve();
      });
    });
  }

  /** `address:port` (IPv6 in brackets), as in the messages. */
  where(): string {
    return `${this.cfg.address.includes(':') ? `[${this.cfg.address}]` : this.cfg.address}:${this.cfg.port}`;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('ctsync: metrics are at /metrics\n');
      return;
    }
    try {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.onError(`metrics: scrape failed: ${(err as Error).message}`);
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  }
}
