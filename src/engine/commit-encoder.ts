// Commit's hot path: a cached entry's sync wire attributes straight into a ctnetlink create
// request, byte to byte: no Entry objects, no address strings. A commit spends its time in the
// kernel, not here (about 1 µs an entry here, 2 to 3 there). Must produce exactly what
// writeCreateAttrs(decodeCtAttrs(attrs)) produces (a unit test holds it to that).
import {
  CTA, CTA_HELP, CTA_IP, CTA_NAT, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_DCCP,
  CTA_PROTOINFO_SCTP, CTA_PROTOINFO_TCP, CTA_PROTONAT, CTA_SEQADJ, CTA_SYNPROXY, CTA_TUPLE,
  IPPROTO, IPS, IP_CT_TCP_FLAG_BE_LIBERAL, NLA_F_NESTED,
} from '../netlink/constants.js';

const IPS_SRC_NAT_DONE = IPS.SRC_NAT_DONE;
const IPS_DST_NAT_DONE = IPS.DST_NAT_DONE;
import type { NlWriter } from '../netlink/attr.js';
import { inverseIcmpType, requestStatus } from '../netlink/ctnetlink.js';
import { NTA } from '../sync/wire-attrs.js';


/** Offsets (-1 = absent) and values of one entry's wire attributes; reused for every entry. */
class WireFields {
  ip = -1; v6 = false; proto = 0; port = -1;
  icmpType = -1; icmpCode = -1; icmpId = -1;
  status = 0; hasStatus = false; timeout = -1; mark = -1; zone = -1;
  tcpState = -1; wsO = -1; wsR = -1;
  sctpState = -1; vtagO = -1; vtagR = -1; dccpState = -1; dccpRole = -1;
  masterIp = -1; masterV6 = false; masterProto = -1; masterPort = -1;
  snat = -1; snatV6 = false; dnat = -1; dnatV6 = false; spat = -1; dpat = -1;
  seqAdj = -1; helper = -1; helperLen = 0; labels = -1; labelsLen = 0; synproxy = -1;
  /** Bytes of wire attributes scanned. */
  wireLen = 0;

  reset(): void {
    this.ip = this.port = this.icmpType = this.icmpCode = this.icmpId = -1;
    this.timeout = this.mark = this.zone = this.tcpState = this.wsO = this.wsR = -1;
    this.sctpState = this.vtagO = this.vtagR = this.dccpState = this.dccpRole = -1;
    this.masterIp = this.masterProto = this.masterPort = this.snat = this.dnat = this.spat = this.dpat = -1;
    this.seqAdj = this.helper = this.labels = this.synproxy = -1;
    this.v6 = this.masterV6 = this.snatV6 = this.dnatV6 = this.hasStatus = false;
    this.proto = this.status = this.helperLen = this.labelsLen = 0;
  }
}

const f = new WireFields();

const be16 = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const be32 = (b: Uint8Array, p: number): number => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
const le16 = (b: Uint8Array, p: number): number => b[p] | (b[p + 1] << 8);

function scan(b: Uint8Array, start: number, end: number): void {
  f.reset();
  for (let o = start; o + 4 <= end;) {
    const len = be16(b, o);
    const id = be16(b, o + 2);
    const p = o + 4;
    if (len < 4) break;
    switch (id) {
      case NTA.IPV4: f.ip = p; f.v6 = false; break;
      case NTA.IPV6: f.ip = p; f.v6 = true; break;
      case NTA.L4PROTO: f.proto = b[p]; break;
      case NTA.PORT: f.port = p; break;
      case NTA.TCP_STATE: f.tcpState = b[p]; break;
      case NTA.STATUS: f.status = be32(b, p); f.hasStatus = true; break;
      case NTA.TIMEOUT: f.timeout = be32(b, p); break;
      case NTA.MARK: f.mark = be32(b, p); break;
      case NTA.MASTER_IPV4: f.masterIp = p; f.masterV6 = false; break;
      case NTA.MASTER_IPV6: f.masterIp = p; f.masterV6 = true; break;
      case NTA.MASTER_L4PROTO: f.masterProto = b[p]; break;
      case NTA.MASTER_PORT: f.masterPort = p; break;
      case NTA.SNAT_IPV4: f.snat = p; f.snatV6 = false; break;
      case NTA.SNAT_IPV6: f.snat = p; f.snatV6 = true; break;
      case NTA.DNAT_IPV4: f.dnat = p; f.dnatV6 = false; break;
      case NTA.DNAT_IPV6: f.dnat = p; f.dnatV6 = true; break;
      case NTA.SPAT_PORT: f.spat = le16(b, p); break;
      case NTA.DPAT_PORT: f.dpat = le16(b, p); break;
      case NTA.NAT_SEQ_ADJ: f.seqAdj = p; break;
      case NTA.SCTP_STATE: f.sctpState = b[p]; break;
      case NTA.SCTP_VTAG_ORIG: f.vtagO = be32(b, p); break;
      case NTA.SCTP_VTAG_REPL: f.vtagR = be32(b, p); break;
      case NTA.DCCP_STATE: f.dccpState = b[p]; break;
      case NTA.DCCP_ROLE: f.dccpRole = b[p]; break;
      case NTA.ICMP_TYPE: f.icmpType = b[p]; break;
      case NTA.ICMP_CODE: f.icmpCode = b[p]; break;
      case NTA.ICMP_ID: f.icmpId = le16(b, p); break;
      case NTA.TCP_WSCALE_ORIG: f.wsO = b[p]; break;
      case NTA.TCP_WSCALE_REPL: f.wsR = b[p]; break;
      case NTA.HELPER_NAME: {
        let n = 0;
        while (n < len - 4 && b[p + n] !== 0) n++;
        f.helper = p;
        f.helperLen = n;
        break;
      }
      case NTA.LABELS: if (len > 4 && ((len - 4) & 3) === 0) { f.labels = p; f.labelsLen = len - 4; } break;
      case NTA.SYNPROXY: f.synproxy = p; break;
      case NTA.ZONE: f.zone = be16(b, p); break;
      default: break;
    }
    o += (len + 3) & ~3;
  }
}

// The writer: bytes go straight into the NlWriter's buffer through a cursor (room reserved once
// per message), not through a method call with a bounds check per field. Same bytes as NlWriter's
// u8/u16be/u32be/raw/nestStart/nestEnd would write, padding zeroed.
let B: Buffer = Buffer.alloc(0);
let P = 0;

/** Makes room for `n` bytes at w.off and points the cursor there. */
function open(w: NlWriter, n: number): void {
  const p = w.raw(0, n); // reserves (grows the buffer if needed); the header it wrote is overwritten
  w.off = p - 4;
  B = w.buf;
  P = w.off;
}

function close(w: NlWriter): void {
  w.off = P;
}

/**
 * Attribute header; returns the payload offset. Zeroes the padding: three bytes past the payload
 * unconditionally (what lies beyond the padding is written later or not sent; open() reserved it).
 */
function hdr(type: number, payloadLen: number): number {
  const o = P;
  const len = 4 + payloadLen;
  B[o] = len & 0xff;
  B[o + 1] = len >> 8;
  B[o + 2] = type & 0xff;
  B[o + 3] = type >> 8;
  B[o + len] = 0;
  B[o + len + 1] = 0;
  B[o + len + 2] = 0;
  P = o + ((len + 3) & ~3);
  return o + 4;
}

function u8(type: number, v: number): void {
  const p = hdr(type, 1);
  B[p] = v;
}

function u16be(type: number, v: number): void {
  const p = hdr(type, 2);
  B[p] = (v >> 8) & 0xff;
  B[p + 1] = v & 0xff;
}

function u32be(type: number, value: number): void {
  const v = value >>> 0;
  const p = hdr(type, 4);
  B[p] = v >>> 24;
  B[p + 1] = (v >>> 16) & 0xff;
  B[p + 2] = (v >>> 8) & 0xff;
  B[p + 3] = v & 0xff;
}

function nestStart(type: number): number {
  const o = P;
  const t = type | NLA_F_NESTED;
  B[o + 2] = t & 0xff;
  B[o + 3] = t >> 8;
  P = o + 4;
  return o;
}

function nestEnd(start: number): void {
  const n = P - start;
  B[start] = n & 0xff;
  B[start + 1] = n >> 8;
}

function copyInto(type: number, b: Uint8Array, p: number, n: number): void {
  const q = hdr(type, n);
  for (let i = 0; i < n; i++) B[q + i] = b[p + i];
}

/** A tuple from wire fields; `reply` swaps the directions the way the kernel inverts a flow. */
function tuple(nestType: number, b: Uint8Array, ip: number, v6: boolean, proto: number, port: number, reply: boolean): void {
  const nest = nestStart(nestType);
  const ipn = nestStart(CTA_TUPLE.IP);
  const alen = v6 ? 16 : 4;
  const first = reply ? ip + alen : ip;
  const second = reply ? ip : ip + alen;
  copyInto(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, b, first, alen);
  copyInto(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, b, second, alen);
  nestEnd(ipn);
  const pn = nestStart(CTA_TUPLE.PROTO);
  u8(CTA_PROTO.NUM, proto);
  if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) {
    if (port === -2) {
      // the entry's own ICMP fields (id, type, code: kernel order)
      const v6p = proto === IPPROTO.ICMPV6;
      if (f.icmpId >= 0) u16be(v6p ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, f.icmpId);
      if (f.icmpType >= 0) u8(v6p ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, reply ? inverseIcmpType(proto, f.icmpType) : f.icmpType);
      if (f.icmpCode >= 0) u8(v6p ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, f.icmpCode);
    }
  } else if (port >= 0) {
    u16be(CTA_PROTO.SRC_PORT, be16(b, reply ? port + 2 : port));
    u16be(CTA_PROTO.DST_PORT, be16(b, reply ? port : port + 2));
  }
  nestEnd(pn);
  nestEnd(nest);
}

function sameBytes(b: Uint8Array, p: number, q: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[p + i] !== b[q + i]) return false;
  return true;
}

function natRange(type: number, b: Uint8Array, ip: number, v6: boolean, port: number): void {
  const nest = nestStart(type);
  const n = v6 ? 16 : 4;
  copyInto(v6 ? CTA_NAT.V6_MINIP : CTA_NAT.V4_MINIP, b, ip, n);
  copyInto(v6 ? CTA_NAT.V6_MAXIP : CTA_NAT.V4_MAXIP, b, ip, n);
  if (port >= 0) {
    const pn = nestStart(CTA_NAT.PROTO);
    u16be(CTA_PROTONAT.PORT_MIN, port);
    u16be(CTA_PROTONAT.PORT_MAX, port);
    nestEnd(pn);
  }
  nestEnd(nest);
}

function seqAdj(type: number, b: Uint8Array, p: number): void {
  const n = nestStart(type);
  u32be(CTA_SEQADJ.CORRECTION_POS, be32(b, p));
  u32be(CTA_SEQADJ.OFFSET_BEFORE, be32(b, p + 4));
  u32be(CTA_SEQADJ.OFFSET_AFTER, be32(b, p + 8));
  nestEnd(n);
}

export interface CommitEncodeOptions {
  /** Seconds for CTA_TIMEOUT (already computed: CommitTimeout or remaining time). */
  timeout: number;
  liberal: boolean;
  /**
   * The request updates an entry the kernel already has: the mark goes even when it is 0 (a new
   * entry has 0 anyway, an existing one may have another).
   */
  update: boolean;
}

/**
 * Reads the wire attributes b[start, end) of one entry (kept until the next call) and returns
 * its TIMEOUT attribute, -1 if absent: the caller computes the commit timeout from it.
 */
export function scanTimeout(b: Uint8Array, start: number, end: number): number {
  scan(b, start, end);
  f.wireLen = end - start;
  return f.timeout;
}

/**
 * Bytes a request for the scanned entry can take at most: every fixed part (tuples, NAT, seqadj,
 * master, synproxy, protoinfo: < 1 KiB) plus what grows with the wire (helper name, labels twice).
 */
const roomFor = (): number => 1024 + 3 * f.wireLen;

/**
 * Writes the attributes of a CT_NEW create request for the entry scanTimeout() just read.
 * Returns false (nothing written) when the entry has no usable tuple.
 */
export function writeScannedCreate(w: NlWriter, b: Uint8Array, opts: CommitEncodeOptions): boolean {
  if (f.ip < 0 || f.proto === 0) return false;
  open(w, roomFor());
  const icmp = f.proto === IPPROTO.ICMP || f.proto === IPPROTO.ICMPV6;
  const alen = f.v6 ? 16 : 4;
  // NAT exactly as natFromReply() derives it from the reply tuple the wire implies
  const sport = f.port >= 0 ? be16(b, f.port) : -1;
  const dport = f.port >= 0 ? be16(b, f.port + 2) : -1;
  const anyDone = (f.status & (IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE)) !== 0;
  const replyDport = !icmp && f.spat >= 0 ? f.spat : sport;
  const replySport = !icmp && f.dpat >= 0 ? f.dpat : dport;
  const snatDiffers = f.snat >= 0 && !sameBytes(b, f.snat, f.ip, alen);
  const dnatDiffers = f.dnat >= 0 && !sameBytes(b, f.dnat, f.ip + alen, alen);
  const srcNat = ((f.status & IPS_SRC_NAT_DONE) !== 0 || !anyDone) && (snatDiffers || (!icmp && replyDport !== sport));
  const dstNat = ((f.status & IPS_DST_NAT_DONE) !== 0 || !anyDone) && (dnatDiffers || (!icmp && replySport !== dport));
  const port = icmp ? -2 : f.port;
  tuple(CTA.TUPLE_ORIG, b, f.ip, f.v6, f.proto, port, false);
  tuple(CTA.TUPLE_REPLY, b, f.ip, f.v6, f.proto, port, true);
  if (f.zone >= 0) u16be(CTA.ZONE, f.zone);
  u32be(CTA.STATUS, requestStatus(f.hasStatus ? f.status : undefined));
  u32be(CTA.TIMEOUT, opts.timeout);
  // as writeCreateAttrs: mark 0 and an all-zero synproxy are what a new entry has anyway
  if (f.mark > 0 || opts.update) u32be(CTA.MARK, f.mark > 0 ? f.mark : 0);
  if (f.tcpState >= 0 || f.wsO >= 0 || f.wsR >= 0 || (opts.liberal && f.proto === IPPROTO.TCP)) {
    const pi = nestStart(CTA.PROTOINFO);
    const t = nestStart(CTA_PROTOINFO.TCP);
    if (f.tcpState >= 0) u8(CTA_PROTOINFO_TCP.STATE, f.tcpState);
    if (f.wsO >= 0 && f.wsR >= 0) {
      u8(CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, f.wsO);
      u8(CTA_PROTOINFO_TCP.WSCALE_REPLY, f.wsR);
    }
    if (opts.liberal) {
      let q = hdr(CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, 2);
      B[q] = IP_CT_TCP_FLAG_BE_LIBERAL;
      B[q + 1] = IP_CT_TCP_FLAG_BE_LIBERAL;
      q = hdr(CTA_PROTOINFO_TCP.FLAGS_REPLY, 2);
      B[q] = IP_CT_TCP_FLAG_BE_LIBERAL;
      B[q + 1] = IP_CT_TCP_FLAG_BE_LIBERAL;
    }
    nestEnd(t);
    nestEnd(pi);
  }
  if (f.sctpState >= 0 || f.vtagO >= 0 || f.vtagR >= 0) {
    const pi = nestStart(CTA.PROTOINFO);
    const s = nestStart(CTA_PROTOINFO.SCTP);
    if (f.sctpState >= 0) u8(CTA_PROTOINFO_SCTP.STATE, f.sctpState);
    if (f.vtagO >= 0) u32be(CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, f.vtagO);
    if (f.vtagR >= 0) u32be(CTA_PROTOINFO_SCTP.VTAG_REPLY, f.vtagR);
    nestEnd(s);
    nestEnd(pi);
  }
  if (f.dccpState >= 0 || f.dccpRole >= 0) {
    const pi = nestStart(CTA.PROTOINFO);
    const d = nestStart(CTA_PROTOINFO.DCCP);
    if (f.dccpState >= 0) u8(CTA_PROTOINFO_DCCP.STATE, f.dccpState);
    if (f.dccpRole >= 0) u8(CTA_PROTOINFO_DCCP.ROLE, f.dccpRole);
    nestEnd(d);
    nestEnd(pi);
  }
  if (f.helper >= 0) {
    const h = nestStart(CTA.HELP);
    const q = hdr(CTA_HELP.NAME, f.helperLen + 1);
    for (let i = 0; i < f.helperLen; i++) B[q + i] = b[f.helper + i];
    B[q + f.helperLen] = 0;
    nestEnd(h);
  }
  if (srcNat) natRange(CTA.NAT_SRC, b, snatDiffers ? f.snat : f.ip, f.v6, !icmp && replyDport >= 0 && replyDport !== sport ? replyDport : -1);
  if (dstNat) natRange(CTA.NAT_DST, b, dnatDiffers ? f.dnat : f.ip + alen, f.v6, !icmp && replySport >= 0 && replySport !== dport ? replySport : -1);
  if (f.labels >= 0) {
    // wire: big-endian u32 words; kernel: host-order (little-endian) words
    const q = hdr(CTA.LABELS, f.labelsLen);
    for (let i = 0; i < f.labelsLen; i += 4) {
      B[q + i] = b[f.labels + i + 3];
      B[q + i + 1] = b[f.labels + i + 2];
      B[q + i + 2] = b[f.labels + i + 1];
      B[q + i + 3] = b[f.labels + i];
    }
    const m = hdr(CTA.LABELS_MASK, f.labelsLen);
    B.fill(0xff, m, m + f.labelsLen);
  }
  if (f.seqAdj >= 0) {
    seqAdj(CTA.SEQ_ADJ_ORIG, b, f.seqAdj);
    seqAdj(CTA.SEQ_ADJ_REPLY, b, f.seqAdj + 12);
  }
  if (f.masterIp >= 0) tuple(CTA.TUPLE_MASTER, b, f.masterIp, f.masterV6, f.masterProto < 0 ? 0 : f.masterProto, f.masterPort, false);
  if (f.synproxy >= 0 && (be32(b, f.synproxy) | be32(b, f.synproxy + 4) | be32(b, f.synproxy + 8)) !== 0) {
    // wire order: its, isn, tsoff
    const s = nestStart(CTA.SYNPROXY);
    u32be(CTA_SYNPROXY.ISN, be32(b, f.synproxy + 4));
    u32be(CTA_SYNPROXY.ITS, be32(b, f.synproxy));
    u32be(CTA_SYNPROXY.TSOFF, be32(b, f.synproxy + 8));
    nestEnd(s);
  }
  close(w);
  return true;
}

/** Layer-3 family of the scanned entry (2 or 10). */
export function scannedFamily(): number {
  return f.v6 ? 10 : 2;
}

/** Identity of the scanned entry (original tuple + zone): for the delete of a replace. */
export function writeScannedIdentity(w: NlWriter, b: Uint8Array): boolean {
  if (f.ip < 0 || f.proto === 0) return false;
  open(w, roomFor());
  const icmp = f.proto === IPPROTO.ICMP || f.proto === IPPROTO.ICMPV6;
  tuple(CTA.TUPLE_ORIG, b, f.ip, f.v6, f.proto, icmp ? -2 : f.port, false);
  if (f.zone > 0) u16be(CTA.ZONE, f.zone);
  close(w);
  return true;
}
