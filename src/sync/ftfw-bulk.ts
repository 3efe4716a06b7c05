// FT-FW bulk passes and what hangs on them: one pass at a time, spaced (R5); the ACK of a peer's
// RESYNC held until a pass started after it has gone out whole (R3, sender side); the answers to
// our RESYNCs (R3, receiver side, ResyncWatch) and their retries; the hold-off of what a peer
// (re)start costs (R5). One timer for the work deferred to a time.
import { HoldOff } from './hold-off.js';
import { ResyncWatch, type PeerBulkAnswer } from './resync-watch.js';
import { seqAfter, seqBefore } from './seq.js';
import { RECORD } from './ftfw-queue.js';
import type { FtFwHandshake } from './ftfw-handshake.js';
import { FtFwPart, type FtFwCore } from './ftfw-part.js';
import type { BulkReason, FtFwHooks } from './ftfw-types.js';

const K_ACK = RECORD.ACK;

/** R3: the peer's RESYNCs whose ACK waits for our answer, at most. */
const HELD_RESYNCS = 64;
/** R3: delay before the first RESYNC asked again after an unclean answer (then doubled). */
const RECONCILE_RETRY_MS = 10_000;

export class FtFwBulk<O> extends FtFwPart<O> {
  private passesStarted = 0;
  private passesDone = 0;
  private passRunning = false;
  /** The owner has queued everything of the running pass (bulkQueued). */
  private passFed = false;
  /** A pass asked for while one runs or waits for its start time. */
  private passPending: BulkReason | null = null;
  private lastPassStartAt = -Infinity;
  /**
   * R3: the peer's RESYNCs we have not acknowledged yet, each with the bulk pass that answers
   * it (the first to start after it): seq, pass, seq, pass...
   */
  private heldResyncs: number[] = [];
  /** R3: our RESYNCs waiting for their answer. */
  private readonly resyncWatch = new ResyncWatch();
  /** R5: spacing of what peer (re)starts and sequence resets trigger. */
  private readonly restartHold: HoldOff;

  // work deferred to a time (R3 retries, R5), one timer for all
  private duePassAt = Infinity;
  private dueRestartAt = Infinity;
  private dueRestartBulk = false;
  private dueRestartResync = false;
  private dueRetryAt = Infinity;
  private reconcileAttempts = 0;
  private laterTimer: unknown = undefined;
  private laterArmed = false;
  private started = false;

  constructor(
    core: FtFwCore<O>,
    private readonly hooks: FtFwHooks<O>,
    private readonly hs: FtFwHandshake<O>,
    /** Called when the deferred work is due (the FtFw runs runDue() inside a call). */
    private readonly onDue: () => void,
  ) {
    super(core);
    this.restartHold = new HoldOff(this.opts.restartHoldOffMs, this.opts.restartHoldOffMaxMs);
  }

  /** Is a bulk pass running or waiting to start? */
  get inProgress(): boolean {
    return this.passRunning || this.passPending !== null;
  }

  /** RESYNCs transmitted so far (R3). */
  get resyncEpoch(): number {
    return this.resyncWatch.epoch;
  }

  start(): void {
    this.started = true;
    this.armLater();
  }

  stop(): void {
    this.started = false;
    this.disarmLater();
  }

  // ------------------------------------------------------------------------------ passes (R5)

  /** One pass at a time, spaced; called outside receive/timer calls (notices). */
  scheduleBulk(reason: BulkReason, now: number): void {
    if (this.passRunning || this.passPending !== null) {
      this.st.bulkRequestsMerged++;
      if (this.passPending === null) this.passPending = reason; // started when the running one is done
      return;
    }
    const at = this.lastPassStartAt + this.opts.bulkMinGapMs;
    if (at > now) {
      this.passPending = reason;
      this.duePassAt = at;
      this.armLater();
      return;
    }
    this.startPass(reason, now);
  }

  startPass(reason: BulkReason, now: number): void {
    this.passPending = null;
    this.duePassAt = Infinity;
    this.passesStarted++;
    this.passRunning = true;
    this.passFed = false;
    this.lastPassStartAt = now;
    this.st.bulksRequested++;
    this.hs.bulkPassStarted();
    if (this.hooks.bulk) this.hooks.bulk(reason);
    else this.passFed = true;
  }

  /** The owner has queued every object of the running pass. */
  bulkQueued(): void {
    if (this.passRunning) this.passFed = true;
  }

  /**
   * A pass is done once the owner has queued it whole and every object has left the tx queue.
   * Then held ACKs may go (true if some were queued) and a waiting pass gets its start time.
   */
  checkPassDone(): boolean {
    if (!this.passRunning || !this.passFed || this.q.txObj.length !== 0) return false;
    this.passRunning = false;
    this.passesDone++;
    if (this.passPending !== null) {
      this.duePassAt = Math.max(this.env.now(), this.lastPassStartAt + this.opts.bulkMinGapMs);
      this.armLater();
    }
    return this.heldResyncs.length > 0 && this.releaseAcks();
  }

  // -------------------------------------------------------------- the peer's RESYNCs (R3, tx)

  /** R3: the peer's RESYNC at `seq` is answered by the next pass to start; its ACK waits for it. */
  holdAcksFor(seq: number): void {
    // more unanswered RESYNCs than this: the oldest goes unacknowledged (a stock peer keeps it
    // in its resend queue; ours keeps asking nothing of it)
    if (this.heldResyncs.length >= 2 * HELD_RESYNCS) this.heldResyncs.splice(0, 2);
    this.heldResyncs.push(seq, this.passesStarted + 1);
  }

  /**
   * Queues ACK(from, to), around the peer's RESYNCs we have not answered yet: the rest of the
   * range is acknowledged at once (the peer's data and its flow control do not wait for our
   * bulk; both sides' bulks would otherwise wait for each other's ACKs), the RESYNC's own
   * sequence number only when its answer is out.
   */
  queueAck(from: number, to: number): void {
    const held = this.heldResyncs;
    for (let i = 0; i < held.length; i += 2) {
      const r = held[i];
      if (seqBefore(r, from) || seqAfter(r, to)) continue;
      if (seqBefore(from, r)) this.queueAck(from, (r - 1) >>> 0);
      if (seqAfter(to, r)) this.queueAck((r + 1) >>> 0, to);
      this.st.acksHeld++;
      return;
    }
    this.q.queueCtl(K_ACK, from, to);
  }

  /** R3: ACKs for the RESYNCs a finished pass answers. True if any was queued. */
  private releaseAcks(): boolean {
    const held = this.heldResyncs;
    let queued = false;
    for (let i = 0; i < held.length;) {
      if (this.passesDone < held[i + 1]) {
        i += 2;
        continue;
      }
      this.q.queueCtl(K_ACK, held[i], held[i]);
      held.splice(i, 2);
      queued = true;
    }
    return queued;
  }

  // ------------------------------------------------------------------ our RESYNCs (R3, rx)

  /** One of our RESYNCs went out with `seq`. */
  resyncSent(seq: number): void {
    if (this.opts.reconcile) this.resyncWatch.sent(seq);
  }

  /** The peer acknowledged [from, to] of ours: maybe the answer to one of our RESYNCs is complete. */
  peerAcked(from: number, to: number): void {
    if (!this.opts.reconcile) return;
    const answer = this.resyncWatch.acked(from, to);
    if (answer !== undefined) this.onAnswer(answer, this.env.now());
  }

  /** Some of the peer's messages were lost (a gap in its sequence, or a reset of our tracking). */
  peerGap(): void {
    this.resyncWatch.gap();
  }

  /** The peer restarted: its old incarnation's RESYNCs and the answers to ours are moot. */
  peerRestarted(): void {
    this.heldResyncs = [];
    this.resyncWatch.forget();
  }

  /** R3: the peer answered one of our RESYNCs; an unclean answer is asked for again, spaced out. */
  private onAnswer(a: PeerBulkAnswer, now: number): void {
    if (a.clean) {
      this.st.peerBulksComplete++;
      this.reconcileAttempts = 0;
    } else {
      this.st.peerBulksUnclean++;
      if (this.reconcileAttempts < this.opts.reconcileRetries) {
        this.dueRetryAt = now + RECONCILE_RETRY_MS * 2 ** this.reconcileAttempts++;
        this.armLater();
      }
    }
    this.notices.answer(a);
  }

  // ------------------------------------------------------------------ peer restarts (R5)

  /**
   * R5: the peer (re)started, or our tracking of its sequence was reset: its bulk and our RESYNC,
   * at once or, within a storm of them, once the hold-off is over (collapsed into one).
   */
  restartWork(now: number, bulk: boolean, resync: boolean): void {
    if (!bulk && !resync) return;
    const wait = this.restartHold.admit(now);
    if (wait > 0) {
      this.st.restartsDeferred++;
      this.dueRestartBulk ||= bulk;
      this.dueRestartResync ||= resync;
      this.dueRestartAt = Math.min(this.dueRestartAt, now + wait);
      this.armLater();
      return;
    }
    if (bulk) this.notices.bulk('peer-restart');
    if (resync) this.hs.requestResync();
  }

  // ----------------------------------------------------------------------------- the timer

  /** The timer fired: runs what is due; returns a pass to start (after the call), if any. */
  runDue(now: number): BulkReason | null {
    let pass: BulkReason | null = null;
    if (now >= this.dueRestartAt) {
      const bulk = this.dueRestartBulk;
      const resync = this.dueRestartResync;
      this.dueRestartAt = Infinity;
      this.dueRestartBulk = this.dueRestartResync = false;
      this.restartWork(now, bulk, resync);
    }
    if (now >= this.dueRetryAt) {
      this.dueRetryAt = Infinity;
      this.hs.requestResync();
    }
    if (now >= this.duePassAt) {
      this.duePassAt = Infinity;
      if (!this.passRunning) pass = this.passPending;
    }
    this.armLater();
    return pass;
  }

  /** The timer has fired (before runDue). */
  timerFired(): void {
    this.laterArmed = false;
    this.laterTimer = undefined;
  }

  private armLater(): void {
    this.disarmLater();
    const due = Math.min(this.duePassAt, this.dueRestartAt, this.dueRetryAt);
    if (!this.started || due === Infinity) return;
    this.laterArmed = true;
    this.laterTimer = this.env.setTimer(Math.max(0, due - this.env.now()), this.onDue);
  }

  private disarmLater(): void {
    if (!this.laterArmed) return;
    this.env.clearTimer(this.laterTimer);
    this.laterArmed = false;
    this.laterTimer = undefined;
  }
}
