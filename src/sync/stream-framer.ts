// Message boundaries on a TCP sync channel. The stream carries the same messages a datagram
// does, back to back and nothing else: each message's header says its length, so the reader
// cuts the stream at those lengths and keeps an incomplete tail for the next read. Lengths
// are checked as a datagram's are (docs/ftfw-protocol.md §10.6); a bad one means the stream has
// lost its boundaries for good, so the caller resets the connection. Pure: no I/O.
import { CTL_RANGE_LEN, HDR_LEN } from './nethdr.js';
import { isRangeControl } from './wire.js';

/** A message length the stream cannot carry: its boundaries are lost from here on. */
export class StreamFramingError extends Error {
  constructor(
    /** Bytes of the stream before the bad header (counted from the first push since the last reset). */
    readonly streamOffset: number,
    /** The length field as read. */
    readonly length: number,
    reason: string,
  ) {
    super(`sync stream: message at byte ${streamOffset} ${reason}; resetting the connection`);
    this.name = 'StreamFramingError';
  }
}

/**
 * Where the message at b[o..end) ends, `undefined` when more bytes are needed, or throws when its
 * length field is impossible (`base`: the stream offset of b[0]).
 */
function messageEnd(b: Uint8Array, o: number, end: number, base: number): number | undefined {
  if (end - o < HDR_LEN) return undefined;
  const len = (b[o + 2] << 8) | b[o + 3];
  if (isRangeControl(b[o] & 0x0f, b[o + 1])) {
    if (len < CTL_RANGE_LEN)
      throw new StreamFramingError(
        base + o,
        len,
        `is an ACK, NACK or RESYNC of ${len} bytes (at least ${CTL_RANGE_LEN})`,
      );
  } else if (len < HDR_LEN) {
    throw new StreamFramingError(base + o, len, `says it is ${len} bytes long (at least ${HDR_LEN})`);
  }
  return end - o < len ? undefined : o + len;
}

/** Cuts one connection's byte stream into messages; one framer per connection (reset() between). */
export class StreamFramer {
  /** The incomplete message kept from earlier pushes (at most one message minus a byte). */
  private tail = new Uint8Array(0);
  private tailLen = 0;
  /** Stream bytes consumed before `tail`. */
  private consumed = 0;

  /** Bytes held for the next push (an incomplete message). */
  get pending(): number {
    return this.tailLen;
  }

  /** Forgets the held bytes: the next push starts a new stream (a new connection). */
  reset(): void {
    this.tailLen = 0;
    this.consumed = 0;
  }

  /**
   * Takes the next bytes of the stream and calls `deliver` with each run of complete messages
   * (one or more, back to back; the view is valid during the call only). An impossible length
   * throws StreamFramingError after the messages before it have been delivered; the framer is
   * then reset.
   */
  push(chunk: Uint8Array, deliver: (messages: Uint8Array) => void): void {
    try {
      this.consumeChunk(chunk, deliver);
    } catch (err) {
      this.reset();
      throw err;
    }
  }

  private consumeChunk(chunk: Uint8Array, deliver: (messages: Uint8Array) => void): void {
    let from = 0;
    if (this.tailLen > 0) {
      from = this.completeTail(chunk, deliver);
      if (from < 0) return;
    }
    // the rest of the chunk: complete messages delivered in place, one run (those before a bad
    // length too)
    let o = from;
    let bad: unknown;
    try {
      for (;;) {
        const next = messageEnd(chunk, o, chunk.length, this.consumed - from);
        if (next === undefined) break;
        o = next;
      }
    } catch (err) {
      bad = err;
    }
    if (o > from) deliver(chunk.subarray(from, o));
    if (bad) throw bad;
    this.consumed += o - from;
    this.keep(chunk.subarray(o));
  }

  /**
   * Adds to the held tail what completes its message and delivers that message. Returns where
   * the rest of `chunk` starts, or -1 when the chunk did not complete it (all of it is held).
   */
  private completeTail(chunk: Uint8Array, deliver: (messages: Uint8Array) => void): number {
    // the header first (a tail may be shorter than one), then the body it announces
    const headerNeed = Math.max(0, HDR_LEN - this.tailLen);
    const forHeader = Math.min(headerNeed, chunk.length);
    this.append(chunk.subarray(0, forHeader));
    if (this.tailLen < HDR_LEN) return -1;
    const end = messageEnd(this.tail, 0, Number.MAX_SAFE_INTEGER, this.consumed)!;
    const bodyNeed = end - this.tailLen;
    const forBody = Math.min(bodyNeed, chunk.length - forHeader);
    this.append(chunk.subarray(forHeader, forHeader + forBody));
    if (this.tailLen < end) return -1;
    deliver(this.tail.subarray(0, end));
    this.consumed += end;
    this.tailLen = 0;
    return forHeader + forBody;
  }

  private keep(rest: Uint8Array): void {
    this.tailLen = 0;
    this.append(rest);
  }

  private append(bytes: Uint8Array): void {
    const need = this.tailLen + bytes.length;
    if (need > this.tail.length) {
      const grown = new Uint8Array(Math.max(need, this.tail.length * 2, 64));
      grown.set(this.tail.subarray(0, this.tailLen));
      this.tail = grown;
    }
    this.tail.set(bytes, this.tailLen);
    this.tailLen = need;
  }
}
