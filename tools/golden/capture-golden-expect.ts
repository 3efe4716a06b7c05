#!/usr/bin/env node
// Captures real kernel ctnetlink expectation messages as golden test data (test/golden/exp-*.hex):
//   exp-dump-ipv4.hex    an EXP_GET dump reply ((2<<8)|1, NLM_F_REQUEST|NLM_F_DUMP): FTP passive
//                        data-connection expectation, IPv4
//   exp-dump-ipv6.hex    the same for IPv6, with a /64 source mask, flag INACTIVE and a timeout
//                        changed after creation (EXP_NEW without NLM_F_EXCL)
//   exp-dump-nat.hex     IPv4, conntrack zone 7, with CTA_EXPECT_NAT {DIR, TUPLE}, CTA_EXPECT_FN
//                        "nat-follow-master" and flag PERMANENT
//   exp-event-new.hex    the NFNLGRP_CONNTRACK_EXP_NEW event of the first expectation
//   exp-event-destroy.hex  its NFNLGRP_CONNTRACK_EXP_DESTROY event (deleted over ctnetlink)
// Each .hex file holds one whole netlink message (header included) as one line of lowercase hex;
// the .json next to it says how it was made (kernel, conntrack version, the request's Expect).
//
// Everything happens in a network namespace `ctsync-expgold-<pid>-<hex>` made for the run and
// always deleted (also on failure or Ctrl-C). No packet is sent: entries and expectations are
// inserted over ctnetlink, with documentation addresses only. The masters are created with our
// own codec (writeCreateAttrs with CTA_HELP "ftp": `conntrack -I` 1.4.7 cannot attach a helper,
// and the kernel refuses expectations on a master without one), the expectations with
// writeExpectCreateAttrs, and each is checked to show up in `conntrack -L expect`.
//
// Needs root, iproute2, conntrack(8); runs from the build (`npm run build`).
// Usage: node dist/tools/golden/capture-golden-expect.js [--out DIR]   (default test/golden)

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NlWriter } from '../../src/netlink/attr.js';
import * as ct from '../../src/netlink/ctnetlink.js';
import * as expect from '../../src/netlink/expect.js';
import { forEachMessage, decodeError, isDone, isError } from '../../src/netlink/nlmsg.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import {
  NLM_F_REQUEST,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_NEW,
  IPCTNL_MSG_EXP_GET,
  IPCTNL_MSG_EXP_DELETE,
  NFNLGRP_CONNTRACK_EXP_NEW,
  NFNLGRP_CONNTRACK_EXP_DESTROY,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IPPROTO,
} from '../../src/netlink/constants.js';
import type { Entry, Expect, Tuple } from '../../src/conntrack/entry.js';
import { repoRoot } from '../lib/repo.js';

const root = repoRoot();

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(root, 'test/golden') },
    child: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: node dist/tools/golden/capture-golden-expect.js [--out DIR]\n');
  process.exit(0);
}
const outDir = path.resolve(values.out);

if (values.child) await child();
else await parent();

// ---------------------------------------------------------------- parent: namespace lifecycle

function nsDelete(name: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* namespace already gone */
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

async function parent(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('capture-golden-expect: must run as root (it creates a network namespace)');
  const ns = `ctsync-expgold-${process.pid}-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns], { stdio: 'inherit' });
  let deleted = false;
  const cleanup = () => {
    if (deleted) return;
    deleted = true;
    nsDelete(ns);
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig]);
    });
  }
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn(
        'ip',
        ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--child', '--out', outDir],
        {
          stdio: 'inherit',
        },
      );
      const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('error', reject);
      p.on('exit', (c, s) => {
        clearTimeout(timer);
        resolve(c ?? (s ? 128 : 1));
      });
    });
    if (code !== 0) throw new Error(`capture failed (exit ${code})`);
  } finally {
    cleanup();
  }
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (left.includes(ns)) throw new Error(`namespace ${ns} could not be deleted`);
}

// ---------------------------------------------------------------- child: runs inside the namespace

// eslint-disable-next-line max-lines-per-function
async function child(): Promise<void> {
  // events are on by default only when someone listens (value 2); be explicit
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_events', '1\n');

  const events = new NetlinkSocket({
    groups: [NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_DESTROY],
    rcvbuf: 1 << 20,
  });
  const ctl = new NetlinkSocket();
  const rx = Buffer.alloc(1 << 16);
  let seq = 1;

  /** Sends one request; returns the reply messages (copies) or throws on an error ack. */
  function request(type: number, flags: number, family: number, build: (w: NlWriter) => void, what: string): Buffer[] {
    const w = new NlWriter(4096);
    const mySeq = seq++;
    w.beginNf(type, flags, mySeq, family);
    build(w);
    w.end();
    ctl.send(w.bytes(), what);
    const msgs: Buffer[] = [];
    for (;;) {
      if (!ctl.waitReadable(5000)) throw new Error(`${what}: no reply`);
      const n = ctl.recv(rx);
      if (n < 0) throw new Error(`${what}: recv errno ${-n}`);
      let done = false;
      forEachMessage(rx, n, (h) => {
        if (h.seq !== mySeq) return;
        if (isError(h)) {
          const e = decodeError(rx, h);
          if (e.errno !== 0) throw new Error(`${what}: kernel error ${e.errno}${e.message ? ` (${e.message})` : ''}`);
          done = true;
          return false;
        }
        if (isDone(h)) {
          done = true;
          return false;
        }
        msgs.push(Buffer.from(rx.subarray(h.off, h.off + h.len)));
        if (!(h.flags & NLM_F_MULTI) && !(flags & NLM_F_ACK)) done = true;
      });
      if (done) return msgs;
    }
  }

  /** Waits for the next event of `type` on the event socket; returns a copy of the message. */
  function nextEvent(type: number, what: string): Buffer {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (!events.waitReadable(Math.max(1, deadline - Date.now()))) break;
      const n = events.recv(rx);
      if (n < 0) throw new Error(`${what}: event recv errno ${-n}`);
      let found: Buffer | undefined;
      forEachMessage(rx, n, (h) => {
        if (h.type === type) {
          found = Buffer.from(rx.subarray(h.off, h.off + h.len));
          return false;
        }
      });
      if (found) return found;
    }
    throw new Error(`${what}: no event of type 0x${type.toString(16)}`);
  }

  const ctType = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  const expNew = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW;
  const expGet = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_GET;
  const expDel = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_DELETE;
  const create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  const TCP = IPPROTO.TCP;

  function master(family: number, orig: Tuple, zone?: number): void {
    const e: Entry = { family, orig, status: 0x2 | 0x4 | 0x8, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' };
    if (zone !== undefined) e.zone = zone;
    request(ctType, create, family, (w) => ct.writeCreateAttrs(w, e), `create master ${orig.src}:${orig.sport}`);
  }
  function createExpect(x: Expect, flags = create, what = 'create expectation'): void {
    request(expNew, flags, x.family, (w) => expect.writeExpectCreateAttrs(w, x), what);
  }

  // A: FTP passive mode (client 192.0.2.10 -> server 198.51.100.20:21, data to port 50000)
  const mA = { src: '192.0.2.10', dst: '198.51.100.20', proto: TCP, sport: 40000, dport: 21 };
  const xA: Expect = {
    family: AF_INET,
    master: mA,
    tuple: { src: '192.0.2.10', dst: '198.51.100.20', proto: TCP, sport: 0, dport: 50000 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: TCP, sport: 0, dport: 0xffff },
    helper: 'ftp',
    timeout: 300,
  };
  // B: IPv6, any host of the client's /64, flag INACTIVE; timeout changed after creation
  const mB = { src: '2001:db8::10', dst: '2001:db8:1::20', proto: TCP, sport: 40001, dport: 21 };
  const xB: Expect = {
    family: AF_INET6,
    master: mB,
    tuple: { src: '2001:db8::10', dst: '2001:db8:1::20', proto: TCP, sport: 0, dport: 50001 },
    // partial tuples on purpose: the kernel reads only a mask's (and a NAT tuple's) source side
    mask: { src: 'ffff:ffff:ffff:ffff::', proto: TCP, sport: 0 } as Tuple,
    flags: 2,
  };
  // C: zone 7, active mode through NAT: server connects back to the public 203.0.113.5:6000,
  // which the expectation NATs to the client 192.0.2.11:5000
  const mC = { src: '192.0.2.11', dst: '198.51.100.21', proto: TCP, sport: 40002, dport: 21 };
  const xC: Expect = {
    family: AF_INET,
    master: mC,
    zone: 7,
    tuple: { src: '198.51.100.21', dst: '203.0.113.5', proto: TCP, sport: 0, dport: 6000 },
    mask: { src: '255.255.255.255', proto: TCP, sport: 0 } as Tuple,
    flags: 1,
    class: 0,
    helper: 'ftp',
    natDir: 1,
    natTuple: { src: '192.0.2.11', proto: TCP, sport: 5000 } as Tuple,
    fn: 'nat-follow-master',
  };

  master(AF_INET, mA);
  master(AF_INET6, mB);
  master(AF_INET, mC, 7);

  createExpect(xA, create, 'create expectation A');
  const evNew = nextEvent(expNew, 'NEW event of A');
  createExpect(xB, create, 'create expectation B');
  // the kernel ignores CTA_EXPECT_TIMEOUT on create (the helper policy decides: ftp 300 s);
  // an EXP_NEW without NLM_F_EXCL on the existing expectation changes it
  createExpect({ ...xB, timeout: 120 }, NLM_F_REQUEST | NLM_F_ACK, 'update timeout of B');
  createExpect(xC, create, 'create expectation C');

  // every one is visible to conntrack(8) (which lists one family at a time, IPv4 by default)
  const listExpect = () =>
    ['ipv4', 'ipv6']
      .map((f) =>
        execFileSync('conntrack', ['-L', 'expect', '-f', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
      )
      .join('');
  const listed = listExpect();
  for (const port of [50000, 50001, 6000]) {
    if (!listed.includes(`dport=${port} `))
      throw new Error(`conntrack -L expect does not show dport=${port}:\n${listed}`);
  }

  const dump = request(expGet, NLM_F_REQUEST | NLM_F_DUMP, AF_UNSPEC, () => {}, 'expectation dump');
  const byPort = new Map<number | undefined, Buffer>();
  for (const m of dump) byPort.set(expect.decodeExpect(m, 0, m.length).tuple.dport, m);
  const dumpA = byPort.get(50000);
  const dumpB = byPort.get(50001);
  const dumpC = byPort.get(6000);
  if (!dumpA || !dumpB || !dumpC) throw new Error(`dump misses an expectation (got ports ${[...byPort.keys()]})`);

  // delete A by its identity: the DESTROY event
  request(expDel, NLM_F_REQUEST | NLM_F_ACK, AF_INET, (w) => expect.writeExpectIdentity(w, xA), 'delete expectation A');
  const evDestroy = nextEvent(expDel, 'DESTROY event of A');
  const after = listExpect();
  if (after.includes('dport=50000 ')) throw new Error('expectation A still listed after delete');

  events.close();
  ctl.close();

  mkdirSync(outDir, { recursive: true });
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const tool = execFileSync('conntrack', ['--version'], { encoding: 'utf8' }).trim();
  const masterOf = (m: Tuple, zone?: number): string =>
    `master ${m.src}:${m.sport} -> ${m.dst}:${m.dport} tcp ESTABLISHED, helper ftp${zone ? `, zone ${zone}` : ''} (CT_NEW with CTA_HELP)`;
  const dumpKind = 'dump reply to EXP_GET ((2<<8)|1) NLM_F_REQUEST|NLM_F_DUMP';
  const files: Record<string, [Buffer, Record<string, unknown>]> = {
    'exp-dump-ipv4': [dumpA, { kind: dumpKind, master: masterOf(mA), created: xA }],
    'exp-dump-ipv6': [
      dumpB,
      {
        kind: dumpKind,
        master: masterOf(mB),
        created: xB,
        updated: 'EXP_NEW NLM_F_REQUEST|NLM_F_ACK (no EXCL) with CTA_EXPECT_TIMEOUT 120',
      },
    ],
    'exp-dump-nat': [dumpC, { kind: dumpKind, master: masterOf(mC, 7), created: xC }],
    'exp-event-new': [
      evNew,
      {
        kind: "event (groups EXP_NEW, EXP_DESTROY) on creating exp-dump-ipv4's expectation",
        master: masterOf(mA),
        created: xA,
      },
    ],
    'exp-event-destroy': [
      evDestroy,
      {
        kind: 'event (groups EXP_NEW, EXP_DESTROY) on deleting it',
        master: masterOf(mA),
        deleted: 'EXP_DELETE NLM_F_REQUEST|NLM_F_ACK with writeExpectIdentity (CTA_EXPECT_TUPLE)',
      },
    ],
  };
  for (const [name, [buf, meta]] of Object.entries(files)) {
    writeFileSync(path.join(outDir, `${name}.hex`), buf.toString('hex') + '\n');
    writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify({ name, kernel, tool, ...meta }, null, 2) + '\n');
    const x = expect.decodeExpect(buf, 0, buf.length);
    process.stdout.write(`${name}.hex: ${buf.length} bytes  ${JSON.stringify(x)}\n`);
  }
  process.stdout.write(`conntrack -L expect (before deleting A):\n${listed}`);
}
