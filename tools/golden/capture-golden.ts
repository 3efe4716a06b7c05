#!/usr/bin/env node
// Captures golden ctnetlink messages from the running kernel for test/unit/netlink/ctnetlink.test.ts.
//
//   sudo node dist/tools/golden/capture-golden.js [--out DIR]   (after `npm run build`; DIR defaults to test/golden)
//
// Everything happens in a fresh, uniquely named network namespace (ctsync-golden-PID-RANDOM) that is
// deleted on exit, failure or interrupt; the host's conntrack table is never touched. Entries are
// created through ctnetlink only (conntrack -I, or our own CT_NEW requests for what conntrack(8)
// 1.4.7 cannot express: helper, master, labels, seq-adj/synproxy), with documentation-range
// addresses: no packet is sent anywhere.
//
// Output, in DIR:
//   ct-dump-<name>.hex / .json   one CT_GET dump reply message per entry (hex of the whole netlink
//                                message) and what was inserted to get it
//   ct-event-{new,update,destroy}.hex / .json   event messages (groups NEW, UPDATE, DESTROY)
//   nlmsg-error-eexist.hex / .json              the kernel's NLMSG_ERROR for a duplicate CT_NEW
// Existing files are overwritten; entries the kernel refuses are skipped with a warning.

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NlWriter } from '../../src/netlink/attr.js';
import { forEachMessage, decodeError, type NlHeader } from '../../src/netlink/nlmsg.js';
import { decodeConntrack, writeCreateAttrs } from '../../src/netlink/ctnetlink.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import type { Entry } from '../../src/conntrack/entry.js';
import { repoRoot } from '../lib/repo.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = repoRoot();
const INNER_ENV = 'CTSYNC_GOLDEN_NS';
const OUT_ENV = 'CTSYNC_GOLDEN_OUT';

// ---------------------------------------------------------------------------------------------
// Outer part: create the namespace, re-run this file inside it, always delete the namespace.
// ---------------------------------------------------------------------------------------------
if (!process.env[INNER_ENV]) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(ROOT, 'test/golden') },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: sudo node dist/tools/golden/capture-golden.js [--out DIR]   (default test/golden)\n');
    process.exit(0);
  }
  if (process.getuid?.() !== 0) {
    console.error('capture-golden: must run as root (network namespaces, conntrack)');
    process.exit(1);
  }
  const ns = `ctsync-golden-${process.pid}-${randomBytes(3).toString('hex')}`;
  let created = false;
  const cleanup = () => {
    if (!created) return;
    created = false;
    const r = spawnSync('ip', ['netns', 'del', ns], { stdio: 'inherit' });
    if (r.status !== 0) console.error(`capture-golden: could not delete namespace ${ns}: delete it by hand`);
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
  let status = 1;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'inherit' });
    created = true;
    const hostNetns = fs.readlinkSync('/proc/self/ns/net');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, SCRIPT], {
      stdio: 'inherit',
      env: {
        ...process.env,
        [INNER_ENV]: ns,
        [OUT_ENV]: path.resolve(values.out),
        CTSYNC_GOLDEN_HOST_NETNS: hostNetns,
      },
    });
    status = r.status ?? 1;
    if (r.error) console.error(`capture-golden: ${r.error.message}`);
  } catch (err) {
    console.error(`capture-golden: ${(err as Error).message}`);
  } finally {
    cleanup();
  }
  process.exit(status);
}

// ---------------------------------------------------------------------------------------------
// Inner part: runs inside the namespace.
// ---------------------------------------------------------------------------------------------
if (fs.readlinkSync('/proc/self/ns/net') === process.env.CTSYNC_GOLDEN_HOST_NETNS) {
  console.error('capture-golden: refusing to run: not inside the capture namespace');
  process.exit(1);
}

const OUT = process.env[OUT_ENV] ?? path.join(ROOT, 'test/golden');
fs.mkdirSync(OUT, { recursive: true });
const KERNEL = os.release();
const CONNTRACK_VERSION = execFileSync('conntrack', ['--version'], { encoding: 'utf8' }).trim();

const CT_NEW = (1 << 8) | 0;
const CT_GET = (1 << 8) | 1;
const CT_DELETE = (1 << 8) | 2;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const F_REQUEST = 0x1;
const F_ACK = 0x4;
const F_DUMP = 0x300;
const F_CREATE = 0x400;
const F_EXCL = 0x200;

function sysctl(name: string, value: number): void {
  fs.writeFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, String(value));
}
sysctl('net.netfilter.nf_conntrack_acct', 1);
sysctl('net.netfilter.nf_conntrack_timestamp', 1);
sysctl('net.netfilter.nf_conntrack_events', 1);

function conntrack(args: string[]) {
  return spawnSync('conntrack', args, { encoding: 'utf8' });
}

// Files are written only once everything was captured, so the set stays consistent (the tests
// compare ids and counters across files).
const pending: { name: string; msg: Buffer; meta: Record<string, unknown> }[] = [];
function writeGolden(name: string, msg: Buffer, meta: Record<string, unknown>): void {
  pending.push({ name, msg: Buffer.from(msg), meta });
}
function flushGolden(): void {
  for (const { name, msg, meta } of pending) {
    fs.writeFileSync(path.join(OUT, `${name}.hex`), msg.toString('hex') + '\n');
    fs.writeFileSync(
      path.join(OUT, `${name}.json`),
      JSON.stringify({ name, kernel: KERNEL, tool: CONNTRACK_VERSION, ...meta }, null, 2) + '\n',
    );
    console.log(`  wrote ${path.join(OUT, `${name}.hex`)} (${msg.length} bytes)`);
  }
}

/** All messages of every datagram until `stop(type)` says so or nothing arrives for timeoutMs. */
interface Received {
  h: NlHeader;
  msg: Buffer;
}
function receive(sock: NetlinkSocket, timeoutMs: number, stop: (type: number) => boolean = () => false): Received[] {
  const buf = Buffer.alloc(1 << 20);
  const out: Received[] = [];
  for (;;) {
    const n = sock.recv(buf);
    if (n === -11 /* EAGAIN */) {
      if (!sock.waitReadable(timeoutMs)) return out;
      continue;
    }
    if (n < 0) throw new Error(`recv: errno ${-n}`);
    if (n > buf.length) throw new Error(`datagram truncated (${n} bytes)`);
    let done = false;
    forEachMessage(buf, n, (h) => {
      out.push({ h: { ...h, off: 0 }, msg: Buffer.from(buf.subarray(h.off, h.off + h.len)) });
      if (stop(h.type)) done = true;
    });
    if (done) return out;
  }
}

const cmd = new NetlinkSocket({ rcvbuf: 1 << 20 });
const events = new NetlinkSocket({ groups: [1, 2, 3], rcvbuf: 4 << 20 });
let seq = 1000;

/** CT_NEW through our own encoder (for what conntrack(8) cannot express); returns errno (0 = ok). */
function ctnetlinkCreate(
  entry: Entry,
  flags = F_REQUEST | F_ACK | F_CREATE | F_EXCL,
): { errno: number; reply: Buffer } {
  const w = new NlWriter();
  const s = ++seq;
  w.beginNf(CT_NEW, flags, s, entry.family);
  writeCreateAttrs(w, entry);
  w.end();
  cmd.send(w.bytes(), 'CT_NEW');
  const replies = receive(cmd, 2000, (t) => t === NLMSG_ERROR);
  const err = replies.find((r) => r.h.type === NLMSG_ERROR);
  if (!err) throw new Error('no ACK for CT_NEW');
  return { errno: decodeError(err.msg, err.h).errno, reply: err.msg };
}

/** Drains pending events; returns those whose original source is `src`. */
function eventsFor(src: string): Received[] {
  return receive(events, 300).filter((r) => {
    try {
      return decodeConntrack(r.msg, 0, r.msg.length).orig.src === src;
    } catch {
      return false;
    }
  });
}

// ------------------------------------------------------------------- the entries to capture
// Every entry has a distinct original source address: that is how dump messages are matched.
const T = { tcp: 6, udp: 17 };
const cliEntries = [
  {
    name: 'tcp-established-mark-zone',
    // conntrack 1.4.7 quirk: -u must come before -m
    args: [
      '-p',
      'tcp',
      '-s',
      '192.0.2.1',
      '-d',
      '198.51.100.1',
      '--sport',
      '40001',
      '--dport',
      '443',
      '--state',
      'ESTABLISHED',
      '-u',
      'ASSURED',
      '-m',
      '42',
      '-w',
      '5',
      '-t',
      '3600',
    ],
  },
  {
    name: 'udp',
    args: [
      '-p',
      'udp',
      '-s',
      '192.0.2.2',
      '-d',
      '198.51.100.2',
      '--sport',
      '5353',
      '--dport',
      '53',
      '-u',
      'SEEN_REPLY',
      '-t',
      '30',
    ],
  },
  {
    name: 'icmp',
    args: [
      '-p',
      'icmp',
      '-s',
      '192.0.2.3',
      '-d',
      '198.51.100.3',
      '--icmp-type',
      '8',
      '--icmp-code',
      '0',
      '--icmp-id',
      '1234',
      '-t',
      '30',
    ],
  },
  {
    name: 'tcp6',
    args: [
      '-p',
      'tcp',
      '-s',
      '2001:db8::4',
      '-d',
      '2001:db8:1::4',
      '--sport',
      '40004',
      '--dport',
      '80',
      '--state',
      'ESTABLISHED',
      '-t',
      '3600',
    ],
  },
  {
    name: 'icmpv6',
    args: [
      '-p',
      'icmpv6',
      '-s',
      '2001:db8::5',
      '-d',
      '2001:db8:1::5',
      '--icmpv6-type',
      '128',
      '--icmpv6-code',
      '0',
      '--icmpv6-id',
      '77',
      '-t',
      '30',
    ],
  },
  {
    name: 'gre',
    args: ['-p', 'gre', '-s', '192.0.2.7', '-d', '198.51.100.7', '--srckey', '0x1', '--dstkey', '0x2', '-t', '30'],
  },
  {
    name: 'udplite',
    args: ['-p', 'udplite', '-s', '192.0.2.8', '-d', '198.51.100.8', '--sport', '1000', '--dport', '2000', '-t', '30'],
  },
  {
    name: 'snat',
    args: [
      '-p',
      'tcp',
      '-s',
      '192.0.2.9',
      '-d',
      '198.51.100.9',
      '--sport',
      '40009',
      '--dport',
      '22',
      '--state',
      'ESTABLISHED',
      '-t',
      '3600',
      '--src-nat',
      '203.0.113.9',
    ],
  },
  {
    name: 'dnat',
    args: [
      '-p',
      'tcp',
      '-s',
      '192.0.2.10',
      '-d',
      '203.0.113.10',
      '--sport',
      '40010',
      '--dport',
      '80',
      '--state',
      'ESTABLISHED',
      '-t',
      '3600',
      '--dst-nat',
      '198.51.100.10:8080',
    ],
  },
  {
    name: 'udp-orig-zone',
    args: [
      '-p',
      'udp',
      '-s',
      '192.0.2.11',
      '-d',
      '198.51.100.11',
      '--sport',
      '1111',
      '--dport',
      '2222',
      '--orig-zone',
      '3',
      '-t',
      '30',
    ],
  },
];

const helperEntry: Entry = {
  family: 2,
  orig: { src: '192.0.2.12', dst: '198.51.100.12', proto: T.tcp, sport: 40012, dport: 21 },
  status: 0x2 | 0x4, // SEEN_REPLY | ASSURED
  timeout: 3600,
  tcp: { state: 3 },
  helper: 'ftp',
};
const apiEntries: { name: string; entry: Entry; needsLabels?: boolean }[] = [
  {
    // not conntrack -I: conntrack 1.4.7 parses --orig-vtag/--reply-vtag as decimal only (0x... gives
    // 0) and sends them in host byte order
    name: 'sctp',
    entry: {
      family: 2,
      orig: { src: '192.0.2.6', dst: '198.51.100.6', proto: 132, sport: 3868, dport: 3868 },
      timeout: 3600,
      sctp: { state: 4 /* ESTABLISHED */, vtagOrig: 0x11223344, vtagReply: 0x55667788 },
    },
  },
  { name: 'tcp-helper-ftp', entry: helperEntry },
  {
    // an FTP active-mode data connection: master is the control connection above
    name: 'tcp-related-master',
    entry: {
      family: 2,
      orig: { src: '198.51.100.12', dst: '192.0.2.12', proto: T.tcp, sport: 20, dport: 40013 },
      status: 0x2,
      timeout: 120,
      tcp: { state: 3 },
      master: helperEntry.orig,
    },
  },
  {
    name: 'tcp-labels',
    entry: {
      family: 2,
      orig: { src: '192.0.2.14', dst: '198.51.100.14', proto: T.tcp, sport: 40014, dport: 443 },
      status: 0x2 | 0x4,
      timeout: 3600,
      tcp: { state: 3 },
      // bits 0, 9 and 127 in the kernel layout (host-order u32 words)
      labels: '01020000000000000000000000000080',
    },
    needsLabels: true,
  },
  {
    name: 'tcp-seqadj-synproxy',
    entry: {
      family: 2,
      orig: { src: '192.0.2.15', dst: '198.51.100.15', proto: T.tcp, sport: 40015, dport: 80 },
      status: 0x2 | 0x4 | 0x40, // SEQ_ADJUST
      timeout: 3600,
      tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8, flagsOrig: 0x03, flagsReply: 0x03 }, // WINDOW_SCALE|SACK_PERM
      seqAdjOrig: { correctionPos: 1000, offsetBefore: 0, offsetAfter: 8 },
      seqAdjReply: { correctionPos: 2000, offsetBefore: 4, offsetAfter: 12 },
      synproxy: { isn: 0x01020304, its: 0x0a0b0c0d, tsoff: 0x00000100 },
    },
  },
];

/** Makes the kernel attach the labels extension to new entries in this namespace. */
function enableLabels(): string | undefined {
  // a rule that only matches a label is enough to make the kernel allocate label space
  const tries: [string, string[], string?][] = [
    ['iptables', ['-t', 'mangle', '-A', 'PREROUTING', '-m', 'connlabel', '--label', '127']],
    [
      'nft',
      ['-f', '-'],
      'table ip golden {\n chain c {\n  type filter hook prerouting priority 0\n  ct label 127\n }\n}\n',
    ],
  ];
  for (const [bin, args, input] of tries) {
    const r = spawnSync(bin, args, { input, encoding: 'utf8' });
    if (r.status === 0) return `${bin} ${args.join(' ')}${input ? `: ${input.trim()}` : ''}`;
    console.warn(`  (${bin} refused: ${(r.stderr || r.error?.message || '').trim()})`);
  }
  return undefined;
}

const inserted = new Map<string, { name: string; meta: Record<string, unknown> }>(); // orig src -> { name, meta }

console.log(`capture-golden: namespace ${process.env[INNER_ENV]}, kernel ${KERNEL}`);
receive(events, 100); // nothing yet, but start clean

// ------------------------------------------------------------------- real traffic, on lo only
// Entries made by packets (not by ctnetlink) have real counters, TCP window scales and flags. The
// packets never leave the namespace: both ends are addresses put on its loopback interface.
const TRAFFIC_SETUP: [string, string[]][] = [
  ['ip', ['link', 'set', 'lo', 'up']],
  ['ip', ['addr', 'add', '192.0.2.100/32', 'dev', 'lo']],
  ['ip', ['addr', 'add', '198.51.100.100/32', 'dev', 'lo']],
  ['ip', ['addr', 'add', '192.0.2.101/32', 'dev', 'lo']],
  ['ip', ['addr', 'add', '198.51.100.101/32', 'dev', 'lo']],
  // any rule using conntrack makes the kernel track this namespace's packets
  ['iptables', ['-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'NEW,ESTABLISHED', '-j', 'ACCEPT']],
];
const trafficSockets: { destroy?: () => void; close?: () => void }[] = [];
async function makeTraffic(): Promise<void> {
  for (const [bin, args] of TRAFFIC_SETUP) {
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  const dgram = await import('node:dgram');
  const net = await import('node:net');
  const once = (emitter: import('node:events').EventEmitter, ev: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      emitter.once(ev, resolve);
      emitter.once('error', reject);
    });
  // UDP: two datagrams out (10 and 20 bytes of payload), one back (30 bytes)
  const server = dgram.createSocket('udp4');
  const client = dgram.createSocket('udp4');
  trafficSockets.push(server, client);
  server.bind(5300, '198.51.100.100');
  client.bind(40100, '192.0.2.100');
  await Promise.all([once(server, 'listening'), once(client, 'listening')]);
  const got = once(client, 'message');
  server.once('message', (_m, rinfo) => server.send(Buffer.alloc(30, 0x62), rinfo.port, rinfo.address));
  client.send(Buffer.alloc(10, 0x61), 5300, '198.51.100.100');
  await new Promise((r) => setTimeout(r, 50));
  client.send(Buffer.alloc(20, 0x61), 5300, '198.51.100.100');
  await got;
  // TCP: a connection that stays open while the table is dumped
  const tcpServer = net.createServer((sock) => {
    trafficSockets.push(sock);
    sock.once('data', () => sock.write('world!'));
  });
  tcpServer.listen(8080, '198.51.100.101');
  await once(tcpServer, 'listening');
  trafficSockets.push(tcpServer);
  const tcpClient = net.connect({ host: '198.51.100.101', port: 8080, localAddress: '192.0.2.101', localPort: 40101 });
  trafficSockets.push(tcpClient);
  await once(tcpClient, 'connect');
  tcpClient.write('hello');
  await once(tcpClient, 'data');
  await new Promise((r) => setTimeout(r, 100));
  const how = 'packets on the namespace loopback: ';
  inserted.set('192.0.2.100', {
    name: 'udp-traffic',
    meta: {
      inserted:
        how +
        'UDP 192.0.2.100:40100 -> 198.51.100.100:5300, 2 datagrams (10 and 20 bytes payload) out, 1 (30 bytes) back',
    },
  });
  inserted.set('192.0.2.101', {
    name: 'tcp-traffic',
    meta: {
      inserted: how + 'TCP 192.0.2.101:40101 -> 198.51.100.101:8080, handshake, "hello" out, "world!" back, left open',
    },
  });
}
try {
  await makeTraffic();
} catch (err) {
  console.warn(`  skip traffic entries: ${(err as Error).message}`);
}

for (const { name, args } of cliEntries) {
  const r = conntrack(['-I', ...args]);
  if (r.status !== 0) {
    console.warn(`  skip ${name}: conntrack -I refused: ${r.stderr.trim()}`);
    continue;
  }
  inserted.set(args[args.indexOf('-s') + 1]!, { name, meta: { inserted: `conntrack -I ${args.join(' ')}` } });
}

let labelRule: string | undefined;
for (const { name, entry, needsLabels } of apiEntries) {
  if (needsLabels) {
    labelRule = enableLabels();
    if (!labelRule) {
      console.warn(`  skip ${name}: cannot enable conntrack labels in the namespace`);
      continue;
    }
  }
  const { errno } = ctnetlinkCreate(entry);
  if (errno !== 0) {
    console.warn(`  skip ${name}: CT_NEW refused with errno ${errno}`);
    continue;
  }
  const meta: Record<string, unknown> = {
    inserted: 'CT_NEW via writeCreateAttrs (src/netlink/ctnetlink.ts) of the entry below',
    entry,
  };
  if (needsLabels) meta.labelsEnabledBy = labelRule;
  inserted.set(entry.orig.src, { name, meta });
}

// ------------------------------------------------------------------- dump
{
  const w = new NlWriter();
  const s = ++seq;
  w.beginNf(CT_GET, F_REQUEST | F_DUMP, s, 0);
  w.end();
  cmd.send(w.bytes(), 'CT_GET dump');
  const msgs = receive(cmd, 2000, (t) => t === NLMSG_DONE || t === NLMSG_ERROR);
  let seen = 0;
  for (const { h, msg } of msgs) {
    if (h.type !== CT_GET && h.type !== CT_NEW) continue;
    const e = decodeConntrack(msg, 0, msg.length);
    const ins = inserted.get(e.orig.src);
    if (!ins) {
      console.warn(`  unexpected entry in the dump: ${e.orig.src} -> ${e.orig.dst}`);
      continue;
    }
    seen++;
    writeGolden(`ct-dump-${ins.name}`, msg, { kind: 'dump reply to CT_GET NLM_F_DUMP', ...ins.meta });
  }
  if (seen !== inserted.size) console.warn(`  dump had ${seen} of ${inserted.size} inserted entries`);
}

for (const s of trafficSockets) (s.destroy ?? s.close)?.call(s);

// ------------------------------------------------------------------- events
{
  receive(events, 300); // drop the events of the entries above
  // a DESTROY with real counters and a stop timestamp: the UDP traffic entry
  if (inserted.has('192.0.2.100')) {
    const args = [
      '-D',
      '-p',
      'udp',
      '-s',
      '192.0.2.100',
      '-d',
      '198.51.100.100',
      '--sport',
      '40100',
      '--dport',
      '5300',
    ];
    const r = conntrack(args);
    const got = r.status === 0 ? eventsFor('192.0.2.100').filter((x) => x.h.type === CT_DELETE) : [];
    if (got.length) {
      writeGolden('ct-event-destroy-traffic', got[0]!.msg, {
        kind: 'event (groups NEW, UPDATE, DESTROY)',
        inserted: `the udp-traffic entry (see ct-dump-udp-traffic.json), then conntrack ${args.join(' ')}`,
      });
    } else console.warn(`  skip ct-event-destroy-traffic: ${r.status !== 0 ? r.stderr.trim() : 'no event'}`);
  }
  const src = '192.0.2.20';
  const base = ['-p', 'tcp', '-s', src, '-d', '198.51.100.20', '--sport', '40020', '--dport', '8443'];
  const steps = [
    {
      name: 'ct-event-new',
      type: CT_NEW,
      args: ['-I', ...base, '--state', 'ESTABLISHED', '-u', 'ASSURED', '-m', '1', '-t', '3600'],
    },
    { name: 'ct-event-update', type: CT_NEW, args: ['-U', ...base, '-m', '7'] },
    { name: 'ct-event-destroy', type: CT_DELETE, args: ['-D', ...base] },
  ];
  for (const step of steps) {
    const r = conntrack(step.args);
    if (r.status !== 0) {
      console.warn(`  skip ${step.name}: conntrack ${step.args[0]} refused: ${r.stderr.trim()}`);
      continue;
    }
    const got = eventsFor(src).filter((x) => x.h.type === step.type);
    if (got.length === 0) {
      console.warn(`  skip ${step.name}: no event received`);
      continue;
    }
    writeGolden(step.name, got[0]!.msg, {
      kind: `event (groups NEW, UPDATE, DESTROY), ${got.length} message(s) of this type received, first kept`,
      inserted: `conntrack ${step.args.join(' ')}`,
    });
  }
}

// ------------------------------------------------------------------- NLMSG_ERROR (EEXIST)
{
  const entry: Entry = {
    family: 2,
    orig: { src: '192.0.2.2', dst: '198.51.100.2', proto: T.udp, sport: 5353, dport: 53 },
    timeout: 30,
  };
  const { errno, reply } = ctnetlinkCreate(entry);
  if (errno !== 17) console.warn(`  CT_NEW of an existing entry gave errno ${errno}, expected 17 (EEXIST)`);
  writeGolden('nlmsg-error-eexist', reply, {
    kind: 'NLMSG_ERROR reply (socket has NETLINK_CAP_ACK and NETLINK_EXT_ACK set)',
    inserted: 'CT_NEW flags REQUEST|ACK|CREATE|EXCL, seq as sent, for the existing udp entry',
    entry,
  });
}

cmd.close();
events.close();
flushGolden();
console.log('capture-golden: done');
