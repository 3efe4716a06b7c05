// The requests a client command sends to a running daemon (conntrackd's -c -f -F -R -B -n -t -k
// -s -i -e, and notify, promote, demote, status, health), and what it prints of the answers. Shared by
// the fast path (client-argv.ts) and the full command line (daemon-cli.ts, ha-cli.ts).
//
// Start-up: keepalived scripts call these several times per failover, so this module and what
// it imports at top level stay small (no commander, no config schema, no logger, no netlink):
// the config schema is loaded only for a config file the quick look below cannot read.
import fs from 'node:fs';
import { ControlClientError, controlRequest } from '../control/client.js';
import { KeepalivedInputError, parseNotifyArgs } from '../ha/keepalived.js';
import { LineWriter, writeOut } from './output.js';
import { CLIENT_FLAGS, DEFAULT_CONFIGS, type ClientFlagKey, type DaemonCliOptions } from './client-flags.js';
import type { LoadedConfig } from '../config/load.js';

/** Default control socket (as the config model's default). */
const DEFAULT_SOCKET = '/var/run/conntrackd.ctl';

/** Loads the whole configuration (schema, checks); a config error comes out as a plain Error naming its place. */
export async function loadConfigForCli(path: string): Promise<LoadedConfig> {
  const [{ loadConfig }, { ConfigError }] = await Promise.all([
    import('../config/load.js'),
    import('../config/errors.js'),
  ]);
  try {
    return await loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(err.message, { cause: err });
    throw err;
  }
}

/**
 * The control socket path from a config file, without validating the whole file: JSON's
 * general.unix.path, or conntrackd.conf's `UNIX { Path … }`. Undefined if the file does not
 * read that simply (the caller then loads it fully, for a proper error message).
 */
function quickSocketPath(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (text.trimStart().startsWith('{')) {
    try {
      const j = JSON.parse(text) as { general?: { unix?: { path?: unknown } } };
      const p = j.general?.unix?.path;
      return typeof p === 'string' ? p : p === undefined ? DEFAULT_SOCKET : undefined;
    } catch {
      return undefined;
    }
  }
  const m = /\bUNIX\s*\{[^}]*?\bPath\s+(\/\S+)/.exec(text.replace(/#[^\n]*/g, ''));
  return m ? m[1] : undefined;
}

/** The configuration file: -C, or the first default that exists. */
export function configPath(opts: DaemonCliOptions): string {
  if (opts.config) return opts.config;
  const found = DEFAULT_CONFIGS.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no configuration: give -C FILE (looked for ${DEFAULT_CONFIGS.join(' and ')})`);
  return found;
}

/** The control socket of the daemon a client command talks to (from -C or the default config). */
export async function daemonSocket(opts: DaemonCliOptions): Promise<string> {
  const file = configPath(opts);
  return quickSocketPath(file) ?? (await loadConfigForCli(file)).config.general.unix.path;
}

/** The request flags given (the daemon takes one at a time). */
export function requestFlags(opts: DaemonCliOptions): ClientFlagKey[] {
  return CLIENT_FLAGS.filter((f) => opts[f.key] !== undefined).map((f) => f.key);
}

/** One conntrackd-style request (`action` is one of opts' request flags); prints the answer. */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export async function clientRequest(action: ClientFlagKey, opts: DaemonCliOptions, socket: string): Promise<void> {
  const json = opts.json;
  const print = (result: unknown, textOut?: string): void => {
    if (json) writeOut(JSON.stringify(result ?? {}) + '\n');
    else if (textOut) writeOut(textOut);
  };
  const sub = (v: string | true | undefined): string | undefined => (v === true ? undefined : v);
  switch (action) {
    case 'internal':
    case 'external': {
      const kind = sub(opts[action]) === 'expect' ? 'expect' : 'ct';
      const out = new LineWriter();
      const args = { cache: action, kind, ...(opts.xml ? { format: 'xml' } : {}) };
      await controlRequest(socket, { cmd: json ? 'dump' : 'dump-text', args }, (r) =>
        out.line(json ? JSON.stringify(r) : String(r)),
      );
      out.flush();
      return;
    }
    case 'stats': {
      const section = sub(opts.stats);
      if (section === 'multicast') process.stderr.write("ctsync: warning: use 'link' instead of 'multicast'\n");
      const map: Record<string, string> = { ct: 'general', multicast: 'link' };
      const r = (await controlRequest(socket, {
        cmd: 'stats',
        args: { section: section ? (map[section] ?? section) : 'general' },
      })) as { text: string; counters: unknown };
      print(r.counters, r.text);
      return;
    }
    case 'commit': {
      type Counts = { committed: number; replaced: number; failed: Array<{ reason: string }>; seconds: number };
      const what = sub(opts.commit) ?? 'both';
      const r = (await controlRequest(socket, { cmd: 'commit', args: { what } })) as Counts & { expect?: Counts };
      let textOut =
        what === 'expect'
          ? ''
          : `committed ${r.committed} entries (${r.replaced} replaced), ${r.failed.length} failed, in ${r.seconds.toFixed(3)} s\n`;
      const x = r.expect;
      if (x)
        textOut += `committed ${x.committed} expectations (${x.replaced} replaced), ${x.failed.length} failed, in ${x.seconds.toFixed(3)} s\n`;
      print(r, textOut);
      if (r.failed.length || x?.failed.length) process.exitCode = 1;
      return;
    }
    case 'flush':
      print(await controlRequest(socket, { cmd: 'flush-cache', args: { which: sub(opts.flush) ?? 'both' } }));
      return;
    case 'flushKernel':
      print(await controlRequest(socket, { cmd: 'flush-kernel', args: { what: sub(opts.flushKernel) } }));
      return;
    case 'resyncKernel':
      print(await controlRequest(socket, { cmd: 'reload-internal', args: { what: sub(opts.resyncKernel) } }));
      return;
    case 'bulk':
      print(await controlRequest(socket, { cmd: 'bulk' }));
      return;
    case 'requestResync':
      print(await controlRequest(socket, { cmd: 'request-resync' }));
      return;
    case 'purge':
      print(await controlRequest(socket, { cmd: 'purge' }));
      return;
    case 'kill':
      print(await controlRequest(socket, { cmd: 'kill' }));
      return;
  }
}

// ------------------------------------------------------------------------- the failover layer

interface HaStatusLike {
  role: string;
  since: number;
  wanted?: string;
  current?: { kind: string; to: string; step?: string };
  last?: { from: string; to: string; reason: { source: string; detail: string }; durationMs?: number; result?: string };
}

function printStatus(s: {
  pid: number;
  uptimeSeconds: number;
  ha?: HaStatusLike;
  internal: number;
  external: number;
  channel: string;
}): void {
  const ha = s.ha;
  const lines = [
    `role:      ${ha?.role ?? 'unknown'}${ha?.current ? ` (${ha.current.kind} to ${ha.current.to}${ha.current.step ? `, step ${ha.current.step}` : ''})` : ''}`,
    ...(ha ? [`since:     ${new Date(ha.since).toISOString()}`] : []),
    ...(ha?.last
      ? [
          `last:      ${ha.last.from} -> ${ha.last.to} (${ha.last.reason.source}: ${ha.last.reason.detail})${ha.last.durationMs !== undefined ? ` in ${ha.last.durationMs} ms` : ''}${ha.last.result ? `, ${ha.last.result}` : ''}`,
        ]
      : []),
    `caches:    internal ${s.internal}, external ${s.external}`,
    `sync:      ${s.channel}`,
    `daemon:    pid ${s.pid}, up ${s.uptimeSeconds} s`,
  ];
  writeOut(lines.join('\n') + '\n');
}

/** `notify TYPE NAME STATE [PRIORITY]`: checked here first, so bad arguments never reach the daemon. */
export async function notifyRequest(
  program: DaemonCliOptions,
  args: string[],
  opts: { json?: boolean },
): Promise<void> {
  try {
    parseNotifyArgs(args);
  } catch (err) {
    if (err instanceof KeepalivedInputError) throw new Error(`notify: ${err.message}`, { cause: err });
    throw err;
  }
  const r = await controlRequest(await daemonSocket(program), { cmd: 'notify', args: { argv: args } });
  if (opts.json) writeOut(JSON.stringify(r) + '\n');
}

export async function transitionRequest(
  program: DaemonCliOptions,
  name: 'promote' | 'demote',
  opts: { force?: boolean; json?: boolean },
): Promise<void> {
  const r = (await controlRequest(await daemonSocket(program), {
    cmd: name,
    args: { force: opts.force === true },
  })) as { outcome: { outcome: string; transition?: { durationMs?: number; result?: string } }; status: HaStatusLike };
  if (opts.json) writeOut(JSON.stringify(r) + '\n');
  else {
    const o = r.outcome;
    writeOut(
      o.outcome === 'completed'
        ? `${name}: done in ${o.transition?.durationMs ?? '?'} ms (${o.transition?.result ?? 'ok'}), role ${r.status.role}\n`
        : `${name}: ${o.outcome}, role ${r.status.role}\n`,
    );
  }
}

export async function statusRequest(program: DaemonCliOptions, opts: { json?: boolean }): Promise<void> {
  const s = await controlRequest(await daemonSocket(program), { cmd: 'status' });
  if (opts.json) writeOut(JSON.stringify(s) + '\n');
  else printStatus(s as Parameters<typeof printStatus>[0]);
}

// ------------------------------------------------------------------------- health

export interface HealthOptions {
  json?: boolean;
  /** Only the sync gate (keepalived's track_script): 0 may be master, 1 not yet. */
  sync?: boolean;
}

interface HealthAnswer {
  status: 'ok' | 'degraded' | 'failed';
  findings: Array<{ name: string; severity: string; message: string; since: number }>;
  sync: { tracked: boolean; synced: boolean; reason?: string; since: number; gate: { pass: boolean; why: string } };
}

const HEALTH_EXIT = { ok: 0, degraded: 1, failed: 2 } as const;

/**
 * `health [--json] [--sync]`: one line per finding (or `ok`), exit 0/1/2. A daemon that does not
 * answer is `failed` (2), and not synced (1) for --sync: keepalived must not elect a node whose
 * daemon is down on the strength of an old answer.
 */
export async function healthRequest(program: DaemonCliOptions, opts: HealthOptions): Promise<void> {
  let r: HealthAnswer;
  try {
    r = (await controlRequest(await daemonSocket(program), { cmd: 'health' })) as HealthAnswer;
  } catch (err) {
    if (!(err instanceof ControlClientError)) throw err;
    const why = `the daemon does not answer: ${err.message}`;
    if (opts.json) writeOut(JSON.stringify({ status: 'failed', error: why }) + '\n');
    else writeOut(`failed daemon: ${why}\n`);
    process.exitCode = opts.sync ? 1 : 2;
    return;
  }
  if (opts.sync) {
    if (opts.json) writeOut(JSON.stringify(r.sync) + '\n');
    else writeOut(`${r.sync.gate.pass ? 'ok' : 'unsynced'}: ${r.sync.gate.why}\n`);
    process.exitCode = r.sync.gate.pass ? 0 : 1;
    return;
  }
  if (opts.json) writeOut(JSON.stringify(r) + '\n');
  else if (r.findings.length === 0) writeOut('ok\n');
  else writeOut(r.findings.map((f) => `${f.severity} ${f.name}: ${f.message}`).join('\n') + '\n');
  process.exitCode = HEALTH_EXIT[r.status];
}
