// A real Prometheus server (Debian's prometheus package) inside a test namespace: its own
// configuration and storage in a scratch folder, listening on the namespace's loopback, scraping
// the targets it is given; queried through its HTTP API from inside the namespace.
import fs from 'node:fs';
import path from 'node:path';
import type { Netns } from './netns.js';
import { httpGet } from './metrics.js';

export interface PrometheusOptions {
  /** Scratch folder: prometheus.yml and the TSDB go there. */
  dir: string;
  /** instance label → host:port of a /metrics endpoint, all in one job. */
  targets: Record<string, string>;
  job: string;
  /** Rule files to load (copied into `dir`). */
  ruleFiles?: string[];
  scrapeIntervalSeconds?: number;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** The answer of /api/v1/query for an instant vector. */
interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export class PrometheusServer {
  private readonly base = 'http://127.0.0.1:9090';
  private readonly proc: ReturnType<Netns['spawn']>;
  private output = '';

  private constructor(
    private readonly ns: Netns,
    o: PrometheusOptions,
  ) {
    const every = `${o.scrapeIntervalSeconds ?? 1}s`;
    const rules = (o.ruleFiles ?? []).map((f) => {
      const copy = path.join(o.dir, path.basename(f));
      fs.copyFileSync(f, copy);
      return copy;
    });
    const config = {
      global: { scrape_interval: every, scrape_timeout: every, evaluation_interval: every },
      rule_files: rules,
      scrape_configs: [
        {
          job_name: o.job,
          static_configs: Object.entries(o.targets).map(([instance, at]) => ({ targets: [at], labels: { instance } })),
        },
      ],
    };
    // JSON is YAML: prometheus reads it as its configuration
    const file = path.join(o.dir, 'prometheus.yml');
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    this.proc = ns.spawn('prometheus', [
      `--config.file=${file}`,
      `--storage.tsdb.path=${path.join(o.dir, 'data')}`,
      '--web.listen-address=127.0.0.1:9090',
      `--web.console.templates=${path.join(o.dir, 'consoles')}`,
      `--web.console.libraries=${path.join(o.dir, 'console_libraries')}`,
    ]);
    for (const s of [this.proc.stdout, this.proc.stderr]) s?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** Starts prometheus in `ns` and returns once it answers /-/ready. */
  static async start(ns: Netns, o: PrometheusOptions): Promise<PrometheusServer> {
    const p = new PrometheusServer(ns, o);
    await p.until(
      async () => {
        if (p.proc.exitCode !== null) throw new Error(`prometheus exited (${p.proc.exitCode}): ${p.log()}`);
        return (await httpGet(ns, `${p.base}/-/ready`).catch(() => ({ status: 0 }))).status === 200;
      },
      30_000,
      'prometheus to be ready',
    );
    return p;
  }

  /** The server's own log, for failure messages. */
  log(): string {
    return this.output.split('\n').slice(-30).join('\n');
  }

  /** An instant query, evaluated now. */
  async query(expr: string): Promise<Sample[]> {
    const r = await httpGet(this.ns, `${this.base}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const a = JSON.parse(r.body) as QueryAnswer;
    if (a.status !== 'success' || a.data?.resultType !== 'vector') throw new Error(`query ${expr}: ${r.body}`);
    return a.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  /** The single value of `expr` (throws unless exactly one sample). */
  async value(expr: string): Promise<number> {
    const r = await this.query(expr);
    if (r.length !== 1) throw new Error(`query ${expr}: ${r.length} samples, expected 1: ${JSON.stringify(r)}`);
    return r[0]!.value;
  }

  /** GET an API path: its parsed `data`. */
  async api<T>(apiPath: string): Promise<T> {
    const r = await httpGet(this.ns, `${this.base}${apiPath}`);
    const a = JSON.parse(r.body) as { status: string; data: T };
    if (a.status !== 'success') throw new Error(`GET ${apiPath}: ${r.body}`);
    return a.data;
  }

  /** Polls `cond` until true; throws with `what` after `timeoutMs`. */
  async until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (await cond()) return;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    await Promise.race([this.proc, new Promise((r) => setTimeout(r, 10_000))]);
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.proc;
    }
  }
}
