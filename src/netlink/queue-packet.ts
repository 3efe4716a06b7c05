// Decoding a queued packet (NFQNL_MSG_PACKET): its id (what the verdict names), its layer-3
// protocol, the hook, the input interface and where its bytes are. Pure; allocates nothing (the
// payload stays in the receive buffer, as offsets).
import { NetlinkDecodeError, forEachAttr } from './attr.js';
import { NFGENMSG_LEN, NLMSG_HDRLEN } from './constants.js';
import type { NlHeader } from './nlmsg.js';
import { NFQA, NFQNL_MSG, QUEUE_PACKET_ATTRS, queueMsgType } from './queue-attrs.js';

/** One queued packet; reused by scanQueuedPacket. -1 for what the message did not carry. */
export class QueuedPacket {
  /** The whole message: buf[message, message + messageLength). */
  message = 0;
  messageLength = 0;
  /** The queue it came from (nfgenmsg res_id). */
  queue = 0;
  /** nfgenmsg family: the packet's protocol family (2 or 10 from the IPv4 and IPv6 hooks). */
  family = 0;
  id = 0;
  /** Ethertype, as in the packet (0x0800 IPv4, 0x86dd IPv6). */
  hwProtocol = 0;
  hook = 0;
  mark = -1;
  inIfindex = -1;
  outIfindex = -1;
  /** The copied bytes, from the layer-3 header: buf[payload, payload + payloadLength). */
  payload = -1;
  payloadLength = 0;
  /** The packet's length when more than the copied bytes (NFQA_CAP_LEN), else -1. */
  capLength = -1;
  skbInfo = -1;
}

const MIN_LEN = new Map(QUEUE_PACKET_ATTRS.map((a) => [a.type, a]));

/**
 * Reads the packet message `h` of `buf` into `out`. Returns false for another message type.
 * Throws NetlinkDecodeError for a malformed message, or one without NFQA_PACKET_HDR.
 */
export function scanQueuedPacket(buf: Buffer, h: NlHeader, out: QueuedPacket): boolean {
  if (h.type !== queueMsgType(NFQNL_MSG.PACKET)) return false;
  const end = h.off + h.len;
  const g = h.off + NLMSG_HDRLEN;
  if (g + NFGENMSG_LEN > end) throw new NetlinkDecodeError('queued packet message without nfgenmsg', h.off);
  out.message = h.off;
  out.messageLength = h.len;
  out.family = buf[g];
  out.queue = buf.readUInt16BE(g + 2);
  out.id = -1;
  out.mark = out.inIfindex = out.outIfindex = out.payload = out.capLength = out.skbInfo = -1;
  out.payloadLength = 0;
  forEachAttr(buf, g + NFGENMSG_LEN, end, (type, p, len) => {
    const a = MIN_LEN.get(type);
    if (a === undefined) return;
    if (len < a.min) throw new NetlinkDecodeError(`${a.name} of ${len} bytes, at least ${a.min} expected`, p - 4);
    switch (type) {
      case NFQA.PACKET_HDR:
        out.id = buf.readUInt32BE(p);
        out.hwProtocol = buf.readUInt16BE(p + 4);
        out.hook = buf[p + 6];
        break;
      case NFQA.MARK:
        out.mark = buf.readUInt32BE(p);
        break;
      case NFQA.IFINDEX_INDEV:
        out.inIfindex = buf.readUInt32BE(p);
        break;
      case NFQA.IFINDEX_OUTDEV:
        out.outIfindex = buf.readUInt32BE(p);
        break;
      case NFQA.PAYLOAD:
        out.payload = p;
        out.payloadLength = len;
        break;
      case NFQA.CAP_LEN:
        out.capLength = buf.readUInt32BE(p);
        break;
      case NFQA.SKB_INFO:
        out.skbInfo = buf.readUInt32BE(p);
        break;
    }
  });
  if (out.id < 0) throw new NetlinkDecodeError('queued packet without NFQA_PACKET_HDR', h.off);
  return true;
}
