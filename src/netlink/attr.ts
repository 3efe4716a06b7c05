// Netlink message and attribute writer/reader. Pure: no sockets. Host byte order is little-endian
// on every platform we ship for (x86-64, arm64); netlink headers are host order, ctnetlink payload
// values are big-endian (network order).
import { NFGENMSG_LEN, NLA, NLMSG_HDRLEN } from './constants.js';

/**
 * Appends netlink messages into one growing buffer, so that many requests go out in a single
 * sendmsg (a batch). `reset()` reuses the memory for the next batch.
 */
export class NlWriter {
  buf: Buffer;
  off = 0;
  private msgStart = -1;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  reset(): void {
    this.off = 0;
    this.msgStart = -1;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  /** Starts a message with nlmsghdr + nfgenmsg; returns its offset. */
  beginNf(type: number, flags: number, seq: number, family: number, resId = 0): number {
    this.ensure(NLMSG_HDRLEN + NFGENMSG_LEN);
    const b = this.buf;
    const o = this.off;
    this.msgStart = o;
    b.writeUInt32LE(0, o); // length, patched by end()
    b.writeUInt16LE(type, o + 4);
    b.writeUInt16LE(flags, o + 6);
    b.writeUInt32LE(seq >>> 0, o + 8);
    b.writeUInt32LE(0, o + 12); // port id: the kernel fills in ours
    b[o + 16] = family;
    b[o + 17] = 0; // NFNETLINK_V0
    b.writeUInt16BE(resId, o + 18);
    this.off = o + NLMSG_HDRLEN + NFGENMSG_LEN;
    return o;
  }

  /** Finishes the current message by patching its length. */
  end(): void {
    this.buf.writeUInt32LE(this.off - this.msgStart, this.msgStart);
    this.msgStart = -1;
  }

  /** Drops the message being written (e.g. the entry could not be encoded). */
  abort(): void {
    if (this.msgStart >= 0) this.off = this.msgStart;
    this.msgStart = -1;
  }

  private hdr(type: number, payloadLen: number): number {
    const total = (4 + payloadLen + 3) & ~3;
    this.ensure(total);
    const o = this.off;
    const b = this.buf;
    const len = 4 + payloadLen;
    // byte stores beat writeUInt16LE/fill on this path (millions of calls per large commit)
    b[o] = len & 0xff;
    b[o + 1] = len >> 8;
    b[o + 2] = type & 0xff;
    b[o + 3] = type >> 8;
    // zero the padding now so callers only write the payload
    for (let i = o + len; i < o + total; i++) b[i] = 0;
    this.off = o + total;
    return o + 4;
  }

  u8(type: number, v: number): void {
    const p = this.hdr(type, 1);
    this.buf[p] = v;
  }

  u16be(type: number, v: number): void {
    const p = this.hdr(type, 2);
    this.buf.writeUInt16BE(v, p);
  }

  u32be(type: number, v: number): void {
    const p = this.hdr(type, 4);
    this.buf.writeUInt32BE(v >>> 0, p);
  }

  u64be(type: number, v: bigint): void {
    const p = this.hdr(type, 8);
    this.buf.writeBigUInt64BE(v, p);
  }

  /** NUL-terminated string. */
  strz(type: number, s: string): void {
    const n = Buffer.byteLength(s);
    const p = this.hdr(type, n + 1);
    this.buf.write(s, p, 'utf8');
    this.buf[p + n] = 0;
  }

  bytesAttr(type: number, data: Uint8Array): void {
    const p = this.hdr(type, data.length);
    this.buf.set(data, p);
  }

  /** Writes an attribute header and returns the payload offset for the caller to fill `len` bytes. */
  raw(type: number, len: number): number {
    return this.hdr(type, len);
  }

  nestStart(type: number): number {
    this.ensure(4);
    const o = this.off;
    this.buf.writeUInt16LE(type | NLA.F_NESTED, o + 2);
    this.off += 4;
    return o;
  }

  nestEnd(start: number): void {
    this.buf.writeUInt16LE(this.off - start, start);
  }
}

/** A malformed netlink buffer: says what and where. */
export class NetlinkDecodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'NetlinkDecodeError';
  }
}

/**
 * Calls `fn(type, payloadOffset, payloadLength)` for each attribute in [start, end).
 * `type` is masked (no NESTED/BYTEORDER bits). Throws NetlinkDecodeError on a bad length.
 */
export function forEachAttr(
  buf: Buffer,
  start: number,
  end: number,
  fn: (type: number, p: number, len: number, rawType: number) => void,
): void {
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) throw new NetlinkDecodeError(`bad attribute length ${len}`, off);
    const rawType = buf.readUInt16LE(off + 2);
    fn(rawType & NLA.TYPE_MASK, off + 4, len - 4, rawType);
    off += (len + 3) & ~3;
  }
}

export function hex(buf: Buffer, p: number, len: number): string {
  return buf.toString('hex', p, p + len);
}

/** Reads a NUL-terminated (or length-bounded) string attribute. */
export function readStrz(buf: Buffer, p: number, len: number): string {
  let e = p;
  const end = p + len;
  while (e < end && buf[e] !== 0) e++;
  return buf.toString('utf8', p, e);
}
