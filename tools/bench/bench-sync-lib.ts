// What the sync benchmarks (bench-sync-measure.ts, bench-churn.ts) share: the
// daemons' UNIX control sockets, spoken directly (no client process per poll), the kernel's entry
// count of a namespace, and their key=value output lines.
//
// Both daemons are driven with their own native protocol:
//   conntrackd  4-byte native-endian action code, plain-text answer until EOF (what the stock
//               `conntrackd -C conf -s cache` client does); counts are parsed from
//               "cache:internal active objects:" / "cache:external active objects:".
//   ctsync      JSON request line {"cmd":"stats"} (what `ctsync -s --json` sends); counts are
//               counters.internal.active / counters.external.active.
// UNIX socket paths are file system paths, so these work from any network namespace.

import net from 'node:net';
import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const CD = { STATS_CACHE: 29, KILL: 20, REQUEST_DUMP: 23, FLUSH_EXT_CACHE: 34 };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type Proto = 'ctsync' | 'conntrackd';
export type Action = 'flush-external' | 'request-resync' | 'kill';
/** What ctsync's stats request answers with, as far as the benchmarks read it. */
interface CacheStats {
  counters: { internal: { active: number }; external: { active: number } };
}

export function out(fields: Record<string, unknown>): void {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v);
    parts.push(/^[\w.+-]+$/.test(s) ? `${k}=${s}` : `${k}="${s.replace(/["\\$`]/g, ' ')}"`);
  }
  process.stdout.write(parts.join(' ') + '\n');
}

/** Prints the fields with error="msg" and exits with status 2. */
export function fail(msg: string, fields: Record<string, unknown> = {}): never {
  out({ ...fields, error: msg });
  process.exit(2);
}

/**
 * `SUBCOMMAND --option value ... [-- COMMAND...]`: the subcommand, the options (parseArgs,
 * strict) and the command after `--` (empty when none).
 */
export function commandLine<const O extends NonNullable<ParseArgsConfig['options']>>(options: O) {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf('--');
  const parse = () => parseArgs({ args: dd >= 0 ? argv.slice(1, dd) : argv.slice(1), options, strict: true }).values;
  let values: ReturnType<typeof parse>;
  try {
    values = parse();
  } catch (e) {
    fail(`${argv[0] ?? '(no subcommand)'}: ${(e as Error).message}`);
  }
  return { sub: argv[0], values, command: dd >= 0 ? argv.slice(dd + 1) : [] };
}

/** conntrackd protocol: one action code, text until EOF. */
export function cdRequest(sock: string, code: number, timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer from ${sock} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.on('connect', () => {
      const b = Buffer.alloc(4);
      b.writeInt32LE(code, 0);
      c.write(b);
    });
    c.on('data', (d) => chunks.push(d));
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** ctsync protocol: one JSON request line, JSON lines back, the last one has "ok". */
export function jsonRequest(sock: string, req: object, timeoutMs = 10000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, v?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from ${sock} within ${timeoutMs} ms`)), timeoutMs);
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line) as { ok?: boolean; result?: unknown; error?: string };
        if ('data' in m) continue;
        if (m.ok) finish(undefined, m.result);
        else finish(new Error(m.error ?? 'request failed'));
      }
    });
    c.on('error', (e) => finish(e));
    c.on('close', () => finish(new Error('connection closed without an answer')));
  });
}

const CD_RE = {
  internal: /cache:internal\s+active objects:\s+(\d+)/,
  external: /cache:external\s+active objects:\s+(\d+)/,
};

/** { internal, external } active counts of a daemon's caches. */
export async function counts(sock: string, proto: Proto): Promise<{ internal: number; external: number }> {
  if (proto === 'conntrackd') {
    const text = await cdRequest(sock, CD.STATS_CACHE);
    const i = CD_RE.internal.exec(text);
    const e = CD_RE.external.exec(text);
    if (!i || !e) throw new Error(`unexpected conntrackd -s cache answer: ${text.slice(0, 200)}`);
    return { internal: Number(i[1]), external: Number(e[1]) };
  }
  const r = (await jsonRequest(sock, { cmd: 'stats', args: { section: 'cache' } })) as CacheStats;
  return { internal: r.counters.internal.active, external: r.counters.external.active };
}

export async function action(sock: string, proto: Proto, what: Action): Promise<unknown> {
  if (proto === 'conntrackd') {
    const code = { 'flush-external': CD.FLUSH_EXT_CACHE, 'request-resync': CD.REQUEST_DUMP, kill: CD.KILL }[what];
    if (code === undefined) throw new Error(`unknown action ${what}`);
    return cdRequest(sock, code);
  }
  const req = {
    'flush-external': { cmd: 'flush-cache', args: { which: 'external' } },
    'request-resync': { cmd: 'request-resync' },
    kill: { cmd: 'kill' },
  }[what];
  if (!req) throw new Error(`unknown action ${what}`);
  return jsonRequest(sock, req);
}

/** The conntrack entry count of PID's network namespace. */
export function kernelCount(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/net/stat/nf_conntrack`, 'utf8');
  const nl = text.indexOf('\n');
  return parseInt(text.slice(nl + 1, nl + 9), 16);
}
