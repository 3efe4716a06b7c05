// Internal cache -> peer: one FT-FW transmit pass per loop turn, its messages serialised from the
// cache into datagrams; bulk passes fed to FT-FW a slice per turn; entries freed once the peer has
// heard of their death.
import type { ExpectObject } from '../cache/expect-cache.js';
import { ObjectState } from '../cache/sync-cache.js';
import type { TxSink } from '../sync/ftfw.js';
import type { SyncProtocol } from '../sync/sync-protocol.js';
import { DatagramBuilder, MSG, encodeControl } from '../sync/wire.js';
import type { EngineCaches } from './engine-caches.js';
import type { EngineClock } from './ports/clock.js';
import type { PeerChannel } from './ports/peer-channel.js';

/**
 * What FT-FW queues: a conntrack of the internal cache by its handle (a number, no object per
 * flow), or an expectation object.
 */
export type SyncItem = number | ExpectObject;

/**
 * Objects a bulk send hands to FT-FW per loop turn. The peer's ACKs are read between turns, so
 * the protocol's per-object records are released and reused as the bulk goes: queued all at
 * once, 100,000 of them would live at the same time and cost the garbage collector more than
 * the sending itself.
 */
export const BULK_PER_TURN = 4096;

/** IP and UDP headers: what a datagram carries besides the payload. */
const UDP_IP_HEADERS = 28;

export class Transmitter {
  private builder: DatagramBuilder;
  /** The maxDatagram the builder packs into. */
  private packedFor = 0;
  /** A control message, as bytes. */
  private readonly scratch = Buffer.allocUnsafe(4096);
  private scheduled = false;
  /** stop() was called: nothing is sent any more. */
  private stopped = false;
  /**
   * A bulk send in progress: the next conntrack handle to queue (0: none left), then the
   * expectations. A plain cursor, not an iterator over both: one loop over numbers stays
   * optimized, where a call site that met a generator and then a Map iterator deoptimized
   * on every turn of a resync (trace-deopt).
   */
  private bulkNextHandle = 0;
  private bulkExpects: Iterator<ExpectObject> | undefined = undefined;
  /** The transmit pass of the next loop turn (one callback for the engine's lifetime). */
  private readonly onTurn = (): void => {
    this.scheduled = false;
    // stopped meanwhile: the channel is closed
    if (!this.stopped) this.transmit();
  };

  constructor(
    private readonly caches: EngineCaches,
    private readonly ftfw: SyncProtocol<SyncItem>,
    private readonly channel: PeerChannel,
    private readonly clock: EngineClock,
  ) {
    this.builder = this.newBuilder();
  }

  /** A builder packing into the channel's maxDatagram as it is now. */
  private newBuilder(): DatagramBuilder {
    this.packedFor = this.channel.maxDatagram;
    return new DatagramBuilder({
      mtu: this.packedFor + UDP_IP_HEADERS,
      reserve: UDP_IP_HEADERS,
      onDatagram: (d) => this.channel.send(d),
      lend: true,
    });
  }

  /** A transmit pass on the next loop turn: everything queued by a batch of events goes out packed. */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.nextTurn(this.onTurn);
  }

  stop(): void {
    this.stopped = true;
    this.bulkNextHandle = 0;
    this.bulkExpects = undefined;
  }

  /** A bulk pass FT-FW asked for: queued BULK_PER_TURN per loop turn from here on. */
  startBulkPass(): void {
    this.bulkNextHandle = 1;
    this.bulkExpects = this.caches.internalExpect.values();
    this.schedule();
  }

  /** FT-FW no longer holds `item`: a destroyed entry lives on only until the peer has heard of its death. */
  released(item: SyncItem): void {
    if (this.ftfw.holds(item)) return;
    if (typeof item === 'number') {
      const c = this.caches.internal;
      if (c.has(item) && c.stateOf(item) === ObjectState.DEAD) c.removeHandle(item);
      return;
    }
    const cache = this.caches.internalExpect;
    if (item.state === ObjectState.DEAD && cache.get(item.key) === item) cache.remove(item.key);
  }

  private transmit(): void {
    // a reload that turns authentication on or off changes the room for a trailer; the builder
    // is empty between passes
    if (this.channel.maxDatagram !== this.packedFor) this.builder = this.newBuilder();
    if (this.bulkNextHandle > 0 || this.bulkExpects) {
      if (this.feedBulk()) this.schedule();
      else this.ftfw.bulkQueued();
    }
    this.ftfw.transmitTo(this.txSink);
    this.builder.flush();
    this.channel.flush();
  }

  /** Queues the next part of a bulk send; true while some is left. */
  private feedBulk(): boolean {
    let budget = BULK_PER_TURN;
    let h = this.bulkNextHandle;
    if (h > 0) {
      // handles added meanwhile may or may not be sent: they are queued as they come anyway
      const c = this.caches.internal;
      const top = c.maxHandle;
      for (; h <= top && budget > 0; h++) {
        if (c.has(h)) {
          this.ftfw.queueObject(h);
          budget--;
        }
      }
      this.bulkNextHandle = h > top ? 0 : h;
    }
    while (budget > 0 && this.bulkExpects) {
      const r = this.bulkExpects.next();
      if (r.done) this.bulkExpects = undefined;
      else {
        this.ftfw.queueObject(r.value);
        budget--;
      }
    }
    return this.bulkNextHandle > 0 || this.bulkExpects !== undefined;
  }

  /** Serialises what a transmit pass sends (no message object per item). */
  private readonly txSink: TxSink<SyncItem> = {
    object: (item, seq, flags) => {
      if (typeof item === 'number') {
        const c = this.caches.internalAsIs;
        const state = c.stateOf(item);
        const start = c.attrsStart(item);
        this.builder.addStoredBytes(
          state === ObjectState.NEW ? MSG.CT_NEW : state === ObjectState.ALIVE ? MSG.CT_UPD : MSG.CT_DEL,
          flags,
          seq,
          c.buffer,
          start,
          start + c.attrsLength(item),
        );
        return;
      }
      const s = item.state;
      this.builder.addStored(
        s === ObjectState.NEW ? MSG.EXP_NEW : s === ObjectState.ALIVE ? MSG.EXP_UPD : MSG.EXP_DEL,
        flags,
        seq,
        item.attrs,
      );
    },
    // flags is the whole flags byte (ACK/NACK/RESYNC/ALIVE bit included)
    control: (_kind, seq, flags, from, to) => {
      const end = encodeControl(this.scratch, 0, flags, seq, from, to);
      this.builder.addRaw(this.scratch.subarray(0, end));
    },
  };
}
