// The ctnetlink conntrack attribute table (netlink/ct-attrs.ts) against the one scan and the one
// writer (netlink/ct-scan.ts, netlink/ct-write.ts): every row's required length is what the scan
// enforces (too short: malformed, naming the row, or kept as unknown), every row's value lands in
// the field the table names, and the dump writer writes every row.
import { strict as assert } from 'node:assert';
import { NetlinkDecodeError, NlWriter } from '../../../src/netlink/attr.js';
import { CT_NETLINK_ATTRS, type CtAttr, type CtNest } from '../../../src/netlink/ct-attrs.js';
import { scanConntrack } from '../../../src/netlink/ct-scan.js';
import { decodeConntrack, writeDumpAttrs } from '../../../src/netlink/ctnetlink.js';
import { CTA, CTA_NAT, CTA_PROTO, CTA_PROTOINFO, CTA_TUPLE, CTA_IP, NLA } from '../../../src/netlink/constants.js';
import { AddrKind, FlowFields } from '../../../src/conntrack/flow-fields.js';
import type { Entry } from '../../../src/conntrack/entry.js';

/** A netlink attribute (LE length and type, payload, zero padding). */
function nla(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + payload.length, 0);
  h.writeUInt16LE(type, 2);
  return Buffer.concat([h, payload, Buffer.alloc(((4 + payload.length + 3) & ~3) - 4 - payload.length)]);
}
const nest = (type: number, ...kids: Buffer[]): Buffer => nla(type | NLA.F_NESTED, Buffer.concat(kids));

/** An IPv4 TCP original tuple, with `extra` inside it (at the tuple, ip or proto level). */
function origTuple(extra: Buffer = Buffer.alloc(0), at: 'tuple' | 'tuple.ip' | 'tuple.proto' = 'tuple'): Buffer {
  return nest(
    CTA.TUPLE_ORIG,
    nest(
      CTA_TUPLE.IP,
      nla(CTA_IP.V4_SRC, Buffer.from([192, 0, 2, 1])),
      nla(CTA_IP.V4_DST, Buffer.from([198, 51, 100, 1])),
      at === 'tuple.ip' ? extra : Buffer.alloc(0),
    ),
    nest(CTA_TUPLE.PROTO, nla(CTA_PROTO.NUM, Buffer.from([6])), at === 'tuple.proto' ? extra : Buffer.alloc(0)),
    at === 'tuple' ? extra : Buffer.alloc(0),
  );
}

/** The nests around a row's attribute, outermost first (the tuple nests are origTuple's). */
const WRAP: Record<Exclude<CtNest, '' | 'tuple' | 'tuple.ip' | 'tuple.proto'>, number[]> = {
  protoinfo: [CTA.PROTOINFO],
  'protoinfo.tcp': [CTA.PROTOINFO, CTA_PROTOINFO.TCP],
  'protoinfo.sctp': [CTA.PROTOINFO, CTA_PROTOINFO.SCTP],
  'protoinfo.dccp': [CTA.PROTOINFO, CTA_PROTOINFO.DCCP],
  help: [CTA.HELP],
  secctx: [CTA.SECCTX],
  counters: [CTA.COUNTERS_ORIG],
  timestamp: [CTA.TIMESTAMP],
  seqadj: [CTA.SEQ_ADJ_ORIG],
  nat: [CTA.NAT_SRC],
  'nat.proto': [CTA.NAT_SRC, CTA_NAT.PROTO],
  synproxy: [CTA.SYNPROXY],
};

/** A conntrack message with the row's attribute (payload `data`) where it belongs. */
function messageWith(a: CtAttr, data: Buffer): Buffer {
  const attr = a.kind === 'nest' ? nest(a.type, data) : nla(a.type, data);
  let body: Buffer;
  if (a.nest === '') body = a.type === CTA.TUPLE_ORIG ? attr : Buffer.concat([origTuple(), attr]);
  else if (a.nest.startsWith('tuple')) body = origTuple(attr, a.nest as 'tuple');
  else
    body = Buffer.concat([
      origTuple(),
      WRAP[a.nest as keyof typeof WRAP].reduceRight((inner: Buffer, t: number) => nest(t, inner), attr),
    ]);
  const h = Buffer.alloc(20);
  h.writeUInt32LE(20 + body.length, 0);
  h.writeUInt16LE(0x100, 4);
  h[16] = 2;
  return Buffer.concat([h, body]);
}

/** The scanned value of a row's field: a number, an address's hex, or a name. */
function fieldOf(f: FlowFields, a: CtAttr): unknown {
  const rec = (o: object): Record<string, unknown> => o as Record<string, unknown>;
  if (a.nest.startsWith('tuple')) {
    const t = rec(f.orig);
    if (a.kind === 'v4' || a.kind === 'v6') {
      assert.equal(t[a.field + 'Kind'], a.kind === 'v4' ? AddrKind.V4 : AddrKind.V6);
      return Buffer.from(
        f.orig.buf.subarray(t[a.field] as number, (t[a.field] as number) + (a.kind === 'v4' ? 4 : 16)),
      ).toString('hex');
    }
    return t[a.field];
  }
  if (a.nest === 'nat' || a.nest === 'nat.proto') {
    const n = rec(f.natSrc);
    if (a.kind === 'v4' || a.kind === 'v6')
      return Buffer.from(
        f.buf.subarray(n[a.field] as number, (n[a.field] as number) + (a.kind === 'v4' ? 4 : 16)),
      ).toString('hex');
    return n[a.field];
  }
  if (a.nest === 'counters') return rec(f)[a.field + 'O'];
  if (a.nest === 'seqadj') return rec(f.seqO)[a.field];
  if (a.nest === 'synproxy') return rec(f.syn)[a.field];
  if (a.kind === 'u64' || a.kind === 'bytes' || a.kind === 'strz') {
    const p = rec(f)[a.field] as number;
    const len = a.kind === 'u64' ? 8 : (rec(f)[a.field + 'Len'] as number);
    return Buffer.from(f.buf.subarray(p, p + len)).toString('hex');
  }
  return rec(f)[a.field];
}

/** What a payload of the row's kind should scan to (see fieldOf). */
function expected(a: CtAttr, data: Buffer): unknown {
  switch (a.kind) {
    case 'u8':
    case 'flags':
      return data[0];
    case 'u16':
      return data.readUInt16BE(0);
    case 'u32':
      return data.readUInt32BE(0);
    case 'u64':
      if (a.nest !== 'counters') return data.toString('hex');
      return data.length >= 8 ? Number(data.readBigUInt64BE(0)) : data.readUInt32BE(0);
    case 'strz':
      return data.subarray(0, data.indexOf(0)).toString('hex');
    default:
      return data.toString('hex');
  }
}

const leaves = CT_NETLINK_ATTRS.filter((a) => a.kind !== 'nest');

describe('ctnetlink conntrack attribute table', () => {
  it('has one row per (nest, type), and every row a name and a field', () => {
    const seen = new Set<string>();
    for (const a of CT_NETLINK_ATTRS) {
      const k = `${a.nest}/${a.type}`;
      assert.ok(!seen.has(k), k);
      seen.add(k);
      assert.ok(a.name.length > 0 && (a.kind === 'nest' || a.field.length > 0), k);
    }
  });

  it('a row shorter than it needs makes the message malformed, naming the row, or is kept as it is', () => {
    for (const a of leaves.filter((x) => x.min > 0)) {
      const m = messageWith(a, Buffer.alloc(a.min - 1, 0x41));
      if (a.short === 'keep') {
        const e = decodeConntrack(m, 0, m.length);
        assert.equal(e.unknown?.length, 1, a.name);
        assert.equal(e.unknown![0].type, a.type, a.name);
        continue;
      }
      const msg =
        a.nest === 'seqadj' || a.nest === 'synproxy'
          ? `short ${a.name} attribute`
          : `${a.name}: ${a.min - 1} bytes, expected ${a.min}`;
      assert.throws(
        () => decodeConntrack(m, 0, m.length),
        (err: Error) => err instanceof NetlinkDecodeError && err.message.startsWith(msg + ' (at byte '),
        a.name,
      );
    }
  });

  it('a row with the bytes it needs lands in the field the table names', () => {
    const f = new FlowFields();
    for (const a of leaves) {
      let data: Buffer;
      if (a.kind === 'strz') data = Buffer.from('ftp\0');
      else if (a.kind === 'bytes') data = Buffer.from('0102030405060708', 'hex');
      else data = Buffer.from(Array.from({ length: Math.max(a.min, 1) }, (_, i) => 0x21 + 3 * i));
      const m = messageWith(a, data);
      scanConntrack(m, 0, m.length, f);
      assert.deepStrictEqual(fieldOf(f, a), expected(a, data), `${a.nest}/${a.name}`);
      assert.equal(f.unknown.count, 0, `${a.name}: known`);
    }
  });

  it('the dump writer writes every row (and decode gives the entries back)', () => {
    const tcp: Entry = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1, dport: 2, zone: 3 },
      reply: { src: '198.51.100.1', dst: '192.0.2.1', proto: 6, sport: 2, dport: 1 },
      master: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 5, dport: 21 },
      status: 8,
      timeout: 9,
      mark: 1,
      zone: 2,
      use: 1,
      id: 7,
      secmark: 4,
      secctx: 'ctx',
      helper: 'ftp',
      labels: '01',
      labelsMask: 'ff',
      tcp: { state: 3, wscaleOrig: 7, wscaleReply: 6, flagsOrig: 3, maskOrig: 3, flagsReply: 2 },
      natSrc: { minIp: '203.0.113.1', maxIp: '203.0.113.2', minPort: 1, maxPort: 2 },
      seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
      seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
      natDst: { minIp: '203.0.113.3', maxIp: '203.0.113.3' },
      countersOrig: { packets: 1, bytes: 2 },
      countersReply: { packets: 3, bytes: 4 },
      timestampStart: '1',
      timestampStop: '2',
      synproxy: { isn: 1, its: 2, tsoff: 3 },
    };
    const icmp6: Entry = {
      family: 10,
      orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 9 },
      sctp: { state: 3, vtagOrig: 1, vtagReply: 2 },
      dccp: { state: 1, role: 0, handshakeSeq: '5' },
      natSrc: { minIp: '2001:db8::3', maxIp: '2001:db8::4' },
    };
    const icmp4: Entry = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 9 },
    };
    const written = new Set<string>();
    const walk = (b: Buffer, start: number, end: number, path: string[]): void => {
      for (let o = start; o + 4 <= end; o += (b.readUInt16LE(o) + 3) & ~3) {
        const type = b.readUInt16LE(o + 2);
        written.add(`${path.join('>')}/${type & 0x3fff}`);
        if (type & NLA.F_NESTED) walk(b, o + 4, o + b.readUInt16LE(o), [...path, String(type & 0x3fff)]);
      }
    };
    for (const e of [tcp, icmp6, icmp4]) {
      const w = new NlWriter(64);
      w.beginNf(0x100, 0, 0, e.family);
      writeDumpAttrs(w, e);
      w.end();
      assert.deepStrictEqual(decodeConntrack(w.bytes(), 0, w.bytes().length), e);
      walk(w.bytes(), 20, w.bytes().length, []);
    }
    // every row, at some path ending in its nest
    const pathOf: Record<CtNest, string[]> = {
      '': [],
      tuple: ['1'],
      'tuple.ip': ['1', '1'],
      'tuple.proto': ['1', '2'],
      protoinfo: ['4'],
      'protoinfo.tcp': ['4', '1'],
      'protoinfo.sctp': ['4', '3'],
      'protoinfo.dccp': ['4', '2'],
      help: ['5'],
      secctx: ['19'],
      counters: ['9'],
      timestamp: ['20'],
      seqadj: ['15'],
      nat: ['6'],
      'nat.proto': ['6', '3'],
      synproxy: ['24'],
    };
    const missing = CT_NETLINK_ATTRS.filter((a) => !written.has(`${pathOf[a.nest].join('>')}/${a.type}`)).map(
      (a) => `${a.nest}/${a.name}`,
    );
    assert.deepStrictEqual(missing, []);
  });
});
