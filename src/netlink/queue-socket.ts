// A socket bound to one nfnetlink_queue queue (I/O over NetlinkSocket): binds with the copy
// range and the queue length asked for and FAIL_OPEN (a full queue accepts, never drops),
// hands the queued packets over a receive buffer at a time, and sends verdicts. Closing it
// unbinds; when the process dies the kernel unbinds by itself, and the NFQUEUE rules'
// --queue-bypass then let packets through.
import { NlWriter } from './attr.js';
import { errno, NetlinkError, NetlinkSocket } from './socket.js';
import { decodeError, forEachMessage, isError } from './nlmsg.js';
import { NF_VERDICT, NFQA_CFG_F, NFQNL_CFG_CMD, NFQNL_COPY } from './queue-attrs.js';
import { writeQueueConfig } from './queue-config.js';
import { QueuedPacket, scanQueuedPacket } from './queue-packet.js';
import { writeVerdictBatch, writeVerdict } from './queue-verdict.js';

export interface QueueSocketOptions {
  queue: number;
  /** Packet bytes copied into each message: enough for the layer-3 and layer-4 headers. */
  copyRange: number;
  /** Packets the kernel holds for the queue; beyond, it accepts them (FAIL_OPEN). */
  maxLen: number;
  /** Receive buffer in bytes. */
  rcvbuf?: number;
}

/** Receive slots per read: one packet message each. */
const SLOTS = 64;

export class QueueSocket {
  private readonly sock: NetlinkSocket;
  private readonly w = new NlWriter(4096);
  private readonly slot: number;
  private readonly rx: Buffer;
  private readonly lengths = new Int32Array(SLOTS);
  private readonly packet = new QueuedPacket();
  private seq = 1;
  readonly queue: number;

  constructor(opts: QueueSocketOptions) {
    this.queue = opts.queue;
    // a message: headers and the fixed attributes (~100 bytes) plus the copied bytes
    this.slot = Math.max(1024, (opts.copyRange + 512 + 7) & ~7);
    this.rx = Buffer.alloc(this.slot * SLOTS);
    this.sock = new NetlinkSocket({ rcvbuf: opts.rcvbuf ?? 1 << 20 });
    try {
      this.request('bind', {
        command: NFQNL_CFG_CMD.BIND,
        copy: { mode: NFQNL_COPY.PACKET, range: opts.copyRange },
        maxLen: opts.maxLen,
        flags: { mask: NFQA_CFG_F.FAIL_OPEN, value: NFQA_CFG_F.FAIL_OPEN },
      });
    } catch (err) {
      this.sock.close();
      throw err;
    }
  }

  /**
   * Sends one configuration request and reads its answer. The kernel handles a netlink request
   * in the sender's system call, so the answer is queued when send() returns.
   */
  private request(what: string, cfg: Parameters<typeof writeQueueConfig>[3]): void {
    const w = this.w;
    w.reset();
    const seq = this.seq++;
    writeQueueConfig(w, seq, this.queue, cfg);
    this.sock.send(w.bytes(), `queue ${this.queue}: ${what}`);
    let n = this.sock.recv(this.rx);
    if (n === -errno.EAGAIN && this.sock.waitReadable(1000)) n = this.sock.recv(this.rx);
    if (n < 0) throw new NetlinkError(-n, `queue ${this.queue}: ${what}: reading the answer`);
    let failure: NetlinkError | undefined;
    forEachMessage(this.rx, Math.min(n, this.rx.length), (h) => {
      if (!isError(h)) return;
      const e = decodeError(this.rx, h);
      if (e.seq === seq && e.errno !== 0)
        failure = new NetlinkError(e.errno, `queue ${this.queue}: ${what}`, e.message);
    });
    if (failure) throw failure;
  }

  /** Calls `cb` from the event loop whenever packets are queued (read them with readPackets). */
  onReadable(cb: () => void): void {
    this.sock.onReadable(cb);
  }

  /**
   * Reads what is queued, up to one receive buffer, and calls `fn` for each packet (one object,
   * reused: copy what you keep; its payload offsets point into `buf`, valid until the next read).
   * Returns the packets read, 0 when none, or -errno (-ENOBUFS: the socket overran and messages
   * were lost; their packets stay queued until a batch verdict with a higher id accepts them).
   */
  readPackets(fn: (p: QueuedPacket, buf: Buffer) => void): number {
    const n = this.sock.recvMany(this.rx, this.slot, this.lengths);
    if (n < 0) return n === -errno.EAGAIN ? 0 : n;
    let packets = 0;
    for (let i = 0; i < n; i++) {
      const start = i * this.slot;
      // a message longer than its slot (never with the copy range asked for) is skipped: its
      // packet is accepted by the next batch verdict
      if (this.lengths[i] > this.slot) continue;
      const end = start + this.lengths[i];
      forEachMessage(
        this.rx,
        end,
        (h) => {
          if (scanQueuedPacket(this.rx, h, this.packet)) {
            packets++;
            fn(this.packet, this.rx);
          }
        },
        start,
      );
    }
    return packets;
  }

  /** ACCEPT for packet `id`. */
  accept(id: number): void {
    this.sendVerdict(() => writeVerdict(this.w, this.seq++, this.queue, id, NF_VERDICT.ACCEPT));
  }

  /** ACCEPT for every packet queued with an id up to `maxId`. */
  acceptUpTo(maxId: number): void {
    this.sendVerdict(() => writeVerdictBatch(this.w, this.seq++, this.queue, maxId, NF_VERDICT.ACCEPT));
  }

  private sendVerdict(write: () => void): void {
    this.w.reset();
    write();
    this.sock.send(this.w.bytes(), `queue ${this.queue}: verdict`);
  }

  /** Unbinds (queued packets are dropped by the kernel: accept them first) and closes. */
  close(): void {
    try {
      this.request('unbind', { command: NFQNL_CFG_CMD.UNBIND });
    } catch {
      // closing unbinds too
    }
    this.sock.stopReading();
    this.sock.close();
  }
}
