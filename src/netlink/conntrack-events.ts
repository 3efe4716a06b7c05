// Conntrack (and expectation) event subscription. An overrun of the socket's receive buffer
// (ENOBUFS) means the kernel dropped events: it is reported as 'overrun' so the owner resyncs
// from a dump; it is never swallowed and never takes the process down.
import { EventEmitter } from 'node:events';
import {
  IPCTNL_MSG_CT_NEW, IPCTNL_MSG_EXP_NEW,
  NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_EXP_DESTROY, NFNLGRP_CONNTRACK_EXP_NEW,
  NFNLGRP_CONNTRACK_EXP_UPDATE, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE,
  NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP, NLM_F_CREATE, NLM_F_EXCL,
} from './constants.js';
import { forEachMessage, NlHeader } from './nlmsg.js';
import { NetlinkDecodeError } from './attr.js';
import { NetlinkError, NetlinkSocket, errno } from './socket.js';
import { decodeConntrack } from './ctnetlink.js';
import { decodeExpect } from './expect.js';
import type { Entry, EventType, Expect } from '../conntrack/entry.js';

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
   */
  iterationLimit?: number;
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

function eventType(h: NlHeader, newMsg: number): EventType {
  if ((h.type & 0xff) !== newMsg) return 'DESTROY';
  return h.flags & (NLM_F_CREATE | NLM_F_EXCL) ? 'NEW' : 'UPDATE';
}

export class ConntrackEvents extends EventEmitter<ConntrackEventsMap> {
  private readonly socket: NetlinkSocket;
  private readonly rx = Buffer.allocUnsafe(256 * 1024);
  private bufferSize: number;
  private readonly bufferMax: number;
  private readonly iterationLimit: number;
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
    if (opts.expectations) groups.push(NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_UPDATE, NFNLGRP_CONNTRACK_EXP_DESTROY);
    this.bufferSize = opts.rcvbuf ?? 16 * 1024 * 1024;
    this.bufferMax = Math.max(opts.rcvbufMax ?? this.bufferSize, this.bufferSize);
    this.iterationLimit = opts.iterationLimit ?? Infinity;
    this.socket = new NetlinkSocket({ groups, rcvbuf: this.bufferSize });
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

  /** Starts delivering events from the event loop. */
  start(): void {
    this.socket.onReadable(() => this.drain());
  }

  stop(): void {
    this.socket.stopReading();
  }

  close(): void {
    this.socket.close();
  }

  /** Reads everything queued now. Returns the number of events delivered. */
  drain(): number {
    let delivered = 0;
    const rx = this.rx;
    // level-triggered readiness: what is left is read on the next loop turn
    for (let reads = 0; reads < this.iterationLimit; reads++) {
      const n = this.socket.recv(rx);
      if (n === -errno.EAGAIN) return delivered;
      if (n === -errno.ENOBUFS) {
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
      if (n > rx.length) {
        this.malformed++;
        this.emit('malformed', new Error(`event datagram of ${n} bytes truncated to ${rx.length}`));
        continue;
      }
      try {
        forEachMessage(rx, n, (h) => {
          this.received++;
          const subsys = h.type >> 8;
          // decode errors are the peer's fault (counted); listener exceptions are not ours to hide
          let entry: Entry | undefined;
          let expect: Expect | undefined;
          try {
            if (subsys === NFNL_SUBSYS_CTNETLINK) entry = decodeConntrack(rx, h.off, h.len);
            else if (subsys === NFNL_SUBSYS_CTNETLINK_EXP) expect = decodeExpect(rx, h.off, h.len);
          } catch (err) {
            this.malformed++;
            this.emit('malformed', err as Error);
            return;
          }
          if (entry) this.emit('event', eventType(h, IPCTNL_MSG_CT_NEW), entry, h.pid);
          else if (expect) this.emit('expect', eventType(h, IPCTNL_MSG_EXP_NEW), expect, h.pid);
          else return;
          delivered++;
        });
      } catch (err) {
        if (!(err instanceof NetlinkDecodeError)) throw err;
        this.malformed++;
        this.emit('malformed', err as Error);
      }
    }
    return delivered;
  }
}
