// nfnetlink_queue configuration requests (NFQNL_MSG_CONFIG): bind a socket to a queue number,
// say what of each packet to copy, the queue's length in the kernel and its flags. Pure: writes
// into an NlWriter. The kernel applies the command before the other attributes of the same
// message, so one message can bind and configure.
import type { NlWriter } from './attr.js';
import { AF_UNSPEC, NLM_F_ACK, NLM_F_REQUEST } from './constants.js';
import { NFQA_CFG, NFQNL_CFG_CMD, NFQNL_COPY, NFQNL_MSG, queueMsgType } from './queue-attrs.js';

export interface QueueConfig {
  /** BIND (take the queue; EBUSY when another socket has it) or UNBIND. */
  command?: NFQNL_CFG_CMD;
  /** What each packet message carries: PACKET with `range` bytes of the packet (0: all). */
  copy?: { mode: NFQNL_COPY; range: number };
  /** Packets the kernel holds for this queue at most; what comes beyond is dropped, or accepted with FAIL_OPEN. */
  maxLen?: number;
  /** Set the flags in `mask` to their values in `value` (NFQA_CFG_F bits). */
  flags?: { mask: number; value: number };
}

/** Highest queue number (the nfgenmsg res_id and the NFQUEUE target's --queue-num are 16 bits). */
export const QUEUE_NUM_MAX = 65535;

/** Writes one NFQNL_MSG_CONFIG request for queue `queue`, acknowledged (NLM_F_ACK). */
export function writeQueueConfig(w: NlWriter, seq: number, queue: number, cfg: QueueConfig): void {
  if (!Number.isInteger(queue) || queue < 0 || queue > QUEUE_NUM_MAX)
    throw new RangeError(`queue number ${queue} is not in 0..${QUEUE_NUM_MAX}`);
  w.beginNf(queueMsgType(NFQNL_MSG.CONFIG), NLM_F_REQUEST | NLM_F_ACK, seq, AF_UNSPEC, queue);
  if (cfg.command !== undefined) {
    const p = w.raw(NFQA_CFG.CMD, 4);
    w.buf[p] = cfg.command;
    w.buf[p + 1] = 0;
    w.buf.writeUInt16BE(AF_UNSPEC, p + 2);
  }
  if (cfg.copy) {
    const p = w.raw(NFQA_CFG.PARAMS, 5);
    w.buf.writeUInt32BE(cfg.copy.range >>> 0, p);
    w.buf[p + 4] = cfg.copy.mode;
  }
  if (cfg.maxLen !== undefined) w.u32be(NFQA_CFG.QUEUE_MAXLEN, cfg.maxLen);
  if (cfg.flags) {
    w.u32be(NFQA_CFG.MASK, cfg.flags.mask);
    w.u32be(NFQA_CFG.FLAGS, cfg.flags.value);
  }
  w.end();
}
