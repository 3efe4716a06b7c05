#!/usr/bin/env node
// Captures conntrackd 1.4.7 sync-protocol messages from two real conntrackd instances, as golden
// test data for test/unit/sync/wire.test.ts (test/golden/sync-*.hex + .json).
//
//   sudo node dist/tools/golden/capture-golden-sync.js [--out DIR] [--keep-pcap FILE]
//   (after `npm run build`; every sync-* file in DIR is replaced)
//
// Setup: two network namespaces made for the run, `ctsync-syncgold-<pid>-<hex>-{a,b}`, joined by
// a veth pair created directly inside them (192.0.2.1/24 on "sga" in A, 192.0.2.2/24 on "sgb" in
// B: documentation addresses, no route anywhere else). One conntrackd per namespace, each with
// its own config (the pair's, tools/lib/pair-config.ts), lock file, UNIX socket and log in a fresh
// temp dir, FT-FW over UDP port 3780:
//   A: TCPWindowTracking on, ExpectationSync on            (primary: most flows are made here)
//   B: CommitTimeout 180 (so B's messages carry no TIMEOUT: quirk Q4)
// tcpdump in A records every sync datagram on the veth. Conntrack entries are inserted with
// conntrack(8) or over ctnetlink with our own codec (helper, master, labels, seq-adj/synproxy,
// SCTP, expectations), with documentation addresses only; nothing but the sync traffic itself is
// ever sent, and only over the veth. Both namespaces (and every process in them: the two
// conntrackd, tcpdump), and the temp dir, are removed on exit, failure, or Ctrl-C.
//
// Output (DIR, default test/golden):
//   sync-<name>.hex   one message per file (lowercase hex of the message bytes, one line)
//   sync-<name>.json  what it is: kind, sender, how the entry was made, the datagram it came in,
//                     and `expect`: fields known by construction that a decoder must find
//   sync-datagrams-bulk.hex / .json   the whole datagrams of a bulk transfer (RESYNC answer), one
//                     datagram per line, for the packing test
import {
  execFileSync,
  spawn,
  spawnSync,
  type ChildProcess,
  type SpawnSyncOptionsWithStringEncoding,
  type SpawnSyncReturns,
} from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NlWriter } from '../../src/netlink/attr.js';
import * as ct from '../../src/netlink/ctnetlink.js';
import * as expect from '../../src/netlink/expect.js';
import { forEachMessage, decodeError, isError } from '../../src/netlink/nlmsg.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import * as C from '../../src/netlink/constants.js';
import { decodeDatagram, MSG, FLAG } from '../../src/sync/wire.js';
import type { Entry, Expect, Tuple } from '../../src/conntrack/entry.js';
import { pairNodeConf } from '../lib/pair-config.js';
import { repoRoot } from '../lib/repo.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = repoRoot();

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(ROOT, 'test/golden') },
    'keep-pcap': { type: 'string' },
    child: { type: 'boolean', default: false },
    a: { type: 'string' },
    b: { type: 'string' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (args.help) {
  process.stdout.write('usage: sudo node dist/tools/golden/capture-golden-sync.js [--out DIR] [--keep-pcap FILE]\n');
  process.exit(0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (args.child) await child();
else await parent();

// =============================================================================================
// parent: namespaces, veth, temp dir; always cleaned up
// =============================================================================================

function killAllIn(ns: string): void {
  let pids: string[];
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// eslint-disable-next-line max-lines-per-function
async function parent(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('capture-golden-sync: must run as root (network namespaces, conntrack, tcpdump)');
    process.exit(1);
  }
  for (const bin of ['conntrackd', 'conntrack', 'tcpdump', 'nft']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
      console.error(`capture-golden-sync: ${bin} not found`);
      process.exit(1);
    }
  }
  // namespaces left by an earlier run that was SIGKILLed (its pid is gone)
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of listed.matchAll(/^(ctsync-syncgold-(\d+)-[0-9a-f]+-[ab])\b/gm)) {
    let alive = true;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      alive = false;
    }
    if (alive) continue;
    killAllIn(m[1]!);
    spawnSync('ip', ['netns', 'del', m[1]!], { stdio: 'ignore' });
    console.error(`capture-golden-sync: removed stale namespace ${m[1]}`);
  }
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const nsA = `ctsync-syncgold-${tag}-a`;
  const nsB = `ctsync-syncgold-${tag}-b`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-syncgold-'));
  const made: string[] = [];
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const ns of made) killAllIn(ns);
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const ns of made)
      if (left.includes(ns)) console.error(`capture-golden-sync: could not delete namespace ${ns}: delete it by hand`);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
  let code = 1;
  try {
    const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'inherit' });
    ip('netns', 'add', nsA);
    made.push(nsA);
    ip('netns', 'add', nsB);
    made.push(nsB);
    // the pair is born inside A, its peer end goes straight to B: it never exists in the host
    ip('-n', nsA, 'link', 'add', 'sga', 'type', 'veth', 'peer', 'name', 'sgb', 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', 'sga');
    ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', 'sgb');
    for (const [ns, dev] of [
      [nsA, 'sga'],
      [nsB, 'sgb'],
    ]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    code = await new Promise<number>((resolve, reject) => {
      const p = spawn(
        'ip',
        [
          'netns',
          'exec',
          nsA,
          process.execPath,
          SCRIPT,
          '--child',
          '--a',
          nsA,
          '--b',
          nsB,
          '--dir',
          dir,
          '--out',
          path.resolve(args.out),
          ...(args['keep-pcap'] ? ['--keep-pcap', path.resolve(args['keep-pcap'])] : []),
        ],
        { stdio: 'inherit' },
      );
      const timer = setTimeout(() => p.kill('SIGKILL'), 180_000);
      p.on('error', reject);
      p.on('exit', (c, s) => {
        clearTimeout(timer);
        resolve(c ?? (s ? 128 : 1));
      });
    });
  } catch (err) {
    console.error(`capture-golden-sync: ${(err as Error).message}`);
  } finally {
    cleanup();
  }
  process.exit(code);
}

// =============================================================================================
// child: runs inside namespace A
// =============================================================================================

interface Proc extends ChildProcess {
  exited: Promise<unknown>;
  output: () => string;
  what: string;
}
type RunOptions = SpawnSyncOptionsWithStringEncoding & { allowFail?: boolean };
type Run = (cmd: string, argv: string[], opts?: Partial<RunOptions>) => SpawnSyncReturns<string>;

// eslint-disable-next-line max-lines-per-function
async function child(): Promise<void> {
  const nsA = args.a;
  const nsB = args.b;
  const dir = args.dir;
  const outDir = args.out;
  if (!nsA || !nsB || !dir) throw new Error('child: missing --a/--b/--dir');

  const log = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  const run: Run = (cmd, argv, opts = {}) => {
    const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 20_000, ...opts });
    if (r.status !== 0 && !opts.allowFail)
      throw new Error(`${cmd} ${argv.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
    return r;
  };
  const inB: Run = (cmd, argv, opts) => run('ip', ['netns', 'exec', nsB, cmd, ...argv], opts);

  // ------------------------------------------------------------------ configs
  // the pair's conntrackd.conf; A: window tracking and expectations, B: CommitTimeout (quirk Q4)
  const conf = (me: string, peer: string, dev: string, side: 'a' | 'b'): string =>
    pairNodeConf({
      comment: `ctsync golden capture, side ${side}`,
      addr: me,
      peer,
      ifname: dev,
      log: `${dir}/${side}.log`,
      lock: `${dir}/${side}.lock`,
      sock: `${dir}/${side}.sock`,
      ftfw: side === 'b' ? ['CommitTimeout 180'] : [],
      options: side === 'a' ? ['TCPWindowTracking on', 'ExpectationSync on'] : ['TCPWindowTracking off'],
      hashSize: 8192,
      hashLimit: 65536,
      netlinkBuffer: { size: 2097152, maxGrowth: 8388608 },
      scheduler: false,
      general: [
        'Systemd off',
        'Filter From Userspace {',
        '  Address Ignore {',
        '    IPv4_address 127.0.0.1',
        '    IPv4_address 192.0.2.1',
        '    IPv4_address 192.0.2.2',
        '  }',
        '}',
      ],
    });
  const confA = path.join(dir, 'a.conf');
  const confB = path.join(dir, 'b.conf');
  fs.writeFileSync(confA, conf('192.0.2.1', '192.0.2.2', 'sga', 'a'));
  fs.writeFileSync(confB, conf('192.0.2.2', '192.0.2.1', 'sgb', 'b'));
  fs.writeFileSync('/proc/sys/net/netfilter/nf_conntrack_events', '1\n');
  inB('sh', ['-c', 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_events']);

  const children: Proc[] = [];
  const startProc = (what: string, cmd: string, argv: string[]): Proc => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }) as Proc;
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.exited = new Promise((r) => p.on('exit', r));
    p.output = () => out;
    p.what = what;
    children.push(p);
    return p;
  };
  const stopAll = async () => {
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.race([Promise.all(children.map((p) => p.exited)), sleep(3000)]);
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  const waitFor = async (what: string, fn: () => boolean, ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (fn()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  const pcap = path.join(dir, 'sync.pcap');
  const steps: Step[] = [];
  const mark = (what: string): void => {
    steps.push({ t: Date.now(), what });
  };
  let failed: unknown;
  try {
    const td = startProc('tcpdump', 'tcpdump', ['-i', 'sga', '-U', '-n', '-s', '0', '-w', pcap, 'udp port 3780']);
    await waitFor('tcpdump', () => /listening on/.test(td.output()));
    const cdA = startProc('conntrackd A', 'conntrackd', ['-C', confA]);
    const startB = () => startProc('conntrackd B', 'ip', ['netns', 'exec', nsB, 'conntrackd', '-C', confB]);
    const cdB = startB();
    await waitFor(
      'conntrackd sockets',
      () => fs.existsSync(path.join(dir, 'a.sock')) && fs.existsSync(path.join(dir, 'b.sock')),
    );
    await sleep(2500); // HELLO handshake, a few ACKs
    for (const p of [cdA, cdB]) if (p.exitCode !== null) throw new Error(`${p.what} exited: ${p.output()}`);
    log(`conntrackd A and B up in ${nsA} / ${nsB}`);

    const waitB = () =>
      waitFor(
        'conntrackd B socket',
        () => inB('conntrackd', ['-C', confB, '-s', 'network'], { allowFail: true }).status === 0,
      );
    await capture({ run, inB, mark, log, startB, waitB, confB });

    await sleep(1500);
    log(run('conntrackd', ['-C', confA, '-s', 'network'], { allowFail: true }).stdout);
    log(inB('conntrackd', ['-C', confB, '-s', 'network'], { allowFail: true }).stdout);
  } catch (err) {
    failed = err;
  } finally {
    await stopAll();
  }
  if (failed) {
    for (const p of children) log(`--- ${p.what}:\n${p.output()}`);
    for (const f of ['a.log', 'b.log'])
      if (fs.existsSync(path.join(dir, f))) log(`--- ${f}:\n${fs.readFileSync(path.join(dir, f), 'utf8')}`);
    throw failed;
  }
  if (args['keep-pcap']) fs.copyFileSync(pcap, args['keep-pcap']);
  const datagrams = readPcap(fs.readFileSync(pcap));
  log(`captured ${datagrams.length} sync datagrams`);
  writeGoldens(datagrams, steps, outDir!, log);
}

// =============================================================================================
// the scenario (inside A; B reached with `ip netns exec`)
// =============================================================================================

/** A step of the scenario: its name and when it began (ms since the epoch). */
interface Step {
  t: number;
  what: string;
}

interface ScenarioEnv {
  run: Run;
  inB: Run;
  mark: (what: string) => void;
  log: (s: string) => void;
  startB: () => Proc;
  waitB: () => Promise<void>;
  confB: string;
}

// eslint-disable-next-line max-lines-per-function
async function capture(env: ScenarioEnv): Promise<void> {
  const { run, inB, mark, log } = env;
  const ctl = new NetlinkSocket();
  const rx = Buffer.alloc(1 << 16);
  let nlseq = 1;
  const request = (type: number, flags: number, family: number, build: (w: NlWriter) => void, what: string): void => {
    const w = new NlWriter(4096);
    const s = nlseq++;
    w.beginNf(type, flags, s, family);
    build(w);
    w.end();
    ctl.send(w.bytes(), what);
    for (;;) {
      if (!ctl.waitReadable(5000)) throw new Error(`${what}: no reply`);
      const n = ctl.recv(rx);
      if (n < 0) throw new Error(`${what}: recv errno ${-n}`);
      let done = false;
      forEachMessage(rx, n, (h) => {
        if (h.seq !== s || !isError(h)) return;
        const e = decodeError(rx, h);
        if (e.errno !== 0) throw new Error(`${what}: kernel error ${e.errno}${e.message ? ` (${e.message})` : ''}`);
        done = true;
        return false;
      });
      if (done) return;
    }
  };
  const CT_NEW = (C.NFNL_SUBSYS_CTNETLINK << 8) | C.IPCTNL_MSG_CT_NEW;
  const EXP_NEW = (C.NFNL_SUBSYS_CTNETLINK_EXP << 8) | C.IPCTNL_MSG_EXP_NEW;
  const EXP_DEL = (C.NFNL_SUBSYS_CTNETLINK_EXP << 8) | C.IPCTNL_MSG_EXP_DELETE;
  const create = C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL;
  const apiCreate = (e: Entry, what: string): void =>
    request(CT_NEW, create, e.family, (w) => ct.writeCreateAttrs(w, e), what);
  const pause = () => sleep(250); // one message per datagram: every step gets its own transmit pass
  const cli = async (name: string, argv: string[]): Promise<void> => {
    mark(name);
    run('conntrack', argv);
    await pause();
  };

  // --- A -> B: conntrack(8) flows
  await cli('tcp-new', [
    '-I',
    '-p',
    'tcp',
    '-s',
    '198.51.100.10',
    '-d',
    '203.0.113.10',
    '--sport',
    '40010',
    '--dport',
    '80',
    '--state',
    'ESTABLISHED',
    '-u',
    'SEEN_REPLY,ASSURED',
    '-m',
    '66',
    '-t',
    '300',
  ]);
  await cli('tcp-upd', [
    '-U',
    '-p',
    'tcp',
    '-s',
    '198.51.100.10',
    '-d',
    '203.0.113.10',
    '--sport',
    '40010',
    '--dport',
    '80',
    '-m',
    '67',
  ]);
  await cli('udp', [
    '-I',
    '-p',
    'udp',
    '-s',
    '198.51.100.11',
    '-d',
    '203.0.113.11',
    '--sport',
    '5353',
    '--dport',
    '53',
    '-t',
    '30',
  ]);
  await cli('icmp', [
    '-I',
    '-p',
    'icmp',
    '-s',
    '198.51.100.12',
    '-d',
    '203.0.113.12',
    '--icmp-type',
    '8',
    '--icmp-code',
    '0',
    '--icmp-id',
    '4660',
    '-t',
    '30',
  ]);
  await cli('icmp-snat', [
    '-I',
    '-p',
    'icmp',
    '-s',
    '198.51.100.13',
    '-d',
    '203.0.113.13',
    '--icmp-type',
    '8',
    '--icmp-code',
    '0',
    '--icmp-id',
    '4661',
    '-t',
    '30',
    '--src-nat',
    '203.0.113.113',
  ]);
  await cli('icmp-id0-snat', [
    '-I',
    '-p',
    'icmp',
    '-s',
    '198.51.100.14',
    '-d',
    '203.0.113.14',
    '--icmp-type',
    '8',
    '--icmp-code',
    '0',
    '--icmp-id',
    '0',
    '-t',
    '30',
    '--src-nat',
    '203.0.113.114',
  ]);
  await cli('tcp6', [
    '-I',
    '-p',
    'tcp',
    '-s',
    '2001:db8::10',
    '-d',
    '2001:db8:1::10',
    '--sport',
    '40016',
    '--dport',
    '443',
    '--state',
    'ESTABLISHED',
    '-t',
    '3600',
  ]);
  await cli('icmpv6', [
    '-I',
    '-p',
    'icmpv6',
    '-s',
    '2001:db8::11',
    '-d',
    '2001:db8:1::11',
    '--icmpv6-type',
    '128',
    '--icmpv6-code',
    '0',
    '--icmpv6-id',
    '77',
    '-t',
    '30',
  ]);
  await cli('snat-port', [
    '-I',
    '-p',
    'tcp',
    '-s',
    '198.51.100.17',
    '-d',
    '203.0.113.17',
    '--sport',
    '40017',
    '--dport',
    '22',
    '--state',
    'ESTABLISHED',
    '-t',
    '3600',
    '--src-nat',
    '203.0.113.117:6000',
  ]);
  await cli('dnat-port', [
    '-I',
    '-p',
    'tcp',
    '-s',
    '198.51.100.18',
    '-d',
    '203.0.113.18',
    '--sport',
    '40018',
    '--dport',
    '80',
    '--state',
    'ESTABLISHED',
    '-t',
    '3600',
    '--dst-nat',
    '198.51.100.118:8080',
  ]);
  await cli('udp-zone', [
    '-I',
    '-p',
    'udp',
    '-s',
    '198.51.100.19',
    '-d',
    '203.0.113.19',
    '--sport',
    '1111',
    '--dport',
    '2222',
    '-w',
    '5',
    '-t',
    '30',
  ]);
  await cli('gre', [
    '-I',
    '-p',
    'gre',
    '-s',
    '198.51.100.20',
    '-d',
    '203.0.113.20',
    '--srckey',
    '0x1',
    '--dstkey',
    '0x2',
    '-t',
    '30',
  ]);
  await cli('udplite', [
    '-I',
    '-p',
    'udplite',
    '-s',
    '198.51.100.21',
    '-d',
    '203.0.113.21',
    '--sport',
    '1000',
    '--dport',
    '2000',
    '-t',
    '30',
  ]);

  // --- A -> B: ctnetlink-made flows (what conntrack(8) cannot express)
  const api = async (name: string, e: Entry): Promise<void> => {
    mark(name);
    apiCreate(e, name);
    await pause();
  };
  await api('sctp', {
    family: 2,
    orig: { src: '198.51.100.22', dst: '203.0.113.22', proto: 132, sport: 3868, dport: 3868 },
    status: 0x2 | 0x4,
    timeout: 3600,
    sctp: { state: 4, vtagOrig: 0x11223344, vtagReply: 0x55667788 },
  });
  const ftpMaster: Tuple = { src: '198.51.100.23', dst: '203.0.113.23', proto: 6, sport: 40023, dport: 21 };
  await api('tcp-helper', {
    family: 2,
    orig: ftpMaster,
    status: 0x2 | 0x4,
    timeout: 3600,
    tcp: { state: 3 },
    helper: 'ftp',
  });
  await api('tcp-related', {
    family: 2,
    orig: { src: '203.0.113.24', dst: '198.51.100.23', proto: 6, sport: 20, dport: 40024 },
    status: 0x2,
    timeout: 120,
    tcp: { state: 3 },
    master: ftpMaster,
  });
  await api('tcp-seqadj', {
    family: 2,
    orig: { src: '198.51.100.25', dst: '203.0.113.25', proto: 6, sport: 40025, dport: 80 },
    status: 0x2 | 0x4 | 0x40,
    timeout: 3600,
    tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8, flagsOrig: 0x03, flagsReply: 0x03 },
    seqAdjOrig: { correctionPos: 1000, offsetBefore: 0, offsetAfter: 8 },
    seqAdjReply: { correctionPos: 2000, offsetBefore: 4, offsetAfter: 12 },
    synproxy: { isn: 0x01020304, its: 0x0a0b0c0d, tsoff: 0x00000100 },
  });
  await api('snat6', {
    family: 10,
    orig: { src: '2001:db8::26', dst: '2001:db8:1::26', proto: 6, sport: 40026, dport: 80 },
    status: 0x2 | 0x4,
    timeout: 3600,
    tcp: { state: 3 },
    natSrc: { minIp: '2001:db8:2::26', maxIp: '2001:db8:2::26' },
  });
  await api('dnat6-port', {
    family: 10,
    orig: { src: '2001:db8::27', dst: '2001:db8:1::27', proto: 17, sport: 40027, dport: 53 },
    status: 0x2,
    timeout: 30,
    natDst: { minIp: '2001:db8:3::27', maxIp: '2001:db8:3::27', minPort: 5353, maxPort: 5353 },
  });
  // labels: the kernel attaches the labels extension only while a ruleset uses labels
  run('nft', ['-f', '-'], {
    input:
      'table ip ctsync_golden {\n chain c {\n  type filter hook prerouting priority 0; policy accept;\n  ct label 127 counter\n }\n}\n',
  });
  await api('labels', {
    family: 2,
    orig: { src: '198.51.100.28', dst: '203.0.113.28', proto: 6, sport: 40028, dport: 443 },
    status: 0x2 | 0x4,
    timeout: 3600,
    tcp: { state: 3 },
    labels: '01020000000000000000000000000080',
  });

  // --- A -> B: delete (CT_DEL), after its NEW was acknowledged
  await cli('udp-del', [
    '-D',
    '-p',
    'udp',
    '-s',
    '198.51.100.11',
    '-d',
    '203.0.113.11',
    '--sport',
    '5353',
    '--dport',
    '53',
  ]);

  // --- A -> B: expectations (EXP_NEW, EXP_DEL)
  mark('exp-masters');
  const masterE: Tuple = { src: '198.51.100.30', dst: '203.0.113.30', proto: 6, sport: 40030, dport: 21 };
  apiCreate(
    { family: 2, orig: masterE, status: 0x2 | 0x4 | 0x8, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' },
    'exp master 4',
  );
  const masterE6: Tuple = { src: '2001:db8::31', dst: '2001:db8:1::31', proto: 6, sport: 40031, dport: 21 };
  apiCreate(
    { family: 10, orig: masterE6, status: 0x2 | 0x4 | 0x8, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' },
    'exp master 6',
  );
  const masterN: Tuple = { src: '198.51.100.32', dst: '203.0.113.32', proto: 6, sport: 40032, dport: 21 };
  apiCreate(
    { family: 2, orig: masterN, status: 0x2 | 0x4 | 0x8, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' },
    'exp master nat',
  );
  await pause();
  const xA: Expect = {
    family: 2,
    master: masterE,
    tuple: { src: '198.51.100.30', dst: '203.0.113.30', proto: 6, sport: 0, dport: 50000 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    helper: 'ftp',
    timeout: 300,
  };
  const xB: Expect = {
    family: 10,
    master: masterE6,
    tuple: { src: '2001:db8::31', dst: '2001:db8:1::31', proto: 6, sport: 0, dport: 50001 },
    mask: {
      src: 'ffff:ffff:ffff:ffff::',
      dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      proto: 6,
      sport: 0,
      dport: 0xffff,
    },
    flags: 2,
  };
  const xC: Expect = {
    family: 2,
    master: masterN,
    tuple: { src: '203.0.113.32', dst: '203.0.113.132', proto: 6, sport: 0, dport: 6000 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    flags: 1,
    helper: 'ftp',
    natDir: 1,
    natTuple: { src: '198.51.100.32', dst: '0.0.0.0', proto: 6, sport: 5000, dport: 0 },
    fn: 'nat-follow-master',
  };
  for (const [name, x] of [
    ['exp-ipv4', xA],
    ['exp-ipv6', xB],
    ['exp-nat', xC],
  ] as const) {
    mark(name);
    request(EXP_NEW, create, x.family, (w) => expect.writeExpectCreateAttrs(w, x), name);
    await pause();
  }
  mark('exp-del');
  request(EXP_DEL, C.NLM_F_REQUEST | C.NLM_F_ACK, 2, (w) => expect.writeExpectIdentity(w, xA), 'delete expectation');
  await pause();

  // --- B -> A: B has CommitTimeout (no TIMEOUT) and no window tracking (no WSCALE)
  mark('b-tcp');
  inB('conntrack', [
    '-I',
    '-p',
    'tcp',
    '-s',
    '198.51.100.40',
    '-d',
    '203.0.113.40',
    '--sport',
    '40040',
    '--dport',
    '25',
    '--state',
    'ESTABLISHED',
    '-m',
    '7',
    '-t',
    '600',
  ]);
  await sleep(1200);

  // --- loss: B drops incoming sync traffic (netdev ingress: no conntrack involved) for one
  // message, then the next message from A reveals the gap: B sends NACK, A retransmits
  mark('loss');
  inB('nft', ['-f', '-'], {
    input:
      'table netdev ctsync_drop {\n chain in {\n  type filter hook ingress device "sgb" priority 0; policy accept;\n  udp dport 3780 drop\n }\n}\n',
  });
  run('conntrack', [
    '-I',
    '-p',
    'udp',
    '-s',
    '198.51.100.41',
    '-d',
    '203.0.113.41',
    '--sport',
    '4141',
    '--dport',
    '53',
    '-t',
    '30',
  ]);
  await sleep(300);
  inB('nft', ['delete', 'table', 'netdev', 'ctsync_drop']);
  mark('after-loss');
  run('conntrack', [
    '-I',
    '-p',
    'udp',
    '-s',
    '198.51.100.42',
    '-d',
    '203.0.113.42',
    '--sport',
    '4242',
    '--dport',
    '53',
    '-t',
    '30',
  ]);
  await sleep(1500);

  // --- many flows, then RESYNC from B: A answers with a bulk of its whole cache
  mark('many');
  for (let i = 0; i < 60; i++) {
    run('conntrack', [
      '-I',
      '-p',
      'udp',
      '-s',
      `198.51.100.${100 + i}`,
      '-d',
      '203.0.113.200',
      '--sport',
      String(20000 + i),
      '--dport',
      '53',
      '-t',
      '600',
    ]);
  }
  await sleep(1500);
  mark('resync');
  inB('conntrackd', ['-C', env.confB, '-n']);
  await sleep(2000);

  // --- B stops: A hears nothing for a second and sends ALIVE instead of ACK
  mark('b-down');
  inB('conntrackd', ['-C', env.confB, '-k'], { allowFail: true });
  await sleep(2600);
  // --- B restarts: its first message (a data message here) carries HELLO, and its sequence
  // numbers start over from the clock
  mark('b-restart');
  env.startB();
  await env.waitB();
  await sleep(200);
  inB('conntrack', [
    '-I',
    '-p',
    'udp',
    '-s',
    '198.51.100.50',
    '-d',
    '203.0.113.50',
    '--sport',
    '5050',
    '--dport',
    '53',
    '-t',
    '60',
  ]);
  await sleep(2500);
  mark('end');
  ctl.close();
  log('scenario done');
}

// =============================================================================================
// pcap -> datagrams -> golden files
// =============================================================================================

interface Datagram {
  t: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  checksum: number;
  payload: Buffer;
}

function readPcap(b: Buffer): Datagram[] {
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const r32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = r32(20);
  if (link !== 1) throw new Error(`pcap link type ${link}, expected Ethernet`);
  const out: Datagram[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const sec = r32(o);
    const frac = r32(o + 4);
    const incl = r32(o + 8);
    const f = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (f.readUInt16BE(12) !== 0x0800) continue;
    const ip = 14;
    const ihl = (f[ip]! & 15) * 4;
    if (f[ip + 9] !== 17) continue;
    const u = ip + ihl;
    const udpLen = f.readUInt16BE(u + 4);
    out.push({
      t: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      src: `${f.subarray(ip + 12, ip + 16).join('.')}`,
      dst: `${f.subarray(ip + 16, ip + 20).join('.')}`,
      sport: f.readUInt16BE(u),
      dport: f.readUInt16BE(u + 2),
      checksum: f.readUInt16BE(u + 6),
      payload: Buffer.from(f.subarray(u + 8, u + udpLen)),
    });
  }
  return out;
}

/**
 * A decoded message of the capture: the visitor's arguments as they came (ct/exp: type, flags,
 * seq, entry; control: flags, seq, from, to; malformed: reason, offset), where it was, and its bytes.
 */
interface Captured {
  kind: 'ct' | 'exp' | 'control' | 'malformed';
  di: number;
  step: string;
  from: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the visitors' differing argument lists
  args: any[];
  bytes: Buffer;
  index: number;
  count: number;
}

// eslint-disable-next-line max-lines-per-function
function writeGoldens(datagrams: Datagram[], steps: Step[], outDir: string, log: (s: string) => void): void {
  const kernel = os.release();
  const tool = (spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout || '').trim().split('\n')[0];
  const pkg = (
    spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'conntrackd'], { encoding: 'utf8' }).stdout || ''
  ).trim();
  const base = { conntrackd: tool, debianPackage: pkg ? `conntrackd ${pkg}` : undefined, kernel, arch: os.arch() };
  const stepAt = (t: number): string => {
    let s = 'start';
    for (const st of steps) if (st.t <= t) s = st.what;
    return s;
  };
  // every message, with where it came from
  const msgs: Captured[] = [];
  datagrams.forEach((d, di) => {
    let off = 0;
    const visit =
      (kind: Captured['kind']) =>
      (...a: unknown[]): void => {
        const m: Captured = {
          kind,
          di,
          step: stepAt(d.t),
          from: d.src,
          args: a,
          bytes: Buffer.alloc(0),
          index: 0,
          count: 0,
        };
        msgs.push(m);
      };
    decodeDatagram(d.payload, d.payload.length, {
      ct: visit('ct'),
      exp: visit('exp'),
      control: visit('control'),
      malformed: visit('malformed'),
    });
    // recover each message's bytes by walking the len fields
    const starts: [number, number][] = [];
    while (off + 8 <= d.payload.length) {
      const len = d.payload.readUInt16BE(off + 2);
      if (len === 0) break;
      starts.push([off, len]);
      off += len;
    }
    const mine = msgs.filter((m) => m.di === di);
    if (mine.length !== starts.length)
      throw new Error(`datagram ${di}: ${mine.length} decoded vs ${starts.length} framed`);
    mine.forEach((m, k) => {
      m.bytes = d.payload.subarray(starts[k]![0], starts[k]![0] + starts[k]![1]);
      m.index = k;
      m.count = mine.length;
    });
  });
  const bad = msgs.filter((m) => m.kind === 'malformed');
  if (bad.length)
    throw new Error(
      `our decoder rejected ${bad.length} captured messages: ${JSON.stringify(bad.map((m) => m.args.slice(0, 2)))}`,
    );
  for (const d of datagrams)
    if (d.payload.length > 1471) throw new Error(`datagram of ${d.payload.length} bytes > MTU - 28 - 1`);
  log(
    `decoded ${msgs.length} messages (${msgs.filter((m) => m.kind === 'ct').length} ct, ${msgs.filter((m) => m.kind === 'exp').length} exp, ${msgs.filter((m) => m.kind === 'control').length} control)`,
  );

  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.startsWith('sync-')) fs.rmSync(path.join(outDir, f));
  const typeName = (t: number): string => Object.entries(MSG).find(([, v]) => v === t)?.[0] ?? String(t);
  const flagNames = (f: number): string =>
    Object.entries(FLAG)
      .filter(([, v]) => f & v)
      .map(([k]) => k)
      .join('|') || '0';
  const written = new Set<string>();
  const write = (name: string, m: Captured, meta: Record<string, unknown>): void => {
    if (written.has(name)) return;
    written.add(name);
    const d = datagrams[m.di]!;
    const json = {
      name: `sync-${name}`,
      ...base,
      kind:
        m.kind === 'control'
          ? `CTL ${flagNames(m.args[0])}`
          : `${typeName(m.args[0])}${m.args[1] ? ` flags ${flagNames(m.args[1])}` : ''}`,
      sender:
        m.from === '192.0.2.1'
          ? 'A (TCPWindowTracking on, ExpectationSync on, no CommitTimeout)'
          : 'B (CommitTimeout 180, TCPWindowTracking off)',
      ...(m.kind === 'control' ? {} : { header: { type: m.args[0], flags: m.args[1], seq: m.args[2] } }),
      datagram: {
        from: `${d.src}:${d.sport}`,
        to: `${d.dst}:${d.dport}`,
        udpChecksum: `0x${d.checksum.toString(16).padStart(4, '0')}`,
        bytes: d.payload.length,
        messages: m.count,
        index: m.index,
      },
      ...meta,
    };
    fs.writeFileSync(path.join(outDir, `sync-${name}.hex`), m.bytes.toString('hex') + '\n');
    fs.writeFileSync(path.join(outDir, `sync-${name}.json`), JSON.stringify(json, null, 2) + '\n');
    log(`  sync-${name}.hex  ${m.bytes.length} bytes  ${json.kind}`);
  };
  const firstCt = (pred: (e: Entry, type: number, flags: number, m: Captured) => boolean): Captured | undefined =>
    msgs.find((m) => m.kind === 'ct' && pred(m.args[3], m.args[0], m.args[1], m));
  const bySrc = (src: string, type?: number): Captured | undefined =>
    firstCt((e, t) => e.orig.src === src && (type === undefined || t === type));

  // CT messages: name, orig src, type, how it was made, expected fields
  const ctGoldens: [string, string, number, string, Record<string, unknown>, string[]?][] = [
    [
      'ct-new-tcp',
      '198.51.100.10',
      MSG.CT_NEW,
      'conntrack -I -p tcp -s 198.51.100.10 -d 203.0.113.10 --sport 40010 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -m 66 -t 300',
      {
        family: 2,
        orig: { src: '198.51.100.10', dst: '203.0.113.10', proto: 6, sport: 40010, dport: 80 },
        status: 0x0e,
        mark: 66,
        tcp: { state: 3, wscaleOrig: 0, wscaleReply: 0 },
      },
    ],
    [
      'ct-upd-tcp',
      '198.51.100.10',
      MSG.CT_UPD,
      'conntrack -U (same tuple) -m 67',
      { family: 2, orig: { src: '198.51.100.10', dst: '203.0.113.10', proto: 6, sport: 40010, dport: 80 }, mark: 67 },
    ],
    [
      'ct-new-udp',
      '198.51.100.11',
      MSG.CT_NEW,
      'conntrack -I -p udp -s 198.51.100.11 -d 203.0.113.11 --sport 5353 --dport 53 -t 30',
      {
        family: 2,
        orig: { src: '198.51.100.11', dst: '203.0.113.11', proto: 17, sport: 5353, dport: 53 },
        status: 0x08,
        timeout: 30,
        mark: 0,
      },
      ['zone', 'tcp'],
    ],
    [
      'ct-del-udp',
      '198.51.100.11',
      MSG.CT_DEL,
      'conntrack -D of the ct-new-udp entry',
      { family: 2, orig: { src: '198.51.100.11', dst: '203.0.113.11', proto: 17, sport: 5353, dport: 53 } },
    ],
    [
      'ct-new-icmp',
      '198.51.100.12',
      MSG.CT_NEW,
      'conntrack -I -p icmp -s 198.51.100.12 -d 203.0.113.12 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30',
      {
        family: 2,
        orig: { src: '198.51.100.12', dst: '203.0.113.12', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 },
        reply: { src: '203.0.113.12', dst: '198.51.100.12', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4660 },
      },
    ],
    [
      'ct-new-icmp-snat',
      '198.51.100.13',
      MSG.CT_NEW,
      'conntrack -I -p icmp -s 198.51.100.13 -d 203.0.113.13 --icmp-type 8 --icmp-code 0 --icmp-id 4661 -t 30 --src-nat 203.0.113.113',
      {
        family: 2,
        orig: { src: '198.51.100.13', dst: '203.0.113.13', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4661 },
        reply: { src: '203.0.113.13', dst: '203.0.113.113', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4661 },
      },
    ],
    [
      'ct-new-icmp-id0-snat',
      '198.51.100.14',
      MSG.CT_NEW,
      'conntrack -I -p icmp ... --icmp-id 0 -t 30 --src-nat 203.0.113.114',
      {
        family: 2,
        orig: { src: '198.51.100.14', dst: '203.0.113.14', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 0 },
        reply: { src: '203.0.113.14', dst: '203.0.113.114', proto: 1 },
      },
    ],
    [
      'ct-new-tcp6',
      '2001:db8::10',
      MSG.CT_NEW,
      'conntrack -I -p tcp -s 2001:db8::10 -d 2001:db8:1::10 --sport 40016 --dport 443 --state ESTABLISHED -t 3600',
      {
        family: 10,
        orig: { src: '2001:db8::10', dst: '2001:db8:1::10', proto: 6, sport: 40016, dport: 443 },
        tcp: { state: 3 },
      },
    ],
    [
      'ct-new-icmpv6',
      '2001:db8::11',
      MSG.CT_NEW,
      'conntrack -I -p icmpv6 -s 2001:db8::11 -d 2001:db8:1::11 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 77 -t 30',
      {
        family: 10,
        orig: { src: '2001:db8::11', dst: '2001:db8:1::11', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 77 },
        reply: { icmpType: 129 },
      },
    ],
    [
      'ct-new-snat-port',
      '198.51.100.17',
      MSG.CT_NEW,
      'conntrack -I -p tcp -s 198.51.100.17 -d 203.0.113.17 --sport 40017 --dport 22 --state ESTABLISHED -t 3600 --src-nat 203.0.113.117:6000',
      {
        family: 2,
        orig: { src: '198.51.100.17', dst: '203.0.113.17', proto: 6, sport: 40017, dport: 22 },
        status: 0x198,
        reply: { src: '203.0.113.17', dst: '203.0.113.117', proto: 6, sport: 22, dport: 6000 },
      },
    ],
    [
      'ct-new-dnat-port',
      '198.51.100.18',
      MSG.CT_NEW,
      'conntrack -I -p tcp -s 198.51.100.18 -d 203.0.113.18 --sport 40018 --dport 80 --state ESTABLISHED -t 3600 --dst-nat 198.51.100.118:8080',
      {
        family: 2,
        orig: { src: '198.51.100.18', dst: '203.0.113.18', proto: 6, sport: 40018, dport: 80 },
        reply: { src: '198.51.100.118', dst: '198.51.100.18', proto: 6, sport: 8080, dport: 40018 },
      },
    ],
    [
      'ct-new-udp-zone',
      '198.51.100.19',
      MSG.CT_NEW,
      'conntrack -I -p udp -s 198.51.100.19 -d 203.0.113.19 --sport 1111 --dport 2222 -w 5 -t 30',
      { family: 2, orig: { src: '198.51.100.19', dst: '203.0.113.19', proto: 17, sport: 1111, dport: 2222 }, zone: 5 },
    ],
    [
      'ct-new-gre',
      '198.51.100.20',
      MSG.CT_NEW,
      'conntrack -I -p gre -s 198.51.100.20 -d 203.0.113.20 --srckey 0x1 --dstkey 0x2 -t 30',
      { family: 2, orig: { src: '198.51.100.20', dst: '203.0.113.20', proto: 47 } },
      ['orig.sport', 'orig.dport'],
    ],
    [
      'ct-new-udplite',
      '198.51.100.21',
      MSG.CT_NEW,
      'conntrack -I -p udplite -s 198.51.100.21 -d 203.0.113.21 --sport 1000 --dport 2000 -t 30',
      { family: 2, orig: { src: '198.51.100.21', dst: '203.0.113.21', proto: 136 } },
      ['orig.sport', 'orig.dport'],
    ],
    [
      'ct-new-sctp',
      '198.51.100.22',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: sctp 198.51.100.22:3868 -> 203.0.113.22:3868 ESTABLISHED, vtags 0x11223344 / 0x55667788',
      {
        family: 2,
        orig: { src: '198.51.100.22', dst: '203.0.113.22', proto: 132, sport: 3868, dport: 3868 },
        sctp: { state: 4, vtagOrig: 0x11223344, vtagReply: 0x55667788 },
      },
    ],
    [
      'ct-new-tcp-helper',
      '198.51.100.23',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: tcp 198.51.100.23:40023 -> 203.0.113.23:21 ESTABLISHED, helper ftp',
      {
        family: 2,
        orig: { src: '198.51.100.23', dst: '203.0.113.23', proto: 6, sport: 40023, dport: 21 },
        helper: 'ftp',
      },
    ],
    [
      'ct-new-tcp-related',
      '203.0.113.24',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: tcp 203.0.113.24:20 -> 198.51.100.23:40024, master = the ct-new-tcp-helper entry',
      {
        family: 2,
        orig: { src: '203.0.113.24', dst: '198.51.100.23', proto: 6, sport: 20, dport: 40024 },
        master: { src: '198.51.100.23', dst: '203.0.113.23', proto: 6, sport: 40023, dport: 21 },
      },
    ],
    [
      'ct-new-tcp-seqadj',
      '198.51.100.25',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: tcp with CTA_SEQ_ADJ_ORIG {1000,0,8}, CTA_SEQ_ADJ_REPLY {2000,4,12}, CTA_SYNPROXY {isn 0x01020304, its 0x0a0b0c0d, tsoff 0x100}, wscale 7/8',
      {
        family: 2,
        orig: { src: '198.51.100.25', dst: '203.0.113.25', proto: 6, sport: 40025, dport: 80 },
        tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8 },
        seqAdjOrig: { correctionPos: 1000, offsetBefore: 0, offsetAfter: 8 },
        seqAdjReply: { correctionPos: 2000, offsetBefore: 4, offsetAfter: 12 },
        synproxy: { isn: 0x01020304, its: 0x0a0b0c0d, tsoff: 0x100 },
      },
    ],
    [
      'ct-new-snat6',
      '2001:db8::26',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: tcp [2001:db8::26]:40026 -> [2001:db8:1::26]:80, CTA_NAT_SRC 2001:db8:2::26',
      {
        family: 10,
        orig: { src: '2001:db8::26', dst: '2001:db8:1::26', proto: 6, sport: 40026, dport: 80 },
        reply: { src: '2001:db8:1::26', dst: '2001:db8:2::26', proto: 6, sport: 80, dport: 40026 },
      },
    ],
    [
      'ct-new-dnat6-port',
      '2001:db8::27',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink: udp [2001:db8::27]:40027 -> [2001:db8:1::27]:53, CTA_NAT_DST [2001:db8:3::27]:5353',
      {
        family: 10,
        orig: { src: '2001:db8::27', dst: '2001:db8:1::27', proto: 17, sport: 40027, dport: 53 },
        reply: { src: '2001:db8:3::27', dst: '2001:db8::27', proto: 17, sport: 5353, dport: 40027 },
      },
    ],
    [
      'ct-new-labels',
      '198.51.100.28',
      MSG.CT_NEW,
      'CT_NEW over ctnetlink with CTA_LABELS bits 0, 9 and 127 (nft rule "ct label 127" in the namespace enables labels)',
      {
        family: 2,
        orig: { src: '198.51.100.28', dst: '203.0.113.28', proto: 6, sport: 40028, dport: 443 },
        labels: '01020000000000000000000000000080',
      },
    ],
    [
      'ct-new-hello',
      '198.51.100.50',
      MSG.CT_NEW,
      'in B, 200 ms after restarting its conntrackd: conntrack -I -p udp -s 198.51.100.50 -d 203.0.113.50 --sport 5050 --dport 53 -t 60 (first message of the new process: HELLO)',
      { family: 2, orig: { src: '198.51.100.50', dst: '203.0.113.50', proto: 17, sport: 5050, dport: 53 } },
    ],
    [
      'ct-new-b-commit-timeout',
      '198.51.100.40',
      MSG.CT_NEW,
      'in B: conntrack -I -p tcp -s 198.51.100.40 -d 203.0.113.40 --sport 40040 --dport 25 --state ESTABLISHED -m 7 -t 600',
      {
        family: 2,
        orig: { src: '198.51.100.40', dst: '203.0.113.40', proto: 6, sport: 40040, dport: 25 },
        mark: 7,
        tcp: { state: 3 },
      },
      ['timeout', 'tcp.wscaleOrig', 'tcp.wscaleReply'],
    ],
  ];
  for (const [name, src, type, how, exp, absent] of ctGoldens) {
    const m = bySrc(src, type);
    if (!m) {
      log(`  (no ${name}: no ${typeName(type)} for ${src} on the wire)`);
      continue;
    }
    write(name, m, { created: how, expect: exp, ...(absent ? { absent } : {}) });
  }
  // a lost entry is sent again with a new seq (after B's NACK, and in the bulk after its RESYNC):
  // the last copy is kept
  const lost = msgs.filter((m) => m.kind === 'ct' && m.args[3].orig.src === '198.51.100.41');
  if (lost.length >= 2) {
    write('ct-retransmitted', lost[lost.length - 1]!, {
      created:
        "conntrack -I udp 198.51.100.41 while B dropped sync traffic; the last copy A sent of the lost entry (in its bulk after B's RESYNC; its retransmission after B's NACK went earlier), with a new seq",
      firstSentSeq: lost[0]!.args[2],
      expect: { family: 2, orig: { src: '198.51.100.41', dst: '203.0.113.41', proto: 17, sport: 4141, dport: 53 } },
    });
  }
  // a bulk message (answer to RESYNC): CT_NEW or CT_UPD per cache state
  const bulk = msgs.filter((m) => m.step === 'resync' && m.kind === 'ct');
  if (bulk.length)
    write('ct-bulk-tcp6', bulk.find((m) => m.args[3].orig.src === '2001:db8::10') ?? bulk[0]!, {
      created: "bulk send by A after B's RESYNC (conntrackd -n in B)",
      expect: {
        family: 10,
        orig: { src: '2001:db8::10', dst: '2001:db8:1::10', proto: 6, sport: 40016, dport: 443 },
        tcp: { state: 3 },
      },
    });

  // expectations
  const expBy = (dport: number, type: number): Captured | undefined =>
    msgs.find((m) => m.kind === 'exp' && m.args[3].tuple.dport === dport && m.args[0] === type);
  const expGoldens: [string, number, number, string, Record<string, unknown>][] = [
    [
      'exp-new-ipv4',
      50000,
      MSG.EXP_NEW,
      'EXP_NEW over ctnetlink: ftp expectation 198.51.100.30 -> 203.0.113.30:50000 of master 198.51.100.30:40030 -> 203.0.113.30:21',
      {
        family: 2,
        master: { src: '198.51.100.30', dst: '203.0.113.30', proto: 6, sport: 40030, dport: 21 },
        tuple: { src: '198.51.100.30', dst: '203.0.113.30', proto: 6, dport: 50000 },
        mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
        timeout: 300,
        flags: 0,
        class: 0,
        helper: 'ftp',
      },
    ],
    [
      'exp-new-ipv6',
      50001,
      MSG.EXP_NEW,
      'EXP_NEW over ctnetlink: IPv6, source mask /64, flag INACTIVE',
      {
        family: 10,
        master: { src: '2001:db8::31', dst: '2001:db8:1::31', proto: 6, sport: 40031, dport: 21 },
        tuple: { src: '2001:db8::31', dst: '2001:db8:1::31', proto: 6, dport: 50001 },
        mask: { src: 'ffff:ffff:ffff:ffff::' },
        flags: 2,
      },
    ],
    [
      'exp-new-nat',
      6000,
      MSG.EXP_NEW,
      'EXP_NEW over ctnetlink: CTA_EXPECT_NAT dir 1 tuple 198.51.100.32:5000, fn nat-follow-master, flag PERMANENT',
      {
        family: 2,
        tuple: { src: '203.0.113.32', dst: '203.0.113.132', proto: 6, dport: 6000 },
        natDir: 1,
        natTuple: { src: '198.51.100.32', proto: 6, sport: 5000 },
        fn: 'nat-follow-master',
      },
    ],
    [
      'exp-del-ipv4',
      50000,
      MSG.EXP_DEL,
      'EXP_DELETE over ctnetlink of the exp-new-ipv4 expectation',
      { family: 2, tuple: { src: '198.51.100.30', dst: '203.0.113.30', proto: 6, dport: 50000 } },
    ],
  ];
  for (const [name, dport, type, how, exp] of expGoldens) {
    const m = expBy(dport, type);
    if (!m) {
      log(`  (no ${name} on the wire)`);
      continue;
    }
    write(name, m, { created: how, expect: exp });
  }

  // control messages
  const ctl = (
    pred: (flags: number, seq: number, from: number, to: number, m: Captured) => boolean,
  ): Captured | undefined =>
    msgs.find((m) => m.kind === 'control' && pred(m.args[0], m.args[1], m.args[2], m.args[3], m));
  const ctlGoldens: [string, (flags: number, seq: number, from: number, to: number) => boolean, string][] = [
    ['ctl-alive-hello', (f) => f === (FLAG.ALIVE | FLAG.HELLO), 'first message of a daemon: ALIVE|HELLO'],
    [
      'ctl-ack-hello-helloback',
      (f) => f === (FLAG.ACK | FLAG.HELLO | FLAG.HELLO_BACK),
      "ACK|HELLO|HELLO_BACK: answer to the peer's first HELLO",
    ],
    ['ctl-ack-helloback', (f) => f === (FLAG.ACK | FLAG.HELLO_BACK), 'ACK|HELLO_BACK'],
    ['ctl-ack', (f, s, from, to) => f === FLAG.ACK && from !== to, 'ACK (timer driven) covering a range'],
    ['ctl-nack', (f) => f === FLAG.NACK, 'NACK from B after the lost message'],
    ['ctl-resync', (f) => f === FLAG.RESYNC, 'RESYNC: conntrackd -n in B'],
    ['ctl-alive', (f) => f === FLAG.ALIVE, 'ALIVE'],
  ];
  for (const [name, pred, how] of ctlGoldens) {
    const m = ctl(pred);
    if (!m) {
      log(`  (no ${name} on the wire)`);
      continue;
    }
    write(name, m, { created: how, expect: { flags: m.args[0], seq: m.args[1], from: m.args[2], to: m.args[3] } });
  }

  // a multi-message datagram, and every datagram of the bulk answer to RESYNC
  const multi = datagrams.findIndex((d, i) => msgs.filter((m) => m.di === i).length >= 3);
  const bulkDg = [
    ...new Set(
      msgs
        .filter((m) => m.step === 'resync' && m.from === '192.0.2.1' && (m.kind === 'ct' || m.kind === 'exp'))
        .map((m) => m.di),
    ),
  ].sort((a, b) => a - b);
  const dgs = bulkDg.map((i) => datagrams[i]!);
  if (dgs.length) {
    fs.writeFileSync(
      path.join(outDir, 'sync-datagrams-bulk.hex'),
      dgs.map((d) => d.payload.toString('hex')).join('\n') + '\n',
    );
    fs.writeFileSync(
      path.join(outDir, 'sync-datagrams-bulk.json'),
      JSON.stringify(
        {
          name: 'sync-datagrams-bulk',
          ...base,
          kind: "whole UDP payloads, one per line, in capture order: A's answer to a RESYNC (bulk of its internal cache), MTU 1500",
          mtu: 1500,
          datagrams: dgs.map((d) => ({
            bytes: d.payload.length,
            messages: msgs.filter((m) => m.di === datagrams.indexOf(d)).length,
            from: `${d.src}:${d.sport}`,
          })),
        },
        null,
        2,
      ) + '\n',
    );
    log(`  sync-datagrams-bulk.hex  ${dgs.length} datagrams (${dgs.map((d) => d.payload.length).join(', ')} bytes)`);
  }
  if (multi >= 0 && !bulkDg.includes(multi))
    log(`  (multi-message datagram #${multi}: ${datagrams[multi]!.payload.length} bytes)`);
  // a log of everything, for whoever reads the goldens
  const summary = msgs.map((m) => {
    const a = m.args;
    const what =
      m.kind === 'ct'
        ? `${typeName(a[0])} ${flagNames(a[1])} seq=${a[2]} ${a[3].orig.src}`
        : m.kind === 'exp'
          ? `${typeName(a[0])} seq=${a[2]} dport=${a[3].tuple.dport}`
          : m.kind === 'control'
            ? `CTL ${flagNames(a[0])} seq=${a[1]} ${a[2]}..${a[3]}`
            : `MALFORMED ${a[0]}`;
    return `#${m.di}.${m.index} ${m.from} [${m.step}] ${m.bytes.length}B ${what}`;
  });
  fs.writeFileSync(path.join(outDir, 'sync-capture-log.txt'), summary.join('\n') + '\n');
}
