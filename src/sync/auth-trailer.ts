// The authentication trailer of a signed sync datagram (ctsync only; docs/ftfw-protocol.md §13).
// A pure codec: it frames, finds and checks the trailer, and computes its MAC with node:crypto;
// it does no I/O and reads no clock (the epoch and counter come from the caller).
//
// The trailer is framed as one more message at the end of the datagram, with protocol version 10
// in the header's high nibble: a receiver that walks the datagram by message lengths (conntrackd,
// or ctsync without authentication) reaches it last and skips it as a message of an unknown
// version, after the real messages have been handled.
import { createHmac, timingSafeEqual } from 'node:crypto';
import net from 'node:net';

/** Header byte 0 of a trailer: version 10 (high nibble), type 0. */
export const TRAILER_BYTE0 = 0xa0;
/** The version nibble that marks a trailer. */
export const TRAILER_VERSION = 0xa;
/** Suite 1: HMAC-SHA256 truncated to 16 bytes. */
export const SUITE_HMAC_SHA256_128 = 1;
/** Bytes of the MAC at the end of the trailer. */
export const MAC_LENGTH = 16;
/** The whole trailer: header 8, epoch 8, counter 4, MAC 16. */
export const TRAILER_LENGTH = 36;
/** Offset of the MAC inside the trailer. */
const MAC_AT = TRAILER_LENGTH - MAC_LENGTH;
/** Bytes of the sender pseudo-header: address as 16 bytes (IPv4 mapped into IPv6), port BE16. */
export const SENDER_LENGTH = 18;
/** Key ids are 1..255 (0 is never valid). */
export const KEY_ID_MIN = 1;
export const KEY_ID_MAX = 255;
/** Counters are 32-bit: a sender moves to a new epoch before its counter would wrap. */
export const COUNTER_MAX = 0xffffffff;

/** What the trailer says besides its MAC. */
export interface TrailerFields {
  keyId: number;
  /** The sender's epoch: new at every start, never lower than an earlier one of the same sender. */
  epoch: bigint;
  /** Datagrams signed in this epoch before this one. */
  counter: number;
}

/** Where a datagram's trailer is, or why it has none. */
export type TrailerLookup =
  | { kind: 'signed'; fields: TrailerFields; suite: number; at: number }
  | { kind: 'unsigned' }
  | { kind: 'malformed'; why: string };

/**
 * The sender's address and port as 18 bytes (IPv4 mapped into IPv6), the pseudo-header the MAC
 * covers: a datagram signed by one sender does not verify as another's.
 */
export function senderPseudoHeader(address: string, port: number): Buffer {
  const out = Buffer.alloc(SENDER_LENGTH);
  const family = net.isIP(address);
  if (family === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    const parts = address.split('.');
    for (let i = 0; i < 4; i++) out[12 + i] = Number(parts[i]);
  } else if (family === 6) {
    writeIpv6(out, address);
  } else {
    throw new Error(`not an IP address: '${address}'`);
  }
  out.writeUInt16BE(port, 16);
  return out;
}

function writeIpv6(out: Buffer, address: string): void {
  const sa = new net.SocketAddress({ address, family: 'ipv6' });
  const [head, tail] = sa.address.includes('::') ? sa.address.split('::') : [sa.address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
}

/**
 * Writes a trailer's header and fields at `out[at]` (TRAILER_LENGTH bytes are needed; the MAC
 * bytes are left for writeMac).
 */
export function writeTrailerFields(out: Buffer, at: number, fields: TrailerFields): void {
  if (!Number.isInteger(fields.keyId) || fields.keyId < KEY_ID_MIN || fields.keyId > KEY_ID_MAX)
    throw new RangeError(`key id ${fields.keyId} is not in ${KEY_ID_MIN}..${KEY_ID_MAX}`);
  if (!Number.isInteger(fields.counter) || fields.counter < 0 || fields.counter > COUNTER_MAX)
    throw new RangeError(`counter ${fields.counter} is not a 32-bit unsigned number`);
  out[at] = TRAILER_BYTE0;
  out[at + 1] = SUITE_HMAC_SHA256_128;
  out.writeUInt16BE(TRAILER_LENGTH, at + 2);
  out[at + 4] = fields.keyId;
  out[at + 5] = 0;
  out[at + 6] = 0;
  out[at + 7] = 0;
  out.writeBigUInt64BE(BigInt.asUintN(64, fields.epoch), at + 8);
  out.writeUInt32BE(fields.counter, at + 16);
}

/** The MAC of `signed` (datagram and trailer up to the MAC) from `sender` under `key`. */
export function computeMac(key: Uint8Array, sender: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(sender).update(signed).digest().subarray(0, MAC_LENGTH);
}

/**
 * `datagram` followed by its trailer, signed: a new buffer of datagram.length + TRAILER_LENGTH
 * bytes. `sender` is senderPseudoHeader() of the address and port it leaves from.
 */
export function sign(datagram: Uint8Array, fields: TrailerFields, key: Uint8Array, sender: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(datagram.length + TRAILER_LENGTH);
  out.set(datagram, 0);
  const at = datagram.length;
  writeTrailerFields(out, at, fields);
  const mac = computeMac(key, sender, out.subarray(0, at + MAC_AT));
  mac.copy(out, at + MAC_AT);
  return out;
}

/**
 * Finds the trailer of a datagram by walking its messages by their length fields, as a receiver
 * does: a signed datagram's last message is a trailer (version 10, length 36); a version-10
 * message anywhere else, or of another length or suite, is malformed. A datagram whose walk
 * fails before its end is 'unsigned' here: its messages are the wire decoder's business.
 */
export function findTrailer(datagram: Uint8Array): TrailerLookup {
  let at = 0;
  const end = datagram.length;
  while (end - at >= 8) {
    const len = (datagram[at + 2] << 8) | datagram[at + 3];
    if (len < 8 || len > end - at) return { kind: 'unsigned' };
    if (datagram[at] >> 4 === TRAILER_VERSION) return trailerAt(datagram, at, len);
    at += len;
  }
  return { kind: 'unsigned' };
}

function trailerAt(d: Uint8Array, at: number, len: number): TrailerLookup {
  if (at + len !== d.length) return { kind: 'malformed', why: 'trailer is not the last message' };
  if (len !== TRAILER_LENGTH) return { kind: 'malformed', why: `trailer of ${len} bytes (expected ${TRAILER_LENGTH})` };
  if (d[at] !== TRAILER_BYTE0) return { kind: 'malformed', why: `trailer type ${d[at] & 0xf} (expected 0)` };
  const suite = d[at + 1];
  if (suite !== SUITE_HMAC_SHA256_128) return { kind: 'malformed', why: `unknown suite ${suite}` };
  const view = Buffer.from(d.buffer, d.byteOffset + at, len);
  const keyId = view[4];
  if (keyId < KEY_ID_MIN) return { kind: 'malformed', why: 'key id 0' };
  const fields: TrailerFields = { keyId, epoch: view.readBigUInt64BE(8), counter: view.readUInt32BE(16) };
  return { kind: 'signed', fields, suite, at };
}

/** Whether the trailer at `at` carries the right MAC for `datagram` from `sender` under `key`. */
export function macMatches(datagram: Uint8Array, at: number, key: Uint8Array, sender: Uint8Array): boolean {
  const expected = computeMac(key, sender, datagram.subarray(0, at + MAC_AT));
  const got = datagram.subarray(at + MAC_AT, at + TRAILER_LENGTH);
  return got.length === MAC_LENGTH && timingSafeEqual(expected, got);
}
