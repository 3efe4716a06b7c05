// Walking the netlink messages of one received datagram, and decoding NLMSG_ERROR. Pure.
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG } from './constants.js';
import { NetlinkDecodeError, forEachAttr, readStrz } from './attr.js';

export interface NlHeader {
  /** Offset of the message in the buffer. */
  off: number;
  len: number;
  type: number;
  flags: number;
  seq: number;
  /** Port id of the sender, or for events: the socket whose request caused it (0 = packet path). */
  pid: number;
}

/**
 * Calls fn for each message in buf[start, end). Reuses one header object: copy what you keep.
 * Returns false if fn returned false (stop early).
 */
export function forEachMessage(buf: Buffer, end: number, fn: (h: NlHeader) => boolean | void, start = 0): boolean {
  const h: NlHeader = { off: 0, len: 0, type: 0, flags: 0, seq: 0, pid: 0 };
  let off = start;
  while (off + NLMSG_HDRLEN <= end) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > end) throw new NetlinkDecodeError(`bad netlink message length ${len}`, off);
    h.off = off;
    h.len = len;
    h.type = buf.readUInt16LE(off + 4);
    h.flags = buf.readUInt16LE(off + 6);
    h.seq = buf.readUInt32LE(off + 8);
    h.pid = buf.readUInt32LE(off + 12);
    if (fn(h) === false) return false;
    off += (len + 3) & ~3;
  }
  return true;
}

export interface NlErrorReply {
  /** 0 = ACK (success), else a positive errno. */
  errno: number;
  /** Sequence number of the request this answers. */
  seq: number;
  /** Extended ack message from the kernel, if any. */
  message?: string;
}

/** Decodes an NLMSG_ERROR message body (struct nlmsgerr + optional ext-ack TLVs). */
export function decodeError(buf: Buffer, h: NlHeader): NlErrorReply {
  const p = h.off + NLMSG_HDRLEN;
  if (h.len < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError('truncated NLMSG_ERROR', h.off);
  const err = buf.readInt32LE(p);
  const origLen = buf.readUInt32LE(p + 4);
  const seq = buf.readUInt32LE(p + 4 + 8);
  const reply: NlErrorReply = { errno: -err, seq };
  if (h.flags & NLM_F_ACK_TLVS) {
    // TLVs follow the echoed request: only its header when capped, else the whole request
    const echoed = h.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : (origLen + 3) & ~3;
    const tlvStart = p + 4 + echoed;
    if (tlvStart <= h.off + h.len) {
      forEachAttr(buf, tlvStart, h.off + h.len, (type, ap, alen) => {
        if (type === NLMSGERR_ATTR_MSG) reply.message = readStrz(buf, ap, alen);
      });
    }
  }
  return reply;
}

export function isDone(h: NlHeader): boolean {
  return h.type === NLMSG_DONE;
}

export function isError(h: NlHeader): boolean {
  return h.type === NLMSG_ERROR;
}
