#!/usr/bin/env node
// Long fuzz run of the conntrackd sync codec (src/sync/wire.ts), beyond the 20,000 cases of
// test/unit/sync/wire.test.ts. Runs from the build (`npm run build:ts`).
//
//   node dist/tools/fuzz/fuzz-sync-wire.js [--runs N] [--seed S] [--max-seconds T]
//
// Inputs: the golden messages and bulk datagrams captured from conntrackd 1.4.7 (test/golden/sync-*),
// mutated (byte set / bit flip / cut / insert / len field rewrite, 1..8 times), plus random bytes
// and random well-framed messages with random attributes, under every receiver mode and with and
// without stream framing. Checked for every input:
//  - decodeDatagram never throws, returns a value in [0, len], reports malformed offsets in
//    increasing order inside the buffer, and makes at most len/8 + 1 visitor calls (no loops);
//  - every CT message it accepts re-encodes (or fails with WireEncodeError only), and that
//    encoding decodes and re-encodes to the same bytes (a fixed point);
//  - every EXP message it accepts re-encodes likewise.
// Exit status 1 on the first failure, with fast-check's seed and counterexample.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import {
  decodeDatagram,
  encodeCt,
  encodeExp,
  WireEncodeError,
  type DecodeOptions,
  type SyncVisitor,
} from '../../src/sync/wire.js';
import type { Entry, Expect } from '../../src/conntrack/entry.js';
import { repoRoot } from '../lib/repo.js';

const ROOT = repoRoot();
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() ^ (process.pid << 8);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;

const golden = path.join(ROOT, 'test/golden');
const seeds: Buffer[] = [];
for (const f of fs.readdirSync(golden)) {
  if (!f.startsWith('sync-') || !f.endsWith('.hex')) continue;
  for (const line of fs.readFileSync(path.join(golden, f), 'utf8').trim().split('\n'))
    seeds.push(Buffer.from(line, 'hex'));
}
if (seeds.length === 0) {
  console.error('fuzz-sync-wire: no test/golden/sync-*.hex (run tools/golden/capture-golden-sync.ts)');
  process.exit(1);
}
seeds.push(Buffer.concat(seeds.slice(0, 10)));

const out1 = Buffer.alloc(1 << 16);
const out2 = Buffer.alloc(1 << 16);

/** encode(decoded); one more decode/encode round must then be a fixed point. (The first round
 * may legitimately change things: a message without STATUS decodes to no status, which encodes
 * as STATUS 0 with NAT detection on, as conntrackd does; after that the entry is stable.) */
type Decoded = { kind: 'ct'; obj: Entry } | { kind: 'exp'; obj: Expect };
function encodeWith(buf: Buffer, type: number, flags: number, seq: number, d: Decoded): number {
  try {
    return d.kind === 'ct'
      ? encodeCt(buf, 0, type, flags, seq, d.obj, { tcpWindowTracking: true })
      : encodeExp(buf, 0, type, flags, seq, d.obj, {});
  } catch (err) {
    if (err instanceof WireEncodeError) return -1;
    throw err;
  }
}
function decodeOne(buf: Buffer, end: number): Decoded {
  let again: Decoded | undefined;
  decodeDatagram(buf, end, {
    ct: (_t, _f, _s, e) => {
      again = { kind: 'ct', obj: e };
    },
    exp: (_t, _f, _s, x) => {
      again = { kind: 'exp', obj: x };
    },
    control: () => {
      throw new Error('re-encoded message decoded as control');
    },
    malformed: (r) => {
      throw new Error(`re-encoded message rejected: ${r}`);
    },
  });
  if (!again) throw new Error('re-encoded message not decoded');
  return again;
}
function reencode(d: Decoded, type: number, flags: number, seq: number): void {
  const end1 = encodeWith(out1, type, flags, seq, d);
  if (end1 < 0) return;
  const end2 = encodeWith(out2, type, flags, seq, decodeOne(out1, end1));
  if (end2 < 0) throw new Error('a decoded re-encoding cannot be encoded');
  const end3 = encodeWith(out1, type, flags, seq, decodeOne(out2, end2));
  if (end3 !== end2 || !out1.subarray(0, end3).equals(out2.subarray(0, end2)))
    throw new Error('encode/decode is not a fixed point after one round');
}

function check(b: Buffer, opts: DecodeOptions): void {
  let calls = 0;
  let last = -1;
  const v: SyncVisitor = {
    ct: (t, f, s, e) => {
      calls++;
      if (e.family === 2 || e.family === 10) reencode({ kind: 'ct', obj: e }, t, f, s);
    },
    exp: (t, f, s, x) => {
      calls++;
      if (x.family === 2 || x.family === 10) reencode({ kind: 'exp', obj: x }, t, f, s);
    },
    control: () => {
      calls++;
    },
    malformed: (r, off) => {
      calls++;
      if (!(off > last && off < b.length))
        throw new Error(`malformed offset ${off} (previous ${last}, length ${b.length})`);
      last = off;
    },
  };
  const consumed = decodeDatagram(b, b.length, v, opts);
  if (!(consumed >= 0 && consumed <= b.length)) throw new Error(`consumed ${consumed} of ${b.length}`);
  if (calls > Math.floor(b.length / 8) + 1) throw new Error(`${calls} visitor calls for ${b.length} bytes`);
}

const mutation = fc.record({
  k: fc.constantFrom('set', 'flip', 'cut', 'insert', 'len', 'dup'),
  at: fc.nat(),
  v: fc.integer({ min: 0, max: 0xffff }),
});
type Mutation = { k: 'set' | 'flip' | 'cut' | 'insert' | 'len' | 'dup'; at: number; v: number };
function mutate(src: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(src);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.k) {
      case 'set':
        b[at] = m.v & 0xff;
        break;
      case 'flip':
        b[at]! ^= 1 << (m.v & 7);
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from([m.v & 0xff]), b.subarray(at)]);
        break;
      case 'len':
        if (at + 1 < b.length) b.writeUInt16BE(m.v, at & ~1);
        break;
      case 'dup':
        b = Buffer.concat([b, b.subarray(at)]);
        break;
    }
  }
  return b;
}
const opts = fc.record({
  mode: fc.constantFrom('ftfw' as const, 'notrack' as const, 'alarm' as const),
  stream: fc.boolean(),
});
function framed(type: number, flags: number, attrs: [number, Uint8Array, number][]): Buffer {
  const parts = attrs.map(([id, d, lenDelta]) => {
    const a = Buffer.alloc((4 + d.length + 3) & ~3);
    a.writeUInt16BE(Math.max(0, Math.min(0xffff, 4 + d.length + lenDelta)), 0);
    a.writeUInt16BE(id, 2);
    Buffer.from(d).copy(a, 4);
    return a;
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(8);
  h[0] = 0x10 | type;
  h[1] = flags;
  h.writeUInt16BE(Math.min(0xffff, 8 + body.length), 2);
  h.writeUInt32BE(1, 4);
  return Buffer.concat([h, body]);
}
const input = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 8 }))
      .map(([s, ms]) => mutate(s, ms)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((u) => Buffer.from(u)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 15 }),
        fc.constantFrom(0, 0, 0x20, 0x40, 0x60, 0x10, 0x08),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 40 }),
            fc.uint8Array({ maxLength: 48 }),
            fc.constantFrom(0, 0, 0, -1, 1, -4, 3),
          ),
          { maxLength: 16 },
        ),
      )
      .map(([t, f, a]) => framed(t, f, a)),
  },
);

const started = Date.now();
let done = 0;
const batch = 50_000;
console.log(`fuzz-sync-wire: ${runs} cases, seed ${seed}, ${seeds.length} seed inputs`);
try {
  for (let i = 0; done < runs && Date.now() < deadline; i++) {
    const n = Math.min(batch, runs - done);
    fc.assert(
      fc.property(input, opts, (b, o) => check(b, o)),
      { numRuns: n, seed: seed + i, endOnFailure: false },
    );
    done += n;
    process.stdout.write(`  ${done} cases, ${Math.round((Date.now() - started) / 1000)} s\n`);
  }
} catch (e) {
  const err = e as Error & { cause?: { stack?: string } };
  console.error(err.message);
  if (err.cause) console.error('cause:', err.cause.stack ?? err.cause);
  process.exit(1);
}
console.log(`fuzz-sync-wire: ${done} cases passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
