// Many ctnetlink requests per sendmsg, with a result per request. The kernel processes every
// message of a sendmsg before the call returns, so requests go without ACK (only failures
// answer) and a NOOP with ACK closes the batch as a fence: once its ACK is read, every reply of
// the batch has been read. Outstanding replies are bounded by the batch size, so the receive
// buffer cannot overrun (each error reply costs about 1 KiB of it).
import { AF_UNSPEC, NLMSG_ERROR, NLMSG_NOOP, NLM_F_ACK, NLM_F_REQUEST } from './constants.js';
import type { NlWriter } from './attr.js';
import { decodeError, forEachMessage, type NlHeader } from './nlmsg.js';
import { NetlinkError, errno, type NetlinkSocket } from './socket.js';

/** Bytes of requests per sendmsg. */
export const BATCH_BYTES = 256 * 1024;
/** Requests per batch (bounds the error replies queued at once). */
export const BATCH_MAX_MESSAGES = 2048;

/** Per-request results of a batch: 0 ok, errno > 0, -1 could not be encoded. */
export interface BatchOutcome {
  errnos: Int32Array;
  /** Kernel extended-ack text or the encoder's message, by request index. */
  messages: Map<number, string>;
}

/**
 * Bytes per received datagram: replies are read many per system call (recvmmsg), one slot each.
 * A batch of failing requests answers with one datagram per error, ~100 bytes each (a commit
 * that finds every entry in the table: one per entry).
 */
export const RX_SLOT = 4096;

export interface BatchChannel {
  socket: NetlinkSocket;
  /** Receive buffer: rx.length / RX_SLOT datagrams per system call, their lengths in rxLengths. */
  rx: Buffer;
  rxLengths: Int32Array;
  w: NlWriter;
  /** Waits until the socket is readable. */
  wait(): Promise<void>;
  /**
   * Held around each sendmsg when several threads send to the same subsystem (see
   * KernelTurn): the kernel runs the whole batch inside the call.
   */
  turn?: { acquire(): void; release(): void };
  /** Bytes of requests per sendmsg (default BATCH_BYTES); the socket's send buffer must hold them. */
  batchBytes?: number;
  /** Requests per sendmsg (default BATCH_MAX_MESSAGES); the receive buffer must hold as many errors. */
  batchMessages?: number;
}

export interface BatchRun {
  outcome: BatchOutcome;
  lastSeq: number;
  /** Milliseconds spent encoding, waiting for the turn, and inside sendmsg (the kernel's work). */
  encodeMs: number;
  turnWaitMs: number;
  sendMs: number;
}

/**
 * Sends requests 0..count-1; `encode(w, i, seq)` writes request i (header included, with the seq
 * given) and throws to mark it unencodable. Returns per-request outcomes and the last seq used.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export async function runBatch(
  ch: BatchChannel,
  count: number,
  firstSeq: number,
  encode: (w: NlWriter, i: number, seq: number) => void,
): Promise<BatchRun> {
  const outcome: BatchOutcome = { errnos: new Int32Array(count), messages: new Map() };
  const { w, rx, socket } = ch;
  const base = firstSeq >>> 0;
  let lastSeq = base;
  const batchBytes = ch.batchBytes ?? BATCH_BYTES;
  const batchMessages = ch.batchMessages ?? BATCH_MAX_MESSAGES;
  let i = 0;
  let encodeMs = 0;
  let turnWaitMs = 0;
  let sendMs = 0;
  while (i < count) {
    const t0 = performance.now();
    w.reset();
    const first = i;
    const limit = Math.min(count, first + batchMessages);
    for (; i < limit && w.off < batchBytes; i++) {
      const mark = w.off;
      try {
        encode(w, i, (base + i) >>> 0);
      } catch (err) {
        w.off = mark;
        outcome.errnos[i] = -1;
        outcome.messages.set(i, (err as Error).message);
      }
    }
    encodeMs += performance.now() - t0;
    if (w.off === 0) continue;
    const fence = (base + i) >>> 0;
    lastSeq = fence;
    w.beginNf(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, fence, AF_UNSPEC);
    w.end();
    const tWait = performance.now();
    ch.turn?.acquire();
    const tSend = performance.now();
    try {
      socket.send(w.bytes(), 'conntrack batch');
    } finally {
      ch.turn?.release();
    }
    sendMs += performance.now() - tSend;
    turnWaitMs += tSend - tWait;
    let done = false;
    const onReply = (h: NlHeader): boolean => {
      if (h.type !== NLMSG_ERROR) return true;
      const e = decodeError(rx, h);
      if (e.seq === fence) {
        done = true;
        return false;
      }
      const at = (e.seq - base) >>> 0;
      if (at >= first && at < i && e.errno !== 0) {
        outcome.errnos[at] = e.errno;
        if (e.message) outcome.messages.set(at, e.message);
      }
      return true;
    };
    while (!done) {
      const n = socket.recvMany(rx, RX_SLOT, ch.rxLengths);
      if (n === -errno.EAGAIN) {
        await ch.wait();
        continue;
      }
      if (n < 0)
        throw new NetlinkError(
          -n,
          'conntrack batch',
          n === -errno.ENOBUFS ? 'replies were lost: the receive buffer overran' : undefined,
        );
      // the fence's ACK comes last: nothing of this batch follows it
      for (let d = 0; d < n && !done; d++) {
        const at = d * RX_SLOT;
        forEachMessage(rx, at + Math.min(ch.rxLengths[d], RX_SLOT), onReply, at);
      }
    }
  }
  return { outcome, lastSeq, encodeMs, turnWaitMs, sendMs };
}
