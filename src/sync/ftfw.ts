/**
 * FT-FW reliability protocol (conntrackd `Mode FTFW`), as a pure state machine.
 *
 * No sockets, no real timers, no Date.now(): time and the one timer come from an injected
 * `FtFwEnv`, and the protocol is generic over what a data message carries. The owner (the sync
 * engine) drives it; see `FtFw` for the call order. Behaviour follows docs/ftfw-protocol.md §4, §7
 * (conntrack-tools 1.4.7), plus the wire-compatible rules of docs/ftfw-protocol.md §8, below.
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
 * Guarantees (exercised by test/unit/ftfw.test.ts on a lossy, duplicating, reordering link):
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
import { HoldOff } from './hold-off.js';
import { ResyncWatch, type PeerBulkAnswer } from './resync-watch.js';
import { seqAfter, seqBefore, seqDiff } from './seq.js';
import { StallDetector } from './stall-detector.js';

export { seqAdd, seqAfter, seqBefore, seqDiff } from './seq.js';
export type { PeerBulkAnswer } from './resync-watch.js';

// ----------------------------------------------------------------------------- wire constants
// Same values as MSG / FLAG in ./wire.ts (docs/ftfw-protocol.md §3.4); repeated here so the state machine does
// not depend on the codec.

/** Message types (nethdr type). */
export const FTFW_TYPE = { CT_NEW: 0, CT_UPD: 1, CT_DEL: 2, EXP_NEW: 3, EXP_UPD: 4, EXP_DEL: 5, CTL: 10 } as const;
/** Message flag bits. */
export const FTFW_FLAG = { RESYNC: 0x02, NACK: 0x04, ACK: 0x08, ALIVE: 0x10, HELLO: 0x20, HELLO_BACK: 0x40 } as const;

const T_DATA_MAX = 5;
const T_CTL = 10;
const F_RESYNC = FTFW_FLAG.RESYNC;
const F_NACK = FTFW_FLAG.NACK;
const F_ACK = FTFW_FLAG.ACK;
const F_ALIVE = FTFW_FLAG.ALIVE;
const F_HELLO = FTFW_FLAG.HELLO;
const F_HELLO_BACK = FTFW_FLAG.HELLO_BACK;
const F_HELLO_BITS = F_HELLO | F_HELLO_BACK;

// ------------------------------------------------------------------------------------- types

/** Injected time and timer (production: Date.now / setTimeout; tests: a fake clock). */
export interface FtFwEnv {
  /** Wall-clock milliseconds since the Unix epoch. Seeds the sequence counter (Unix seconds). */
  now(): number;
  /** Arms a one-shot timer; the handle is only ever passed back to clearTimer. */
  setTimer(ms: number, cb: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export type ControlKind = 'ack' | 'nack' | 'resync' | 'alive';

/** What a transmit pass asks the owner to put on the wire, in order. */
export type TxItem<O> =
  | { readonly kind: 'object'; readonly obj: O }
  | { readonly kind: ControlKind; readonly from: number; readonly to: number };

export interface TxMessage<O> {
  /** Sequence number of this message (BE u32 at offset 4). */
  readonly seq: number;
  /**
   * Header flags to write verbatim. Objects: only HELLO / HELLO_BACK; the owner picks the type
   * (CT_NEW/UPD/DEL, EXP_*) from the object's state at this moment (docs/ftfw-protocol.md §6.5). Controls: the
   * control bit (ACK/NACK/RESYNC = 16-byte message with from/to; ALIVE = 8 bytes) plus HELLO
   * bits; type is always 10 (CTL).
   */
  readonly flags: number;
  readonly item: TxItem<O>;
}

/**
 * Allocation-free form of a transmit pass (`transmitTo`): one call per message, in order.
 * Serialise each message before returning; do not call back into the FtFw from here.
 */
export interface TxSink<O> {
  /** Data message: serialise `obj` from its CURRENT state; `flags` holds only HELLO bits. */
  object(obj: O, seq: number, flags: number): void;
  /**
   * Control message (type CTL): `flags` already includes the control bit (ACK / NACK / RESYNC /
   * ALIVE) plus HELLO bits, i.e. it is the header's flags byte; `from`/`to` are 0 for ALIVE.
   */
  control(kind: ControlKind, seq: number, flags: number, from: number, to: number): void;
}

/** Decoded header of an incoming message (version already checked by the codec). */
export interface RxHeader {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** ACK / NACK / RESYNC only. */
  readonly from?: number;
  readonly to?: number;
}

/**
 * receive() verdict:
 *  - 'apply'   data message in sequence (or accepted): the owner applies it to the external cache
 *  - 'control' ACK / NACK / RESYNC / ALIVE, fully handled here
 *  - 'drop'    duplicate or late ("Packets before"): do not apply
 *  - 'bad'     neither data nor a known control, or ACK/NACK with `to` before `from`:
 *              the owner counts it as malformed / malformed header
 */
export type RxVerdict = 'apply' | 'control' | 'drop' | 'bad';

/** Why an object left our queues (the owner drops its reference; a DEAD entry may be freed). */
export type ReleaseReason =
  | 'acked' // the peer acknowledged it
  | 'evicted' // resend queue full: oldest entry dropped (docs/ftfw-protocol.md §7.2)
  | 'discarded' // conntrackdCompat only: HELLO received, resend queue discarded (docs/ftfw-protocol.md §7.6)
  | 'replaced' // queueObject() with another object of the same key
  | 'forgotten'; // forget() by the owner

/** Why the owner is asked to enqueue its whole internal cache (conntracks, then expectations). */
export type BulkReason =
  | 'resync-requested' // the peer sent RESYNC (conntrackd: "resync requested by other node")
  | 'peer-restart' // bulkOnPeerRestart: the peer (re)started and has an empty external cache
  | 'nack-evicted' // S4: a NACK asked for entries that were evicted from the resend queue
  | 'startup' // S6 bulkOnStartup: our handshake completed (a restart may have lost in-flight data)
  | 'local'; // the owner asked (`conntrackd -B`)

export interface FtFwHooks<O> {
  /**
   * The protocol no longer holds `obj` (called once per object reference it stops holding).
   * It may run in the middle of a queue walk: holds() is fine here, queueObject()/forget() are not.
   */
  released?(obj: O, reason: ReleaseReason): void;
  /**
   * Enqueue every object of the internal cache with queueObject(), then call bulkQueued(), at
   * once or after some loop turns (a paced bulk). Called at the end of the receive()/timer call
   * that caused it, never re-entrantly in the middle of one; one pass at a time (requests
   * meanwhile collapse into one more pass, started once this one is transmitted).
   */
  bulk?(reason: BulkReason): void;
  /**
   * R3: the peer has answered one of our RESYNCs in full (see ResyncWatch): with `clean`, every
   * entry the peer still has was received after that RESYNC went out, so an external entry not
   * refreshed since epoch `epoch` (resyncEpoch then) is one the peer no longer has.
   */
  peerBulkComplete?(answer: PeerBulkAnswer): void;
  /** R4: our tracking of the peer's sequence was reset to `seq` (it had been at `lastSeq`). */
  peerSequenceReset?(info: { readonly lastSeq: number; readonly seq: number }): void;
  /** The timer queued a message (ACK/ALIVE/retransmission): run transmitPass() soon. */
  txPending?(): void;
  /** A peer (re)start was detected (first contact carrying HELLO, or a new HELLO run). */
  peerStart?(info: { readonly seq: number; readonly firstContact: boolean }): void;
  /** Our HELLO handshake completed (HELLO_BACK received). */
  handshakeComplete?(): void;
}

export interface FtFwOptions<O> {
  /**
   * Identity used for idempotent queueing: one queue node per key. Default: the object itself.
   * Use the flow key when the cache may replace an entry object for the same flow.
   */
  keyOf?: (obj: O) => unknown;
  /**
   * Intrusive records (give both or neither): the protocol keeps its per-object record in a field
   * of the object instead of in a Map by key, which saves a Map entry, a lookup per call and most
   * allocations. `nodeOf` returns what `setNodeOf` last stored (`undefined` initially; declare the
   * field in the class, initialised to undefined, so that the object's shape never changes).
   * The record is opaque; the owner must not copy it to another object.
   *
   * In this mode the object itself is the identity (`keyOf` is not used) and 'replaced' is never
   * reported, so the owner must not let two objects of the same flow be held at once: an object
   * still held (`holds(obj)`) is `forget()`-ten before the owner drops it for a new one.
   */
  nodeOf?: (obj: O) => object | undefined;
  setNodeOf?: (obj: O, node: object | undefined) => void;
  /** ACKWindowSize (default 300). */
  ackWindowSize?: number;
  /** ResendQueueSize (default 131072). */
  resendQueueSize?: number;
  /** ALIVE / ACK timer period in ms (conntrackd: 1000, fixed). */
  alivePeriodMs?: number;
  /** Exact conntrackd 1.4.7 behaviour: every improvement below is off. Default false. */
  conntrackdCompat?: boolean;
  /**
   * StartupResync: request a RESYNC at start (sent once our handshake completes). Default true
   * (false with conntrackdCompat, as in conntrackd.conf). Together with bulkOnStartup this is the
   * deterministic half of restart recovery: the restarted node pulls and pushes by itself; the
   * peer-side options are the fallback for a stock peer that does neither.
   */
  startupResync?: boolean;
  /** R2: request a RESYNC from a peer that (re)started. Default true. */
  resyncOnPeerRestart?: boolean;
  /** R2: send our whole cache (owner bulk) to a peer that (re)started. Default true. */
  bulkOnPeerRestart?: boolean;
  /** S1: replay what was sent during our HELLO phase once the handshake completes. Default true. */
  replayHelloPhase?: boolean;
  /**
   * S1/S5: ALIVE periods after the handshake (an upper bound of the network's delay) during
   * which every transmitted entry stays held after its ACK, so that it can be replayed if the
   * peer regresses (a stock receiver accepts a late HELLO-flagged duplicate blindly, moves its
   * last_seq back and then also accepts stale duplicates). At its end HELLO-phase entries are
   * replayed once more, acknowledged ones released. 0 = no linger. Default 3.
   */
  helloLingerPeriods?: number;
  /** S6: offer our whole cache (owner bulk) once our handshake completes. Default true. */
  bulkOnStartup?: boolean;
  /** S2: re-queue entries skipped by an ACK. Default true. */
  ackHoleRetransmit?: boolean;
  /** S3: unacked-object timeout in ALIVE periods; 0 disables. Default 5. */
  retransmitTimeoutPeriods?: number;
  /** S3: cap of the per-entry back-off, in ALIVE periods. Default 60. */
  retransmitMaxPeriods?: number;
  /** S4: bulk send when a NACK asks for evicted entries. Default true. */
  bulkOnUnservableNack?: boolean;
  /**
   * S7: flow control: objects wait in the tx queue while the resend queue is nearly full
   * (ResendQueueSize minus a reserve for control messages) instead of evicting unacknowledged
   * entries. Default true.
   */
  flowControl?: boolean;
  /** R1: a HELLO up to this many seqs behind its run's start is still a late message. Default 64. */
  reorderTolerance?: number;
  /**
   * R1: bound of the network's reordering/duplication delay. An older HELLO arriving more than
   * this after the peer's HELLO run ended, or any HELLO after a silence of the peer longer than
   * two ALIVE periods plus this, cannot be a late duplicate: it means the peer restarted.
   * Default 1000.
   */
  maxReorderMs?: number;
  /** R1: a HELLO this far ahead of the expected seq starts a new run. Default 65536. */
  restartSeqJump?: number;
  /**
   * R3: report when the peer's answer to our RESYNC is complete (peerBulkComplete), and hold our
   * ACKs covering a peer's RESYNC until our answer is transmitted. Default true.
   */
  reconcile?: boolean;
  /** R3: RESYNCs asked again after an unclean answer, 10 s, 20 s, 40 s... later. Default 3. */
  reconcileRetries?: number;
  /** R4: take the sequence of a peer whose messages all look late as new. Default true. */
  stallRecovery?: boolean;
  /** R5: hold-off after acting on a peer (re)start, doubling within a storm. Default 5000. */
  restartHoldOffMs?: number;
  /** R5: the hold-off's ceiling. Default 300000. */
  restartHoldOffMaxMs?: number;
  /** R5: least time between the starts of two bulk passes. Default 1000. */
  bulkMinGapMs?: number;
}

export type HelloState = 'init' | 'say' | 'done';

export interface FtFwStats {
  // ---- what conntrackd reports (-s, -s network, -s rsqueue)
  /** Messages emitted (all kinds). */
  msgsSent: number;
  /** Messages passed to receive(). */
  msgsReceived: number;
  /** "Packets lost" exactly as conntrackd counts it: seq − last_seq + 1 per gap (over by 2). */
  lost: number;
  /** "Packets before": duplicates / late messages dropped. */
  before: number;
  /** Messages receive() judged 'bad' (conntrackd: malformed + malformed header). */
  badHeader: number;
  /** Resend queue length (`resent queue (len=N)`). */
  rsQueueLen: number;
  /** Messages waiting for the next transmit pass. */
  txQueueLen: number;
  // ---- breakdown
  dataSent: number;
  ackSent: number;
  nackSent: number;
  resyncSent: number;
  aliveSent: number;
  dataReceived: number;
  ackReceived: number;
  nackReceived: number;
  resyncReceived: number;
  aliveReceived: number;
  /** Accurate count of sequence numbers missing at gaps (seq − expected). */
  lostExact: number;
  /** Resend-queue entries evicted because the queue was full. */
  rsEvicted: number;
  /** Entries moved back to tx by a NACK (conntrackd's only retransmission). */
  nackRetransmits: number;
  /** NACKs that asked for evicted entries (S4; conntrackd ignores them silently). */
  unservableNacks: number;
  // ---- ours
  /** S1: entries replayed after our handshake completed. */
  helloReplays: number;
  /** S2: entries re-queued because an ACK skipped them. */
  holeRetransmits: number;
  /** S3: entries re-queued by the safety-net timeout. */
  timeoutRetransmits: number;
  /** S4: bulk sends triggered by unservable NACKs. */
  bulkFallbacks: number;
  /** S7: transmit passes that left objects waiting because the resend queue was nearly full. */
  flowBlocked: number;
  /** R1: peer (re)starts detected (including first contact with HELLO). */
  peerRestarts: number;
  /** R2: our entries re-queued for a restarted peer. */
  restartRequeues: number;
  /** Bulk sends requested from the owner, all reasons. */
  bulksRequested: number;
  /** S5: the peer was seen moving its last_seq back into our HELLO phase. */
  peerRegressions: number;
  /** S5: entries re-sent because of that. */
  regressionRetransmits: number;
  /** HELLO messages of an ongoing peer run that were sequence-checked instead of bypassed. */
  helloTracked: number;
  /** R3: answers to our RESYNCs known complete (clean), and those with a gap (unclean). */
  peerBulksComplete: number;
  peerBulksUnclean: number;
  /** R3: ACK ranges held back until our answer to the peer's RESYNC was transmitted. */
  acksHeld: number;
  /** R4: times our tracking of the peer's sequence was reset because all its messages looked late. */
  sequenceResets: number;
  /** R5: peer (re)starts whose bulk / RESYNC waited for the hold-off. */
  restartsDeferred: number;
  /** R5: bulk requests folded into a pass that was running or waiting. */
  bulkRequestsMerged: number;
  /** Our handshake state. */
  hello: HelloState;
  /** Next sequence number we will use (undefined before the first message). */
  nextSeq: number | undefined;
  /** Last sequence number accepted from the peer (undefined before the first). */
  lastSeqReceived: number | undefined;
}

// ---------------------------------------------------------------------------- internal queue

const K_OBJ = 0;
const K_ACK = 1;
const K_NACK = 2;
const K_RESYNC = 3;
const K_ALIVE = 4;

const W_NONE = 0;
const W_TX = 1;
const W_RS = 2;

/** S1: the linger may be extended up to this many times its nominal length (heavy loss). */
const LINGER_MAX_EXTRA = 4;
/** R3: the peer's RESYNCs whose ACK waits for our answer, at most. */
const HELD_RESYNCS = 64;
/** R3: delay before the first RESYNC asked again after an unclean answer (then doubled). */
const RECONCILE_RETRY_MS = 10_000;

const KIND_NAME: readonly ControlKind[] = ['ack', 'ack', 'nack', 'resync', 'alive'];
const KIND_FLAG: readonly number[] = [0, F_ACK, F_NACK, F_RESYNC, F_ALIVE];

/**
 * Nodes kept for reuse (per instance); beyond this, released nodes are left to the GC. About
 * what is in flight while a bulk goes out paced (a few loop turns' worth): ~2.5 MB at most.
 */
const FREE_MAX = 16384;

/**
 * One queued thing: an object (one node per key, or per object in intrusive mode) or a control
 * message. Intrusive list node; recycled through the owning FtFw's free list.
 */
class QNode<O> {
  prev: QNode<O> | null = null;
  next: QNode<O> | null = null;
  where = W_NONE;
  /** Seq and flags of the last transmission (valid while in the resend queue). */
  seq = 0;
  flags = 0;
  /** S1: transmitted while we hold entries (HELLO phase or linger): ACKs do not release it. */
  held = false;
  /** S1: transmitted with HELLO at least once (replayed after the handshake). */
  helloSent = false;
  /** S1: an ACK covered it while it was held. */
  acked = false;
  /** env.now() of the last transmission (S3). */
  sentAt = 0;
  /** S3 back-off exponent. */
  retries = 0;
  constructor(
    /** The FtFw this node belongs to (intrusive mode: a record left by another instance is ignored). */
    readonly owner: object,
    public kind: number,
    public obj: O | undefined,
    public key: unknown,
    public from: number,
    public to: number,
  ) {}
}

class QList<O> {
  head: QNode<O> | null = null;
  tail: QNode<O> | null = null;
  length = 0;
  constructor(private readonly tag: number) {}

  push(n: QNode<O>): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    n.where = this.tag;
    this.length++;
  }

  remove(n: QNode<O>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = null;
    n.where = W_NONE;
    this.length--;
  }
}

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
export class FtFw<O> {
  private readonly env: FtFwEnv;
  private readonly hooks: FtFwHooks<O>;
  private readonly keyOf: (obj: O) => unknown;
  /** Intrusive mode (both set) or the `nodes` Map (both null). */
  private readonly nodeOf: ((obj: O) => object | undefined) | null;
  private readonly setNodeOf: ((obj: O, node: object | undefined) => void) | null;
  /** Released nodes kept for reuse (linked through `next`). */
  private free: QNode<O> | null = null;
  private freeLen = 0;
  /** The timer callback (one closure for the instance's lifetime). */
  private readonly onTimerCb = (): void => this.onTimer();

  // options
  private readonly windowSize: number;
  private readonly rsMax: number;
  private readonly period: number;
  private readonly compat: boolean;
  private readonly startupResync: boolean;
  private readonly resyncOnPeerRestart: boolean;
  private readonly bulkOnPeerRestart: boolean;
  private readonly replayHello: boolean;
  private readonly lingerMs: number;
  private readonly bulkOnStartup: boolean;
  private readonly holeRule: boolean;
  private readonly rtxPeriods: number;
  private readonly rtxMaxPeriods: number;
  private readonly bulkOnUnservable: boolean;
  /** S7: objects are only transmitted while the resend queue holds fewer entries than this. */
  private readonly objLimit: number;
  private readonly reorderTol: number;
  private readonly maxReorderMs: number;
  private readonly seqJump: number;
  private readonly reconcile: boolean;
  private readonly reconcileRetries: number;
  private readonly bulkMinGap: number;
  /** R5: spacing of what peer (re)starts and sequence resets trigger. */
  private readonly restartHold: HoldOff;
  /** R4 (null: off). */
  private readonly stall: StallDetector | null;
  /** R3: our RESYNCs waiting for their answer. */
  private readonly resyncWatch = new ResyncWatch();

  // bulk passes (R5) and the ACKs of the peer's RESYNCs (R3), sender side
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

  // work deferred to a time (R3 retries, R5), one timer for all
  private duePassAt = Infinity;
  private dueRestartAt = Infinity;
  private dueRestartBulk = false;
  private dueRestartResync = false;
  private dueRetryAt = Infinity;
  private reconcileAttempts = 0;
  private laterTimer: unknown = undefined;
  private laterArmed = false;
  private readonly onLaterCb = (): void => this.onLater();

  // tx side
  /** tx queue, split: control messages go out first in a pass, then objects (S7 flow control). */
  private readonly txCtl = new QList<O>(W_TX);
  private readonly txObj = new QList<O>(W_TX);
  private readonly rs = new QList<O>(W_RS);
  private readonly nodes = new Map<unknown, QNode<O>>();
  private seqSet = false;
  private curSeq = 0;
  private helloState: HelloState = 'init';
  private sayHelloBack = false;
  /** A RESYNC waiting for our handshake (S1). */
  private resyncPending = false;
  /** S1: entries are still held until lingerUntil after the handshake. */
  private lingerActive = false;
  private lingerUntil = 0;
  /** When we last saw a gap in the peer's sequence (S1: the linger waits for a quiet time). */
  private lastGapAt = -Infinity;
  /** S5: range of our seqs sent with HELLO, and the highest seq the peer has acknowledged. */
  private helloLo = 0;
  private helloHi = 0;
  private helloRange = false;
  private ackHigh = 0;
  private ackHighSet = false;
  /** S5: start and peer seq of the last regression seen (its ACK + NACK pair counts once). */
  private lastRegStart = -1;
  private lastRegPeerSeq = -1;
  /** S6: a bulk was requested while we were saying HELLO (its entries get replayed anyway). */
  private bulkInHello = false;
  /** S4: seq range of evicted objects / evicted NACK+RESYNC controls since the last fallback. */
  private evObj: { lo: number; hi: number } | null = null;
  private evCtl: { lo: number; hi: number } | null = null;

  // rx side
  private rxSeqSet = false;
  private lastSeq = 0;
  private ackFrom = 0;
  private ackFromSet = false;
  private window: number;
  private lastRxAt = -Infinity;
  /** R1: the peer's current HELLO run: [runFirst, runClose) once closed by a non-HELLO message. */
  private runOpen = false;
  /** A HELLO run of the current incarnation was seen (false if first contact had no HELLO). */
  private runSeen = false;
  private runFirst = 0;
  private runClose = 0;
  private runClosedAt = 0;

  // timer
  private timer: unknown = undefined;
  private timerArmed = false;
  private started = false;
  private startedOnce = false;

  // deferred owner callbacks (never re-entrant inside receive/timer)
  private pendingBulk: BulkReason[] = [];
  private pendingPeerStart: { seq: number; firstContact: boolean } | null = null;
  private pendingHandshake = false;
  private pendingAnswer: PeerBulkAnswer | null = null;
  private pendingSeqReset: { lastSeq: number; seq: number } | null = null;
  private inCall = 0;

  private readonly st = {
    msgsSent: 0, msgsReceived: 0, lost: 0, before: 0, badHeader: 0,
    dataSent: 0, ackSent: 0, nackSent: 0, resyncSent: 0, aliveSent: 0,
    dataReceived: 0, ackReceived: 0, nackReceived: 0, resyncReceived: 0, aliveReceived: 0,
    lostExact: 0, rsEvicted: 0, nackRetransmits: 0, unservableNacks: 0,
    helloReplays: 0, holeRetransmits: 0, timeoutRetransmits: 0, bulkFallbacks: 0, flowBlocked: 0,
    peerRestarts: 0, restartRequeues: 0, bulksRequested: 0, helloTracked: 0,
    peerRegressions: 0, regressionRetransmits: 0,
    peerBulksComplete: 0, peerBulksUnclean: 0, acksHeld: 0, sequenceResets: 0, restartsDeferred: 0, bulkRequestsMerged: 0,
  };

  constructor(env: FtFwEnv, hooks: FtFwHooks<O> = {}, options: FtFwOptions<O> = {}) {
    this.env = env;
    this.hooks = hooks;
    this.keyOf = options.keyOf ?? ((o: O) => o);
    if ((options.nodeOf === undefined) !== (options.setNodeOf === undefined)) {
      throw new TypeError('ftfw: nodeOf and setNodeOf go together');
    }
    this.nodeOf = options.nodeOf ?? null;
    this.setNodeOf = options.setNodeOf ?? null;
    this.windowSize = positiveInt(options.ackWindowSize ?? 300, 'ackWindowSize');
    this.rsMax = positiveInt(options.resendQueueSize ?? 131072, 'resendQueueSize');
    this.period = positiveInt(options.alivePeriodMs ?? 1000, 'alivePeriodMs');
    const compat = options.conntrackdCompat ?? false;
    this.compat = compat;
    const ours = (v: boolean | undefined, dflt: boolean): boolean => !compat && (v ?? dflt);
    // a conntrackd option (default off there): honoured in compat, on by default otherwise
    this.startupResync = options.startupResync ?? !compat;
    this.resyncOnPeerRestart = ours(options.resyncOnPeerRestart, true);
    this.bulkOnPeerRestart = ours(options.bulkOnPeerRestart, true);
    this.replayHello = ours(options.replayHelloPhase, true);
    this.lingerMs = nonNegInt(options.helloLingerPeriods ?? 3, 'helloLingerPeriods') * this.period;
    this.bulkOnStartup = ours(options.bulkOnStartup, true);
    this.holeRule = ours(options.ackHoleRetransmit, true);
    this.rtxPeriods = compat ? 0 : nonNegInt(options.retransmitTimeoutPeriods ?? 5, 'retransmitTimeoutPeriods');
    this.rtxMaxPeriods = Math.max(this.rtxPeriods, nonNegInt(options.retransmitMaxPeriods ?? 60, 'retransmitMaxPeriods'));
    this.bulkOnUnservable = ours(options.bulkOnUnservableNack, true);
    this.objLimit = ours(options.flowControl, true)
      ? Math.max(1, this.rsMax - Math.min(1024, Math.floor(this.rsMax / 4)))
      : Infinity;
    this.reorderTol = nonNegInt(options.reorderTolerance ?? 64, 'reorderTolerance');
    this.maxReorderMs = nonNegInt(options.maxReorderMs ?? 1000, 'maxReorderMs');
    this.seqJump = positiveInt(options.restartSeqJump ?? 65536, 'restartSeqJump');
    this.reconcile = ours(options.reconcile, true);
    this.reconcileRetries = nonNegInt(options.reconcileRetries ?? 3, 'reconcileRetries');
    this.bulkMinGap = compat ? 0 : nonNegInt(options.bulkMinGapMs ?? 1000, 'bulkMinGapMs');
    const holdOff = nonNegInt(options.restartHoldOffMs ?? 5000, 'restartHoldOffMs');
    this.restartHold = new HoldOff(holdOff, Math.max(holdOff, nonNegInt(options.restartHoldOffMaxMs ?? 300_000, 'restartHoldOffMaxMs')));
    // every message dropped for longer than late duplicates live, at least one per ALIVE period
    this.stall = ours(options.stallRecovery, true) ? new StallDetector(2 * this.period + this.maxReorderMs, 3) : null;
    this.window = this.windowSize;
  }

  // ----------------------------------------------------------------------------- lifecycle

  /** Arms the ALIVE timer; with `startupResync` a RESYNC is requested (sent after the handshake). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm();
    this.armLater();
    if (this.startupResync && !this.startedOnce) this.requestResync();
    this.startedOnce = true;
  }

  /** Cancels the timer. Queues are kept (call start() again to resume). */
  stop(): void {
    this.started = false;
    this.disarm();
    this.disarmLater();
  }

  // ------------------------------------------------------------------------------ tx side

  /**
   * Schedules `obj` for the next transmit pass (docs/ftfw-protocol.md §7.2): idempotent per key; an object
   * waiting in the resend queue moves back to the tx queue (coalescing: one message per object
   * per pass, carrying its state at transmit time).
   */
  queueObject(obj: O): void {
    let n: QNode<O> | undefined;
    if (this.nodeOf !== null) {
      n = this.ownNode(obj);
      if (n === undefined) {
        n = this.alloc(K_OBJ, obj, undefined, 0, 0);
        (this.setNodeOf as (obj: O, node: object | undefined) => void)(obj, n);
        this.txObj.push(n);
        return;
      }
    } else {
      const key = this.keyOf(obj);
      n = this.nodes.get(key);
      if (n === undefined) {
        n = this.alloc(K_OBJ, obj, key, 0, 0);
        this.nodes.set(key, n);
        this.txObj.push(n);
        return;
      }
      if (n.obj !== obj) {
        const old = n.obj as O;
        n.obj = obj;
        this.hooks.released?.(old, 'replaced');
      }
    }
    n.retries = 0;
    if (n.where === W_RS) {
      this.rs.remove(n);
      this.txObj.push(n);
    }
  }

  /** Drops `obj` (by key) from both queues without sending it (e.g. cache flush). */
  forget(obj: O): boolean {
    const n = this.nodeOf !== null ? this.ownNode(obj) : this.nodes.get(this.keyOf(obj));
    if (n === undefined) return false;
    this.dropNode(n, 'forgotten');
    return true;
  }

  /** Is this object (by key) queued for transmission or waiting for its ACK? */
  holds(obj: O): boolean {
    return this.nodeOf !== null ? this.ownNode(obj) !== undefined : this.nodes.has(this.keyOf(obj));
  }

  /** Intrusive mode: the object's record, if it is one of ours. */
  private ownNode(obj: O): QNode<O> | undefined {
    const n = (this.nodeOf as (obj: O) => object | undefined)(obj) as QNode<O> | undefined;
    return n !== undefined && n.owner === this ? n : undefined;
  }

  private alloc(kind: number, obj: O | undefined, key: unknown, from: number, to: number): QNode<O> {
    const n = this.free;
    if (n === null) return new QNode<O>(this, kind, obj, key, from, to);
    this.free = n.next;
    this.freeLen--;
    n.next = null;
    n.kind = kind;
    n.obj = obj;
    n.key = key;
    n.from = from;
    n.to = to;
    n.seq = 0;
    n.flags = 0;
    n.held = false;
    n.helloSent = false;
    n.acked = false;
    n.sentAt = 0;
    n.retries = 0;
    return n;
  }

  /** `n` is in no list and nothing refers to it any more. */
  private recycle(n: QNode<O>): void {
    n.obj = undefined;
    n.key = undefined;
    if (this.freeLen >= FREE_MAX) return;
    n.prev = null;
    n.next = this.free;
    this.free = n;
    this.freeLen++;
  }

  /**
   * `conntrackd -n`: ask the peer for its whole internal cache. Outside conntrackdCompat the
   * RESYNC is held back until our HELLO handshake is complete (a HELLO-flagged message is never
   * NACKed by a stock receiver) and the linger time is over (a stock peer discards its resend
   * queue at every HELLO it receives, late duplicates of ours included: its bulk must start
   * after the last of them); several requests before that collapse into one.
   */
  requestResync(): void {
    if (!this.compat && (this.helloState !== 'done' || (this.lingerActive && this.env.now() < this.lingerUntil))) {
      this.resyncPending = true;
      return;
    }
    this.queueCtl(K_RESYNC, 0, 0);
  }

  /**
   * Asks for a bulk pass for the owner's own reasons (`conntrackd -B`): hooks.bulk is called for
   * it, at once unless a pass is running or started less than `bulkMinGapMs` ago (then later,
   * one pass for every request meanwhile).
   */
  requestBulk(): void {
    this.pendingBulk.push('local');
    this.flushDeferred();
  }

  /** The owner has queued every object of the bulk pass hooks.bulk asked for. */
  bulkQueued(): void {
    if (this.passRunning) this.passFed = true;
  }

  /** Is a bulk pass running or waiting to start? */
  get bulkInProgress(): boolean {
    return this.passRunning || this.passPending !== null;
  }

  /** RESYNCs transmitted so far (R3): stamp external entries with it when they are refreshed. */
  get resyncEpoch(): number {
    return this.resyncWatch.epoch;
  }

  /** Is anything waiting for transmitPass()? */
  get txPending(): boolean {
    return this.txCtl.length + this.txObj.length > 0;
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
    const now = this.env.now();
    this.maybeEndLinger(now);
    this.checkPassDone();
    if (this.txCtl.length + this.txObj.length === 0) return 0;
    const txCtl = this.txCtl;
    const txObj = this.txObj;
    const st = this.st;
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
        if (this.rs.length >= this.objLimit) {
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
      let flags = 0;
      if (this.helloState !== 'done') {
        this.helloState = 'say';
        flags = F_HELLO;
        if (!this.helloRange) {
          this.helloRange = true;
          this.helloLo = seq;
        }
        this.helloHi = seq;
      }
      if (this.sayHelloBack) {
        flags |= F_HELLO_BACK;
        this.sayHelloBack = false;
      }
      const kind = n.kind;
      st.msgsSent++;
      if (kind === K_ALIVE) {
        st.aliveSent++;
        this.recycle(n);
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
          if (this.reconcile) this.resyncWatch.sent(seq);
        }
      }
      n.seq = seq;
      n.flags = flags;
      n.held = this.holdHello;
      n.acked = false;
      if (flags & F_HELLO) n.helloSent = true;
      n.sentAt = now;
      this.rsAdd(n);
      if (kind === K_OBJ) sink.object(obj, seq, flags);
      else sink.control(KIND_NAME[kind], seq, flags, from, to);
    }
    if (sent > 0) this.arm();
    // a pass finished by this one lets held ACKs go: in the next pass
    if (this.checkPassDone()) this.hooks.txPending?.();
    return sent;
  }

  // ------------------------------------------------------------------ bulk passes (R3, R5)

  /** Called from flushDeferred (never inside receive/timer): one pass at a time, spaced. */
  private scheduleBulk(reason: BulkReason, now: number): void {
    if (this.passRunning || this.passPending !== null) {
      this.st.bulkRequestsMerged++;
      if (this.passPending === null) this.passPending = reason; // started when the running one is done
      return;
    }
    const at = this.lastPassStartAt + this.bulkMinGap;
    if (at > now) {
      this.passPending = reason;
      this.duePassAt = at;
      this.armLater();
      return;
    }
    this.startPass(reason, now);
  }

  private startPass(reason: BulkReason, now: number): void {
    this.passPending = null;
    this.duePassAt = Infinity;
    this.passesStarted++;
    this.passRunning = true;
    this.passFed = false;
    this.lastPassStartAt = now;
    this.st.bulksRequested++;
    if (this.helloState !== 'done') this.bulkInHello = true;
    if (this.hooks.bulk) this.hooks.bulk(reason);
    else this.passFed = true;
  }

  /**
   * A pass is done once the owner has queued it whole and every object has left the tx queue.
   * Then held ACKs may go (true if some were queued) and a waiting pass gets its start time.
   */
  private checkPassDone(): boolean {
    if (!this.passRunning || !this.passFed || this.txObj.length !== 0) return false;
    this.passRunning = false;
    this.passesDone++;
    if (this.passPending !== null) {
      this.duePassAt = Math.max(this.env.now(), this.lastPassStartAt + this.bulkMinGap);
      this.armLater();
    }
    return this.heldResyncs.length > 0 && this.releaseAcks();
  }

  /** R3: the peer's RESYNC at `seq` is answered by the next pass to start; its ACK waits for it. */
  private holdAcksFor(seq: number): void {
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
  private queueAck(from: number, to: number): void {
    const held = this.heldResyncs;
    for (let i = 0; i < held.length; i += 2) {
      const r = held[i];
      if (seqBefore(r, from) || seqAfter(r, to)) continue;
      if (seqBefore(from, r)) this.queueAck(from, (r - 1) >>> 0);
      if (seqAfter(to, r)) this.queueAck((r + 1) >>> 0, to);
      this.st.acksHeld++;
      return;
    }
    this.queueCtl(K_ACK, from, to);
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
      this.queueCtl(K_ACK, held[i], held[i]);
      held.splice(i, 2);
      queued = true;
    }
    return queued;
  }

  /** R3: the peer answered one of our RESYNCs; an unclean answer is asked for again, spaced out. */
  private onAnswer(a: PeerBulkAnswer, now: number): void {
    if (a.clean) {
      this.st.peerBulksComplete++;
      this.reconcileAttempts = 0;
    } else {
      this.st.peerBulksUnclean++;
      if (this.reconcileAttempts < this.reconcileRetries) {
        this.dueRetryAt = now + RECONCILE_RETRY_MS * 2 ** this.reconcileAttempts++;
        this.armLater();
      }
    }
    this.pendingAnswer = a;
  }

  /**
   * R5: the peer (re)started, or our tracking of its sequence was reset: its bulk and our RESYNC,
   * at once or, within a storm of them, once the hold-off is over (collapsed into one).
   */
  private restartWork(now: number, bulk: boolean, resync: boolean): void {
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
    if (bulk) this.pendingBulk.push('peer-restart');
    if (resync) this.requestResync();
  }

  private rsAdd(n: QNode<O>): void {
    if (this.rs.length >= this.rsMax) {
      let victim = this.rs.head as QNode<O>;
      if (this.objLimit !== Infinity && victim.kind === K_OBJ) {
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
      this.dropNode(victim, 'evicted');
    }
    this.rs.push(n);
  }

  private dropNode(n: QNode<O>, reason: ReleaseReason): void {
    if (n.where === W_TX) this.txList(n).remove(n);
    else if (n.where === W_RS) this.rs.remove(n);
    if (n.kind === K_OBJ) {
      const obj = n.obj as O;
      if (this.setNodeOf !== null) this.setNodeOf(obj, undefined);
      else this.nodes.delete(n.key);
      this.recycle(n);
      this.hooks.released?.(obj, reason);
    } else {
      this.recycle(n);
    }
  }

  private requeue(n: QNode<O>): void {
    this.rs.remove(n);
    this.txList(n).push(n);
  }

  private txList(n: QNode<O>): QList<O> {
    return n.kind === K_OBJ ? this.txObj : this.txCtl;
  }

  // ------------------------------------------------------------------------------ rx side

  /**
   * Sequence tracking and control handling for one incoming message (docs/ftfw-protocol.md §7.5, §7.6), called
   * BEFORE the owner applies it. Returns 'apply' for data to apply, 'control' for a handled
   * control message, 'drop' for a duplicate/late message, 'bad' for a malformed header.
   * ACK/NACK/RESYNC ranges come from the header or the explicit arguments.
   */
  receive(h: RxHeader, from: number | undefined = h.from, to: number | undefined = h.to): RxVerdict {
    return this.receiveHeader(h.type, h.flags, h.seq, from ?? 0, to ?? 0);
  }

  /** receive() from the header's fields (no header object); from/to only for ACK/NACK/RESYNC. */
  receiveHeader(type: number, flags: number, seq: number, from = 0, to = 0): RxVerdict {
    this.inCall++;
    let v: RxVerdict;
    try {
      v = this.rx(type, flags, seq >>> 0, from >>> 0, to >>> 0);
    } finally {
      this.inCall--;
    }
    this.flushDeferred();
    return v;
  }

  private rx(type: number, flags: number, seq: number, from: number, to: number): RxVerdict {
    this.st.msgsReceived++;
    const now = this.env.now();

    // HELLO / HELLO_BACK are examined on every message before sequence tracking (digest_hello).
    const hello = (flags & F_HELLO) !== 0;
    if (hello) this.sayHelloBack = true;
    if ((flags & F_HELLO_BACK) !== 0 && this.helloState === 'say') this.handshakeDone(now);

    // Classification (order as conntrackd's IS_DATA / IS_ACK / IS_NACK / IS_RESYNC / IS_ALIVE).
    let kind: number;
    if (type <= T_DATA_MAX && (flags & ~F_HELLO_BITS) === 0) kind = K_OBJ;
    else if (type === T_CTL && (flags & F_ACK)) kind = K_ACK;
    else if (type === T_CTL && (flags & F_NACK)) kind = K_NACK;
    else if (type === T_CTL && (flags & F_RESYNC)) kind = K_RESYNC;
    else if (type === T_CTL && (flags & F_ALIVE)) kind = K_ALIVE;
    else kind = -1;
    const bad = kind < 0 || ((kind === K_ACK || kind === K_NACK) && seqBefore(to, from));

    let restart = false;
    let gap = false;
    const expected = (this.lastSeq + 1) >>> 0;

    if (hello) {
      if (this.compat) {
        // conntrackd: every HELLO resets and bypasses; the resend queue is discarded.
        if (this.ackFromSet && seqBefore(seq, this.ackFrom)) {
          this.window = this.windowSize - 1;
          this.ackFrom = seq;
        }
        this.discardRsCompat();
        return this.accept(kind, bad, seq, from, to, now, hello, false);
      }
      switch (this.classifyHello(seq, expected, now)) {
        case 'restart':
          if (bad) break; // a malformed message does not (re)define the peer's incarnation
          restart = true;
          // A silence-triggered "restart" may be an ongoing run after heavy loss: NACKing the
          // gap costs nothing if it really is a new incarnation (its seqs start above it).
          if (this.rxSeqSet && seqAfter(seq, expected) && seqDiff(seq, expected) <= this.seqJump) gap = true;
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
      this.lastGapAt = now;
      this.resyncWatch.gap();
      this.st.lost += ((seq - this.lastSeq + 1) >>> 0);
      this.st.lostExact += ((seq - expected) >>> 0);
    }
    if (bad) {
      this.st.badHeader++;
      return 'bad';
    }
    if (gap) {
      // SEQ_AFTER: ACK what was in sequence, NACK the hole, the new message opens a window.
      if (this.ackFromSet) this.queueAck(this.ackFrom, (expected - 1) >>> 0);
      this.queueCtl(K_NACK, expected, (seq - 1) >>> 0);
    }
    if (restart) this.peerRestarted(seq, now);
    return this.accept(kind, bad, seq, from, to, now, hello, gap);
  }

  /** R1: is this HELLO the start of a new incarnation, or part of the peer's current run? */
  private classifyHello(seq: number, expected: number, now: number): 'restart' | 'same-run' {
    if (!this.rxSeqSet) return 'restart'; // first contact
    const lo = (this.runFirst - this.reorderTol) >>> 0;
    if (this.runOpen) {
      // The peer is still saying HELLO, i.e. sends at least one message per ALIVE period. A
      // silence of two periods plus the reordering bound means a restart (misjudging heavy loss
      // as one is safe: the gap is NACKed anyway and the RESYNC repairs the rest, but costs a
      // bulk: a shorter bound would make a peer that cannot hear us, and so says HELLO forever,
      // look restarted every second); so does a sequence far outside the run.
      if (now - this.lastRxAt > 2 * this.period + this.maxReorderMs) return 'restart';
      if (seqBefore(seq, lo)) return 'restart';
      if (seqAfter(seq, expected) && seqDiff(seq, expected) > this.seqJump) return 'restart';
      return 'same-run';
    }
    // Run closed by a non-HELLO message at runClose: a HELLO older than that is a late message
    // of the run; anything else means the peer started saying HELLO again, i.e. it restarted.
    // Late duplicates only exist for about maxReorderMs after the run closed.
    if (this.runSeen && now - this.runClosedAt <= this.maxReorderMs &&
      !seqBefore(seq, lo) && seqBefore(seq, this.runClose)) return 'same-run';
    return 'restart';
  }

  /** Digest an accepted message and update the receive window (SEQ_UNSET / IN_SYNC / AFTER / HELLO). */
  private accept(kind: number, bad: boolean, seq: number, from: number, to: number, now: number, hello: boolean, gap: boolean): RxVerdict {
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
        this.onAck(from, to, seq);
        break;
      case K_NACK:
        this.st.nackReceived++;
        this.onNack(from, to, seq);
        break;
      case K_RESYNC:
        this.st.resyncReceived++;
        if (this.reconcile) this.holdAcksFor(seq);
        this.pendingBulk.push('resync-requested');
        break;
      default:
        this.st.aliveReceived++;
    }
    if (gap) {
      this.window = this.windowSize - 1;
      this.ackFrom = seq;
      this.ackFromSet = true;
    } else {
      if (!this.ackFromSet) {
        this.ackFromSet = true;
        this.ackFrom = seq;
      }
      if (--this.window <= 0) {
        this.queueAck(this.ackFrom, seq);
        this.window = this.windowSize;
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
    this.pendingSeqReset = { lastSeq: this.lastSeq, seq };
    this.ackFromSet = false;
    this.window = this.windowSize;
    if (this.runOpen) this.runFirst = seq;
    this.resyncWatch.gap();
    this.restartWork(now, false, true);
  }

  private peerRestarted(seq: number, now: number): void {
    const firstContact = !this.rxSeqSet;
    this.st.peerRestarts++;
    this.ackHighSet = false; // acknowledgements of the old incarnation say nothing any more
    // the old incarnation's RESYNCs and their answers are moot (R3)
    this.heldResyncs = [];
    this.resyncWatch.forget();
    // New incarnation: fresh receive window (the first message counts, like conntrackd's reset).
    if (!firstContact) {
      this.ackFromSet = true;
      this.ackFrom = seq;
      this.window = this.windowSize;
    }
    this.runOpen = true;
    this.runSeen = true;
    this.runFirst = seq;
    this.lastRxAt = now;
    // R2: control messages about the old incarnation are meaningless; our objects are not:
    // the new incarnation needs them (conntrackd throws them away: docs/ftfw-protocol.md §7.6).
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      if (n.kind === K_OBJ) {
        this.requeue(n);
        this.st.restartRequeues++;
      } else {
        this.rs.remove(n);
        this.recycle(n);
      }
      n = next;
    }
    this.restartWork(now, this.bulkOnPeerRestart, this.resyncOnPeerRestart);
    this.pendingPeerStart = { seq, firstContact };
  }

  private discardRsCompat(): void {
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      this.dropNode(n, 'discarded');
      n = next;
    }
  }

  private queueCtl(kind: number, from: number, to: number): void {
    this.txCtl.push(this.alloc(kind, undefined, undefined, from, to));
  }

  /**
   * S5: does an ACK/NACK whose range starts right after `start` show that the peer moved its
   * last_seq back into our HELLO phase after having acknowledged beyond it? Only a receiver that
   * blindly accepts a late HELLO-flagged duplicate does that (conntrackd's bypass, L5).
   */
  private regressed(start: number, peerSeq: number): boolean {
    if (!(this.helloState === 'done' && this.helloRange && this.ackHighSet &&
      seqAfter(this.ackHigh, this.helloHi) &&
      !seqBefore(start, this.helloLo) && !seqAfter(start, this.helloHi))) return false;
    // the ACK(h,h) + NACK(h+1,..) a stock receiver sends back to back after accepting h are
    // one regression (the same late message accepted again later is another one)
    const same = this.lastRegStart === start && this.lastRegPeerSeq === ((peerSeq - 1) >>> 0);
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
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      if (n.kind === K_OBJ) {
        this.requeue(n);
        this.st.regressionRetransmits++;
      }
      n = next;
    }
  }

  /** ACK(from, to): release resend-queue entries in range (docs/ftfw-protocol.md §7.3), S1 hold, S2 hole rule. */
  private onAck(from: number, to: number, peerSeq: number): void {
    if (this.replayHello && this.regressed(from, peerSeq)) this.onRegression();
    if (!this.ackHighSet || seqAfter(to, this.ackHigh)) {
      this.ackHighSet = true;
      this.ackHigh = to;
    }
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      if (seqBefore(n.seq, from)) {
        // S2: older than something the peer has acknowledged and still unacknowledged.
        // (not before our handshake: everything sent so far is replayed then anyway; not for an
        // entry acknowledged while held: it arrived, it only waits for the linger to end)
        // (nor for a RESYNC: a ctsync peer acknowledges it only once its answer is out, R3; a
        // lost one is NACKed)
        if (this.holeRule && this.helloState === 'done' && !(n.held && n.acked) && n.kind !== K_RESYNC) {
          this.requeue(n);
          this.st.holeRetransmits++;
        }
      } else if (seqAfter(n.seq, to)) {
        break;
      } else if (n.held) {
        // S1: a receiver's ACK may cover HELLO-flagged messages it never saw, and a stock
        // receiver may regress (S5): keep them for the replays.
        n.acked = true;
      } else {
        this.dropNode(n, 'acked');
      }
      n = next;
    }
    if (this.reconcile) {
      const answer = this.resyncWatch.acked(from, to);
      if (answer !== undefined) this.onAnswer(answer, this.env.now());
    }
  }

  /** NACK(from, to): move entries in range back to tx (docs/ftfw-protocol.md §7.3), S4 bulk fallback. */
  private onNack(from: number, to: number, peerSeq: number): void {
    if (this.replayHello && this.regressed((from - 1) >>> 0, peerSeq)) this.onRegression();
    if (this.bulkOnUnservable) {
      if (this.evObj !== null && overlaps(this.evObj, from, to)) {
        this.evObj = null;
        this.st.unservableNacks++;
        this.st.bulkFallbacks++;
        this.pendingBulk.push('nack-evicted');
      }
      if (this.evCtl !== null && overlaps(this.evCtl, from, to)) {
        this.evCtl = null;
        this.st.unservableNacks++;
        this.requestResync();
      }
    }
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      if (seqBefore(n.seq, from)) {
        n = next;
        continue;
      }
      if (seqAfter(n.seq, to)) break;
      this.requeue(n);
      this.st.nackRetransmits++;
      n = next;
    }
  }

  /** S1: entries transmitted while this is true are held (not released by ACKs, no S2/S3). */
  private get holdHello(): boolean {
    return this.replayHello && (this.helloState !== 'done' || this.lingerActive);
  }

  private handshakeDone(now: number): void {
    this.helloState = 'done';
    if (this.replayHello) {
      this.lingerActive = this.lingerMs > 0;
      this.lingerUntil = now + this.lingerMs;
      // S1: everything still in the resend queue was sent with HELLO: send it again, now
      // sequence-checked by the peer.
      let n = this.rs.head;
      while (n !== null) {
        const next = n.next;
        if (n.helloSent) {
          this.requeue(n);
          this.st.helloReplays++;
        }
        n = next;
      }
    }
    if (this.resyncPending && !this.lingerActive) {
      this.resyncPending = false;
      this.queueCtl(K_RESYNC, 0, 0);
    }
    // S6: a bulk asked for during the HELLO phase is being replayed already.
    if (this.bulkOnStartup && !this.bulkInHello) this.pendingBulk.push('startup');
    this.pendingHandshake = true;
  }

  /**
   * S1/S5: the linger ends `helloLingerPeriods` after the handshake, but not before the peer's
   * reports are complete: a regression report (S5) may be among its lost messages. So it also
   * waits until a message from the peer arrived after that time, no gap was seen in the peer's
   * sequence for two periods and every NACK of ours has been acknowledged (the peer resends what
   * we NACKed before it acknowledges the NACK); at most LINGER_MAX_EXTRA times longer.
   */
  private maybeEndLinger(now: number): void {
    if (!this.lingerActive || now < this.lingerUntil) return;
    if (this.resyncPending) {
      // late HELLO duplicates of ours have drained: a stock peer's bulk is safe now
      this.resyncPending = false;
      this.queueCtl(K_RESYNC, 0, 0);
    }
    if (now < this.lingerUntil + LINGER_MAX_EXTRA * this.lingerMs) {
      if (this.lastRxAt < this.lingerUntil) return; // silence proves nothing: hear from the peer
      if (now - this.lastGapAt < 2 * this.period) return;
      // (only reached for a few seconds at start-up: the scan may cost O(queue))
      for (const l of [this.txCtl, this.rs]) {
        for (let n = l.head; n !== null; n = n.next) if (n.kind === K_NACK && !n.acked) return;
      }
    }
    this.endLinger();
  }

  /**
   * S1: end of the linger time: HELLO-phase entries are replayed a second time (insurance for a
   * regression we did not see), acknowledged ones are released, the rest follow the normal rules.
   */
  private endLinger(): void {
    this.lingerActive = false;
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      if (n.held) {
        n.held = false;
        if (n.helloSent) {
          n.helloSent = false;
          this.requeue(n);
          this.st.helloReplays++;
        } else if (n.acked) {
          this.dropNode(n, 'acked');
        }
      }
      n = next;
    }
    for (const l of [this.txCtl, this.txObj]) {
      for (n = l.head; n !== null; n = n.next) {
        n.held = false;
        n.helloSent = false;
        n.acked = false;
      }
    }
    if (this.resyncPending) {
      this.resyncPending = false;
      this.queueCtl(K_RESYNC, 0, 0);
    }
  }

  // ----------------------------------------------------------------------------------- timer

  private arm(): void {
    if (!this.started) return;
    this.disarm();
    this.timerArmed = true;
    this.timer = this.env.setTimer(this.period, this.onTimerCb);
  }

  private disarm(): void {
    if (this.timerArmed) {
      this.env.clearTimer(this.timer);
      this.timerArmed = false;
      this.timer = undefined;
    }
  }

  /**
   * ALIVE timer (docs/ftfw-protocol.md §7.4): 1 s without a transmission. ACK(ack_from, last_seq) if there is
   * something to acknowledge, else ALIVE. Also runs the S3 safety net. Exposed for owners that
   * drive the timer themselves; normally called by the injected timer.
   */
  onTimer(): void {
    this.disarm();
    this.inCall++;
    try {
      const queued = this.txCtl.length;
      if (this.ackFromSet && this.rxSeqSet) {
        this.queueAck(this.ackFrom, this.lastSeq);
        this.ackFromSet = false;
      }
      // nothing to acknowledge, or held back (R3): the peer still hears from us
      if (this.txCtl.length === queued) this.queueCtl(K_ALIVE, 0, 0);
      const now = this.env.now();
      this.maybeEndLinger(now);
      this.safetyNet(now);
      this.arm();
    } finally {
      this.inCall--;
    }
    this.flushDeferred();
    this.hooks.txPending?.();
  }

  /** S3: objects unacknowledged for a while, while the peer is alive, are sent again. */
  private safetyNet(now: number): void {
    if (this.rtxPeriods === 0) return;
    const base = this.rtxPeriods * this.period;
    if (now - this.lastRxAt > base) return; // peer silent: resending would only add load
    const maxWait = this.rtxMaxPeriods * this.period;
    let n = this.rs.head;
    while (n !== null) {
      const next = n.next;
      const age = now - n.sentAt;
      if (age < base) break; // the resend queue is in transmission order
      if (n.kind === K_OBJ && !(n.held && (n.acked || this.helloState !== 'done'))) {
        const wait = Math.min(maxWait, base * 2 ** Math.min(n.retries, 30));
        if (age >= wait) {
          n.retries++;
          this.requeue(n);
          this.st.timeoutRetransmits++;
        }
      }
      n = next;
    }
  }

  /** The timer of deferred work (R3 retries, R5 hold-offs and pass starts) is due. */
  private onLater(): void {
    this.laterArmed = false;
    this.laterTimer = undefined;
    const now = this.env.now();
    let pass: BulkReason | null = null;
    this.inCall++;
    try {
      if (now >= this.dueRestartAt) {
        const bulk = this.dueRestartBulk;
        const resync = this.dueRestartResync;
        this.dueRestartAt = Infinity;
        this.dueRestartBulk = this.dueRestartResync = false;
        this.restartWork(now, bulk, resync);
      }
      if (now >= this.dueRetryAt) {
        this.dueRetryAt = Infinity;
        this.requestResync();
      }
      if (now >= this.duePassAt) {
        this.duePassAt = Infinity;
        if (!this.passRunning) pass = this.passPending;
      }
      this.armLater();
    } finally {
      this.inCall--;
    }
    if (pass !== null) this.startPass(pass, now);
    this.flushDeferred();
    this.hooks.txPending?.();
  }

  private armLater(): void {
    this.disarmLater();
    const due = Math.min(this.duePassAt, this.dueRestartAt, this.dueRetryAt);
    if (!this.started || due === Infinity) return;
    this.laterArmed = true;
    this.laterTimer = this.env.setTimer(Math.max(0, due - this.env.now()), this.onLaterCb);
  }

  private disarmLater(): void {
    if (!this.laterArmed) return;
    this.env.clearTimer(this.laterTimer);
    this.laterArmed = false;
    this.laterTimer = undefined;
  }

  private flushDeferred(): void {
    if (this.inCall > 0) return;
    if (this.pendingHandshake) {
      this.pendingHandshake = false;
      this.hooks.handshakeComplete?.();
    }
    if (this.pendingPeerStart !== null) {
      const info = this.pendingPeerStart;
      this.pendingPeerStart = null;
      this.hooks.peerStart?.(info);
    }
    if (this.pendingSeqReset !== null) {
      const info = this.pendingSeqReset;
      this.pendingSeqReset = null;
      this.hooks.peerSequenceReset?.(info);
    }
    if (this.pendingAnswer !== null) {
      const answer = this.pendingAnswer;
      this.pendingAnswer = null;
      this.hooks.peerBulkComplete?.(answer);
    }
    if (this.pendingBulk.length > 0) {
      // several reasons in one call collapse into one pass (queueing is idempotent anyway)
      const reasons = this.pendingBulk;
      this.pendingBulk = [];
      this.st.bulkRequestsMerged += reasons.length - 1;
      this.scheduleBulk(reasons[0], this.env.now());
    }
  }

  // ----------------------------------------------------------------------------------- stats

  get hello(): HelloState {
    return this.helloState;
  }

  stats(): FtFwStats {
    return {
      ...this.st,
      rsQueueLen: this.rs.length,
      txQueueLen: this.txCtl.length + this.txObj.length,
      hello: this.helloState,
      nextSeq: this.seqSet ? this.curSeq : undefined,
      lastSeqReceived: this.rxSeqSet ? this.lastSeq : undefined,
    };
  }

  /** `conntrackd -s rsqueue` text: `resent queue (len=N)` then one line per entry. */
  rsQueueDump(): string {
    let s = `resent queue (len=${this.rs.length})\n`;
    for (let n = this.rs.head; n !== null; n = n.next) {
      s += n.kind === K_OBJ ? `object -> seq:${n.seq}\n` : `control -> seq:${n.seq} flags:${n.flags}\n`;
    }
    return s;
  }

  /** Snapshot of the resend queue (tests, diagnostics). */
  rsQueueEntries(): Array<{ seq: number; flags: number; item: TxItem<O> }> {
    const r: Array<{ seq: number; flags: number; item: TxItem<O> }> = [];
    for (let n = this.rs.head; n !== null; n = n.next) {
      r.push({ seq: n.seq, flags: n.flags, item: n.kind === K_OBJ ? { kind: 'object', obj: n.obj as O } : { kind: KIND_NAME[n.kind], from: n.from, to: n.to } });
    }
    return r;
  }

  /** Receive-side state (tests, diagnostics). */
  rxState(): { lastSeq: number | undefined; ackFrom: number | undefined; window: number } {
    return { lastSeq: this.rxSeqSet ? this.lastSeq : undefined, ackFrom: this.ackFromSet ? this.ackFrom : undefined, window: this.window };
  }
}

function widen(r: { lo: number; hi: number } | null, seq: number): { lo: number; hi: number } {
  if (r === null) return { lo: seq, hi: seq };
  if (seqBefore(seq, r.lo)) r.lo = seq;
  if (seqAfter(seq, r.hi)) r.hi = seq;
  return r;
}

function overlaps(r: { lo: number; hi: number }, from: number, to: number): boolean {
  return !seqAfter(from, r.hi) && !seqBefore(to, r.lo);
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`ftfw: ${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`ftfw: ${name} must be a non-negative integer, got ${v}`);
  return v;
}
