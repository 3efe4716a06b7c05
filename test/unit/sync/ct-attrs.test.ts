// The sync wire CT attribute table (sync/ct-attrs.ts) against the one scan and the one writer
// (sync/ct-wire.ts): every row's length is what the scan enforces, every row's payload layout
// (field, width, byte order) is where the scan puts it and where the writer takes it from, and
// every row is read and written. Then the codec as a whole: fields -> wire -> fields is a fixed
// point, and Entry -> fields -> wire -> fields -> Entry is what decodeCtAttrs(encodeCtAttrs(e))
// gives.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  CT_ATTRS,
  CT_MAX_LEN,
  NTA,
  NTA_MAX,
  ctAttrOk,
  type WireAttr,
  type WirePart,
} from '../../../src/sync/ct-attrs.js';
import { MAX_CT_ATTRS_LEN, scanCtWire, writeCtWire } from '../../../src/sync/ct-wire.js';
import { decodeCtAttrs, encodeCtAttrs, wireOptBits, WireEncodeError } from '../../../src/sync/wire-attrs.js';
import { AddrKind, FlowFields } from '../../../src/conntrack/flow-fields.js';
import { EntryFields, entryOfFields } from '../../../src/conntrack/flow-entry.js';
import { warmUpSamples } from '../../../src/engine/commit-warm-up.js';
import { entry } from '../../helpers/arbitraries.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 1500);

/** One attribute TLV (BE length and id, payload, zero padding). */
function tlv(id: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(4 + payload.length, 0);
  h.writeUInt16BE(id, 2);
  return Buffer.concat([h, payload, Buffer.alloc(((4 + payload.length + 3) & ~3) - 4 - payload.length)]);
}

/** Bytes of a part: u8/u16/u32 (in the part's byte order), v4/v6 addresses. */
const WIDTH: Record<WirePart['type'], number> = { u8: 1, u16: 2, u32: 4, v4: 4, v6: 16, strz: 0, words: 0 };

function readPart(b: Buffer, p: number, part: WirePart): number | string {
  switch (part.type) {
    case 'u8':
      return b[p];
    case 'u16':
      return part.order === 'le' ? b.readUInt16LE(p) : b.readUInt16BE(p);
    case 'u32':
      return b.readUInt32BE(p);
    default:
      return b.toString('hex', p, p + WIDTH[part.type]);
  }
}

/** The FlowFields value at a part's path: a number, or the hex of the address it points at. */
function fieldValue(f: FlowFields, part: WirePart): number | string {
  const path = part.field.split('.');
  const holder = (path.length === 2 ? (f as unknown as Record<string, unknown>)[path[0]] : f) as Record<
    string,
    unknown
  >;
  const v = holder[path[path.length - 1]] as number;
  if (part.type !== 'v4' && part.type !== 'v6') return v;
  const kind = holder[path[1] + 'Kind'] as AddrKind;
  assert.equal(kind, part.type === 'v4' ? AddrKind.V4 : AddrKind.V6, `${part.field}: address kind`);
  return Buffer.from((holder.buf as Uint8Array).subarray(v, v + WIDTH[part.type])).toString('hex');
}

/** A payload for a fixed-size row whose every part has its own, recognisable value. */
function payloadOf(a: WireAttr): Buffer {
  const b = Buffer.alloc(a.len - 4);
  for (let i = 0; i < b.length; i++) b[i] = 0x11 + 0x10 * (i % 7) + i;
  return b;
}

describe('sync wire CT attribute table', () => {
  it('has one row per id, 0 .. NTA_MAX - 1, fixed or bounded, with a layout that fills a fixed row exactly', () => {
    assert.deepStrictEqual(
      CT_ATTRS.map((a) => a.id),
      [...Array(NTA_MAX).keys()],
    );
    for (const a of CT_ATTRS) {
      assert.ok((a.len === 0) !== (a.maxLen === 0), `${a.name}: fixed or variable`);
      assert.ok(a.parts.length > 0 && a.carriedBy.length > 0, a.name);
      if (a.len)
        assert.equal(
          a.parts.reduce((n, p) => n + WIDTH[p.type], 0),
          a.len - 4,
          `${a.name}: parts fill the payload`,
        );
    }
    assert.deepStrictEqual(
      CT_ATTRS.filter((a) => a.len === 0).map((a) => a.name),
      ['HELPER_NAME', 'LABELS'],
    );
    // quirk Q1, and only there
    assert.deepStrictEqual(
      CT_ATTRS.filter((a) => a.parts.some((p) => p.order === 'le')).map((a) => a.name),
      ['SPAT_PORT', 'DPAT_PORT', 'ICMP_ID'],
    );
  });

  it('ctAttrOk and the scan accept exactly the lengths of the table', () => {
    for (const a of CT_ATTRS) {
      for (let len = 0; len <= 4 + 1030; len += len < 40 ? 1 : 97) {
        const want = len >= 4 && (a.len ? len === a.len : len <= a.maxLen);
        assert.equal(ctAttrOk(len, a.id, 2000), want, `${a.name} len ${len}`);
        if (len < 4) continue;
        // the attribute, then a STATUS so that it is not the last 4 bytes of the message
        const m = Buffer.concat([
          tlv(a.id, Buffer.alloc(len - 4, a.id === NTA.LABELS ? 0 : 0x61)),
          tlv(NTA.STATUS, Buffer.alloc(4)),
        ]);
        m.writeUInt16BE(len, 0);
        assert.equal(scanCtWire(m, 0, m.length, new FlowFields()), want, `${a.name}: scan of len ${len}`);
      }
    }
    assert.equal(ctAttrOk(8, NTA_MAX, 100), false);
  });

  it('the scan puts every part of every fixed row where the table says, in its byte order', () => {
    const f = new FlowFields();
    for (const a of CT_ATTRS.filter((x) => x.len)) {
      const payload = payloadOf(a);
      const m = tlv(a.id, payload);
      assert.ok(scanCtWire(m, 0, m.length, f), a.name);
      let p = 0;
      for (const part of a.parts) {
        assert.deepStrictEqual(fieldValue(f, part), readPart(payload, p, part), `${a.name}: ${part.field}`);
        p += WIDTH[part.type];
      }
      assert.equal(a.id < 32 ? (f.seenLo >>> a.id) & 1 : f.seenHi, 1, `${a.name}: seen`);
    }
  });

  it('the scan reads the variable rows: the helper name up to its NUL, the label words as they are', () => {
    const f = new FlowFields();
    const m = Buffer.concat([
      tlv(NTA.HELPER_NAME, Buffer.from('sip\0x')),
      tlv(NTA.LABELS, Buffer.from('0000000180000000', 'hex')),
      tlv(NTA.STATUS, Buffer.alloc(4)),
    ]);
    assert.ok(scanCtWire(m, 0, m.length, f));
    assert.equal(Buffer.from(f.helperBuf.subarray(f.helper, f.helper + f.helperLen)).toString(), 'sip');
    assert.equal(
      Buffer.from(f.labelsBuf.subarray(f.labels, f.labels + f.labelsLen)).toString('hex'),
      '0000000180000000',
    );
    assert.ok(f.labelsWire);
    assert.equal(CT_MAX_LEN[NTA.HELPER_NAME], 16);
  });

  it('the writer writes every row, each part from the field the table names, in its byte order', () => {
    const written = new Set<number>();
    const load = new EntryFields();
    const out = Buffer.alloc(MAX_CT_ATTRS_LEN);
    for (const { entry: e, windowTracking } of warmUpSamples()) {
      const f = load.load(e);
      const end = writeCtWire(f, wireOptBits({ tcpWindowTracking: windowTracking }), out, 0);
      assert.ok(end > 0, JSON.stringify(e));
      // the reply tuple the writer compared against: the entry's, or the inverse of the original
      if (!f.reply.present) f.reply.invertOf(f.orig);
      for (let o = 0; o < end; o += (out.readUInt16BE(o) + 3) & ~3) {
        const id = out.readUInt16BE(o + 2);
        const a = CT_ATTRS[id];
        written.add(id);
        const len = out.readUInt16BE(o);
        if (a.len) assert.equal(len, a.len, a.name);
        else assert.ok(len <= a.maxLen, a.name);
        let p = o + 4;
        for (const part of a.parts) {
          if (part.type === 'strz') {
            assert.equal(out.toString('utf8', p, o + len - 1), e.helper);
            assert.equal(out[o + len - 1], 0);
          } else if (part.type === 'words') {
            // the kernel's little-endian words, big-endian on the wire
            const words = out.subarray(p, o + len);
            const kernel = Buffer.alloc(words.length);
            for (let i = 0; i < words.length; i += 4) kernel.writeUInt32LE(words.readUInt32BE(i), i);
            assert.equal(kernel.toString('hex').slice(0, e.labels!.length), e.labels);
          } else {
            // absent numbers go as 0; ICMP's SPAT/DPAT carry 0 (no reply port)
            const v = fieldValue(f, part);
            const icmpPat =
              part.field.startsWith('reply.') && part.type === 'u16' && (e.orig.proto === 1 || e.orig.proto === 58);
            const want = icmpPat || (typeof v === 'number' && v < 0) ? 0 : v;
            assert.deepStrictEqual(readPart(out, p, part), want, `${a.name}: ${part.field}`);
            p += WIDTH[part.type];
          }
        }
      }
    }
    assert.deepStrictEqual(
      CT_ATTRS.filter((a) => !written.has(a.id)).map((a) => a.name),
      [],
      'rows no sample writes',
    );
  });

  it('fields -> wire -> fields -> wire is a fixed point (from the second round), for any entry and options', () => {
    const load = new EntryFields();
    const back = new FlowFields();
    const bufs = [Buffer.alloc(MAX_CT_ATTRS_LEN), Buffer.alloc(MAX_CT_ATTRS_LEN), Buffer.alloc(MAX_CT_ATTRS_LEN)];
    let written = 0;
    fc.assert(
      fc.property(entry, fc.boolean(), fc.boolean(), (e, commitTimeout, tcpWindowTracking) => {
        const opts = { commitTimeout, tcpWindowTracking, longHelper: 'omit' as const };
        const opt = wireOptBits(opts);
        // (a first round can differ: an entry without status goes with STATUS 0, and ICMP fields
        // without a type do not go at all, as conntrackd has it)
        const n: number[] = [writeCtWire(load.load(e), opt, bufs[0], 0)];
        if (n[0] < 0) return;
        written++;
        for (let i = 1; i < 3; i++) {
          assert.ok(scanCtWire(bufs[i - 1], 0, n[i - 1], back));
          // the adapters are these layers: Entry -> fields -> wire -> fields -> Entry
          assert.deepStrictEqual(entryOfFields(back), decodeCtAttrs(bufs[i - 1], 0, n[i - 1]));
          n.push(writeCtWire(back, opt, bufs[i], 0));
        }
        assert.equal(bufs[2].toString('hex', 0, n[2]), bufs[1].toString('hex', 0, n[1]));
        assert.equal(encodeCtAttrs(bufs[2], 0, e, opts), n[0]);
        assert.equal(bufs[2].toString('hex', 0, n[0]), bufs[0].toString('hex', 0, n[0]));
      }),
      { numRuns: NUM_RUNS },
    );
    assert.ok(written > NUM_RUNS / 2, `${written} written`);
  });

  it('what the writer refuses, the adapter refuses with the field named', () => {
    const base: Entry = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1, dport: 2 },
      status: 0x188,
    };
    const cases: Array<[Entry, RegExp]> = [
      [{ ...base, orig: { ...base.orig, dst: '2001:db8::1' } }, /^orig\.dst: invalid IPv4 address/],
      [{ ...base, master: { src: '192.0.2.1', dst: 'x', proto: 6 } }, /^master\.dst: /],
      [{ ...base, reply: { src: '198.51.100.1', dst: '', proto: 6 } }, /^reply\.dst: /],
      [{ ...base, reply: { src: '2001:db8::2', dst: '192.0.2.1', proto: 6, sport: 2, dport: 1 } }, /^reply\.src: /],
      [{ ...base, helper: 'twelve-chars' }, /^helper: 'twelve-chars' is 12 bytes, conntrackd peers accept at most 11$/],
      [{ ...base, labels: 'abc' }, /^labels: odd-length hex 'abc'$/],
      [{ ...base, labels: 'zz' }, /^labels: not hex: 'zz'$/],
      [{ ...base, labels: '01'.repeat(1025) }, /^labels: 1025 bytes, conntrackd peers accept at most 1024$/],
    ];
    for (const [e, re] of cases)
      assert.throws(
        () => encodeCtAttrs(Buffer.alloc(2000), 0, e, undefined),
        (err: Error) => err instanceof WireEncodeError && re.test(err.message),
        JSON.stringify(e),
      );
    // a buffer too small for what comes before the bad field: RangeError first, as before
    assert.throws(
      () => encodeCtAttrs(Buffer.alloc(30), 0, { ...base, labels: 'zz', helper: 'ftp' }, undefined),
      RangeError,
    );
    assert.throws(() => encodeCtAttrs(Buffer.alloc(64), 0, { ...base, labels: 'zz' }, undefined), WireEncodeError);
  });
});
