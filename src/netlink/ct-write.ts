// The one ctnetlink conntrack message encoder: FlowFields -> the attributes of a request, written
// straight into an NlWriter's buffer through a cursor (room reserved once per message) rather
// than through a method call with a bounds check per field. Same bytes as NlWriter's methods
// would write, padding zeroed. Shapes:
//  - create: what the kernel accepts in a CT_NEW that creates (read-only fields left out, the
//    reply tuple derived when missing, NAT ranges derived from the reply tuple, status fixed up);
//  - update: identity plus what the kernel lets an existing entry change;
//  - identity: original tuple and zone (get, delete);
//  - dump: every field, in the kernel's own dump order (to mirror captured kernel bytes).
// A writer fails (a negative CtWriteError, lastCtWriteError says which field) where the fields
// cannot be written; an adapter over it (ctnetlink.ts) names the field.
import type { NlWriter } from './attr.js';
import {
  AF_INET,
  AF_INET6,
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
  IPPROTO,
  IPS,
  IP_CT_TCP_FLAG_BE_LIBERAL,
  NLA,
} from './constants.js';
import {
  AddrKind,
  BAD_OFFSET,
  FlowFields,
  isIcmp,
  sameBytes,
  TupleFields,
  type NatFields,
  type SeqAdjFields,
  type SynproxyFields,
} from '../conntrack/flow-fields.js';
import { UnknownAt } from './ct-attrs.js';

/** Why a writer failed. */
export const enum CtWriteError {
  /** family is not AF_INET / AF_INET6 (create). */
  FAMILY = -1,
  /** An address is missing or not of the family: lastCtWriteError.source / .what. */
  ADDR = -2,
  /** No timeout (create: the kernel needs one). */
  TIMEOUT = -3,
  /** A u64 that could not be converted: lastCtWriteError.source. */
  U64 = -4,
}

/** The field a failed write could not use. */
export const enum CtSource {
  ORIG_SRC,
  ORIG_DST,
  REPLY_SRC,
  REPLY_DST,
  MASTER_SRC,
  MASTER_DST,
  NAT_SRC_MIN,
  NAT_SRC_MAX,
  NAT_DST_MIN,
  NAT_DST_MAX,
  DCCP_SEQ,
  TS_START,
  TS_STOP,
}

/** What made the last writer fail: the field, and the name an error message gives it. */
export const lastCtWriteError = { code: 0, source: CtSource.ORIG_SRC, what: '' };

const FAILED = new Error('ctnetlink write failed');

function fail(code: CtWriteError, source: CtSource, what: string): never {
  lastCtWriteError.code = code;
  lastCtWriteError.source = source;
  lastCtWriteError.what = what;
  throw FAILED;
}

// ------------------------------------------------------------------------------- cursor

let B: Buffer = Buffer.alloc(0);
let P = 0;

/** Makes room for `n` bytes at w.off and points the cursor there. */
function open(w: NlWriter, n: number): void {
  const p = w.raw(0, n); // reserves (grows the buffer if needed); the header it wrote is overwritten
  w.off = p - 4;
  B = w.buf;
  P = w.off;
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
  B[hdr(type, 1)] = v;
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

function bytes(type: number, b: Uint8Array, p: number, n: number): void {
  const q = hdr(type, n);
  for (let i = 0; i < n; i++) B[q + i] = b[p + i];
}

/** A u64 given as 8 big-endian bytes at b[p] (BAD_OFFSET: it could not be converted). */
function u64at(type: number, b: Uint8Array, p: number, source: CtSource): void {
  if (p === BAD_OFFSET) fail(CtWriteError.U64, source, '');
  bytes(type, b, p, 8);
}

/** A u64 given as a number (counters). */
function u64num(type: number, v: number): void {
  B.writeBigUInt64BE(BigInt(v), hdr(type, 8));
}

function strz(type: number, b: Uint8Array, p: number, n: number): void {
  const q = hdr(type, n + 1);
  for (let i = 0; i < n; i++) B[q + i] = b[p + i];
  B[q + n] = 0;
}

function nestStart(type: number): number {
  const o = P;
  const t = type | NLA.F_NESTED;
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

/** Bytes a request for `f` can take at most: the fixed parts (< 2 KiB) and what grows. */
function roomFor(f: FlowFields): number {
  let n = 2048 + f.helperLen + f.secctxLen + 2 * (f.labelsLen + f.labelsMaskLen);
  const u = f.unknown;
  for (let i = 0; i < u.count; i++) n += u.len[i] + 8;
  return n;
}

/**
 * Runs a shape's writer for `f` with the cursor at w.off (room for roomFor(f) reserved); moves
 * w.off past what it wrote. Returns 0, or the CtWriteError that stopped it (w.off unmoved).
 */
function run(w: NlWriter, f: FlowFields, room: number, write: (f: FlowFields) => void): number {
  open(w, room);
  try {
    write(f);
  } catch (err) {
    if (err === FAILED) return lastCtWriteError.code;
    throw err;
  }
  w.off = P;
  return 0;
}

// ------------------------------------------------------------------------------- parts

function addr(
  type: number,
  t: TupleFields,
  p: number,
  kind: AddrKind,
  v6: boolean,
  source: CtSource,
  what: string,
  end: string,
): void {
  if (kind !== (v6 ? AddrKind.V6 : AddrKind.V4)) fail(CtWriteError.ADDR, source, what + end);
  bytes(type, t.buf, p, v6 ? 16 : 4);
}

/**
 * A CTA_TUPLE_* nest; `src`/`dst` say where its addresses come from, `what` names the tuple.
 * Addresses follow the entry's family (IPv6 for AF_INET6, IPv4 otherwise).
 */
function tuple(type: number, t: TupleFields, v6: boolean, src: CtSource, dst: CtSource, what: string): void {
  const nest = nestStart(type);
  const ip = nestStart(CTA_TUPLE.IP);
  addr(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, t, t.src, t.srcKind, v6, src, what, '.src');
  addr(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, t, t.dst, t.dstKind, v6, dst, what, '.dst');
  nestEnd(ip);
  const proto = nestStart(CTA_TUPLE.PROTO);
  const p = t.proto;
  u8(CTA_PROTO.NUM, p);
  if (isIcmp(p)) {
    const v6p = p === IPPROTO.ICMPV6;
    // kernel dump order: id, type, code
    if (t.icmpId >= 0) u16be(v6p ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmpId);
    if (t.icmpType >= 0) u8(v6p ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmpType);
    if (t.icmpCode >= 0) u8(v6p ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmpCode);
  } else {
    if (t.sport >= 0) u16be(CTA_PROTO.SRC_PORT, t.sport);
    if (t.dport >= 0) u16be(CTA_PROTO.DST_PORT, t.dport);
  }
  nestEnd(proto);
  if (t.zone >= 0) u16be(CTA_TUPLE.ZONE, t.zone);
  nestEnd(nest);
}

function tcp(f: FlowFields, request: boolean, liberal: boolean): void {
  const pi = nestStart(CTA.PROTOINFO);
  const n = nestStart(CTA_PROTOINFO.TCP);
  if (f.tcpState >= 0) u8(CTA_PROTOINFO_TCP.STATE, f.tcpState);
  // the kernel only takes window scales as a pair
  if (f.wsO >= 0 && (!request || f.wsR >= 0)) u8(CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, f.wsO);
  if (f.wsR >= 0 && (!request || f.wsO >= 0)) u8(CTA_PROTOINFO_TCP.WSCALE_REPLY, f.wsR);
  const lib = liberal ? IP_CT_TCP_FLAG_BE_LIBERAL : 0;
  // In a request the mask says which flag bits to set; a dump reports mask 0, so a request sets
  // every bit to the dumped value unless the entry names its own mask.
  if (f.flagsO >= 0 || lib) tcpFlags(CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, f.flagsO, f.maskO, request, lib);
  if (f.flagsR >= 0 || lib) tcpFlags(CTA_PROTOINFO_TCP.FLAGS_REPLY, f.flagsR, f.maskR, request, lib);
  nestEnd(n);
  nestEnd(pi);
}

function tcpFlags(type: number, flags: number, mask: number, request: boolean, lib: number): void {
  const p = hdr(type, 2);
  B[p] = (flags < 0 ? 0 : flags) | lib;
  B[p + 1] = (mask >= 0 ? mask : request && flags >= 0 ? 0xff : 0) | lib;
}

function protoinfo(f: FlowFields, request: boolean, liberal: boolean): void {
  if (f.tcp || (liberal && f.orig.proto === IPPROTO.TCP)) tcp(f, request, liberal);
  if (f.sctp) {
    const pi = nestStart(CTA.PROTOINFO);
    const n = nestStart(CTA_PROTOINFO.SCTP);
    if (f.sctpState >= 0) u8(CTA_PROTOINFO_SCTP.STATE, f.sctpState);
    if (f.vtagO >= 0) u32be(CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, f.vtagO);
    if (f.vtagR >= 0) u32be(CTA_PROTOINFO_SCTP.VTAG_REPLY, f.vtagR);
    nestEnd(n);
    nestEnd(pi);
  }
  if (f.dccp) {
    const pi = nestStart(CTA.PROTOINFO);
    const n = nestStart(CTA_PROTOINFO.DCCP);
    if (f.dccpState >= 0) u8(CTA_PROTOINFO_DCCP.STATE, f.dccpState);
    if (f.dccpRole >= 0) u8(CTA_PROTOINFO_DCCP.ROLE, f.dccpRole);
    if (f.dccpSeq !== -1) u64at(CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ, f.buf, f.dccpSeq, CtSource.DCCP_SEQ);
    nestEnd(n);
    nestEnd(pi);
  }
}

function seqAdj(type: number, s: SeqAdjFields): void {
  const n = nestStart(type);
  u32be(CTA_SEQADJ.CORRECTION_POS, s.correctionPos);
  u32be(CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore);
  u32be(CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter);
  nestEnd(n);
}

function synproxy(sp: SynproxyFields): void {
  const s = nestStart(CTA.SYNPROXY);
  u32be(CTA_SYNPROXY.ISN, sp.isn);
  u32be(CTA_SYNPROXY.ITS, sp.its);
  u32be(CTA_SYNPROXY.TSOFF, sp.tsoff);
  nestEnd(s);
}

function name(nestType: number, nameType: number, b: Uint8Array, p: number, n: number): void {
  const h = nestStart(nestType);
  strz(nameType, b, p, n);
  nestEnd(h);
}

/** CTA_LABELS (the kernel's bytes) and CTA_LABELS_MASK (the entry's, or every bit of the labels). */
function labels(f: FlowFields, withMask: boolean): void {
  const lb = f.labelsBuf;
  const lp = f.labels;
  const n = f.labelsLen;
  if (f.labelsWire) {
    // sync wire: big-endian u32 words; kernel: host-order (little-endian) words
    const q = hdr(CTA.LABELS, n);
    for (let i = 0; i < n; i += 4) {
      B[q + i] = lb[lp + i + 3];
      B[q + i + 1] = lb[lp + i + 2];
      B[q + i + 2] = lb[lp + i + 1];
      B[q + i + 3] = lb[lp + i];
    }
  } else bytes(CTA.LABELS, lb, lp, n);
  if (!withMask) return;
  if (f.labelsMask >= 0) bytes(CTA.LABELS_MASK, f.buf, f.labelsMask, f.labelsMaskLen);
  else {
    const m = hdr(CTA.LABELS_MASK, n);
    B.fill(0xff, m, m + n);
  }
}

// ------------------------------------------------------------------------------- NAT ranges

/** A NAT range to write: addresses and ports, where the addresses come from. */
class NatRangeOut {
  present = false;
  buf: Uint8Array = B;
  minIp = -1;
  minKind = AddrKind.NONE;
  maxIp = -1;
  maxKind = AddrKind.NONE;
  minPort = -1;
  maxPort = -1;
  minSource = CtSource.NAT_SRC_MIN;
  maxSource = CtSource.NAT_SRC_MAX;

  /** An explicit range of the entry. */
  from(n: NatFields, buf: Uint8Array, src: boolean): void {
    this.present = n.present;
    this.buf = buf;
    this.minIp = n.minIp;
    this.minKind = n.minKind;
    this.maxIp = n.maxIp;
    this.maxKind = n.maxKind;
    this.minPort = n.minPort;
    this.maxPort = n.maxPort;
    this.minSource = src ? CtSource.NAT_SRC_MIN : CtSource.NAT_DST_MIN;
    this.maxSource = src ? CtSource.NAT_SRC_MAX : CtSource.NAT_DST_MAX;
  }

  /** One address (and maybe a port) of the reply tuple. */
  single(t: TupleFields, p: number, kind: AddrKind, port: number, source: CtSource): void {
    this.present = true;
    this.buf = t.buf;
    this.minIp = this.maxIp = p;
    this.minKind = this.maxKind = kind;
    this.minPort = this.maxPort = port;
    this.minSource = this.maxSource = source;
  }
}

const natSrc = new NatRangeOut();
const natDst = new NatRangeOut();

/** Not the same address (kind and bytes)? (The reply of an un-NATed flow points at the original's bytes.) */
function differs(a: TupleFields, ap: number, ak: AddrKind, b: TupleFields, bp: number, bk: AddrKind): boolean {
  if (ak !== bk) return true;
  if ((ak !== AddrKind.V4 && ak !== AddrKind.V6) || (ap === bp && a.buf === b.buf)) return false;
  return !sameBytes(a.buf, ap, b.buf, bp, ak === AddrKind.V6 ? 16 : 4);
}

/**
 * The NAT ranges a create asks for, into natSrc / natDst: the entry's own when it has any, else
 * deriveNat's.
 */
function natRanges(f: FlowFields): void {
  if (f.natSrc.present || f.natDst.present) {
    natSrc.from(f.natSrc, f.buf, true);
    natDst.from(f.natDst, f.buf, false);
  } else deriveNat(f);
}

/**
 * The NAT ranges that recreate the entry's translated reply tuple, into natSrc / natDst, detected
 * the way conntrackd detects NAT: the reply differs from the inverse of the original, in the
 * directions the status says are NATed (no status bit: both).
 */
export function deriveNat(f: FlowFields): void {
  natSrc.present = natDst.present = false;
  const r = f.reply;
  if (!r.present) return;
  const o = f.orig;
  const status = f.status < 0 ? 0 : f.status;
  const none = (status & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)) === 0;
  const icmp = isIcmp(o.proto);
  if (
    ((status & IPS.SRC_NAT_DONE) !== 0 || none) &&
    (differs(r, r.dst, r.dstKind, o, o.src, o.srcKind) || (!icmp && r.dport !== o.sport))
  ) {
    natSrc.single(r, r.dst, r.dstKind, !icmp && r.dport >= 0 && r.dport !== o.sport ? r.dport : -1, CtSource.REPLY_DST);
  }
  if (
    ((status & IPS.DST_NAT_DONE) !== 0 || none) &&
    (differs(r, r.src, r.srcKind, o, o.dst, o.dstKind) || (!icmp && r.sport !== o.dport))
  ) {
    natDst.single(r, r.src, r.srcKind, !icmp && r.sport >= 0 && r.sport !== o.dport ? r.sport : -1, CtSource.REPLY_SRC);
  }
}

/** The ranges deriveNat() found (valid until the next call). */
export function derivedNat(): { readonly src: NatRangeOut; readonly dst: NatRangeOut } {
  return { src: natSrc, dst: natDst };
}

function natAddr(
  type: number,
  n: NatRangeOut,
  p: number,
  kind: AddrKind,
  v6: boolean,
  source: CtSource,
  what: string,
): void {
  if (p < 0 && kind === AddrKind.NONE) return;
  if (kind !== (v6 ? AddrKind.V6 : AddrKind.V4)) fail(CtWriteError.ADDR, source, what);
  bytes(type, n.buf, p, v6 ? 16 : 4);
}

function nat(type: number, n: NatRangeOut, v6: boolean, what: string): void {
  const nest = nestStart(type);
  natAddr(v6 ? CTA_NAT.V6_MINIP : CTA_NAT.V4_MINIP, n, n.minIp, n.minKind, v6, n.minSource, what);
  natAddr(v6 ? CTA_NAT.V6_MAXIP : CTA_NAT.V4_MAXIP, n, n.maxIp, n.maxKind, v6, n.maxSource, what);
  if (n.minPort >= 0 || n.maxPort >= 0) {
    const p = nestStart(CTA_NAT.PROTO);
    if (n.minPort >= 0) u16be(CTA_PROTONAT.PORT_MIN, n.minPort);
    if (n.maxPort >= 0) u16be(CTA_PROTONAT.PORT_MAX, n.maxPort);
    nestEnd(p);
  }
  nestEnd(nest);
}

// ------------------------------------------------------------------------------- requests

/** Status bits the kernel lets a request carry: CONFIRMED set; EXPECTED, DYING and NAT bits off. */
export function requestStatus(status: number | undefined): number {
  const s = (status ?? 0) | IPS.CONFIRMED;
  // >>> 0: status is a u32, JS bit operators give int32 (bit 31 would make it negative)
  return (
    (s &
      ~(
        IPS.EXPECTED |
        IPS.DYING |
        IPS.SRC_NAT |
        IPS.DST_NAT |
        IPS.SRC_NAT_DONE |
        IPS.DST_NAT_DONE |
        IPS.TEMPLATE |
        IPS.UNTRACKED |
        IPS.OFFLOAD |
        IPS.HW_OFFLOAD
      )) >>>
    0
  );
}

export interface CreateOptions {
  /** Seconds for CTA_TIMEOUT; -1: the entry's own. */
  timeout: number;
  /** Force IP_CT_TCP_FLAG_BE_LIBERAL in both directions (what a failover commit wants). */
  liberal: boolean;
  /**
   * The request may update an entry the kernel already has: the mark goes even when it is 0
   * (a new entry has 0 anyway, an existing one may have another).
   */
  markAlways: boolean;
}

const inverse = new TupleFields();
let createOpts: CreateOptions = { timeout: -1, liberal: false, markAlways: false };

function create(f: FlowFields): void {
  const v6 = f.family === AF_INET6;
  const o = f.orig;
  natRanges(f);
  tuple(CTA.TUPLE_ORIG, o, v6, CtSource.ORIG_SRC, CtSource.ORIG_DST, 'orig');
  // with NAT the kernel computes the translated reply itself from the NAT ranges
  if (f.reply.present && !natSrc.present && !natDst.present)
    tuple(CTA.TUPLE_REPLY, f.reply, v6, CtSource.REPLY_SRC, CtSource.REPLY_DST, 'reply');
  else {
    inverse.invertOf(o);
    tuple(CTA.TUPLE_REPLY, inverse, v6, CtSource.ORIG_DST, CtSource.ORIG_SRC, 'reply');
  }
  if (f.zone >= 0) u16be(CTA.ZONE, f.zone);
  u32be(CTA.STATUS, requestStatus(f.status < 0 ? undefined : f.status));
  const timeout = createOpts.timeout >= 0 ? createOpts.timeout : f.timeout;
  if (timeout < 0) fail(CtWriteError.TIMEOUT, CtSource.ORIG_SRC, 'timeout');
  u32be(CTA.TIMEOUT, timeout);
  // a new entry starts with mark 0 and a zeroed synproxy extension: what equals that is left out
  // (fewer attributes for the kernel to parse on every create of a big commit)
  if (f.mark > 0 || createOpts.markAlways) u32be(CTA.MARK, f.mark > 0 ? f.mark : 0);
  protoinfo(f, true, createOpts.liberal);
  if (f.helper >= 0) name(CTA.HELP, CTA_HELP.NAME, f.helperBuf, f.helper, f.helperLen);
  if (natSrc.present) nat(CTA.NAT_SRC, natSrc, v6, 'natSrc');
  if (natDst.present) nat(CTA.NAT_DST, natDst, v6, 'natDst');
  if (f.labels >= 0) labels(f, true);
  if (f.seqO.present) seqAdj(CTA.SEQ_ADJ_ORIG, f.seqO);
  if (f.seqR.present) seqAdj(CTA.SEQ_ADJ_REPLY, f.seqR);
  if (f.master.present) tuple(CTA.TUPLE_MASTER, f.master, v6, CtSource.MASTER_SRC, CtSource.MASTER_DST, 'master');
  if (f.syn.present && (f.syn.isn || f.syn.its || f.syn.tsoff)) synproxy(f.syn);
}

/**
 * Writes the attributes of a CT_NEW create request for `f` (message header written by the
 * caller). Returns 0, or a CtWriteError (the caller should then `w.abort()`).
 */
export function writeCreate(w: NlWriter, f: FlowFields, opts: CreateOptions): number {
  if (f.family !== AF_INET && f.family !== AF_INET6) {
    lastCtWriteError.code = CtWriteError.FAMILY;
    return CtWriteError.FAMILY;
  }
  createOpts = opts;
  return run(w, f, roomFor(f), create);
}

/** Attributes that identify an entry (get/delete/update): original tuple and zone. */
function identity(f: FlowFields): void {
  tuple(CTA.TUPLE_ORIG, f.orig, f.family === AF_INET6, CtSource.ORIG_SRC, CtSource.ORIG_DST, 'orig');
  if (f.zone > 0) u16be(CTA.ZONE, f.zone);
}

export function writeIdentity(w: NlWriter, f: FlowFields): number {
  return run(w, f, roomFor(f), identity);
}

function update(f: FlowFields): void {
  identity(f);
  const timeout = createOpts.timeout >= 0 ? createOpts.timeout : f.timeout;
  if (timeout >= 0) u32be(CTA.TIMEOUT, timeout);
  if (f.mark >= 0) u32be(CTA.MARK, f.mark);
  protoinfo(f, true, createOpts.liberal);
  if (f.labels >= 0) labels(f, true);
}

/**
 * Attributes of an update request (CT_NEW without CREATE): identity plus what the kernel lets an
 * existing entry change (timeout, mark, protocol state, labels). NAT, helper, master and the
 * reply tuple are left out: the kernel answers EOPNOTSUPP/EBUSY to them on an update.
 */
export function writeUpdate(w: NlWriter, f: FlowFields, opts: CreateOptions): number {
  createOpts = opts;
  return run(w, f, roomFor(f), update);
}

function dump(f: FlowFields): void {
  const v6 = f.family === AF_INET6;
  const b = f.buf;
  tuple(CTA.TUPLE_ORIG, f.orig, v6, CtSource.ORIG_SRC, CtSource.ORIG_DST, 'orig');
  if (f.reply.present) tuple(CTA.TUPLE_REPLY, f.reply, v6, CtSource.REPLY_SRC, CtSource.REPLY_DST, 'reply');
  if (f.zone >= 0) u16be(CTA.ZONE, f.zone);
  if (f.status >= 0) u32be(CTA.STATUS, f.status);
  if (f.mark >= 0) u32be(CTA.MARK, f.mark);
  if (f.secctx >= 0) name(CTA.SECCTX, CTA_SECCTX.NAME, b, f.secctx, f.secctxLen);
  if (f.id >= 0) u32be(CTA.ID, f.id);
  if (f.use >= 0) u32be(CTA.USE, f.use);
  if (f.master.present) tuple(CTA.TUPLE_MASTER, f.master, v6, CtSource.MASTER_SRC, CtSource.MASTER_DST, 'master');
  if (f.timeout >= 0) u32be(CTA.TIMEOUT, f.timeout);
  protoinfo(f, false, false);
  if (f.countersO) counters(CTA.COUNTERS_ORIG, f.packetsO, f.bytesO);
  if (f.countersR) counters(CTA.COUNTERS_REPLY, f.packetsR, f.bytesR);
  if (f.tsStart !== -1 || f.tsStop !== -1) {
    const t = nestStart(CTA.TIMESTAMP);
    if (f.tsStart !== -1) u64at(CTA_TIMESTAMP.START, b, f.tsStart, CtSource.TS_START);
    if (f.tsStop !== -1) u64at(CTA_TIMESTAMP.STOP, b, f.tsStop, CtSource.TS_STOP);
    nestEnd(t);
  }
  if (f.helper >= 0) name(CTA.HELP, CTA_HELP.NAME, f.helperBuf, f.helper, f.helperLen);
  if (f.labels >= 0) labels(f, false);
  if (f.labelsMask >= 0) bytes(CTA.LABELS_MASK, b, f.labelsMask, f.labelsMaskLen);
  if (f.seqO.present) seqAdj(CTA.SEQ_ADJ_ORIG, f.seqO);
  if (f.seqR.present) seqAdj(CTA.SEQ_ADJ_REPLY, f.seqR);
  if (f.secmark >= 0) u32be(CTA.SECMARK, f.secmark);
  if (f.natSrc.present) {
    natSrc.from(f.natSrc, b, true);
    nat(CTA.NAT_SRC, natSrc, v6, 'natSrc');
  }
  if (f.natDst.present) {
    natDst.from(f.natDst, b, false);
    nat(CTA.NAT_DST, natDst, v6, 'natDst');
  }
  if (f.syn.present) synproxy(f.syn);
  // unknown top-level attributes go last; unknowns found inside nests stay in the model only
  const u = f.unknown;
  for (let i = 0; i < u.count; i++) if (u.path[i] === UnknownAt.TOP) bytes(u.type[i], b, u.off[i], u.len[i]);
}

function counters(type: number, packets: number, bytesCount: number): void {
  const n = nestStart(type);
  u64num(CTA_COUNTERS.PACKETS, packets);
  u64num(CTA_COUNTERS.BYTES, bytesCount);
  nestEnd(n);
}

/**
 * Writes every field of `f` in the order the kernel uses in dump replies (Linux 6.x
 * ctnetlink_fill_info), so scan -> write reproduces captured kernel bytes.
 */
export function writeDump(w: NlWriter, f: FlowFields): number {
  return run(w, f, roomFor(f), dump);
}

/** A tuple alone: the nest type and name writeTupleNest was given, the tuple as the flow's orig. */
const tupleOut = { type: 0, what: '' };
const tupleFlow = new FlowFields();

function tupleOnly(f: FlowFields): void {
  tuple(tupleOut.type, f.orig, f.family === AF_INET6, CtSource.ORIG_SRC, CtSource.ORIG_DST, tupleOut.what);
}

/** A tuple alone (an expectation's), as a nest of type `type`; `what` names it. */
export function writeTupleNest(w: NlWriter, type: number, t: TupleFields, family: number, what: string): number {
  tupleOut.type = type;
  tupleOut.what = what;
  tupleFlow.family = family;
  tupleFlow.orig = t;
  return run(w, tupleFlow, 512, tupleOnly);
}
