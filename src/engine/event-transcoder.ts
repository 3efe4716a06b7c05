// The primary's per-event hot path, byte to byte: a ctnetlink conntrack event straight into the
// sync wire attributes the caches store (and the flow key, and what the filter looks at), with no
// Entry objects and no address strings. Must give exactly what the general path gives:
//
//   key    = flowKey(decodeConntrack(msg))
//   NEW    = encodeCtAttrs(decodeConntrack(msg), opts)
//   UPDATE / DESTROY on a cached flow
//          = encodeCtAttrs(mergeEntry(decodeStored(old), decodeConntrack(msg)), opts)
//
// (test/unit/event-transcoder.test.ts holds it to that). How: the message is scanned once into
// flat fields (offsets into the message for addresses, -1 for "absent"), with decodeConntrack's
// validation and "last attribute wins" semantics; stored wire attributes are scanned the same way
// with decodeCtAttrs' semantics (including the reply tuple it derives from the NAT attributes);
// mergeEntry becomes a field-by-field choice between the two; one encoder mirrors encodeCtAttrs
// line by line on the flat fields.
//
// Every case the general path would reject answers "fall back" (false / undefined / -1) rather
// than an error: the caller then runs the general path, which produces the exact error. So do a
// few cases that are valid but not worth doing here (a helper name that is not valid UTF-8).
import { isUtf8 } from 'node:buffer';
import { inverseIcmpType } from '../netlink/ctnetlink.js';
import { NTA, ctAttrOk, type CtEncodeOptions } from '../sync/wire-attrs.js';

// ctnetlink numbers (src/netlink/constants.ts), inlined by tsc
const enum C {
  NLMSG_HDRLEN = 16, NFGEN_END = 20,
  TUPLE_ORIG = 1, TUPLE_REPLY = 2, STATUS = 3, PROTOINFO = 4, HELP = 5, NAT_SRC = 6, TIMEOUT = 7,
  MARK = 8, COUNTERS_ORIG = 9, COUNTERS_REPLY = 10, USE = 11, ID = 12, NAT_DST = 13,
  TUPLE_MASTER = 14, SEQ_ADJ_ORIG = 15, SEQ_ADJ_REPLY = 16, SECMARK = 17, ZONE = 18, SECCTX = 19,
  TIMESTAMP = 20, LABELS = 22, SYNPROXY = 24,
  TUPLE_IP = 1, TUPLE_PROTO = 2, TUPLE_ZONE = 3,
  IP_V4_SRC = 1, IP_V4_DST = 2, IP_V6_SRC = 3, IP_V6_DST = 4,
  PROTO_NUM = 1, PROTO_SRC_PORT = 2, PROTO_DST_PORT = 3, PROTO_ICMP_ID = 4, PROTO_ICMP_TYPE = 5,
  PROTO_ICMP_CODE = 6, PROTO_ICMPV6_ID = 7, PROTO_ICMPV6_TYPE = 8, PROTO_ICMPV6_CODE = 9,
  PI_TCP = 1, PI_DCCP = 2, PI_SCTP = 3,
  TYPE_MASK = 0x3fff,
}

/** Largest output of one encode: IPv6 with every attribute and 1024 bytes of labels. */
export const MAX_CT_ATTRS_LEN = 1304;

const EMPTY = new Uint8Array(0);

/** One tuple: address offsets into `buf` (-1 absent; kind 4 or 6 = which attribute gave it), values (-1 absent). */
export class TupleFields {
  buf: Uint8Array = EMPTY;
  present = false;
  src = -1;
  srcKind = 0;
  dst = -1;
  dstKind = 0;
  proto = 0;
  sport = -1;
  dport = -1;
  icmpType = -1;
  icmpCode = -1;
  icmpId = -1;

  clear(buf: Uint8Array): void {
    this.buf = buf;
    this.present = false;
    this.src = this.dst = -1;
    this.srcKind = this.dstKind = 0;
    this.proto = 0;
    this.sport = this.dport = this.icmpType = this.icmpCode = this.icmpId = -1;
  }
}

/** What encodeCtAttrs reads of an Entry, flat. Numbers are -1 when the Entry field is undefined. */
export class FlowFields {
  family = 0;
  orig = new TupleFields();
  reply = new TupleFields();
  master = new TupleFields();
  status = -1;
  timeout = -1;
  mark = -1;
  zone = -1;
  tcpState = -1;
  wsO = -1;
  wsR = -1;
  sctpState = -1;
  vtagO = -1;
  vtagR = -1;
  dccpState = -1;
  dccpRole = -1;
  helperBuf: Uint8Array = EMPTY;
  helper = -1;
  helperLen = 0;
  labelsBuf: Uint8Array = EMPTY;
  labels = -1;
  labelsLen = 0;
  /** Labels as the sync wire has them (BE words) rather than the kernel's bytes. */
  labelsWire = false;
  seqO = false;
  seqO0 = 0;
  seqO1 = 0;
  seqO2 = 0;
  seqR = false;
  seqR0 = 0;
  seqR1 = 0;
  seqR2 = 0;
  syn = false;
  synIsn = 0;
  synIts = 0;
  synTsoff = 0;

  clear(buf: Uint8Array): void {
    this.family = 0;
    this.orig.clear(buf);
    this.reply.clear(buf);
    this.master.clear(buf);
    this.status = this.timeout = this.mark = this.zone = -1;
    this.tcpState = this.wsO = this.wsR = this.sctpState = this.vtagO = this.vtagR = this.dccpState = this.dccpRole = -1;
    this.helperBuf = this.labelsBuf = buf;
    this.helper = this.labels = -1;
    this.helperLen = this.labelsLen = 0;
    this.labelsWire = this.seqO = this.seqR = this.syn = false;
  }
}

// ------------------------------------------------------------------ ctnetlink message scan

/** Thrown inside a scan where decodeConntrack would throw NetlinkDecodeError; caught by scan(). */
const MALFORMED = new Error('malformed');

function bad(): never {
  throw MALFORMED;
}

/** decodeConntrack's attrLen: length of the attribute at `off`, checked against `end`. */
function attrLen(b: Uint8Array, off: number, end: number): number {
  const len = b[off] | (b[off + 1] << 8);
  if (len < 4 || off + len > end) bad();
  return len;
}

const get16 = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const get32 = (b: Uint8Array, p: number): number => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

/** forEachAttr without a callback: only the structure is checked. */
function walkPlain(b: Uint8Array, start: number, end: number): void {
  for (let off = start; off + 4 <= end;) off += (attrLen(b, off, end) + 3) & ~3;
}

/**
 * A nest whose attributes of types minType..maxType must carry 4 bytes: counters (1..2), and
 * every attribute of seq-adj and synproxy (0..0x3fff).
 */
function walkNeed4(b: Uint8Array, start: number, end: number, minType: number, maxType: number): void {
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(b, off, end);
    const t = (b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK;
    if (t >= minType && t <= maxType && len < 8) bad();
    off += (len + 3) & ~3;
  }
}

/** decodeTuple: fills `t` (cleared by the caller: a repeated tuple attribute replaces the tuple). */
function scanTuple(b: Uint8Array, start: number, end: number, t: TupleFields): void {
  t.present = true;
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(b, off, end);
    const type = (b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK;
    const p = off + 4;
    const pend = off + len;
    if (type === C.TUPLE_IP) {
      for (let io = p; io + 4 <= pend;) {
        const ilen = attrLen(b, io, pend);
        const ip = io + 4;
        const isz = ilen - 4;
        switch ((b[io + 2] | (b[io + 3] << 8)) & C.TYPE_MASK) {
          case C.IP_V4_SRC: if (isz < 4) bad(); t.src = ip; t.srcKind = 4; break;
          case C.IP_V4_DST: if (isz < 4) bad(); t.dst = ip; t.dstKind = 4; break;
          case C.IP_V6_SRC: if (isz < 16) bad(); t.src = ip; t.srcKind = 6; break;
          case C.IP_V6_DST: if (isz < 16) bad(); t.dst = ip; t.dstKind = 6; break;
          default: break;
        }
        io += (ilen + 3) & ~3;
      }
    } else if (type === C.TUPLE_PROTO) {
      for (let po = p; po + 4 <= pend;) {
        const plen = attrLen(b, po, pend);
        const pp = po + 4;
        const psz = plen - 4;
        switch ((b[po + 2] | (b[po + 3] << 8)) & C.TYPE_MASK) {
          case C.PROTO_NUM: if (psz < 1) bad(); t.proto = b[pp]; break;
          case C.PROTO_SRC_PORT: if (psz < 2) bad(); t.sport = get16(b, pp); break;
          case C.PROTO_DST_PORT: if (psz < 2) bad(); t.dport = get16(b, pp); break;
          case C.PROTO_ICMP_ID: case C.PROTO_ICMPV6_ID: if (psz < 2) bad(); t.icmpId = get16(b, pp); break;
          case C.PROTO_ICMP_TYPE: case C.PROTO_ICMPV6_TYPE: if (psz < 1) bad(); t.icmpType = b[pp]; break;
          case C.PROTO_ICMP_CODE: case C.PROTO_ICMPV6_CODE: if (psz < 1) bad(); t.icmpCode = b[pp]; break;
          default: break;
        }
        po += (plen + 3) & ~3;
      }
    } else if (type === C.TUPLE_ZONE) {
      if (len - 4 < 2) bad();
    }
    off += (len + 3) & ~3;
  }
}

function scanProtoinfo(b: Uint8Array, start: number, end: number, f: FlowFields): void {
  for (let po = start; po + 4 <= end;) {
    const plen = attrLen(b, po, end);
    const pt = (b[po + 2] | (b[po + 3] << 8)) & C.TYPE_MASK;
    const nend = po + plen;
    if (pt === C.PI_TCP) {
      // a TCP nest replaces Entry.tcp as a whole
      f.tcpState = f.wsO = f.wsR = -1;
      for (let off = po + 4; off + 4 <= nend;) {
        const alen = attrLen(b, off, nend);
        const p = off + 4;
        const len = alen - 4;
        switch ((b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK) {
          case 1: if (len < 1) bad(); f.tcpState = b[p]; break;
          case 2: if (len < 1) bad(); f.wsO = b[p]; break;
          case 3: if (len < 1) bad(); f.wsR = b[p]; break;
          case 4: case 5: if (len < 2) bad(); break;
          default: break;
        }
        off += (alen + 3) & ~3;
      }
    } else if (pt === C.PI_SCTP) {
      f.sctpState = f.vtagO = f.vtagR = -1;
      for (let off = po + 4; off + 4 <= nend;) {
        const alen = attrLen(b, off, nend);
        const p = off + 4;
        const len = alen - 4;
        switch ((b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK) {
          case 1: if (len < 1) bad(); f.sctpState = b[p]; break;
          case 2: if (len < 4) bad(); f.vtagO = get32(b, p); break;
          case 3: if (len < 4) bad(); f.vtagR = get32(b, p); break;
          default: break;
        }
        off += (alen + 3) & ~3;
      }
    } else if (pt === C.PI_DCCP) {
      f.dccpState = f.dccpRole = -1;
      for (let off = po + 4; off + 4 <= nend;) {
        const alen = attrLen(b, off, nend);
        const p = off + 4;
        const len = alen - 4;
        switch ((b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK) {
          case 1: if (len < 1) bad(); f.dccpState = b[p]; break;
          case 2: if (len < 1) bad(); f.dccpRole = b[p]; break;
          case 3: if (len < 8) bad(); break;
          default: break;
        }
        off += (alen + 3) & ~3;
      }
    }
    po += (plen + 3) & ~3;
  }
}

function scanNat(b: Uint8Array, start: number, end: number): void {
  for (let off = start; off + 4 <= end;) {
    const alen = attrLen(b, off, end);
    const len = alen - 4;
    switch ((b[off + 2] | (b[off + 3] << 8)) & C.TYPE_MASK) {
      case 1: case 2: if (len < 4) bad(); break; // V4_MINIP, V4_MAXIP
      case 4: case 5: if (len < 16) bad(); break; // V6_MINIP, V6_MAXIP
      case 3: walkPlain(b, off + 4, off + alen); break; // PROTO
      default: break;
    }
    off += (alen + 3) & ~3;
  }
}

/** Scans a message as decodeConntrack decodes it; throws MALFORMED where it throws. */
function scanMessage(b: Uint8Array, off: number, len: number, f: FlowFields): void {
  const end = off + len;
  if (len < C.NFGEN_END || end > b.length) bad();
  f.clear(b);
  f.family = b[off + C.NLMSG_HDRLEN];
  for (let ao = off + C.NFGEN_END; ao + 4 <= end;) {
    const total = attrLen(b, ao, end);
    const type = (b[ao + 2] | (b[ao + 3] << 8)) & C.TYPE_MASK;
    const p = ao + 4;
    const alen = total - 4;
    const aend = ao + total;
    ao += (total + 3) & ~3;
    switch (type) {
      case C.TUPLE_ORIG: f.orig.clear(b); scanTuple(b, p, aend, f.orig); break;
      case C.TUPLE_REPLY: f.reply.clear(b); scanTuple(b, p, aend, f.reply); break;
      case C.TUPLE_MASTER: f.master.clear(b); scanTuple(b, p, aend, f.master); break;
      case C.STATUS: if (alen < 4) bad(); f.status = get32(b, p); break;
      case C.TIMEOUT: if (alen < 4) bad(); f.timeout = get32(b, p); break;
      case C.MARK: if (alen < 4) bad(); f.mark = get32(b, p); break;
      case C.ZONE: if (alen < 2) bad(); f.zone = get16(b, p); break;
      case C.USE: case C.ID: case C.SECMARK: if (alen < 4) bad(); break;
      case C.PROTOINFO: scanProtoinfo(b, p, aend, f); break;
      case C.HELP:
        for (let ho = p; ho + 4 <= aend;) {
          const hl = attrLen(b, ho, aend);
          if (((b[ho + 2] | (b[ho + 3] << 8)) & C.TYPE_MASK) === 1) { // CTA_HELP_NAME: readStrz
            let e = ho + 4;
            while (e < ho + hl && b[e] !== 0) e++;
            f.helper = ho + 4;
            f.helperLen = e - (ho + 4);
          }
          ho += (hl + 3) & ~3;
        }
        break;
      case C.SECCTX: case C.TIMESTAMP: walkPlain(b, p, aend); break;
      case C.COUNTERS_ORIG: case C.COUNTERS_REPLY: walkNeed4(b, p, aend, 1, 2); break;
      case C.LABELS: f.labels = p; f.labelsLen = alen; f.labelsWire = false; break;
      case C.SEQ_ADJ_ORIG: case C.SEQ_ADJ_REPLY: {
        walkNeed4(b, p, aend, 0, C.TYPE_MASK);
        let v0 = 0;
        let v1 = 0;
        let v2 = 0;
        for (let so = p; so + 4 <= aend;) {
          const sl = b[so] | (b[so + 1] << 8);
          const st = (b[so + 2] | (b[so + 3] << 8)) & C.TYPE_MASK;
          if (st === 1) v0 = get32(b, so + 4);
          else if (st === 2) v1 = get32(b, so + 4);
          else if (st === 3) v2 = get32(b, so + 4);
          so += (sl + 3) & ~3;
        }
        if (type === C.SEQ_ADJ_ORIG) { f.seqO = true; f.seqO0 = v0; f.seqO1 = v1; f.seqO2 = v2; } else { f.seqR = true; f.seqR0 = v0; f.seqR1 = v1; f.seqR2 = v2; }
        break;
      }
      case C.NAT_SRC: case C.NAT_DST: scanNat(b, p, aend); break;
      case C.SYNPROXY: {
        walkNeed4(b, p, aend, 0, C.TYPE_MASK);
        f.syn = true;
        f.synIsn = f.synIts = f.synTsoff = 0;
        for (let so = p; so + 4 <= aend;) {
          const sl = b[so] | (b[so + 1] << 8);
          const st = (b[so + 2] | (b[so + 3] << 8)) & C.TYPE_MASK;
          if (st === 1) f.synIsn = get32(b, so + 4);
          else if (st === 2) f.synIts = get32(b, so + 4);
          else if (st === 3) f.synTsoff = get32(b, so + 4);
          so += (sl + 3) & ~3;
        }
        break;
      }
      default: break;
    }
  }
  if (!f.orig.present) bad();
}

// ------------------------------------------------------------------ stored wire attributes scan

/**
 * Scans sync wire attributes as decodeCtAttrs decodes them (conntrackd's msg2ct checks); false
 * where it returns null. Fills what mergeEntry can keep from the stored entry, including the reply
 * tuple decodeCtAttrs derives (inverse of the original, with SNAT/DNAT and non-ICMP SPAT/DPAT).
 */
function scanWire(b: Uint8Array, start: number, end: number, f: FlowFields): boolean {
  f.clear(b);
  let src = -1;
  let srcKind = 0;
  let dst = -1;
  let dstKind = 0;
  let proto = 0;
  let sport = -1;
  let dport = -1;
  let icmpType = -1;
  let icmpCode = -1;
  let icmpId = -1;
  let snat = -1;
  let snatKind = 0;
  let dnat = -1;
  let dnatKind = 0;
  let spat = -1;
  let dpat = -1;
  const m = f.master;
  let o = start;
  let remain = end - start;
  while (remain > 4) {
    const len = (b[o] << 8) | b[o + 1];
    const id = (b[o + 2] << 8) | b[o + 3];
    if (!ctAttrOk(len, id, remain)) return false;
    const p = o + 4;
    const n = len - 4;
    switch (id) {
      case NTA.IPV4: f.family = 2; src = p; dst = p + 4; srcKind = dstKind = 4; break;
      case NTA.IPV6: f.family = 10; src = p; dst = p + 16; srcKind = dstKind = 6; break;
      case NTA.L4PROTO: proto = b[p]; break;
      case NTA.PORT: sport = get16(b, p); dport = get16(b, p + 2); break;
      case NTA.TCP_STATE: f.tcpState = b[p]; break;
      case NTA.STATUS: f.status = get32(b, p); break;
      case NTA.TIMEOUT: f.timeout = get32(b, p); break;
      case NTA.MARK: f.mark = get32(b, p); break;
      case NTA.MASTER_IPV4: m.present = true; m.src = p; m.dst = p + 4; m.srcKind = m.dstKind = 4; break;
      case NTA.MASTER_IPV6: m.present = true; m.src = p; m.dst = p + 16; m.srcKind = m.dstKind = 6; break;
      case NTA.MASTER_L4PROTO: m.present = true; m.proto = b[p]; break;
      case NTA.MASTER_PORT: m.present = true; m.sport = get16(b, p); m.dport = get16(b, p + 2); break;
      case NTA.SNAT_IPV4: snat = p; snatKind = 4; break;
      case NTA.DNAT_IPV4: dnat = p; dnatKind = 4; break;
      case NTA.SNAT_IPV6: snat = p; snatKind = 6; break;
      case NTA.DNAT_IPV6: dnat = p; dnatKind = 6; break;
      case NTA.SPAT_PORT: spat = b[p] | (b[p + 1] << 8); break;
      case NTA.DPAT_PORT: dpat = b[p] | (b[p + 1] << 8); break;
      case NTA.NAT_SEQ_ADJ:
        f.seqO = f.seqR = true;
        f.seqO0 = get32(b, p); f.seqO1 = get32(b, p + 4); f.seqO2 = get32(b, p + 8);
        f.seqR0 = get32(b, p + 12); f.seqR1 = get32(b, p + 16); f.seqR2 = get32(b, p + 20);
        break;
      case NTA.SCTP_STATE: f.sctpState = b[p]; break;
      case NTA.SCTP_VTAG_ORIG: f.vtagO = get32(b, p); break;
      case NTA.SCTP_VTAG_REPL: f.vtagR = get32(b, p); break;
      case NTA.DCCP_STATE: f.dccpState = b[p]; break;
      case NTA.DCCP_ROLE: f.dccpRole = b[p]; break;
      case NTA.ICMP_TYPE: icmpType = b[p]; break;
      case NTA.ICMP_CODE: icmpCode = b[p]; break;
      case NTA.ICMP_ID: icmpId = b[p] | (b[p + 1] << 8); break;
      case NTA.TCP_WSCALE_ORIG: f.wsO = b[p]; break;
      case NTA.TCP_WSCALE_REPL: f.wsR = b[p]; break;
      case NTA.HELPER_NAME: {
        let e = p;
        while (e < p + n && b[e] !== 0) e++;
        f.helper = p;
        f.helperLen = e - p;
        break;
      }
      case NTA.LABELS:
        if (n === 0 || (n & 3) !== 0) break; // ignored, an earlier LABELS stays
        f.labels = p;
        f.labelsLen = n;
        f.labelsWire = true;
        break;
      case NTA.SYNPROXY: f.syn = true; f.synIts = get32(b, p); f.synIsn = get32(b, p + 4); f.synTsoff = get32(b, p + 8); break;
      case NTA.ZONE: f.zone = get16(b, p); break;
      default: break;
    }
    const step = (len + 3) & ~3;
    o += step;
    remain -= step;
  }
  const t = f.orig;
  t.present = true;
  t.src = src; t.srcKind = srcKind; t.dst = dst; t.dstKind = dstKind;
  t.proto = proto; t.sport = sport; t.dport = dport;
  t.icmpType = icmpType; t.icmpCode = icmpCode; t.icmpId = icmpId;
  // reply = invertTuple(orig), then the NAT attributes
  const r = f.reply;
  r.present = true;
  r.proto = proto;
  r.src = dnat >= 0 ? dnat : dst;
  r.srcKind = dnat >= 0 ? dnatKind : dstKind;
  r.dst = snat >= 0 ? snat : src;
  r.dstKind = snat >= 0 ? snatKind : srcKind;
  if (proto === 1 || proto === 58) {
    r.icmpType = icmpType >= 0 ? inverseIcmpType(proto, icmpType) : -1;
    r.icmpCode = icmpCode;
    r.icmpId = icmpId;
  } else {
    r.sport = dpat >= 0 ? dpat : dport;
    r.dport = spat >= 0 ? spat : sport;
  }
  return true;
}

/** mergeEntry(old, upd) on flat fields: what the update has wins, tcp/sctp/dccp field by field. */
function mergeFields(m: FlowFields, old: FlowFields, upd: FlowFields): void {
  m.family = upd.family;
  m.orig = upd.orig;
  m.reply = upd.reply.present ? upd.reply : old.reply;
  m.master = upd.master.present ? upd.master : old.master;
  m.status = upd.status >= 0 ? upd.status : old.status;
  m.timeout = upd.timeout >= 0 ? upd.timeout : old.timeout;
  m.mark = upd.mark >= 0 ? upd.mark : old.mark;
  m.zone = upd.zone >= 0 ? upd.zone : old.zone;
  m.tcpState = upd.tcpState >= 0 ? upd.tcpState : old.tcpState;
  m.wsO = upd.wsO >= 0 ? upd.wsO : old.wsO;
  m.wsR = upd.wsR >= 0 ? upd.wsR : old.wsR;
  m.sctpState = upd.sctpState >= 0 ? upd.sctpState : old.sctpState;
  m.vtagO = upd.vtagO >= 0 ? upd.vtagO : old.vtagO;
  m.vtagR = upd.vtagR >= 0 ? upd.vtagR : old.vtagR;
  m.dccpState = upd.dccpState >= 0 ? upd.dccpState : old.dccpState;
  m.dccpRole = upd.dccpRole >= 0 ? upd.dccpRole : old.dccpRole;
  const h = upd.helper >= 0 ? upd : old;
  m.helperBuf = h.helperBuf; m.helper = h.helper; m.helperLen = h.helperLen;
  const l = upd.labels >= 0 ? upd : old;
  m.labelsBuf = l.labelsBuf; m.labels = l.labels; m.labelsLen = l.labelsLen; m.labelsWire = l.labelsWire;
  const so = upd.seqO ? upd : old;
  m.seqO = so.seqO; m.seqO0 = so.seqO0; m.seqO1 = so.seqO1; m.seqO2 = so.seqO2;
  const sr = upd.seqR ? upd : old;
  m.seqR = sr.seqR; m.seqR0 = sr.seqR0; m.seqR1 = sr.seqR1; m.seqR2 = sr.seqR2;
  const sy = upd.syn ? upd : old;
  m.syn = sy.syn; m.synIsn = sy.synIsn; m.synIts = sy.synIts; m.synTsoff = sy.synTsoff;
}

// ------------------------------------------------------------------ encoding (encodeCtAttrs)

function hdr(b: Uint8Array, o: number, id: number, plen: number): number {
  const len = 4 + plen;
  b[o] = len >> 8;
  b[o + 1] = len & 0xff;
  b[o + 2] = 0;
  b[o + 3] = id;
  return o + 4;
}

function u8Attr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 1);
  b[o + 4] = v;
  b[o + 5] = b[o + 6] = b[o + 7] = 0;
  return o + 8;
}

function u16leAttr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 2);
  b[o + 4] = v & 0xff;
  b[o + 5] = v >>> 8;
  b[o + 6] = b[o + 7] = 0;
  return o + 8;
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

function u32Attr(b: Uint8Array, o: number, id: number, v: number): number {
  hdr(b, o, id, 4);
  put32(b, o + 4, v);
  return o + 8;
}

function portsAttr(b: Uint8Array, o: number, id: number, t: TupleFields): number {
  hdr(b, o, id, 4);
  const s = t.sport < 0 ? 0 : t.sport;
  const d = t.dport < 0 ? 0 : t.dport;
  b[o + 4] = s >> 8;
  b[o + 5] = s & 0xff;
  b[o + 6] = d >> 8;
  b[o + 7] = d & 0xff;
  return o + 8;
}

function copy(from: Uint8Array, p: number, to: Uint8Array, q: number, n: number): void {
  for (let i = 0; i < n; i++) to[q + i] = from[p + i];
}

function sameBytes(a: Uint8Array, ap: number, b: Uint8Array, bp: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ap + i] !== b[bp + i]) return false;
  return true;
}

/** encodeCtAttrs' NAT detection and the writers after it need the reply tuple or its inverse. */
const inverse = new TupleFields();

const enum Opt { COMMIT_TIMEOUT = 1, WINDOW_TRACKING = 2, OMIT_LONG_HELPER = 4 }

/**
 * encodeCtAttrs on flat fields, at `o`; returns the end, or -1 where encodeCtAttrs throws
 * WireEncodeError (and for a helper name that is not valid UTF-8). The caller ensures
 * MAX_CT_ATTRS_LEN bytes of room.
 */
function encodeFields(f: FlowFields, opt: number, b: Uint8Array, o: number): number {
  const fam = f.family;
  if (fam !== 2 && fam !== 10) return -1;
  const v6 = fam === 10;
  const ak = v6 ? 6 : 4;
  const al = v6 ? 16 : 4;
  const orig = f.orig;
  if (orig.srcKind !== ak || orig.dstKind !== ak) return -1;
  const ob = orig.buf;
  hdr(b, o, v6 ? NTA.IPV6 : NTA.IPV4, 2 * al);
  copy(ob, orig.src, b, o + 4, al);
  copy(ob, orig.dst, b, o + 4 + al, al);
  o += 4 + 2 * al;
  const status = f.status;
  o = u32Attr(b, o, NTA.STATUS, status < 0 ? 0 : status);
  const proto = orig.proto;
  o = u8Attr(b, o, NTA.L4PROTO, proto);
  const icmp = proto === 1 || proto === 58;
  if (proto === 6) {
    o = portsAttr(b, o, NTA.PORT, orig);
    if (f.tcpState >= 0) {
      o = u8Attr(b, o, NTA.TCP_STATE, f.tcpState);
      if (opt & Opt.WINDOW_TRACKING) {
        o = u8Attr(b, o, NTA.TCP_WSCALE_ORIG, f.wsO < 0 ? 0 : f.wsO);
        o = u8Attr(b, o, NTA.TCP_WSCALE_REPL, f.wsR < 0 ? 0 : f.wsR);
      }
    }
  } else if (proto === 17) {
    o = portsAttr(b, o, NTA.PORT, orig);
  } else if (proto === 132) {
    o = portsAttr(b, o, NTA.PORT, orig);
    if (f.sctpState >= 0) {
      o = u8Attr(b, o, NTA.SCTP_STATE, f.sctpState);
      o = u32Attr(b, o, NTA.SCTP_VTAG_ORIG, f.vtagO < 0 ? 0 : f.vtagO);
      o = u32Attr(b, o, NTA.SCTP_VTAG_REPL, f.vtagR < 0 ? 0 : f.vtagR);
    }
  } else if (proto === 33) {
    o = portsAttr(b, o, NTA.PORT, orig);
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
  if (!(opt & Opt.COMMIT_TIMEOUT) && f.timeout >= 0) o = u32Attr(b, o, NTA.TIMEOUT, f.timeout);
  if (f.mark >= 0) o = u32Attr(b, o, NTA.MARK, f.mark);

  const m = f.master;
  if (m.present && m.src >= 0 && m.dst >= 0) {
    if (m.srcKind !== ak || m.dstKind !== ak) return -1;
    hdr(b, o, v6 ? NTA.MASTER_IPV6 : NTA.MASTER_IPV4, 2 * al);
    copy(m.buf, m.src, b, o + 4, al);
    copy(m.buf, m.dst, b, o + 4 + al, al);
    o += 4 + 2 * al;
    o = u8Attr(b, o, NTA.MASTER_L4PROTO, m.proto);
    if (m.sport >= 0 && m.dport >= 0) o = portsAttr(b, o, NTA.MASTER_PORT, m);
  }

  const srcDone = status < 0 || (status & 0x80) !== 0;
  const dstDone = status < 0 || (status & 0x100) !== 0;
  if (srcDone || dstDone) {
    let rt = f.reply;
    if (!rt.present) {
      // invertTuple(orig)
      rt = inverse;
      rt.clear(ob);
      rt.present = true;
      rt.src = orig.dst; rt.srcKind = orig.dstKind; rt.dst = orig.src; rt.dstKind = orig.srcKind;
      rt.proto = proto;
      if (icmp) {
        rt.icmpType = orig.icmpType >= 0 ? inverseIcmpType(proto, orig.icmpType) : -1;
        rt.icmpCode = orig.icmpCode;
        rt.icmpId = orig.icmpId;
      } else {
        rt.sport = orig.dport;
        rt.dport = orig.sport;
      }
    }
    const rb = rt.buf;
    // sameAddr: text equal <=> same kind and same bytes (an absent address is '', never equal)
    if (srcDone && !(rt.dstKind === ak && sameBytes(rb, rt.dst, ob, orig.src, al))) {
      if (rt.dstKind !== ak) return -1;
      hdr(b, o, v6 ? NTA.SNAT_IPV6 : NTA.SNAT_IPV4, al);
      copy(rb, rt.dst, b, o + 4, al);
      o += 4 + al;
    }
    if (dstDone && !(rt.srcKind === ak && sameBytes(rb, rt.src, ob, orig.dst, al))) {
      if (rt.srcKind !== ak) return -1;
      hdr(b, o, v6 ? NTA.DNAT_IPV6 : NTA.DNAT_IPV4, al);
      copy(rb, rt.src, b, o + 4, al);
      o += 4 + al;
    }
    // libnetfilter_conntrack's raw 16-bit l4 words (ICMP: id / type<<8|code)
    const oL4Src = icmp ? (orig.icmpId < 0 ? 0 : orig.icmpId) : orig.sport < 0 ? 0 : orig.sport;
    const oL4Dst = icmp ? ((orig.icmpType < 0 ? 0 : orig.icmpType) << 8) | (orig.icmpCode < 0 ? 0 : orig.icmpCode) : orig.dport < 0 ? 0 : orig.dport;
    const rL4Src = icmp ? (rt.icmpId < 0 ? 0 : rt.icmpId) : rt.sport < 0 ? 0 : rt.sport;
    const rL4Dst = icmp ? ((rt.icmpType < 0 ? 0 : rt.icmpType) << 8) | (rt.icmpCode < 0 ? 0 : rt.icmpCode) : rt.dport < 0 ? 0 : rt.dport;
    if (srcDone && rL4Dst !== oL4Src) o = u16leAttr(b, o, NTA.SPAT_PORT, icmp || rt.dport < 0 ? 0 : rt.dport);
    if (dstDone && rL4Src !== oL4Dst) o = u16leAttr(b, o, NTA.DPAT_PORT, icmp || rt.sport < 0 ? 0 : rt.sport);
  }

  if (f.seqO && f.seqR) {
    hdr(b, o, NTA.NAT_SEQ_ADJ, 24);
    put32(b, o + 4, f.seqO0);
    put32(b, o + 8, f.seqO1);
    put32(b, o + 12, f.seqO2);
    put32(b, o + 16, f.seqR0);
    put32(b, o + 20, f.seqR1);
    put32(b, o + 24, f.seqR2);
    o += 28;
  }
  if (f.helper >= 0) {
    const hb = f.helperBuf;
    const hp = f.helper;
    const n = f.helperLen;
    let ascii = true;
    for (let i = 0; i < n; i++) if (hb[hp + i] >= 0x80) ascii = false;
    // valid UTF-8 round-trips through the string byte for byte; anything else: general path
    if (!ascii && !isUtf8(hb.subarray(hp, hp + n))) return -1;
    if (4 + n + 1 > 16) {
      if (!(opt & Opt.OMIT_LONG_HELPER)) return -1;
    } else {
      hdr(b, o, NTA.HELPER_NAME, n + 1);
      copy(hb, hp, b, o + 4, n);
      const end = o + ((4 + n + 1 + 3) & ~3);
      for (let i = o + 4 + n; i < end; i++) b[i] = 0;
      o = end;
    }
  }
  if (f.labels >= 0) {
    const lb = f.labelsBuf;
    const lp = f.labels;
    const n = f.labelsLen;
    let any = false;
    for (let i = 0; i < n; i++) {
      if (lb[lp + i] !== 0) {
        any = true;
        break;
      }
    }
    if (any) {
      if (f.labelsWire) {
        // stored BE words: decodeCtAttrs -> labelsAttr gives the same bytes back
        hdr(b, o, NTA.LABELS, n);
        copy(lb, lp, b, o + 4, n);
        o += 4 + n;
      } else {
        // the kernel's bytes (little-endian u32 words) -> BE words, last one zero-padded
        const words = (n + 3) >> 2;
        if (words * 4 > 1024) return -1;
        hdr(b, o, NTA.LABELS, words * 4);
        const q = o + 4;
        for (let w = 0; w < words; w++) {
          for (let k = 0; k < 4; k++) {
            const i = 4 * w + k;
            b[q + 4 * w + 3 - k] = i < n ? lb[lp + i] : 0;
          }
        }
        o = q + words * 4;
      }
    }
  }
  if (f.syn) {
    hdr(b, o, NTA.SYNPROXY, 12);
    put32(b, o + 4, f.synIts);
    put32(b, o + 8, f.synIsn);
    put32(b, o + 12, f.synTsoff);
    o += 16;
  }
  if (f.zone > 0) {
    hdr(b, o, NTA.ZONE, 2);
    b[o + 4] = f.zone >> 8;
    b[o + 5] = f.zone & 0xff;
    b[o + 6] = b[o + 7] = 0;
    o += 8;
  }
  return o;
}

// ------------------------------------------------------------------ public API

const keyBuf = Buffer.allocUnsafe(40);

/**
 * Reusable (one per engine; not re-entrant). Per kernel event:
 *
 *   if (!t.scan(buf, off, len)) -> general path (decodeConntrack throws: malformed)
 *   if (!filter(t)) -> drop                  (flow-filter.ts: makeFilter(rules) on the scan)
 *   const key = t.key()                      (undefined -> general path)
 *   NEW:   n = t.encode()                    (-1 -> general path); attrs = t.attrs(n)
 *   UPDATE/DESTROY on a live cached object: n = t.encodeMerged(obj.attrs); else as NEW
 */
export class EventTranscoder {
  /** The scanned message (valid after scan() returned true). */
  readonly upd = new FlowFields();
  /** Default output of encode()/encodeMerged(). */
  readonly out = Buffer.allocUnsafe(MAX_CT_ATTRS_LEN);
  private readonly old = new FlowFields();
  private readonly merged = new FlowFields();
  private readonly oldBuf = Buffer.allocUnsafe(8192);
  private readonly opt: number;

  constructor(opts?: CtEncodeOptions) {
    this.opt = (opts?.commitTimeout ? Opt.COMMIT_TIMEOUT : 0) | (opts?.tcpWindowTracking ? Opt.WINDOW_TRACKING : 0)
      | (opts?.longHelper === 'omit' ? Opt.OMIT_LONG_HELPER : 0);
  }

  /**
   * Scans one conntrack message (`off`/`len` delimit the netlink message, header included, as
   * decodeConntrack takes them). False exactly when decodeConntrack would throw.
   * The buffer must stay unchanged until the results have been used.
   */
  scan(buf: Uint8Array, off: number, len: number): boolean {
    try {
      scanMessage(buf, off, len, this.upd);
      return true;
    } catch (err) {
      if (err === MALFORMED) return false;
      throw err;
    }
  }

  // ---- what the filter looks at (flow-filter.ts), of the scanned message

  /** nfgenmsg family. */
  get family(): number {
    return this.upd.family;
  }

  /** Original tuple's L4 protocol (0 when the message has none, as decodeConntrack). */
  get proto(): number {
    return this.upd.orig.proto;
  }

  /** TCP state of the (last) TCP protoinfo, -1 when none. */
  get tcpState(): number {
    return this.upd.tcpState;
  }

  /**
   * The flow key: flowKey(decodeConntrack(msg)). Undefined where flowKey would throw (an address
   * of the other family than the message's).
   */
  key(): string | undefined {
    const n = this.keyBytes(keyBuf);
    return n < 0 ? undefined : keyBuf.toString('latin1', 0, n);
  }

  /** key() as bytes written to `b` (at least 40 bytes): their length, or -1 where key() is undefined. */
  keyBytes(b: Uint8Array): number {
    const f = this.upd;
    const t = f.orig;
    const v6 = f.family === 10;
    const ak = v6 ? 6 : 4;
    const al = v6 ? 16 : 4;
    b[0] = v6 ? 10 : 2;
    b[1] = t.proto;
    const zone = f.zone < 0 ? 0 : f.zone;
    b[2] = zone >> 8;
    b[3] = zone & 0xff;
    if (t.src < 0) b.fill(0, 4, 4 + al);
    else if (t.srcKind !== ak) return -1;
    else copy(t.buf, t.src, b, 4, al);
    if (t.dst < 0) b.fill(0, 4 + al, 4 + 2 * al);
    else if (t.dstKind !== ak) return -1;
    else copy(t.buf, t.dst, b, 4 + al, al);
    const o = 4 + 2 * al;
    const p = t.proto;
    if (p === 1 || p === 58) {
      b[o] = t.icmpType < 0 ? 0 : t.icmpType;
      b[o + 1] = t.icmpCode < 0 ? 0 : t.icmpCode;
      const id = t.icmpId < 0 ? 0 : t.icmpId;
      b[o + 2] = id >> 8;
      b[o + 3] = id & 0xff;
    } else if (p === 6 || p === 17 || p === 132 || p === 33) {
      const s = t.sport < 0 ? 0 : t.sport;
      const d = t.dport < 0 ? 0 : t.dport;
      b[o] = s >> 8;
      b[o + 1] = s & 0xff;
      b[o + 2] = d >> 8;
      b[o + 3] = d & 0xff;
    } else b[o] = b[o + 1] = b[o + 2] = b[o + 3] = 0;
    return o + 4;
  }

  /**
   * encodeCtAttrs(decodeConntrack(msg), opts) into `out` at `at` (default: this.out at 0).
   * Returns the end offset, or -1: fall back to the general path (it throws WireEncodeError, or
   * the helper name is not valid UTF-8).
   */
  encode(out: Uint8Array = this.out, at = 0): number {
    if (at + MAX_CT_ATTRS_LEN > out.length) throw new RangeError('output buffer too small for a CT message');
    return encodeFields(this.upd, this.opt, out, at);
  }

  /**
   * encodeCtAttrs(mergeEntry(decodeStored(old), decodeConntrack(msg)), opts): the scanned
   * (partial) event merged into stored wire attributes (a latin1 string as the caches hold them,
   * or bytes). Returns the end offset in `out`, or -1: fall back to the general path.
   */
  encodeMerged(old: string | Uint8Array, out: Uint8Array = this.out, at = 0): number {
    if (at + MAX_CT_ATTRS_LEN > out.length) throw new RangeError('output buffer too small for a CT message');
    let ob: Uint8Array;
    let n: number;
    if (typeof old === 'string') {
      if (old.length > this.oldBuf.length) return -1;
      n = this.oldBuf.write(old, 0, 'latin1');
      ob = this.oldBuf;
    } else {
      ob = old;
      n = old.length;
    }
    return this.mergeInto(ob, 0, n, out, at);
  }

  /** encodeMerged() with the stored attributes at old[start, end) (an arena record), into this.out. */
  encodeMergedFrom(old: Uint8Array, start: number, end: number): number {
    return this.mergeInto(old, start, end, this.out, 0);
  }

  private mergeInto(old: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
    if (!scanWire(old, start, end, this.old)) return -1;
    mergeFields(this.merged, this.old, this.upd);
    return encodeFields(this.merged, this.opt, out, at);
  }

  /** The attributes encoded in this.out as the caches store them (latin1 string). */
  attrs(end: number): string {
    return this.out.toString('latin1', 0, end);
  }
}
