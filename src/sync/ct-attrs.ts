// The attributes of conntrackd's CT_NEW / CT_UPD / CT_DEL messages (enum nta_attr, conntrack-tools
// 1.4.7), what follows the 8-byte message header. Layout of one attribute: BE16 nta_len (4 +
// payload, unpadded), BE16 nta_attr, payload, zero padding to 4 bytes. Flat, no nesting.
//
// CT_ATTRS is the table: per attribute its id, the nta_len a receiver demands (exact for the
// fixed-size ones, a maximum for the others, as conntrackd's msg2ct checks), the payload layout
// (which FlowFields each part lands in, its width and byte order) and which flows carry it (what
// makes conntrackd's ct2msg send it). The validation below reads its lengths; the scan and the
// writer (ct-wire.ts) switch on the ids, and test/unit/sync/ct-attrs.test.ts holds both to the layouts.
//
// Quirk Q1: ICMP_ID, SPAT_PORT and DPAT_PORT are little-endian on the wire: the x86 sender swaps
// those u16 twice. Every other number is big-endian; addresses are in network order.

/** enum nta_attr (a const enum: the scan's and the writer's switch cases are literals). */
export const enum NTA {
  IPV4 = 0,
  IPV6 = 1,
  L4PROTO = 2,
  PORT = 3,
  TCP_STATE = 4,
  STATUS = 5,
  TIMEOUT = 6,
  MARK = 7,
  MASTER_IPV4 = 8,
  MASTER_IPV6 = 9,
  MASTER_L4PROTO = 10,
  MASTER_PORT = 11,
  SNAT_IPV4 = 12,
  DNAT_IPV4 = 13,
  SPAT_PORT = 14,
  DPAT_PORT = 15,
  NAT_SEQ_ADJ = 16,
  SCTP_STATE = 17,
  SCTP_VTAG_ORIG = 18,
  SCTP_VTAG_REPL = 19,
  DCCP_STATE = 20,
  DCCP_ROLE = 21,
  ICMP_TYPE = 22,
  ICMP_CODE = 23,
  ICMP_ID = 24,
  TCP_WSCALE_ORIG = 25,
  TCP_WSCALE_REPL = 26,
  HELPER_NAME = 27,
  LABELS = 28,
  SNAT_IPV6 = 29,
  DNAT_IPV6 = 30,
  SYNPROXY = 31,
  ZONE = 32,
}
/** First invalid CT attribute id (a message carrying an id >= this is rejected). */
export const NTA_MAX = 33;

/**
 * A part of an attribute's payload, in order: the FlowFields path it lands in, and its encoding:
 * u8/u16/u32 numbers in the given byte order, v4/v6 addresses, a NUL-terminated string ('strz'),
 * or the label bitmap as big-endian u32 words ('words').
 */
export interface WirePart {
  field: string;
  type: 'u8' | 'u16' | 'u32' | 'v4' | 'v6' | 'strz' | 'words';
  order?: 'be' | 'le';
}

export interface WireAttr {
  name: string;
  id: number;
  /** Exact nta_len of a fixed-size attribute; 0 for a variable one. */
  len: number;
  /** Largest nta_len of a variable attribute (0 for a fixed-size one). */
  maxLen: number;
  parts: readonly WirePart[];
  /** The flows ct2msg sends it for. */
  carriedBy: string;
}

const be = (field: string, type: 'u8' | 'u16' | 'u32'): WirePart => ({ field, type, order: 'be' });
const le = (field: string): WirePart => ({ field, type: 'u16', order: 'le' });
const addr = (field: string, type: 'v4' | 'v6'): WirePart => ({ field, type });
const fixed = (id: NTA, name: string, len: number, parts: WirePart[], carriedBy: string): WireAttr => ({
  name,
  id,
  len,
  maxLen: 0,
  parts,
  carriedBy,
});

/** Every CT attribute, by id (test/unit/sync/ct-attrs.test.ts checks the ids and names). */
export const CT_ATTRS: readonly WireAttr[] = [
  fixed(NTA.IPV4, 'IPV4', 12, [addr('orig.src', 'v4'), addr('orig.dst', 'v4')], 'every IPv4 flow'),
  fixed(NTA.IPV6, 'IPV6', 36, [addr('orig.src', 'v6'), addr('orig.dst', 'v6')], 'every IPv6 flow'),
  fixed(NTA.L4PROTO, 'L4PROTO', 5, [be('orig.proto', 'u8')], 'every flow'),
  fixed(NTA.PORT, 'PORT', 8, [be('orig.sport', 'u16'), be('orig.dport', 'u16')], 'TCP, UDP, SCTP, DCCP'),
  fixed(NTA.TCP_STATE, 'TCP_STATE', 5, [be('tcpState', 'u8')], 'TCP with a state'),
  fixed(NTA.STATUS, 'STATUS', 8, [be('status', 'u32')], 'every flow'),
  fixed(NTA.TIMEOUT, 'TIMEOUT', 8, [be('timeout', 'u32')], 'every flow, unless the sender has CommitTimeout'),
  fixed(NTA.MARK, 'MARK', 8, [be('mark', 'u32')], 'flows with a mark'),
  fixed(
    NTA.MASTER_IPV4,
    'MASTER_IPV4',
    12,
    [addr('master.src', 'v4'), addr('master.dst', 'v4')],
    'IPv4 flows with a master (RELATED)',
  ),
  fixed(
    NTA.MASTER_IPV6,
    'MASTER_IPV6',
    36,
    [addr('master.src', 'v6'), addr('master.dst', 'v6')],
    'IPv6 flows with a master (RELATED)',
  ),
  fixed(NTA.MASTER_L4PROTO, 'MASTER_L4PROTO', 5, [be('master.proto', 'u8')], 'flows with a master'),
  fixed(
    NTA.MASTER_PORT,
    'MASTER_PORT',
    8,
    [be('master.sport', 'u16'), be('master.dport', 'u16')],
    'flows with a master that has ports',
  ),
  fixed(
    NTA.SNAT_IPV4,
    'SNAT_IPV4',
    8,
    [addr('reply.dst', 'v4')],
    'IPv4, SRC_NAT_DONE, reply destination != original source',
  ),
  fixed(
    NTA.DNAT_IPV4,
    'DNAT_IPV4',
    8,
    [addr('reply.src', 'v4')],
    'IPv4, DST_NAT_DONE, reply source != original destination',
  ),
  fixed(NTA.SPAT_PORT, 'SPAT_PORT', 6, [le('reply.dport')], 'SRC_NAT_DONE, reply l4 destination != original l4 source'),
  fixed(NTA.DPAT_PORT, 'DPAT_PORT', 6, [le('reply.sport')], 'DST_NAT_DONE, reply l4 source != original l4 destination'),
  fixed(
    NTA.NAT_SEQ_ADJ,
    'NAT_SEQ_ADJ',
    28,
    [
      be('seqO.correctionPos', 'u32'),
      be('seqO.offsetBefore', 'u32'),
      be('seqO.offsetAfter', 'u32'),
      be('seqR.correctionPos', 'u32'),
      be('seqR.offsetBefore', 'u32'),
      be('seqR.offsetAfter', 'u32'),
    ],
    'flows with sequence adjustment in both directions',
  ),
  fixed(NTA.SCTP_STATE, 'SCTP_STATE', 5, [be('sctpState', 'u8')], 'SCTP with a state'),
  fixed(NTA.SCTP_VTAG_ORIG, 'SCTP_VTAG_ORIG', 8, [be('vtagO', 'u32')], 'SCTP with a state'),
  fixed(NTA.SCTP_VTAG_REPL, 'SCTP_VTAG_REPL', 8, [be('vtagR', 'u32')], 'SCTP with a state'),
  fixed(NTA.DCCP_STATE, 'DCCP_STATE', 5, [be('dccpState', 'u8')], 'DCCP with a state'),
  fixed(NTA.DCCP_ROLE, 'DCCP_ROLE', 5, [be('dccpRole', 'u8')], 'DCCP with a state'),
  fixed(NTA.ICMP_TYPE, 'ICMP_TYPE', 5, [be('orig.icmpType', 'u8')], 'ICMP and ICMPv6 with a type'),
  fixed(NTA.ICMP_CODE, 'ICMP_CODE', 5, [be('orig.icmpCode', 'u8')], 'ICMP and ICMPv6 with a type'),
  fixed(NTA.ICMP_ID, 'ICMP_ID', 6, [le('orig.icmpId')], 'ICMP and ICMPv6 with a type'),
  fixed(
    NTA.TCP_WSCALE_ORIG,
    'TCP_WSCALE_ORIG',
    5,
    [be('wsO', 'u8')],
    'TCP with a state, when the sender has TCPWindowTracking',
  ),
  fixed(
    NTA.TCP_WSCALE_REPL,
    'TCP_WSCALE_REPL',
    5,
    [be('wsR', 'u8')],
    'TCP with a state, when the sender has TCPWindowTracking',
  ),
  // NFCT_HELPER_NAME_MAX: at most 11 characters and the NUL
  {
    name: 'HELPER_NAME',
    id: NTA.HELPER_NAME,
    len: 0,
    maxLen: 16,
    parts: [{ field: 'helper', type: 'strz' }],
    carriedBy: 'flows with a helper',
  },
  // NTA_LABELS_MAX_SIZE: 1024 bytes of bitmap
  {
    name: 'LABELS',
    id: NTA.LABELS,
    len: 0,
    maxLen: 4 + 1024,
    parts: [{ field: 'labels', type: 'words' }],
    carriedBy: 'flows with a label set',
  },
  fixed(
    NTA.SNAT_IPV6,
    'SNAT_IPV6',
    20,
    [addr('reply.dst', 'v6')],
    'IPv6, SRC_NAT_DONE, reply destination != original source',
  ),
  fixed(
    NTA.DNAT_IPV6,
    'DNAT_IPV6',
    20,
    [addr('reply.src', 'v6')],
    'IPv6, DST_NAT_DONE, reply source != original destination',
  ),
  // struct nta_attr_synproxy: its, isn, tsoff
  fixed(
    NTA.SYNPROXY,
    'SYNPROXY',
    16,
    [be('syn.its', 'u32'), be('syn.isn', 'u32'), be('syn.tsoff', 'u32')],
    'flows with a synproxy extension',
  ),
  fixed(NTA.ZONE, 'ZONE', 6, [be('zone', 'u16')], 'flows in a zone other than 0'),
];

/** Exact nta_len of each fixed-size CT attribute, 0 = variable (see CT_MAX_LEN). By id. */
export const CT_FIXED_LEN: readonly number[] = CT_ATTRS.map((a) => a.len);
/** Largest nta_len of the variable CT attributes, by id. */
export const CT_MAX_LEN: Readonly<Record<number, number>> = Object.fromEntries(
  CT_ATTRS.filter((a) => a.len === 0).map((a) => [a.id, a.maxLen]),
);

/** Longest helper name that fits NTA_HELPER_NAME (nta_len <= 16 with the NUL). */
export const MAX_HELPER_NAME = CT_MAX_LEN[NTA.HELPER_NAME] - 5;

const fixedLen = Uint8Array.from(CT_FIXED_LEN);
const maxLen = Uint16Array.from(CT_ATTRS, (a) => a.maxLen);

/**
 * conntrackd's check of one CT attribute header (msg2ct): nta_len >= 4 and within what remains,
 * a known id, fixed-size attributes exactly their size, variable ones at most their maximum.
 */
export function ctAttrOk(len: number, id: number, remain: number): boolean {
  if (len > remain || len < 4 || id >= NTA_MAX) return false;
  const want = fixedLen[id];
  return want !== 0 ? len === want : len <= maxLen[id];
}
