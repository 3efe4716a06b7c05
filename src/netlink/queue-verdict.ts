// nfnetlink_queue verdicts: one packet (NFQNL_MSG_VERDICT), or every packet of the queue up to
// an id (NFQNL_MSG_VERDICT_BATCH). Pure: writes into an NlWriter. Not acknowledged: a verdict
// for a packet the kernel no longer holds fails with ENOENT, which nobody needs to hear.
import type { NlWriter } from './attr.js';
import { AF_UNSPEC, NLM_F_REQUEST } from './constants.js';
import { NFQA, NFQNL_MSG, NF_VERDICT, queueMsgType } from './queue-attrs.js';

function writeVerdictMsg(
  w: NlWriter,
  msg: NFQNL_MSG,
  seq: number,
  queue: number,
  id: number,
  verdict: NF_VERDICT,
): void {
  w.beginNf(queueMsgType(msg), NLM_F_REQUEST, seq, AF_UNSPEC, queue);
  const p = w.raw(NFQA.VERDICT_HDR, 8);
  w.buf.writeUInt32BE(verdict >>> 0, p);
  w.buf.writeUInt32BE(id >>> 0, p + 4);
  w.end();
}

/** The verdict for packet `id` of `queue`. */
export function writeVerdict(w: NlWriter, seq: number, queue: number, id: number, verdict: NF_VERDICT): void {
  writeVerdictMsg(w, NFQNL_MSG.VERDICT, seq, queue, id, verdict);
}

/** One verdict for every packet of `queue` whose id is at most `maxId` (ids grow with each packet queued). */
export function writeVerdictBatch(w: NlWriter, seq: number, queue: number, maxId: number, verdict: NF_VERDICT): void {
  writeVerdictMsg(w, NFQNL_MSG.VERDICT_BATCH, seq, queue, maxId, verdict);
}
