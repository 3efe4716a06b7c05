// conntrackd sync protocol codec (conntrack-tools 1.4.7, FT-FW / NOTRACK / ALARM share it).
// Pure: no sockets, no timers. Wire format: docs/ftfw-protocol.md §3, §5, §6.
//
//   encodeCt / encodeExp / encodeControl   one message into a caller's buffer at an offset
//   decodeDatagram                          walks one received datagram (or TCP read) with the
//                                           receiver's checks, calls a visitor per message
//   DatagramBuilder                         packs messages into datagrams of < MTU - 28 bytes
//
// Message header (8 bytes): byte 0 = version << 4 | type (version 1), flags, BE16 len (whole
// message, header included), BE32 seq. ACK / NACK / RESYNC add BE32 from, BE32 to (16 bytes).
import type { Entry, Expect } from '../conntrack/entry.js';
import {
  CtScan,
  WireEncodeError,
  decodeCtAttrs,
  decodeExpAttrs,
  encodeCtAttrs,
  encodeExpAttrs,
  scanCtKey,
  type CtEncodeOptions,
  type ExpEncodeOptions,
} from './wire-attrs.js';
import { CTL_RANGE_LEN, FLAG, HDR_LEN, MSG, MSG_DATA_MAX, PROTOCOL_VERSION } from './nethdr.js';

export {
  NTA,
  NTA_MAX,
  NTA_EXP,
  NTA_EXP_MAX,
  CT_FIXED_LEN,
  CT_MAX_LEN,
  EXP_FIXED_LEN,
  EXP_MAX_LEN,
  MAX_HELPER_NAME,
  CtScan,
  WireEncodeError,
  decodeCtAttrs,
  decodeExpAttrs,
  encodeCtAttrs,
  encodeExpAttrs,
} from './wire-attrs.js';
export type { CtEncodeOptions, ExpEncodeOptions } from './wire-attrs.js';

export { PROTOCOL_VERSION, MSG, MSG_DATA_MAX, FLAG, HDR_LEN, CTL_RANGE_LEN } from './nethdr.js';
const HELLO_BITS = FLAG.HELLO | FLAG.HELLO_BACK;
const RANGE_BITS = FLAG.RESYNC | FLAG.NACK | FLAG.ACK;

/** Bytes reserved for IP + UDP headers: datagram buffer = MTU - 28 (UDP, multicast). */
export const UDP_RESERVE = 28;
/** Bytes reserved for IP + TCP headers on TCP channels: MTU - 40. */
export const TCP_RESERVE = 40;
/** Receive buffer of conntrackd (a datagram or TCP read larger than this is cut). */
export const RECV_BUFFER = 65536;
/** Largest message conntrackd can build (static 4096-byte BUILD_NETMSG buffer). */
export const MAX_MESSAGE = 4096;

/** Is this a range control message (ACK, NACK or RESYNC: 16 bytes with from/to)? */
export function isRangeControl(type: number, flags: number): boolean {
  return type === MSG.CTL && (flags & RANGE_BITS) !== 0;
}

/**
 * What conntrackd's FT-FW receiver makes of a control message's flags, with its precedence
 * (ACK, then NACK, then RESYNC, then ALIVE); null = none of them (malformed header).
 */
export function controlKind(flags: number): 'ack' | 'nack' | 'resync' | 'alive' | null {
  if (flags & FLAG.ACK) return 'ack';
  if (flags & FLAG.NACK) return 'nack';
  if (flags & FLAG.RESYNC) return 'resync';
  if (flags & FLAG.ALIVE) return 'alive';
  return null;
}

/** Serial-number comparison of 32-bit sequence numbers: a before b. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

// ------------------------------------------------------------------------------- encoding

function writeHeader(buf: Uint8Array, off: number, type: number, flags: number, len: number, seq: number): void {
  buf[off] = (PROTOCOL_VERSION << 4) | (type & 0x0f);
  buf[off + 1] = flags & 0xff;
  buf[off + 2] = (len >>> 8) & 0xff;
  buf[off + 3] = len & 0xff;
  buf[off + 4] = (seq >>> 24) & 0xff;
  buf[off + 5] = (seq >>> 16) & 0xff;
  buf[off + 6] = (seq >>> 8) & 0xff;
  buf[off + 7] = seq & 0xff;
}

function checkMsgLen(len: number): void {
  if (len > 0xffff) throw new WireEncodeError(`message of ${len} bytes does not fit the 16-bit length field`);
}

/** Where the attributes of a CT or EXP message at buf[off] go; RangeError if its header does not fit. */
function attrsStart(buf: Uint8Array, off: number): number {
  if (off + HDR_LEN > buf.length) throw new RangeError('sync message does not fit in the output buffer');
  return off + HDR_LEN;
}

/** Heads the message at buf[off, end) once its attributes are written; returns `end`. */
function finishMsg(buf: Uint8Array, off: number, end: number, type: number, flags: number, seq: number): number {
  checkMsgLen(end - off);
  writeHeader(buf, off, type, flags, end - off, seq);
  return end;
}

/**
 * Encodes one CT_NEW / CT_UPD / CT_DEL message for `entry` at `buf[off]`; returns the offset just
 * past it (the message is a multiple of 4 bytes). Throws WireEncodeError for an entry that cannot
 * be sent, RangeError when `buf` is too small; nothing before `off` is touched either way.
 */
export function encodeCt(
  buf: Uint8Array,
  off: number,
  type: number,
  flags: number,
  seq: number,
  entry: Entry,
  opts?: CtEncodeOptions,
): number {
  const end = encodeCtAttrs(buf, attrsStart(buf, off), entry, opts);
  return finishMsg(buf, off, end, type, flags, seq);
}

/** Encodes one EXP_NEW / EXP_UPD / EXP_DEL message for `expect`; see encodeCt. */
export function encodeExp(
  buf: Uint8Array,
  off: number,
  type: number,
  flags: number,
  seq: number,
  expect: Expect,
  opts?: ExpEncodeOptions,
): number {
  const end = encodeExpAttrs(buf, attrsStart(buf, off), expect, opts);
  return finishMsg(buf, off, end, type, flags, seq);
}

/**
 * Encodes a control message (type CTL): 16 bytes with from/to when `flags` has ACK, NACK or
 * RESYNC (RESYNC: from = to = 0), otherwise 8 bytes (ALIVE, possibly with HELLO / HELLO_BACK).
 */
export function encodeControl(buf: Uint8Array, off: number, flags: number, seq: number, from = 0, to = 0): number {
  const range = (flags & RANGE_BITS) !== 0;
  const len = range ? CTL_RANGE_LEN : HDR_LEN;
  if (off + len > buf.length) throw new RangeError('sync message does not fit in the output buffer');
  writeHeader(buf, off, MSG.CTL, flags, len, seq);
  if (range) {
    const b = buf;
    const p = off + 8;
    b[p] = (from >>> 24) & 0xff;
    b[p + 1] = (from >>> 16) & 0xff;
    b[p + 2] = (from >>> 8) & 0xff;
    b[p + 3] = from & 0xff;
    b[p + 4] = (to >>> 24) & 0xff;
    b[p + 5] = (to >>> 16) & 0xff;
    b[p + 6] = (to >>> 8) & 0xff;
    b[p + 7] = to & 0xff;
  }
  return off + len;
}

// ------------------------------------------------------------------------------- decoding

/**
 * Why a message was rejected; each maps to conntrackd's `-s network` counters, all of which also
 * count "Malformed messages":
 *  - 'truncated'    Truncated message: < 8 bytes left, or < 16 left for an ACK/NACK/RESYNC
 *                   (rest of the datagram dropped; on a stream channel the tail is kept instead)
 *  - 'bad-size'     Bad message size: len 0, len > bytes left (stream: tail kept instead),
 *                   ACK/NACK/RESYNC len < 16, other len < 8 (rest of the datagram dropped)
 *  - 'bad-version'  Wrong protocol version (message skipped)
 *  - 'bad-header'   Malformed header: flags/type that are neither data nor a known control
 *                   message, or an ACK/NACK whose `to` is before `from` (message skipped)
 *  - 'bad-type'     Bad message type: a data message with type > 5 (ALARM mode only: FT-FW and
 *                   NOTRACK classify those as bad-header first)
 *  - 'bad-payload'  Malformed payload: an attribute failed the TLV checks (message skipped)
 */
export type MalformedReason = 'truncated' | 'bad-size' | 'bad-version' | 'bad-header' | 'bad-type' | 'bad-payload';

export interface MsgHeader {
  version: number;
  type: number;
  flags: number;
  len: number;
  seq: number;
  /** ACK / NACK / RESYNC only (0 otherwise). */
  from: number;
  to: number;
}

export interface SyncVisitor {
  /**
   * A valid CT_NEW / CT_UPD / CT_DEL; `buf[attrStart, attrEnd)` are its attributes as received
   * (a receiver can store them without re-encoding).
   */
  ct?(
    type: number,
    flags: number,
    seq: number,
    entry: Entry,
    buf: Uint8Array,
    attrStart: number,
    attrEnd: number,
  ): void;
  /**
   * Instead of ct(): the message is validated and keyed (scanCtKey) but not decoded, for a
   * receiver that stores the bytes. `scan` is reused for the next message.
   */
  ctKeyed?(
    type: number,
    flags: number,
    seq: number,
    scan: CtScan,
    buf: Uint8Array,
    attrStart: number,
    attrEnd: number,
  ): void;
  /** A valid EXP_NEW / EXP_UPD / EXP_DEL. */
  exp(type: number, flags: number, seq: number, expect: Expect): void;
  /**
   * A control message the receiver accepts (FT-FW: ACK, NACK, RESYNC or ALIVE, see controlKind;
   * from/to are 0 unless ACK/NACK/RESYNC). ALARM mode: any message with flags != 0.
   */
  control(flags: number, seq: number, from: number, to: number): void;
  /**
   * A rejected message. `offset` is where it starts in the buffer. `header` is given once the
   * header could be read (bad-version, bad-header, bad-type, bad-payload).
   *
   * Ordering note for exact `conntrackd -s` parity: conntrackd checks the version first, then runs
   * its sequence tracking (HELLO handling, "Packets before" / "Packets lost", and for FT-FW the
   * ACK/NACK window) BEFORE it classifies the header, and updates its last-seen sequence before
   * it parses the payload. So a 'bad-header' message that is also "before" in sequence counts
   * only as "Packets before"; a 'bad-header' message still counts lost packets and still obeys
   * HELLO; a 'bad-payload' message (FT-FW / NOTRACK) is in-sequence data for the sequence
   * tracker and the window. The FT-FW layer must apply its sequence logic to these headers.
   */
  malformed(reason: MalformedReason, offset: number, header?: MsgHeader): void;
}

export interface DecodeOptions {
  /** Receiver classification (sync mode). Default 'ftfw'. */
  mode?: 'ftfw' | 'notrack' | 'alarm';
  /**
   * TCP channel: a short tail (incomplete header, or len > bytes left) is not an error; the
   * return value then tells where it starts, and the caller prefixes it to the next read.
   */
  stream?: boolean;
}

function readHeader(b: Uint8Array, o: number, range: boolean): MsgHeader {
  const seq = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
  const h: MsgHeader = {
    version: b[o] >> 4,
    type: b[o] & 0x0f,
    flags: b[o + 1],
    len: (b[o + 2] << 8) | b[o + 3],
    seq,
    from: 0,
    to: 0,
  };
  if (range) {
    h.from = ((b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11]) >>> 0;
    h.to = ((b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15]) >>> 0;
  }
  return h;
}

/**
 * Walks the messages of one received datagram `buf[0..len)` exactly as conntrackd 1.4.7's
 * receiver does (channel_handler_routine + do_channel_handler_step + the mode's recv + msg2ct /
 * msg2exp) and calls `visitor` once per message, in order. Never throws on any input (unless the
 * visitor does), runs in O(len), and allocates only the decoded objects.
 *
 * Returns the number of bytes consumed: `len`, except in stream mode when a short tail must be
 * kept for the next read (then buf[returned..len) is that tail).
 */
export function decodeDatagram(buf: Uint8Array, len: number, visitor: SyncVisitor, opts?: DecodeOptions): number {
  const mode = opts?.mode ?? 'ftfw';
  const stream = opts?.stream === true;
  let end = len;
  if (end > buf.length) end = buf.length;
  if (end < 0) end = 0;
  let o = 0;
  while (o < end) {
    const remain = end - o;
    if (remain < HDR_LEN) {
      if (stream) return o;
      visitor.malformed('truncated', o);
      return end;
    }
    const type = buf[o] & 0x0f;
    const flags = buf[o + 1];
    const mlen = (buf[o + 2] << 8) | buf[o + 3];
    if (mlen === 0) {
      visitor.malformed('bad-size', o);
      return end;
    }
    if (mlen > remain) {
      if (stream) return o;
      visitor.malformed('bad-size', o);
      return end;
    }
    const range = isRangeControl(type, flags);
    if (range) {
      if (remain < CTL_RANGE_LEN) {
        if (stream) return o;
        visitor.malformed('truncated', o);
        return end;
      }
      if (mlen < CTL_RANGE_LEN) {
        visitor.malformed('bad-size', o);
        return end;
      }
    } else if (mlen < HDR_LEN) {
      visitor.malformed('bad-size', o);
      return end;
    }
    step(buf, o, mlen, type, flags, range, mode, visitor);
    o += mlen;
  }
  return end;
}

const ctScan = new CtScan();

function step(
  b: Uint8Array,
  o: number,
  mlen: number,
  type: number,
  flags: number,
  range: boolean,
  mode: string,
  v: SyncVisitor,
): void {
  const version = b[o] >> 4;
  const seq = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
  if (version !== PROTOCOL_VERSION) {
    v.malformed('bad-version', o, readHeader(b, o, range));
    return;
  }
  // classification (the mode's recv -> digest_msg)
  if (mode === 'alarm') {
    if (flags !== 0) {
      v.control(flags, seq, 0, 0);
      return;
    }
  } else {
    const data = type <= MSG_DATA_MAX && (flags & ~HELLO_BITS) === 0;
    if (!data) {
      if (type === MSG.CTL && mode === 'ftfw' && (flags & (FLAG.ACK | FLAG.NACK)) !== 0) {
        const h = readHeader(b, o, true);
        if (seqBefore(h.to, h.from)) v.malformed('bad-header', o, h);
        else v.control(flags, seq, h.from, h.to);
        return;
      }
      if (type === MSG.CTL && (flags & (FLAG.RESYNC | FLAG.ALIVE)) !== 0) {
        if (range) {
          const h = readHeader(b, o, true);
          v.control(flags, seq, h.from, h.to);
        } else v.control(flags, seq, 0, 0);
        return;
      }
      v.malformed('bad-header', o, readHeader(b, o, range));
      return;
    }
  }
  if (type > MSG_DATA_MAX) {
    v.malformed('bad-type', o, readHeader(b, o, range));
    return;
  }
  if (type <= MSG.CT_DEL) {
    if (v.ctKeyed) {
      if (scanCtKey(b, o + HDR_LEN, o + mlen, ctScan)) v.ctKeyed(type, flags, seq, ctScan, b, o + HDR_LEN, o + mlen);
      else v.malformed('bad-payload', o, readHeader(b, o, range));
      return;
    }
    const e = decodeCtAttrs(b, o + HDR_LEN, o + mlen);
    if (e) v.ct?.(type, flags, seq, e, b, o + HDR_LEN, o + mlen);
    else v.malformed('bad-payload', o, readHeader(b, o, range));
  } else {
    const x = decodeExpAttrs(b, o + HDR_LEN, o + mlen);
    if (x) v.exp(type, flags, seq, x);
    else v.malformed('bad-payload', o, readHeader(b, o, range));
  }
}

// ------------------------------------------------------------------------------- packing

export interface DatagramBuilderOptions {
  /** Interface MTU (conntrackd reads it with SIOCGIFMTU). Default 1500. */
  mtu?: number;
  /** IP + transport header reserve: 28 for UDP / multicast (default), 40 for TCP. */
  reserve?: number;
  /**
   * Receives each finished datagram, synchronously, as a fresh Buffer the callee owns. Without
   * it, finished datagrams queue up for take().
   */
  onDatagram?: (datagram: Buffer) => void;
  /**
   * onDatagram gets a view of the builder's own buffer instead, valid only during the call (a
   * sender that copies it at once saves an allocation per datagram).
   */
  lend?: boolean;
}

/**
 * Packs messages into datagrams the way conntrackd's buffered channel does: a message is appended
 * while `buffered + msglen < mtu - reserve` (strict), otherwise the pending datagram is finished
 * first. flush() finishes the pending datagram (conntrackd does so after every transmit pass).
 * A message of mtu - reserve bytes or more cannot be sent (conntrackd would spin forever sending
 * empty datagrams); the add* methods throw WireEncodeError for it and leave the builder unchanged.
 */
export class DatagramBuilder {
  /** Datagram buffer size: mtu - reserve. Every datagram is at most capacity - 1 bytes. */
  readonly capacity: number;
  private buf: Buffer;
  private len = 0;
  private readonly out: Buffer[] = [];
  private readonly onDatagram?: (d: Buffer) => void;
  private readonly lend: boolean;

  constructor(opts: DatagramBuilderOptions = {}) {
    const mtu = opts.mtu ?? 1500;
    const reserve = opts.reserve ?? UDP_RESERVE;
    this.capacity = mtu - reserve;
    if (!(this.capacity > HDR_LEN) || !Number.isInteger(this.capacity))
      throw new RangeError(`mtu ${mtu} - reserve ${reserve} leaves no room for a message`);
    // room for a full datagram plus the largest message being staged after it
    this.buf = Buffer.alloc(this.capacity + 0x10000);
    this.onDatagram = opts.onDatagram;
    this.lend = opts.lend === true && this.onDatagram !== undefined;
  }

  /** Bytes pending in the unfinished datagram. */
  get pending(): number {
    return this.len;
  }

  addCt(type: number, flags: number, seq: number, entry: Entry, opts?: CtEncodeOptions): void {
    this.place(encodeCt(this.buf, this.len, type, flags, seq, entry, opts));
  }

  addExp(type: number, flags: number, seq: number, expect: Expect, opts?: ExpEncodeOptions): void {
    this.place(encodeExp(this.buf, this.len, type, flags, seq, expect, opts));
  }

  addControl(flags: number, seq: number, from = 0, to = 0): void {
    this.place(encodeControl(this.buf, this.len, flags, seq, from, to));
  }

  /** Appends an already encoded message (e.g. one kept for retransmission). */
  addRaw(msg: Uint8Array): void {
    if (msg.length > 0x10000)
      throw new WireEncodeError(`message of ${msg.length} bytes does not fit the 16-bit length field`);
    this.buf.set(msg, this.len);
    this.place(this.len + msg.length);
  }

  /**
   * Appends a CT or EXP message whose attributes are held as a latin1 string (how the caches
   * store them): header and attributes are written in place, no intermediate copy.
   */
  addStored(type: number, flags: number, seq: number, attrs: string): void {
    const o = this.len;
    const n = this.buf.write(attrs, o + HDR_LEN, 'latin1');
    this.placeStored(o, type, flags, seq, n);
  }

  /** addStored() with the attributes as bytes, src[start, end) (an arena record). */
  addStoredBytes(type: number, flags: number, seq: number, src: Uint8Array, start: number, end: number): void {
    const b = this.buf;
    const o = this.len;
    const n = end - start;
    // a byte loop beats Buffer#copy's call overhead for the usual ~100 bytes
    if (n <= 256) for (let i = 0, q = o + HDR_LEN; i < n; i++) b[q + i] = src[start + i];
    else b.set(src.subarray(start, end), o + HDR_LEN);
    this.placeStored(o, type, flags, seq, n);
  }

  /** Writes the header of a message whose n bytes of attributes are at buf[o + HDR_LEN], and places it. */
  private placeStored(o: number, type: number, flags: number, seq: number, n: number): void {
    const b = this.buf;
    const mlen = HDR_LEN + n;
    if (mlen > 0xffff) throw new WireEncodeError(`message of ${mlen} bytes does not fit the 16-bit length field`);
    b[o] = (PROTOCOL_VERSION << 4) | type;
    b[o + 1] = flags;
    b[o + 2] = mlen >> 8;
    b[o + 3] = mlen & 0xff;
    b[o + 4] = seq >>> 24;
    b[o + 5] = (seq >>> 16) & 0xff;
    b[o + 6] = (seq >>> 8) & 0xff;
    b[o + 7] = seq & 0xff;
    this.place(o + mlen);
  }

  /**
   * Finishes the pending datagram, if any; returns it (also handed to onDatagram / queued). With
   * `lend`, what is returned is the view onDatagram got, valid until the next add.
   */
  flush(): Buffer | null {
    if (this.len === 0) return null;
    if (this.lend) {
      const v = this.buf.subarray(0, this.len);
      this.len = 0;
      this.onDatagram!(v);
      return v;
    }
    const d = Buffer.allocUnsafe(this.len);
    this.buf.copy(d, 0, 0, this.len);
    this.len = 0;
    if (this.onDatagram) this.onDatagram(d);
    else this.out.push(d);
    return d;
  }

  /** Finished datagrams queued so far (when there is no onDatagram callback); empties the queue. */
  take(): Buffer[] {
    return this.out.splice(0, this.out.length);
  }

  /** The message just encoded occupies buf[len..end). */
  private place(end: number): void {
    const start = this.len;
    const mlen = end - start;
    if (mlen >= this.capacity) {
      throw new WireEncodeError(
        `message of ${mlen} bytes does not fit a datagram buffer of ${this.capacity} bytes (messages must be smaller)`,
      );
    }
    if (start + mlen < this.capacity) {
      this.len = end;
      return;
    }
    // finish the pending datagram (without the new message), then move the message to the front
    this.len = start;
    this.flush();
    this.buf.copyWithin(0, start, end);
    this.len = mlen;
  }
}
