// Conntrack (and expectation) event subscription. An overrun of the socket's receive buffer
// (ENOBUFS) means the kernel dropped events: it is reported as 'overrun' so the owner resyncs
// from a dump; it is never swallowed and never takes the process down.
import { EventEmitter } from 'node:events';
import {
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_NEW,
  NFNLGRP_CONNTRACK_DESTROY,
  NFNLGRP_CONNTRACK_EXP_DESTROY,
  NFNLGRP_CONNTRACK_EXP_NEW,
  NFNLGRP_CONNTRACK_EXP_UPDATE,
  NFNLGRP_CONNTRACK_NEW,
  NFNLGRP_CONNTRACK_UPDATE,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NLMSG_HDRLEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
} from './constants.js';
import { NetlinkDecodeError } from './attr.js';
import { NetlinkError, NetlinkSocket, errno } from './socket.js';
import { decodeConntrack } from './ctnetlink.js';
import { decodeExpect } from './expect.js';
import type { Entry, EventType, Expect } from '../conntrack/entry.js';

/**
 * Raw-mode consumer of conntrack events: buf[off, off + len) is the whole ctnetlink message
 * (nlmsghdr included), what decodeConntrack(buf, off, len) takes. The bytes are only valid during
 * the call (the buffer is reused): decode or copy what you keep. A NetlinkDecodeError thrown here
 * is counted and reported as 'malformed' like a decode error in the decoded path.
 */
export type RawConntrackHandler = (type: EventType, buf: Buffer, off: number, len: number, pid: number) => void;

export interface EventOptions {
  /** Which conntrack events (default all three). */
  types?: EventType[];
  /** Also subscribe to expectation events. */
  expectations?: boolean;
  /** Receive buffer in bytes (SO_RCVBUFFORCE). Default 16 MiB. */
  rcvbuf?: number;
  /** On overrun, double the buffer up to this size (conntrackd's NetlinkBufferSizeMaxGrowth). */
  rcvbufMax?: number;
  /**
   * Datagrams read per readiness before returning to the event loop (conntrackd's
   * EventIterationLimit): a burst of events cannot hold up sending and the control socket.
   * Counted in datagrams (one event each), also when they are read in batches; an overrun report
   * counts as one.
   */
  iterationLimit?: number;
  /**
   * Conntrack events are handed undecoded to `onRawConntrack` (one plain call per message)
   * instead of being emitted as 'event' with a decoded Entry. Expectation events are still
   * decoded and emitted as 'expect'. Without a handler set, the decoded path is used.
   */
  raw?: boolean;
  /**
   * conntrackd's NetlinkEventsReliable: NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS, as
   * conntrackd sets them. An event the socket has no room for then fails in the kernel, which
   * keeps it (a DESTROY is delivered again, other events' bits travel with the flow's next
   * event) instead of dropping it; the socket reports no overrun.
   */
  reliable?: boolean;
  /** Datagrams read per system call (recvmmsg). Default 64, at most 1024. */
  batch?: number;
  /**
   * Bytes reserved per datagram. Default 16 KiB (an event is well under 1 KiB); a larger
   * datagram is truncated, counted and reported as 'malformed'.
   */
  slotSize?: number;
}
export interface ConntrackEventsMap {
  /** `pid` is the port id of the socket whose request caused the event (0 = packet path). */
  event: [type: EventType, entry: Entry, pid: number];
  expect: [type: EventType, x: Expect, pid: number];
  /** The kernel dropped events: the listener's view is incomplete until a resync. */
  overrun: [info: { bufferSize: number; count: number }];
  /** A message that could not be decoded (counted, skipped). */
  malformed: [err: Error];
  error: [err: Error];
}

export class ConntrackEvents extends EventEmitter<ConntrackEventsMap> {
  private readonly socket: NetlinkSocket;
  /** Receive buffer: `batch` slots of `slotSize` bytes, one datagram each. */
  private readonly rx: Buffer;
  private readonly lengths: Int32Array;
  private readonly slotSize: number;
  private bufferSize: number;
  private readonly bufferMax: number;
  private readonly iterationLimit: number;
  private readonly raw: boolean;
  /** Raw mode's consumer (see EventOptions.raw). */
  onRawConntrack?: RawConntrackHandler;
  /** Called at the start of each drain(), before its events (e.g. to read the clock once for them). */
  onDrain?: () => void;
  /** Datagrams of the last batch: [next, pending) are read but not handled yet (a listener threw). */
  private pending = 0;
  private next = 0;
  private watching = false;
  overruns = 0;
  malformed = 0;
  received = 0;

  constructor(opts: EventOptions = {}) {
    super();
    const types = opts.types ?? ['NEW', 'UPDATE', 'DESTROY'];
    const groups: number[] = [];
    if (types.includes('NEW')) groups.push(NFNLGRP_CONNTRACK_NEW);
    if (types.includes('UPDATE')) groups.push(NFNLGRP_CONNTRACK_UPDATE);
    if (types.includes('DESTROY')) groups.push(NFNLGRP_CONNTRACK_DESTROY);
    if (opts.expectations)
      groups.push(NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_UPDATE, NFNLGRP_CONNTRACK_EXP_DESTROY);
    this.bufferSize = opts.rcvbuf ?? 16 * 1024 * 1024;
    this.bufferMax = Math.max(opts.rcvbufMax ?? this.bufferSize, this.bufferSize);
    this.iterationLimit = Math.max(opts.iterationLimit ?? Infinity, 1);
    this.raw = opts.raw ?? false;
    const batch = Math.min(Math.max(Math.floor(opts.batch ?? 64), 1), 1024);
    this.slotSize = (Math.max(Math.floor(opts.slotSize ?? 16 * 1024), NLMSG_HDRLEN) + 3) & ~3;
    this.rx = Buffer.allocUnsafe(batch * this.slotSize);
    this.lengths = new Int32Array(batch);
    const reliable = opts.reliable ?? false;
    this.socket = new NetlinkSocket({ groups, rcvbuf: this.bufferSize, broadcastError: reliable, noEnobufs: reliable });
  }

  get receiveBufferSize(): number {
    return this.socket.receiveBufferSize;
  }

  /**
   * Events caused by requests from these netlink port ids (our commit and flush sockets) are
   * dropped in the kernel, before they can fill the receive buffer.
   */
  ignorePorts(ports: number[]): void {
    this.socket.ignorePorts(ports);
  }

  /** Leaves or rejoins the NEW events group (see SyncEngine.commit). */
  hearNew(on: boolean): void {
    this.socket.setMembership(NFNLGRP_CONNTRACK_NEW, on);
  }

  /** Starts delivering events from the event loop. */
  start(): void {
    this.watching = true;
    this.socket.onReadable(() => this.drain());
  }

  stop(): void {
    this.watching = false;
    this.socket.stopReading();
  }

  close(): void {
    this.watching = false;
    this.socket.close();
  }

  /**
   * Reads everything queued now (at most iterationLimit datagrams), in batches of up to `batch`
   * datagrams per recvmmsg. Returns the number of events delivered.
   */
  drain(): number {
    this.onDrain?.();
    let delivered = 0;
    // level-triggered readiness: what is left is read on the next loop turn
    let reads = 0;
    if (this.next < this.pending) {
      reads = this.pending - this.next;
      delivered += this.handleBatch();
    }
    const slots = this.lengths.length;
    while (reads < this.iterationLimit) {
      const want = Math.min(slots, this.iterationLimit - reads);
      const n = this.socket.recvMany(this.rx, this.slotSize, this.lengths, want);
      if (n === -errno.EAGAIN) return delivered;
      if (n === -errno.ENOBUFS) {
        reads++;
        this.overruns++;
        if (this.bufferSize * 2 <= this.bufferMax) {
          this.bufferSize *= 2;
          this.socket.setReceiveBufferSize(this.bufferSize);
        }
        this.emit('overrun', { bufferSize: this.bufferSize, count: this.overruns });
        continue; // the socket stays usable; later events keep coming
      }
      if (n < 0) {
        this.emit('error', new NetlinkError(-n, 'conntrack events'));
        return delivered;
      }
      reads += n;
      this.pending = n;
      this.next = 0;
      delivered += this.handleBatch();
      // A short batch emptied the queue (recvmmsg stops at EAGAIN; an error it met is kept for
      // the next read and makes the socket readable): skip the read that would say EAGAIN.
      if (n < want) return delivered;
    }
    return delivered;
  }

  /** Handles datagrams [next, pending) of the batch in rx. */
  private handleBatch(): number {
    let delivered = 0;
    const slot = this.slotSize;
    const lengths = this.lengths;
    try {
      while (this.next < this.pending) {
        const i = this.next++;
        const n = lengths[i];
        if (n > slot) {
          this.malformed++;
          this.emit('malformed', new Error(`event datagram of ${n} bytes truncated to ${slot}`));
          continue;
        }
        delivered += this.handleDatagram(i * slot, i * slot + n);
      }
    } catch (err) {
      // a listener threw: the rest of the batch is already read; handle it on the next turn
      if (this.next < this.pending && this.watching) setImmediate(() => this.watching && this.drain());
      throw err;
    }
    return delivered;
  }

  /** Delivers the messages of one datagram, rx[off, end). */
  private handleDatagram(off: number, end: number): number {
    const rx = this.rx;
    const raw = this.raw ? this.onRawConntrack : undefined;
    let delivered = 0;
    while (off + NLMSG_HDRLEN <= end) {
      const len = rx.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > end) {
        this.malformed++;
        this.emit('malformed', new NetlinkDecodeError(`bad netlink message length ${len}`, off % this.slotSize));
        return delivered;
      }
      this.received++;
      const type = rx.readUInt16LE(off + 4);
      const subsys = type >> 8;
      if (subsys === NFNL_SUBSYS_CTNETLINK || subsys === NFNL_SUBSYS_CTNETLINK_EXP) {
        const flags = rx.readUInt16LE(off + 6);
        const pid = rx.readUInt32LE(off + 12);
        const newMsg = subsys === NFNL_SUBSYS_CTNETLINK ? IPCTNL_MSG_CT_NEW : IPCTNL_MSG_EXP_NEW;
        const et: EventType =
          (type & 0xff) !== newMsg ? 'DESTROY' : flags & (NLM_F_CREATE | NLM_F_EXCL) ? 'NEW' : 'UPDATE';
        // decode errors are the peer's fault (counted), also when a raw consumer decodes;
        // other exceptions from a listener are not ours to hide
        let bad: Error | undefined;
        if (raw && subsys === NFNL_SUBSYS_CTNETLINK) {
          try {
            raw(et, rx, off, len, pid);
            delivered++;
          } catch (err) {
            if (!(err instanceof NetlinkDecodeError)) throw err;
            bad = err;
          }
        } else {
          let entry: Entry | undefined;
          let expect: Expect | undefined;
          try {
            if (subsys === NFNL_SUBSYS_CTNETLINK) entry = decodeConntrack(rx, off, len);
            else expect = decodeExpect(rx, off, len);
          } catch (err) {
            bad = err as Error;
          }
          if (!bad) {
            try {
              if (entry) this.emit('event', et, entry, pid);
              else this.emit('expect', et, expect!, pid);
              delivered++;
            } catch (err) {
              if (!(err instanceof NetlinkDecodeError)) throw err;
              bad = err;
            }
          }
        }
        if (bad) {
          this.malformed++;
          this.emit('malformed', bad);
        }
      }
      off += (len + 3) & ~3;
    }
    return delivered;
  }
}
