// Network-namespace helpers for the integration tests, the benchmarks and the lab (the mocha glue,
// useNetns and requireRoot, is in test/helpers/netns.ts, which re-exports this module).
//
// Every test host is a fresh network namespace named `ctsync-<prefix>-<pid>-<random>`, with its
// own conntrack table. Namespaces made here are destroyed when the test ends (useNetns), at the
// end of the mocha run (a root `after` hook in test/helpers/netns.ts), and, synchronously, when the process exits or is
// killed by SIGINT/SIGTERM/SIGHUP, even after a failure. Namespaces left behind by a process
// that died hard (SIGKILL) are swept the next time a namespace is created.
//
// Addresses: only the documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
// 2001:db8::/32 are accepted by vethPair, so no test can ever address a real network.
//
// Kernel notes:
// - A namespace's conntrack table exists as soon as nf_conntrack is loaded; entries can be
//   created, listed and deleted over ctnetlink right away (conntrack -I / -L / -D).
// - But the kernel only *tracks traffic* in a namespace once a ruleset there uses conntrack
//   (hooks are registered on demand): call `ns.enableConntrack()` before sending packets whose
//   flows a test expects to see in the table.
// - net.netfilter.nf_conntrack_max and nf_conntrack_buckets are read-only in a child namespace
//   (the host's values apply).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { ctsyncBin } from './repo.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ExecOptions {
  /** Written to the command's stdin (stdin is empty otherwise). */
  input?: string;
  /** Milliseconds before the command is killed; default 60 000. */
  timeout?: number;
  /** Extra environment variables (the rest of process.env is passed on). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Throw when the command fails (non-zero exit, signal, timeout, not found). Default false. */
  reject?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** The exit code; -1 when the command did not exit by itself (signal, timeout, spawn error). */
  exitCode: number;
  /** The signal that ended the command, if one did. */
  signal?: string;
  timedOut: boolean;
  /** The command line, for messages. */
  command: string;
}

export type StdioOption = 'pipe' | 'ignore' | 'inherit';

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Default 'ignore'; 'pipe' to write to subprocess.stdin. */
  stdin?: StdioOption;
  /** Default 'pipe' (read subprocess.stdout / the result's stdout). */
  stdout?: StdioOption;
  /** Default 'pipe'. */
  stderr?: StdioOption;
}

const DOC_V4 = ['192.0.2.', '198.51.100.', '203.0.113.'];

const registry = new Set<Netns>();
/** Interface names for vethPair: veth0, veth1... unique in this process, so in any namespace. */
let vethSeq = 0;
let sweptStale = false;

function run(cmd: string, args: string[]): { ok: boolean; stdout: string } {
  try {
    const stdout = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return { ok: true, stdout };
  } catch {
    return { ok: false, stdout: '' };
  }
}

/** Whether a process exists and is not a zombie (an unreaped zombie cannot hold anything). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    // no /proc, or the process is gone: ask the kernel
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of the network namespaces that `ip netns` knows. */
function listNetnsSync(): string[] {
  const r = run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n);
}

/** PIDs of the processes inside a namespace. */
function netnsPidsSync(name: string): number[] {
  const r = run('ip', ['netns', 'pids', name]);
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

function killAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills what runs in the namespace and deletes it, synchronously. Never throws. */
function destroySync(name: string): void {
  killAll(netnsPidsSync(name), 'SIGKILL');
  if (listNetnsSync().includes(name)) run('ip', ['netns', 'del', name]);
}

/**
 * Deletes namespaces named like ours (`ctsync-<prefix>-<pid>-<hex>`) whose creating process is
 * gone: leftovers of a run that was killed with SIGKILL.
 */
export function sweepStaleNetns(): void {
  for (const name of listNetnsSync()) {
    const m = /^ctsync-.+-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    destroySync(name);
  }
}

function fail(command: string, r: ExecResult): Error {
  const how = r.timedOut ? 'timed out' : r.signal ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`;
  const err = new Error(`${command} ${how}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return Object.assign(err, { result: r });
}

/** Runs a command on the host (not in a namespace). */
async function host(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execa(cmd, args, {
    reject: false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
    timeout: opts.timeout ?? 60_000,
    env: opts.env,
    cwd: opts.cwd,
  });
  const res: ExecResult = {
    stdout: r.stdout,
    stderr: r.stderr,
    exitCode: r.exitCode ?? -1,
    signal: r.signal,
    timedOut: r.timedOut,
    command: r.command,
  };
  if (opts.reject && (res.exitCode !== 0 || r.failed)) throw fail(r.command, res);
  return res;
}

export class Netns {
  readonly name: string;
  private readonly procs = new Set<ReturnType<Netns['spawn']>>();
  private destroying: Promise<void> | undefined;

  private constructor(name: string) {
    this.name = name;
  }

  /**
   * Makes a new namespace `ctsync-<prefix>-<pid>-<random>` with `lo` up and conntrack events
   * enabled (net.netfilter.nf_conntrack_events=1) where the kernel allows it.
   */
  static async create(prefix: string): Promise<Netns> {
    if (!sweptStale) {
      sweptStale = true;
      sweepStaleNetns();
    }
    const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'ns';
    const name = `ctsync-${clean}-${process.pid}-${randomBytes(4).toString('hex')}`;
    await host('ip', ['netns', 'add', name], { reject: true });
    const ns = new Netns(name);
    registry.add(ns);
    try {
      await host('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { reject: true });
      // /proc/sys/net shows the namespace of the process that opens it. Best effort: older
      // kernels or a missing nf_conntrack have no such file.
      await ns.exec('sh', ['-c', 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_events'], { timeout: 10_000 });
    } catch (err) {
      await ns.destroy();
      throw err;
    }
    return ns;
  }

  /** Names of the namespaces that `ip netns list` shows. */
  static async list(): Promise<string[]> {
    const r = await host('ip', ['netns', 'list']);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n): n is string => !!n);
  }

  static async exists(name: string): Promise<boolean> {
    return (await Netns.list()).includes(name);
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  /**
   * Runs `cmd args` inside the namespace and waits for it. Does not throw on failure unless
   * `opts.reject` is set: look at exitCode.
   */
  async exec(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertAlive();
    return host('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /**
   * Starts a long-running `cmd args` inside the namespace and returns the execa subprocess
   * (a promise of its result that never rejects, with .pid, .kill(), .stdout...). It is killed by
   * destroy() if still running. `ip netns exec` execs the command, so .pid is the command itself.
   */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions = {}) {
    this.assertAlive();
    const sub = execa('ip', ['netns', 'exec', this.name, cmd, ...args], {
      reject: false,
      cleanup: true,
      env: opts.env,
      cwd: opts.cwd,
      stdin: opts.stdin ?? 'ignore',
      stdout: opts.stdout ?? 'pipe',
      stderr: opts.stderr ?? 'pipe',
    });
    this.procs.add(sub);
    void sub.then(
      () => this.procs.delete(sub),
      () => this.procs.delete(sub),
    );
    return sub;
  }

  /**
   * Makes the kernel track traffic in this namespace: a conntrack-using nftables table (or, without
   * nft, iptables/ip6tables rules). Without one, packets create no conntrack entries here.
   */
  async enableConntrack(): Promise<void> {
    const ruleset = [
      'table inet ctsync_track {',
      '  chain pre { type filter hook prerouting priority 0; policy accept; ct state new counter; }',
      '  chain out { type filter hook output priority 0; policy accept; ct state new counter; }',
      '}',
      '',
    ].join('\n');
    const nft = await this.exec('nft', ['-f', '-'], { input: ruleset });
    if (nft.exitCode === 0) return;
    for (const tool of ['iptables', 'ip6tables']) {
      for (const chain of ['PREROUTING', 'OUTPUT']) {
        await this.exec(tool, ['-t', 'raw', '-A', chain, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT'], {
          reject: true,
        });
      }
    }
  }

  /**
   * Stops the processes started with spawn() (SIGTERM, then SIGKILL after 3 s), kills anything
   * else still running in the namespace and deletes it. Idempotent; never throws.
   */
  destroy(): Promise<void> {
    if (!this.destroying) this.destroying = this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    await Promise.all(
      [...this.procs].map(async (sub) => {
        if (sub.exitCode === null && sub.signalCode === null) sub.kill('SIGTERM');
        const done = await Promise.race([sub.then(() => true), sleep(3000).then(() => false)]);
        if (!done) {
          sub.kill('SIGKILL');
          await sub;
        }
      }),
    );
    this.procs.clear();
    // Whatever else runs inside (daemons that forked, grandchildren).
    let pids = netnsPidsSync(this.name);
    if (pids.length > 0) {
      killAll(pids, 'SIGTERM');
      for (let i = 0; i < 20 && (pids = pids.filter(pidAlive)).length > 0; i++) await sleep(100);
      killAll(pids, 'SIGKILL');
    }
    if (await Netns.exists(this.name)) {
      const r = await host('ip', ['netns', 'del', this.name]);
      if (r.exitCode !== 0 && (await Netns.exists(this.name))) {
        // Leave it registered: the exit handler tries again.
        console.warn(`netns: could not delete ${this.name}: ${r.stderr.trim()}`);
        return;
      }
    }
    registry.delete(this);
  }

  private assertAlive(): void {
    if (this.destroying) throw new Error(`netns ${this.name} was destroyed`);
  }
}

/** Destroys every namespace made by this process that is still there. */
export async function destroyAllNetns(): Promise<void> {
  await Promise.all([...registry].map((ns) => ns.destroy()));
}

function destroyAllSync(): void {
  for (const ns of registry) destroySync(ns.name);
  registry.clear();
}

// Synchronously, whenever the process goes away (the mocha run's end: test/helpers/netns.ts).
process.on('exit', destroyAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    destroyAllSync();
    if (process.listenerCount(sig) === 0) {
      process.kill(process.pid, sig);
    } else {
      // Someone else listens too (mocha, execa's cleanup): let them act, but do end.
      setTimeout(() => process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15)), 1000).unref();
    }
  });
}

function prefixLen(addr: string): { ip: string; len: number; v6: boolean } {
  const [ip = '', lenText] = addr.split('/');
  const v6 = ip.includes(':');
  if (v6) {
    const first = ip.toLowerCase().split(':');
    if (first[0] !== '2001' || !['db8', '0db8'].includes(first[1] ?? '')) {
      throw new Error(`vethPair: ${addr} is not in 2001:db8::/32 (documentation range)`);
    }
  } else {
    const parts = ip.split('.');
    if (
      parts.length !== 4 ||
      !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255) ||
      !DOC_V4.some((pre) => ip.startsWith(pre))
    ) {
      throw new Error(`vethPair: ${addr} is not in 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24`);
    }
  }
  const len = lenText === undefined ? (v6 ? 64 : 24) : Number(lenText);
  if (!Number.isInteger(len) || len < (v6 ? 32 : 24) || len > (v6 ? 128 : 32)) {
    throw new Error(`vethPair: bad prefix length in ${addr}`);
  }
  return { ip, len, v6 };
}

export interface VethLink {
  /** Interface name in a, in b. */
  ifA: string;
  ifB: string;
  /** Addresses without prefix length. */
  addrA: string;
  addrB: string;
}

/**
 * Links two namespaces with a veth pair and addresses it (`192.0.2.1/24`, or `192.0.2.1` for
 * /24 and `2001:db8::1` for /64). Only documentation ranges are accepted. IPv6 addresses are
 * added with nodad so they are usable at once.
 */
export async function vethPair(a: Netns, b: Netns, addrA: string, addrB: string): Promise<VethLink> {
  const pa = prefixLen(addrA);
  const pb = prefixLen(addrB);
  if (pa.v6 !== pb.v6) throw new Error('vethPair: both addresses must be of one family');
  const n = vethSeq++;
  const ifA = `veth${n}`;
  const ifB = `veth${n}`;
  // Created directly inside the two namespaces: nothing appears on the host, no name clash there.
  await host('ip', ['link', 'add', ifA, 'netns', a.name, 'type', 'veth', 'peer', 'name', ifB, 'netns', b.name], {
    reject: true,
  });
  for (const [ns, ifName, p] of [
    [a, ifA, pa],
    [b, ifB, pb],
  ] as const) {
    const extra = p.v6 ? ['nodad'] : [];
    await host('ip', ['-n', ns.name, 'addr', 'add', `${p.ip}/${p.len}`, 'dev', ifName, ...extra], { reject: true });
    await host('ip', ['-n', ns.name, 'link', 'set', ifName, 'up'], { reject: true });
  }
  return { ifA, ifB, addrA: pa.ip, addrB: pb.ip };
}

/** Runs `node dist/src/cli/ctsync.cjs ...args` (the shipped CLI) inside the namespace. */
export async function runCtsync(ns: Netns, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return ns.exec(process.execPath, [ctsyncBin(), ...args], opts);
}

export { ctsyncBin };

let netnsProbe: string | null | undefined;

/** Why namespaces cannot be used here, or null when they can. Probed once. */
export function netnsUnavailable(): string | null {
  if (netnsProbe !== undefined) return netnsProbe;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    netnsProbe = 'not running as root';
    return netnsProbe;
  }
  const name = `ctsync-probe-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    netnsProbe = null;
  } catch (err) {
    const e = err as { stderr?: Buffer; message?: string };
    netnsProbe = `ip netns does not work: ${(e.stderr?.toString() || e.message || '').trim()}`;
  } finally {
    run('ip', ['netns', 'del', name]);
  }
  return netnsProbe;
}

/** Whether `cmd` is not on the PATH. */
export function commandMissing(cmd: string): boolean {
  return !run('sh', ['-c', `command -v '${cmd.replace(/'/g, '')}'`]).ok;
}
