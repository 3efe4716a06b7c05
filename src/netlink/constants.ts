// Numbers from linux/netlink.h, linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h, linux/in.h
// and nf_conntrack_common.h. The ones the codecs' hot paths use are const enums: tsc writes their
// values in place (measured: a switch whose case labels are properties of an imported object ran
// two to three times slower; an imported mask, protocol or status constant in the per-event
// paths cost them 5 to 10%). tsconfig's preserveConstEnums keeps them as objects too, for
// JavaScript callers (tools/).

export const NETLINK_NETFILTER = 12;
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

export const NLMSG_HDRLEN = 16;
export const NFGENMSG_LEN = 4;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_CAPPED = 0x100; // on NLMSG_ERROR: payload holds only the request header
export const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR: extended ack TLVs follow

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** Bits of a netlink attribute's type field. */
export const enum NLA {
  F_NESTED = 0x8000,
  F_NET_BYTEORDER = 0x4000,
  TYPE_MASK = 0x3fff,
}

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNL_SUBSYS_CTNETLINK_EXP = 2;

// ctnetlink message types (low byte of nlmsg_type)
export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;
export const IPCTNL_MSG_CT_GET_CTRZERO = 3;
export const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
export const IPCTNL_MSG_CT_GET_STATS = 5;
export const IPCTNL_MSG_CT_GET_DYING = 6;
export const IPCTNL_MSG_CT_GET_UNCONFIRMED = 7;
export const IPCTNL_MSG_EXP_NEW = 0;
export const IPCTNL_MSG_EXP_GET = 1;
export const IPCTNL_MSG_EXP_DELETE = 2;
export const IPCTNL_MSG_EXP_GET_STATS_CPU = 3;

// Event multicast groups (group numbers for NETLINK_ADD_MEMBERSHIP)
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_UPDATE = 2;
export const NFNLGRP_CONNTRACK_DESTROY = 3;
export const NFNLGRP_CONNTRACK_EXP_NEW = 4;
export const NFNLGRP_CONNTRACK_EXP_UPDATE = 5;
export const NFNLGRP_CONNTRACK_EXP_DESTROY = 6;

// enum ctattr_type
export const enum CTA {
  TUPLE_ORIG = 1,
  TUPLE_REPLY = 2,
  STATUS = 3,
  PROTOINFO = 4,
  HELP = 5,
  NAT_SRC = 6,
  TIMEOUT = 7,
  MARK = 8,
  COUNTERS_ORIG = 9,
  COUNTERS_REPLY = 10,
  USE = 11,
  ID = 12,
  NAT_DST = 13,
  TUPLE_MASTER = 14,
  SEQ_ADJ_ORIG = 15,
  SEQ_ADJ_REPLY = 16,
  SECMARK = 17,
  ZONE = 18,
  SECCTX = 19,
  TIMESTAMP = 20,
  MARK_MASK = 21,
  LABELS = 22,
  LABELS_MASK = 23,
  SYNPROXY = 24,
  FILTER = 25,
  STATUS_MASK = 26,
  TIMESTAMP_EVENT = 27,
}
export const enum CTA_TUPLE {
  IP = 1,
  PROTO = 2,
  ZONE = 3,
}
export const enum CTA_IP {
  V4_SRC = 1,
  V4_DST = 2,
  V6_SRC = 3,
  V6_DST = 4,
}
export const enum CTA_PROTO {
  NUM = 1,
  SRC_PORT = 2,
  DST_PORT = 3,
  ICMP_ID = 4,
  ICMP_TYPE = 5,
  ICMP_CODE = 6,
  ICMPV6_ID = 7,
  ICMPV6_TYPE = 8,
  ICMPV6_CODE = 9,
}
export const enum CTA_PROTOINFO {
  TCP = 1,
  DCCP = 2,
  SCTP = 3,
}
export const enum CTA_PROTOINFO_TCP {
  STATE = 1,
  WSCALE_ORIGINAL = 2,
  WSCALE_REPLY = 3,
  FLAGS_ORIGINAL = 4,
  FLAGS_REPLY = 5,
}
export const enum CTA_PROTOINFO_DCCP {
  STATE = 1,
  ROLE = 2,
  HANDSHAKE_SEQ = 3,
}
export const enum CTA_PROTOINFO_SCTP {
  STATE = 1,
  VTAG_ORIGINAL = 2,
  VTAG_REPLY = 3,
}
export const enum CTA_COUNTERS {
  PACKETS = 1,
  BYTES = 2,
}
export const enum CTA_TIMESTAMP {
  START = 1,
  STOP = 2,
}
export const enum CTA_HELP {
  NAME = 1,
  INFO = 2,
}
export const enum CTA_SECCTX {
  NAME = 1,
}
export const enum CTA_SEQADJ {
  CORRECTION_POS = 1,
  OFFSET_BEFORE = 2,
  OFFSET_AFTER = 3,
}
export const enum CTA_NAT {
  V4_MINIP = 1,
  V4_MAXIP = 2,
  PROTO = 3,
  V6_MINIP = 4,
  V6_MAXIP = 5,
}
export const enum CTA_PROTONAT {
  PORT_MIN = 1,
  PORT_MAX = 2,
}
export const enum CTA_SYNPROXY {
  ISN = 1,
  ITS = 2,
  TSOFF = 3,
}
export const CTA_STATS = {
  SEARCHED: 1,
  FOUND: 2,
  NEW: 3,
  INVALID: 4,
  IGNORE: 5,
  DELETE: 6,
  DELETE_LIST: 7,
  INSERT: 8,
  INSERT_FAILED: 9,
  DROP: 10,
  EARLY_DROP: 11,
  ERROR: 12,
  SEARCH_RESTART: 13,
  CLASH_RESOLVE: 14,
  CHAIN_TOOLONG: 15,
} as const;
export const CTA_STATS_GLOBAL = { ENTRIES: 1, MAX_ENTRIES: 2 } as const;

// enum ctattr_expect
export const CTA_EXPECT = {
  MASTER: 1,
  TUPLE: 2,
  MASK: 3,
  TIMEOUT: 4,
  ID: 5,
  HELP_NAME: 6,
  ZONE: 7,
  FLAGS: 8,
  CLASS: 9,
  NAT: 10,
  FN: 11,
} as const;
export const CTA_EXPECT_NAT = { DIR: 1, TUPLE: 2 } as const;
export const CTA_STATS_EXP = { NEW: 1, CREATE: 2, DELETE: 3 } as const;

// ip_conntrack_status bits
export const enum IPS {
  EXPECTED = 0x1,
  SEEN_REPLY = 0x2,
  ASSURED = 0x4,
  CONFIRMED = 0x8,
  SRC_NAT = 0x10,
  DST_NAT = 0x20,
  SEQ_ADJUST = 0x40,
  SRC_NAT_DONE = 0x80,
  DST_NAT_DONE = 0x100,
  DYING = 0x200,
  FIXED_TIMEOUT = 0x400,
  TEMPLATE = 0x800,
  UNTRACKED = 0x1000,
  HELPER = 0x2000,
  OFFLOAD = 0x4000,
  HW_OFFLOAD = 0x8000,
}

export const IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;

export const enum IPPROTO {
  ICMP = 1,
  IGMP = 2,
  TCP = 6,
  UDP = 17,
  DCCP = 33,
  GRE = 47,
  ICMPV6 = 58,
  SCTP = 132,
  UDPLITE = 136,
}
