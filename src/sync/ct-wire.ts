// The sync wire CT attributes <-> FlowFields: one scan, one writer. Pure: no I/O.
//
// The scan is one walk over the attributes of a CT message with conntrackd's msg2ct checks (one
// failure rejects the whole message). scanCtWire reads them into flat fields: the original tuple,
// the reply tuple the NAT attributes imply (the inverse of the original with SNAT/DNAT addresses
// and, for other protocols than ICMP, SPAT/DPAT ports), and the rest. indexCtWire only notes
// where each attribute is: what the receive path needs to key a message (sync/wire-attrs.ts).
//
// writeCtWire writes what conntrackd's ct2msg writes for a flow, in its order:
//  - ports for TCP, UDP, SCTP and DCCP only; ICMP type, code and id only with a type;
//  - SNAT/DNAT/SPAT/DPAT are chosen by libnetfilter_conntrack's raw comparison of the 16-bit
//    layer-4 words (for ICMP: id against type<<8|code), and carry the reply *port*, which
//    libnetfilter_conntrack reports as 0 for ICMP: an ICMP entry with SRC_NAT_DONE/DST_NAT_DONE
//    therefore carries SPAT_PORT = 0 / DPAT_PORT = 0 (observed on the wire); a missing status
//    counts as both NAT_DONE bits, a missing reply tuple as the plain inverse of the original;
//  - ZONE only for a non-zero zone (the kernel never reports zone 0).
// It fails (a negative WireError) where the flow cannot be sent; an adapter over it says why.
import { isUtf8 } from 'node:buffer';
import { AF_INET, AF_INET6, IPPROTO, IPS } from '../netlink/constants.js';
import {
  AddrKind,
  TupleFields,
  copyBytes,
  hasWirePorts,
  isIcmp,
  sameBytes,
  type FlowFields,
  type SeqAdjFields,
} from '../conntrack/flow-fields.js';
import { CT_MAX_LEN, NTA, NTA_MAX, ctAttrOk } from './ct-attrs.js';

// ------------------------------------------------------------------------------- scan

const get16be = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const get16le = (b: Uint8Array, p: number): number => b[p] | (b[p + 1] << 8);
const get32be = (b: Uint8Array, p: number): number =>
  ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

/**
 * Where the attributes of a scanned message are: per id, the payload offset of its last
 * occurrence (-1: none), and the presence bits. What the receive path keys a message by.
 */
export class WireIndex {
  readonly at = new Int32Array(NTA_MAX).fill(-1);
  /** Presence bits of attribute ids 0..31. */
  seenLo = 0;
  /** Presence of id 32 (ZONE). */
  seenHi = 0;
}

/**
 * The one walk over the attributes b[start, end) of a CT message, with conntrackd's msg2ct
 * checks: loop while more than 4 bytes remain (a last attribute of exactly 4 bytes is not looked
 * at); each attribute passes ctAttrOk; one failure rejects the whole message (false). The last of
 * a repeated attribute wins; an empty or non-multiple-of-4 LABELS is ignored (an earlier one
 * stays), as conntrackd ignores it.
 *
 * With `x` it records where each attribute is (indexCtWire: the receive path keys the message
 * from that, no more); with `f` it reads them into `f` (scanCtWire). The presence bits go to both.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
function walk(b: Uint8Array, start: number, end: number, x: WireIndex | null, f: FlowFields | null): boolean {
  const at = x === null ? null : x.at;
  let t: TupleFields | null = null;
  let m: TupleFields | null = null;
  if (f !== null) {
    f.clear(b);
    t = f.orig;
    t.clear(b);
    t.present = true;
    m = f.master;
  }
  let labels = -1;
  let snat = -1;
  let snatKind = AddrKind.NONE;
  let dnat = -1;
  let dnatKind = AddrKind.NONE;
  let spat = -1;
  let dpat = -1;
  let lo = 0;
  let hi = 0;
  let o = start;
  let remain = end - start;
  let ok = true;
  while (remain > 4) {
    const len = (b[o] << 8) | b[o + 1];
    const id = (b[o + 2] << 8) | b[o + 3];
    if (!ctAttrOk(len, id, remain)) {
      ok = false;
      break;
    }
    if (id < 32) lo |= 1 << id;
    else hi = 1;
    const p = o + 4;
    const step = (len + 3) & ~3;
    o += step;
    remain -= step;
    if (id === NTA.LABELS) {
      if (len > 4 && (len & 3) === 0) labels = p;
      continue;
    }
    if (at !== null) {
      at[id] = p;
      continue;
    }
    if (f === null || t === null || m === null) continue;
    switch (id) {
      case NTA.IPV4:
        f.family = AF_INET;
        address(t, p, 4);
        break;
      case NTA.IPV6:
        f.family = AF_INET6;
        address(t, p, 16);
        break;
      case NTA.L4PROTO:
        t.proto = b[p];
        break;
      case NTA.PORT:
        t.sport = get16be(b, p);
        t.dport = get16be(b, p + 2);
        break;
      case NTA.TCP_STATE:
        f.tcp = true;
        f.tcpState = b[p];
        break;
      case NTA.STATUS:
        f.status = get32be(b, p);
        break;
      case NTA.TIMEOUT:
        f.timeout = get32be(b, p);
        break;
      case NTA.MARK:
        f.mark = get32be(b, p);
        break;
      case NTA.MASTER_IPV4:
        masterOf(m, b);
        address(m, p, 4);
        break;
      case NTA.MASTER_IPV6:
        masterOf(m, b);
        address(m, p, 16);
        break;
      case NTA.MASTER_L4PROTO:
        masterOf(m, b);
        m.proto = b[p];
        break;
      case NTA.MASTER_PORT:
        masterOf(m, b);
        m.sport = get16be(b, p);
        m.dport = get16be(b, p + 2);
        break;
      case NTA.SNAT_IPV4:
        snat = p;
        snatKind = AddrKind.V4;
        break;
      case NTA.DNAT_IPV4:
        dnat = p;
        dnatKind = AddrKind.V4;
        break;
      case NTA.SNAT_IPV6:
        snat = p;
        snatKind = AddrKind.V6;
        break;
      case NTA.DNAT_IPV6:
        dnat = p;
        dnatKind = AddrKind.V6;
        break;
      case NTA.SPAT_PORT:
        spat = get16le(b, p);
        break;
      case NTA.DPAT_PORT:
        dpat = get16le(b, p);
        break;
      case NTA.NAT_SEQ_ADJ:
        f.rare = true;
        seqAdjAt(f.seqO, b, p);
        seqAdjAt(f.seqR, b, p + 12);
        break;
      case NTA.SCTP_STATE:
        f.sctp = true;
        f.sctpState = b[p];
        break;
      case NTA.SCTP_VTAG_ORIG:
        f.sctp = true;
        f.vtagO = get32be(b, p);
        break;
      case NTA.SCTP_VTAG_REPL:
        f.sctp = true;
        f.vtagR = get32be(b, p);
        break;
      case NTA.DCCP_STATE:
        f.dccp = true;
        f.dccpState = b[p];
        break;
      case NTA.DCCP_ROLE:
        f.dccp = true;
        f.dccpRole = b[p];
        break;
      case NTA.ICMP_TYPE:
        t.icmpType = b[p];
        break;
      case NTA.ICMP_CODE:
        t.icmpCode = b[p];
        break;
      case NTA.ICMP_ID:
        t.icmpId = get16le(b, p);
        break;
      case NTA.TCP_WSCALE_ORIG:
        f.tcp = true;
        f.wsO = b[p];
        break;
      case NTA.TCP_WSCALE_REPL:
        f.tcp = true;
        f.wsR = b[p];
        break;
      case NTA.HELPER_NAME: {
        let q = p;
        while (q < p + len - 4 && b[q] !== 0) q++;
        f.helper = p;
        f.helperLen = q - p;
        break;
      }
      case NTA.SYNPROXY:
        f.rare = true;
        f.syn.present = true;
        f.syn.its = get32be(b, p);
        f.syn.isn = get32be(b, p + 4);
        f.syn.tsoff = get32be(b, p + 8);
        break;
      case NTA.ZONE:
        f.zone = get16be(b, p);
        break;
      default:
        break;
    }
  }
  if (x !== null && at !== null) {
    at[NTA.LABELS] = labels;
    // forget what the previous message had and this one has not (messages of a stream mostly
    // carry the same ids: no work then)
    for (let bits = x.seenLo & ~lo; bits !== 0; bits &= bits - 1) at[31 - Math.clz32(bits & -bits)] = -1;
    if (hi === 0) at[NTA.ZONE] = -1;
    x.seenLo = lo;
    x.seenHi = hi;
  }
  if (f === null || t === null) return ok;
  if (!ok) {
    f.clear(b);
    return false;
  }
  f.seenLo = lo;
  f.seenHi = hi;
  if (labels >= 0) {
    f.labels = labels;
    f.labelsLen = ((b[labels - 4] << 8) | b[labels - 3]) - 4;
    f.labelsWire = true;
  }
  // the reply tuple: the inverse of the original, then the NAT attributes
  const r = f.reply;
  r.invertOf(t);
  if (dnat >= 0) {
    r.src = dnat;
    r.srcKind = dnatKind;
  }
  if (snat >= 0) {
    r.dst = snat;
    r.dstKind = snatKind;
  }
  if (!isIcmp(t.proto)) {
    if (dpat >= 0) r.sport = dpat;
    if (spat >= 0) r.dport = spat;
  }
  return true;
}

/** A tuple's address pair from an IPV4-style attribute at p (`n` bytes each). */
function address(t: TupleFields, p: number, n: number): void {
  t.src = p;
  t.dst = p + n;
  t.srcKind = t.dstKind = n === 4 ? AddrKind.V4 : AddrKind.V6;
}

/** The master tuple is there: cleared on its first attribute. */
function masterOf(m: TupleFields, b: Uint8Array): void {
  if (m.present) return;
  m.clear(b);
  m.present = true;
}

/**
 * Indexes the attributes b[start, end) of a CT message into `x` (see walk): where each one is,
 * and the presence bits. False when conntrackd would reject the message.
 */
export function indexCtWire(b: Uint8Array, start: number, end: number, x: WireIndex): boolean {
  return walk(b, start, end, x, null);
}

/**
 * Scans the attributes b[start, end) of a CT message into `f` (see walk): family (2 or 10 from
 * IPV4/IPV6, 0 without either), the original tuple, the reply tuple the NAT attributes imply (the
 * inverse of the original with SNAT/DNAT addresses and, for other protocols than ICMP, SPAT/DPAT
 * ports), and the rest. False when conntrackd would reject the message (`f` is then empty).
 */
export function scanCtWire(b: Uint8Array, start: number, end: number, f: FlowFields): boolean {
  return walk(b, start, end, null, f);
}

// ------------------------------------------------------------------------------- writer

/** Why writeCtWire failed. */
export const enum WireError {
  /** family is not AF_INET / AF_INET6. */
  FAMILY = -1,
  /** An original address is missing or not of the family. */
  ORIG_ADDR = -2,
  /** A master address is not of the family. */
  MASTER_ADDR = -3,
  /** SNAT: the reply destination is missing or not of the family. */
  REPLY_DST = -4,
  /** DNAT: the reply source is missing or not of the family. */
  REPLY_SRC = -5,
  /** The helper name is longer than a peer accepts (and the option is not to leave it out). */
  HELPER_LONG = -6,
  /** The helper name bytes are not UTF-8 (only from a kernel message: what the general path decodes differs). */
  HELPER_UTF8 = -7,
  /** Entry.labels is not hex. */
  LABELS_HEX = -8,
  /** More label bytes than a peer accepts. */
  LABELS_LONG = -9,
}

/** Option bits of writeCtWire. */
export const enum WireOpt {
  /** The sender has CommitTimeout: TIMEOUT is left out (quirk Q4). */
  COMMIT_TIMEOUT = 1,
  /** The sender has TCPWindowTracking: TCP_WSCALE_ORIG/REPL follow TCP_STATE. */
  WINDOW_TRACKING = 2,
  /** A too long helper name is left out rather than failing the flow. */
  OMIT_LONG_HELPER = 4,
}

/** Largest output of writeCtWire: IPv6 with every attribute and 1024 bytes of labels. */
export const MAX_CT_ATTRS_LEN = 1304;

/**
 * Where the last failing writeCtWire stopped: the end of the attribute it could not write, or
 * where that attribute would start when the failure comes before it (a name, the labels).
 */
export let wireErrorAt = 0;

function fail(err: WireError, o: number): number {
  wireErrorAt = o;
  return err;
}

function hdr(b: Uint8Array, o: number, id: number, plen: number): void {
  const len = 4 + plen;
  b[o] = len >> 8;
  b[o + 1] = len & 0xff;
  b[o + 2] = 0;
  b[o + 3] = id;
}

function u8Attr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 1);
  b[o + 4] = v;
  b[o + 5] = b[o + 6] = b[o + 7] = 0;
  return o + 8;
}

/** Quirk Q1: little-endian. */
function u16leAttr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 2);
  b[o + 4] = v & 0xff;
  b[o + 5] = (v >>> 8) & 0xff;
  b[o + 6] = b[o + 7] = 0;
  return o + 8;
}

function u16beAttr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 2);
  b[o + 4] = (v >>> 8) & 0xff;
  b[o + 5] = v & 0xff;
  b[o + 6] = b[o + 7] = 0;
  return o + 8;
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

/** One direction's half of NTA_NAT_SEQ_ADJ: three big-endian u32 at p. */
function putSeqAdj(b: Uint8Array, p: number, s: SeqAdjFields): void {
  put32(b, p, s.correctionPos);
  put32(b, p + 4, s.offsetBefore);
  put32(b, p + 8, s.offsetAfter);
}

function seqAdjAt(s: SeqAdjFields, b: Uint8Array, p: number): void {
  s.present = true;
  s.correctionPos = get32be(b, p);
  s.offsetBefore = get32be(b, p + 4);
  s.offsetAfter = get32be(b, p + 8);
}

function u32Attr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 4);
  put32(b, o + 4, v);
  return o + 8;
}

/** NTA_*PORT: sport + dport, both BE16, 0 for an absent one. */
function portsAttr(b: Uint8Array, o: number, id: number, t: TupleFields): number {
  hdr(b, o, id, 4);
  const s = t.sport < 0 ? 0 : t.sport;
  const d = t.dport < 0 ? 0 : t.dport;
  b[o + 4] = (s >> 8) & 0xff;
  b[o + 5] = s & 0xff;
  b[o + 6] = (d >> 8) & 0xff;
  b[o + 7] = d & 0xff;
  return o + 8;
}

/** NTA_*IPV4 / *IPV6 pair: src + dst. */
function addrPairAttr(b: Uint8Array, o: number, id: number, t: TupleFields, al: number): number {
  hdr(b, o, id, 2 * al);
  copyBytes(t.buf, t.src, b, o + 4, al);
  copyBytes(t.buf, t.dst, b, o + 4 + al, al);
  return o + 4 + 2 * al;
}

/** The reply tuple when the flow has none: the inverse of the original. */
const inverse = new TupleFields();

/** libnetfilter_conntrack's raw 16-bit "l4src" word of a tuple: port, or ICMP id. */
function rawL4Src(t: TupleFields, icmp: boolean): number {
  const v = icmp ? t.icmpId : t.sport;
  return v < 0 ? 0 : v;
}

/** libnetfilter_conntrack's raw 16-bit "l4dst" word: port, or ICMP type and code (type first). */
function rawL4Dst(t: TupleFields, icmp: boolean): number {
  if (!icmp) return t.dport < 0 ? 0 : t.dport;
  return ((t.icmpType < 0 ? 0 : t.icmpType & 0xff) << 8) | (t.icmpCode < 0 ? 0 : t.icmpCode & 0xff);
}

const LABELS_MAX = CT_MAX_LEN[NTA.LABELS] - 4;
const HELPER_MAX = CT_MAX_LEN[NTA.HELPER_NAME];

/**
 * Writes the attributes of a CT message for `f` at b[o] (opt: WireOpt bits); returns the end
 * offset, or a negative WireError (then wireErrorAt says how far it got). The caller ensures
 * MAX_CT_ATTRS_LEN bytes of room.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function writeCtWire(f: FlowFields, opt: number, b: Uint8Array, o: number): number {
  const fam = f.family;
  if (fam !== AF_INET && fam !== AF_INET6) return fail(WireError.FAMILY, o);
  const v6 = fam === AF_INET6;
  const ak = v6 ? AddrKind.V6 : AddrKind.V4;
  const al = v6 ? 16 : 4;
  const orig = f.orig;
  if (orig.srcKind !== ak || orig.dstKind !== ak) return fail(WireError.ORIG_ADDR, o + 4 + 2 * al);
  o = addrPairAttr(b, o, v6 ? NTA.IPV6 : NTA.IPV4, orig, al);
  const status = f.status;
  o = u32Attr(b, o, NTA.STATUS, status < 0 ? 0 : status);
  const proto = orig.proto;
  o = u8Attr(b, o, NTA.L4PROTO, proto);
  const icmp = isIcmp(proto);
  if (hasWirePorts(proto)) o = portsAttr(b, o, NTA.PORT, orig);
  if (proto === IPPROTO.TCP) {
    if (f.tcpState >= 0) {
      o = u8Attr(b, o, NTA.TCP_STATE, f.tcpState);
      if (opt & WireOpt.WINDOW_TRACKING) {
        o = u8Attr(b, o, NTA.TCP_WSCALE_ORIG, f.wsO < 0 ? 0 : f.wsO);
        o = u8Attr(b, o, NTA.TCP_WSCALE_REPL, f.wsR < 0 ? 0 : f.wsR);
      }
    }
  } else if (proto === IPPROTO.SCTP) {
    if (f.sctpState >= 0) {
      o = u8Attr(b, o, NTA.SCTP_STATE, f.sctpState);
      o = u32Attr(b, o, NTA.SCTP_VTAG_ORIG, f.vtagO < 0 ? 0 : f.vtagO);
      o = u32Attr(b, o, NTA.SCTP_VTAG_REPL, f.vtagR < 0 ? 0 : f.vtagR);
    }
  } else if (proto === IPPROTO.DCCP) {
    if (f.dccpState >= 0) {
      o = u8Attr(b, o, NTA.DCCP_STATE, f.dccpState);
      o = u8Attr(b, o, NTA.DCCP_ROLE, f.dccpRole < 0 ? 0 : f.dccpRole);
    }
  } else if (icmp) {
    if (orig.icmpType >= 0) {
      o = u8Attr(b, o, NTA.ICMP_TYPE, orig.icmpType);
      o = u8Attr(b, o, NTA.ICMP_CODE, orig.icmpCode < 0 ? 0 : orig.icmpCode);
      o = u16leAttr(b, o, NTA.ICMP_ID, orig.icmpId < 0 ? 0 : orig.icmpId);
    }
  }
  if (!(opt & WireOpt.COMMIT_TIMEOUT) && f.timeout >= 0) o = u32Attr(b, o, NTA.TIMEOUT, f.timeout);
  if (f.mark >= 0) o = u32Attr(b, o, NTA.MARK, f.mark);

  // the master: only with both addresses (libnetfilter_conntrack's ATTR_MASTER_IPV4_SRC/DST)
  const m = f.master;
  if (m.present && m.src >= 0 && m.dst >= 0) {
    if (m.srcKind !== ak || m.dstKind !== ak) return fail(WireError.MASTER_ADDR, o + 4 + 2 * al);
    o = addrPairAttr(b, o, v6 ? NTA.MASTER_IPV6 : NTA.MASTER_IPV4, m, al);
    o = u8Attr(b, o, NTA.MASTER_L4PROTO, m.proto);
    if (m.sport >= 0 && m.dport >= 0) o = portsAttr(b, o, NTA.MASTER_PORT, m);
  }

  // NAT, detected the way libnetfilter_conntrack 1.0.9 does (objopt.c)
  const srcDone = status < 0 || (status & IPS.SRC_NAT_DONE) !== 0;
  const dstDone = status < 0 || (status & IPS.DST_NAT_DONE) !== 0;
  if (srcDone || dstDone) {
    let rt = f.reply;
    if (!rt.present) {
      rt = inverse;
      rt.invertOf(orig);
    }
    const rb = rt.buf;
    const ob = orig.buf;
    // an absent or unusable address is never the same as the original's
    if (srcDone && !(rt.dstKind === ak && sameBytes(rb, rt.dst, ob, orig.src, al))) {
      if (rt.dstKind !== ak) return fail(WireError.REPLY_DST, o + 4 + al);
      hdr(b, o, v6 ? NTA.SNAT_IPV6 : NTA.SNAT_IPV4, al);
      copyBytes(rb, rt.dst, b, o + 4, al);
      o += 4 + al;
    }
    if (dstDone && !(rt.srcKind === ak && sameBytes(rb, rt.src, ob, orig.dst, al))) {
      if (rt.srcKind !== ak) return fail(WireError.REPLY_SRC, o + 4 + al);
      hdr(b, o, v6 ? NTA.DNAT_IPV6 : NTA.DNAT_IPV4, al);
      copyBytes(rb, rt.src, b, o + 4, al);
      o += 4 + al;
    }
    // the value sent is the reply *port*: 0 for ICMP
    if (srcDone && rawL4Dst(rt, icmp) !== rawL4Src(orig, icmp))
      o = u16leAttr(b, o, NTA.SPAT_PORT, icmp || rt.dport < 0 ? 0 : rt.dport);
    if (dstDone && rawL4Src(rt, icmp) !== rawL4Dst(orig, icmp))
      o = u16leAttr(b, o, NTA.DPAT_PORT, icmp || rt.sport < 0 ? 0 : rt.sport);
  }

  if (f.seqO.present && f.seqR.present) {
    hdr(b, o, NTA.NAT_SEQ_ADJ, 24);
    putSeqAdj(b, o + 4, f.seqO);
    putSeqAdj(b, o + 16, f.seqR);
    o += 28;
  }
  if (f.helper >= 0) {
    const hb = f.helperBuf;
    const hp = f.helper;
    const n = f.helperLen;
    let ascii = true;
    for (let i = 0; i < n; i++) if (hb[hp + i] >= 0x80) ascii = false;
    if (!ascii && !isUtf8(hb.subarray(hp, hp + n))) return fail(WireError.HELPER_UTF8, o);
    if (4 + n + 1 > HELPER_MAX) {
      if (!(opt & WireOpt.OMIT_LONG_HELPER)) return fail(WireError.HELPER_LONG, o);
    } else {
      hdr(b, o, NTA.HELPER_NAME, n + 1);
      copyBytes(hb, hp, b, o + 4, n);
      const end = o + ((4 + n + 1 + 3) & ~3);
      for (let i = o + 4 + n; i < end; i++) b[i] = 0;
      o = end;
    }
  }
  if (f.labels >= 0) {
    if (f.labelsBad) return fail(WireError.LABELS_HEX, o);
    o = labelsAttr(f, b, o);
    if (o < 0) return o;
  }
  if (f.syn.present) {
    hdr(b, o, NTA.SYNPROXY, 12);
    put32(b, o + 4, f.syn.its);
    put32(b, o + 8, f.syn.isn);
    put32(b, o + 12, f.syn.tsoff);
    o += 16;
  }
  if (f.zone > 0) o = u16beAttr(b, o, NTA.ZONE, f.zone);
  return o;
}

/**
 * NTA_LABELS: the bitmap as big-endian u32 words (the kernel's are little-endian; a last partial
 * word is zero-padded); nothing when no bit is set.
 */
function labelsAttr(f: FlowFields, b: Uint8Array, o: number): number {
  const lb = f.labelsBuf;
  const lp = f.labels;
  const n = f.labelsLen;
  let any = false;
  for (let i = 0; i < n && !any; i++) any = lb[lp + i] !== 0;
  if (!any) return o;
  if (f.labelsWire) {
    // as stored: decoding and encoding again gives the same words
    hdr(b, o, NTA.LABELS, n);
    copyBytes(lb, lp, b, o + 4, n);
    return o + 4 + n;
  }
  const words = (n + 3) >> 2;
  if (words * 4 > LABELS_MAX) return fail(WireError.LABELS_LONG, o);
  hdr(b, o, NTA.LABELS, words * 4);
  const q = o + 4;
  for (let w = 0; w < words; w++) {
    for (let k = 0; k < 4; k++) {
      const i = 4 * w + k; // little-endian byte k of word w -> wire byte 3 - k
      b[q + 4 * w + 3 - k] = i < n ? lb[lp + i] : 0;
    }
  }
  return q + words * 4;
}
