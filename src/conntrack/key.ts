import type { Entry, Tuple } from './entry.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';
import { AddrKind, hasWirePorts, isIcmp, type FlowFields, type TupleFields } from './flow-fields.js';

/**
 * Stable identity of a flow: the original tuple plus the zone (what the kernel's hash uses).
 * Deliberately excludes the conntrack id, which changes when an entry is re-created (conntrackd
 * 1.4.7 dropped it from its key for the same reason).
 *
 * The key is binary, one byte per char of a latin1 string (16 chars for IPv4, 40 for IPv6): the
 * caches hold one per flow, so a short flat string saves ~200 bytes per entry against a text
 * key, and hashes faster. Byte layout:
 *
 *   0      family (2 or 10)
 *   1      L4 protocol
 *   2..3   zone, big-endian
 *   4..    source address, then destination address (4 or 16 bytes each)
 *   last 4 L4 identity: source and destination port (big-endian) for TCP, UDP, SCTP and DCCP;
 *          type, code and id (id big-endian) for ICMP and ICMPv6; zero for anything else
 *
 * Ports are zero for protocols whose ports the sync wire format does not carry, so a key made
 * from a kernel entry, from an Entry and from received wire bytes is the same for one flow.
 * Built by flowKey() (from an Entry) and flowKeyOfFields() (from the flat fields of a scanned
 * message: scanCtKey() in sync/wire-attrs.ts, the kernel event transcoder).
 */
const keyBuf = Buffer.allocUnsafe(40);

export function flowKey(e: Entry): string {
  return tupleKey(e.orig, e.zone ?? 0, e.family);
}

/** Key of a tuple; the family comes from the address text when not given. */
export function tupleKey(t: Tuple, zone: number, family?: number): string {
  const v6 = family !== undefined ? family === AF_INET6 : (t.src ?? '').includes(':');
  const b = keyBuf;
  writeKeyHead(b, v6 ? AF_INET6 : AF_INET, t.proto, zone);
  let o = 4;
  const alen = v6 ? 16 : 4;
  // an entry without addresses (a partial peer message) still gets a stable key
  if (t.src) (v6 ? parseIPv6Into : parseIPv4Into)(t.src, b, o);
  else b.fill(0, o, o + alen);
  o += alen;
  if (t.dst) (v6 ? parseIPv6Into : parseIPv4Into)(t.dst, b, o);
  else b.fill(0, o, o + alen);
  o += alen;
  writeKeyL4(b, o, t.proto, t.sport ?? 0, t.dport ?? 0, t.icmpType ?? 0, t.icmpCode ?? 0, t.icmpId ?? 0);
  return b.toString('latin1', 0, o + 4);
}

/** The first 4 bytes of a key: family, protocol, zone. */
export function writeKeyHead(b: Uint8Array, family: number, proto: number, zone: number): void {
  b[0] = family;
  b[1] = proto;
  b[2] = zone >> 8;
  b[3] = zone & 0xff;
}

/** The last 4 bytes of a key, at `o`: ports or ICMP type, code and id, by protocol (0 for absent ones). */
export function writeKeyL4(
  b: Uint8Array,
  o: number,
  proto: number,
  sport: number,
  dport: number,
  type: number,
  code: number,
  id: number,
): void {
  if (isIcmp(proto)) {
    b[o] = type;
    b[o + 1] = code;
    b[o + 2] = id >> 8;
    b[o + 3] = id & 0xff;
  } else if (hasWirePorts(proto)) {
    b[o] = sport >> 8;
    b[o + 1] = sport & 0xff;
    b[o + 2] = dport >> 8;
    b[o + 3] = dport & 0xff;
  } else b[o] = b[o + 1] = b[o + 2] = b[o + 3] = 0;
}

/**
 * flowKey() of the entry `f` describes, as bytes written to `b` (at least 40 bytes): their
 * length, or -1 where flowKey would throw (an address of the other family than the entry's).
 */
export function flowKeyOfFields(f: FlowFields, b: Uint8Array): number {
  return tupleKeyOfFields(f.orig, f.family, f.zone < 0 ? 0 : f.zone, b);
}

/** The key form of any tuple of a scanned flow (the reply tuple: what a reply packet's headers make). */
export function tupleKeyOfFields(t: TupleFields, family: number, zone: number, b: Uint8Array): number {
  const v6 = family === AF_INET6;
  const ak = v6 ? AddrKind.V6 : AddrKind.V4;
  const al = v6 ? 16 : 4;
  writeKeyHead(b, v6 ? AF_INET6 : AF_INET, t.proto, zone);
  const tb = t.buf;
  if ((t.src >= 0 && t.srcKind !== ak) || (t.dst >= 0 && t.dstKind !== ak)) return -1;
  // an absent address is zeros
  for (let i = 0, s = t.src; i < al; i++) b[4 + i] = s < 0 ? 0 : tb[s + i];
  for (let i = 0, d = t.dst; i < al; i++) b[4 + al + i] = d < 0 ? 0 : tb[d + i];
  const o = 4 + 2 * al;
  writeKeyL4(
    b,
    o,
    t.proto,
    t.sport < 0 ? 0 : t.sport,
    t.dport < 0 ? 0 : t.dport,
    t.icmpType < 0 ? 0 : t.icmpType,
    t.icmpCode < 0 ? 0 : t.icmpCode,
    t.icmpId < 0 ? 0 : t.icmpId,
  );
  return o + 4;
}
