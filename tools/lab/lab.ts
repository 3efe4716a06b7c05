// One failover experiment: build the lab, start the daemons, run traffic through the active
// gateway, break it, watch the backup take over (and the original come back), report.
//
//   const result = await runExperiment({ sync: true, ... });
//
// With sync, the gateways run ctsync (conntrackd.conf syntax, UDP on the sync link) and keepalived
// drives it; without (the control experiment) keepalived still moves the VIPs but nothing carries the
// conntrack entries over, so the new gateway drops the established connections' packets.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ctsyncBin, type Netns } from '../lib/netns.js';
import { keepalivedArgs } from '../lib/keepalived.js';
import { controlRequest } from '../../src/control/client.js';
import {
  ADDR,
  buildTopology,
  destroyTopology,
  firewallCounters,
  setLinks,
  type Gateway,
  type GwName,
  type Topology,
} from './topology.js';
import { writeGatewayFiles, type GatewayFiles, type HaMode } from './configs.js';
import type { ClientEvent, ConnReport, ServerEvent, UdpReport } from './traffic.js';

export type FailureKind = 'keepalived' | 'link';

export interface LabOptions {
  /** Run ctsync on the gateways (false: the control experiment). */
  sync: boolean;
  connections: number;
  /** Synthetic flows loaded into the active gateway's table before the failover. */
  flows: number;
  failure: FailureKind;
  /** Bring the original gateway back afterwards (and watch the connections move back). */
  failback: boolean;
  ha: HaMode;
  /** --ha native: commit on demand during a promotion's commit instead of the drop guard alone (default off). */
  onDemand?: boolean;
  /** VRRP advertisement interval, seconds (VRRPv3: hundredths allowed). */
  advertInt: number;
  /** keepalived preempt_delay, seconds. */
  preemptDelay: number;
  /** A connection silent for this long is declared lost. */
  stallMs: number;
  /** Steady traffic before the failure and after each recovery. */
  holdMs: number;
  /** Namespace name prefix (ctsync-<prefix>-<role>-<pid>-<random>). */
  prefix: string;
  /** Where the generated files and logs go (default: a new temporary directory). */
  dir?: string;
  /** Progress output (one line per call); default: stdout. */
  print?: (line: string) => void;
  /** Print a status line this often while traffic runs (ms); 0: never. */
  statusEvery?: number;
  /** Stop before tearing down: keep the lab running (see Lab.describe()). */
  keep?: boolean;
  /**
   * --ha native only: ctsync serves Prometheus metrics on each gateway's sync address
   * (ADDR.metricsPort, open to the peer), with the traffic guard and signed sync datagrams on, so
   * that every figure exists.
   */
  metrics?: boolean;
}

export interface Commit {
  gw: GwName;
  at: number;
  committed: number;
  replaced: number;
  failed: number;
  /** ctsync's own measure of the commit. */
  seconds: number;
  /** The `ctsync -c` call as the notify script saw it (node start included). */
  wallMs?: number;
}

export interface ConnResult {
  conn: number;
  local?: string;
  rxBytes: number;
  txBytes: number;
  /** Silence around the failover: last byte before → first byte after (ms); null = lost. */
  failoverGapMs: number | null;
  failbackGapMs: number | null;
  lost?: { reason: string; phase: 'failover' | 'failback' | 'other'; atMs: number };
  mismatches: number;
}

export interface ExperimentResult {
  sync: boolean;
  ha: HaMode;
  onDemand: boolean;
  failure: FailureKind;
  withFailback: boolean;
  connections: ConnResult[];
  udp: { tx: number; rx: number; failoverGapMs: number | null; failbackGapMs: number | null };
  /** Milestones in ms after the failure injection. */
  failover: { masterAfterMs?: number; commitDoneAfterMs?: number; commit?: Commit };
  failback: { startedAtMs?: number; masterAfterMs?: number; commitDoneAfterMs?: number; commit?: Commit };
  flows: { loaded: number; replicatedMs?: number; inBackupKernelAfterFailover?: number };
  firewall: Record<GwName, Record<string, number>>;
  serverResets: number;
  /** Role changes to MASTER beyond those the experiment caused (missed VRRP adverts: flaps, split brain). */
  vrrpFlaps: number;
  /** Every TCP connection survived (sync) / every TCP connection died (control). */
  expected: boolean;
  dir: string;
}

interface NotifyStep {
  t: number;
  state: string;
  step: string;
  rc: number;
  ms: number;
  out: string;
}

interface GwState {
  gw: Gateway;
  files: GatewayFiles;
  roles: Record<string, string>;
  /** Group-level role changes seen in keepalived's log. */
  roleChanges: Array<{ t: number; role: string }>;
  keepalived?: ReturnType<Netns['spawn']>;
  ctsync?: ReturnType<Netns['spawn']>;
  notify: NotifyStep[];
  notifyOffset: number;
  commits: Commit[];
  /** ctsync's own HA log lines (`ha: …`, --ha native). */
  haLines: Array<{ t: number; msg: string }>;
  counters?: { internal: number; external: number };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const TRAFFIC = path.join(here, 'traffic.js');
const GAP_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lines(stream: Readable | null | undefined, fn: (line: string) => void): void {
  if (!stream) return;
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', fn);
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n}B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)}k` : `${(n / 1024 / 1024).toFixed(1)}M`;
}

export class Lab {
  readonly dir: string;
  readonly ownDir: boolean;
  private readonly t0 = Date.now();
  private topo!: Topology;
  private readonly gws = {} as Record<GwName, GwState>;
  private readonly print: (line: string) => void;
  private server?: ReturnType<Netns['spawn']>;
  private serverListening = false;
  private serverResets = 0;
  private client?: ReturnType<Netns['spawn']>;
  private clientStatus?: { t: number; conns: ConnReport[]; udp: UdpReport };
  private clientFinal?: { conns: ConnReport[]; udp: UdpReport };
  private clientFatal?: string;
  private timers: NodeJS.Timeout[] = [];
  private logs = new Map<string, fs.WriteStream>();
  private flowsReplicatedMs?: number;
  private marks: { fail?: number; failback?: number } = {};

  constructor(readonly o: LabOptions) {
    this.ownDir = !o.dir;
    this.dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-lab-'));
    fs.mkdirSync(this.dir, { recursive: true });
    this.print = o.print ?? ((l) => process.stdout.write(l + '\n'));
  }

  // ------------------------------------------------------------------------------ output

  private rel(t = Date.now()): string {
    return `+${((t - this.t0) / 1000).toFixed(3).padStart(7)}s`;
  }

  say(who: string, what: string, t?: number): void {
    this.print(`${this.rel(t)}  ${who.padEnd(6)} ${what}`);
  }

  private log(name: string, line: string): void {
    let s = this.logs.get(name);
    if (!s) {
      s = fs.createWriteStream(path.join(this.dir, name), { flags: 'a' });
      this.logs.set(name, s);
    }
    s.write(`${new Date().toISOString()} ${line}\n`);
  }

  // ------------------------------------------------------------------------------ setup

  /** The namespaces, links, firewalls and configuration files (nothing runs yet). */
  async setup(): Promise<void> {
    const o = this.o;
    if (o.ha === 'native' && !fs.existsSync(path.join(path.dirname(ctsyncBin()), '..', 'ha'))) {
      throw new Error(
        "--ha native needs ctsync's own keepalived integration (src/ha), which is not built yet: use --ha script",
      );
    }
    this.say(
      'lab',
      `building the topology (${o.sync ? 'with ctsync' : 'CONTROL: no conntrack sync'}); files and logs in ${this.dir}`,
    );
    if (o.metrics && (o.ha !== 'native' || !o.sync))
      throw new Error('metrics: the Prometheus endpoint needs ctsync with --ha native (a JSON configuration)');
    this.topo = await buildTopology(o.prefix);
    const authKeyFile = o.metrics ? path.join(this.dir, 'sync.key') : undefined;
    if (authKeyFile) execFileSync(process.execPath, [ctsyncBin(), 'key', 'generate', authKeyFile]);
    const hashLimit = Math.max(262144, 2 ** Math.ceil(Math.log2(o.flows * 2 + 1024)));
    for (const gw of [this.topo.gwA, this.topo.gwB]) {
      const files = writeGatewayFiles(gw, {
        dir: this.dir,
        ha: o.ha,
        sync: o.sync,
        advertInt: o.advertInt,
        preemptDelay: o.preemptDelay,
        hashLimit,
        node: process.execPath,
        ctsyncMain: ctsyncBin(),
        onDemand: o.onDemand ?? false,
        ...(o.metrics ? { metrics: true, guard: true, authKeyFile } : {}),
      });
      this.gws[gw.name] = {
        gw,
        files,
        roles: {},
        roleChanges: [],
        notify: [],
        notifyOffset: 0,
        commits: [],
        haLines: [],
      };
    }
  }

  /** A gateway of the running lab (its namespace and addresses). */
  gateway(name: GwName): Gateway {
    return this.gws[name].gw;
  }

  private role(name: GwName): string {
    const g = this.gws[name];
    if (!g.keepalived || g.keepalived.exitCode !== null) return 'stopped';
    const states = new Set(Object.values(g.roles));
    if (states.size === 0) return 'starting';
    if (states.size === 1 && Object.keys(g.roles).length === 2) return [...states][0]!;
    return [...states].join('/');
  }

  async start(): Promise<void> {
    this.startServer();
    await this.waitFor(() => this.serverListening, 10_000, 'the traffic server to listen');
    if (this.o.sync) {
      for (const name of ['gwA', 'gwB'] as const) await this.startCtsync(name);
    }
    this.timers.push(setInterval(() => void this.poll(), 250));
    this.timers.push(setInterval(() => Object.values(this.gws).forEach((g) => this.readNotify(g)), 100));
    await this.startKeepalived('gwA');
    await this.waitRole('gwA', 'MASTER', 15_000);
    await this.waitNotifyDone('gwA', 'primary', 20_000);
    await this.startKeepalived('gwB');
    await this.waitRole('gwB', 'BACKUP', 15_000);
    await this.waitNotifyDone('gwB', 'backup', 20_000);
    if (this.o.flows > 0) await this.loadFlows();
    await this.startClient();
    if (this.o.sync) await this.waitReplicated();
    if (this.o.statusEvery) this.timers.push(setInterval(() => this.status(), this.o.statusEvery));
    await sleep(this.o.holdMs);
  }

  private startServer(): void {
    this.server = this.topo.server.spawn(process.execPath, [
      TRAFFIC,
      'server',
      '--addr',
      ADDR.server,
      '--tcp-port',
      String(ADDR.tcpPort),
      '--udp-port',
      String(ADDR.udpPort),
    ]);
    lines(this.server.stdout, (l) => {
      this.log('traffic-server.log', l);
      let ev: ServerEvent;
      try {
        ev = JSON.parse(l) as ServerEvent;
      } catch {
        return;
      }
      if (ev.ev === 'listening') this.serverListening = true;
      if (ev.ev === 'close' && ev.error) {
        this.serverResets++;
        this.say('server', `connection from ${ev.remote} ended with ${ev.error}`, ev.t);
      }
    });
    lines(this.server.stderr, (l) => this.log('traffic-server.log', `stderr: ${l}`));
  }

  private async startCtsync(name: GwName): Promise<void> {
    const g = this.gws[name];
    g.ctsync = g.gw.ns.spawn(process.execPath, [ctsyncBin(), '-C', g.files.ctsyncConf]);
    const show = /^ha:|commit|flush|resync|bulk|purge|error|warn|peer|link|overrun/i;
    const onLine = (l: string): void => {
      this.log(`ctsync-${name}.out`, l);
      const m = /^\[[^\]]+\] \((\w+)\) (.*)$/.exec(l);
      const msg = m ? m[2]! : l;
      if (msg.startsWith('ha:')) g.haLines.push({ t: Date.now(), msg });
      if (m && !show.test(msg) && m[1] !== 'error' && m[1] !== 'warn') return;
      this.say(name, `ctsync: ${msg}`);
      // native mode: the daemon commits by itself; its log line carries the numbers
      const c = /committed (\d+) entries \((\d+) replaced\), (\d+) failed, in ([\d.]+) s/.exec(msg);
      if (c && this.o.ha === 'native') {
        g.commits.push({
          gw: name,
          at: Date.now(),
          committed: Number(c[1]),
          replaced: Number(c[2]),
          failed: Number(c[3]),
          seconds: Number(c[4]),
        });
      }
    };
    lines(g.ctsync.stdout, onLine);
    lines(g.ctsync.stderr, onLine);
    for (let i = 0; i < 200; i++) {
      if (g.ctsync.exitCode !== null) break;
      try {
        await controlRequest(g.files.ctsyncSock, { cmd: 'stats', args: { section: 'general' } });
        this.say(
          name,
          `ctsync running (sync link ${g.gw.syncAddr} -> ${g.gw.peerSyncAddr}, control socket ${g.files.ctsyncSock})`,
        );
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`ctsync on ${name} did not start; see ${path.join(this.dir, `ctsync-${name}.out`)}`);
  }

  private async startKeepalived(name: GwName): Promise<void> {
    const g = this.gws[name];
    g.roles = {};
    g.roleChanges.push({ t: Date.now(), role: 'starting' });
    const sub = g.gw.ns.spawn('keepalived', keepalivedArgs(g.files.keepalivedConf, g.files.pidFiles));
    g.keepalived = sub;
    this.say(name, `keepalived started (priority ${g.gw.priority}, advert_int ${this.o.advertInt} s)`);
    const interesting =
      /Entering|priority 0 advert|advertisement timeout|Stopping|Stopped Keepalived|preempt delay|link (down|up)| is (down|up)|Interface .* (down|up)|WARNING|error/i;
    const onLine = (l: string): void => {
      this.log(`keepalived-${name}.log`, l);
      const msg = l.replace(/^\w{3} \w{3} +\d+ [\d:]+ \d{4}: /, '');
      if (/^Stopping$/.test(msg.trim())) for (const k of Object.keys(g.roles)) g.roles[k] = 'stopping';
      const st = /\((\w+)\) Entering (\w+) STATE/.exec(msg);
      if (interesting.test(msg) && !/Sending gratuitous/.test(msg)) this.say(name, `keepalived: ${msg}`);
      if (st) {
        g.roles[st[1]!] = st[2]!;
        const role = this.role(name);
        if (['MASTER', 'BACKUP', 'FAULT'].includes(role) && g.roleChanges.at(-1)?.role !== role) {
          g.roleChanges.push({ t: Date.now(), role });
          this.say(
            name,
            `is now ${role} (both VIPs${role === 'MASTER' ? ` ${ADDR.vipClient} and ${ADDR.vipServer} here` : ' elsewhere'})`,
          );
        }
      }
    };
    lines(sub.stdout, onLine);
    lines(sub.stderr, onLine);
    void sub.then((r) => {
      if (g.keepalived !== sub) return;
      g.roleChanges.push({ t: Date.now(), role: 'stopped' });
      this.say(name, `keepalived exited (${r.signal ?? `code ${r.exitCode}`})`);
    });
  }

  private async stopKeepalived(name: GwName): Promise<void> {
    const sub = this.gws[name].keepalived;
    if (!sub || sub.exitCode !== null) return;
    sub.kill('SIGTERM');
    const done = await Promise.race([sub.then(() => true), sleep(10_000).then(() => false)]);
    if (!done) {
      sub.kill('SIGKILL');
      await sub;
    }
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private startClient(): Promise<void> {
    const args = [
      TRAFFIC,
      'client',
      '--server',
      ADDR.server,
      '--bind',
      ADDR.client,
      '--connections',
      String(this.o.connections),
      '--tcp-port',
      String(ADDR.tcpPort),
      '--udp-port',
      String(ADDR.udpPort),
      '--interval',
      '50',
      '--gap',
      String(GAP_MS),
      '--stall',
      String(this.o.stallMs),
    ];
    this.client = this.topo.client.spawn(process.execPath, args, { stdin: 'pipe' });
    let connected = 0;
    lines(this.client.stdout, (l) => {
      this.log('traffic-client.jsonl', l);
      let ev: ClientEvent;
      try {
        ev = JSON.parse(l) as ClientEvent;
      } catch {
        return;
      }
      switch (ev.ev) {
        case 'connected':
          connected++;
          this.say(
            'client',
            `TCP #${ev.conn} connected from ${ev.local} to ${ADDR.server}:${ADDR.tcpPort} (via VIP ${ADDR.vipClient})`,
            ev.t,
          );
          break;
        case 'gap':
          this.say(
            'client',
            `${ev.conn === 'udp' ? 'UDP flow' : `TCP #${ev.conn}`}: data flows again after ${ev.ms} ms of silence`,
            ev.t,
          );
          break;
        case 'lost':
          this.say('client', `TCP #${ev.conn}: LOST (${ev.reason}; last byte ${ev.t - ev.lastRx} ms before)`, ev.t);
          break;
        case 'status':
          this.clientStatus = ev;
          break;
        case 'final':
          this.clientFinal = ev;
          break;
        case 'fatal':
          this.clientFatal = ev.message;
          this.say('client', ev.message, ev.t);
          break;
      }
    });
    lines(this.client.stderr, (l) => this.log('traffic-client.jsonl', `stderr: ${l}`));
    return this.waitFor(
      () =>
        this.clientFatal === undefined &&
        connected === this.o.connections &&
        !!this.clientStatus?.conns.every((c) => c.rx > 0) &&
        (this.clientStatus?.udp.rx ?? 0) > 0,
      10_000,
      'the client connections to carry data',
      () => this.clientFatal,
    );
  }

  // ------------------------------------------------------------------------------ monitoring

  private polling = false;

  /** ctsync's cache counters (the same as `ctsync -s --json`), over the control socket. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.pollCounters();
    } finally {
      this.polling = false;
    }
  }

  /** ctsync's live cache entries on a gateway (as `ctsync -s --json` counts them), asked now. */
  async cacheCounts(name: GwName): Promise<{ internal: number; external: number }> {
    const r = (await controlRequest(this.gws[name].files.ctsyncSock, {
      cmd: 'stats',
      args: { section: 'general' },
    })) as {
      counters: { internal: { active: number }; external: { active: number } };
    };
    return { internal: r.counters.internal.active, external: r.counters.external.active };
  }

  private async pollCounters(): Promise<void> {
    for (const g of Object.values(this.gws)) {
      if (this.o.sync && g.ctsync && g.ctsync.exitCode === null) {
        try {
          g.counters = await this.cacheCounts(g.gw.name);
        } catch {
          g.counters = undefined;
        }
      }
    }
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private readNotify(g: GwState): void {
    let text: string;
    try {
      const fd = fs.openSync(g.files.notifyLog, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= g.notifyOffset) return;
        const buf = Buffer.alloc(size - g.notifyOffset);
        fs.readSync(fd, buf, 0, buf.length, g.notifyOffset);
        const end = buf.lastIndexOf(0x0a);
        if (end < 0) return;
        text = buf.subarray(0, end + 1).toString();
        g.notifyOffset += end + 1;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return; // not written yet
    }
    for (const l of text.split('\n')) {
      if (!l) continue;
      const [t, state, step, rc, ms, ...rest] = l.split('\t');
      const s: NotifyStep = {
        t: Number(t),
        state: state!,
        step: step!,
        rc: Number(rc),
        ms: Number(ms),
        out: rest.join('\t'),
      };
      g.notify.push(s);
      const name = g.gw.name;
      if (s.step === 'begin') {
        this.say(name, `notify ${s.state}: keepalived ran ${path.basename(g.files.notifyScript)} ${s.state}`, s.t);
        continue;
      }
      if (s.step === 'end') {
        this.say(name, `notify ${s.state}: done${s.out ? ` (${s.out})` : ''}`, s.t);
        continue;
      }
      const flag =
        { commit: '-c', flush: '-f', resync: '-R', bulk: '-B', probe: '-s', start: '-d', purge: '-t', request: '-n' }[
          s.step
        ] ?? s.step;
      let detail = s.out;
      if (s.step === 'commit') {
        // {"committed":N,"replaced":N,"failed":[{reason,entry}...],"seconds":S}, possibly cut short
        const num = (k: string): number | undefined => {
          const m = new RegExp(`"${k}":([\\d.]+)`).exec(s.out);
          return m ? Number(m[1]) : undefined;
        };
        const committed = num('committed');
        if (committed !== undefined) {
          const c: Commit = {
            gw: name,
            at: s.t + s.ms,
            committed,
            replaced: num('replaced') ?? 0,
            failed: 0,
            seconds: num('seconds') ?? NaN,
            wallMs: s.ms,
          };
          const failedList = /"failed":\[(.*)/.exec(s.out)?.[1] ?? '';
          c.failed = failedList.startsWith(']') ? 0 : (failedList.match(/"reason":/g) ?? []).length;
          const reasons = [...new Set([...failedList.matchAll(/"reason":"([^"]*)"/g)].map((m) => m[1]))];
          g.commits.push(c);
          detail = `committed ${c.committed} entries (${c.replaced} replaced, ${c.failed}${failedList.length > 500 ? '+' : ''} failed${reasons.length ? `: ${reasons.join(', ')}` : ''}) in ${(c.seconds * 1000).toFixed(1)} ms`;
        }
      } else if (s.step === 'probe') {
        detail = s.rc === 0 ? 'ctsync answers' : detail;
      }
      this.say(
        name,
        `notify ${s.state}: ctsync ${flag} -> exit ${s.rc} after ${s.ms} ms${detail ? `: ${detail}` : ''}`,
        s.t + s.ms,
      );
    }
  }

  private status(): void {
    const st = this.clientStatus;
    // silence as of the client's last report (every 500 ms)
    const silent = (lastRx: number): string | undefined =>
      st && st.t - lastRx > 200 ? `silent ${((st.t - lastRx) / 1000).toFixed(1)}s` : undefined;
    let conns = '-';
    if (st && st.conns.length <= 8)
      conns = st.conns.map((c) => (c.lost ? 'LOST' : (silent(c.lastRx) ?? fmtBytes(c.rx)))).join(' ');
    else if (st) {
      const lost = st.conns.filter((c) => c.lost).length;
      const quiet = st.conns.filter((c) => !c.lost && silent(c.lastRx)).length;
      conns = `${st.conns.length - lost - quiet} flowing, ${quiet} silent, ${lost} lost, ${fmtBytes(st.conns.reduce((n, c) => n + c.rx, 0))} in all`;
    }
    const udp = st ? (silent(st.udp.lastRx) ?? `${st.udp.rx} echoes`) : '-';
    const caches = this.o.sync
      ? ` | ctsync gwA int ${this.gws.gwA.counters?.internal ?? '-'} ext ${this.gws.gwA.counters?.external ?? '-'}, gwB int ${this.gws.gwB.counters?.internal ?? '-'} ext ${this.gws.gwB.counters?.external ?? '-'}`
      : '';
    this.say('status', `gwA ${this.role('gwA')}, gwB ${this.role('gwB')} | TCP rx ${conns} | UDP ${udp}${caches}`);
  }

  private async waitFor(
    cond: () => boolean,
    timeoutMs: number,
    what: string,
    why?: () => string | undefined,
  ): Promise<void> {
    const t = Date.now();
    while (!cond()) {
      const reason = why?.();
      if (reason) throw new Error(`while waiting for ${what}: ${reason}`);
      if (Date.now() - t > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(50);
    }
  }

  private waitRole(name: GwName, role: string, timeoutMs: number): Promise<void> {
    return this.waitFor(() => this.role(name) === role, timeoutMs, `${name} to become ${role}`);
  }

  /** Waits for the end of a notify run for `state` that began at or after `since` (script mode). */
  private async waitNotifyDone(name: GwName, state: string, timeoutMs: number, since = 0): Promise<number | undefined> {
    const g = this.gws[name];
    if (this.o.ha === 'native') {
      // ctsync runs the sequence itself and logs `ha: <transition> … done …`
      if (!this.o.sync) return undefined;
      const kind = { primary: 'promote', backup: 'demote', fault: 'fault' }[state] ?? state;
      let hit: { t: number } | undefined;
      await this.waitFor(
        () => {
          hit = g.haLines.find((l) => l.t >= since && l.msg.includes(kind) && /\bdone\b/.test(l.msg));
          return hit !== undefined;
        },
        timeoutMs,
        `ctsync on ${name} to finish its ${kind} (--ha native: is ctsync's keepalived integration wired in? see nativeHaSection() in tools/lab/configs.ts)`,
      );
      return hit!.t;
    }
    let done: NotifyStep | undefined;
    await this.waitFor(
      () => {
        this.readNotify(g);
        const begin = g.notify.findIndex((s) => s.step === 'begin' && s.state === state && s.t >= since - 1000);
        done = begin < 0 ? undefined : g.notify.slice(begin).find((s) => s.step === 'end');
        return done !== undefined;
      },
      timeoutMs,
      `${name}'s notify script (${state}) to finish`,
    );
    return done!.t;
  }

  private async loadFlows(): Promise<void> {
    const n = this.o.flows;
    const file = path.join(this.dir, 'flows.jsonl');
    fs.writeFileSync(file, syntheticFlows(n));
    const gwA = this.gws.gwA;
    this.say('lab', `loading ${n} synthetic flows into gwA's conntrack table (ctsync ct load)`);
    const t = Date.now();
    const r = await gwA.gw.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'load', '--json', file], { timeout: 300_000 });
    if (r.exitCode !== 0) throw new Error(`ct load on gwA failed: ${r.stderr}`);
    this.say('gwA', `ct load: ${r.stdout.trim()} in ${Date.now() - t} ms`);
    if (!this.o.sync) return;
    await this.waitFor(
      () => (this.gws.gwB.counters?.external ?? 0) >= n,
      120_000 + n,
      `gwB's external cache to hold the ${n} flows`,
    );
    this.flowsReplicatedMs = Date.now() - t;
    this.say(
      'gwB',
      `external cache holds ${this.gws.gwB.counters?.external} entries: the ${n} flows were replicated in ${this.flowsReplicatedMs} ms (from the start of the load)`,
    );
  }

  /** Waits until gwB's external cache has every client connection as ESTABLISHED (and the UDP flow). */
  private async waitReplicated(): Promise<void> {
    const want = new Set(this.clientStatus!.conns.map((c) => Number(c.local!.split(':')[1])));
    const t = Date.now();
    for (;;) {
      const seen = new Set<number>();
      let udp = false;
      await controlRequest(this.gws.gwB.files.ctsyncSock, { cmd: 'dump', args: { cache: 'external' } }, (rec) => {
        const e = rec as {
          orig: { src: string; proto: number; sport?: number; dport?: number };
          tcp?: { state: number };
        };
        if (e.orig.src !== ADDR.client) return;
        if (e.orig.proto === 6 && e.orig.dport === ADDR.tcpPort && e.tcp?.state === 3) seen.add(e.orig.sport!);
        if (e.orig.proto === 17 && e.orig.dport === ADDR.udpPort) udp = true;
      });
      if ([...want].every((p) => seen.has(p)) && udp) {
        this.say(
          'gwB',
          `external cache has all ${want.size} TCP connections (ESTABLISHED) and the UDP flow, replicated by ctsync`,
        );
        return;
      }
      if (Date.now() - t > 15_000)
        throw new Error(
          `gwB's external cache lacks client connections after 15 s (has ${seen.size}/${want.size} TCP, UDP ${udp})`,
        );
      await sleep(200);
    }
  }

  /** Every live connection (and UDP) has received data since `since`, or was declared lost. */
  private async waitFlowing(since: number, timeoutMs: number, what: string): Promise<boolean> {
    try {
      await this.waitFor(
        () => {
          const st = this.clientStatus;
          return !!st && st.conns.every((c) => c.lost || c.lastRx > since) && st.udp.lastRx > since;
        },
        timeoutMs,
        what,
      );
      return true;
    } catch {
      this.say('lab', `not every flow carried data within ${timeoutMs} ms (${what})`);
      return false;
    }
  }

  // ------------------------------------------------------------------------------ failure

  async failover(): Promise<void> {
    this.marks.fail = Date.now();
    if (this.o.failure === 'keepalived') {
      this.say('lab', '=== FAILURE: stopping keepalived on gwA (SIGTERM: it gives up MASTER) ===');
      await this.stopKeepalived('gwA');
    } else {
      this.say('lab', '=== FAILURE: taking all links of gwA down (client LAN, server LAN, sync link) ===');
      await setLinks(this.gws.gwA.gw, false);
    }
    const fail = this.marks.fail;
    await this.waitRole('gwB', 'MASTER', 20_000);
    if (this.o.sync) await this.waitNotifyDone('gwB', 'primary', 60_000 + this.o.flows / 2, fail);
    else await this.waitNotifyDone('gwB', 'primary', 30_000, fail);
    // data that was in flight when the VIPs moved does not count: wait for data after the switch
    const switched = this.gws.gwB.roleChanges.find((c) => c.role === 'MASTER' && c.t >= fail)?.t ?? fail;
    await this.waitFlowing(switched + 50, this.o.stallMs + 2000, 'the connections after the failover');
    await sleep(this.o.holdMs);
  }

  async failback(): Promise<void> {
    this.marks.failback = Date.now();
    if (this.o.failure === 'keepalived') {
      this.say('lab', '=== FAILBACK: starting keepalived on gwA again (it preempts after preempt_delay) ===');
      await this.startKeepalived('gwA');
    } else {
      this.say('lab', '=== FAILBACK: links of gwA up again (sync link first); it preempts after preempt_delay ===');
      await setLinks(this.gws.gwA.gw, true);
    }
    const back = this.marks.failback;
    await this.waitRole('gwA', 'MASTER', 20_000 + this.o.preemptDelay * 1000);
    await this.waitRole('gwB', 'BACKUP', 10_000);
    await this.waitNotifyDone('gwA', 'primary', 60_000 + this.o.flows / 2, back);
    const switched = this.gws.gwA.roleChanges.find((c) => c.role === 'MASTER' && c.t >= back)?.t ?? back;
    await this.waitFlowing(switched + 50, this.o.stallMs + 2000, 'the connections after the failback');
    await sleep(this.o.holdMs);
  }

  // ------------------------------------------------------------------------------ results

  private async stopClient(): Promise<void> {
    const c = this.client;
    if (!c || c.exitCode !== null) return;
    c.stdin?.write('stop\n');
    await this.waitFor(() => this.clientFinal !== undefined, 10_000, 'the client to report').catch(() => undefined);
    await Promise.race([c, sleep(3000)]);
  }

  // eslint-disable-next-line max-lines-per-function
  async finish(): Promise<ExperimentResult> {
    await this.stopClient();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const g of Object.values(this.gws)) this.readNotify(g);
    // a lab kept running keeps reporting what keepalived and the notify scripts do
    if (this.o.keep)
      this.timers.push(setInterval(() => Object.values(this.gws).forEach((g) => this.readNotify(g)), 100));
    const final = this.clientFinal ?? this.clientStatus;
    if (!final) throw new Error('the traffic client reported nothing');
    const fail = this.marks.fail ?? Infinity;
    const back = this.marks.failback ?? Infinity;
    // The gap of an event at time t: the first silence that spans t or starts within 1 s after it
    // (0: none longer than GAP_MS). Later hiccups (a busy CPU) do not count.
    const gapAt = (gaps: Array<{ from: number; to: number; ms: number }>, t: number): number =>
      gaps.filter((g) => g.to >= t && g.from <= t + 1000).sort((a, b) => a.from - b.from)[0]?.ms ?? 0;
    // the failback moves the VIPs when gwA becomes MASTER again (after preempt_delay)
    const backAt =
      this.marks.failback === undefined
        ? Infinity
        : (this.gws.gwA.roleChanges.find((c) => c.role === 'MASTER' && c.t >= back)?.t ?? back);
    const phaseOf = (t: number): 'failover' | 'failback' | 'other' =>
      t >= back ? 'failback' : t >= fail ? 'failover' : 'other';
    const connections: ConnResult[] = final.conns.map((c) => {
      const lostPhase = c.lost ? phaseOf(c.lost.t) : undefined;
      return {
        conn: c.conn,
        local: c.local,
        rxBytes: c.rx,
        txBytes: c.tx,
        failoverGapMs:
          this.marks.fail === undefined
            ? null
            : lostPhase === 'failover' || lostPhase === 'other'
              ? null
              : gapAt(c.gaps, fail),
        failbackGapMs: this.marks.failback === undefined || c.lost ? null : gapAt(c.gaps, backAt),
        ...(c.lost
          ? {
              lost: {
                reason: c.lost.reason,
                phase: lostPhase!,
                atMs: c.lost.t - (lostPhase === 'failback' ? back : fail),
              },
            }
          : {}),
        mismatches: c.mismatches,
      };
    });
    const commitAfter = (name: GwName, t: number, until = Infinity): Commit | undefined =>
      this.gws[name].commits.find((c) => c.at >= t && c.at < until && c.committed > 0) ??
      this.gws[name].commits.find((c) => c.at >= t && c.at < until);
    const masterAt = (name: GwName, t: number): number | undefined =>
      this.gws[name].roleChanges.find((c) => c.role === 'MASTER' && c.t >= t)?.t;
    const doneAt = (name: GwName, t: number): number | undefined => {
      if (this.o.ha === 'native')
        return this.gws[name].haLines.find((l) => l.t >= t && l.msg.includes('promote') && /\bdone\b/.test(l.msg))?.t;
      const steps = this.gws[name].notify;
      const b = steps.findIndex((s) => s.step === 'begin' && s.state === 'primary' && s.t >= t - 1000);
      return b < 0 ? undefined : steps.slice(b).find((s) => s.step === 'end')?.t;
    };
    const firewall = { gwA: await firewallCounters(this.gws.gwA.gw), gwB: await firewallCounters(this.gws.gwB.gw) };
    let inBackupKernel: number | undefined;
    if (this.o.flows > 0 && this.o.sync) {
      const r = await this.gws.gwB.gw.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'count']);
      inBackupKernel = Number(r.stdout.trim()) || undefined;
    }
    const rel = (t: number | undefined, from: number): number | undefined =>
      t === undefined || !Number.isFinite(from) ? undefined : t - from;
    const survived = connections.filter((c) => !c.lost).length;
    const result: ExperimentResult = {
      sync: this.o.sync,
      ha: this.o.ha,
      onDemand: this.o.onDemand ?? false,
      failure: this.o.failure,
      withFailback: this.o.failback,
      connections,
      udp: {
        tx: final.udp.tx,
        rx: final.udp.rx,
        failoverGapMs: this.marks.fail === undefined ? null : gapAt(final.udp.gaps, fail),
        failbackGapMs: this.marks.failback === undefined ? null : gapAt(final.udp.gaps, backAt),
      },
      failover: {
        masterAfterMs: rel(masterAt('gwB', fail), fail),
        commitDoneAfterMs: this.o.sync ? rel(doneAt('gwB', fail), fail) : undefined,
        commit: this.o.sync ? commitAfter('gwB', fail, back) : undefined,
      },
      failback: {
        startedAtMs: rel(this.marks.failback, fail),
        masterAfterMs: rel(masterAt('gwA', back), back),
        commitDoneAfterMs: this.o.sync ? rel(doneAt('gwA', back), back) : undefined,
        commit: this.o.sync ? commitAfter('gwA', back) : undefined,
      },
      flows: {
        loaded: this.o.flows,
        replicatedMs: this.flowsReplicatedMs,
        inBackupKernelAfterFailover: inBackupKernel,
      },
      firewall,
      serverResets: this.serverResets,
      // expected: gwA MASTER at start (and after the failback), gwB MASTER after the failover
      vrrpFlaps:
        Math.max(0, this.masterCount('gwA') - (this.marks.failback === undefined ? 1 : 2)) +
        Math.max(0, this.masterCount('gwB') - 1),
      expected: this.o.sync
        ? survived === connections.length && connections.every((c) => c.mismatches === 0)
        : survived === 0,
      dir: this.dir,
    };
    return result;
  }

  private masterCount(name: GwName): number {
    return this.gws[name].roleChanges.filter((c) => c.role === 'MASTER').length;
  }

  /** How to look around in a lab kept running (--keep). */
  describe(): string {
    const t = this.topo;
    const A = this.gws.gwA;
    const B = this.gws.gwB;
    const main = ctsyncBin();
    const node = process.execPath;
    return [
      'The lab is still running. Namespaces:',
      `  client  ${t.client.name}`,
      `  gwA     ${t.gwA.ns.name}`,
      `  gwB     ${t.gwB.ns.name}`,
      `  server  ${t.server.name}`,
      `  switch  ${t.sw.name}`,
      'Look around:',
      `  ip netns exec ${t.gwB.ns.name} bash                        # a shell on gwB`,
      `  ip netns exec ${t.gwB.ns.name} conntrack -L                # gwB's kernel table`,
      `  ip netns exec ${t.gwB.ns.name} nft list ruleset            # gwB's firewall (counters)`,
      ...(this.o.sync
        ? [
            `  ${node} ${main} -C ${B.files.ctsyncConf} -e        # gwB's external cache`,
            `  ${node} ${main} -C ${A.files.ctsyncConf} -s        # gwA's ctsync statistics`,
          ]
        : []),
      ...(this.o.metrics
        ? [
            `  ip netns exec ${t.gwB.ns.name} curl -s http://${B.gw.syncAddr}:${ADDR.metricsPort}/metrics   # gwB's metrics (gwA's: ${A.gw.syncAddr}, from gwB)`,
          ]
        : []),
      `  ip netns exec ${t.client.name} ${node} ${TRAFFIC} client --server ${ADDR.server} --bind ${ADDR.client} --connections 2   # more traffic`,
      `  ip netns exec ${t.gwA.ns.name} ip -br addr                  # who holds the VIPs`,
      `Generated configuration and logs: ${this.dir}`,
      `  (keepalived-gwA.conf, ctsync-gwA.conf, notify-gwA.sh, notify-gwA.log, keepalived-gwA.log, ...)`,
      `Tear down: press Ctrl-C here (or kill ${process.pid}); everything above is removed.`,
    ].join('\n');
  }

  async destroy(opts: { keepDir?: boolean } = {}): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // keepalived first, so the notify scripts it might start do not race the teardown
    await Promise.all((['gwA', 'gwB'] as const).map((n) => this.gws[n] && this.stopKeepalived(n)));
    if (this.topo) await destroyTopology(this.topo);
    for (const s of this.logs.values()) s.end();
    this.logs.clear();
    if (this.ownDir && !opts.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * n established TCP (80 %) and UDP flows between hosts of the two LANs that do not exist (the
 * client and the gateways are left out, so no real flow and no filtered address collides).
 */
export function syntheticFlows(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = i % 100;
    const src = `192.0.2.${100 + h}`;
    const dst = `198.51.100.${100 + ((i * 7) % 100)}`;
    const sport = 1024 + Math.floor(i / 100);
    const udp = i % 5 === 4;
    const proto = udp ? 17 : 6;
    const dport = udp ? 53 : 443;
    out.push(
      JSON.stringify({
        family: 2,
        orig: { src, dst, proto, sport, dport },
        reply: { src: dst, dst: src, proto, sport: dport, dport: sport },
        status: 14,
        timeout: 3600,
        mark: 0,
        ...(udp ? {} : { tcp: { state: 3 } }),
      }),
    );
  }
  return out.join('\n') + '\n';
}

export async function runExperiment(
  o: LabOptions,
  onLab?: (lab: Lab) => void,
): Promise<{ result: ExperimentResult; lab: Lab }> {
  const lab = new Lab(o);
  onLab?.(lab);
  let ok = false;
  try {
    await lab.setup();
    await lab.start();
    await lab.failover();
    if (o.failback) await lab.failback();
    const result = await lab.finish();
    ok = true;
    return { result, lab };
  } catch (err) {
    if (err instanceof Error && lab.ownDir) err.message += ` (generated files and logs kept in ${lab.dir})`;
    throw err;
  } finally {
    if (!ok || !o.keep) await lab.destroy({ keepDir: !ok });
  }
}
