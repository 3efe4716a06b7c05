import type { Entry, Tuple } from './entry.js';
import { parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';

/**
 * Stable identity of a flow: the original tuple plus the zone (what the kernel's hash uses).
 * Deliberately excludes the conntrack id, which changes when an entry is re-created (conntrackd
 * 1.4.7 dropped it from its key for the same reason).
 *
 * The key is binary, one byte per char of a latin1 string (16 chars for IPv4, 40 for IPv6): the
 * caches hold one per flow, so a short flat string saves ~200 bytes per entry against a text
 * key, and hashes faster. Byte layout (FLOW_KEY):
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
 * Built by flowKey() (from an Entry), wireFlowKey() (sync/wire-attrs.ts, from received bytes),
 * and keyFromBytes() below for byte-level producers.
 */
export const FLOW_KEY = { FAMILY: 0, PROTO: 1, ZONE: 2, ADDR: 4, V4_LEN: 16, V6_LEN: 40 } as const;

/** Protocols whose ports identify the flow in the key (the ones whose ports the wire carries). */
export const keyHasPorts = (p: number): boolean => p === 6 || p === 17 || p === 132 || p === 33;
export const keyIsIcmp = (p: number): boolean => p === 1 || p === 58;

const keyBuf = Buffer.allocUnsafe(FLOW_KEY.V6_LEN);

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

/** Readable form of a key, for logs and messages: `zone|proto|src|dst|l4`. */
export function describeKey(key: string): string {
  const b = Buffer.from(key, 'latin1');
  const v6 = b[0] === 10;
  const alen = v6 ? 16 : 4;
  const addr = (o: number): string => v6
    ? Array.from({ length: 8 }, (_, i) => b.readUInt16BE(o + 2 * i).toString(16)).join(':')
    : Array.from(b.subarray(o, o + 4)).join('.');
  const l4 = b.length - 4;
  return `${b.readUInt16BE(2)}|${b[1]}|${addr(4)}|${addr(4 + alen)}|${keyIsIcmp(b[1]) ? `${b[l4]}:${b[l4 + 1]}:${b.readUInt16BE(l4 + 2)}` : `${b.readUInt16BE(l4)}:${b.readUInt16BE(l4 + 2)}`}`;
}
