// Metrics in integration tests: a node's conntrackd.conf turned into ctsync's JSON with a
// `metrics` section, and a scrape of an endpoint from inside a namespace.
import fs from 'node:fs';
import { convertConntrackdConf } from '../../src/config/load.js';
import type { Netns } from './netns.js';
import type { SyncNode } from './syncpair.js';

/** Rewrites the node's configuration file as JSON (the loader recognizes it by its `{`) with `metrics`. */
export function enableMetrics(node: SyncNode, address: string, port: number): void {
  const { config } = convertConntrackdConf(fs.readFileSync(node.conf, 'utf8'), node.conf);
  fs.writeFileSync(node.conf, JSON.stringify({ ...config, metrics: { address, port } }, null, 2));
}

/** GET `url` from inside `ns`: status, content type and body. */
export async function httpGet(ns: Netns, url: string): Promise<{ status: number; type: string; body: string }> {
  const script =
    'const r = await fetch(process.argv[1]);' +
    "process.stdout.write(JSON.stringify({ status: r.status, type: r.headers.get('content-type'), body: await r.text() }));";
  const r = await ns.exec(process.execPath, ['--input-type=module', '-e', script, url], { timeout: 20_000 });
  if (r.exitCode !== 0) throw new Error(`GET ${url} in ${ns.name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; type: string; body: string };
}

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

export async function scrape(ns: Netns, url: string): Promise<Map<string, number>> {
  const r = await httpGet(ns, url);
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}: ${r.body}`);
  return parseExposition(r.body);
}
