// The sealed (encrypted) sync datagram (ctsync only; docs/ftfw-protocol.md §13.8). A pure codec:
// it derives the cipher keys, seals and opens, with node:crypto's AEAD; no I/O, no clock (epoch and
// counter come from the caller, as for the trailer).
//
// A sealed datagram is one message of protocol version 10, type 1, that spans the whole datagram:
// a 20-byte header shaped like the trailer's first 20 bytes (version/type, suite, length, key id,
// epoch, counter), then the ciphertext of the plain datagram, then the 16-byte AEAD tag. A receiver
// that walks messages by their lengths (conntrackd, or ctsync without authentication) meets one
// message of an unknown version and skips it: it learns nothing and applies nothing.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { KEY_ID_MAX, KEY_ID_MIN, COUNTER_MAX, TRAILER_VERSION, type TrailerFields } from './auth-trailer.js';

/** Header byte 0 of a sealed datagram: version 10 (high nibble), type 1. */
export const SEALED_BYTE0 = 0xa1;
/** Suite 2: AES-256-GCM; suite 3: ChaCha20-Poly1305 (both with a 12-byte nonce and a 16-byte tag). */
export const SUITE_AES_256_GCM = 2;
export const SUITE_CHACHA20_POLY1305 = 3;
export const SEALED_SUITES = [SUITE_AES_256_GCM, SUITE_CHACHA20_POLY1305] as const;
export type SealedSuite = (typeof SEALED_SUITES)[number];
/** Bytes before the ciphertext: header 8, epoch 8, counter 4 (the additional authenticated data). */
export const SEALED_HEADER_LENGTH = 20;
export const TAG_LENGTH = 16;
/** What sealing adds to a datagram: 36 bytes, as much as a trailer. */
export const SEALED_OVERHEAD = SEALED_HEADER_LENGTH + TAG_LENGTH;
/** The whole sealed datagram must fit its 16-bit length field. */
export const SEALED_MAX = 0xffff;

const AEAD = { authTagLength: TAG_LENGTH };

function cipherOf(suite: SealedSuite, key: Uint8Array, nonce: Buffer) {
  return suite === SUITE_AES_256_GCM
    ? createCipheriv('aes-256-gcm', key, nonce, AEAD)
    : createCipheriv('chacha20-poly1305', key, nonce, AEAD);
}

function decipherOf(suite: SealedSuite, key: Uint8Array, nonce: Buffer) {
  return suite === SUITE_AES_256_GCM
    ? createDecipheriv('aes-256-gcm', key, nonce, AEAD)
    : createDecipheriv('chacha20-poly1305', key, nonce, AEAD);
}

const HKDF_INFO = Buffer.from('ctsync sync encryption v1', 'ascii');

/**
 * The cipher key of one sender under one key file's key: HKDF-SHA256(key, info = label ‖ sender).
 *
 * Why not the key itself: the key file's key already keys HMAC-SHA256 for the trailer, and one key
 * should serve one primitive (a weakness or a misuse found in one then says nothing about the
 * other, and a key recovered from one does not open the other). Why the sender in it: both nodes
 * hold the same key files and each numbers its nonces on its own, so two senders could choose the
 * same epoch and counter; with a key per sender (address and port, senderPseudoHeader()), equal
 * nonces of two senders are under different keys, and a datagram re-sent from another address or
 * port does not open.
 */
export function deriveCipherKey(key: Uint8Array, sender: Uint8Array): Buffer {
  const info = Buffer.concat([HKDF_INFO, sender]);
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32));
}

/**
 * The 12-byte nonce: epoch (BE u64) ‖ counter (BE u32). It never repeats under one cipher key (one
 * sender): within a start the signer's (epoch, counter) only goes up (counter + 1, or epoch + 1
 * with counter 0 before the counter would wrap); a new start takes an epoch from the wall clock in
 * ms shifted left by 16 bits, higher than any epoch an earlier start can have reached, because
 * reaching the next ms's epochs by wrapping would take 2^32 datagrams per step (docs/ftfw-protocol.md §13.8).
 */
export function sealedNonce(epoch: bigint, counter: number): Buffer {
  const n = Buffer.allocUnsafe(12);
  n.writeBigUInt64BE(BigInt.asUintN(64, epoch), 0);
  n.writeUInt32BE(counter, 8);
  return n;
}

function writeHeader(out: Buffer, fields: TrailerFields, suite: SealedSuite, length: number): void {
  if (!Number.isInteger(fields.keyId) || fields.keyId < KEY_ID_MIN || fields.keyId > KEY_ID_MAX)
    throw new RangeError(`key id ${fields.keyId} is not in ${KEY_ID_MIN}..${KEY_ID_MAX}`);
  if (!Number.isInteger(fields.counter) || fields.counter < 0 || fields.counter > COUNTER_MAX)
    throw new RangeError(`counter ${fields.counter} is not a 32-bit unsigned number`);
  out[0] = SEALED_BYTE0;
  out[1] = suite;
  out.writeUInt16BE(length, 2);
  out[4] = fields.keyId;
  out[5] = 0;
  out[6] = 0;
  out[7] = 0;
  out.writeBigUInt64BE(BigInt.asUintN(64, fields.epoch), 8);
  out.writeUInt32BE(fields.counter, 16);
}

/** `datagram` sealed under `cipherKey` (deriveCipherKey of the sending side): a new buffer. */
export function seal(datagram: Uint8Array, fields: TrailerFields, suite: SealedSuite, cipherKey: Uint8Array): Buffer {
  const length = datagram.length + SEALED_OVERHEAD;
  if (length > SEALED_MAX) throw new RangeError(`a sealed datagram of ${length} bytes exceeds ${SEALED_MAX}`);
  const out = Buffer.allocUnsafe(length);
  writeHeader(out, fields, suite, length);
  const cipher = cipherOf(suite, cipherKey, sealedNonce(fields.epoch, fields.counter));
  cipher.setAAD(out.subarray(0, SEALED_HEADER_LENGTH));
  let at = SEALED_HEADER_LENGTH;
  at += cipher.update(datagram).copy(out, at);
  at += cipher.final().copy(out, at);
  cipher.getAuthTag().copy(out, at);
  return out;
}

/** What a datagram's first message says: sealed (with its header fields), not sealed, or malformed. */
export type SealedLookup =
  | { kind: 'sealed'; fields: TrailerFields; suite: SealedSuite }
  | { kind: 'not-sealed' }
  | { kind: 'malformed'; why: string };

/**
 * Whether `datagram` is sealed: its first message is version 10, type 1. A sealed datagram is that
 * one message, exactly as long as its length field, with a known suite and key id 1..255.
 */
export function findSealed(d: Uint8Array): SealedLookup {
  if (d.length < 1 || d[0]! >> 4 !== TRAILER_VERSION || (d[0]! & 0xf) !== 1) return { kind: 'not-sealed' };
  if (d.length < SEALED_OVERHEAD) return { kind: 'malformed', why: `sealed datagram of ${d.length} bytes` };
  const view = Buffer.from(d.buffer, d.byteOffset, d.length);
  const len = view.readUInt16BE(2);
  if (len !== d.length) return { kind: 'malformed', why: `sealed length ${len} in a datagram of ${d.length} bytes` };
  const suite = view[1]!;
  if (!(SEALED_SUITES as readonly number[]).includes(suite))
    return { kind: 'malformed', why: `unknown suite ${suite}` };
  const keyId = view[4]!;
  if (keyId < KEY_ID_MIN) return { kind: 'malformed', why: 'key id 0' };
  const fields: TrailerFields = { keyId, epoch: view.readBigUInt64BE(8), counter: view.readUInt32BE(16) };
  return { kind: 'sealed', fields, suite: suite as SealedSuite };
}

/**
 * The plain datagram inside a sealed one (findSealed() said 'sealed'), or undefined when the tag
 * does not match: another key or sender, or any byte changed (header, ciphertext or tag).
 */
export function openSealed(
  d: Uint8Array,
  lookup: { fields: TrailerFields; suite: SealedSuite },
  cipherKey: Uint8Array,
): Buffer | undefined {
  const { fields, suite } = lookup;
  const decipher = decipherOf(suite, cipherKey, sealedNonce(fields.epoch, fields.counter));
  decipher.setAAD(d.subarray(0, SEALED_HEADER_LENGTH));
  decipher.setAuthTag(d.subarray(d.length - TAG_LENGTH));
  const head = decipher.update(d.subarray(SEALED_HEADER_LENGTH, d.length - TAG_LENGTH));
  try {
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return undefined;
  }
}
