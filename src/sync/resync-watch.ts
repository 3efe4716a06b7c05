import { seqAfter, seqBefore } from './seq.js';

/** The peer has answered one of our RESYNCs: its whole internal cache has been sent to us. */
export interface PeerBulkAnswer {
  /** The RESYNC's epoch: RESYNCs we had transmitted when it went out (1 for the first). */
  readonly epoch: number;
  /**
   * Whether every message the peer sent between that RESYNC and the ACK that covers it arrived
   * in sequence, so its bulk arrived whole. When false, some of it may be missing for good (a
   * stock peer cannot resend what left its resend queue).
   */
  readonly clean: boolean;
}

/** RESYNCs kept waiting for their answer; older ones are dropped (their answer is overdue). */
const OUTSTANDING_MAX = 16;

/**
 * Receiver side of "the peer's bulk is complete". FT-FW has no end-of-bulk marker; this rule
 * needs none:
 *
 *  - conntrackd, on a RESYNC, puts its whole cache on its transmit queue while it digests the
 *    message, and any ACK that covers the RESYNC's sequence number is queued after that (the
 *    window ACK right after the digest, the timer ACK later); the queue is one FIFO sent whole
 *    at the next transmit pass. So every message of the bulk has a lower sequence number than
 *    the first ACK from the peer that covers our RESYNC.
 *  - ctsync acknowledges a RESYNC (its ACK ranges leave that sequence number out) only once a
 *    bulk pass started after it has been transmitted whole (FtFw R3), so the same holds for it.
 *
 * Hence: when that ACK arrives and no gap was seen in the peer's sequence since the RESYNC went
 * out, the whole bulk has arrived, and an external entry not refreshed since then is one the
 * peer no longer has. With a gap, the answer is reported as unclean.
 *
 * Pure: FtFw reports what it sends and receives.
 */
export class ResyncWatch {
  private sentCount = 0;
  private gaps = 0;
  /** [seq, epoch, gaps at transmission] per RESYNC waiting for its answer, oldest first. */
  private waiting: number[] = [];

  /** RESYNCs transmitted so far: an entry refreshed after the k-th one carries epoch >= k. */
  get epoch(): number {
    return this.sentCount;
  }

  /** A RESYNC went out with sequence number `seq`. */
  sent(seq: number): void {
    this.sentCount++;
    this.waiting.push(seq, this.sentCount, this.gaps);
    if (this.waiting.length > 3 * OUTSTANDING_MAX) this.waiting.splice(0, 3);
  }

  /** Some of the peer's messages were lost (a gap in its sequence, or a reset of our tracking). */
  gap(): void {
    this.gaps++;
  }

  /** The peer acknowledged our [from, to]: the answer to the newest RESYNC in range, if any. */
  acked(from: number, to: number): PeerBulkAnswer | undefined {
    const w = this.waiting;
    let found = -1;
    for (let i = 0; i < w.length; i += 3) {
      if (!seqBefore(w[i], from) && !seqAfter(w[i], to)) found = i;
    }
    if (found < 0) return undefined;
    const answer = { epoch: w[found + 1], clean: w[found + 2] === this.gaps };
    // older RESYNCs: answered by this bulk as well, or lost
    w.splice(0, found + 3);
    return answer;
  }

  /** The peer restarted: answers to RESYNCs its previous incarnation received will not come. */
  forget(): void {
    this.waiting = [];
  }
}
