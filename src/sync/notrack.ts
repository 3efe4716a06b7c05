/**
 * `Mode NOTRACK` (conntrack-tools 1.4.7 sync-notrack), as a pure state machine: best effort. Each
 * queued object goes out once, in the next transmit pass, with its state at that moment, and is
 * released at once: no resend queue, no ACK, no NACK, no HELLO. What the peer needs to catch up
 * comes from a RESYNC (16 bytes, from = to = 0), which the peer answers with its whole cache, or
 * from `-B`. An ALIVE (8 bytes) goes out after a second without a transmission.
 *
 * Receiving: data (type 0..5, no flag but HELLO/HELLO_BACK) is applied whatever its sequence
 * number; the sequence is tracked for the counters only (lost, before). A RESYNC asks the owner
 * for a bulk; an ALIVE is just counted; anything else (an ACK or NACK from an FT-FW peer) is a
 * malformed header, as in conntrackd.
 *
 * Pacing: nothing recovers a message the receiver's socket drops, so a pass sends at most
 * `maxPerPass` objects and the rest follow after `passGapMs` (a bulk of the whole cache in one
 * burst overruns a conntrackd receiver's default socket buffer).
 *
 * Time and the timers come from the injected environment; objects are the owner's handles.
 */
import { newCounters, type FtFwCounters, type FtFwEnv, type FtFwHooks, type FtFwStats } from './ftfw-types.js';
import type { RxHeader, RxVerdict, TxSink } from './ftfw-types.js';
import { FLAG, MSG, MSG_DATA_MAX } from './nethdr.js';
import { seqAfter, seqBefore } from './seq.js';
import type { SyncProtocol } from './sync-protocol.js';

export interface NoTrackOptions {
  /** `StartupResync on`: a RESYNC goes out with the first transmit pass. */
  startupResync?: boolean;
  /** Silence after which an ALIVE is sent (conntrackd: 1 s); 0: never (Mode ALARM sends none). */
  alivePeriodMs?: number;
  /** Objects per transmit pass (default 128). */
  maxPerPass?: number;
  /** Wait before the next pass when objects are left over (default 2 ms). */
  passGapMs?: number;
}

const HELLO_BITS = FLAG.HELLO | FLAG.HELLO_BACK;

export class NoTrack<O> implements SyncProtocol<O> {
  protected readonly st: FtFwCounters = newCounters();
  /** Objects for the next pass, in queueing order (a Set: queueing is idempotent). */
  private readonly txObjects = new Set<O>();
  /** Control messages for the next pass: their flags (RESYNC or ALIVE). */
  private readonly txCtl: number[] = [];
  private seq = 0;
  private seqSet = false;
  private lastRx = 0;
  private lastRxSet = false;
  private lastRxAt = -Infinity;
  private started = false;
  private timer: unknown = undefined;
  private readonly alivePeriodMs: number;
  private readonly onTimerCb = (): void => this.onTimer();
  private readonly maxPerPass: number;
  private readonly passGapMs: number;
  /** The timer of the next paced pass, while objects wait for one. */
  private paceTimer: unknown = undefined;
  private readonly onPaceCb = (): void => {
    this.paceTimer = undefined;
    this.hooks.txPending?.();
  };

  constructor(
    protected readonly env: FtFwEnv,
    protected readonly hooks: FtFwHooks<O> = {},
    private readonly options: NoTrackOptions = {},
  ) {
    this.alivePeriodMs = options.alivePeriodMs ?? 1000;
    this.maxPerPass = options.maxPerPass ?? 128;
    this.passGapMs = options.passGapMs ?? 2;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.options.startupResync) this.requestResync();
    this.arm();
  }

  stop(): void {
    this.started = false;
    this.disarm();
    if (this.paceTimer !== undefined) this.env.clearTimer(this.paceTimer);
    this.paceTimer = undefined;
  }

  queueObject(obj: O): void {
    this.txObjects.add(obj);
  }

  forget(obj: O): boolean {
    return this.txObjects.delete(obj);
  }

  holds(obj: O): boolean {
    return this.txObjects.has(obj);
  }

  requestResync(): void {
    this.txCtl.push(FLAG.RESYNC);
    this.hooks.txPending?.();
  }

  requestBulk(): void {
    this.st.bulksRequested++;
    this.hooks.bulk?.('local');
  }

  bulkQueued(): void {
    // nothing follows a bulk here: each object goes out once
  }

  /** No reconciliation in NOTRACK: nothing tells when the peer's answer is complete. */
  get resyncEpoch(): number {
    return 0;
  }

  transmitTo(sink: TxSink<O>): number {
    let sent = 0;
    for (const flags of this.txCtl) {
      const seq = this.nextSeq();
      if (flags === FLAG.RESYNC) {
        this.st.resyncSent++;
        sink.control('resync', seq, flags, 0, 0);
      } else {
        this.st.aliveSent++;
        sink.control('alive', seq, flags, 0, 0);
      }
      sent++;
    }
    this.txCtl.length = 0;
    // a paced pass is due: the objects wait for it
    if (this.paceTimer !== undefined) return this.finishPass(sent);
    let budget = this.maxPerPass;
    for (const obj of this.txObjects) {
      if (budget-- === 0) {
        this.paceTimer = this.env.setTimer(this.passGapMs, this.onPaceCb);
        break;
      }
      // released before the next object: the owner frees a dead entry once it is out
      this.txObjects.delete(obj);
      sink.object(obj, this.nextSeq(), 0);
      this.st.dataSent++;
      sent++;
      this.hooks.released?.(obj, 'sent');
    }
    return this.finishPass(sent);
  }

  private finishPass(sent: number): number {
    this.st.msgsSent += sent;
    if (sent > 0) this.arm();
    return sent;
  }

  receive(h: RxHeader): RxVerdict {
    return this.receiveHeader(h.type, h.flags, h.seq);
  }

  /** receive() from the header's fields; a RESYNC's range (always 0, 0) means nothing here. */
  receiveHeader(type: number, flags: number, seq: number, _from = 0, _to = 0): RxVerdict {
    this.track(seq >>> 0);
    if (type <= MSG_DATA_MAX && (flags & ~HELLO_BITS) === 0) {
      this.st.dataReceived++;
      return 'apply';
    }
    if (type === MSG.CTL && (flags & FLAG.RESYNC) !== 0 && (flags & (FLAG.ACK | FLAG.NACK)) === 0) {
      this.st.resyncReceived++;
      this.hooks.bulk?.('resync-requested');
      return 'control';
    }
    if (type === MSG.CTL && flags === FLAG.ALIVE) {
      this.st.aliveReceived++;
      return 'control';
    }
    this.st.badHeader++;
    return 'bad';
  }

  /** Sequence tracking for the counters only (conntrackd's "Packets lost" and "Packets before"). */
  protected track(seq: number): void {
    this.st.msgsReceived++;
    this.lastRxAt = this.env.now();
    if (this.lastRxSet) {
      const expected = (this.lastRx + 1) >>> 0;
      if (seqAfter(seq, expected)) {
        // conntrackd counts the gap plus two
        this.st.lost += (seq - this.lastRx + 1) >>> 0;
        this.st.lostExact += (seq - expected) >>> 0;
      } else if (seqBefore(seq, expected)) this.st.before++;
    }
    this.lastRx = seq;
    this.lastRxSet = true;
  }

  private nextSeq(): number {
    if (!this.seqSet) {
      this.seq = Math.floor(this.env.now() / 1000) >>> 0;
      this.seqSet = true;
    }
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  private arm(): void {
    if (!this.started || this.alivePeriodMs === 0) return;
    this.disarm();
    this.timer = this.env.setTimer(this.alivePeriodMs, this.onTimerCb);
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.env.clearTimer(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.txCtl.push(FLAG.ALIVE);
    this.arm();
    this.hooks.txPending?.();
  }

  /** No handshake in NOTRACK. */
  get hello(): 'done' {
    return 'done';
  }

  get peerLastRxAt(): number {
    return this.lastRxAt;
  }

  /** NOTRACK has no acknowledgements: the replication lag cannot be measured. */
  readonly ackless = true;

  unackedSince(): undefined {
    return undefined;
  }

  stats(): FtFwStats {
    return {
      ...this.st,
      rsQueueLen: 0,
      txQueueLen: this.txObjects.size + this.txCtl.length,
      hello: 'done',
      nextSeq: this.seqSet ? this.seq : undefined,
      lastSeqReceived: this.lastRxSet ? this.lastRx : undefined,
    };
  }

  /** No resend queue: conntrackd answers `-s rsqueue` with nothing in this mode. */
  rsQueueDump(): string {
    return '';
  }
}
