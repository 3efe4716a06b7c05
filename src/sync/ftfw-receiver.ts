// FT-FW receiver: sequence tracking of the peer's messages (in sync, gap -> NACK, late -> drop),
// the ACK window, the peer's HELLO runs (R1: which HELLO is a restart), stall recovery (R4), and
// what a received ACK / NACK / RESYNC sets off.
import { seqAfter, seqBefore, seqDiff } from './seq.js';
import { StallDetector } from './stall-detector.js';
import { RECORD } from './ftfw-queue.js';
import type { FtFwBulk } from './ftfw-bulk.js';
import type { FtFwHandshake } from './ftfw-handshake.js';
import { FtFwPart, type FtFwCore } from './ftfw-part.js';
import type { FtFwSender } from './ftfw-sender.js';
import { FTFW_FLAG, FTFW_TYPE, type RxVerdict } from './ftfw-types.js';

// module-local copies (see ftfw-types.ts)
const { OBJ: K_OBJ, ACK: K_ACK, NACK: K_NACK, RESYNC: K_RESYNC, ALIVE: K_ALIVE } = RECORD;
const {
  ACK: F_ACK,
  NACK: F_NACK,
  RESYNC: F_RESYNC,
  ALIVE: F_ALIVE,
  HELLO: F_HELLO,
  HELLO_BACK: F_HELLO_BACK,
} = FTFW_FLAG;
const F_HELLO_BITS = F_HELLO | F_HELLO_BACK;
/** Data messages are types 0 to T_DATA_MAX; control messages type T_CTL. */
const T_DATA_MAX = FTFW_TYPE.EXP_DEL;
const T_CTL = FTFW_TYPE.CTL;

export class FtFwReceiver<O> extends FtFwPart<O> {
  /** A message of the peer was accepted: lastSeq is set. */
  rxSeqSet = false;
  lastSeq = 0;
  /** Start of the range the next ACK covers. */
  ackFrom = 0;
  ackFromSet = false;
  /** Messages left until the next window ACK. */
  window: number;
  lastRxAt = -Infinity;
  /** R1: the peer's current HELLO run: [runFirst, runClose) once closed by a non-HELLO message. */
  private runOpen = false;
  /** A HELLO run of the current incarnation was seen (false if first contact had no HELLO). */
  private runSeen = false;
  private runFirst = 0;
  private runClose = 0;
  private runClosedAt = 0;
  /** R4 (null: off). */
  private readonly stall: StallDetector | null;

  constructor(
    core: FtFwCore<O>,
    private readonly hs: FtFwHandshake<O>,
    private readonly bulk: FtFwBulk<O>,
    private readonly tx: FtFwSender<O>,
  ) {
    super(core);
    const opts = this.opts;
    this.window = opts.ackWindowSize;
    // every message dropped for longer than late duplicates live, at least one per ALIVE period
    this.stall = opts.stallRecovery ? new StallDetector(2 * opts.alivePeriodMs + opts.maxReorderMs, 3) : null;
  }

  /** The ALIVE timer: acknowledges what arrived since the last ACK. */
  ackOnTimer(): void {
    if (this.ackFromSet && this.rxSeqSet) {
      this.bulk.queueAck(this.ackFrom, this.lastSeq);
      this.ackFromSet = false;
    }
  }

  /** One incoming message's header (see FtFw.receive); `seq`, `from`, `to` are u32. */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  rx(type: number, flags: number, seq: number, from: number, to: number): RxVerdict {
    this.st.msgsReceived++;
    // read here, not passed in: a time (beyond 31 bits) passed to a call that is not inlined is
    // boxed, an allocation per message
    const now = this.env.now();

    // HELLO / HELLO_BACK are examined on every message before sequence tracking (digest_hello).
    const hello = (flags & F_HELLO) !== 0;
    if ((flags & F_HELLO_BITS) !== 0) this.hs.received(flags, now);

    // Classification (order as conntrackd's IS_DATA / IS_ACK / IS_NACK / IS_RESYNC / IS_ALIVE).
    let kind: number;
    if (type <= T_DATA_MAX && (flags & ~F_HELLO_BITS) === 0) kind = K_OBJ;
    else if (type === T_CTL && flags & F_ACK) kind = K_ACK;
    else if (type === T_CTL && flags & F_NACK) kind = K_NACK;
    else if (type === T_CTL && flags & F_RESYNC) kind = K_RESYNC;
    else if (type === T_CTL && flags & F_ALIVE) kind = K_ALIVE;
    else kind = -1;
    const bad = kind < 0 || ((kind === K_ACK || kind === K_NACK) && seqBefore(to, from));

    let restart = false;
    let gap = false;
    const expected = (this.lastSeq + 1) >>> 0;

    if (hello) {
      if (this.opts.conntrackdCompat) {
        // conntrackd: every HELLO resets and bypasses; the resend queue is discarded.
        if (this.ackFromSet && seqBefore(seq, this.ackFrom)) {
          this.window = this.opts.ackWindowSize - 1;
          this.ackFrom = seq;
        }
        this.discardResendQueue();
        return this.accept(kind, bad, seq, from, to, now, hello, false);
      }
      switch (this.classifyHello(seq, expected, now)) {
        case 'restart':
          if (bad) break; // a malformed message does not (re)define the peer's incarnation
          restart = true;
          // A silence-triggered "restart" may be an ongoing run after heavy loss: NACKing the
          // gap costs nothing if it really is a new incarnation (its seqs start above it).
          if (this.rxSeqSet && seqAfter(seq, expected) && seqDiff(seq, expected) <= this.opts.restartSeqJump)
            gap = true;
          break;
        case 'same-run':
          this.st.helloTracked++;
          break;
      }
    }

    if (!restart) {
      if (!this.rxSeqSet || seq === expected) {
        // SEQ_UNSET or SEQ_IN_SYNC
      } else if (seqAfter(seq, expected)) {
        gap = true;
      } else {
        this.st.before++;
        if (this.stall === null || !this.stall.dropped(seq, now)) return 'drop';
        this.resetSequence(seq, now);
      }
    }
    if (gap) {
      this.hs.gapSeen(now);
      this.bulk.peerGap();
      this.st.lost += (seq - this.lastSeq + 1) >>> 0;
      this.st.lostExact += (seq - expected) >>> 0;
    }
    if (bad) {
      this.st.badHeader++;
      return 'bad';
    }
    if (gap) {
      // SEQ_AFTER: ACK what was in sequence, NACK the hole, the new message opens a window.
      if (this.ackFromSet) this.bulk.queueAck(this.ackFrom, (expected - 1) >>> 0);
      this.q.queueCtl(K_NACK, expected, (seq - 1) >>> 0);
    }
    if (restart) this.peerRestarted(seq, now);
    return this.accept(kind, bad, seq, from, to, now, hello, gap);
  }

  /** R1: is this HELLO the start of a new incarnation, or part of the peer's current run? */
  private classifyHello(seq: number, expected: number, now: number): 'restart' | 'same-run' {
    if (!this.rxSeqSet) return 'restart'; // first contact
    const lo = (this.runFirst - this.opts.reorderTolerance) >>> 0;
    if (this.runOpen) {
      // The peer is still saying HELLO, i.e. sends at least one message per ALIVE period. A
      // silence of two periods plus the reordering bound means a restart (misjudging heavy loss
      // as one is safe: the gap is NACKed anyway and the RESYNC repairs the rest, but costs a
      // bulk: a shorter bound would make a peer that cannot hear us, and so says HELLO forever,
      // look restarted every second); so does a sequence far outside the run.
      if (now - this.lastRxAt > 2 * this.opts.alivePeriodMs + this.opts.maxReorderMs) return 'restart';
      if (seqBefore(seq, lo)) return 'restart';
      if (seqAfter(seq, expected) && seqDiff(seq, expected) > this.opts.restartSeqJump) return 'restart';
      return 'same-run';
    }
    // Run closed by a non-HELLO message at runClose: a HELLO older than that is a late message
    // of the run; anything else means the peer started saying HELLO again, i.e. it restarted.
    // Late duplicates only exist for about maxReorderMs after the run closed.
    if (
      this.runSeen &&
      now - this.runClosedAt <= this.opts.maxReorderMs &&
      !seqBefore(seq, lo) &&
      seqBefore(seq, this.runClose)
    )
      return 'same-run';
    return 'restart';
  }

  /** Digest an accepted message and update the receive window (SEQ_UNSET / IN_SYNC / AFTER / HELLO). */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private accept(
    kind: number,
    bad: boolean,
    seq: number,
    from: number,
    to: number,
    now: number,
    hello: boolean,
    gap: boolean,
  ): RxVerdict {
    if (bad) {
      this.st.badHeader++;
      return 'bad';
    }
    let verdict: RxVerdict = 'control';
    switch (kind) {
      case K_OBJ:
        this.st.dataReceived++;
        verdict = 'apply';
        break;
      case K_ACK:
        this.st.ackReceived++;
        this.tx.onAck(from, to, seq);
        break;
      case K_NACK:
        this.st.nackReceived++;
        this.tx.onNack(from, to, seq);
        break;
      case K_RESYNC:
        this.st.resyncReceived++;
        if (this.opts.reconcile) this.bulk.holdAcksFor(seq);
        this.notices.bulk('resync-requested');
        break;
      default:
        this.st.aliveReceived++;
    }
    if (gap) {
      this.window = this.opts.ackWindowSize - 1;
      this.ackFrom = seq;
      this.ackFromSet = true;
    } else {
      if (!this.ackFromSet) {
        this.ackFromSet = true;
        this.ackFrom = seq;
      }
      if (--this.window <= 0) {
        this.bulk.queueAck(this.ackFrom, seq);
        this.window = this.opts.ackWindowSize;
        this.ackFromSet = false;
      }
    }
    if (this.stall !== null) this.stall.accepted();
    // Track the peer's HELLO run (R1). Runs are opened by peerRestarted(); an accepted HELLO
    // otherwise belongs to the open run (a late HELLO of a closed run is dropped before here).
    if (!hello && (this.runOpen || !this.rxSeqSet)) {
      this.runOpen = false;
      if (!this.rxSeqSet) this.runFirst = seq;
      this.runClose = seq;
      this.runClosedAt = now;
    }
    this.rxSeqSet = true;
    this.lastSeq = seq;
    this.lastRxAt = now;
    return verdict;
  }

  /**
   * R4: every message of the peer has looked late for longer than late messages live: take its
   * sequence as new (the message at `seq` opens a fresh window) and ask for what was dropped.
   */
  private resetSequence(seq: number, now: number): void {
    this.st.sequenceResets++;
    this.notices.seqReset({ lastSeq: this.lastSeq, seq });
    this.ackFromSet = false;
    this.window = this.opts.ackWindowSize;
    if (this.runOpen) this.runFirst = seq;
    this.bulk.peerGap();
    this.bulk.restartWork(now, false, true);
  }

  private peerRestarted(seq: number, now: number): void {
    const firstContact = !this.rxSeqSet;
    this.st.peerRestarts++;
    // the old incarnation's RESYNCs and their answers are moot (R3)
    this.bulk.peerRestarted();
    // New incarnation: fresh receive window (the first message counts, like conntrackd's reset).
    if (!firstContact) {
      this.ackFromSet = true;
      this.ackFrom = seq;
      this.window = this.opts.ackWindowSize;
    }
    this.runOpen = true;
    this.runSeen = true;
    this.runFirst = seq;
    this.lastRxAt = now;
    this.tx.peerRestarted();
    this.bulk.restartWork(now, this.opts.bulkOnPeerRestart, this.opts.resyncOnPeerRestart);
    this.notices.peerStart({ seq, firstContact });
  }

  /** conntrackdCompat: a HELLO makes conntrackd discard its resend queue. */
  private discardResendQueue(): void {
    let n = this.q.rs.head;
    while (n !== null) {
      const next = n.next;
      this.q.dropNode(n, 'discarded');
      n = next;
    }
  }
}
