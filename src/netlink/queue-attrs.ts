// The numbers and attributes of nfnetlink_queue (linux/netfilter/nfnetlink_queue.h): the message
// types, the attributes of a queued packet and of a queue's configuration, as tables (type, the
// name a decode error uses, the payload bytes it requires). The codecs are queue-config.ts,
// queue-packet.ts and queue-verdict.ts; test/unit/netlink/queue-attrs.test.ts holds the tables
// to the codecs.
//
// Layout: nfnetlink messages (nlmsghdr, nfgenmsg whose res_id is the queue number, big-endian),
// attributes as ctnetlink's; every number in a payload is big-endian.

export const NFNL_SUBSYS_QUEUE = 3;

/** Message types (low byte of nlmsg_type). */
export const enum NFQNL_MSG {
  /** A queued packet, kernel to user space. */
  PACKET = 0,
  VERDICT = 1,
  CONFIG = 2,
  /** One verdict for every packet of the queue whose id is at most the one given. */
  VERDICT_BATCH = 3,
}

/** Attributes of NFQNL_MSG_PACKET and NFQNL_MSG_VERDICT(_BATCH). */
export const enum NFQA {
  PACKET_HDR = 1,
  VERDICT_HDR = 2,
  MARK = 3,
  TIMESTAMP = 4,
  IFINDEX_INDEV = 5,
  IFINDEX_OUTDEV = 6,
  IFINDEX_PHYSINDEV = 7,
  IFINDEX_PHYSOUTDEV = 8,
  HWADDR = 9,
  PAYLOAD = 10,
  CT = 11,
  CT_INFO = 12,
  CAP_LEN = 13,
  SKB_INFO = 14,
  EXP = 15,
  UID = 16,
  GID = 17,
  SECCTX = 18,
  VLAN = 19,
  L2HDR = 20,
  PRIORITY = 21,
}

/** Attributes of NFQNL_MSG_CONFIG. */
export const enum NFQA_CFG {
  CMD = 1,
  PARAMS = 2,
  QUEUE_MAXLEN = 3,
  MASK = 4,
  FLAGS = 5,
}

/** NFQA_CFG_CMD commands (PF_BIND and PF_UNBIND do nothing since Linux 3.8). */
export const enum NFQNL_CFG_CMD {
  NONE = 0,
  BIND = 1,
  UNBIND = 2,
}

/** NFQA_CFG_PARAMS copy modes: what of a packet the message carries. */
export const enum NFQNL_COPY {
  NONE = 0,
  META = 1,
  PACKET = 2,
}

/** NFQA_CFG_FLAGS bits. */
export const enum NFQA_CFG_F {
  /** A full queue accepts the packet instead of dropping it. */
  FAIL_OPEN = 1,
  CONNTRACK = 2,
  GSO = 4,
  UID_GID = 8,
  SECCTX = 16,
}

/** NFQA_SKB_INFO bits. */
export const enum NFQA_SKB {
  CSUMNOTREADY = 1,
  GSO = 2,
  CSUM_NOTVERIFIED = 4,
}

/** Netfilter verdicts (linux/netfilter.h). */
export const enum NF_VERDICT {
  DROP = 0,
  ACCEPT = 1,
}

export interface QueueAttr {
  type: number;
  /** How a decode error names it. */
  name: string;
  /** Payload bytes the decoder requires (0: any). */
  min: number;
}

/** The packet message's attributes the decoder reads (the others are skipped). */
export const QUEUE_PACKET_ATTRS: readonly QueueAttr[] = [
  // struct nfqnl_msg_packet_hdr, packed: be32 packet_id, be16 hw_protocol, u8 hook
  { type: NFQA.PACKET_HDR, name: 'NFQA_PACKET_HDR', min: 7 },
  { type: NFQA.MARK, name: 'NFQA_MARK', min: 4 },
  { type: NFQA.IFINDEX_INDEV, name: 'NFQA_IFINDEX_INDEV', min: 4 },
  { type: NFQA.IFINDEX_OUTDEV, name: 'NFQA_IFINDEX_OUTDEV', min: 4 },
  { type: NFQA.PAYLOAD, name: 'NFQA_PAYLOAD', min: 0 },
  { type: NFQA.CAP_LEN, name: 'NFQA_CAP_LEN', min: 4 },
  { type: NFQA.SKB_INFO, name: 'NFQA_SKB_INFO', min: 4 },
];

/** The configuration message's attributes, with the payload length the writer gives each. */
export const QUEUE_CONFIG_ATTRS: readonly QueueAttr[] = [
  // struct nfqnl_msg_config_cmd: u8 command, u8 pad, be16 pf
  { type: NFQA_CFG.CMD, name: 'NFQA_CFG_CMD', min: 4 },
  // struct nfqnl_msg_config_params, packed: be32 copy_range, u8 copy_mode
  { type: NFQA_CFG.PARAMS, name: 'NFQA_CFG_PARAMS', min: 5 },
  { type: NFQA_CFG.QUEUE_MAXLEN, name: 'NFQA_CFG_QUEUE_MAXLEN', min: 4 },
  { type: NFQA_CFG.MASK, name: 'NFQA_CFG_MASK', min: 4 },
  { type: NFQA_CFG.FLAGS, name: 'NFQA_CFG_FLAGS', min: 4 },
];

/** The verdict messages' attribute: struct nfqnl_msg_verdict_hdr (be32 verdict, be32 id). */
export const QUEUE_VERDICT_ATTRS: readonly QueueAttr[] = [{ type: NFQA.VERDICT_HDR, name: 'NFQA_VERDICT_HDR', min: 8 }];

/** nlmsg_type of a queue message. */
export function queueMsgType(msg: NFQNL_MSG): number {
  return (NFNL_SUBSYS_QUEUE << 8) | msg;
}
