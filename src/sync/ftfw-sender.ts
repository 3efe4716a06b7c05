// FT-FW sender: the transmit pass (sequence numbers, HELLO bits, resend queue with flow control),
// and what the peer's ACKs and NACKs do to the resend queue, with ctsync's rules S1-S5 and S7
// (see ftfw.ts) and the S3 retransmission timeout.
import { seqAfter, seqBefore } from './seq.js';
import { RECORD, type QNode } from './ftfw-queue.js';
import type { FtFwBulk } from './ftfw-bulk.js';
import type { FtFwHandshake } from './ftfw-handshake.js';
import { FtFwPart, type FtFwCore } from './ftfw-part.js';
import { FTFW_FLAG, type ControlKind, type TxSink } from './ftfw-types.js';

// module-local copies (see ftfw-types.ts)
const { OBJ: K_OBJ, ACK: K_ACK, NACK: K_NACK, RESYNC: K_RESYNC, ALIVE: K_ALIVE } = RECORD;
const { ACK: F_ACK, NACK: F_NACK, RESYNC: F_RESYNC, ALIVE: F_ALIVE, HELLO: F_HELLO } = FTFW_FLAG;

/** Control kind names and flag bits, by record kind. */
export const KIND_NAME: readonly ControlKind[] = ['ack', 'ack', 'nack', 'resync', 'alive'];
const KIND_FLAG: readonly number[] = [0, F_ACK, F_NACK, F_RESYNC, F_ALIVE];

/** A range of sequence numbers (S4: those of evicted records). */
interface SeqRange {
  lo: number;
  hi: number;
}

export class FtFwSender<O> extends FtFwPart<O> {
  /** Our next sequence number, once the first message went out. */
  seqSet = false;
  curSeq = 0;
  /** S5: the highest seq the peer has acknowledged. */
  private ackHigh = 0;
  private ackHighSet = false;
  /** S5: start and peer seq of the last regression seen (its ACK + NACK pair counts once). */
  private lastRegStart = -1;
  private lastRegPeerSeq = -1;
  /** S4: seq range of evicted objects / evicted NACK+RESYNC controls since the last fallback. */
  private evObj: SeqRange | null = null;
  private evCtl: SeqRange | null = null;

  constructor(
    core: FtFwCore<O>,
    private readonly hs: FtFwHandshake<O>,
    private readonly bulk: FtFwBulk<O>,
  ) {
    super(core);
  }

  /**
   * Sends what the tx queue holds (the caller has checked it is not empty): controls first, then
   * objects while the resend queue has room (S7). Returns how many messages went out.
   */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  transmit(sink: TxSink<O>): number {
    // read here, not passed in: a time passed to a call that is not inlined is boxed
    const now = this.env.now();
    const txCtl = this.q.txCtl;
    const txObj = this.q.txObj;
    const rs = this.q.rs;
    const objectLimit = this.opts.objectLimit;
    const st = this.st;
    const hs = this.hs;
    let sent = 0;
    let n: QNode<O> | null;
    for (;;) {
      // Always take a list head: hooks called from here (released on eviction) may touch the
      // queues. Control messages first, then objects while the resend queue has room (S7: an
      // object that would push an unacknowledged one out of the queue waits in tx, coalescing
      // further events, until ACKs make room).
      n = txCtl.head;
      if (n !== null) {
        txCtl.remove(n);
      } else {
        n = txObj.head;
        if (n === null) break;
        if (rs.length >= objectLimit) {
          st.flowBlocked++;
          break;
        }
        txObj.remove(n);
      }
      sent++;
      if (!this.seqSet) {
        this.seqSet = true;
        this.curSeq = Math.floor(now / 1000) >>> 0;
      }
      const seq = this.curSeq;
      this.curSeq = (seq + 1) >>> 0;
      let flags = hs.flagsFor(seq);
      const kind = n.kind;
      st.msgsSent++;
      if (kind === K_ALIVE) {
        st.aliveSent++;
        this.q.recycle(n);
        sink.control('alive', seq, flags | F_ALIVE, 0, 0);
        continue;
      }
      const obj = n.obj as O;
      const from = n.from;
      const to = n.to;
      if (kind === K_OBJ) st.dataSent++;
      else {
        flags |= KIND_FLAG[kind];
        if (kind === K_ACK) st.ackSent++;
        else if (kind === K_NACK) st.nackSent++;
        else {
          st.resyncSent++;
          this.bulk.resyncSent(seq);
        }
      }
      n.seq = seq;
      n.flags = flags;
      n.held = hs.holding;
      n.acked = false;
      if (flags & F_HELLO) n.helloSent = true;
      n.sentAt = now;
      if (n.firstSentAt < 0) n.firstSentAt = now;
      this.rsAdd(n);
      if (kind === K_OBJ) sink.object(obj, seq, flags);
      else sink.control(KIND_NAME[kind], seq, flags, from, to);
    }
    return sent;
  }

  private rsAdd(n: QNode<O>): void {
    const rs = this.q.rs;
    if (rs.length >= this.opts.resendQueueSize) {
      let victim = rs.head as QNode<O>;
      if (this.opts.objectLimit !== Infinity && victim.kind === K_OBJ) {
        // S7: with flow control only control messages overflow the queue; they push out the
        // oldest control message near the head rather than an object (cheapest to lose: ACK).
        let c: QNode<O> | null = victim;
        for (let i = 0; c !== null && i < 256; i++, c = c.next) {
          if (c.kind !== K_OBJ) {
            victim = c;
            break;
          }
        }
      }
      this.st.rsEvicted++;
      if (victim.kind === K_OBJ) this.evObj = widen(this.evObj, victim.seq);
      else if (victim.kind === K_NACK || victim.kind === K_RESYNC) this.evCtl = widen(this.evCtl, victim.seq);
      this.q.dropNode(victim, 'evicted');
    }
    rs.push(n);
  }

  /** ACK(from, to) from the peer: releases resend-queue entries in range, S1 hold, S2 hole rule. */
  onAck(from: number, to: number, peerSeq: number): void {
    if (this.opts.replayHelloPhase && this.regressed(from, peerSeq)) this.onRegression();
    if (!this.ackHighSet || seqAfter(to, this.ackHigh)) {
      this.ackHighSet = true;
      this.ackHigh = to;
    }
    const holeRule = this.opts.ackHoleRetransmit && this.hs.state === 'done';
    let n = this.q.rs.head;
    while (n !== null) {
      const next = n.next;
      if (seqBefore(n.seq, from)) {
        // S2: older than something the peer has acknowledged and still unacknowledged.
        // (not before our handshake: everything sent so far is replayed then anyway; not for an
        // entry acknowledged while held: it arrived, it only waits for the linger to end)
        // (nor for a RESYNC: a ctsync peer acknowledges it only once its answer is out, R3; a
        // lost one is NACKed)
        if (holeRule && !(n.held && n.acked) && n.kind !== K_RESYNC) {
          this.q.requeue(n);
          this.st.holeRetransmits++;
        }
      } else if (seqAfter(n.seq, to)) {
        break;
      } else if (n.held) {
        // S1: a receiver's ACK may cover HELLO-flagged messages it never saw, and a stock
        // receiver may regress (S5): keep them for the replays.
        n.acked = true;
      } else {
        this.q.dropNode(n, 'acked');
      }
      n = next;
    }
    this.bulk.peerAcked(from, to);
  }

  /** NACK(from, to) from the peer: moves entries in range back to tx, S4 bulk fallback. */
  onNack(from: number, to: number, peerSeq: number): void {
    if (this.opts.replayHelloPhase && this.regressed((from - 1) >>> 0, peerSeq)) this.onRegression();
    if (this.opts.bulkOnUnservableNack) {
      if (this.evObj !== null && overlaps(this.evObj, from, to)) {
        this.evObj = null;
        this.st.unservableNacks++;
        this.st.bulkFallbacks++;
        this.notices.bulk('nack-evicted');
      }
      if (this.evCtl !== null && overlaps(this.evCtl, from, to)) {
        this.evCtl = null;
        this.st.unservableNacks++;
        this.hs.requestResync();
      }
    }
    let n = this.q.rs.head;
    while (n !== null) {
      const next = n.next;
      if (seqBefore(n.seq, from)) {
        n = next;
        continue;
      }
      if (seqAfter(n.seq, to)) break;
      this.q.requeue(n);
      this.st.nackRetransmits++;
      n = next;
    }
  }

  /**
   * S5: does an ACK/NACK whose range starts right after `start` show that the peer moved its
   * last_seq back into our HELLO phase after having acknowledged beyond it? Only a receiver that
   * blindly accepts a late HELLO-flagged duplicate does that (conntrackd's bypass, L5).
   */
  private regressed(start: number, peerSeq: number): boolean {
    const hs = this.hs;
    if (!(
      hs.state === 'done' &&
      hs.helloRange &&
      this.ackHighSet &&
      seqAfter(this.ackHigh, hs.helloHi) &&
      !seqBefore(start, hs.helloLo) &&
      !seqAfter(start, hs.helloHi)
    ))
      return false;
    // the ACK(h,h) + NACK(h+1,..) a stock receiver sends back to back after accepting h are
    // one regression (the same late message accepted again later is another one)
    const same = this.lastRegStart === start && this.lastRegPeerSeq === (peerSeq - 1) >>> 0;
    this.lastRegStart = start;
    this.lastRegPeerSeq = peerSeq;
    return !same;
  }

  /**
   * S5: the peer regressed, so duplicates still in flight may have been applied over newer data:
   * send again everything we still hold (the held entries cover the possible victims).
   */
  private onRegression(): void {
    this.st.peerRegressions++;
    this.st.regressionRetransmits += this.requeueObjects(false);
  }

  /** S3: objects unacknowledged for a while, while the peer is alive (`lastRxAt`), are sent again. */
  safetyNet(now: number, lastRxAt: number): void {
    const periods = this.opts.retransmitTimeoutPeriods;
    if (periods === 0) return;
    const period = this.opts.alivePeriodMs;
    const base = periods * period;
    if (now - lastRxAt > base) return; // peer silent: resending would only add load
    const maxWait = this.opts.retransmitMaxPeriods * period;
    const handshakeDone = this.hs.state === 'done';
    let n = this.q.rs.head;
    while (n !== null) {
      const next = n.next;
      const age = now - n.sentAt;
      if (age < base) break; // the resend queue is in transmission order
      if (n.kind === K_OBJ && !(n.held && (n.acked || !handshakeDone))) {
        const wait = Math.min(maxWait, base * 2 ** Math.min(n.retries, 30));
        if (age >= wait) {
          n.retries++;
          this.q.requeue(n);
          this.st.timeoutRetransmits++;
        }
      }
      n = next;
    }
  }

  /**
   * R2: the peer (re)started. Its acknowledgements say nothing any more; control messages about
   * the old incarnation are meaningless, our objects are not: the new incarnation needs them
   * (conntrackd throws them away).
   */
  peerRestarted(): void {
    this.ackHighSet = false;
    this.st.restartRequeues += this.requeueObjects(true);
  }

  /**
   * Every object of the resend queue goes to the transmit queue again; with `dropControl`, its
   * control messages are dropped. Returns how many objects.
   */
  private requeueObjects(dropControl: boolean): number {
    let count = 0;
    let n = this.q.rs.head;
    while (n !== null) {
      const next = n.next;
      if (n.kind === K_OBJ) {
        this.q.requeue(n);
        count++;
      } else if (dropControl) {
        this.q.rs.remove(n);
        this.q.recycle(n);
      }
      n = next;
    }
    return count;
  }
}

function widen(r: SeqRange | null, seq: number): SeqRange {
  if (r === null) return { lo: seq, hi: seq };
  if (seqBefore(seq, r.lo)) r.lo = seq;
  if (seqAfter(seq, r.hi)) r.hi = seq;
  return r;
}

function overlaps(r: SeqRange, from: number, to: number): boolean {
  return !seqAfter(from, r.hi) && !seqBefore(to, r.lo);
}
