/**
 * FT-FW reliability protocol (conntrackd `Mode FTFW`), as a pure state machine.
 *
 * No sockets, no real timers, no Date.now(): time and the one timer come from an injected
 * `FtFwEnv`, and the protocol is generic over what a data message carries. The owner (the sync
 * engine) drives it; see `FtFw` for the call order. Behaviour follows conntrack-tools 1.4.7's FT-FW
 * (docs/ftfw-protocol.md §7), plus the wire-compatible improvements described below (§8 there).
 *
 * ------------------------------------------------------------------------------------------------
 * Why stock conntrackd loses entries, and what this implementation does about it
 * ------------------------------------------------------------------------------------------------
 * Stock FT-FW recovers a lost message only when the receiver sees a *gap* in the sender's
 * sequence and NACKs it while the message is still in the sender's resend queue. Every hole
 * below is a way a message can be lost without ever being NACKed, or NACKed after it is gone:
 *
 *  L1  The first message ever received is accepted without a sequence check. Anything the peer
 *      sent before it is unknown to the receiver and never NACKed (cold start with loss).
 *  L2  Every message carrying HELLO bypasses the sequence check. A sender says HELLO on
 *      *everything* until a HELLO_BACK arrives (≥ one round trip, typically up to a second of
 *      ALIVE timer, longer with loss), so every message lost in that phase is never NACKed.
 *  L3  Worse, after such a bypass the receiver's ACK range [ack_from, last_seq] spans the
 *      silently skipped sequence numbers: the sender *releases* messages that never arrived.
 *  L4  Every received HELLO makes the receiver discard its whole resend queue. While the peer is
 *      in its HELLO phase (each of its messages carries HELLO) our unacknowledged data is thrown
 *      away again and again; the peer's NACKs for it can no longer be served.
 *  L5  A late (reordered or duplicated) HELLO message is accepted as well and can move
 *      last_seq backwards: stale data (e.g. a NEW after its DEL) is applied.
 *  L6  An entry evicted from a full resend queue, or already released by an ACK, can never be
 *      re-sent; a NACK for it is silently ignored.
 *  L7  A restarted peer has an empty external cache; nothing is sent to it automatically.
 *
 * Improvements (all on by default, each individually switchable, all off in `conntrackdCompat`):
 *
 *  S1  "The HELLO phase is unreliable, so replay it" (fixes L1-L3 for data WE send, whatever the
 *      receiver): an entry transmitted while we still say HELLO is never released by an ACK
 *      (a stock receiver's ACK may cover messages it skipped, L3). When our handshake completes
 *      (HELLO_BACK received: the peer has accepted at least one of our messages, so its
 *      sequence tracking is set), every such entry is sent again, now without HELLO, i.e.
 *      sequence-checked and NACK-able by any receiver. For `helloLingerPeriods` after that
 *      (a bound on the network delay) every entry we send stays held too (see S5); at its end
 *      the HELLO-phase entries are replayed once more and acknowledged ones are released.
 *      RESYNC requests wait for the end of the linger time: a lost HELLO-flagged RESYNC is never
 *      NACKed, and a stock peer discards its resend queue at every HELLO it receives (L4), late
 *      duplicates of ours included, so its bulk must start after the last of them.
 *  S2  ACK-hole rule (fixes L1 for a peer that restarted under us, and lost NACKs): a receiver
 *      that acknowledges [from, to] has received seq `from` and therefore either acknowledged or
 *      NACKed everything before it (later arrivals of older seqs are dropped as "before"). A
 *      resend-queue entry older than `from` that is still there was lost in a way the peer will
 *      never report (accepted-first-message skip, lost NACK, ...) and is re-queued at once.
 *      Queue insertion is idempotent, so a NACK that arrives as well costs nothing extra.
 *  S3  Retransmission safety net (defence in depth): an object left unacknowledged for
 *      `retransmitTimeoutPeriods` ALIVE periods while the peer is alive is re-queued, with
 *      exponential back-off per entry. A receiver treats the copy like any later update.
 *  S4  Bulk fallback (L6): a NACK whose range contains sequence numbers of evicted objects
 *      cannot be served entry by entry; the owner is asked for a bulk send instead (counted).
 *      A NACK for an evicted NACK/RESYNC of ours makes us request a RESYNC from the peer.
 *  S5  Regression repair (L5 at a stock receiver): after accepting a late HELLO-flagged duplicate
 *      of ours, conntrackd moves its last_seq back and then also accepts stale duplicates still
 *      in flight. It shows: its next ACK/NACK starts inside our HELLO-phase sequence range
 *      although it had acknowledged beyond it. We then send again everything we still hold;
 *      thanks to the linger hold (S1) that covers every entry a stale duplicate could hit.
 *  S6  Start-up recovery, deterministic on the restarted side: once our handshake is complete
 *      we offer our whole cache (`bulkOnStartup`: in-flight data of the previous incarnation
 *      was lost) and request the peer's (`startupResync`, the conntrackd option, default on).
 *  S7  Flow control (L6): objects wait in the tx queue while the resend queue is nearly full
 *      instead of evicting unacknowledged entries (conntrackd sends a whole bulk in one pass
 *      and evicts most of it when the cache exceeds ResendQueueSize); control messages keep a
 *      reserve and, when they overflow, push out the oldest control rather than an object.
 *  R1  Receiver: a HELLO is a *peer (re)start* only when it begins a new HELLO run (first
 *      contact, HELLO after the peer had finished its handshake and late duplicates had time to
 *      drain, HELLO after a silence, or a sequence far outside the current run). Messages of an
 *      ongoing run are sequence-checked like any other: gaps are NACKed (fixes L2 against a
 *      stock sender, whose resend queue still holds the data unless we are saying HELLO
 *      ourselves), late ones are dropped (fixes L5). HELLO_BACK is scheduled for every HELLO,
 *      as conntrackd does.
 *  R2  On a peer (re)start our resend queue is not discarded (L4): its objects are re-queued for
 *      the new incarnation (control messages about the old one are dropped), and
 *      (`bulkOnPeerRestart`) our whole cache is offered, (`resyncOnPeerRestart`) the peer's is
 *      requested (L7). This is the heuristic half of restart recovery, needed for a stock peer,
 *      which neither pushes nor (without StartupResync) pulls when it restarts.
 *  R3  Reconciliation (ghosts): a bulk adds and updates but never removes, so an entry the peer
 *      deleted while its DEL could not reach us (it was down or restarting, or the DEL was lost
 *      for good) would stay in our external cache and be committed at the next failover. The
 *      answer to our RESYNC is known complete when the first ACK covering that RESYNC arrives
 *      with no gap in the peer's sequence since it went out (ResyncWatch explains why); the owner
 *      then drops every external entry not refreshed since (`peerBulkComplete`). So that the
 *      rule holds for a ctsync peer, which paces its bulk, we acknowledge a peer's RESYNC only
 *      once a bulk pass started after it has been transmitted whole (our ACK ranges leave its
 *      sequence number out until then; S2 leaves our own RESYNCs alone for that reason). An
 *      unclean answer is asked again a few times, spaced out.
 *  R4  Stall recovery: a receiver pushed out of the peer's sequence space (one message far
 *      ahead, forged or corrupt) drops every real message as "before" forever, as conntrackd
 *      does. A peer that keeps talking while all its messages are dropped (StallDetector) has
 *      its sequence taken as new, and a RESYNC asks for what was dropped.
 *  R5  Cost bounds: what a peer (re)start costs here (R2's bulk and RESYNC, R4's RESYNC) is spaced
 *      by a growing hold-off (HoldOff): the first at once, a storm of them (forged HELLOs, junk)
 *      one per hold-off. Bulk passes run one at a time; requests meanwhile collapse into one more
 *      pass, started at least `bulkMinGapMs` after the previous one.
 *
 * Why this stays wire-compatible: nothing new appears on the wire. A retransmission is an
 * ordinary data message with a fresh sequence number, built from the current cache state, so
 * for any receiver it is just a later update (CT_NEW on an existing entry replaces it, CT_UPD
 * updates, CT_DEL of an unknown entry is a no-op). Extra RESYNCs and bulks are what `conntrackd
 * -n` / `-B` produce. Our receiver only differs in *when* it NACKs/drops, and a NACK for data the
 * sender no longer has is ignored by conntrackd. Only timing changes (S7, held RESYNC).
 *
 * The parts, one job each: ftfw-queue.ts (records, tx and resend queues, free list),
 * ftfw-sender.ts (transmit pass, ACK/NACK handling, S1-S5, S7, S3), ftfw-receiver.ts (sequence
 * tracking, ACK window, R1, R4), ftfw-handshake.ts (HELLO/HELLO_BACK, S1 replay and linger),
 * ftfw-bulk.ts (bulk passes, held RESYNC ACKs, answers to our RESYNCs: R3, R5); options are
 * resolved once into a frozen FtFwSettings (ftfw-options.ts). This file wires them, owns the ALIVE
 * timer and tells the owner what happened once a call is over (ftfw-notices.ts).
 *
 * Guarantees (exercised by test/unit/sync/ftfw.test.ts on a lossy, duplicating, reordering link):
 * our sender loses nothing, with our receiver or a conntrackd one (S1, S2, S5, S7); our
 * receiver with a stock sender gets everything the stock sender can still deliver, and a
 * RESYNC (S6/R2, sent reliably) covers what it cannot, except ghosts (below).
 * Cost: at each start-up the HELLO-phase traffic is sent three times and, with both S6 and R2
 * on between two ctsync nodes, a restart causes two bulks in each direction; turn the R2 options
 * off when every peer is ctsync (or S6 off when the peers are stock and R2 suffices).
 *
 * Known residual limits (protocol-level, not fixable without a wire extension):
 *  - A DEAD entry whose CT_DEL cannot be delivered (its sender restarted, it was evicted, or a
 *    stock sender lost it) is not in a later bulk; the peer keeps a ghost until the next clean
 *    answer to one of its RESYNCs (R3): a ctsync receiver asks for one at every restart of its
 *    peer; under constant loss (no clean answer) the ghost stays.
 *  - A peer that crashes and restarts within its own HELLO run (down less than two ALIVE
 *    periods plus `maxReorderMs`), or within `maxReorderMs` after it, with its new (time-based)
 *    sequence number inside the old run's range, is taken for the same incarnation (sequence
 *    numbers carry no incarnation id); S6 on the restarted side covers it, a stock peer is not
 *    covered (it only happens to a peer crash-looping within its first seconds).
 *  - Late duplicates are assumed to drain within `maxReorderMs` (and `helloLingerPeriods`).
 *  - Only one peer: like conntrackd, the receive state is a single sequence space.
 */
import { FtFwBulk } from './ftfw-bulk.js';
import { FtFwHandshake } from './ftfw-handshake.js';
import { FtFwNotices } from './ftfw-notices.js';
import { resolveFtFwOptions, type FtFwSettings } from './ftfw-options.js';
import { FtFwQueues, RECORD } from './ftfw-queue.js';
import { FtFwReceiver } from './ftfw-receiver.js';
import { FtFwSender, KIND_NAME } from './ftfw-sender.js';
import type { SyncProtocol } from './sync-protocol.js';
import {
  newCounters,
  type BulkReason,
  type FtFwCounters,
  type FtFwEnv,
  type FtFwHooks,
  type FtFwOptions,
  type FtFwStats,
  type HelloState,
  type RxHeader,
  type RxVerdict,
  type TxItem,
  type TxMessage,
  type TxSink,
} from './ftfw-types.js';

export { seqAdd, seqAfter, seqBefore, seqDiff } from './seq.js';
export type { PeerBulkAnswer } from './resync-watch.js';
export { FTFW_FLAG, FTFW_TYPE } from './ftfw-types.js';
export type {
  BulkReason,
  ControlKind,
  FtFwEnv,
  FtFwHooks,
  FtFwOptions,
  FtFwStats,
  HelloState,
  ReleaseReason,
  RxHeader,
  RxVerdict,
  TxItem,
  TxMessage,
  TxSink,
} from './ftfw-types.js';
export type { FtFwSettings } from './ftfw-options.js';

const { OBJ: K_OBJ, ALIVE: K_ALIVE } = RECORD;

// ------------------------------------------------------------------------------- the machine

/**
 * The FT-FW protocol for one peer.
 *
 * How the owner drives it:
 *  1. `new FtFw(env, hooks, options)`, then `start()` (arms the 1 s ALIVE timer, as conntrackd
 *     does at start-up; the first ALIVE|HELLO goes out after a second of silence).
 *  2. Local work: for each changed cache object `queueObject(obj)` (idempotent per key; an object
 *     waiting for its ACK is moved back to tx). `requestResync()` for `-n`. For `-B` the owner
 *     itself calls queueObject() for every internal object.
 *  3. Received datagram: for each decoded message, `receive(header)` BEFORE applying it; apply
 *     data only on 'apply'. Malformed-payload data still goes through receive() (conntrackd
 *     tracks its sequence) and is then discarded by the owner. Hooks may ask for a bulk.
 *  4. After each batch of 2./3. (one main-loop iteration) call `transmitPass()` and serialise the
 *     returned messages in order, objects from their CURRENT state (type from state: NEW →
 *     CT_NEW, ALIVE → CT_UPD, DEAD → CT_DEL), packing them into datagrams. `transmitTo(sink)`
 *     does the same without allocating a message per item.
 *  5. When `hooks.txPending` fires (timer), run a transmit pass as in 4.
 *  6. `released(obj, reason)`: the protocol dropped its reference; free DEAD entries then.
 *  7. `stop()` cancels the timer.
 *
 * Per-object cost: with `nodeOf`/`setNodeOf` (intrusive records) queueing, releasing and
 * `holds()` touch only the object and the queues, no Map; queue records are reused (free list).
 * `receiveHeader()` is receive() without a header object.
 */
export class FtFw<O> implements SyncProtocol<O> {
  private readonly env: FtFwEnv;
  private readonly hooks: FtFwHooks<O>;
  /** The resolved options (frozen). */
  readonly settings: FtFwSettings;
  private readonly st: FtFwCounters = newCounters();
  private readonly notices = new FtFwNotices();
  private readonly q: FtFwQueues<O>;
  private readonly hs: FtFwHandshake<O>;
  private readonly bulk: FtFwBulk<O>;
  private readonly tx: FtFwSender<O>;
  private readonly rx: FtFwReceiver<O>;

  // the ALIVE timer (one callback for the instance's lifetime)
  private readonly onTimerCb = (): void => this.onTimer();
  private timer: unknown = undefined;
  private timerArmed = false;
  private started = false;
  private startedOnce = false;
  /** Depth of receive/timer calls in progress: notices to the owner wait while it is above 0. */
  private inCall = 0;

  constructor(env: FtFwEnv, hooks: FtFwHooks<O> = {}, options: FtFwOptions<O> = {}) {
    this.env = env;
    this.hooks = hooks;
    if ((options.nodeOf === undefined) !== (options.setNodeOf === undefined)) {
      throw new TypeError('ftfw: nodeOf and setNodeOf go together');
    }
    const o = resolveFtFwOptions(options);
    this.settings = o;
    const access = {
      keyOf: options.keyOf ?? ((x: O) => x),
      nodeOf: options.nodeOf ?? null,
      setNodeOf: options.setNodeOf ?? null,
    };
    this.q = new FtFwQueues<O>(access, hooks);
    const core = { opts: o, env, q: this.q, notices: this.notices, st: this.st };
    this.hs = new FtFwHandshake<O>(core);
    this.bulk = new FtFwBulk<O>(core, hooks, this.hs, () => this.onLater());
    this.tx = new FtFwSender<O>(core, this.hs, this.bulk);
    this.rx = new FtFwReceiver<O>(core, this.hs, this.bulk, this.tx);
  }

  // ----------------------------------------------------------------------------- lifecycle

  /** Arms the ALIVE timer; with `startupResync` a RESYNC is requested (sent after the handshake). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm();
    this.bulk.start();
    if (this.settings.startupResync && !this.startedOnce) this.requestResync();
    this.startedOnce = true;
  }

  /** Cancels the timer. Queues are kept (call start() again to resume). */
  stop(): void {
    this.started = false;
    this.disarm();
    this.bulk.stop();
  }

  // ------------------------------------------------------------------------------ tx side

  /**
   * Schedules `obj` for the next transmit pass: idempotent per key; an object waiting in the
   * resend queue moves back to the tx queue (coalescing: one message per object per pass,
   * carrying its state at transmit time).
   */
  queueObject(obj: O): void {
    this.q.queueObject(obj);
  }

  /** Drops `obj` (by key) from both queues without sending it (e.g. cache flush). */
  forget(obj: O): boolean {
    const n = this.q.recordOf(obj);
    if (n === undefined) return false;
    this.q.dropNode(n, 'forgotten');
    return true;
  }

  /** Is this object (by key) queued for transmission or waiting for its ACK? */
  holds(obj: O): boolean {
    return this.q.holds(obj);
  }

  /**
   * `conntrackd -n`: ask the peer for its whole internal cache. Outside conntrackdCompat the
   * RESYNC waits for our handshake and linger time (FtFwHandshake.requestResync says why);
   * several requests before that collapse into one.
   */
  requestResync(): void {
    this.hs.requestResync();
  }

  /**
   * Asks for a bulk pass for the owner's own reasons (`conntrackd -B`): hooks.bulk is called for
   * it, at once unless a pass is running or started less than `bulkMinGapMs` ago (then later,
   * one pass for every request meanwhile).
   */
  requestBulk(): void {
    this.notices.bulk('local');
    this.flushDeferred();
  }

  /** The owner has queued every object of the bulk pass hooks.bulk asked for. */
  bulkQueued(): void {
    this.bulk.bulkQueued();
  }

  /** Is a bulk pass running or waiting to start? */
  get bulkInProgress(): boolean {
    return this.bulk.inProgress;
  }

  /** RESYNCs transmitted so far (R3): stamp external entries with it when they are refreshed. */
  get resyncEpoch(): number {
    return this.bulk.resyncEpoch;
  }

  /** Is anything waiting for transmitPass()? */
  get txPending(): boolean {
    return this.q.txLength > 0;
  }

  /**
   * One transmit pass (conntrackd ftfw_xmit): every queued item gets the next sequence number,
   * HELLO while our handshake is incomplete and HELLO_BACK once after a received HELLO. Control
   * messages go first, then objects (conntrackd keeps one FIFO; the order inside a pass has no
   * meaning on the wire), objects only while the resend queue has room (S7). Objects and
   * ACK/NACK/RESYNC move to the resend queue (evicting the oldest entry when full), ALIVE is
   * forgotten. If anything was sent the ALIVE timer is re-armed (1 s from now).
   *
   * With `sink`, messages are handed over one by one and the returned array is empty; the sink
   * must not call back into this object. `transmitTo` is the same pass without a TxMessage
   * allocation per message.
   */
  transmitPass(sink?: (m: TxMessage<O>) => void): TxMessage<O>[] {
    const out: TxMessage<O>[] = [];
    const put = sink ?? ((m: TxMessage<O>): void => void out.push(m));
    this.transmitTo({
      object: (obj, seq, flags) => put({ seq, flags, item: { kind: 'object', obj } }),
      control: (kind, seq, flags, from, to) => put({ seq, flags, item: { kind, from, to } }),
    });
    return out;
  }

  /** transmitPass() handing each message to `sink` as plain arguments. Returns the count. */
  transmitTo(sink: TxSink<O>): number {
    if (this.hs.lingering) this.hs.maybeEndLinger(this.env.now(), this.rx.lastRxAt);
    this.bulk.checkPassDone();
    if (this.q.txLength === 0) return 0;
    const sent = this.tx.transmit(sink);
    if (sent > 0) this.arm();
    // a pass finished by this one lets held ACKs go: in the next pass
    if (this.bulk.checkPassDone()) this.hooks.txPending?.();
    return sent;
  }

  // ------------------------------------------------------------------------------ rx side

  /**
   * Sequence tracking and control handling for one incoming message, called BEFORE the owner
   * applies it. Returns 'apply' for data to apply, 'control' for a handled control message,
   * 'drop' for a duplicate/late message, 'bad' for a malformed header. ACK/NACK/RESYNC ranges
   * come from the header or the explicit arguments.
   */
  receive(h: RxHeader, from: number | undefined = h.from, to: number | undefined = h.to): RxVerdict {
    return this.receiveHeader(h.type, h.flags, h.seq, from ?? 0, to ?? 0);
  }

  /** receive() from the header's fields (no header object); from/to only for ACK/NACK/RESYNC. */
  receiveHeader(type: number, flags: number, seq: number, from = 0, to = 0): RxVerdict {
    this.inCall++;
    let v: RxVerdict;
    try {
      v = this.rx.rx(type, flags, seq >>> 0, from >>> 0, to >>> 0);
    } finally {
      this.inCall--;
    }
    this.flushDeferred();
    return v;
  }

  // ----------------------------------------------------------------------------------- timer

  private arm(): void {
    if (!this.started) return;
    this.disarm();
    this.timerArmed = true;
    this.timer = this.env.setTimer(this.settings.alivePeriodMs, this.onTimerCb);
  }

  private disarm(): void {
    if (this.timerArmed) {
      this.env.clearTimer(this.timer);
      this.timerArmed = false;
      this.timer = undefined;
    }
  }

  /**
   * ALIVE timer: 1 s without a transmission. ACK(ack_from, last_seq) if there is something to
   * acknowledge, else ALIVE. Also runs the S3 safety net. Exposed for owners that drive the
   * timer themselves; normally called by the injected timer.
   */
  onTimer(): void {
    this.disarm();
    this.inCall++;
    try {
      const queued = this.q.txCtl.length;
      this.rx.ackOnTimer();
      // nothing to acknowledge, or held back (R3): the peer still hears from us
      if (this.q.txCtl.length === queued) this.q.queueCtl(K_ALIVE, 0, 0);
      const now = this.env.now();
      this.hs.maybeEndLinger(now, this.rx.lastRxAt);
      this.tx.safetyNet(now, this.rx.lastRxAt);
      this.arm();
    } finally {
      this.inCall--;
    }
    this.flushDeferred();
    this.hooks.txPending?.();
  }

  /** The timer of deferred work (R3 retries, R5 hold-offs and pass starts) is due. */
  private onLater(): void {
    this.bulk.timerFired();
    const now = this.env.now();
    let pass: BulkReason | null;
    this.inCall++;
    try {
      pass = this.bulk.runDue(now);
    } finally {
      this.inCall--;
    }
    if (pass !== null) this.bulk.startPass(pass, now);
    this.flushDeferred();
    this.hooks.txPending?.();
  }

  /** Tells the owner what the call that is over caused (never in the middle of one). */
  private flushDeferred(): void {
    if (this.inCall > 0 || !this.notices.pending) return;
    const reasons = this.notices.deliver(this.hooks);
    if (reasons.length > 0) {
      // several reasons in one call collapse into one pass (queueing is idempotent anyway)
      this.st.bulkRequestsMerged += reasons.length - 1;
      this.bulk.scheduleBulk(reasons[0], this.env.now());
    }
  }

  // ----------------------------------------------------------------------------------- stats

  get hello(): HelloState {
    return this.hs.state;
  }

  /** env.now() of the last message from the peer (-Infinity before the first): its silence. */
  get peerLastRxAt(): number {
    return this.rx.lastRxAt;
  }

  /**
   * The replication lag probe: env.now() of the first transmission of the oldest object the peer
   * has not acknowledged yet (undefined: the peer has acknowledged everything sent). The peer's
   * acknowledged copy is complete up to that moment. Walks the queues: call it per scrape.
   */
  readonly ackless = false;

  unackedSince(): number | undefined {
    return this.q.oldestUnackedSentAt();
  }

  stats(): FtFwStats {
    return {
      ...this.st,
      rsQueueLen: this.q.rs.length,
      txQueueLen: this.q.txLength,
      hello: this.hs.state,
      nextSeq: this.tx.seqSet ? this.tx.curSeq : undefined,
      lastSeqReceived: this.rx.rxSeqSet ? this.rx.lastSeq : undefined,
    };
  }

  /** `conntrackd -s rsqueue` text: `resent queue (len=N)` then one line per entry. */
  rsQueueDump(): string {
    let s = `resent queue (len=${this.q.rs.length})\n`;
    for (let n = this.q.rs.head; n !== null; n = n.next) {
      s += n.kind === K_OBJ ? `object -> seq:${n.seq}\n` : `control -> seq:${n.seq} flags:${n.flags}\n`;
    }
    return s;
  }

  /** Snapshot of the resend queue (tests, diagnostics). */
  rsQueueEntries(): Array<{ seq: number; flags: number; item: TxItem<O> }> {
    const r: Array<{ seq: number; flags: number; item: TxItem<O> }> = [];
    for (let n = this.q.rs.head; n !== null; n = n.next) {
      r.push({
        seq: n.seq,
        flags: n.flags,
        item:
          n.kind === K_OBJ ? { kind: 'object', obj: n.obj as O } : { kind: KIND_NAME[n.kind], from: n.from, to: n.to },
      });
    }
    return r;
  }

  /** Receive-side state (tests, diagnostics). */
  rxState(): { lastSeq: number | undefined; ackFrom: number | undefined; window: number } {
    const rx = this.rx;
    return {
      lastSeq: rx.rxSeqSet ? rx.lastSeq : undefined,
      ackFrom: rx.ackFromSet ? rx.ackFrom : undefined,
      window: rx.window,
    };
  }
}
