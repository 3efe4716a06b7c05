// The flat form of one flow that every conntrack codec reads into and writes from: the sync wire
// scan and writer (sync/ct-wire.ts), the ctnetlink scan and writers (netlink/ct-scan.ts,
// netlink/ct-write.ts), and the Entry adapters (conntrack/flow-entry.ts). A field here means what
// the Entry field of the same name means (conntrack/entry.ts); it holds numbers and offsets only,
// so a scan fills it without allocating: addresses, names and byte strings stay in the buffer
// they came from, as an offset into it. Absent is -1 (numbers, offsets) or false (groups).
//
// Converting a message of one format into the other is scan(A) -> FlowFields -> write(B); an
// update merged into a stored entry is scan both, mergeFields, write.
import { IPPROTO } from '../netlink/constants.js';

export const EMPTY = new Uint8Array(0);

/**
 * Which address an address offset points at. BAD: text that does not parse as an address of
 * the entry's family (only from an Entry; a writer that needs it fails, its adapter says why).
 */
export const enum AddrKind {
  NONE = 0,
  BAD = 1,
  V4 = 4,
  V6 = 6,
}

/** An offset of a value that could not be converted (from an Entry): a writer needing it fails. */
export const BAD_OFFSET = -2;

/** ICMP or ICMPv6: the tuple is identified by type, code and id instead of ports. */
export function isIcmp(proto: number): boolean {
  return proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
}

/**
 * The protocols whose ports the sync wire carries (NTA_PORT); they are also the ones whose ports
 * are part of the flow key (conntrack/key.ts).
 */
export function hasWirePorts(proto: number): boolean {
  return proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.SCTP || proto === IPPROTO.DCCP;
}

/** ICMP echo request/reply etc.: the reply direction's type, as the kernel inverts it. */
const ICMP_INVERSE: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
const ICMPV6_INVERSE: Record<number, number> = { 128: 129, 129: 128, 139: 140, 140: 139 };

/** The ICMP/ICMPv6 type of the reply direction (the type itself when it has no inverse). */
export function inverseIcmpType(proto: number, type: number): number {
  return (proto === IPPROTO.ICMP ? ICMP_INVERSE : ICMPV6_INVERSE)[type] ?? type;
}

/** One tuple (Tuple): addresses as offsets into `buf` with their kind; -1 for an absent value. */
export class TupleFields {
  buf: Uint8Array = EMPTY;
  /** The tuple exists (Entry.reply / Entry.master defined). */
  present = false;
  src = -1;
  srcKind: AddrKind = AddrKind.NONE;
  dst = -1;
  dstKind: AddrKind = AddrKind.NONE;
  /** 0 when absent, as Tuple.proto. */
  proto = 0;
  sport = -1;
  dport = -1;
  icmpType = -1;
  icmpCode = -1;
  icmpId = -1;
  /** CTA_TUPLE_ZONE. */
  zone = -1;

  clear(buf: Uint8Array): void {
    this.buf = buf;
    this.present = false;
    this.src = this.dst = -1;
    this.srcKind = this.dstKind = AddrKind.NONE;
    this.proto = 0;
    this.sport = this.dport = this.icmpType = this.icmpCode = this.icmpId = this.zone = -1;
  }

  /** This tuple becomes the reverse direction of `t` (invertTuple: what the kernel computes without NAT). */
  invertOf(t: TupleFields): void {
    this.clear(t.buf);
    this.present = true;
    this.src = t.dst;
    this.srcKind = t.dstKind;
    this.dst = t.src;
    this.dstKind = t.srcKind;
    const proto = t.proto;
    this.proto = proto;
    if (isIcmp(proto)) {
      this.icmpType = t.icmpType >= 0 ? inverseIcmpType(proto, t.icmpType) : -1;
      this.icmpCode = t.icmpCode;
      this.icmpId = t.icmpId;
    } else {
      this.sport = t.dport;
      this.dport = t.sport;
    }
  }
}

/** A NAT range (NatRange): addresses as offsets into the flow's `buf`. */
export class NatFields {
  present = false;
  minIp = -1;
  minKind: AddrKind = AddrKind.NONE;
  maxIp = -1;
  maxKind: AddrKind = AddrKind.NONE;
  minPort = -1;
  maxPort = -1;

  clear(): void {
    this.present = false;
    this.minIp = this.maxIp = this.minPort = this.maxPort = -1;
    this.minKind = this.maxKind = AddrKind.NONE;
  }
}

/**
 * Attributes kept as they are (Entry.unknown): raw type, payload offset and length in the flow's
 * `buf`, and where they were found (a path code, see netlink/ct-scan.ts).
 */
export class RawAttrList {
  count = 0;
  type = new Uint16Array(8);
  off = new Int32Array(8);
  len = new Int32Array(8);
  path = new Uint16Array(8);

  add(type: number, off: number, len: number, path: number): void {
    const i = this.count;
    if (i === this.type.length) this.grow();
    this.type[i] = type;
    this.off[i] = off;
    this.len[i] = len;
    this.path[i] = path;
    this.count = i + 1;
  }

  private grow(): void {
    const n = this.type.length * 2;
    const type = new Uint16Array(n);
    const off = new Int32Array(n);
    const len = new Int32Array(n);
    const path = new Uint16Array(n);
    type.set(this.type);
    off.set(this.off);
    len.set(this.len);
    path.set(this.path);
    this.type = type;
    this.off = off;
    this.len = len;
    this.path = path;
  }
}

/**
 * One flow (Entry), flat. Offsets without a buffer of their own point into `buf`. u64 values
 * (dccpSeq, tsStart, tsStop) are offsets of 8 big-endian bytes.
 */
export class FlowFields {
  family = 0;
  orig = new TupleFields();
  reply = new TupleFields();
  master = new TupleFields();
  buf: Uint8Array = EMPTY;
  status = -1;
  timeout = -1;
  mark = -1;
  zone = -1;
  use = -1;
  id = -1;
  secmark = -1;
  secctx = -1;
  secctxLen = 0;
  helperBuf: Uint8Array = EMPTY;
  helper = -1;
  helperLen = 0;
  labelsBuf: Uint8Array = EMPTY;
  labels = -1;
  labelsLen = 0;
  /** Labels as the sync wire has them (big-endian u32 words) rather than the kernel's bytes. */
  labelsWire = false;
  /** Entry.labels is not an even run of hex digits (the bytes hold what Buffer.from(hex) makes of it). */
  labelsBad = false;
  labelsMask = -1;
  labelsMaskLen = 0;
  tcp = false;
  tcpState = -1;
  wsO = -1;
  wsR = -1;
  flagsO = -1;
  /** -1 also for a mask of 0 (what dumps carry): "no mask". */
  maskO = -1;
  flagsR = -1;
  maskR = -1;
  sctp = false;
  sctpState = -1;
  vtagO = -1;
  vtagR = -1;
  dccp = false;
  dccpState = -1;
  dccpRole = -1;
  dccpSeq = -1;
  readonly natSrc = new NatFields();
  readonly natDst = new NatFields();
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
  countersO = false;
  packetsO = 0;
  bytesO = 0;
  countersR = false;
  packetsR = 0;
  bytesR = 0;
  tsStart = -1;
  tsStop = -1;
  readonly unknown = new RawAttrList();
  /** Sync wire scan only: presence bits of attribute ids 0..31. */
  seenLo = 0;
  /** Sync wire scan only: presence of id 32 (ZONE). */
  seenHi = 0;

  /**
   * The rarely present fields may hold a value (set by whoever writes one of them: secmark,
   * secctx, labelsMask, dccpSeq, natSrc, natDst, counters, timestamps). clear() resets them only
   * then: most messages have none, and the clear is on every kernel event's path.
   */
  rare = false;

  /**
   * Forgets everything: the flow is empty until a scan or a load fills it. The tuples are only
   * marked absent: whoever fills one clears it first.
   */
  clear(buf: Uint8Array): void {
    this.family = 0;
    this.orig.present = this.reply.present = this.master.present = false;
    this.buf = this.helperBuf = this.labelsBuf = buf;
    this.status = this.timeout = this.mark = this.zone = this.use = this.id = -1;
    this.helper = this.labels = -1;
    this.helperLen = this.labelsLen = 0;
    this.labelsWire = this.labelsBad = false;
    this.tcp = this.sctp = this.dccp = false;
    this.tcpState = this.wsO = this.wsR = this.flagsO = this.maskO = this.flagsR = this.maskR = -1;
    this.sctpState = this.vtagO = this.vtagR = this.dccpState = this.dccpRole = -1;
    this.seqO = this.seqR = this.syn = false;
    this.unknown.count = 0;
    this.seenLo = this.seenHi = 0;
    this.forgetRare();
  }

  /** Forgets the rarely present fields, if one is set. */
  forgetRare(): void {
    if (this.rare) this.clearRare();
  }

  private clearRare(): void {
    this.rare = false;
    this.secmark = this.secctx = this.labelsMask = this.dccpSeq = this.tsStart = this.tsStop = -1;
    this.secctxLen = this.labelsMaskLen = 0;
    this.natSrc.clear();
    this.natDst.clear();
    this.countersO = this.countersR = false;
  }
}

/**
 * mergeEntry(old, upd) (cache/sync-cache.ts) for what the sync wire carries: each field the update
 * has wins, tcp/sctp/dccp field by field; the original tuple is the update's. `m` is a view:
 * its tuples are the inputs' (never clear() it). The fields the sync wire does not carry are left
 * as they are: `old` comes from stored sync attributes, which never have them.
 */
export function mergeFields(m: FlowFields, old: FlowFields, upd: FlowFields): void {
  m.family = upd.family;
  m.orig = upd.orig;
  m.reply = upd.reply.present ? upd.reply : old.reply;
  m.master = upd.master.present ? upd.master : old.master;
  m.status = upd.status >= 0 ? upd.status : old.status;
  m.timeout = upd.timeout >= 0 ? upd.timeout : old.timeout;
  m.mark = upd.mark >= 0 ? upd.mark : old.mark;
  m.zone = upd.zone >= 0 ? upd.zone : old.zone;
  m.tcp = upd.tcp || old.tcp;
  m.tcpState = upd.tcpState >= 0 ? upd.tcpState : old.tcpState;
  m.wsO = upd.wsO >= 0 ? upd.wsO : old.wsO;
  m.wsR = upd.wsR >= 0 ? upd.wsR : old.wsR;
  m.sctp = upd.sctp || old.sctp;
  m.sctpState = upd.sctpState >= 0 ? upd.sctpState : old.sctpState;
  m.vtagO = upd.vtagO >= 0 ? upd.vtagO : old.vtagO;
  m.vtagR = upd.vtagR >= 0 ? upd.vtagR : old.vtagR;
  m.dccp = upd.dccp || old.dccp;
  m.dccpState = upd.dccpState >= 0 ? upd.dccpState : old.dccpState;
  m.dccpRole = upd.dccpRole >= 0 ? upd.dccpRole : old.dccpRole;
  const h = upd.helper >= 0 ? upd : old;
  m.helperBuf = h.helperBuf;
  m.helper = h.helper;
  m.helperLen = h.helperLen;
  const l = upd.labels >= 0 ? upd : old;
  m.labelsBuf = l.labelsBuf;
  m.labels = l.labels;
  m.labelsLen = l.labelsLen;
  m.labelsWire = l.labelsWire;
  m.labelsBad = l.labelsBad;
  const so = upd.seqO ? upd : old;
  m.seqO = so.seqO;
  m.seqO0 = so.seqO0;
  m.seqO1 = so.seqO1;
  m.seqO2 = so.seqO2;
  const sr = upd.seqR ? upd : old;
  m.seqR = sr.seqR;
  m.seqR0 = sr.seqR0;
  m.seqR1 = sr.seqR1;
  m.seqR2 = sr.seqR2;
  const sy = upd.syn ? upd : old;
  m.syn = sy.syn;
  m.synIsn = sy.synIsn;
  m.synIts = sy.synIts;
  m.synTsoff = sy.synTsoff;
}

/** Same address bytes? (`n` = 4 or 16) */
export function sameBytes(a: Uint8Array, ap: number, b: Uint8Array, bp: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ap + i] !== b[bp + i]) return false;
  return true;
}

/** Copies n bytes. (A byte loop beats subarray + set for the few bytes of an address.) */
export function copyBytes(from: Uint8Array, p: number, to: Uint8Array, q: number, n: number): void {
  for (let i = 0; i < n; i++) to[q + i] = from[p + i];
}
