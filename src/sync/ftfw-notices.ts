// What an FtFw has to tell its owner, kept until the receive()/timer call that caused it is over:
// the owner's hooks may call back into the FtFw, which must not happen in the middle of a call.
import type { PeerBulkAnswer } from './resync-watch.js';
import type { BulkReason, FtFwHooks } from './ftfw-types.js';

export class FtFwNotices {
  /** Something waits to be told (one check per call when nothing does). */
  pending = false;
  private bulkReasons: BulkReason[] = [];
  private peerStartInfo: { seq: number; firstContact: boolean } | null = null;
  private handshakeDone = false;
  private answerInfo: PeerBulkAnswer | null = null;
  private seqResetInfo: { lastSeq: number; seq: number } | null = null;

  /** A bulk pass is asked for (several in one call collapse into one). */
  bulk(reason: BulkReason): void {
    this.bulkReasons.push(reason);
    this.pending = true;
  }

  handshake(): void {
    this.handshakeDone = true;
    this.pending = true;
  }

  peerStart(info: { seq: number; firstContact: boolean }): void {
    this.peerStartInfo = info;
    this.pending = true;
  }

  answer(a: PeerBulkAnswer): void {
    this.answerInfo = a;
    this.pending = true;
  }

  seqReset(info: { lastSeq: number; seq: number }): void {
    this.seqResetInfo = info;
    this.pending = true;
  }

  /**
   * Tells `hooks` what waits, each once, in this order: handshake, peer start, sequence reset,
   * answer. Returns the bulk reasons asked for (for the FtFw to schedule one pass), possibly empty.
   * A hook may call back into the FtFw; what that adds is told now or at the next delivery.
   */
  deliver<O>(hooks: FtFwHooks<O>): BulkReason[] {
    this.pending = false;
    if (this.handshakeDone) {
      this.handshakeDone = false;
      hooks.handshakeComplete?.();
    }
    if (this.peerStartInfo !== null) {
      const info = this.peerStartInfo;
      this.peerStartInfo = null;
      hooks.peerStart?.(info);
    }
    if (this.seqResetInfo !== null) {
      const info = this.seqResetInfo;
      this.seqResetInfo = null;
      hooks.peerSequenceReset?.(info);
    }
    if (this.answerInfo !== null) {
      const answer = this.answerInfo;
      this.answerInfo = null;
      hooks.peerBulkComplete?.(answer);
    }
    const reasons = this.bulkReasons;
    if (reasons.length > 0) this.bulkReasons = [];
    return reasons;
  }
}
