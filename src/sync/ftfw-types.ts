// The FT-FW state machine's public vocabulary: wire constants, the owner's ports (clock, hooks,
// transmit sink), options and counters. Shared by ftfw.ts and its parts.
import type { PeerBulkAnswer } from './resync-watch.js';

// ----------------------------------------------------------------------------- wire constants
// The message types and flag bits of the sync header (nethdr.ts), under the names the state
// machine's parts use.
export { MSG as FTFW_TYPE, FLAG as FTFW_FLAG } from './nethdr.js';

// The parts of FtFw copy what they use into module-local consts (`const { HELLO: F_HELLO } =
// FTFW_FLAG`): optimized code reads an imported binding through its module cell at every use,
// where a local const is folded in (the receive path was ~5% slower with imports).

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
   * (CT_NEW/UPD/DEL, EXP_*) from the object's state at this moment. Controls: the
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
  | 'evicted' // resend queue full: oldest entry dropped (as conntrackd does)
  | 'discarded' // conntrackdCompat only: HELLO received, resend queue discarded (as conntrackd does)
  | 'replaced' // queueObject() with another object of the same key
  | 'forgotten' // forget() by the owner
  | 'sent'; // NOTRACK (notrack.ts): out once, nothing to wait for

/** Why the owner is asked to enqueue its whole internal cache (conntracks, then expectations). */
export type BulkReason =
  | 'resync-requested' // the peer sent RESYNC (conntrackd: "resync requested by other node")
  | 'peer-restart' // bulkOnPeerRestart: the peer (re)started and has an empty external cache
  | 'nack-evicted' // S4: a NACK asked for entries that were evicted from the resend queue
  | 'startup' // S6 bulkOnStartup: our handshake completed (a restart may have lost in-flight data)
  | 'local' // the owner asked (`conntrackd -B`)
  | 'refresh'; // Mode ALARM (alarm.ts): every entry is sent again each RefreshTime

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

/** The counters the parts of an FtFw add to (FtFwStats without the queue and state readings). */
export type FtFwCounters = Omit<FtFwStats, 'rsQueueLen' | 'txQueueLen' | 'hello' | 'nextSeq' | 'lastSeqReceived'>;

/** All counters at zero (one object per FtFw, shared by its parts). */
export function newCounters(): FtFwCounters {
  return {
    msgsSent: 0,
    msgsReceived: 0,
    lost: 0,
    before: 0,
    badHeader: 0,
    dataSent: 0,
    ackSent: 0,
    nackSent: 0,
    resyncSent: 0,
    aliveSent: 0,
    dataReceived: 0,
    ackReceived: 0,
    nackReceived: 0,
    resyncReceived: 0,
    aliveReceived: 0,
    lostExact: 0,
    rsEvicted: 0,
    nackRetransmits: 0,
    unservableNacks: 0,
    helloReplays: 0,
    holeRetransmits: 0,
    timeoutRetransmits: 0,
    bulkFallbacks: 0,
    flowBlocked: 0,
    peerRestarts: 0,
    restartRequeues: 0,
    bulksRequested: 0,
    helloTracked: 0,
    peerRegressions: 0,
    regressionRetransmits: 0,
    peerBulksComplete: 0,
    peerBulksUnclean: 0,
    acksHeld: 0,
    sequenceResets: 0,
    restartsDeferred: 0,
    bulkRequestsMerged: 0,
  };
}
