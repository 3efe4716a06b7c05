#!/usr/bin/env node
// Micro benchmark of the FT-FW state machine (src/sync/ftfw.ts), driven the way the sync engine
// drives it: 16-char latin1 flow keys, queueObject() per changed entry, one transmitPass(sink) per
// loop turn, the peer's ACK every ACKWindowSize messages arriving one turn later; and the receive
// side: in-order data messages, one transmitPass per loop turn for the ACKs it queues.
//
//   npm run build:ts && node --expose-gc dist/tools/bench/bench-ftfw.js [--module dist/src/sync/ftfw.js]
//     [--objects 100000] [--batch 1000] [--reps 7] [--mode map|intrusive|both] [--only tx|rx]
//     [--sink raw|fn]   (raw: transmitTo(TxSink) and receiveHeader() if the module has them,
//                        fn: transmitPass(callback) and receive(header))
//
// Reports process CPU time (user+sys, GC included: gc() runs before each timed section) per
// repetition and the median/min, and the median of the GC pauses inside the timed sections. Run it several times on a shared machine; compare medians.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { repoRoot } from '../lib/repo.js';
import type { FtFwEnv, FtFwOptions, TxMessage, TxSink } from '../../src/sync/ftfw-types.js';
import { PerformanceObserver } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string | number): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : String(dflt);
};
const modPath = resolve(opt('module', resolve(repoRoot(), 'dist/src/sync/ftfw.js')));
const N = Number(opt('objects', 100_000));
const BATCH = Number(opt('batch', 1000));
const REPS = Number(opt('reps', 7));
const MODE = opt('mode', 'both');
const ONLY = opt('only', '');
const RAW = opt('sink', 'raw') === 'raw'; // transmitTo(TxSink) when the module has it
// --module: another build's FT-FW (an older commit's dist) against this one; typed as this one's
const { FtFw, FTFW_FLAG } = (await import(pathToFileURL(modPath).href)) as typeof import('../../src/sync/ftfw.js');
/** A cache object as the bench queues it: a flow key, a state for the message type, the intrusive node. */
interface Obj {
  key: string;
  state: number;
  attrs: string;
  ftfwNode: object | undefined;
}
type Fw = InstanceType<typeof FtFw<Obj>>;

const T_CTL = 10;
const gc: () => void = globalThis.gc ?? (() => {});
// GC pauses inside the timed sections (the explicit gc() between them excluded); the entries
// arrive asynchronously and are matched with the recorded windows at the end
const gcEntries: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEntries.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });
const gcIn = (t0: number, t1: number): number =>
  gcEntries.reduce((a, [st, d]) => (st >= t0 && st <= t1 ? a + d : a), 0);
const tick = () => new Promise((r) => setImmediate(r));

function makeEnv(): FtFwEnv & { clock: { t: number; id: number } } {
  const env = { t: 1_750_000_000_000, id: 0 };
  return {
    clock: env,
    now: () => env.t,
    setTimer: () => ++env.id,
    clearTimer: () => {},
  };
}

/** Flow-key-like strings: 16 latin1 chars. */
function makeObjects(n: number, salt: number): Obj[] {
  const objs: Obj[] = new Array<Obj>(n);
  const cache = new Map(); // as the engine's internal cache: the key's hash is computed there
  for (let i = 0; i < n; i++) {
    const a = i + salt;
    const key = String.fromCharCode(
      10,
      0,
      (a >>> 16) & 255,
      (a >>> 8) & 255,
      a & 255,
      1,
      192,
      168,
      0,
      1,
      0,
      6,
      (a >>> 8) & 255,
      a & 255,
      0,
      80,
    );
    objs[i] = { key, state: 0, attrs: 'x', ftfwNode: undefined };
    cache.set(key, objs[i]);
  }
  return objs;
}

function options(intrusive: boolean): FtFwOptions<Obj> {
  const o: FtFwOptions<Obj> = { keyOf: (x) => x.key };
  if (intrusive) {
    o.nodeOf = (x) => x.ftfwNode;
    o.setNodeOf = (x, n) => {
      x.ftfwNode = n;
    };
  }
  return o;
}

/** Brings a sender past its handshake and linger (steady state, as when flows arrive). */
function steady(fw: Fw, env: ReturnType<typeof makeEnv>): number {
  let first = -1,
    last = -1;
  const rec = (m: TxMessage<Obj>): void => {
    if (first < 0) first = m.seq;
    last = m.seq;
  };
  fw.start();
  fw.onTimer(); // ALIVE|HELLO
  fw.transmitPass(rec);
  fw.receive({ type: T_CTL, flags: FTFW_FLAG.ALIVE | FTFW_FLAG.HELLO | FTFW_FLAG.HELLO_BACK, seq: 5000 });
  let peer = 5001;
  for (let i = 0; i < 10; i++) {
    env.clock.t += 1000;
    fw.onTimer();
    fw.transmitPass(rec);
    if (last >= 0) fw.receive({ type: T_CTL, flags: FTFW_FLAG.ACK, seq: peer++, from: first, to: last });
    else fw.receive({ type: T_CTL, flags: FTFW_FLAG.ALIVE, seq: peer++ });
    fw.transmitPass(rec);
  }
  fw.receive({ type: T_CTL, flags: FTFW_FLAG.ACK, seq: peer++, from: first, to: last });
  if (fw.hello !== 'done' || fw.stats().rsQueueLen !== 0)
    throw new Error(`bench: sender not in steady state ${JSON.stringify(fw.stats())}`);
  return peer;
}

let sink = 0;
// the cache's objects: long-lived, like the engine's internal cache (old generation)
const objs = makeObjects(N, 7);
gc();
gc();

interface Rep {
  cpu: number;
  wall: number;
  t0: number;
  t1: number;
}

// eslint-disable-next-line max-lines-per-function
function benchTx(intrusive: boolean, raw: boolean): Rep {
  const env = makeEnv();
  let released = 0;
  const fw = new FtFw(
    env,
    {
      released: () => {
        released++;
      },
    },
    { ...options(intrusive), startupResync: false, bulkOnStartup: false },
  );
  let peer = steady(fw, env);
  for (const o of objs) o.ftfwNode = undefined;
  // peer side of the ACK window: it ACKs every 300 in-sync messages; ACKs arrive one turn later
  let ackFrom = -1;
  let inWin = 0;
  let acks: number[] = [];
  let nextAcks: number[] = [];
  const emit = (m: TxMessage<Obj>): void => {
    const it = m.item;
    if (it.kind === 'object') sink += it.obj.state + m.flags;
    else sink += it.from + it.to + m.flags;
    if (ackFrom < 0) ackFrom = m.seq;
    if (++inWin === 300) {
      nextAcks.push(ackFrom, m.seq);
      ackFrom = -1;
      inWin = 0;
    }
  };
  // the engine's emit: type from state for objects, flags byte + range for controls
  const rawSink: TxSink<Obj> = {
    object: (o, seq, flags) => {
      sink += o.state + flags;
      if (ackFrom < 0) ackFrom = seq;
      if (++inWin === 300) {
        nextAcks.push(ackFrom, seq);
        ackFrom = -1;
        inWin = 0;
      }
    },
    control: (kind, seq, flags, from, to) => {
      sink += from + to + flags;
      if (ackFrom < 0) ackFrom = seq;
      if (++inWin === 300) {
        nextAcks.push(ackFrom, seq);
        ackFrom = -1;
        inWin = 0;
      }
    },
  };
  const pass = raw ? () => fw.transmitTo(rawSink) : () => fw.transmitPass(emit);
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const end = Math.min(N, i + BATCH);
    for (let j = i; j < end; j++) fw.queueObject(objs[j]);
    // updates to a few recent flows (coalesced / moved back from the resend queue)
    for (let j = Math.max(0, i - 50); j < i; j += 10) fw.queueObject(objs[j]);
    for (let k = 0; k < acks.length; k += 2)
      fw.receive({ type: T_CTL, flags: FTFW_FLAG.ACK, seq: peer++, from: acks[k], to: acks[k + 1] });
    pass();
    acks = nextAcks;
    nextAcks = [];
    env.clock.t += 1;
  }
  // drain: the remaining ACKs (and the partial window, as the peer's timer ACK)
  for (let r = 0; r < 3; r++) {
    for (let k = 0; k < acks.length; k += 2)
      fw.receive({ type: T_CTL, flags: FTFW_FLAG.ACK, seq: peer++, from: acks[k], to: acks[k + 1] });
    acks = nextAcks;
    nextAcks = [];
    if (ackFrom >= 0) {
      acks.push(ackFrom, (ackFrom + inWin - 1) >>> 0);
      ackFrom = -1;
      inWin = 0;
    }
    pass();
  }
  const c = process.cpuUsage(c0);
  const t1 = performance.now();
  const wall = t1 - t0;
  const st = fw.stats();
  if (st.rsQueueLen !== 0 || st.txQueueLen !== 0 || released < N)
    throw new Error(`tx bench did not drain: ${JSON.stringify({ rs: st.rsQueueLen, tx: st.txQueueLen, released })}`);
  return { cpu: (c.user + c.system) / 1000, wall, t0, t1 };
}

function benchRx(raw: boolean): Rep {
  const env = makeEnv();
  const fw = new FtFw(env, {}, { ...options(false), startupResync: false, bulkOnStartup: false });
  fw.start();
  let seq = 3_000_000_000;
  const emit = (m: TxMessage<Obj>): void => {
    sink += m.seq + m.flags;
  };
  const rawSink: TxSink<Obj> = {
    object: (o, seq, flags) => {
      sink += seq + flags;
    },
    control: (k, seq, flags) => {
      sink += seq + flags;
    },
  };
  const pass = raw ? () => fw.transmitTo(rawSink) : () => fw.transmitPass(emit);
  // the peer's first message (HELLO run), then its handshake-complete traffic
  fw.receive({ type: T_CTL, flags: FTFW_FLAG.ALIVE | FTFW_FLAG.HELLO, seq: seq++ });
  fw.transmitPass(emit);
  fw.receive({ type: T_CTL, flags: FTFW_FLAG.ALIVE, seq: seq++ });
  fw.transmitPass(emit);
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let applied = 0;
  for (let i = 0; i < N; i += 64) {
    const end = Math.min(N, i + 64);
    for (let j = i; j < end; j++) {
      // receive(): the engine builds one header object per decoded message
      if ((raw ? fw.receiveHeader(0, 0, seq++) : fw.receive({ type: 0, flags: 0, seq: seq++ })) === 'apply') applied++;
    }
    pass();
    env.clock.t += 1;
  }
  const c = process.cpuUsage(c0);
  const t1 = performance.now();
  const wall = t1 - t0;
  if (applied !== N) throw new Error('rx bench: not everything applied');
  return { cpu: (c.user + c.system) / 1000, wall, t0, t1 };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};
const fmt = (x: number): string => x.toFixed(1).padStart(7);

async function run(name: string, fn: () => Rep): Promise<void> {
  for (let i = 0; i < 5; i++) fn(); // warm-up (JIT, free lists, heap sizing)
  const cpu: number[] = [],
    wall: number[] = [],
    win: [number, number][] = [];
  for (let r = 0; r < REPS; r++) {
    const x = fn();
    cpu.push(x.cpu);
    wall.push(x.wall);
    win.push([x.t0, x.t1]);
  }
  await tick();
  await tick();
  const gcs = win.map(([t0, t1]) => gcIn(t0, t1));
  const per = 100_000 / N;
  console.log(
    `${name.padEnd(40)} cpu ms/100k: median ${fmt(median(cpu) * per)}  min ${fmt(Math.min(...cpu) * per)}   gc ${fmt(median(gcs) * per)}   wall ${fmt(median(wall) * per)}   [${cpu.map((x) => (x * per).toFixed(0)).join(' ')}]`,
  );
}

console.log(`module ${modPath}, ${N} objects, batch ${BATCH}, ${REPS} reps${globalThis.gc ? '' : ' (no --expose-gc)'}`);
const hasRaw = typeof FtFw.prototype.transmitTo === 'function' && typeof FtFw.prototype.receiveHeader === 'function';
const raw = RAW && hasRaw;
const modes = MODE === 'both' ? [false, true] : [MODE === 'intrusive'];
const sinkTag = raw ? 'transmitTo' : 'transmitPass';
for (const intrusive of modes) {
  const tag = `${intrusive ? 'intrusive' : 'map'}, ${sinkTag}`;
  if (ONLY !== 'rx') await run(`tx send+ack (${tag})`, () => benchTx(intrusive, raw));
}
if (ONLY !== 'tx')
  await run(`rx receive (${raw ? 'receiveHeader, transmitTo' : 'receive, transmitPass'})`, () => benchRx(raw));
if (sink === 0.5) console.log(sink);
