#!/usr/bin/env node
// Micro benchmark of the primary's per-event path: CPU time per 100k kernel conntrack events,
// general path (decodeConntrack -> makeFilter -> flowKey -> encodeCtAttrs / mergeEntry) against
// the byte-level path (engine/event-transcoder.ts + engine/flow-filter.ts).
//
//   npm run build:ts && node dist/tools/bench/bench-transcode.js [count=100000] [reps=5]
//
// Events are kernel-like: NEW carries both tuples, id, status, timeout, TCP protoinfo (state,
// window scales, flags), sometimes a mark; UPDATE carries tuples, id, status, timeout and a TCP
// state change. 85% TCP, 10% UDP, 5% IPv6 TCP; 20% of the IPv4 flows SNATed.
import { NlWriter } from '../../src/netlink/attr.js';
import { decodeConntrack, writeDumpAttrs } from '../../src/netlink/ctnetlink.js';
import { encodeCtAttrs } from '../../src/sync/wire-attrs.js';
import { decodeStored, mergeEntry } from '../../src/cache/sync-cache.js';
import { flowKey } from '../../src/conntrack/key.js';
import { makeFilter, type FilterRules } from '../../src/conntrack/filter.js';
import { EventTranscoder } from '../../src/engine/event-transcoder.js';
import { makeEventFilter } from '../../src/engine/flow-filter.js';
import type { Entry, Tuple } from '../../src/conntrack/entry.js';

const COUNT = Number(process.argv[2] ?? 100000);
const REPS = Number(process.argv[3] ?? 5);
const OPTS = { tcpWindowTracking: true };
const RULES: FilterRules = {
  protocol: { mode: 'accept', protocols: [6, 17, 132] },
  address: { mode: 'ignore', ipv4: ['127.0.0.0/8', '10.255.0.0/16'], ipv6: ['::1', 'fe80::/10'] },
  state: {
    mode: 'accept',
    tcpStates: ['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSED'],
  },
};

let seed = 12345;
const rnd = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};

interface Flow {
  family: 2 | 10;
  orig: Tuple;
  reply: Tuple;
  snat: boolean;
}

function flow(i: number): Flow {
  const kind = rnd(100);
  const v6 = kind >= 95;
  const proto = kind < 85 || v6 ? 6 : 17;
  const src = v6
    ? `2001:db8:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}`
    : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const dst = v6 ? '2001:db8:ffff::80' : `198.51.${rnd(256)}.${rnd(256)}`;
  const sport = 1024 + rnd(60000);
  const dport = [80, 443, 53, 8080][rnd(4)]!;
  const snat = !v6 && rnd(5) === 0;
  const orig = { src, dst, proto, sport, dport };
  const reply = {
    src: dst,
    dst: snat ? '203.0.113.7' : src,
    proto,
    sport: dport,
    dport: snat ? 30000 + rnd(30000) : sport,
  };
  return { family: v6 ? 10 : 2, orig, reply, snat };
}

function newEntry(f: Flow, i: number): Entry {
  const e: Entry = { family: f.family, orig: f.orig, reply: f.reply, status: f.snat ? 0x188 : 0x8, id: i };
  e.timeout = f.orig.proto === 6 ? 120 : 30;
  if (i % 7 === 0) e.mark = i & 0xff;
  if (f.orig.proto === 6) e.tcp = { state: 1, wscaleOrig: 7, wscaleReply: 0, flagsOrig: 0x03, flagsReply: 0 };
  return e;
}

function updateEntry(f: Flow, i: number): Entry {
  const e: Entry = {
    family: f.family,
    orig: f.orig,
    reply: f.reply,
    status: (f.snat ? 0x188 : 0x8) | 0x6,
    id: i,
    timeout: 432000,
  };
  if (f.orig.proto === 6) e.tcp = { state: 3 };
  return e;
}

function pack(entries: Entry[], type: number): { buf: Buffer; offs: Int32Array; lens: Int32Array } {
  const w = new NlWriter(COUNT * 256);
  const offs = new Int32Array(entries.length);
  const lens = new Int32Array(entries.length);
  entries.forEach((e, i) => {
    offs[i] = w.off;
    w.beginNf(type, 0, 0, e.family);
    writeDumpAttrs(w, e);
    w.end();
    lens[i] = w.off - offs[i];
  });
  return { buf: Buffer.from(w.bytes()), offs, lens };
}

const flows = Array.from({ length: COUNT }, (_, i) => flow(i));
const NEW = pack(flows.map(newEntry), 0x100);
const UPD = pack(flows.map(updateEntry), 0x100);
const scratch = Buffer.allocUnsafe(8192);
const stored = flows.map((f, i) =>
  scratch.toString('latin1', 0, encodeCtAttrs(scratch, 0, decodeConntrack(NEW.buf, NEW.offs[i], NEW.lens[i]), OPTS)),
);
const slowFilter = makeFilter(RULES);
const fastFilter = makeEventFilter(RULES);
const t = new EventTranscoder(OPTS);
const keys: (string | number | undefined)[] = new Array<string | number | undefined>(COUNT);
const attrs: string[] = new Array<string>(COUNT);

const cases: Record<string, () => void> = {
  'NEW    general': () => {
    const { buf, offs, lens } = NEW;
    for (let i = 0; i < COUNT; i++) {
      const e = decodeConntrack(buf, offs[i], lens[i]);
      if (!slowFilter(e)) continue;
      keys[i] = flowKey(e);
      attrs[i] = scratch.toString('latin1', 0, encodeCtAttrs(scratch, 0, e, OPTS));
    }
  },
  'NEW    fast': () => {
    const { buf, offs, lens } = NEW;
    for (let i = 0; i < COUNT; i++) {
      if (!t.scan(buf, offs[i], lens[i])) throw new Error('fallback');
      if (!fastFilter(t)) continue;
      keys[i] = t.key();
      const n = t.encode();
      if (n < 0) throw new Error('fallback');
      attrs[i] = t.attrs(n);
    }
  },
  'UPDATE general (merge)': () => {
    const { buf, offs, lens } = UPD;
    for (let i = 0; i < COUNT; i++) {
      const e = decodeConntrack(buf, offs[i], lens[i]);
      if (!slowFilter(e)) continue;
      keys[i] = flowKey(e);
      attrs[i] = scratch.toString('latin1', 0, encodeCtAttrs(scratch, 0, mergeEntry(decodeStored(stored[i]), e), OPTS));
    }
  },
  'UPDATE fast (merge)': () => {
    const { buf, offs, lens } = UPD;
    for (let i = 0; i < COUNT; i++) {
      if (!t.scan(buf, offs[i], lens[i])) throw new Error('fallback');
      if (!fastFilter(t)) continue;
      keys[i] = t.key();
      const n = t.encodeMerged(stored[i]);
      if (n < 0) throw new Error('fallback');
      attrs[i] = t.attrs(n);
    }
  },
  'decode+filter general': () => {
    const { buf, offs, lens } = NEW;
    let k = 0;
    for (let i = 0; i < COUNT; i++) if (slowFilter(decodeConntrack(buf, offs[i], lens[i]))) k++;
    keys[0] = k;
  },
  'scan+filter fast': () => {
    const { buf, offs, lens } = NEW;
    let k = 0;
    for (let i = 0; i < COUNT; i++) if (t.scan(buf, offs[i], lens[i]) && fastFilter(t)) k++;
    keys[0] = k;
  },
};

// the two paths agree on this data (the unit test checks the general case)
cases['NEW    general']!();
const slowNew = attrs.slice();
const slowKeys = keys.slice();
cases['NEW    fast']!();
for (let i = 0; i < COUNT; i++)
  if (attrs[i] !== slowNew[i] || keys[i] !== slowKeys[i]) throw new Error(`NEW mismatch at ${i}`);
cases['UPDATE general (merge)']!();
const slowUpd = attrs.slice();
cases['UPDATE fast (merge)']!();
for (let i = 0; i < COUNT; i++) if (attrs[i] !== slowUpd[i]) throw new Error(`UPDATE mismatch at ${i}`);

interface Run {
  cpu: number;
  wall: number;
}

const cpuMs = (fn: () => void): Run => {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall: Number(process.hrtime.bigint() - w0) / 1e6 };
};

console.log(`${COUNT} events per run, best of ${REPS} (after a warm-up run); CPU ms includes GC threads`);
const results: Record<string, Run> = {};
for (const [name, fn] of Object.entries(cases)) {
  fn(); // warm-up
  const runs: Run[] = [];
  for (let r = 0; r < REPS; r++) runs.push(cpuMs(fn));
  runs.sort((a, b) => a.cpu - b.cpu);
  results[name] = runs[0];
  const per100k = (runs[0].cpu * 100000) / COUNT;
  console.log(
    `${name.padEnd(24)} cpu ${per100k.toFixed(1).padStart(7)} ms/100k  wall ${((runs[0].wall * 100000) / COUNT).toFixed(1).padStart(7)} ms/100k  (median cpu ${((runs[Math.floor(REPS / 2)].cpu * 100000) / COUNT).toFixed(1)})`,
  );
}
const ratio = (a: string, b: string): string => (results[a]!.cpu / results[b]!.cpu).toFixed(1);
console.log(
  `speed-up: NEW x${ratio('NEW    general', 'NEW    fast')}, UPDATE x${ratio('UPDATE general (merge)', 'UPDATE fast (merge)')}, filter-only x${ratio('decode+filter general', 'scan+filter fast')}`,
);
