import type { Entry, Tuple } from './entry.js';
import { parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';

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
 * Built by flowKey() (from an Entry), scanCtKey() (sync/wire-attrs.ts, from received bytes),
 * and the kernel event transcoder (engine/event-transcoder.ts).
 */
/** Protocols whose ports identify the flow in the key (the ones whose ports the wire carries). */
const keyHasPorts = (p: number): boolean => p === 6 || p === 17 || p === 132 || p === 33;
const keyIsIcmp = (p: number): boolean => p === 1 || p === 58;

const keyBuf = Buffer.allocUnsafe(40);

export function flowKey(e: Entry): string {
  return tupleKey(e.orig, e.zone ?? 0, e.family);
}

/** Key of a tuple; the family comes from the address text when not given. */
export function tupleKey(t: Tuple, zone: number, family?: number): string {
  const v6 = family !== undefined ? family === 10 : (t.src ?? '').includes(':');
  const b = keyBuf;
  b[0] = v6 ? 10 : 2;
  b[1] = t.proto;
  b[2] = zone >> 8;
  b[3] = zone & 0xff;
  let o = 4;
  const alen = v6 ? 16 : 4;
  // an entry without addresses (a partial peer message) still gets a stable key
  if (t.src) (v6 ? parseIPv6Into : parseIPv4Into)(t.src, b, o);
  else b.fill(0, o, o + alen);
  o += alen;
  if (t.dst) (v6 ? parseIPv6Into : parseIPv4Into)(t.dst, b, o);
  else b.fill(0, o, o + alen);
  o += alen;
  writeL4(b, o, t);
  return b.toString('latin1', 0, o + 4);
}

function writeL4(b: Buffer, o: number, t: Tuple): void {
  if (keyIsIcmp(t.proto)) {
    b[o] = t.icmpType ?? 0;
    b[o + 1] = t.icmpCode ?? 0;
    const id = t.icmpId ?? 0;
    b[o + 2] = id >> 8;
    b[o + 3] = id & 0xff;
  } else if (keyHasPorts(t.proto)) {
    const s = t.sport ?? 0;
    const d = t.dport ?? 0;
    b[o] = s >> 8;
    b[o + 1] = s & 0xff;
    b[o + 2] = d >> 8;
    b[o + 3] = d & 0xff;
  } else b.writeUInt32BE(0, o);
}
