// The attributes of a ctnetlink conntrack message (nfnetlink_conntrack.h), as tables: per
// attribute the nest it lives in, its type, what the decoder calls it in an error, the payload
// bytes it requires, its encoding and the FlowFields path it lands in. The scan (ct-scan.ts)
// takes names and lengths from here; the writers (ct-write.ts) write each one;
// test/unit/netlink/ct-attrs.test.ts holds both to every row.
//
// Layout: netlink attributes (u16 length and type in host order, little-endian here; payload
// padded to 4 bytes), nested ones flagged NLA_F_NESTED; payload numbers are big-endian.
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

/** Where an attribute lives: Entry.unknown's path of the nest ('tuple' for all three tuples). */
export type CtNest =
  | ''
  | 'tuple'
  | 'tuple.ip'
  | 'tuple.proto'
  | 'protoinfo'
  | 'protoinfo.tcp'
  | 'protoinfo.sctp'
  | 'protoinfo.dccp'
  | 'help'
  | 'secctx'
  | 'counters'
  | 'timestamp'
  | 'seqadj'
  | 'nat'
  | 'nat.proto'
  | 'synproxy';

export interface CtAttr {
  nest: CtNest;
  type: number;
  /** How decodeConntrack names it when it is too short. */
  name: string;
  /** Payload bytes the decoder requires (0: any). */
  min: number;
  /** A shorter one: the message is malformed ('error'), or the attribute is kept as unknown ('keep'). */
  short: 'error' | 'keep';
  /** Payload: a nest, a big-endian number, an address, a NUL-terminated string, or bytes. */
  kind: 'nest' | 'u8' | 'u16' | 'u32' | 'u64' | 'flags' | 'v4' | 'v6' | 'strz' | 'bytes';
  /**
   * The FlowFields path it lands in (for the tuple, NAT, seq-adj and synproxy nests: in the
   * object of that nest); '' for a nest.
   */
  field: string;
}

function a(
  nest: CtNest,
  type: number,
  name: string,
  min: number,
  kind: CtAttr['kind'],
  field: string,
  short: CtAttr['short'] = 'error',
): CtAttr {
  return Object.freeze({ nest, type, name, min, short, kind, field });
}

// ---- the message itself

export const CT_TUPLE_ORIG = a('', CTA.TUPLE_ORIG, 'CTA_TUPLE_ORIG', 0, 'nest', 'orig');
export const CT_TUPLE_REPLY = a('', CTA.TUPLE_REPLY, 'CTA_TUPLE_REPLY', 0, 'nest', 'reply');
export const CT_TUPLE_MASTER = a('', CTA.TUPLE_MASTER, 'CTA_TUPLE_MASTER', 0, 'nest', 'master');
export const CT_STATUS = a('', CTA.STATUS, 'CTA_STATUS', 4, 'u32', 'status');
export const CT_PROTOINFO = a('', CTA.PROTOINFO, 'CTA_PROTOINFO', 0, 'nest', '');
export const CT_HELP = a('', CTA.HELP, 'CTA_HELP', 0, 'nest', '');
export const CT_NAT_SRC = a('', CTA.NAT_SRC, 'CTA_NAT_SRC', 0, 'nest', 'natSrc');
export const CT_TIMEOUT = a('', CTA.TIMEOUT, 'CTA_TIMEOUT', 4, 'u32', 'timeout');
export const CT_MARK = a('', CTA.MARK, 'CTA_MARK', 4, 'u32', 'mark');
export const CT_COUNTERS_ORIG = a('', CTA.COUNTERS_ORIG, 'CTA_COUNTERS_ORIG', 0, 'nest', 'countersO');
export const CT_COUNTERS_REPLY = a('', CTA.COUNTERS_REPLY, 'CTA_COUNTERS_REPLY', 0, 'nest', 'countersR');
export const CT_USE = a('', CTA.USE, 'CTA_USE', 4, 'u32', 'use');
export const CT_ID = a('', CTA.ID, 'CTA_ID', 4, 'u32', 'id');
export const CT_NAT_DST = a('', CTA.NAT_DST, 'CTA_NAT_DST', 0, 'nest', 'natDst');
export const CT_SEQ_ADJ_ORIG = a('', CTA.SEQ_ADJ_ORIG, 'CTA_SEQ_ADJ_ORIG', 0, 'nest', 'seqO');
export const CT_SEQ_ADJ_REPLY = a('', CTA.SEQ_ADJ_REPLY, 'CTA_SEQ_ADJ_REPLY', 0, 'nest', 'seqR');
export const CT_SECMARK = a('', CTA.SECMARK, 'CTA_SECMARK', 4, 'u32', 'secmark');
export const CT_ZONE = a('', CTA.ZONE, 'CTA_ZONE', 2, 'u16', 'zone');
export const CT_SECCTX = a('', CTA.SECCTX, 'CTA_SECCTX', 0, 'nest', '');
export const CT_TIMESTAMP = a('', CTA.TIMESTAMP, 'CTA_TIMESTAMP', 0, 'nest', '');
export const CT_LABELS = a('', CTA.LABELS, 'CTA_LABELS', 0, 'bytes', 'labels');
export const CT_LABELS_MASK = a('', CTA.LABELS_MASK, 'CTA_LABELS_MASK', 0, 'bytes', 'labelsMask');
export const CT_SYNPROXY = a('', CTA.SYNPROXY, 'CTA_SYNPROXY', 0, 'nest', 'syn');

// ---- a tuple (CTA_TUPLE_ORIG / _REPLY / _MASTER)

export const TUPLE_IP = a('tuple', CTA_TUPLE.IP, 'CTA_TUPLE_IP', 0, 'nest', '');
export const TUPLE_PROTO = a('tuple', CTA_TUPLE.PROTO, 'CTA_TUPLE_PROTO', 0, 'nest', '');
export const TUPLE_ZONE = a('tuple', CTA_TUPLE.ZONE, 'CTA_TUPLE_ZONE', 2, 'u16', 'zone');
export const IP_V4_SRC = a('tuple.ip', CTA_IP.V4_SRC, 'CTA_IP_V4_SRC', 4, 'v4', 'src');
export const IP_V4_DST = a('tuple.ip', CTA_IP.V4_DST, 'CTA_IP_V4_DST', 4, 'v4', 'dst');
export const IP_V6_SRC = a('tuple.ip', CTA_IP.V6_SRC, 'CTA_IP_V6_SRC', 16, 'v6', 'src');
export const IP_V6_DST = a('tuple.ip', CTA_IP.V6_DST, 'CTA_IP_V6_DST', 16, 'v6', 'dst');
export const PROTO_NUM = a('tuple.proto', CTA_PROTO.NUM, 'CTA_PROTO_NUM', 1, 'u8', 'proto');
export const PROTO_SRC_PORT = a('tuple.proto', CTA_PROTO.SRC_PORT, 'CTA_PROTO_SRC_PORT', 2, 'u16', 'sport');
export const PROTO_DST_PORT = a('tuple.proto', CTA_PROTO.DST_PORT, 'CTA_PROTO_DST_PORT', 2, 'u16', 'dport');
export const PROTO_ICMP_ID = a('tuple.proto', CTA_PROTO.ICMP_ID, 'CTA_PROTO_ICMP_ID', 2, 'u16', 'icmpId');
export const PROTO_ICMP_TYPE = a('tuple.proto', CTA_PROTO.ICMP_TYPE, 'CTA_PROTO_ICMP_TYPE', 1, 'u8', 'icmpType');
export const PROTO_ICMP_CODE = a('tuple.proto', CTA_PROTO.ICMP_CODE, 'CTA_PROTO_ICMP_CODE', 1, 'u8', 'icmpCode');
// the decoder names the ICMPv6 ones as their ICMP counterparts
export const PROTO_ICMPV6_ID = a('tuple.proto', CTA_PROTO.ICMPV6_ID, 'CTA_PROTO_ICMP_ID', 2, 'u16', 'icmpId');
export const PROTO_ICMPV6_TYPE = a('tuple.proto', CTA_PROTO.ICMPV6_TYPE, 'CTA_PROTO_ICMP_TYPE', 1, 'u8', 'icmpType');
export const PROTO_ICMPV6_CODE = a('tuple.proto', CTA_PROTO.ICMPV6_CODE, 'CTA_PROTO_ICMP_CODE', 1, 'u8', 'icmpCode');

// ---- protocol info

export const PROTOINFO_TCP = a('protoinfo', CTA_PROTOINFO.TCP, 'CTA_PROTOINFO_TCP', 0, 'nest', 'tcp');
export const PROTOINFO_DCCP = a('protoinfo', CTA_PROTOINFO.DCCP, 'CTA_PROTOINFO_DCCP', 0, 'nest', 'dccp');
export const PROTOINFO_SCTP = a('protoinfo', CTA_PROTOINFO.SCTP, 'CTA_PROTOINFO_SCTP', 0, 'nest', 'sctp');
export const TCP_STATE = a('protoinfo.tcp', CTA_PROTOINFO_TCP.STATE, 'TCP state', 1, 'u8', 'tcpState');
export const TCP_WSCALE_ORIGINAL = a('protoinfo.tcp', CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, 'TCP wscale', 1, 'u8', 'wsO');
export const TCP_WSCALE_REPLY = a('protoinfo.tcp', CTA_PROTOINFO_TCP.WSCALE_REPLY, 'TCP wscale', 1, 'u8', 'wsR');
/** struct nf_ct_tcp_flags: flags, then mask (a mask of 0 means none). */
export const TCP_FLAGS_ORIGINAL = a(
  'protoinfo.tcp',
  CTA_PROTOINFO_TCP.FLAGS_ORIGINAL,
  'TCP flags',
  2,
  'flags',
  'flagsO',
);
export const TCP_FLAGS_REPLY = a('protoinfo.tcp', CTA_PROTOINFO_TCP.FLAGS_REPLY, 'TCP flags', 2, 'flags', 'flagsR');
export const SCTP_STATE = a('protoinfo.sctp', CTA_PROTOINFO_SCTP.STATE, 'SCTP state', 1, 'u8', 'sctpState');
export const SCTP_VTAG_ORIGINAL = a('protoinfo.sctp', CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, 'SCTP vtag', 4, 'u32', 'vtagO');
export const SCTP_VTAG_REPLY = a('protoinfo.sctp', CTA_PROTOINFO_SCTP.VTAG_REPLY, 'SCTP vtag', 4, 'u32', 'vtagR');
export const DCCP_STATE = a('protoinfo.dccp', CTA_PROTOINFO_DCCP.STATE, 'DCCP state', 1, 'u8', 'dccpState');
export const DCCP_ROLE = a('protoinfo.dccp', CTA_PROTOINFO_DCCP.ROLE, 'DCCP role', 1, 'u8', 'dccpRole');
export const DCCP_HANDSHAKE_SEQ = a(
  'protoinfo.dccp',
  CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ,
  'DCCP handshake seq',
  8,
  'u64',
  'dccpSeq',
);

// ---- the other nests

export const HELP_NAME = a('help', CTA_HELP.NAME, 'CTA_HELP_NAME', 0, 'strz', 'helper');
export const SECCTX_NAME = a('secctx', CTA_SECCTX.NAME, 'CTA_SECCTX_NAME', 0, 'strz', 'secctx');
/** 64 bits; a 4-byte one is read as 32 bits. */
export const COUNTERS_PACKETS = a('counters', CTA_COUNTERS.PACKETS, 'CTA_COUNTERS_PACKETS', 4, 'u64', 'packets');
export const COUNTERS_BYTES = a('counters', CTA_COUNTERS.BYTES, 'CTA_COUNTERS_BYTES', 4, 'u64', 'bytes');
export const TIMESTAMP_START = a('timestamp', CTA_TIMESTAMP.START, 'CTA_TIMESTAMP_START', 8, 'u64', 'tsStart', 'keep');
export const TIMESTAMP_STOP = a('timestamp', CTA_TIMESTAMP.STOP, 'CTA_TIMESTAMP_STOP', 8, 'u64', 'tsStop', 'keep');
/** Every attribute of a seq-adj nest must carry 4 bytes, known or not. */
export const SEQADJ_CORRECTION_POS = a('seqadj', CTA_SEQADJ.CORRECTION_POS, 'seq-adj', 4, 'u32', 'correctionPos');
export const SEQADJ_OFFSET_BEFORE = a('seqadj', CTA_SEQADJ.OFFSET_BEFORE, 'seq-adj', 4, 'u32', 'offsetBefore');
export const SEQADJ_OFFSET_AFTER = a('seqadj', CTA_SEQADJ.OFFSET_AFTER, 'seq-adj', 4, 'u32', 'offsetAfter');
export const NAT_V4_MINIP = a('nat', CTA_NAT.V4_MINIP, 'NAT ip', 4, 'v4', 'minIp');
export const NAT_V4_MAXIP = a('nat', CTA_NAT.V4_MAXIP, 'NAT ip', 4, 'v4', 'maxIp');
export const NAT_V6_MINIP = a('nat', CTA_NAT.V6_MINIP, 'NAT ip', 16, 'v6', 'minIp');
export const NAT_V6_MAXIP = a('nat', CTA_NAT.V6_MAXIP, 'NAT ip', 16, 'v6', 'maxIp');
export const NAT_PROTO = a('nat', CTA_NAT.PROTO, 'CTA_NAT_PROTO', 0, 'nest', '');
export const PROTONAT_PORT_MIN = a(
  'nat.proto',
  CTA_PROTONAT.PORT_MIN,
  'CTA_PROTONAT_PORT_MIN',
  2,
  'u16',
  'minPort',
  'keep',
);
export const PROTONAT_PORT_MAX = a(
  'nat.proto',
  CTA_PROTONAT.PORT_MAX,
  'CTA_PROTONAT_PORT_MAX',
  2,
  'u16',
  'maxPort',
  'keep',
);
/** Every attribute of a synproxy nest must carry 4 bytes, known or not. */
export const SYNPROXY_ISN = a('synproxy', CTA_SYNPROXY.ISN, 'synproxy', 4, 'u32', 'isn');
export const SYNPROXY_ITS = a('synproxy', CTA_SYNPROXY.ITS, 'synproxy', 4, 'u32', 'its');
export const SYNPROXY_TSOFF = a('synproxy', CTA_SYNPROXY.TSOFF, 'synproxy', 4, 'u32', 'tsoff');

/** Every attribute the codec knows, in the order of the nests above. */
export const CT_NETLINK_ATTRS: readonly CtAttr[] = [
  CT_TUPLE_ORIG,
  CT_TUPLE_REPLY,
  CT_TUPLE_MASTER,
  CT_STATUS,
  CT_PROTOINFO,
  CT_HELP,
  CT_NAT_SRC,
  CT_TIMEOUT,
  CT_MARK,
  CT_COUNTERS_ORIG,
  CT_COUNTERS_REPLY,
  CT_USE,
  CT_ID,
  CT_NAT_DST,
  CT_SEQ_ADJ_ORIG,
  CT_SEQ_ADJ_REPLY,
  CT_SECMARK,
  CT_ZONE,
  CT_SECCTX,
  CT_TIMESTAMP,
  CT_LABELS,
  CT_LABELS_MASK,
  CT_SYNPROXY,
  TUPLE_IP,
  TUPLE_PROTO,
  TUPLE_ZONE,
  IP_V4_SRC,
  IP_V4_DST,
  IP_V6_SRC,
  IP_V6_DST,
  PROTO_NUM,
  PROTO_SRC_PORT,
  PROTO_DST_PORT,
  PROTO_ICMP_ID,
  PROTO_ICMP_TYPE,
  PROTO_ICMP_CODE,
  PROTO_ICMPV6_ID,
  PROTO_ICMPV6_TYPE,
  PROTO_ICMPV6_CODE,
  PROTOINFO_TCP,
  PROTOINFO_DCCP,
  PROTOINFO_SCTP,
  TCP_STATE,
  TCP_WSCALE_ORIGINAL,
  TCP_WSCALE_REPLY,
  TCP_FLAGS_ORIGINAL,
  TCP_FLAGS_REPLY,
  SCTP_STATE,
  SCTP_VTAG_ORIGINAL,
  SCTP_VTAG_REPLY,
  DCCP_STATE,
  DCCP_ROLE,
  DCCP_HANDSHAKE_SEQ,
  HELP_NAME,
  SECCTX_NAME,
  COUNTERS_PACKETS,
  COUNTERS_BYTES,
  TIMESTAMP_START,
  TIMESTAMP_STOP,
  SEQADJ_CORRECTION_POS,
  SEQADJ_OFFSET_BEFORE,
  SEQADJ_OFFSET_AFTER,
  NAT_V4_MINIP,
  NAT_V4_MAXIP,
  NAT_V6_MINIP,
  NAT_V6_MAXIP,
  NAT_PROTO,
  PROTONAT_PORT_MIN,
  PROTONAT_PORT_MAX,
  SYNPROXY_ISN,
  SYNPROXY_ITS,
  SYNPROXY_TSOFF,
];

/**
 * Where an unknown attribute was found, as a code: nest * 4 + level, level 0 the nest itself,
 * 1 its '.ip' and 2 its '.proto' part. CALLER: a tuple decoded for another message (an
 * expectation's), named by the caller.
 */
export const enum UnknownAt {
  TOP = 0,
  TUPLE_ORIG = 1,
  TUPLE_REPLY = 2,
  TUPLE_MASTER = 3,
  PROTOINFO = 4,
  PROTOINFO_TCP = 5,
  PROTOINFO_SCTP = 6,
  PROTOINFO_DCCP = 7,
  HELP = 8,
  SECCTX = 9,
  COUNTERS_ORIG = 10,
  COUNTERS_REPLY = 11,
  TIMESTAMP = 12,
  SEQADJ_ORIG = 13,
  SEQADJ_REPLY = 14,
  NAT_SRC = 15,
  NAT_DST = 16,
  SYNPROXY = 17,
  CALLER = 18,
}
export const AT_IP = 1;
export const AT_PROTO = 2;

const NEST_PATH = [
  '',
  'tuple-orig',
  'tuple-reply',
  'tuple-master',
  'protoinfo',
  'protoinfo.tcp',
  'protoinfo.sctp',
  'protoinfo.dccp',
  'help',
  'secctx',
  'counters-orig',
  'counters-reply',
  'timestamp',
  'seqadj-orig',
  'seqadj-reply',
  'nat-src',
  'nat-dst',
  'synproxy',
];
const LEVEL = ['', '.ip', '.proto'];

/** Entry.unknown's path of an UnknownAt code (`caller`: the name of a CALLER tuple). */
export function unknownPath(code: number, caller = ''): string {
  const nest = code >> 2;
  return (nest === UnknownAt.CALLER ? caller : NEST_PATH[nest]) + LEVEL[code & 3];
}
