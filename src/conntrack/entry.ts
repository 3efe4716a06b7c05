// The conntrack entry model shared by the whole program: what the ctnetlink codec decodes into,
// what the caches store (or compact from), what `ct list --json` prints and `ct load` reads.
// Plain data only (JSON round-trips losslessly): numbers that may exceed 2^53 are decimal strings.

/** One direction of a flow (CTA_TUPLE_*). Addresses are textual (`192.0.2.1`, `2001:db8::1`). */
export interface Tuple {
  src: string;
  dst: string;
  /** IP protocol number (CTA_PROTO_NUM). */
  proto: number;
  /** TCP, UDP, UDPLite, SCTP, DCCP ports; for GRE the kernel puts the keys here too. */
  sport?: number;
  dport?: number;
  /** ICMP and ICMPv6 (CTA_PROTO_ICMP*_{TYPE,CODE,ID}). */
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  /** CTA_TUPLE_ZONE: a per-direction zone (rare; the entry zone is Entry.zone). */
  zone?: number;
}

export interface TcpInfo {
  state?: number;
  wscaleOrig?: number;
  wscaleReply?: number;
  /** CTA_PROTOINFO_TCP_FLAGS_*: {flags, mask} byte pairs. */
  flagsOrig?: number;
  maskOrig?: number;
  flagsReply?: number;
  maskReply?: number;
}

export interface SctpInfo {
  state?: number;
  vtagOrig?: number;
  vtagReply?: number;
}

export interface DccpInfo {
  state?: number;
  role?: number;
  /** BE64 in the kernel: decimal string. */
  handshakeSeq?: string;
}

export interface SeqAdj {
  correctionPos: number;
  offsetBefore: number;
  offsetAfter: number;
}

/** CTA_NAT_SRC / CTA_NAT_DST: a NAT request range (used when creating entries). */
export interface NatRange {
  minIp?: string;
  maxIp?: string;
  minPort?: number;
  maxPort?: number;
}

export interface Counters {
  packets: number;
  bytes: number;
}

/** An attribute the codec does not know, kept verbatim so nothing is lost. */
export interface RawAttr {
  /** Attribute type including NLA_F_NESTED / NLA_F_NET_BYTEORDER bits as sent. */
  type: number;
  /** Payload as lowercase hex. */
  data: string;
  /** Where it was found, e.g. "" (top level), "tuple-orig.proto", "protoinfo.tcp". */
  path?: string;
}

export interface Entry {
  /** Layer-3 family: 2 (AF_INET) or 10 (AF_INET6). */
  family: number;
  orig: Tuple;
  reply?: Tuple;
  /** CTA_TUPLE_MASTER: original tuple of the master connection (RELATED entries). */
  master?: Tuple;
  status?: number;
  /** Seconds left. */
  timeout?: number;
  mark?: number;
  zone?: number;
  use?: number;
  id?: number;
  secmark?: number;
  secctx?: string;
  helper?: string;
  /** CTA_LABELS bitmap as lowercase hex, in the kernel's byte layout (host-order u32 words). */
  labels?: string;
  /** CTA_LABELS_MASK (requests only). */
  labelsMask?: string;
  tcp?: TcpInfo;
  sctp?: SctpInfo;
  dccp?: DccpInfo;
  natSrc?: NatRange;
  natDst?: NatRange;
  seqAdjOrig?: SeqAdj;
  seqAdjReply?: SeqAdj;
  countersOrig?: Counters;
  countersReply?: Counters;
  /** CTA_TIMESTAMP start/stop in ns since the epoch, decimal strings. */
  timestampStart?: string;
  timestampStop?: string;
  synproxy?: { isn: number; its: number; tsoff: number };
  unknown?: RawAttr[];
}

/** Expectation (CTA_EXPECT_*). */
export interface Expect {
  family: number;
  master: Tuple;
  tuple: Tuple;
  mask: Tuple;
  timeout?: number;
  id?: number;
  helper?: string;
  zone?: number;
  flags?: number;
  class?: number;
  natDir?: number;
  natTuple?: Tuple;
  fn?: string;
  unknown?: RawAttr[];
}

export type EventType = 'NEW' | 'UPDATE' | 'DESTROY';
