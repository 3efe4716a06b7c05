// What an FtFw has to tell its owner, kept until the receive()/timer call that caused it is over:
// the owner's hooks may call back into the FtFw, which must not happen in the middle of a call.
import type { PeerBulkAnswer } from './resync-watch.js';
import type { BulkReason } from './ftfw-types.js';

export class FtFwNotices {
  /** Bulk passes asked for (several in one call collapse into one). */
  bulk: BulkReason[] = [];
  peerStart: { seq: number; firstContact: boolean } | null = null;
  handshake = false;
  answer: PeerBulkAnswer | null = null;
  seqReset: { lastSeq: number; seq: number } | null = null;
  /** Depth of FtFw calls in progress: notices wait while it is above 0. */
  inCall = 0;
}
