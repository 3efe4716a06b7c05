// The one ctnetlink conntrack message decoder: message -> FlowFields, with the checks that make a
// message malformed (NetlinkDecodeError naming the attribute and the byte offset). A repeated
// attribute replaces what an earlier one gave: a tuple, a protocol-info nest, a counters, NAT,
// seq-adj or synproxy nest as a whole, anything else field by field. Attributes it does not know
// are kept (FlowFields.unknown) with where they were found. Names and required lengths come from
// the table (ct-attrs.ts).
//
// The attribute walks declare their length with the loop (`len = 0`, read in the body) so that it
// is a small integer from the start; no-useless-assignment counts that 0 as unused.
/* eslint-disable no-useless-assignment */
import { NFGENMSG_LEN, NLA, NLMSG_HDRLEN } from './constants.js';
import { NetlinkDecodeError } from './attr.js';
import type { FlowFields, NatFields, RawAttrList, SeqAdjFields, TupleFields } from '../conntrack/flow-fields.js';
import { AddrKind } from '../conntrack/flow-fields.js';
import {
  AT_IP,
  AT_PROTO,
  COUNTERS_BYTES,
  COUNTERS_PACKETS,
  CT_ID,
  CT_MARK,
  CT_SECMARK,
  CT_STATUS,
  CT_TIMEOUT,
  CT_USE,
  CT_ZONE,
  DCCP_HANDSHAKE_SEQ,
  DCCP_ROLE,
  DCCP_STATE,
  IP_V4_DST,
  IP_V4_SRC,
  IP_V6_DST,
  IP_V6_SRC,
  NAT_V4_MAXIP,
  NAT_V4_MINIP,
  NAT_V6_MAXIP,
  NAT_V6_MINIP,
  PROTO_DST_PORT,
  PROTO_ICMP_CODE,
  PROTO_ICMP_ID,
  PROTO_ICMP_TYPE,
  PROTO_NUM,
  PROTO_SRC_PORT,
  SCTP_STATE,
  SCTP_VTAG_ORIGINAL,
  SCTP_VTAG_REPLY,
  TCP_FLAGS_ORIGINAL,
  TCP_FLAGS_REPLY,
  TCP_STATE,
  TCP_WSCALE_ORIGINAL,
  TCP_WSCALE_REPLY,
  TUPLE_ZONE,
  UnknownAt,
  type CtAttr,
} from './ct-attrs.js';
import {
  CTA,
  CTA_COUNTERS,
  CTA_HELP,
  CTA_IP,
  CTA_NAT,
  CTA_PROTO,
  CTA_PROTOINFO,
  CTA_PROTOINFO_DCCP,
  CTA_PROTOINFO_SCTP,
  CTA_PROTOINFO_TCP,
  CTA_PROTONAT,
  CTA_SECCTX,
  CTA_SEQADJ,
  CTA_SYNPROXY,
  CTA_TIMESTAMP,
  CTA_TUPLE,
} from './constants.js';

// Every nest is walked alike, with locals only (the scan is on every kernel event's path):
//   for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
//     len = payloadLen(b, off, end);
//     const p = off + 4;
// V8 inlines both helpers.

/** Payload length of the attribute at `off`, its length checked against `end`. */
function payloadLen(b: Uint8Array, off: number, end: number): number {
  const len = b[off] | (b[off + 1] << 8);
  if (len < 4 || off + len > end) throw new NetlinkDecodeError(`bad attribute length ${len}`, off);
  return len - 4;
}

/** How far the attribute after one of `len` payload bytes starts (payloads are padded to 4). */
const nextAttr = (len: number): number => (len + 7) & ~3;

const rawType = (b: Uint8Array, off: number): number => b[off + 2] | (b[off + 3] << 8);
const get16 = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const get32 = (b: Uint8Array, p: number): number =>
  ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

/**
 * `a` came with `len` bytes, fewer than it needs. (The checks before the calls write the lengths
 * out: a length read from the table there costs the scan a sixth of its time; the table test
 * holds the two to each other.)
 */
function short(len: number, a: CtAttr, p: number): never {
  throw new NetlinkDecodeError(`${a.name}: ${len} bytes, expected ${a.min}`, p);
}

/** The end of the NUL-terminated string in b[p, p + n) (or p + n). */
function strzEnd(b: Uint8Array, p: number, n: number): number {
  let e = p;
  while (e < p + n && b[e] !== 0) e++;
  return e;
}

/**
 * A CTA_TUPLE_* nest b[start, end) into `t` (cleared first: a tuple replaces an earlier one).
 * Unknown attributes go to `u`, at `at` (an UnknownAt).
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function scanTuple(b: Uint8Array, start: number, end: number, t: TupleFields, u: RawAttrList, at: number): void {
  t.clear(b);
  t.present = true;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    const p = off + 4;
    const type = rawType(b, off) & NLA.TYPE_MASK;
    if (type === CTA_TUPLE.IP) {
      for (let io = p, isz = 0; io + 4 <= p + len; io += nextAttr(isz)) {
        isz = payloadLen(b, io, p + len);
        const ip = io + 4;
        switch (rawType(b, io) & NLA.TYPE_MASK) {
          case CTA_IP.V4_SRC:
            if (isz < 4) short(isz, IP_V4_SRC, ip);
            t.src = ip;
            t.srcKind = AddrKind.V4;
            break;
          case CTA_IP.V4_DST:
            if (isz < 4) short(isz, IP_V4_DST, ip);
            t.dst = ip;
            t.dstKind = AddrKind.V4;
            break;
          case CTA_IP.V6_SRC:
            if (isz < 16) short(isz, IP_V6_SRC, ip);
            t.src = ip;
            t.srcKind = AddrKind.V6;
            break;
          case CTA_IP.V6_DST:
            if (isz < 16) short(isz, IP_V6_DST, ip);
            t.dst = ip;
            t.dstKind = AddrKind.V6;
            break;
          default:
            u.add(rawType(b, io), ip, isz, (at << 2) | AT_IP);
        }
      }
    } else if (type === CTA_TUPLE.PROTO) {
      for (let po = p, psz = 0; po + 4 <= p + len; po += nextAttr(psz)) {
        psz = payloadLen(b, po, p + len);
        const pp = po + 4;
        switch (rawType(b, po) & NLA.TYPE_MASK) {
          case CTA_PROTO.NUM:
            if (psz < 1) short(psz, PROTO_NUM, pp);
            t.proto = b[pp];
            break;
          case CTA_PROTO.SRC_PORT:
            if (psz < 2) short(psz, PROTO_SRC_PORT, pp);
            t.sport = get16(b, pp);
            break;
          case CTA_PROTO.DST_PORT:
            if (psz < 2) short(psz, PROTO_DST_PORT, pp);
            t.dport = get16(b, pp);
            break;
          case CTA_PROTO.ICMP_ID:
          case CTA_PROTO.ICMPV6_ID:
            if (psz < 2) short(psz, PROTO_ICMP_ID, pp);
            t.icmpId = get16(b, pp);
            break;
          case CTA_PROTO.ICMP_TYPE:
          case CTA_PROTO.ICMPV6_TYPE:
            if (psz < 1) short(psz, PROTO_ICMP_TYPE, pp);
            t.icmpType = b[pp];
            break;
          case CTA_PROTO.ICMP_CODE:
          case CTA_PROTO.ICMPV6_CODE:
            if (psz < 1) short(psz, PROTO_ICMP_CODE, pp);
            t.icmpCode = b[pp];
            break;
          default:
            u.add(rawType(b, po), pp, psz, (at << 2) | AT_PROTO);
        }
      }
    } else if (type === CTA_TUPLE.ZONE) {
      if (len < 2) short(len, TUPLE_ZONE, p);
      t.zone = get16(b, p);
    } else u.add(rawType(b, off), p, len, at << 2);
  }
}

/**
 * The protocol-info nests: each replaces the earlier one of its protocol as a whole (its fields
 * absent again first). One loop for the three: the case labels are nest type << 4 | attribute.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
function scanProtoinfo(b: Uint8Array, start: number, end: number, f: FlowFields): void {
  for (let po = start, plen = 0; po + 4 <= end; po += nextAttr(plen)) {
    plen = payloadLen(b, po, end);
    const first = po + 4;
    const nend = first + plen;
    const pt = rawType(b, po) & NLA.TYPE_MASK;
    let at: number;
    if (pt === CTA_PROTOINFO.TCP) {
      f.tcp = true;
      f.tcpState = f.wsO = f.wsR = f.flagsO = f.maskO = f.flagsR = f.maskR = -1;
      at = UnknownAt.PROTOINFO_TCP;
    } else if (pt === CTA_PROTOINFO.SCTP) {
      f.sctp = true;
      f.sctpState = f.vtagO = f.vtagR = -1;
      at = UnknownAt.PROTOINFO_SCTP;
    } else if (pt === CTA_PROTOINFO.DCCP) {
      f.dccp = true;
      f.dccpState = f.dccpRole = f.dccpSeq = -1;
      at = UnknownAt.PROTOINFO_DCCP;
    } else {
      f.unknown.add(rawType(b, po), first, plen, UnknownAt.PROTOINFO << 2);
      continue;
    }
    for (let off = first, len = 0; off + 4 <= nend; off += nextAttr(len)) {
      len = payloadLen(b, off, nend);
      const p = off + 4;
      switch ((pt << 4) | (rawType(b, off) & NLA.TYPE_MASK)) {
        case (CTA_PROTOINFO.TCP << 4) | CTA_PROTOINFO_TCP.STATE:
          if (len < 1) short(len, TCP_STATE, p);
          f.tcpState = b[p];
          break;
        case (CTA_PROTOINFO.TCP << 4) | CTA_PROTOINFO_TCP.WSCALE_ORIGINAL:
          if (len < 1) short(len, TCP_WSCALE_ORIGINAL, p);
          f.wsO = b[p];
          break;
        case (CTA_PROTOINFO.TCP << 4) | CTA_PROTOINFO_TCP.WSCALE_REPLY:
          if (len < 1) short(len, TCP_WSCALE_REPLY, p);
          f.wsR = b[p];
          break;
        // the kernel dumps mask 0: only a real one is kept
        case (CTA_PROTOINFO.TCP << 4) | CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
          if (len < 2) short(len, TCP_FLAGS_ORIGINAL, p);
          f.flagsO = b[p];
          if (b[p + 1]) f.maskO = b[p + 1];
          break;
        case (CTA_PROTOINFO.TCP << 4) | CTA_PROTOINFO_TCP.FLAGS_REPLY:
          if (len < 2) short(len, TCP_FLAGS_REPLY, p);
          f.flagsR = b[p];
          if (b[p + 1]) f.maskR = b[p + 1];
          break;
        case (CTA_PROTOINFO.SCTP << 4) | CTA_PROTOINFO_SCTP.STATE:
          if (len < 1) short(len, SCTP_STATE, p);
          f.sctpState = b[p];
          break;
        case (CTA_PROTOINFO.SCTP << 4) | CTA_PROTOINFO_SCTP.VTAG_ORIGINAL:
          if (len < 4) short(len, SCTP_VTAG_ORIGINAL, p);
          f.vtagO = get32(b, p);
          break;
        case (CTA_PROTOINFO.SCTP << 4) | CTA_PROTOINFO_SCTP.VTAG_REPLY:
          if (len < 4) short(len, SCTP_VTAG_REPLY, p);
          f.vtagR = get32(b, p);
          break;
        case (CTA_PROTOINFO.DCCP << 4) | CTA_PROTOINFO_DCCP.STATE:
          if (len < 1) short(len, DCCP_STATE, p);
          f.dccpState = b[p];
          break;
        case (CTA_PROTOINFO.DCCP << 4) | CTA_PROTOINFO_DCCP.ROLE:
          if (len < 1) short(len, DCCP_ROLE, p);
          f.dccpRole = b[p];
          break;
        case (CTA_PROTOINFO.DCCP << 4) | CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ:
          if (len < 8) short(len, DCCP_HANDSHAKE_SEQ, p);
          f.dccpSeq = p;
          f.rare = true;
          break;
        default:
          f.unknown.add(rawType(b, off), p, len, at << 2);
      }
    }
  }
}

/** A u64 counter, or a 32-bit one when it has 4 to 7 bytes. */
function counter(b: Uint8Array, p: number, len: number): number {
  return len >= 8 ? get32(b, p) * 0x100000000 + get32(b, p + 4) : get32(b, p);
}

function scanCounters(b: Uint8Array, start: number, end: number, f: FlowFields, orig: boolean): void {
  let packets = 0;
  let bytes = 0;
  const at = orig ? UnknownAt.COUNTERS_ORIG : UnknownAt.COUNTERS_REPLY;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    const p = off + 4;
    switch (rawType(b, off) & NLA.TYPE_MASK) {
      case CTA_COUNTERS.PACKETS:
        if (len < 4) short(len, COUNTERS_PACKETS, p);
        packets = counter(b, p, len);
        break;
      case CTA_COUNTERS.BYTES:
        if (len < 4) short(len, COUNTERS_BYTES, p);
        bytes = counter(b, p, len);
        break;
      default:
        f.unknown.add(rawType(b, off), p, len, at << 2);
    }
  }
  f.rare = true;
  if (orig) {
    f.countersO = true;
    f.packetsO = packets;
    f.bytesO = bytes;
  } else {
    f.countersR = true;
    f.packetsR = packets;
    f.bytesR = bytes;
  }
}

/**
 * Seq-adj and synproxy nests: three u32 numbered 1, 2, 3 into words[0..2] (0 when absent); every
 * attribute, known or not, must carry at least 4 bytes.
 */
function scanWords(
  b: Uint8Array,
  start: number,
  end: number,
  f: FlowFields,
  at: number,
  words: Uint32Array,
  what: string,
): void {
  words[0] = words[1] = words[2] = 0;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    if (len < 4) throw new NetlinkDecodeError(`short ${what} attribute`, off + 4);
    const t = rawType(b, off) & NLA.TYPE_MASK;
    if (t >= 1 && t <= 3) words[t - 1] = get32(b, off + 4);
    else f.unknown.add(rawType(b, off), off + 4, len, at << 2);
  }
}

const words = new Uint32Array(3);

function scanSeqAdj(b: Uint8Array, start: number, end: number, f: FlowFields, at: number, s: SeqAdjFields): void {
  scanWords(b, start, end, f, at, words, 'seq-adj');
  f.rare = true;
  s.present = true;
  s.correctionPos = words[CTA_SEQADJ.CORRECTION_POS - 1];
  s.offsetBefore = words[CTA_SEQADJ.OFFSET_BEFORE - 1];
  s.offsetAfter = words[CTA_SEQADJ.OFFSET_AFTER - 1];
}

function scanNat(b: Uint8Array, start: number, end: number, n: NatFields, u: RawAttrList, at: number): void {
  n.clear();
  n.present = true;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    const p = off + 4;
    switch (rawType(b, off) & NLA.TYPE_MASK) {
      case CTA_NAT.V4_MINIP:
        if (len < 4) short(len, NAT_V4_MINIP, p);
        n.minIp = p;
        n.minKind = AddrKind.V4;
        break;
      case CTA_NAT.V4_MAXIP:
        if (len < 4) short(len, NAT_V4_MAXIP, p);
        n.maxIp = p;
        n.maxKind = AddrKind.V4;
        break;
      case CTA_NAT.V6_MINIP:
        if (len < 16) short(len, NAT_V6_MINIP, p);
        n.minIp = p;
        n.minKind = AddrKind.V6;
        break;
      case CTA_NAT.V6_MAXIP:
        if (len < 16) short(len, NAT_V6_MAXIP, p);
        n.maxIp = p;
        n.maxKind = AddrKind.V6;
        break;
      case CTA_NAT.PROTO:
        for (let po = p, psz = 0; po + 4 <= p + len; po += nextAttr(psz)) {
          psz = payloadLen(b, po, p + len);
          const pt = rawType(b, po) & NLA.TYPE_MASK;
          // a short port is kept as it is, not an error
          if (pt === CTA_PROTONAT.PORT_MIN && psz >= 2) n.minPort = get16(b, po + 4);
          else if (pt === CTA_PROTONAT.PORT_MAX && psz >= 2) n.maxPort = get16(b, po + 4);
          else u.add(rawType(b, po), po + 4, psz, (at << 2) | AT_PROTO);
        }
        break;
      default:
        u.add(rawType(b, off), p, len, at << 2);
    }
  }
}

/**
 * CTA_HELP / CTA_SECCTX: the last name in it into out[0] (its offset) and out[1] (its length up
 * to the NUL); out[0] = -1 when it has none.
 */
function scanName(
  b: Uint8Array,
  start: number,
  end: number,
  f: FlowFields,
  nameType: number,
  at: number,
  out: Int32Array,
): void {
  out[0] = -1;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    const p = off + 4;
    if ((rawType(b, off) & NLA.TYPE_MASK) === nameType) {
      out[0] = p;
      out[1] = strzEnd(b, p, len) - p;
    } else f.unknown.add(rawType(b, off), p, len, at << 2);
  }
}

const name = new Int32Array(2);

function scanTimestamp(b: Uint8Array, start: number, end: number, f: FlowFields): void {
  f.rare = true;
  for (let off = start, len = 0; off + 4 <= end; off += nextAttr(len)) {
    len = payloadLen(b, off, end);
    const t = rawType(b, off) & NLA.TYPE_MASK;
    if (t === CTA_TIMESTAMP.START && len === 8) f.tsStart = off + 4;
    else if (t === CTA_TIMESTAMP.STOP && len === 8) f.tsStop = off + 4;
    else f.unknown.add(rawType(b, off), off + 4, len, UnknownAt.TIMESTAMP << 2);
  }
}

/**
 * The attributes of the message itself that kernel events seldom carry (out of scanConntrack:
 * its switch stays small), and the unknown ones.
 */
function scanRare(b: Uint8Array, p: number, aend: number, raw: number, f: FlowFields): void {
  const alen = aend - p;
  switch (raw & NLA.TYPE_MASK) {
    case CTA.SECMARK:
      if (alen < 4) short(alen, CT_SECMARK, p);
      f.secmark = get32(b, p);
      f.rare = true;
      break;
    case CTA.SECCTX:
      scanName(b, p, aend, f, CTA_SECCTX.NAME, UnknownAt.SECCTX, name);
      if (name[0] >= 0) {
        f.rare = true;
        f.secctx = name[0];
        f.secctxLen = name[1];
      }
      break;
    case CTA.COUNTERS_ORIG:
      scanCounters(b, p, aend, f, true);
      break;
    case CTA.COUNTERS_REPLY:
      scanCounters(b, p, aend, f, false);
      break;
    case CTA.TIMESTAMP:
      scanTimestamp(b, p, aend, f);
      break;
    case CTA.LABELS_MASK:
      f.labelsMask = p;
      f.labelsMaskLen = alen;
      f.rare = true;
      break;
    case CTA.SEQ_ADJ_ORIG:
      scanSeqAdj(b, p, aend, f, UnknownAt.SEQADJ_ORIG, f.seqO);
      break;
    case CTA.SEQ_ADJ_REPLY:
      scanSeqAdj(b, p, aend, f, UnknownAt.SEQADJ_REPLY, f.seqR);
      break;
    case CTA.NAT_SRC:
      f.rare = true;
      scanNat(b, p, aend, f.natSrc, f.unknown, UnknownAt.NAT_SRC);
      break;
    case CTA.NAT_DST:
      f.rare = true;
      scanNat(b, p, aend, f.natDst, f.unknown, UnknownAt.NAT_DST);
      break;
    case CTA.SYNPROXY:
      scanWords(b, p, aend, f, UnknownAt.SYNPROXY, words, 'synproxy');
      f.rare = true;
      f.syn.present = true;
      f.syn.isn = words[CTA_SYNPROXY.ISN - 1];
      f.syn.its = words[CTA_SYNPROXY.ITS - 1];
      f.syn.tsoff = words[CTA_SYNPROXY.TSOFF - 1];
      break;
    default:
      f.unknown.add(raw, p, alen, UnknownAt.TOP);
  }
}

/**
 * Scans a conntrack message into `f` (cleared first). `off`/`len` delimit the whole netlink
 * message (header included). Throws NetlinkDecodeError naming the attribute and the byte offset
 * when the message is malformed.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function scanConntrack(b: Uint8Array, off: number, len: number, f: FlowFields): void {
  const end = off + len;
  if (len < NLMSG_HDRLEN + NFGENMSG_LEN || end > b.length)
    throw new NetlinkDecodeError('truncated conntrack message', off);
  f.clear(b);
  f.family = b[off + NLMSG_HDRLEN];
  let orig = false;
  for (let ao = off + NLMSG_HDRLEN + NFGENMSG_LEN, alen = 0; ao + 4 <= end; ao += nextAttr(alen)) {
    alen = payloadLen(b, ao, end);
    const p = ao + 4;
    const aend = p + alen;
    switch (rawType(b, ao) & NLA.TYPE_MASK) {
      case CTA.TUPLE_ORIG:
        scanTuple(b, p, aend, f.orig, f.unknown, UnknownAt.TUPLE_ORIG);
        orig = true;
        break;
      case CTA.TUPLE_REPLY:
        scanTuple(b, p, aend, f.reply, f.unknown, UnknownAt.TUPLE_REPLY);
        break;
      case CTA.TUPLE_MASTER:
        scanTuple(b, p, aend, f.master, f.unknown, UnknownAt.TUPLE_MASTER);
        break;
      case CTA.STATUS:
        if (alen < 4) short(alen, CT_STATUS, p);
        f.status = get32(b, p);
        break;
      case CTA.TIMEOUT:
        if (alen < 4) short(alen, CT_TIMEOUT, p);
        f.timeout = get32(b, p);
        break;
      case CTA.MARK:
        if (alen < 4) short(alen, CT_MARK, p);
        f.mark = get32(b, p);
        break;
      case CTA.ZONE:
        if (alen < 2) short(alen, CT_ZONE, p);
        f.zone = get16(b, p);
        break;
      case CTA.USE:
        if (alen < 4) short(alen, CT_USE, p);
        f.use = get32(b, p);
        break;
      case CTA.ID:
        if (alen < 4) short(alen, CT_ID, p);
        f.id = get32(b, p);
        break;
      case CTA.PROTOINFO:
        scanProtoinfo(b, p, aend, f);
        break;
      case CTA.HELP:
        scanName(b, p, aend, f, CTA_HELP.NAME, UnknownAt.HELP, name);
        if (name[0] >= 0) {
          f.helper = name[0];
          f.helperLen = name[1];
        }
        break;
      case CTA.LABELS:
        f.labels = p;
        f.labelsLen = alen;
        break;
      default:
        scanRare(b, p, aend, rawType(b, ao), f);
    }
  }
  if (!orig) throw new NetlinkDecodeError('conntrack message without CTA_TUPLE_ORIG', off);
}
