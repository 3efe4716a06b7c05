// The common header of every sync message (struct nethdr, conntrack-tools 1.4.7): its size, the
// message types and flag bits. Constants only, so that the codec (wire.ts) and the state machine
// (ftfw.ts and its parts) share them without the state machine depending on the codec.
// See docs/ftfw-protocol.md §3.

export const PROTOCOL_VERSION = 1;

/** enum nethdr_type */
export const MSG = {
  CT_NEW: 0,
  CT_UPD: 1,
  CT_DEL: 2,
  EXP_NEW: 3,
  EXP_UPD: 4,
  EXP_DEL: 5,
  CTL: 10,
} as const;
/** Highest data message type (NET_T_STATE_MAX). */
export const MSG_DATA_MAX = 5;

/** Message flag bits (NET_F_*). */
export const FLAG = {
  UNUSED: 0x01,
  RESYNC: 0x02,
  NACK: 0x04,
  ACK: 0x08,
  ALIVE: 0x10,
  HELLO: 0x20,
  HELLO_BACK: 0x40,
} as const;

/** Size of the common header (NETHDR_SIZ). */
export const HDR_LEN = 8;
/** Size of an ACK / NACK / RESYNC message (NETHDR_ACK_SIZ). */
export const CTL_RANGE_LEN = 16;
