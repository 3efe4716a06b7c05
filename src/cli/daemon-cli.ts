// The conntrackd-compatible command line: `ctsync -C FILE [-d]` runs the daemon, the other flags
// (-c -f -F -R -B -n -t -k -s -i -e) talk to a running daemon over its UNIX socket. Same flags
// and sub-arguments as conntrackd (sub-arguments match by prefix: `-s n` = `-s network`).
import fs from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { controlRequest } from '../control/client.js';
import { LineWriter } from './output.js';
import type { LoadedConfig } from '../config/load.js';

// The daemon, the config schema (ajv) and the logger are loaded on demand: a client request
// (`-c`, `-s`, `notify`, called by keepalived scripts) starts in a fraction of the time.

async function loadFull(path: string): Promise<LoadedConfig> {
  const { loadConfig } = await import('../config/load.js');
  try {
    return await loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(err.message);
    throw err;
  }
}

/** Default control socket (as the config model's default). */
const DEFAULT_SOCKET = '/var/run/conntrackd.ctl';

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

export const DEFAULT_CONFIGS = ['/etc/ctsync/ctsync.json', '/etc/conntrackd/conntrackd.conf'];

export interface DaemonCliOptions {
  config?: string;
  daemon?: boolean;
  commit?: string | true;
  flush?: string | true;
  flushKernel?: string | true;
  resyncKernel?: string | true;
  bulk?: boolean;
  requestResync?: boolean;
  purge?: boolean;
  kill?: boolean;
  stats?: string | true;
  internal?: string | true;
  external?: string | true;
  xml?: boolean;
  json?: boolean;
  logLevel?: 'error' | 'warn' | 'info' | 'verbose' | 'debug';
  backgroundChild?: boolean;
}

/** Sub-argument parser: conntrackd matches by prefix (`-f e` = external). */
function oneOf(what: string, choices: string[]) {
  return (v: string): string => {
    const hit = choices.filter((c) => c.startsWith(v.toLowerCase()));
    if (v === '' || hit.length !== 1) throw new InvalidArgumentError(`${what} must be one of ${choices.join(', ')}, got '${v}'`);
    return hit[0];
  };
}

export function addDaemonOptions(program: Command): void {
  program
    .option('-C, --config <file>', `configuration: conntrackd.conf or ctsync JSON (default: ${DEFAULT_CONFIGS.join(' or ')})`)
    .option('-d, --daemon', 'run the daemon in the background')
    .option('-c, --commit [ct|expect]', 'commit the external cache into the kernel table', oneOf('-c', ['ct', 'expect']))
    .option('-f, --flush [internal|external]', 'flush the internal and/or external cache', oneOf('-f', ['internal', 'external']))
    .option('-F, --flush-kernel [ct|expect]', 'flush the kernel table (entries the Filter ignores are kept)', oneOf('-F', ['ct', 'expect']))
    .option('-R, --resync-kernel [ct|expect]', 're-read the kernel table into the internal cache', oneOf('-R', ['ct', 'expect']))
    .option('-B, --bulk', 'send the whole internal cache to the peer')
    .option('-n, --request-resync', 'ask the peer for its whole internal cache')
    .option('-t, --purge', 'flush the kernel table after PurgeTimeout seconds')
    .option('-k, --kill', 'stop the daemon')
    .option('-s, --stats [section]', 'statistics: network, cache, runtime, link, rsqueue, process, queue, ct, expect',
      oneOf('-s', ['network', 'cache', 'runtime', 'link', 'rsqueue', 'process', 'queue', 'ct', 'expect', 'multicast']))
    .option('-i, --internal [ct|expect]', 'dump the internal cache', oneOf('-i', ['ct', 'expect']))
    .option('-e, --external [ct|expect]', 'dump the external cache', oneOf('-e', ['ct', 'expect']))
    .option('-x, --xml', 'XML output for -i/-e (not supported: use --json)')
    .option('--json', 'JSON output (JSON lines for -i/-e)')
    .addOption(new Option('--background-child').hideHelp())
    .option('--log-level <level>', 'daemon log level: error, warn, info, verbose, debug', oneOf('--log-level', ['error', 'warn', 'info', 'verbose', 'debug']));
}

function configPath(opts: DaemonCliOptions): string {
  if (opts.config) return opts.config;
  const found = DEFAULT_CONFIGS.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`no configuration: give -C FILE (looked for ${DEFAULT_CONFIGS.join(' and ')})`);
  return found;
}

/** The control socket of the daemon a client command talks to (from -C or the default config). */
export async function daemonSocket(opts: DaemonCliOptions): Promise<string> {
  const file = configPath(opts);
  return quickSocketPath(file) ?? (await loadFull(file)).config.general.unix.path;
}

const CLIENT_FLAGS = ['commit', 'flush', 'flushKernel', 'resyncKernel', 'bulk', 'requestResync', 'purge', 'kill', 'stats', 'internal', 'external'] as const;

export async function daemonCli(opts: DaemonCliOptions, argv: string[]): Promise<void> {
  const actions = CLIENT_FLAGS.filter((f) => opts[f] !== undefined);
  if (actions.length > 1) throw new InvalidArgumentError(`one request at a time: got ${actions.map((a) => `--${a.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`).join(', ')}`);
  const path = configPath(opts);
  if (actions.length === 0) {
    const { runDaemon, startInBackground } = await import('../daemon/daemon.js');
    if (opts.daemon) {
      const loaded = await loadFull(path); // config errors are reported here, not lost in a log
      const args = [argv[1], '-C', path, '--background-child', ...(opts.logLevel ? ['--log-level', opts.logLevel] : [])];
      await startInBackground(args, loaded.config);
      return;
    }
    await runDaemon({ configPath: path, console: true, logLevel: opts.logLevel, background: opts.backgroundChild });
    return;
  }
  if (opts.xml) throw new InvalidArgumentError('-x (XML) is not supported by ctsync: use --json');
  await clientRequest(actions[0], opts, await daemonSocket(opts));
}

async function clientRequest(action: (typeof CLIENT_FLAGS)[number], opts: DaemonCliOptions, socket: string): Promise<void> {
  const json = opts.json;
  const print = (result: unknown, textOut?: string): void => {
    if (json) process.stdout.write(JSON.stringify(result ?? {}) + '\n');
    else if (textOut) process.stdout.write(textOut);
  };
  const sub = (v: string | true | undefined): string | undefined => (v === true ? undefined : v);
  switch (action) {
    case 'internal':
    case 'external': {
      const kind = sub(opts[action]) === 'expect' ? 'expect' : 'ct';
      const out = new LineWriter();
      await controlRequest(socket, { cmd: json ? 'dump' : 'dump-text', args: { cache: action, kind } }, (r) => out.line(json ? JSON.stringify(r) : String(r)));
      out.flush();
      return;
    }
    case 'stats': {
      const section = sub(opts.stats);
      const map: Record<string, string> = { ct: 'general', multicast: 'link' };
      const r = (await controlRequest(socket, { cmd: 'stats', args: { section: section ? map[section] ?? section : 'general' } })) as { text: string; counters: unknown };
      print(r.counters, r.text);
      return;
    }
    case 'commit': {
      type Counts = { committed: number; replaced: number; failed: Array<{ reason: string }>; seconds: number };
      const what = sub(opts.commit) ?? 'both';
      const r = (await controlRequest(socket, { cmd: 'commit', args: { what } })) as Counts & { expect?: Counts };
      let textOut = what === 'expect' ? '' : `committed ${r.committed} entries (${r.replaced} replaced), ${r.failed.length} failed, in ${r.seconds.toFixed(3)} s\n`;
      const x = r.expect;
      if (x) textOut += `committed ${x.committed} expectations (${x.replaced} replaced), ${x.failed.length} failed, in ${x.seconds.toFixed(3)} s\n`;
      print(r, textOut);
      if (r.failed.length || x?.failed.length) process.exitCode = 1;
      return;
    }
    case 'flush': print(await controlRequest(socket, { cmd: 'flush-cache', args: { which: sub(opts.flush) ?? 'both' } })); return;
    case 'flushKernel': print(await controlRequest(socket, { cmd: 'flush-kernel', args: { what: sub(opts.flushKernel) } })); return;
    case 'resyncKernel': print(await controlRequest(socket, { cmd: 'reload-internal', args: { what: sub(opts.resyncKernel) } })); return;
    case 'bulk': print(await controlRequest(socket, { cmd: 'bulk' })); return;
    case 'requestResync': print(await controlRequest(socket, { cmd: 'request-resync' })); return;
    case 'purge': print(await controlRequest(socket, { cmd: 'purge' })); return;
    case 'kill': print(await controlRequest(socket, { cmd: 'kill' })); return;
  }
}
