// fast-check arbitraries for the conntrack model, shared by the codec property tests
// (fc.record with noNullPrototype: decoders make plain objects, deepStrictEqual compares prototypes).
import fc from 'fast-check';
import { formatIPv4, formatIPv6 } from '../../src/netlink/ip.js';
import { CTA, IPPROTO, NLA } from '../../src/netlink/constants.js';
import type { Entry, RawAttr, Tuple } from '../../src/conntrack/entry.js';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64s = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v.toString());
export const hexBytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('hex'));
/** A NUL-free string (strz attributes cannot carry NUL), any Unicode. */
export const strz = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength }).filter((s) => !s.includes('\0'));

/** 16 bytes as 8 words, biased towards zero runs, ffff and 1 so :: and the IPv4 forms show up. */
export const v6Words = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.constant(1), u16), {
  minLength: 8,
  maxLength: 8,
});
export const v6Bytes = v6Words.map((w) => {
  const b = Buffer.alloc(16);
  w.forEach((x, i) => b.writeUInt16BE(x, 2 * i));
  return b;
});
export const v4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Buffer.from(b));
export const addr = (family: number) =>
  family === 10 ? v6Bytes.map((b) => formatIPv6(b, 0)) : v4Bytes.map((b) => formatIPv4(b, 0));

export const PORTED = [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP, IPPROTO.GRE];

export function tuple(family: number): fc.Arbitrary<Tuple> {
  const icmp = family === 10 ? IPPROTO.ICMPV6 : IPPROTO.ICMP;
  const ported = fc.record(
    { src: addr(family), dst: addr(family), proto: fc.constantFrom(...PORTED), sport: u16, dport: u16, zone: u16 },
    { requiredKeys: ['src', 'dst', 'proto'], noNullPrototype: true },
  );
  const icmpT = fc.record(
    {
      src: addr(family),
      dst: addr(family),
      proto: fc.constant(icmp),
      icmpType: u8,
      icmpCode: u8,
      icmpId: u16,
      zone: u16,
    },
    { requiredKeys: ['src', 'dst', 'proto'], noNullPrototype: true },
  );
  // a protocol without ports (ESP, IGMP, OSPF, ...)
  const bare = fc.record(
    { src: addr(family), dst: addr(family), proto: fc.constantFrom(2, 50, 89, 255), zone: u16 },
    { requiredKeys: ['src', 'dst', 'proto'], noNullPrototype: true },
  );
  return fc.oneof({ arbitrary: ported, weight: 4 }, { arbitrary: icmpT, weight: 2 }, { arbitrary: bare, weight: 1 });
}

export const tcpInfo = fc
  .record(
    {
      state: u8,
      wscaleOrig: u8,
      wscaleReply: u8,
      flagsOrig: u8,
      flagsReply: u8,
    },
    { requiredKeys: [], noNullPrototype: true },
  )
  .chain((t) =>
    fc
      .record(
        {
          // a mask only travels with its flags, and 0 means "no mask" (that is what dumps carry)
          ...(t.flagsOrig !== undefined ? { maskOrig: fc.integer({ min: 1, max: 0xff }) } : {}),
          ...(t.flagsReply !== undefined ? { maskReply: fc.integer({ min: 1, max: 0xff }) } : {}),
        },
        { requiredKeys: [], noNullPrototype: true },
      )
      .map((m) => ({ ...t, ...m })),
  );

export const seqAdj = fc.record({ correctionPos: u32, offsetBefore: u32, offsetAfter: u32 }, { noNullPrototype: true });
export const counters = fc.record({ packets: fc.maxSafeNat(), bytes: fc.maxSafeNat() }, { noNullPrototype: true });

/** Top-level attribute types the decoder does not know (kept verbatim in Entry.unknown). */
export const unknownType = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(0, CTA.MARK_MASK, CTA.FILTER, CTA.STATUS_MASK, CTA.TIMESTAMP_EVENT),
      fc.integer({ min: 28, max: 0x3fff }),
    ),
    fc.constantFrom(0, NLA.F_NESTED, NLA.F_NET_BYTEORDER),
  )
  .map(([t, f]) => t | f);
const unknownAttr: fc.Arbitrary<RawAttr> = fc.record(
  { type: unknownType, data: hexBytes(40) },
  { noNullPrototype: true },
);

export function natRange(family: number) {
  return fc.record(
    { minIp: addr(family), maxIp: addr(family), minPort: u16, maxPort: u16 },
    { requiredKeys: [], noNullPrototype: true },
  );
}

export const entry: fc.Arbitrary<Entry> = fc.constantFrom(2, 10).chain((family) =>
  fc.record(
    {
      family: fc.constant(family),
      orig: tuple(family),
      reply: tuple(family),
      master: tuple(family),
      status: u32,
      timeout: u32,
      mark: u32,
      zone: u16,
      use: u32,
      id: u32,
      secmark: u32,
      secctx: strz(40),
      helper: strz(16),
      labels: hexBytes(16),
      labelsMask: hexBytes(16),
      tcp: tcpInfo,
      sctp: fc.record({ state: u8, vtagOrig: u32, vtagReply: u32 }, { requiredKeys: [], noNullPrototype: true }),
      dccp: fc.record({ state: u8, role: u8, handshakeSeq: u64s }, { requiredKeys: [], noNullPrototype: true }),
      natSrc: natRange(family),
      natDst: natRange(family),
      seqAdjOrig: seqAdj,
      seqAdjReply: seqAdj,
      countersOrig: counters,
      countersReply: counters,
      timestampStart: u64s,
      timestampStop: u64s,
      synproxy: fc.record({ isn: u32, its: u32, tsoff: u32 }, { noNullPrototype: true }),
      unknown: fc.array(unknownAttr, { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ['family', 'orig'], noNullPrototype: true },
  ),
);
