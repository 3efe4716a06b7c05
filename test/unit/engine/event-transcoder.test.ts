// The kernel-event fast path (engine/event-transcoder.ts, engine/flow-filter.ts: the ctnetlink
// scan straight into the sync wire writer) must give exactly what the general path gives (the
// same two codecs through their Entry adapters, and mergeEntry on Entries), or say "fall back".
// It holds the Entry adapters to the flat codecs they sit on:
//   key      = flowKey(decodeConntrack(msg))
//   NEW      = encodeCtAttrs(decodeConntrack(msg), opts)
//   merge    = encodeCtAttrs(mergeEntry(decodeStored(old), decodeConntrack(msg)), opts)
//   filter   = makeFilter(rules)(decodeConntrack(msg))
//   scan ok <=> decodeConntrack does not throw
// Messages: any Entry (writeDumpAttrs), then mutated at the attribute level (attributes dropped,
// repeated, reordered, grafted from a message of the other family, family byte changed) so that
// partial, odd and mixed-family messages show up; byte-level mutations for the malformed ones;
// and the golden kernel captures in test/golden.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { NlWriter, NetlinkDecodeError } from '../../../src/netlink/attr.js';
import { decodeConntrack, writeDumpAttrs } from '../../../src/netlink/ctnetlink.js';
import { encodeCtAttrs, WireEncodeError, type CtEncodeOptions } from '../../../src/sync/wire-attrs.js';
import { decodeStored, mergeEntry } from '../../../src/cache/sync-cache.js';
import { flowKey } from '../../../src/conntrack/key.js';
import { makeFilter, type FilterRules } from '../../../src/conntrack/filter.js';
import { TCP_STATES } from '../../../src/conntrack/names.js';
import { EventTranscoder } from '../../../src/engine/event-transcoder.js';
import { makeEventFilter } from '../../../src/engine/flow-filter.js';
import type { Entry } from '../../../src/conntrack/entry.js';
import { entry } from '../../helpers/arbitraries.js';
import { mulberry32, repoRoot } from '../../helpers/fakes.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 1500);
const CT_NEW = (1 << 8) | 0;
const CT_DELETE = (1 << 8) | 2;

// ---------------------------------------------------------------- messages

function msgOf(e: Entry, type = CT_NEW): Buffer {
  const w = new NlWriter(512);
  w.beginNf(type, 0, 0, e.family);
  writeDumpAttrs(w, e);
  w.end();
  return Buffer.from(w.bytes());
}

/** A netlink attribute tree: nests (NLA.F_NESTED with a well-formed payload) have children. */
interface Node {
  type: number;
  data?: Buffer;
  kids?: Node[];
}

function parseList(b: Buffer, start: number, end: number): Node[] | undefined {
  const out: Node[] = [];
  let o = start;
  while (o + 4 <= end) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > end) return undefined;
    const type = b.readUInt16LE(o + 2);
    const kids = type & 0x8000 ? parseList(b, o + 4, o + len) : undefined;
    out.push(kids ? { type, kids } : { type, data: Buffer.from(b.subarray(o + 4, o + len)) });
    o += (len + 3) & ~3;
  }
  return o === end ? out : undefined;
}

function serialize(list: Node[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of list) {
    const payload = n.kids ? serialize(n.kids) : n.data!;
    const h = Buffer.alloc(4);
    h.writeUInt16LE(4 + payload.length, 0);
    h.writeUInt16LE(n.type, 2);
    parts.push(h, payload, Buffer.alloc(((4 + payload.length + 3) & ~3) - 4 - payload.length));
  }
  return Buffer.concat(parts);
}

/** Drops, repeats, reorders attributes at every level; grafts attributes of `donor` at the same path. */
function mutateList(list: Node[], donor: Node[] | undefined, rnd: () => number, rate: number): Node[] {
  let out: Node[] = [];
  for (const n of list) {
    if (rnd() < rate) continue;
    const d = donor?.find((x) => x.type === n.type && x.kids);
    const m = n.kids ? { type: n.type, kids: mutateList(n.kids, d?.kids, rnd, rate) } : n;
    out.push(m);
    if (rnd() < rate / 3) out.push(m);
  }
  if (donor && donor.length && rnd() < rate) out.push(donor[Math.floor(rnd() * donor.length)]);
  if (rnd() < rate / 2) {
    out = out
      .map((x) => [rnd(), x] as const)
      .sort((a, b) => a[0] - b[0])
      .map((x) => x[1]);
  }
  return out;
}

function mutateMsg(msg: Buffer, donorMsg: Buffer, seed: number, rate: number): Buffer {
  const rnd = mulberry32(seed);
  const list = parseList(msg, 20, msg.length)!;
  const donor = parseList(donorMsg, 20, donorMsg.length)!;
  const body = serialize(mutateList(list, donor, rnd, rate));
  const out = Buffer.concat([msg.subarray(0, 20), body]);
  out.writeUInt32LE(out.length, 0);
  if (rnd() < 0.15) out[16] = [0, 2, 7, 10][Math.floor(rnd() * 4)];
  return out;
}

/** A message for an Entry, often mutated with attributes of a message of the other family. */
const message: fc.Arbitrary<Buffer> = fc
  .tuple(entry, entry, fc.integer(), fc.constantFrom(0, 0, 0.05, 0.15, 0.4))
  .map(([e, donor, seed, rate]) => (rate === 0 ? msgOf(e) : mutateMsg(msgOf(e), msgOf(donor), seed, rate)));

const options: fc.Arbitrary<CtEncodeOptions> = fc.record(
  {
    commitTimeout: fc.boolean(),
    tcpWindowTracking: fc.boolean(),
    longHelper: fc.constantFrom<'error' | 'omit' | undefined>(undefined, 'error', 'omit'),
  },
  { requiredKeys: [] },
);

const transcoders = new Map<string, EventTranscoder>();
function transcoder(opts: CtEncodeOptions): EventTranscoder {
  const k = JSON.stringify(opts);
  let t = transcoders.get(k);
  if (!t) transcoders.set(k, (t = new EventTranscoder(opts)));
  return t;
}

// ---------------------------------------------------------------- the two paths

const scratch = Buffer.alloc(8192);
const stats = { compared: 0, malformed: 0, encodeErrors: 0, fallbacks: 0, keyErrors: 0 };

/** encodeCtAttrs as hex, or undefined when it throws WireEncodeError. */
function slowEncode(e: Entry, opts: CtEncodeOptions): string | undefined {
  try {
    return scratch.toString('hex', 0, encodeCtAttrs(scratch, 0, e, opts));
  } catch (err) {
    if (err instanceof WireEncodeError) return undefined;
    throw err;
  }
}

/** The fast path may fall back where the general path succeeds only for these. */
function fallbackAllowed(e: Entry): boolean {
  return e.helper !== undefined && e.helper.includes('\ufffd'); // helper bytes that are not UTF-8
}

function compareEncodings(fast: string | undefined, slow: string | undefined, e: Entry, what: string): void {
  if (fast === undefined && slow !== undefined) {
    assert.ok(fallbackAllowed(e), `${what}: fast path fell back where the general path gives ${slow}`);
    stats.fallbacks++;
    return;
  }
  if (slow === undefined) stats.encodeErrors++;
  assert.equal(fast, slow, what);
}

/** Decodes the slow way; checks scan() agrees on malformed. Returns the Entry, or undefined. */
function scanBoth(t: EventTranscoder, msg: Buffer, off = 0, len = msg.length): Entry | undefined {
  let e: Entry;
  try {
    e = decodeConntrack(msg, off, len);
  } catch (err) {
    if (!(err instanceof NetlinkDecodeError)) throw err;
    assert.equal(t.scan(msg, off, len), false, `scan accepted what decodeConntrack rejects: ${(err as Error).message}`);
    stats.malformed++;
    return undefined;
  }
  assert.equal(t.scan(msg, off, len), true, 'scan rejected what decodeConntrack accepts');
  return e;
}

function checkKey(t: EventTranscoder, e: Entry): void {
  let slow: string | undefined;
  try {
    slow = flowKey(e);
  } catch {
    slow = undefined;
    stats.keyErrors++;
  }
  const fast = t.key();
  assert.equal(
    fast === undefined ? undefined : Buffer.from(fast, 'latin1').toString('hex'),
    slow === undefined ? undefined : Buffer.from(slow, 'latin1').toString('hex'),
    'flow key',
  );
}

function checkNew(msg: Buffer, opts: CtEncodeOptions): void {
  const t = transcoder(opts);
  const e = scanBoth(t, msg);
  if (!e) return;
  checkKey(t, e);
  const n = t.encode();
  compareEncodings(n < 0 ? undefined : t.out.toString('hex', 0, n), slowEncode(e, opts), e, 'NEW attrs');
  if (n >= 0) assert.equal(Buffer.from(t.attrs(n), 'latin1').toString('hex'), t.out.toString('hex', 0, n));
  stats.compared++;
}

function checkMerge(old: string, msg: Buffer, opts: CtEncodeOptions): void {
  const t = transcoder(opts);
  const u = scanBoth(t, msg);
  if (!u) return;
  let slow: string | undefined;
  let stored: Entry | undefined;
  try {
    stored = decodeStored(old);
  } catch {
    stored = undefined;
  }
  // the merged entry decides whether a fallback is allowed: its helper may come from `old`
  const merged = stored ? mergeEntry(stored, u) : undefined;
  if (merged) slow = slowEncode(merged, opts);
  const n = t.encodeMerged(old);
  const fast = n < 0 ? undefined : t.out.toString('hex', 0, n);
  if (!merged) assert.equal(fast, undefined, 'merge into attributes that do not decode');
  else compareEncodings(fast, slow, merged, 'merged attrs');
  // the same from bytes
  const n2 = t.encodeMerged(Buffer.from(old, 'latin1'));
  assert.equal(n2 < 0 ? undefined : t.out.toString('hex', 0, n2), fast, 'merge from bytes = merge from the string');
  // and from bytes in the middle of a bigger buffer (an arena record)
  const arena = Buffer.concat([Buffer.alloc(12, 0xee), Buffer.from(old, 'latin1'), Buffer.alloc(7, 0xee)]);
  const n3 = t.encodeMergedFrom(arena, 12, 12 + old.length);
  assert.equal(
    n3 < 0 ? undefined : t.out.toString('hex', 0, n3),
    fast,
    'merge from an arena record = merge from the string',
  );
  stats.compared++;
}

/** Stored attributes as the cache holds them, or undefined when the entry does not encode. */
function storedOf(e: Entry, opts: CtEncodeOptions): string | undefined {
  try {
    return scratch.toString('latin1', 0, encodeCtAttrs(scratch, 0, e, opts));
  } catch {
    return undefined;
  }
}

/** Wire TLVs (BE lengths) dropped / repeated / reordered: mostly still valid for decodeCtAttrs. */
function mutateWire(attrs: string, seed: number, rate: number): string {
  const b = Buffer.from(attrs, 'latin1');
  const rnd = mulberry32(seed);
  const tlvs: Buffer[] = [];
  for (let o = 0; o + 4 <= b.length;) {
    const step = (b.readUInt16BE(o) + 3) & ~3;
    tlvs.push(b.subarray(o, o + step));
    o += step;
  }
  let out: Buffer[] = [];
  for (const x of tlvs) {
    if (rnd() < rate) continue;
    out.push(x);
    if (rnd() < rate / 2) out.push(x);
  }
  if (rnd() < rate)
    out = out
      .map((x) => [rnd(), x] as const)
      .sort((p, q) => p[0] - q[0])
      .map((x) => x[1]);
  if (rnd() < 0.3 && out.length) {
    // one TLV's length changed (fixed-size attributes must be exact, variable ones bounded)
    const i = Math.floor(rnd() * out.length);
    const x = Buffer.from(out[i]);
    x.writeUInt16BE(Math.floor(rnd() * (x.length + 8)), 0);
    out[i] = x;
  }
  if (rnd() < 0.4 && out.length) {
    // LABELS of lengths decodeCtAttrs ignores, a corrupt STATUS, a 4-byte HELPER_NAME (at the very
    // end: too short for decodeCtAttrs' loop to look at), a helper without its NUL
    const odd = [
      '0006001c01020000',
      '0004001c',
      '0009000500000000',
      '0004001b',
      '0007001b66747000',
      '0008001b66747078',
    ];
    out.push(Buffer.from(odd[Math.floor(rnd() * odd.length)], 'hex'));
  }
  return Buffer.concat(out).toString('latin1');
}

// ---------------------------------------------------------------- golden captures

const GOLDEN = path.join(repoRoot(), 'test/golden');
const goldenCt = fs
  .readdirSync(GOLDEN)
  .filter((f) => /^ct-(dump|event)-.*\.hex$/.test(f))
  .map((f) => f.slice(0, -4))
  .sort();
function golden(name: string): Buffer {
  return Buffer.from(fs.readFileSync(path.join(GOLDEN, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
}
const OPTION_SETS: CtEncodeOptions[] = [
  {},
  { commitTimeout: true },
  { tcpWindowTracking: true },
  { commitTimeout: true, tcpWindowTracking: true, longHelper: 'omit' },
];

/** Offsets of every attribute header, nests walked into (NLA.F_NESTED). */
function attrOffsets(b: Buffer, start: number, end: number): number[] {
  const out: number[] = [];
  for (let o = start; o + 4 <= end;) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > end) break;
    out.push(o);
    if (b.readUInt16LE(o + 2) & 0x8000) out.push(...attrOffsets(b, o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}

// ---------------------------------------------------------------- filter rules

const TCP_STATE_NAMES = [...TCP_STATES.filter((s) => s !== 'SYN_SENT2'), 'LISTEN', 'CLOSED'];

/** Entries whose TCP state is a real one (0..9, 9 = SYN_SENT2 = LISTEN) or just past them. */
const smallStateEntry: fc.Arbitrary<Entry> = entry.chain((e) =>
  e.tcp ? fc.integer({ min: 0, max: 11 }).map((state) => ({ ...e, tcp: { ...e.tcp, state } })) : fc.constant(e),
);

/** Rules built around a message's own addresses, so address rules hit as often as they miss. */
function rulesFor(msg: Buffer): fc.Arbitrary<FilterRules> {
  const addrs: string[] = [];
  try {
    const e = decodeConntrack(msg, 0, msg.length);
    for (const a of [e.orig.src, e.reply?.src, e.orig.dst]) if (a) addrs.push(a);
  } catch {
    /* malformed: any rules */
  }
  const v4pool = [...addrs.filter((a) => !a.includes(':')), '192.0.2.1', '0.0.0.0'];
  const v6pool = [...addrs.filter((a) => a.includes(':')), '2001:db8::1', '::'];
  const prefix = (pool: string[], max: number) =>
    fc
      .tuple(fc.constantFrom(...pool), fc.option(fc.integer({ min: 0, max }), { nil: undefined }))
      .map(([a, n]) => (n === undefined ? a : `${a}/${n}`));
  const mode = fc.constantFrom<'accept' | 'ignore'>('accept', 'ignore');
  return fc.record(
    {
      protocol: fc.record({
        mode,
        protocols: fc.array(fc.constantFrom(0, 1, 2, 6, 17, 33, 47, 50, 58, 132, 136, 255), { maxLength: 4 }),
      }),
      address: fc.record({
        mode,
        ipv4: fc.array(prefix(v4pool, 32), { maxLength: 3 }),
        ipv6: fc.array(prefix(v6pool, 128), { maxLength: 3 }),
      }),
      state: fc.record({ mode, tcpStates: fc.array(fc.constantFrom(...TCP_STATE_NAMES), { maxLength: 4 }) }),
    },
    { requiredKeys: [] },
  );
}

// ---------------------------------------------------------------- tests

describe('kernel event fast path (event-transcoder)', function () {
  this.timeout(300000);

  after(() => {
    if (process.env.TRANSCODE_STATS) console.log(stats);
  });

  describe('golden kernel captures', () => {
    it('has the conntrack captures', () => {
      assert.ok(goldenCt.length >= 20, `found ${goldenCt.join(', ')}`);
      assert.ok(
        goldenCt.includes('ct-event-update') &&
          goldenCt.includes('ct-event-destroy') &&
          goldenCt.includes('ct-dump-snat'),
      );
    });

    it('NEW: same key and attributes as the general path, for every capture and option set', () => {
      for (const name of goldenCt) {
        for (const opts of OPTION_SETS) {
          const msg = golden(name);
          const t = transcoder(opts);
          const e = scanBoth(t, msg)!;
          assert.ok(e, name);
          checkKey(t, e);
          const n = t.encode();
          assert.ok(n > 0, `${name}: the fast path handles it`);
          assert.equal(t.out.toString('hex', 0, n), slowEncode(e, opts), name);
        }
      }
    });

    it('a capture inside a larger buffer, at an offset', () => {
      const t = transcoder({});
      for (const name of goldenCt) {
        const msg = golden(name);
        const buf = Buffer.concat([Buffer.alloc(36, 0xa5), msg, Buffer.alloc(12, 0x5a)]);
        const e = scanBoth(t, buf, 36, msg.length)!;
        checkKey(t, e);
        const n = t.encode();
        assert.equal(t.out.toString('hex', 0, n), slowEncode(e, {}), name);
      }
    });

    it("merge: every capture into every capture's stored attributes", () => {
      for (const opts of OPTION_SETS) {
        for (const a of goldenCt) {
          const stored = storedOf(decodeConntrack(golden(a), 0, golden(a).length), opts)!;
          for (const b of goldenCt) checkMerge(stored, golden(b), opts);
        }
      }
    });

    it('the event sequence NEW -> UPDATE (mark 7) -> DESTROY, as the cache applies it', () => {
      const opts = { tcpWindowTracking: true };
      const t = transcoder(opts);
      const nw = golden('ct-event-new');
      assert.ok(t.scan(nw, 0, nw.length));
      const key = t.key();
      assert.equal(key, flowKey(decodeConntrack(nw, 0, nw.length)));
      let stored = t.attrs(t.encode());
      let slowStored = storedOf(decodeConntrack(nw, 0, nw.length), opts)!;
      assert.equal(stored, slowStored);
      for (const name of ['ct-event-update', 'ct-event-destroy']) {
        const m = golden(name);
        assert.ok(t.scan(m, 0, m.length));
        assert.equal(t.key(), key, `${name}: same flow`);
        stored = t.attrs(t.encodeMerged(stored));
        slowStored = storedOf(mergeEntry(decodeStored(slowStored), decodeConntrack(m, 0, m.length)), opts)!;
        assert.equal(
          Buffer.from(stored, 'latin1').toString('hex'),
          Buffer.from(slowStored, 'latin1').toString('hex'),
          name,
        );
      }
      assert.equal(decodeStored(stored).mark, 7, "the UPDATE's mark is kept");
    });

    it('every truncation and many byte flips of every capture: scan fails exactly where decodeConntrack throws', () => {
      const t = transcoder({});
      for (const name of goldenCt) {
        const msg = golden(name);
        for (let n = 0; n < msg.length; n++) {
          const cut = Buffer.from(msg.subarray(0, n));
          if (n >= 4) cut.writeUInt32LE(n, 0);
          const e = scanBoth(t, cut);
          if (e) checkNew(cut, {});
        }
        const rnd = mulberry32(name.length * 7919);
        for (let i = 0; i < 300; i++) {
          const bad = Buffer.from(msg);
          const at = 20 + Math.floor(rnd() * (bad.length - 20));
          bad[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : bad[at] ^ (1 << Math.floor(rnd() * 8));
          checkNew(bad, {});
          checkNew(bad, { tcpWindowTracking: true });
        }
      }
    });

    it('every attribute of every capture shortened (any depth): scan agrees with decodeConntrack', () => {
      for (const name of goldenCt) {
        const msg = golden(name);
        for (const at of attrOffsets(msg, 20, msg.length)) {
          const len = msg.readUInt16LE(at);
          for (let l = 0; l < len; l++) {
            const bad = Buffer.from(msg);
            bad.writeUInt16LE(l, at);
            checkNew(bad, { tcpWindowTracking: true });
          }
        }
      }
    });

    it('every stored attribute of every capture at every length: merge fails exactly where decodeStored does', () => {
      for (const name of goldenCt) {
        const msg = golden(name);
        const stored = Buffer.from(
          storedOf(decodeConntrack(msg, 0, msg.length), { tcpWindowTracking: true })!,
          'latin1',
        );
        for (let o = 0; o + 4 <= stored.length; o += (stored.readUInt16BE(o) + 3) & ~3) {
          for (let l = 0; l <= stored.readUInt16BE(o) + 8; l++) {
            const bad = Buffer.from(stored);
            bad.writeUInt16BE(l, o);
            checkMerge(bad.toString('latin1'), msg, { tcpWindowTracking: true });
          }
        }
      }
    });
  });

  describe('properties', () => {
    it('NEW: key and attributes equal the general path (or both fail), for any message', () => {
      fc.assert(
        fc.property(message, options, (msg, opts) => checkNew(msg, opts)),
        { numRuns: NUM_RUNS * 2 },
      );
    });

    it('NEW: unmutated messages for any Entry are all handled by the fast path, bar errors of the general path', () => {
      let handled = 0;
      fc.assert(
        fc.property(entry, options, (e, opts) => {
          const msg = msgOf(e);
          checkNew(msg, opts);
          if (transcoder(opts).encode() >= 0) handled++;
        }),
        { numRuns: NUM_RUNS },
      );
      assert.ok(handled > NUM_RUNS / 3, `fast path used for ${handled} of ${NUM_RUNS}`);
    });

    it('random bytes after a valid header: scan agrees with decodeConntrack', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(2, 10, 0), (body, fam) => {
          const msg = Buffer.concat([Buffer.alloc(20), body]);
          msg.writeUInt32LE(msg.length, 0);
          msg.writeUInt16LE(CT_NEW, 4);
          msg[16] = fam;
          checkNew(msg, {});
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('merge: a (partial) event merged into stored attributes equals mergeEntry + encodeCtAttrs', () => {
      const arb = fc.tuple(entry, message, options, fc.boolean());
      fc.assert(
        fc.property(arb, ([prev, msg, opts, sameFlow]) => {
          let m = msg;
          if (sameFlow) {
            // the update is about the stored flow: give it the stored entry's original tuple
            try {
              const u = decodeConntrack(msg, 0, msg.length);
              if (u.family === prev.family) m = msgOf({ ...u, orig: prev.orig, zone: prev.zone });
            } catch {
              /* malformed, or not writable again: keep the message as it is */
            }
          }
          const stored = storedOf(prev, opts);
          if (stored === undefined) return;
          checkMerge(stored, m, opts);
        }),
        { numRuns: NUM_RUNS * 2 },
      );
    });

    it('merge into odd stored attributes (repeated, reordered, missing, ignored or corrupt TLVs)', () => {
      fc.assert(
        fc.property(
          entry,
          message,
          options,
          fc.integer(),
          fc.constantFrom(0, 0.1, 0.3),
          (prev, msg, opts, seed, rate) => {
            const stored = storedOf(prev, opts);
            if (stored === undefined) return;
            checkMerge(mutateWire(stored, seed, rate), msg, opts);
          },
        ),
        { numRuns: NUM_RUNS * 2 },
      );
    });

    it("a chain of updates on one flow stays equal to the cache's merge", () => {
      fc.assert(
        fc.property(
          entry,
          fc.array(fc.tuple(entry, fc.integer(), fc.constantFrom(0.1, 0.3, 0.6)), { minLength: 1, maxLength: 6 }),
          options,
          (first, updates, opts) => {
            const t = transcoder(opts);
            const m0 = msgOf(first);
            assert.ok(t.scan(m0, 0, m0.length));
            const n0 = t.encode();
            let slow = storedOf(decodeConntrack(m0, 0, m0.length), opts);
            if (n0 < 0 || slow === undefined) return;
            let fast = t.attrs(n0);
            assert.equal(fast, slow);
            for (const [u, seed, rate] of updates) {
              // an event for the same flow (same original tuple, zone and family), partial
              const full = msgOf(
                {
                  ...u,
                  family: first.family,
                  orig: first.orig,
                  zone: first.zone,
                  reply: u.family === first.family ? u.reply : undefined,
                  master: u.family === first.family ? u.master : undefined,
                  natSrc: undefined,
                  natDst: undefined,
                },
                CT_DELETE,
              );
              const m = mutateMsg(full, full, seed, rate);
              let e: Entry;
              try {
                e = decodeConntrack(m, 0, m.length);
              } catch {
                assert.equal(t.scan(m, 0, m.length), false);
                continue;
              }
              assert.ok(t.scan(m, 0, m.length));
              const s = storedOf(mergeEntry(decodeStored(slow!), e), opts);
              const n = t.encodeMerged(fast);
              if (s === undefined || n < 0) {
                compareEncodings(
                  n < 0 ? undefined : t.out.toString('hex', 0, n),
                  s === undefined ? undefined : Buffer.from(s, 'latin1').toString('hex'),
                  e,
                  'chain',
                );
                return;
              }
              fast = t.attrs(n);
              slow = s;
              assert.equal(Buffer.from(fast, 'latin1').toString('hex'), Buffer.from(slow, 'latin1').toString('hex'));
            }
          },
        ),
        { numRuns: NUM_RUNS / 2 },
      );
    });

    it('filter: makeEventFilter(rules)(scan) = makeFilter(rules)(decodeConntrack(msg))', () => {
      let passed = 0;
      let dropped = 0;
      const msgs = fc.oneof(
        message,
        smallStateEntry.map((e) => msgOf(e)),
      );
      fc.assert(
        fc.property(
          msgs.chain((msg) => fc.tuple(fc.constant(msg), rulesFor(msg))),
          ([msg, rules]) => {
            const t = transcoder({});
            const e = scanBoth(t, msg);
            if (!e) return;
            const slow = makeFilter(rules)(e);
            assert.equal(makeEventFilter(rules)(t), slow, JSON.stringify(rules));
            if (slow) passed++;
            else dropped++;
          },
        ),
        { numRuns: NUM_RUNS * 2 },
      );
      assert.ok(
        passed > NUM_RUNS / 10 && dropped > NUM_RUNS / 10,
        `both outcomes seen (${passed} passed, ${dropped} dropped)`,
      );
    });

    it('filter: every TCP state against every single-state rule, both modes (exhaustive)', () => {
      const t = transcoder({});
      for (let state = 0; state < 12; state++) {
        for (const proto of [6, 17]) {
          const msg = msgOf({
            family: 2,
            orig: { src: '192.0.2.1', dst: '198.51.100.1', proto, sport: 1, dport: 2 },
            status: 8,
            tcp: { state },
          });
          const e = scanBoth(t, msg)!;
          for (const name of [...TCP_STATE_NAMES, 'SYN_SENT2']) {
            for (const mode of ['accept', 'ignore'] as const) {
              const rules: FilterRules = { state: { mode, tcpStates: [name] } };
              assert.equal(
                makeEventFilter(rules)(t),
                makeFilter(rules)(e),
                `state ${state} proto ${proto} ${mode} ${name}`,
              );
            }
          }
        }
      }
    });

    it('filter: bad rules throw as makeFilter throws', () => {
      for (const rules of [
        { address: { mode: 'accept', ipv4: ['192.0.2.0/33'], ipv6: [] } },
        { address: { mode: 'accept', ipv4: ['300.1.1.1'], ipv6: [] } },
      ] as FilterRules[]) {
        assert.throws(() => makeFilter(rules));
        assert.throws(() => makeEventFilter(rules));
      }
    });
  });

  describe('fixed cases', () => {
    const cases: Array<[string, Entry]> = [
      [
        'SNAT with port',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 80 },
          reply: { src: '198.51.100.1', dst: '203.0.113.1', proto: 6, sport: 80, dport: 6000 },
          status: 0x19e,
          timeout: 100,
          mark: 3,
          tcp: { state: 3, wscaleOrig: 7 },
        },
      ],
      [
        'DNAT with port',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 80 },
          reply: { src: '203.0.113.2', dst: '192.0.2.1', proto: 6, sport: 8080, dport: 1000 },
          status: 0x1ae,
          timeout: 100,
          tcp: { state: 3 },
        },
      ],
      [
        'ICMP without reply (SPAT/DPAT from the inverse)',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 },
          timeout: 30,
        },
      ],
      [
        'ICMPv6 NAT done',
        {
          family: 10,
          orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 7 },
          reply: { src: '2001:db8::2', dst: '2001:db8::9', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 7 },
          status: 0x18e,
          timeout: 30,
        },
      ],
      [
        'related, helper, labels, zone',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 2000, dport: 3000 },
          master: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 21 },
          status: 9,
          timeout: 100,
          helper: 'ftp',
          labels: '0100000000000000ff',
          zone: 4,
        },
      ],
      [
        'long helper',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 17, sport: 1, dport: 2 },
          status: 8,
          helper: 'twelve-chars',
        },
      ],
      [
        'SCTP and DCCP',
        {
          family: 10,
          orig: { src: '::ffff:192.0.2.1', dst: '2001:db8::2', proto: 132, sport: 1, dport: 2 },
          status: 8,
          sctp: { state: 3, vtagOrig: 0xdeadbeef },
          dccp: { state: 1 },
        },
      ],
      [
        'labels too long',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 17, sport: 1, dport: 2 },
          status: 8,
          labels: '01'.repeat(1025),
        },
      ],
      [
        'seq-adj and synproxy',
        {
          family: 2,
          orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1, dport: 2 },
          status: 8,
          seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
          seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
          synproxy: { isn: 1, its: 2, tsoff: 3 },
        },
      ],
    ];
    for (const [name, e] of cases) {
      it(name, () => {
        for (const opts of OPTION_SETS) checkNew(msgOf(e), opts);
        for (const [, prev] of cases) {
          for (const opts of OPTION_SETS) {
            const stored = storedOf(prev, opts);
            if (stored !== undefined) checkMerge(stored, msgOf(e), opts);
          }
        }
      });
    }

    it('ICMP echo with id 0 / 2048 and no reply tuple: SPAT from the inverted type (NEW and merged)', () => {
      for (const icmpId of [0, 2048, 1]) {
        for (const [family, proto, type, src, dst] of [
          [2, 1, 8, '192.0.2.1', '198.51.100.1'],
          [10, 58, 128, '2001:db8::1', '2001:db8::2'],
        ] as const) {
          const orig = { src, dst, proto, icmpType: type, icmpCode: 0, icmpId };
          for (const status of [0x18e, 0x8e, 0x10e, undefined]) {
            const e: Entry = status === undefined ? { family, orig } : { family, orig, status };
            for (const opts of OPTION_SETS) {
              checkNew(msgOf(e), opts);
              const stored = storedOf(
                { ...e, reply: { src: dst, dst: src, proto, icmpType: type, icmpCode: 0, icmpId } },
                opts,
              )!;
              checkMerge(stored, msgOf(e), opts);
              checkMerge(stored, msgOf({ family, orig, timeout: 5 }), opts);
            }
          }
        }
      }
    });

    it("reply addresses of the other family whose leading bytes equal the original's: the general path throws, so no fast result", () => {
      // family 2, reply carried in IPv6 attributes starting with the IPv4 original addresses
      const v4src = Buffer.from([192, 0, 2, 1]);
      const v4dst = Buffer.from([198, 51, 100, 1]);
      const pad = Buffer.alloc(12);
      for (const [status, swap] of [
        [0x80, false],
        [0x100, true],
        [0x180, false],
        [0x180, true],
      ] as const) {
        const w = new NlWriter(256);
        w.beginNf(CT_NEW, 0, 0, 2);
        const tuple = (type: number, ip: Array<[number, Buffer]>) => {
          const n = w.nestStart(type);
          const i = w.nestStart(1);
          for (const [t, b] of ip) w.bytesAttr(t, b);
          w.nestEnd(i);
          const p = w.nestStart(2);
          w.u8(1, 17);
          w.u16be(2, 1000);
          w.u16be(3, 2000);
          w.nestEnd(p);
          w.nestEnd(n);
        };
        tuple(1, [
          [1, v4src],
          [2, v4dst],
        ]);
        tuple(
          2,
          swap
            ? [
                [3, Buffer.concat([v4dst, pad])],
                [2, v4src],
              ]
            : [
                [1, v4dst],
                [4, Buffer.concat([v4src, pad])],
              ],
        );
        w.u32be(3, status);
        w.end();
        const msg = Buffer.from(w.bytes());
        checkNew(msg, {});
        const t = transcoder({});
        assert.ok(t.scan(msg, 0, msg.length));
        assert.equal(t.encode(), -1);
      }
    });

    it('stored attributes ending in a 4-byte attribute (not looked at by decodeCtAttrs)', () => {
      const e: Entry = {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1, dport: 2 },
        status: 8,
        helper: 'ftp',
      };
      const stored = storedOf({ ...e, helper: undefined }, {})!;
      for (const tail of ['0004001b', '0004001c', '0004000700', '00']) {
        checkMerge(stored + Buffer.from(tail, 'hex').toString('latin1'), msgOf({ ...e, helper: undefined }), {});
      }
    });

    it('a helper that is not UTF-8 falls back; the general path handles it', () => {
      const e: Entry = {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1, dport: 2 },
        status: 8,
        helper: 'ftp',
      };
      const msg = msgOf(e);
      const at = msg.indexOf(Buffer.from('ftp\0'));
      msg[at + 1] = 0xff;
      const t = transcoder({});
      const d = scanBoth(t, msg)!;
      assert.equal(t.encode(), -1);
      assert.ok(slowEncode(d, {}) !== undefined);
    });

    it('an address of the other family: no key, no attributes (the general path throws too)', () => {
      const e: Entry = {
        family: 10,
        orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, sport: 1, dport: 2 },
        status: 8,
      };
      const msg = msgOf(e);
      msg[16] = 2;
      const t = transcoder({});
      const d = scanBoth(t, msg)!;
      assert.equal(t.key(), undefined);
      assert.throws(() => flowKey(d));
      assert.equal(t.encode(), -1);
      assert.equal(slowEncode(d, {}), undefined);
    });
  });
});
