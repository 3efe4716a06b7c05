// The flow of one IP packet, read from its headers (a queued packet's bytes, from the layer-3
// header on): addresses, protocol, ports or ICMP type/code/id; and the flow keys (key.ts) it
// can belong to: the key of a flow whose original direction it travels, and the key of a flow
// whose reply direction it travels when no NAT is involved. Pure; allocates nothing.
//
// Not read: fragments past the first (no layer-4 header), IPv6 extension headers other than
// hop-by-hop, routing, fragment, destination options and AH. The zone is not in a packet: keys
// are made for zone 0.
import { AF_INET, AF_INET6, IPPROTO } from '../netlink/constants.js';
import { hasWirePorts, inverseIcmpType, isIcmp } from './flow-fields.js';
import { writeKeyHead, writeKeyL4 } from './key.js';

/** One packet's flow; offsets point into `buf`. Reused by readPacketFlow. */
export class PacketFlow {
  buf: Uint8Array = new Uint8Array(0);
  family = 0;
  proto = 0;
  /** Offsets of the source and destination address (4 or 16 bytes). */
  src = 0;
  dst = 0;
  sport = 0;
  dport = 0;
  icmpType = 0;
  icmpCode = 0;
  icmpId = 0;
}

/** IPv6 extension headers walked to the layer-4 header. */
const enum EXT {
  HOP_BY_HOP = 0,
  ROUTING = 43,
  FRAGMENT = 44,
  AH = 51,
  DEST_OPTS = 60,
}

/**
 * Reads the IPv4 or IPv6 packet b[off, off + len) into `out`. Returns false when it is not one,
 * is truncated before the fields a key needs, or is a later fragment.
 */
export function readPacketFlow(b: Uint8Array, off: number, len: number, out: PacketFlow): boolean {
  if (len < 1) return false;
  const version = b[off] >> 4;
  const end = off + len;
  let l4: number;
  out.buf = b;
  if (version === 4) {
    const ihl = (b[off] & 0x0f) * 4;
    if (ihl < 20 || off + ihl > end) return false;
    if (((b[off + 6] & 0x1f) << 8) | b[off + 7]) return false; // fragment offset: no layer-4 header
    out.family = AF_INET;
    out.proto = b[off + 9];
    out.src = off + 12;
    out.dst = off + 16;
    l4 = off + ihl;
  } else if (version === 6) {
    if (off + 40 > end) return false;
    out.family = AF_INET6;
    out.src = off + 8;
    out.dst = off + 24;
    let next = b[off + 6];
    l4 = off + 40;
    for (;;) {
      if (next === EXT.HOP_BY_HOP || next === EXT.ROUTING || next === EXT.DEST_OPTS) {
        if (l4 + 8 > end) return false;
        next = b[l4];
        l4 += (b[l4 + 1] + 1) * 8;
      } else if (next === EXT.FRAGMENT) {
        if (l4 + 8 > end) return false;
        if (((b[l4 + 2] << 8) | b[l4 + 3]) & 0xfff8) return false;
        next = b[l4];
        l4 += 8;
      } else if (next === EXT.AH) {
        if (l4 + 8 > end) return false;
        next = b[l4];
        l4 += (b[l4 + 1] + 2) * 4;
      } else break;
    }
    out.proto = next;
  } else return false;
  return readLayer4(b, l4, end, out);
}

function readLayer4(b: Uint8Array, l4: number, end: number, out: PacketFlow): boolean {
  out.sport = out.dport = out.icmpType = out.icmpCode = out.icmpId = 0;
  const proto = out.proto;
  if (hasWirePorts(proto) || proto === IPPROTO.UDPLITE) {
    if (l4 + 4 > end) return false;
    out.sport = (b[l4] << 8) | b[l4 + 1];
    out.dport = (b[l4 + 2] << 8) | b[l4 + 3];
  } else if (isIcmp(proto)) {
    if (l4 + 8 > end) return false;
    out.icmpType = b[l4];
    out.icmpCode = b[l4 + 1];
    out.icmpId = (b[l4 + 4] << 8) | b[l4 + 5];
  }
  return true;
}

/**
 * Writes into `k` the flow key (zone 0) of the flow this packet belongs to: `reverse` false, the
 * flow whose original direction it travels; true, the flow whose reply direction it travels,
 * without NAT (the inverse tuple, as the kernel inverts it). Returns the key's length.
 */
export function writePacketKey(p: PacketFlow, reverse: boolean, k: Uint8Array): number {
  const v6 = p.family === AF_INET6;
  const al = v6 ? 16 : 4;
  writeKeyHead(k, v6 ? AF_INET6 : AF_INET, p.proto, 0);
  const a = reverse ? p.dst : p.src;
  const z = reverse ? p.src : p.dst;
  const b = p.buf;
  for (let i = 0; i < al; i++) {
    k[4 + i] = b[a + i];
    k[4 + al + i] = b[z + i];
  }
  const o = 4 + 2 * al;
  const icmp = isIcmp(p.proto);
  writeKeyL4(
    k,
    o,
    p.proto,
    reverse ? p.dport : p.sport,
    reverse ? p.sport : p.dport,
    icmp && reverse ? inverseIcmpType(p.proto, p.icmpType) : p.icmpType,
    p.icmpCode,
    p.icmpId,
  );
  return o + 4;
}
