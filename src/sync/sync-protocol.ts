// What the sync engine asks of a sync mode (conntrackd's `Mode FTFW`, `Mode NOTRACK`, `Mode ALARM`):
// queue objects, run transmit passes, judge each received header, answer bulk and resync
// requests, and report counters. FtFw (ftfw.ts) is the reliable one; NoTrack (notrack.ts) sends
// each change once. The engine is handed one and never asks which it is.
import type { FtFwStats, HelloState, RxHeader, RxVerdict, TxSink } from './ftfw-types.js';

export interface SyncProtocol<O> {
  start(): void;
  stop(): void;
  /** Schedules `obj` for the next transmit pass (idempotent per object). */
  queueObject(obj: O): void;
  /** Drops `obj` from the queues without sending it; true if it was held. */
  forget(obj: O): boolean;
  /** Is `obj` queued, or held until the peer acknowledges it? */
  holds(obj: O): boolean;
  /** `-n`: ask the peer for its whole internal cache. */
  requestResync(): void;
  /** `-B`: the owner is asked (hooks.bulk) to queue its whole internal cache. */
  requestBulk(): void;
  /** The owner has queued every object of the bulk pass it was asked for. */
  bulkQueued(): void;
  /** RESYNCs sent so far: external entries are stamped with it when refreshed (reconciliation). */
  readonly resyncEpoch: number;
  /** One transmit pass: every queued message to `sink`, in order. Returns the count. */
  transmitTo(sink: TxSink<O>): number;
  /** The verdict on one received message, before the owner applies it. */
  receive(h: RxHeader): RxVerdict;
  receiveHeader(type: number, flags: number, seq: number, from?: number, to?: number): RxVerdict;
  /** Where our HELLO handshake is ('done' in a mode without one). */
  readonly hello: HelloState;
  /** env.now() of the last message from the peer (-Infinity before the first): its silence. */
  readonly peerLastRxAt: number;
  /**
   * env.now() of the first transmission of the oldest object the peer has not acknowledged:
   * undefined when everything sent is acknowledged, or when the mode has no acknowledgements
   * (`ackless`). Walks the queues: for the metrics, once per scrape.
   */
  unackedSince(): number | undefined;
  /** True in a mode without acknowledgements (NOTRACK): there is no replication lag to measure. */
  readonly ackless: boolean;
  stats(): FtFwStats;
  /** `-s rsqueue` text. */
  rsQueueDump(): string;
}
