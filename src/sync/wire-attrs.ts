// conntrackd sync protocol (conntrack-tools 1.4.7): the attribute (TLV) layer of CT and EXP
// messages, i.e. what follows the 8-byte message header. Pure: no sockets, no timers.
//
// Layout of one attribute: BE16 nta_len (4 + payload, unpadded), BE16 nta_attr, payload, zero
// padding to 4 bytes. Flat, no nesting. See docs/ftfw-protocol.md §5.
//
// Encoding follows conntrackd's ct2msg/exp2msg (attribute choice and order), including:
//  - quirk Q1: ICMP_ID, SPAT_PORT and DPAT_PORT are little-endian on the wire (x86 senders);
//  - SPAT/DPAT are chosen by libnetfilter_conntrack's raw comparison of the 16-bit layer-4 words
//    (for ICMP: id against type<<8|code), and carry the reply *port* attribute, which
//    libnetfilter_conntrack reports as 0 for ICMP: an ICMP entry with SRC_NAT_DONE/DST_NAT_DONE
//    therefore carries SPAT_PORT = 0 / DPAT_PORT = 0 [observed on the wire];
//  - ZONE only for a non-zero zone (the kernel never reports zone 0).
//
// Decoding follows conntrackd's msg2ct/msg2exp validation exactly (one failure rejects the whole
// message): see decodeCtAttrs / decodeExpAttrs.
import { formatIPv4, formatIPv6, parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';
import { invertTuple } from '../netlink/ctnetlink.js';
import type { Entry, Expect, SeqAdj, Tuple } from '../conntrack/entry.js';

// ------------------------------------------------------------------------------- constants

/** enum nta_attr: attributes of CT_NEW / CT_UPD / CT_DEL. */
export const NTA = {
  IPV4: 0, IPV6: 1, L4PROTO: 2, PORT: 3, TCP_STATE: 4, STATUS: 5, TIMEOUT: 6, MARK: 7,
  MASTER_IPV4: 8, MASTER_IPV6: 9, MASTER_L4PROTO: 10, MASTER_PORT: 11,
  SNAT_IPV4: 12, DNAT_IPV4: 13, SPAT_PORT: 14, DPAT_PORT: 15, NAT_SEQ_ADJ: 16,
  SCTP_STATE: 17, SCTP_VTAG_ORIG: 18, SCTP_VTAG_REPL: 19, DCCP_STATE: 20, DCCP_ROLE: 21,
  ICMP_TYPE: 22, ICMP_CODE: 23, ICMP_ID: 24, TCP_WSCALE_ORIG: 25, TCP_WSCALE_REPL: 26,
  HELPER_NAME: 27, LABELS: 28, SNAT_IPV6: 29, DNAT_IPV6: 30, SYNPROXY: 31, ZONE: 32,
} as const;
/** First invalid CT attribute id (a message carrying an id >= this is rejected). */
export const NTA_MAX = 33;

/** enum nta_exp_attr: attributes of EXP_NEW / EXP_UPD / EXP_DEL. */
export const NTA_EXP = {
  MASTER_IPV4: 0, MASTER_IPV6: 1, MASTER_L4PROTO: 2, MASTER_PORT: 3,
  EXPECT_IPV4: 4, EXPECT_IPV6: 5, EXPECT_L4PROTO: 6, EXPECT_PORT: 7,
  MASK_IPV4: 8, MASK_IPV6: 9, MASK_L4PROTO: 10, MASK_PORT: 11,
  TIMEOUT: 12, FLAGS: 13, CLASS: 14, NAT_IPV4: 15, NAT_PORT: 16, NAT_L4PROTO: 17, NAT_DIR: 18,
  HELPER_NAME: 19, FN: 20,
} as const;
/** First invalid EXP attribute id. */
export const NTA_EXP_MAX = 21;

/**
 * Exact nta_len (header included) of each fixed-size CT attribute; 0 = variable (see
 * CT_MAX_LEN). Indexed by attribute id.
 */
export const CT_FIXED_LEN: readonly number[] = [
  12, 36, 5, 8, 5, 8, 8, 8, // IPV4 .. MARK
  12, 36, 5, 8, // MASTER_*
  8, 8, 6, 6, 28, // SNAT_IPV4, DNAT_IPV4, SPAT, DPAT, NAT_SEQ_ADJ
  5, 8, 8, 5, 5, // SCTP_STATE, VTAG_ORIG, VTAG_REPL, DCCP_STATE, DCCP_ROLE
  5, 5, 6, 5, 5, // ICMP_TYPE, ICMP_CODE, ICMP_ID, WSCALE_ORIG, WSCALE_REPL
  0, 0, 20, 20, 16, 6, // HELPER_NAME, LABELS, SNAT_IPV6, DNAT_IPV6, SYNPROXY, ZONE
];
/** Largest nta_len (header included) of the variable CT attributes. */
export const CT_MAX_LEN: Readonly<Record<number, number>> = {
  [NTA.HELPER_NAME]: 16, // NFCT_HELPER_NAME_MAX: at most 11 characters + NUL
  [NTA.LABELS]: 4 + 1024, // NTA_SIZE(NTA_LABELS_MAX_SIZE)
};
export const EXP_FIXED_LEN: readonly number[] = [
  12, 36, 5, 8, 12, 36, 5, 8, 12, 36, 5, 8, // MASTER_*, EXPECT_*, MASK_*
  8, 8, 8, 12, 8, 5, 8, // TIMEOUT, FLAGS, CLASS, NAT_IPV4, NAT_PORT, NAT_L4PROTO, NAT_DIR
  0, 0, // HELPER_NAME, FN
];
export const EXP_MAX_LEN: Readonly<Record<number, number>> = {
  [NTA_EXP.HELPER_NAME]: 16,
  [NTA_EXP.FN]: 32,
};

/** Longest helper name that fits NTA_HELPER_NAME (nta_len <= 16 with the NUL). */
export const MAX_HELPER_NAME = 11;

const AF_INET = 2;
const AF_INET6 = 10;
const P_ICMP = 1;
const P_TCP = 6;
const P_UDP = 17;
const P_DCCP = 33;
const P_ICMPV6 = 58;
const P_SCTP = 132;
const IPS_SRC_NAT_DONE = 0x80;
const IPS_DST_NAT_DONE = 0x100;

/** Protocols whose tuple ports conntrackd sends (NTA_PORT / NTA_EXP_*_PORT). */
const hasPorts = (p: number): boolean => p === P_TCP || p === P_UDP || p === P_SCTP || p === P_DCCP;
const isIcmp = (p: number): boolean => p === P_ICMP || p === P_ICMPV6;

/** An entry or expectation that cannot be put on the wire; the message names the field. */
export class WireEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireEncodeError';
  }
}

export interface CtEncodeOptions {
  /** The sender has `CommitTimeout` configured: TIMEOUT is left out (quirk Q4). */
  commitTimeout?: boolean;
  /** The sender has `TCPWindowTracking on`: TCP_WSCALE_ORIG/REPL follow TCP_STATE. */
  tcpWindowTracking?: boolean;
  /**
   * A helper name longer than 11 bytes: conntrackd 1.4.7 sends it and every peer rejects the
   * whole message (malformed payload). 'error' (default) throws WireEncodeError, 'omit' leaves
   * NTA_HELPER_NAME out so the entry itself still replicates.
   */
  longHelper?: 'error' | 'omit';
}

export interface ExpEncodeOptions {
  /** The sender has `CommitTimeout` configured: EXP_TIMEOUT is left out. */
  commitTimeout?: boolean;
  /** See CtEncodeOptions.longHelper; also applies to EXP_FN (at most 27 bytes + NUL). */
  longHelper?: 'error' | 'omit';
}

// ------------------------------------------------------------------------------- encoding

function tooSmall(): never {
  throw new RangeError('sync message does not fit in the output buffer');
}

/**
 * Writes an attribute header for a `plen`-byte payload at `o`, zeroes its padding, and returns
 * the payload offset. The attribute occupies align4(4 + plen) bytes.
 */
function attr(buf: Uint8Array, o: number, id: number, plen: number): number {
  const len = 4 + plen;
  const end = o + ((len + 3) & ~3);
  if (end > buf.length) tooSmall();
  buf[o] = len >> 8;
  buf[o + 1] = len & 0xff;
  buf[o + 2] = 0;
  buf[o + 3] = id;
  for (let i = o + len; i < end; i++) buf[i] = 0;
  return o + 4;
}

function put16be(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >>> 8) & 0xff;
  buf[p + 1] = v & 0xff;
}

function put32be(buf: Uint8Array, p: number, v: number): void {
  buf[p] = (v >>> 24) & 0xff;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
}

function u8Attr(buf: Uint8Array, o: number, id: number, v: number): number {
  buf[attr(buf, o, id, 1)] = v & 0xff;
  return o + 8;
}

function u16beAttr(buf: Uint8Array, o: number, id: number, v: number): number {
  put16be(buf, attr(buf, o, id, 2), v);
  return o + 8;
}

/** Quirk Q1: a u16 the x86 sender byte-swaps twice, i.e. little-endian on the wire. */
function u16leAttr(buf: Uint8Array, o: number, id: number, v: number): number {
  const p = attr(buf, o, id, 2);
  buf[p] = v & 0xff;
  buf[p + 1] = (v >>> 8) & 0xff;
  return o + 8;
}

function u32beAttr(buf: Uint8Array, o: number, id: number, v: number): number {
  put32be(buf, attr(buf, o, id, 4), v);
  return o + 8;
}

function addrInto(s: string, v6: boolean, buf: Uint8Array, p: number, what: string): void {
  if (typeof s !== 'string') throw new WireEncodeError(`${what}: missing address`);
  try {
    if (v6) parseIPv6Into(s, buf, p);
    else parseIPv4Into(s, buf, p);
  } catch (err) {
    throw new WireEncodeError(`${what}: ${(err as Error).message}`);
  }
}

/** NTA_*IPV4 / *IPV6 group: src + dst. */
function addrPairAttr(buf: Uint8Array, o: number, id: number, v6: boolean, t: Tuple, what: string): number {
  const n = v6 ? 16 : 4;
  const p = attr(buf, o, id, 2 * n);
  addrInto(t.src, v6, buf, p, `${what}.src`);
  addrInto(t.dst, v6, buf, p + n, `${what}.dst`);
  return o + 4 + 2 * n;
}

/** NTA_*PORT group: sport + dport, both BE16. */
function portPairAttr(buf: Uint8Array, o: number, id: number, t: Tuple): number {
  const p = attr(buf, o, id, 4);
  put16be(buf, p, t.sport ?? 0);
  put16be(buf, p + 2, t.dport ?? 0);
  return o + 8;
}

function strAttr(buf: Uint8Array, o: number, id: number, s: string, maxLen: number, policy: 'error' | 'omit' | undefined, what: string): number {
  const n = Buffer.byteLength(s);
  if (4 + n + 1 > maxLen) {
    if (policy === 'omit') return o;
    throw new WireEncodeError(`${what}: '${s}' is ${n} bytes, conntrackd peers accept at most ${maxLen - 5}`);
  }
  const p = attr(buf, o, id, n + 1);
  if (n === s.length) {
    for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
  } else {
    Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(s, p, 'utf8');
  }
  buf[p + n] = 0;
  return o + ((4 + n + 1 + 3) & ~3);
}

const scratchA = new Uint8Array(16);
const scratchB = new Uint8Array(16);

/** Same address? (string compare first; IPv6 text has several spellings of one address) */
function sameAddr(a: string, b: string, v6: boolean): boolean {
  if (a === b) return true;
  if (!v6) return false; // IPv4 text is canonical (parseIPv4Into rejects leading zeros)
  try {
    parseIPv6Into(a, scratchA, 0);
    parseIPv6Into(b, scratchB, 0);
  } catch {
    return false;
  }
  for (let i = 0; i < 16; i++) if (scratchA[i] !== scratchB[i]) return false;
  return true;
}

/** libnetfilter_conntrack's 16-bit "l4src" word of a tuple: port, or ICMP id. */
function rawL4Src(t: Tuple, icmp: boolean): number {
  return (icmp ? t.icmpId : t.sport) ?? 0;
}

/** libnetfilter_conntrack's 16-bit "l4dst" word: port, or ICMP type and code (type first). */
function rawL4Dst(t: Tuple, icmp: boolean): number {
  return icmp ? (((t.icmpType ?? 0) & 0xff) << 8) | ((t.icmpCode ?? 0) & 0xff) : t.dport ?? 0;
}

/** Hex digit value, or -1. */
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * NTA_LABELS from Entry.labels (the kernel's bitmap bytes: host-order = little-endian u32
 * words). conntrackd sends maxbit/32 + 1 big-endian words, and nothing when no bit is set.
 */
function labelsAttr(buf: Uint8Array, o: number, hex: string): number {
  if (hex.length % 2 !== 0) throw new WireEncodeError(`labels: odd-length hex '${hex}'`);
  const nbytes = hex.length >> 1;
  if (nbytes === 0) return o;
  let any = false;
  for (let i = 0; i < hex.length; i++) {
    const v = hexVal(hex.charCodeAt(i));
    if (v < 0) throw new WireEncodeError(`labels: not hex: '${hex}'`);
    if (v !== 0) any = true;
  }
  if (!any) return o;
  const words = (nbytes + 3) >> 2;
  if (words * 4 > 1024) throw new WireEncodeError(`labels: ${nbytes} bytes, conntrackd peers accept at most 1024`);
  const p = attr(buf, o, NTA.LABELS, words * 4);
  for (let w = 0; w < words; w++) {
    for (let k = 0; k < 4; k++) {
      const byte = 4 * w + k; // little-endian byte k of word w -> wire byte 3 - k
      buf[p + 4 * w + 3 - k] = byte < nbytes ? (hexVal(hex.charCodeAt(2 * byte)) << 4) | hexVal(hex.charCodeAt(2 * byte + 1)) : 0;
    }
  }
  return o + 4 + words * 4;
}

/**
 * Writes the attributes of a CT message for `e` at `o` (after the 8-byte header); returns the new
 * offset. Throws WireEncodeError (bad field) or RangeError (buffer too small).
 */
export function encodeCtAttrs(buf: Uint8Array, o: number, e: Entry, opts: CtEncodeOptions | undefined): number {
  const fam = e.family;
  if (fam !== AF_INET && fam !== AF_INET6) throw new WireEncodeError(`family: ${fam} is not 2 (ipv4) or 10 (ipv6)`);
  const orig = e.orig;
  if (!orig) throw new WireEncodeError('orig: missing original tuple');
  const v6 = fam === AF_INET6;
  const proto = orig.proto;
  const icmp = isIcmp(proto);

  o = addrPairAttr(buf, o, v6 ? NTA.IPV6 : NTA.IPV4, v6, orig, 'orig');
  const status = e.status;
  o = u32beAttr(buf, o, NTA.STATUS, status ?? 0);
  o = u8Attr(buf, o, NTA.L4PROTO, proto);

  if (proto === P_TCP) {
    o = portPairAttr(buf, o, NTA.PORT, orig);
    const tcp = e.tcp;
    if (tcp && tcp.state !== undefined) {
      o = u8Attr(buf, o, NTA.TCP_STATE, tcp.state);
      if (opts?.tcpWindowTracking) {
        o = u8Attr(buf, o, NTA.TCP_WSCALE_ORIG, tcp.wscaleOrig ?? 0);
        o = u8Attr(buf, o, NTA.TCP_WSCALE_REPL, tcp.wscaleReply ?? 0);
      }
    }
  } else if (proto === P_UDP) {
    o = portPairAttr(buf, o, NTA.PORT, orig);
  } else if (proto === P_SCTP) {
    o = portPairAttr(buf, o, NTA.PORT, orig);
    const s = e.sctp;
    if (s && s.state !== undefined) {
      o = u8Attr(buf, o, NTA.SCTP_STATE, s.state);
      o = u32beAttr(buf, o, NTA.SCTP_VTAG_ORIG, s.vtagOrig ?? 0);
      o = u32beAttr(buf, o, NTA.SCTP_VTAG_REPL, s.vtagReply ?? 0);
    }
  } else if (proto === P_DCCP) {
    o = portPairAttr(buf, o, NTA.PORT, orig);
    const d = e.dccp;
    if (d && d.state !== undefined) {
      o = u8Attr(buf, o, NTA.DCCP_STATE, d.state);
      o = u8Attr(buf, o, NTA.DCCP_ROLE, d.role ?? 0);
    }
  } else if (icmp) {
    if (orig.icmpType !== undefined) {
      o = u8Attr(buf, o, NTA.ICMP_TYPE, orig.icmpType);
      o = u8Attr(buf, o, NTA.ICMP_CODE, orig.icmpCode ?? 0);
      o = u16leAttr(buf, o, NTA.ICMP_ID, orig.icmpId ?? 0);
    }
  }

  if (!opts?.commitTimeout && e.timeout !== undefined) o = u32beAttr(buf, o, NTA.TIMEOUT, e.timeout);
  if (e.mark !== undefined) o = u32beAttr(buf, o, NTA.MARK, e.mark);

  const m = e.master;
  if (m && m.src && m.dst) {
    o = addrPairAttr(buf, o, v6 ? NTA.MASTER_IPV6 : NTA.MASTER_IPV4, v6, m, 'master');
    o = u8Attr(buf, o, NTA.MASTER_L4PROTO, m.proto ?? 0);
    if (m.sport !== undefined && m.dport !== undefined) o = portPairAttr(buf, o, NTA.MASTER_PORT, m);
  }

  // NAT, detected the way libnetfilter_conntrack 1.0.9 does (objopt.c): a missing status counts
  // as "both NAT_DONE bits", a missing reply tuple as the plain inverse of the original.
  const srcDone = status === undefined || (status & IPS_SRC_NAT_DONE) !== 0;
  const dstDone = status === undefined || (status & IPS_DST_NAT_DONE) !== 0;
  if (srcDone || dstDone) {
    const r = e.reply;
    // inverse-of-orig values when there is no reply tuple
    const rSrc = r ? r.src : orig.dst;
    const rDst = r ? r.dst : orig.src;
    if (srcDone && !sameAddr(rDst, orig.src, v6)) {
      const p = attr(buf, o, v6 ? NTA.SNAT_IPV6 : NTA.SNAT_IPV4, v6 ? 16 : 4);
      addrInto(rDst, v6, buf, p, 'reply.dst');
      o = p + (v6 ? 16 : 4);
    }
    if (dstDone && !sameAddr(rSrc, orig.dst, v6)) {
      const p = attr(buf, o, v6 ? NTA.DNAT_IPV6 : NTA.DNAT_IPV4, v6 ? 16 : 4);
      addrInto(rSrc, v6, buf, p, 'reply.src');
      o = p + (v6 ? 16 : 4);
    }
    const inv = r ? undefined : invertTuple(orig);
    const rt = r ?? inv!;
    // SPAT/DPAT: raw 16-bit comparison; the value sent is the reply *port*, which the library
    // reports as 0 for ICMP (no port attribute in an ICMP tuple).
    if (srcDone && rawL4Dst(rt, icmp) !== rawL4Src(orig, icmp)) o = u16leAttr(buf, o, NTA.SPAT_PORT, icmp ? 0 : rt.dport ?? 0);
    if (dstDone && rawL4Src(rt, icmp) !== rawL4Dst(orig, icmp)) o = u16leAttr(buf, o, NTA.DPAT_PORT, icmp ? 0 : rt.sport ?? 0);
  }

  const so = e.seqAdjOrig;
  const sr = e.seqAdjReply;
  if (so && sr) {
    const p = attr(buf, o, NTA.NAT_SEQ_ADJ, 24);
    put32be(buf, p, so.correctionPos);
    put32be(buf, p + 4, so.offsetBefore);
    put32be(buf, p + 8, so.offsetAfter);
    put32be(buf, p + 12, sr.correctionPos);
    put32be(buf, p + 16, sr.offsetBefore);
    put32be(buf, p + 20, sr.offsetAfter);
    o = p + 24;
  }
  if (e.helper !== undefined) o = strAttr(buf, o, NTA.HELPER_NAME, e.helper, 16, opts?.longHelper, 'helper');
  if (e.labels !== undefined) o = labelsAttr(buf, o, e.labels);
  const sp = e.synproxy;
  if (sp) {
    const p = attr(buf, o, NTA.SYNPROXY, 12);
    put32be(buf, p, sp.its); // struct nta_attr_synproxy: its, isn, tsoff
    put32be(buf, p + 4, sp.isn);
    put32be(buf, p + 8, sp.tsoff);
    o = p + 12;
  }
  if (e.zone !== undefined && e.zone !== 0) o = u16beAttr(buf, o, NTA.ZONE, e.zone);
  return o;
}

/** Writes the attributes of an EXP message for `x` at `o`; returns the new offset. */
export function encodeExpAttrs(buf: Uint8Array, o: number, x: Expect, opts: ExpEncodeOptions | undefined): number {
  const fam = x.family;
  if (fam !== AF_INET && fam !== AF_INET6) throw new WireEncodeError(`family: ${fam} is not 2 (ipv4) or 10 (ipv6)`);
  if (!x.master || !x.tuple || !x.mask) throw new WireEncodeError('expectation: master, tuple and mask are required');
  const v6 = fam === AF_INET6;
  // every *_PORT is gated on the master's protocol, as conntrackd does
  const ports = hasPorts(x.master.proto);
  const group = (t: Tuple, ip4: number, ip6: number, l4: number, port: number, what: string): void => {
    if (t.src && t.dst) o = addrPairAttr(buf, o, v6 ? ip6 : ip4, v6, t, what);
    o = u8Attr(buf, o, l4, t.proto ?? 0);
    if (ports) o = portPairAttr(buf, o, port, t);
  };
  group(x.master, NTA_EXP.MASTER_IPV4, NTA_EXP.MASTER_IPV6, NTA_EXP.MASTER_L4PROTO, NTA_EXP.MASTER_PORT, 'master');
  group(x.tuple, NTA_EXP.EXPECT_IPV4, NTA_EXP.EXPECT_IPV6, NTA_EXP.EXPECT_L4PROTO, NTA_EXP.EXPECT_PORT, 'tuple');
  group(x.mask, NTA_EXP.MASK_IPV4, NTA_EXP.MASK_IPV6, NTA_EXP.MASK_L4PROTO, NTA_EXP.MASK_PORT, 'mask');
  if (!opts?.commitTimeout && x.timeout !== undefined) o = u32beAttr(buf, o, NTA_EXP.TIMEOUT, x.timeout);
  o = u32beAttr(buf, o, NTA_EXP.FLAGS, x.flags ?? 0);
  if (x.class !== undefined) o = u32beAttr(buf, o, NTA_EXP.CLASS, x.class);
  const n = x.natTuple;
  if (n) {
    // there is no NAT_IPV6 attribute: an IPv6 NAT tuple travels without addresses
    if (!v6 && n.src && n.dst) o = addrPairAttr(buf, o, NTA_EXP.NAT_IPV4, false, n, 'natTuple');
    o = u8Attr(buf, o, NTA_EXP.NAT_L4PROTO, n.proto ?? 0);
    if (ports) o = portPairAttr(buf, o, NTA_EXP.NAT_PORT, n);
    o = u32beAttr(buf, o, NTA_EXP.NAT_DIR, x.natDir ?? 0);
  }
  if (x.helper !== undefined) o = strAttr(buf, o, NTA_EXP.HELPER_NAME, x.helper, 16, opts?.longHelper, 'helper');
  if (x.fn !== undefined) o = strAttr(buf, o, NTA_EXP.FN, x.fn, 32, opts?.longHelper, 'fn');
  return o;
}

// ------------------------------------------------------------------------------- decoding

const get16be = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const get16le = (b: Uint8Array, p: number): number => b[p] | (b[p + 1] << 8);
const get32be = (b: Uint8Array, p: number): number => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

const HEX = '0123456789abcdef';

/** NUL-terminated string inside [p, p + n): up to the first NUL, or all n bytes. */
function readStr(b: Uint8Array, p: number, n: number): string {
  let e = p;
  const end = p + n;
  let ascii = true;
  while (e < end && b[e] !== 0) {
    if (b[e] >= 0x80) ascii = false;
    e++;
  }
  if (ascii) {
    let s = '';
    for (let i = p; i < e; i++) s += String.fromCharCode(b[i]);
    return s;
  }
  return Buffer.from(b.buffer, b.byteOffset + p, e - p).toString('utf8');
}

function readAddr(b: Uint8Array, p: number, v6: boolean): string {
  return v6 ? formatIPv6(b, p) : formatIPv4(b, p);
}

/**
 * conntrackd's check of one CT attribute header (msg2ct): nta_len >= 4 and within what remains,
 * a known id, fixed-size attributes exactly their size, variable ones at most their maximum.
 * Shared by every CT attribute walker (decode, the receive path's keyed scan, the transcoder).
 */
export function ctAttrOk(len: number, id: number, remain: number): boolean {
  if (len > remain || len < 4 || id >= NTA_MAX) return false;
  const want = CT_FIXED_LEN[id];
  return want !== 0 ? len === want : len <= CT_MAX_LEN[id];
}

/**
 * Walks the attributes of one message, [start, end), with conntrackd's checks (msg2ct/msg2exp):
 * loop while more than 4 bytes remain; nta_len >= 4 and <= remaining; id < max; fixed-size
 * attributes exactly their size; variable ones at most their maximum. Calls fn for each attribute
 * and returns false at the first violation (the whole message is then malformed).
 */
function walk(b: Uint8Array, start: number, end: number, max: number, fixed: readonly number[], varMax: Readonly<Record<number, number>>,
  fn: (id: number, p: number, plen: number) => void): boolean {
  let o = start;
  let remain = end - start;
  while (remain > 4) {
    const len = (b[o] << 8) | b[o + 1];
    const id = (b[o + 2] << 8) | b[o + 3];
    if (len > remain || len < 4 || id >= max) return false;
    const want = fixed[id];
    if (want !== 0) {
      if (len !== want) return false;
    } else if (len > varMax[id]) return false;
    fn(id, o + 4, len - 4);
    const step = (len + 3) & ~3;
    o += step;
    remain -= step;
  }
  return true;
}

/** Address/port/proto fields of a tuple as they arrive, before they become a Tuple. */
interface TupleAcc {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
}

function toTuple(a: TupleAcc): Tuple {
  const t: Tuple = { src: a.src ?? '', dst: a.dst ?? '', proto: a.proto ?? 0 };
  if (a.sport !== undefined) t.sport = a.sport;
  if (a.dport !== undefined) t.dport = a.dport;
  return t;
}

/**
 * Decodes the attributes of a CT message in [start, end) into an Entry, or returns null when
 * conntrackd would reject the message (malformed payload).
 *
 * The Entry: family 2/10 from IPV4/IPV6 (0 when the message has neither: conntrackd accepts any
 * subset, so do we; missing addresses are ''), orig tuple (ports or ICMP type/code/id), reply
 * tuple = inverse of orig with SNAT/DNAT addresses and, for non-ICMP protocols, SPAT/DPAT ports
 * applied (ICMP SPAT/DPAT carry no information: conntrackd always sends 0 there), status,
 * timeout, mark, zone, master, helper, labels (converted to the kernel's little-endian word
 * layout), tcp/sctp/dccp protocol info, seq adjustment, synproxy.
 */
export function decodeCtAttrs(b: Uint8Array, start: number, end: number): Entry | null {
  let family = 0;
  let src: string | undefined;
  let dst: string | undefined;
  let proto: number | undefined;
  let sport: number | undefined;
  let dport: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  let icmpId: number | undefined;
  let status: number | undefined;
  let timeout: number | undefined;
  let mark: number | undefined;
  let zone: number | undefined;
  let helper: string | undefined;
  let labels: string | undefined;
  let tcpState: number | undefined;
  let wsO: number | undefined;
  let wsR: number | undefined;
  let sctpState: number | undefined;
  let vtagO: number | undefined;
  let vtagR: number | undefined;
  let dccpState: number | undefined;
  let dccpRole: number | undefined;
  let master: TupleAcc | undefined;
  let snat: string | undefined;
  let dnat: string | undefined;
  let spat: number | undefined;
  let dpat: number | undefined;
  let seqO: SeqAdj | undefined;
  let seqR: SeqAdj | undefined;
  let synproxy: { isn: number; its: number; tsoff: number } | undefined;

  const ok = walk(b, start, end, NTA_MAX, CT_FIXED_LEN, CT_MAX_LEN, (id, p, n) => {
    switch (id) {
      case NTA.IPV4: family = AF_INET; src = formatIPv4(b, p); dst = formatIPv4(b, p + 4); break;
      case NTA.IPV6: family = AF_INET6; src = formatIPv6(b, p); dst = formatIPv6(b, p + 16); break;
      case NTA.L4PROTO: proto = b[p]; break;
      case NTA.PORT: sport = get16be(b, p); dport = get16be(b, p + 2); break;
      case NTA.TCP_STATE: tcpState = b[p]; break;
      case NTA.STATUS: status = get32be(b, p); break;
      case NTA.TIMEOUT: timeout = get32be(b, p); break;
      case NTA.MARK: mark = get32be(b, p); break;
      case NTA.MASTER_IPV4: (master ??= {}).src = formatIPv4(b, p); master.dst = formatIPv4(b, p + 4); break;
      case NTA.MASTER_IPV6: (master ??= {}).src = formatIPv6(b, p); master.dst = formatIPv6(b, p + 16); break;
      case NTA.MASTER_L4PROTO: (master ??= {}).proto = b[p]; break;
      case NTA.MASTER_PORT: (master ??= {}).sport = get16be(b, p); master.dport = get16be(b, p + 2); break;
      case NTA.SNAT_IPV4: snat = formatIPv4(b, p); break;
      case NTA.DNAT_IPV4: dnat = formatIPv4(b, p); break;
      case NTA.SNAT_IPV6: snat = formatIPv6(b, p); break;
      case NTA.DNAT_IPV6: dnat = formatIPv6(b, p); break;
      case NTA.SPAT_PORT: spat = get16le(b, p); break;
      case NTA.DPAT_PORT: dpat = get16le(b, p); break;
      case NTA.NAT_SEQ_ADJ:
        seqO = { correctionPos: get32be(b, p), offsetBefore: get32be(b, p + 4), offsetAfter: get32be(b, p + 8) };
        seqR = { correctionPos: get32be(b, p + 12), offsetBefore: get32be(b, p + 16), offsetAfter: get32be(b, p + 20) };
        break;
      case NTA.SCTP_STATE: sctpState = b[p]; break;
      case NTA.SCTP_VTAG_ORIG: vtagO = get32be(b, p); break;
      case NTA.SCTP_VTAG_REPL: vtagR = get32be(b, p); break;
      case NTA.DCCP_STATE: dccpState = b[p]; break;
      case NTA.DCCP_ROLE: dccpRole = b[p]; break;
      case NTA.ICMP_TYPE: icmpType = b[p]; break;
      case NTA.ICMP_CODE: icmpCode = b[p]; break;
      case NTA.ICMP_ID: icmpId = get16le(b, p); break;
      case NTA.TCP_WSCALE_ORIG: wsO = b[p]; break;
      case NTA.TCP_WSCALE_REPL: wsR = b[p]; break;
      case NTA.HELPER_NAME: helper = readStr(b, p, n); break;
      case NTA.LABELS: {
        // conntrackd ignores (without rejecting the message) an empty or non-multiple-of-4 array
        if (n === 0 || (n & 3) !== 0) break;
        let h = '';
        for (let w = p; w < p + n; w += 4) {
          for (let k = 3; k >= 0; k--) h += HEX[b[w + k] >> 4] + HEX[b[w + k] & 15];
        }
        labels = h;
        break;
      }
      case NTA.SYNPROXY: synproxy = { isn: get32be(b, p + 4), its: get32be(b, p), tsoff: get32be(b, p + 8) }; break;
      case NTA.ZONE: zone = get16be(b, p); break;
      default: break;
    }
  });
  if (!ok) return null;

  const orig: Tuple = { src: src ?? '', dst: dst ?? '', proto: proto ?? 0 };
  if (sport !== undefined) orig.sport = sport;
  if (dport !== undefined) orig.dport = dport;
  if (icmpType !== undefined) orig.icmpType = icmpType;
  if (icmpCode !== undefined) orig.icmpCode = icmpCode;
  if (icmpId !== undefined) orig.icmpId = icmpId;
  const reply = invertTuple(orig);
  if (snat !== undefined) reply.dst = snat;
  if (dnat !== undefined) reply.src = dnat;
  if (!isIcmp(orig.proto)) {
    if (spat !== undefined) reply.dport = spat;
    if (dpat !== undefined) reply.sport = dpat;
  }
  const e: Entry = { family, orig, reply };
  if (master) e.master = toTuple(master);
  if (status !== undefined) e.status = status;
  if (timeout !== undefined) e.timeout = timeout;
  if (mark !== undefined) e.mark = mark;
  if (zone !== undefined) e.zone = zone;
  if (helper !== undefined) e.helper = helper;
  if (labels !== undefined) e.labels = labels;
  if (tcpState !== undefined || wsO !== undefined || wsR !== undefined) {
    e.tcp = {};
    if (tcpState !== undefined) e.tcp.state = tcpState;
    if (wsO !== undefined) e.tcp.wscaleOrig = wsO;
    if (wsR !== undefined) e.tcp.wscaleReply = wsR;
  }
  if (sctpState !== undefined || vtagO !== undefined || vtagR !== undefined) {
    e.sctp = {};
    if (sctpState !== undefined) e.sctp.state = sctpState;
    if (vtagO !== undefined) e.sctp.vtagOrig = vtagO;
    if (vtagR !== undefined) e.sctp.vtagReply = vtagR;
  }
  if (dccpState !== undefined || dccpRole !== undefined) {
    e.dccp = {};
    if (dccpState !== undefined) e.dccp.state = dccpState;
    if (dccpRole !== undefined) e.dccp.role = dccpRole;
  }
  if (seqO) e.seqAdjOrig = seqO;
  if (seqR) e.seqAdjReply = seqR;
  if (synproxy) e.synproxy = synproxy;
  return e;
}

/**
 * Decodes the attributes of an EXP message in [start, end), or returns null when conntrackd would
 * reject it. family comes from EXP_MASTER_IPV4/IPV6 (else from the expected tuple, else 0);
 * missing addresses are ''. The NAT tuple of an IPv6 expectation has no addresses on the wire.
 */
export function decodeExpAttrs(b: Uint8Array, start: number, end: number): Expect | null {
  let famMaster = 0;
  let famOther = 0;
  const master: TupleAcc = {};
  const tuple: TupleAcc = {};
  const mask: TupleAcc = {};
  let nat: TupleAcc | undefined;
  let timeout: number | undefined;
  let flags: number | undefined;
  let cls: number | undefined;
  let natDir: number | undefined;
  let helper: string | undefined;
  let fn: string | undefined;
  const pair = (t: TupleAcc, p: number, v6: boolean): void => {
    t.src = readAddr(b, p, v6);
    t.dst = readAddr(b, p + (v6 ? 16 : 4), v6);
  };
  const ports = (t: TupleAcc, p: number): void => {
    t.sport = get16be(b, p);
    t.dport = get16be(b, p + 2);
  };
  const ok = walk(b, start, end, NTA_EXP_MAX, EXP_FIXED_LEN, EXP_MAX_LEN, (id, p, n) => {
    switch (id) {
      case NTA_EXP.MASTER_IPV4: pair(master, p, false); famMaster = AF_INET; break;
      case NTA_EXP.MASTER_IPV6: pair(master, p, true); famMaster = AF_INET6; break;
      case NTA_EXP.MASTER_L4PROTO: master.proto = b[p]; break;
      case NTA_EXP.MASTER_PORT: ports(master, p); break;
      case NTA_EXP.EXPECT_IPV4: pair(tuple, p, false); famOther = AF_INET; break;
      case NTA_EXP.EXPECT_IPV6: pair(tuple, p, true); famOther = AF_INET6; break;
      case NTA_EXP.EXPECT_L4PROTO: tuple.proto = b[p]; break;
      case NTA_EXP.EXPECT_PORT: ports(tuple, p); break;
      case NTA_EXP.MASK_IPV4: pair(mask, p, false); break;
      case NTA_EXP.MASK_IPV6: pair(mask, p, true); break;
      case NTA_EXP.MASK_L4PROTO: mask.proto = b[p]; break;
      case NTA_EXP.MASK_PORT: ports(mask, p); break;
      case NTA_EXP.TIMEOUT: timeout = get32be(b, p); break;
      case NTA_EXP.FLAGS: flags = get32be(b, p); break;
      case NTA_EXP.CLASS: cls = get32be(b, p); break;
      case NTA_EXP.NAT_IPV4: pair((nat ??= {}), p, false); break;
      case NTA_EXP.NAT_PORT: ports((nat ??= {}), p); break;
      case NTA_EXP.NAT_L4PROTO: (nat ??= {}).proto = b[p]; break;
      case NTA_EXP.NAT_DIR: natDir = get32be(b, p); break;
      case NTA_EXP.HELPER_NAME: helper = readStr(b, p, n); break;
      case NTA_EXP.FN: fn = readStr(b, p, n); break;
      default: break;
    }
  });
  if (!ok) return null;
  const x: Expect = { family: famMaster || famOther, master: toTuple(master), tuple: toTuple(tuple), mask: toTuple(mask) };
  if (timeout !== undefined) x.timeout = timeout;
  if (helper !== undefined) x.helper = helper;
  if (flags !== undefined) x.flags = flags;
  if (cls !== undefined) x.class = cls;
  if (natDir !== undefined) x.natDir = natDir;
  if (nat) x.natTuple = toTuple(nat);
  if (fn !== undefined) x.fn = fn;
  return x;
}

// ------------------------------------------------------------------------------- keyed scan

const scanKeyBuf = Buffer.allocUnsafe(40);

/**
 * What scanCtKey() found in one CT message: the flow key and which attributes are present.
 * Reused for every message (no allocation but the key string).
 */
export class CtScan {
  /** Length of the binary flow key in keyBytes (conntrack/key.ts layout); 0: cannot be keyed. */
  keyLen = 0;
  /** The key's bytes (shared scratch: valid until the next scan). */
  readonly keyBytes: Buffer = scanKeyBuf;
  /** Presence bits of attribute ids 0..31. */
  maskLo = 0;
  /** Presence of id 32 (ZONE). */
  maskHi = 0;

  /** The key as a string ('' when the message cannot be keyed). */
  get key(): string {
    return this.keyLen === 0 ? '' : this.keyBytes.toString('latin1', 0, this.keyLen);
  }
}

const P_PORTS = (p: number): boolean => p === P_TCP || p === P_UDP || p === P_SCTP || p === P_DCCP;

/**
 * The receive path's replacement for decodeCtAttrs(): the same validation (returns false exactly
 * where decodeCtAttrs returns null), but instead of an Entry it yields the flow key, built from
 * the bytes as flowKey(decodeCtAttrs(...)) would build it. A message without family, addresses or
 * protocol gets key '' (conntrackd accepts any attribute subset; such an entry cannot be keyed).
 */
export function scanCtKey(b: Uint8Array, start: number, end: number, out: CtScan): boolean {
  let family = 0;
  let ip = -1;
  let proto = -1;
  let port = -1;
  let icmpType = 0;
  let icmpCode = 0;
  let icmpId = -1;
  let zone = 0;
  let lo = 0;
  let hi = 0;
  let o = start;
  let remain = end - start;
  while (remain > 4) {
    const len = (b[o] << 8) | b[o + 1];
    const id = (b[o + 2] << 8) | b[o + 3];
    if (!ctAttrOk(len, id, remain)) return false;
    const p = o + 4;
    if (id < 32) lo |= 1 << id;
    else hi = 1;
    switch (id) {
      case NTA.IPV4: family = AF_INET; ip = p; break;
      case NTA.IPV6: family = AF_INET6; ip = p; break;
      case NTA.L4PROTO: proto = b[p]; break;
      case NTA.PORT: port = p; break;
      case NTA.ICMP_TYPE: icmpType = b[p]; break;
      case NTA.ICMP_CODE: icmpCode = b[p]; break;
      case NTA.ICMP_ID: icmpId = p; break;
      case NTA.ZONE: zone = (b[p] << 8) | b[p + 1]; break;
      default: break;
    }
    const step = (len + 3) & ~3;
    o += step;
    remain -= step;
  }
  out.maskLo = lo;
  out.maskHi = hi;
  if (family === 0 || proto <= 0) {
    out.keyLen = 0;
    return true;
  }
  const k = scanKeyBuf;
  const alen = family === AF_INET6 ? 16 : 4;
  k[0] = family;
  k[1] = proto;
  k[2] = zone >> 8;
  k[3] = zone & 0xff;
  for (let i = 0; i < 2 * alen; i++) k[4 + i] = b[ip + i];
  const l4 = 4 + 2 * alen;
  if (isIcmp(proto)) {
    k[l4] = icmpType;
    k[l4 + 1] = icmpCode;
    // ICMP_ID travels little-endian (quirk Q1); the key holds it big-endian
    k[l4 + 2] = icmpId < 0 ? 0 : b[icmpId + 1];
    k[l4 + 3] = icmpId < 0 ? 0 : b[icmpId];
  } else if (P_PORTS(proto) && port >= 0) {
    k[l4] = b[port];
    k[l4 + 1] = b[port + 1];
    k[l4 + 2] = b[port + 2];
    k[l4 + 3] = b[port + 3];
  } else {
    k[l4] = k[l4 + 1] = k[l4 + 2] = k[l4 + 3] = 0;
  }
  out.keyLen = l4 + 4;
  return true;
}
