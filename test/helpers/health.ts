// `ctsync health` in integration tests: a node's conntrackd.conf turned into ctsync's JSON with a
// `health` section, the daemon's answer, and waiting for a finding to start or end.
import fs from 'node:fs';
import { convertConntrackdConf } from '../../src/config/load.js';
import type { HealthConfigInput } from '../../src/health/config.js';
import { sleep, type SyncNode } from './syncpair.js';

export function enableHealth(node: SyncNode, health: HealthConfigInput): void {
  const { config } = convertConntrackdConf(fs.readFileSync(node.conf, 'utf8'), node.conf);
  fs.writeFileSync(node.conf, JSON.stringify({ ...config, health }, null, 2));
}

export interface HealthAnswer {
  exitCode: number;
  status: 'ok' | 'degraded' | 'failed';
  findings: Array<{ name: string; severity: string; message: string }>;
  sync: { synced: boolean; reason?: string; gate: { pass: boolean; why: string } };
}

export async function health(node: SyncNode): Promise<HealthAnswer> {
  const r = await node.client(['health', '--json']);
  if (!r.stdout.trim()) throw new Error(`health on ${node.name}: exit ${r.exitCode}: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Omit<HealthAnswer, 'exitCode'>), exitCode: r.exitCode };
}

/** The daemon's pid (its lock file holds it). */
export function daemonPid(node: SyncNode): number {
  return Number(fs.readFileSync(node.conf.replace(/\.conf$/, '.lock'), 'utf8').trim());
}

/** Polls `health` until `ok` holds for the answer; fails with the last answer after timeoutMs. */
export async function waitHealth(
  node: SyncNode,
  what: string,
  ok: (h: HealthAnswer) => boolean,
  timeoutMs = 60_000,
): Promise<HealthAnswer> {
  const end = Date.now() + timeoutMs;
  let last: HealthAnswer | undefined;
  while (Date.now() < end) {
    last = await health(node);
    if (ok(last)) return last;
    await sleep(200);
  }
  throw new Error(
    `${node.name}: ${what} did not happen in ${timeoutMs} ms; last: ${JSON.stringify(last)}${node.logTail()}`,
  );
}

export const has = (name: string) => (h: HealthAnswer) => h.findings.some((f) => f.name === name);
export const lacks = (name: string) => (h: HealthAnswer) => !h.findings.some((f) => f.name === name);
