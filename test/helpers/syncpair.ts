// Two sync nodes in two namespaces joined by a veth pair (192.0.2.1 <-> 192.0.2.2), each running
// either the real conntrackd or ctsync with an equivalent conntrackd.conf. Used by the interop,
// loss, restart and fuzz tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Netns, ctsyncBin, vethPair, type ExecResult } from './netns.js';
import { PAIR_PORT, pairNodeConf, type PairMode } from '../../tools/lib/pair-config.js';
import { formatCacheEntry } from '../../src/conntrack/format.js';
import { controlRequest } from '../../src/control/client.js';
import { repoRoot, sleep } from './fakes.js';
import type { Entry, Expect, Tuple } from '../../src/conntrack/entry.js';

export type Impl = 'ctsync' | 'conntrackd';

export interface NodeOptions {
  impl: Impl;
  /** Sync > Mode (default FTFW). */
  mode?: PairMode;
  /** The channel (default UDP). */
  transport?: 'UDP' | 'TCP';
  /** Extra lines for the channel block (e.g. 'SndSocketBuffer 16777216'). */
  channel?: string[];
  /** Extra lines for the Sync { Mode … { … } } block. */
  ftfw?: string[];
  /** Extra lines for the General block. */
  general?: string[];
  /** Lines for a Sync { Options { … } } block (e.g. 'ExpectationSync on'). */
  options?: string[];
  /** Extra lines for Sync (e.g. an Authentication block). */
  sync?: string[];
  /** General > HashLimit (default 262144). */
  hashLimit?: number;
  /** General's HashSize (default 32768): what the caches are sized for at start. */
  hashSize?: number;
}

/** A `Sync > Authentication` block: mode, keys as [id, file], the active key. */
export interface AuthBlock {
  mode?: 'receive-only' | 'permissive' | 'enforce';
  keys: Array<[number, string]>;
  activeKey?: number;
}

export class SyncNode {
  readonly conf: string;
  readonly sock: string;
  readonly log: string;
  readonly mode: PairMode;

  constructor(
    readonly ns: Netns,
    readonly impl: Impl,
    readonly name: string,
    dir: string,
    readonly addr: string,
    readonly peer: string,
    readonly ifname: string,
    opts: NodeOptions,
  ) {
    this.conf = path.join(dir, `${name}.conf`);
    this.sock = path.join(dir, `${name}.sock`);
    this.log = path.join(dir, `${name}.log`);
    const lock = path.join(dir, `${name}.lock`);
    const { mode, transport, channel, ftfw, options, general, hashSize, hashLimit, sync } = opts;
    this.mode = mode ?? 'FTFW';
    fs.writeFileSync(
      this.conf,
      pairNodeConf({
        addr,
        peer,
        ifname,
        log: this.log,
        lock,
        sock: this.sock,
        mode,
        transport,
        udp: channel,
        ftfw,
        options,
        sync,
        general,
        hashSize,
        hashLimit,
      }),
    );
  }

  /** Runs a client request (-e, -i, -n, -B, -f …) with this node's own tool. */
  async client(args: string[]): Promise<ExecResult> {
    if (this.impl === 'conntrackd') return this.ns.exec('conntrackd', ['-C', this.conf, ...args]);
    return this.ns.exec(process.execPath, [ctsyncBin(), '-C', this.conf, ...args]);
  }

  async start(): Promise<void> {
    const r = await this.client(['-d']);
    if (r.exitCode !== 0) throw new Error(`${this.impl} on ${this.name} did not start: ${r.stderr}${this.logTail()}`);
    // conntrackd -d returns before its socket is up
    for (let i = 0; i < 100; i++) {
      if (fs.existsSync(this.sock) && (await this.client(['-s', 'rsqueue'])).exitCode === 0) return;
      await sleep(50);
    }
    throw new Error(`${this.impl} on ${this.name} does not answer on ${this.sock}${this.logTail()}`);
  }

  async stop(): Promise<void> {
    await this.client(['-k']);
    for (let i = 0; i < 100 && fs.existsSync(this.sock); i++) await sleep(50);
    // the socket goes first; the shutdown (e.g. removing rules) finishes before the process exits
    for (let i = 0; i < 100 && (await this.daemonPids()).length > 0; i++) await sleep(50);
    // a daemon that did not go away is killed with the namespace's other processes
    await this.kill();
  }

  /** A crash: SIGKILL to the daemon (no goodbye, nothing flushed); its socket and lock removed. */
  async kill(): Promise<void> {
    for (const pid of await this.daemonPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const f of [this.sock, this.conf.replace(/\.conf$/, '.lock')]) fs.rmSync(f, { force: true });
  }

  /**
   * For a ctsync node: waits until its start-up exchange is over (handshake done, its startup
   * RESYNC requested, except in Mode ALARM, which has none) and nothing has arrived for 300 ms. The peer's answer to that RESYNC is a
   * bulk of its whole cache, which would otherwise land in the middle of a test that has just
   * flushed the external cache. A conntrackd node returns at once.
   */
  async settled(timeoutMs = 15_000): Promise<void> {
    if (this.impl !== 'ctsync') return;
    type Ftfw = { hello: string; resyncSent: number; msgsReceived: number };
    const ftfw = async (): Promise<Ftfw> =>
      ((await controlRequest(this.sock, { cmd: 'stats' })) as { counters: { ftfw: Ftfw } }).counters.ftfw;
    const end = Date.now() + timeoutMs;
    let last = await ftfw();
    while (Date.now() < end) {
      await sleep(300);
      const now = await ftfw();
      const asked = now.resyncSent >= 1 || this.mode === 'ALARM';
      if (now.hello === 'done' && asked && now.msgsReceived === last.msgsReceived) return;
      last = now;
    }
  }

  /** Replaces the node's `UDP Default { … }` block with `block` (lines inside Sync, indented). */
  replaceChannel(block: string): void {
    const text = fs.readFileSync(this.conf, 'utf8');
    const next = text.replace(/ {2}UDP Default \{\n[\s\S]*?\n {2}\}\n/, `${block}\n`);
    if (next === text) throw new Error(`${this.conf} has no UDP Default block to replace`);
    fs.writeFileSync(this.conf, next);
  }

  /**
   * Writes the node's `Sync > Authentication` block (replacing the one there), or removes it
   * (`undefined`: authentication off).
   */
  setAuthentication(auth: AuthBlock | undefined): void {
    const text = fs.readFileSync(this.conf, 'utf8').replace(/ {2}Authentication \{\n[\s\S]*?\n {2}\}\n/, '');
    if (!auth) return fs.writeFileSync(this.conf, text);
    const block = [
      '  Authentication {',
      ...(auth.mode ? [`    Mode ${auth.mode}`] : []),
      ...auth.keys.map(([id, file]) => `    Key ${id} ${file}`),
      ...(auth.activeKey === undefined ? [] : [`    ActiveKey ${auth.activeKey}`]),
      '  }',
    ];
    // the first closing brace at the start of a line ends Sync (pairNodeConf writes Sync first)
    fs.writeFileSync(this.conf, text.replace(/^\}$/m, `${block.join('\n')}\n}`));
  }

  /** The pid of this node's daemon (found by its configuration file in the namespace). */
  async pid(): Promise<number> {
    const [pid] = await this.daemonPids();
    if (pid === undefined) throw new Error(`no daemon of ${this.name} runs${this.logTail()}`);
    return pid;
  }

  /** The processes in the namespace whose command line names this node's configuration file. */
  private async daemonPids(): Promise<number[]> {
    const pids = await this.ns.exec('ip', ['netns', 'pids', this.ns.name]);
    return pids.stdout
      .split(/\s+/)
      .filter(Boolean)
      .filter((pid) => {
        const cmd = fs.existsSync(`/proc/${pid}/cmdline`) ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
        return cmd.includes(this.conf);
      })
      .map(Number);
  }

  /**
   * A reload (SIGHUP, what systemd's ExecReload sends): resolves with the log lines the daemon
   * wrote about it once it has finished (a line starting "configuration re-read").
   */
  async reload(timeoutMs = 10_000): Promise<string[]> {
    const before = this.logLines().length;
    process.kill(await this.pid(), 'SIGHUP');
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const added = this.logLines().slice(before);
      if (added.some((l) => l.includes('configuration re-read'))) return added;
      await sleep(50);
    }
    throw new Error(`${this.name} did not finish a reload in ${timeoutMs} ms${this.logTail()}`);
  }

  /** The `auth …` rows of the node's `-s`, by name (`accepted`, `bad MAC`, …). */
  async authStats(): Promise<Record<string, number>> {
    const r = await this.client(['-s']);
    if (r.exitCode !== 0) throw new Error(`-s on ${this.name}: ${r.stderr}`);
    const out: Record<string, number> = {};
    for (const m of r.stdout.matchAll(/^\tauth ([^:]+):\s+(\d+)$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  }

  private logLines(): string[] {
    return fs.existsSync(this.log) ? fs.readFileSync(this.log, 'utf8').split('\n').filter(Boolean) : [];
  }

  logTail(): string {
    try {
      return '\n--- log ' + this.log + ':\n' + fs.readFileSync(this.log, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

  /** The external cache as lines without the "[active since]" suffix, sorted. */
  async external(): Promise<string[]> {
    const r = await this.client(['-e']);
    if (r.exitCode !== 0) throw new Error(`-e on ${this.name}: ${r.stderr}`);
    return stripActive(r.stdout);
  }

  async internal(): Promise<string[]> {
    const r = await this.client(['-i']);
    if (r.exitCode !== 0) throw new Error(`-i on ${this.name}: ${r.stderr}`);
    return stripActive(r.stdout);
  }
}

/** Cache dump lines without the "[active since]" suffix, nor Mode ALARM's "[expires in]", sorted. */
export function stripActive(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/(?: \[expires in -?\d+s\])? \[active since \d+s\]$/, ''))
    .sort();
}

/** Drops `probability` of the sync datagrams arriving at `node` (iptables statistic match). */
export async function dropOnReceiver(node: SyncNode, probability: number): Promise<void> {
  const r = await node.ns.exec('iptables', [
    '-I',
    'INPUT',
    '-p',
    'udp',
    '--dport',
    String(PAIR_PORT),
    '-m',
    'statistic',
    '--mode',
    'random',
    '--probability',
    String(probability),
    '-j',
    'DROP',
  ]);
  if (r.exitCode !== 0) throw new Error(`iptables on ${node.name}: ${r.stderr}`);
}

/** Sync datagrams dropped so far by dropOnReceiver's rule. */
export async function droppedAtReceiver(node: SyncNode): Promise<number> {
  const r = await node.ns.exec('iptables', ['-L', 'INPUT', '-v', '-n', '-x']);
  const line = r.stdout.split('\n').find((l) => l.includes('statistic'));
  return line ? Number(line.trim().split(/\s+/)[0]) : 0;
}

/** Removes dropOnReceiver's rule. */
export async function stopDropping(node: SyncNode): Promise<void> {
  const r = await node.ns.exec('iptables', ['-F', 'INPUT']);
  if (r.exitCode !== 0) throw new Error(`iptables -F on ${node.name}: ${r.stderr}`);
}

/** What a peer's `-e` must show for the given kernel entries (conntrackd's external layout). */
export function expectedExternal(entries: Entry[]): string[] {
  return entries.map((e) => formatCacheEntry(e, 0, true).replace(/ \[active since 0s\]$/, '')).sort();
}

export { sleep };

export class SyncPair {
  readonly dir: string;
  a!: SyncNode;
  b!: SyncNode;

  private constructor(
    readonly nsA: Netns,
    readonly nsB: Netns,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-pair-'));
  }

  /** Two namespaces, linked; nodes configured but not started. */
  static async create(prefix: string, implA: NodeOptions, implB: NodeOptions): Promise<SyncPair> {
    const nsA = await Netns.create(`${prefix}a`);
    const nsB = await Netns.create(`${prefix}b`);
    const pair = new SyncPair(nsA, nsB);
    const link = await vethPair(nsA, nsB, '192.0.2.1/24', '192.0.2.2/24');
    pair.a = new SyncNode(nsA, implA.impl, 'a', pair.dir, '192.0.2.1', '192.0.2.2', link.ifA, implA);
    pair.b = new SyncNode(nsB, implB.impl, 'b', pair.dir, '192.0.2.2', '192.0.2.1', link.ifB, implB);
    return pair;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([this.a?.stop(), this.b?.stop()]);
    await Promise.allSettled([this.nsA.destroy(), this.nsB.destroy()]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes entries as JSON lines and loads them into a node's kernel with `ctsync ct load`. */
  async load(node: SyncNode, entries: Entry[], extra: string[] = []): Promise<void> {
    const file = path.join(this.dir, `load-${Date.now()}-${Math.random().toString(16).slice(2)}.jsonl`);
    fs.writeFileSync(file, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = await node.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'load', '-q', ...extra, file]);
    fs.rmSync(file, { force: true });
    if (r.exitCode !== 0) throw new Error(`ct load ${extra.join(' ')} on ${node.name}: ${r.stderr}`);
  }

  /** Updates existing kernel entries (`ctsync ct load --update`). */
  async update(node: SyncNode, entries: Entry[]): Promise<void> {
    await this.load(node, entries, ['--update']);
  }

  /** The node's kernel table (ctsync ct list --json). */
  async kernel(node: SyncNode): Promise<Entry[]> {
    const r = await node.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'list', '--json']);
    if (r.exitCode !== 0) throw new Error(`ct list on ${node.name}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Entry);
  }

  /**
   * Waits until `to`'s external cache equals what `from`'s kernel holds; returns the time it
   * took. On timeout, fails with the difference.
   */
  async converge(from: SyncNode, to: SyncNode, timeoutMs = 60_000): Promise<number> {
    const t0 = Date.now();
    let want: string[] = [];
    let got: string[] = [];
    while (Date.now() - t0 < timeoutMs) {
      want = expectedExternal(await this.kernel(from));
      got = await to.external();
      if (got.length === want.length && got.every((l, i) => l === want[i])) return Date.now() - t0;
      await sleep(250);
    }
    const wantSet = new Set(want);
    const gotSet = new Set(got);
    const missing = want.filter((l) => !gotSet.has(l));
    const extra = got.filter((l) => !wantSet.has(l));
    throw new Error(
      `${to.impl} on ${to.name} did not converge with ${from.name}'s kernel in ${timeoutMs} ms: ` +
        `${want.length} expected, ${got.length} present, ${missing.length} missing, ${extra.length} unexpected\n` +
        `missing: ${missing.slice(0, 5).join('\n         ')}\nunexpected: ${extra.slice(0, 5).join('\n            ')}${to.logTail()}`,
    );
  }
}

/** n flows of mixed protocols (tcp in several states, udp, icmp, IPv6, sctp; marks and zones). */
export function mixedFlows(n: number, base = 0): Entry[] {
  const out: Entry[] = [];
  for (let k = 0; k < n; k++) {
    const i = k + base;
    const a = `198.51.100.${i % 250}`;
    const b = `203.0.113.${Math.floor(i / 250) % 250}`;
    const sport = 1024 + (Math.floor(i / 62500) % 60000);
    const kind = i % 10;
    const timeout = 3600;
    if (kind <= 4) {
      const states = [3, 3, 3, 1, 7];
      out.push({
        family: 2,
        orig: { src: a, dst: b, proto: 6, sport, dport: 80 + (i % 3) },
        status: states[kind] === 3 ? 14 : 8,
        timeout,
        mark: i % 7,
        tcp: { state: states[kind] },
        ...(i % 50 === 0 ? { zone: 5 } : {}),
      });
    } else if (kind <= 6) {
      out.push({
        family: 2,
        orig: { src: a, dst: b, proto: 17, sport, dport: 53 },
        status: kind === 5 ? 14 : 8,
        timeout,
        mark: 0,
      });
    } else if (kind === 7) {
      out.push({
        family: 2,
        orig: { src: a, dst: b, proto: 1, icmpType: 8, icmpCode: 0, icmpId: sport },
        status: 8,
        timeout: 30,
        mark: 0,
      });
    } else if (kind === 8) {
      out.push({
        family: 10,
        orig: {
          src: `2001:db8::${(i % 65000).toString(16)}`,
          dst: `2001:db8:1::${Math.floor(i / 65000).toString(16)}`,
          proto: 6,
          sport,
          dport: 443,
        },
        status: 14,
        timeout,
        mark: 1,
        tcp: { state: 3 },
      });
    } else {
      out.push({
        family: 2,
        orig: { src: a, dst: b, proto: 132, sport, dport: 5000 },
        status: 8,
        timeout,
        mark: 0,
        sctp: { state: 4, vtagOrig: 1000 + i, vtagReply: 2000 + i },
      });
    }
  }
  return out;
}

const tcp = (src: string, dst: string, sport: number, dport: number): Tuple => ({ src, dst, proto: 6, sport, dport });

/**
 * n FTP control connections (ESTABLISHED, ftp helper) and one expectation for each (the ftp
 * helper allows one per master): both families, every 5th PERMANENT, the third one with NAT.
 */
export function ftpSessions(n: number): { masters: Entry[]; expects: Expect[] } {
  const masters: Entry[] = [];
  const expects: Expect[] = [];
  for (let i = 0; i < n; i++) {
    const v6 = i % 4 === 3;
    const client = v6 ? `2001:db8::${i + 1}` : `192.0.2.${10 + i}`;
    const server = v6 ? `2001:db8:1::${i + 1}` : `198.51.100.${10 + i}`;
    const orig = tcp(client, server, 40000 + i, 21);
    masters.push({ family: v6 ? 10 : 2, orig, status: 6, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' });
    const x: Expect = {
      family: v6 ? 10 : 2,
      master: orig,
      tuple: tcp(client, server, 0, 50000 + i),
      // given by its source part only, as a user would (the loader fills in the rest)
      mask: { src: v6 ? 'ffff:ffff:ffff:ffff::' : '255.255.255.255', sport: 0 } as Tuple,
    };
    if (i % 5 === 1) x.flags = 1; // PERMANENT
    if (i === 2) {
      // active FTP through NAT: the server connects back to the NATed address
      Object.assign(x, {
        tuple: tcp(server, '203.0.113.5', 0, 6000),
        natDir: 1,
        natTuple: { src: client, proto: 6, sport: 5000 },
        fn: 'nat-follow-master',
      });
    }
    expects.push(x);
  }
  return { masters, expects };
}

/**
 * Another process in the node's namespace that creates a UDP flow every millisecond or so for
 * `ms` (198.51.100.`dstOctet` port 5353, sources from 203.0.113.0/24, source ports from
 * `sportBase`), and deletes the one it made `deleteLag` before when that is given. Resolves with
 * how many it created.
 */
export async function flowChurn(
  node: SyncNode,
  opts: { ms: number; dstOctet: number; sportBase: number; deleteLag?: number },
): Promise<number> {
  const script = `
    const { ConntrackClient } = await import(${JSON.stringify(path.join(repoRoot(), 'dist/src/netlink/conntrack-client.js'))});
    const c = new ConntrackClient();
    const flow = (i) => ({ family: 2, orig: { src: '203.0.113.' + (1 + (i % 250)), dst: '198.51.100.${opts.dstOctet}', proto: 17, sport: ${opts.sportBase} + Math.floor(i / 250), dport: 5353 }, status: 8, timeout: 600, mark: 0 });
    const lag = ${opts.deleteLag ?? 0};
    const end = Date.now() + ${opts.ms};
    let i = 0;
    for (; Date.now() < end; i++) {
      await c.create([flow(i)]);
      if (lag > 0 && i >= lag) await c.delete([flow(i - lag)]);
      await new Promise((r) => setTimeout(r, 1));
    }
    console.log(i);`;
  const r = await node.ns.exec(process.execPath, ['--input-type=module', '-e', script]);
  if (r.exitCode !== 0) throw new Error(`flow churn on ${node.name}: ${r.stderr}`);
  return Number(r.stdout);
}
