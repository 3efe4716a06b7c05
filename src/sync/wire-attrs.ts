// conntrackd sync protocol (conntrack-tools 1.4.7): the attribute layer of CT and EXP messages,
// what follows the 8-byte message header. Pure: no sockets, no timers.
//
// The CT attributes have one scan and one writer over flat fields (ct-wire.ts, table in
// ct-attrs.ts); this module puts the Entry API on them:
//   decodeCtAttrs  = scanCtWire -> entryOfFields
//   encodeCtAttrs  = EntryFields.load -> writeCtWire (and the field-naming errors)
//   scanCtKey      = scanCtWire -> flow key and the ids present (the receive path: no Entry)
// The EXP attributes have their own small codec (exp-attrs.ts).
import type { Entry } from '../conntrack/entry.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { FlowFields } from '../conntrack/flow-fields.js';
import { EntryFields, entryOfFields } from '../conntrack/flow-entry.js';
import { writeKeyHead, writeKeyL4 } from '../conntrack/key.js';
import { CT_MAX_LEN, NTA } from './ct-attrs.js';
import {
  MAX_CT_ATTRS_LEN,
  WireError,
  WireIndex,
  WireOpt,
  indexCtWire,
  scanCtWire,
  wireErrorAt,
  writeCtWire,
} from './ct-wire.js';
import { WireEncodeError, addrInto, nameTooLong } from './wire-errors.js';

export { NTA, NTA_MAX, CT_ATTRS, CT_FIXED_LEN, CT_MAX_LEN, MAX_HELPER_NAME, ctAttrOk } from './ct-attrs.js';
export {
  NTA_EXP,
  NTA_EXP_MAX,
  EXP_ATTRS,
  EXP_FIXED_LEN,
  EXP_MAX_LEN,
  decodeExpAttrs,
  encodeExpAttrs,
} from './exp-attrs.js';
export type { ExpEncodeOptions } from './exp-attrs.js';
export { WireEncodeError } from './wire-errors.js';

export interface CtEncodeOptions {
  /** The sender has `CommitTimeout` configured: TIMEOUT is left out (quirk Q4). */
  commitTimeout?: boolean;
  /** The sender has `TCPWindowTracking on`: TCP_WSCALE_ORIG/REPL follow TCP_STATE. */
  tcpWindowTracking?: boolean;
  /**
   * A helper name longer than 11 bytes: conntrackd 1.4.7 sends it and every peer rejects the
   * whole message (malformed payload). 'error' (default) throws WireEncodeError, 'omit' leaves
   * NTA_HELPER_NAME out so the entry itself still replicates.
   */
  longHelper?: 'error' | 'omit';
}

/** The options as writeCtWire's WireOpt bits. */
export function wireOptBits(opts: CtEncodeOptions | undefined): number {
  return (
    (opts?.commitTimeout ? WireOpt.COMMIT_TIMEOUT : 0) |
    (opts?.tcpWindowTracking ? WireOpt.WINDOW_TRACKING : 0) |
    (opts?.longHelper === 'omit' ? WireOpt.OMIT_LONG_HELPER : 0)
  );
}

// ------------------------------------------------------------------------------- decoding

const decoded = new FlowFields();

/**
 * Decodes the attributes of a CT message in [start, end) into an Entry, or returns null when
 * conntrackd would reject the message (malformed payload).
 *
 * The Entry: family 2/10 from IPV4/IPV6 (0 when the message has neither: conntrackd accepts any
 * subset, so do we; missing addresses are ''), orig tuple (ports or ICMP type/code/id), reply
 * tuple = inverse of orig with SNAT/DNAT addresses and, for non-ICMP protocols, SPAT/DPAT ports
 * applied (ICMP SPAT/DPAT carry no information: conntrackd always sends 0 there), status,
 * timeout, mark, zone, master, helper, labels (converted to the kernel's little-endian word
 * layout), tcp/sctp/dccp protocol info, seq adjustment, synproxy.
 */
export function decodeCtAttrs(b: Uint8Array, start: number, end: number): Entry | null {
  return scanCtWire(b, start, end, decoded) ? entryOfFields(decoded) : null;
}

// ------------------------------------------------------------------------------- encoding

const loaded = new EntryFields();
const staging = new Uint8Array(MAX_CT_ATTRS_LEN);

/**
 * Writes the attributes of a CT message for `e` at `o` (after the 8-byte header); returns the new
 * offset. Throws WireEncodeError (bad field) or RangeError (buffer too small), whichever
 * conntrackd's attribute order meets first.
 */
export function encodeCtAttrs(buf: Uint8Array, o: number, e: Entry, opts: CtEncodeOptions | undefined): number {
  const fam = e.family;
  if (fam !== AF_INET && fam !== AF_INET6) throw new WireEncodeError(`family: ${fam} is not 2 (ipv4) or 10 (ipv6)`);
  if (!e.orig) throw new WireEncodeError('orig: missing original tuple');
  const f = loaded.load(e);
  const room = buf.length - o;
  // with less room than the largest message, write aside: nothing past the buffer, nothing lost
  const direct = room >= MAX_CT_ATTRS_LEN;
  const out = direct ? buf : staging;
  const at = direct ? o : 0;
  const end = writeCtWire(f, wireOptBits(opts), out, at);
  if (end < 0) {
    if (!direct && wireErrorAt > room) tooSmall();
    throwWireError(end, e);
  }
  if (direct) return end;
  if (end > room) tooSmall();
  buf.set(staging.subarray(0, end), o);
  return o + end;
}

function tooSmall(): never {
  throw new RangeError('sync message does not fit in the output buffer');
}

const scratch16 = new Uint8Array(16);

/** Throws the WireEncodeError that names what made writeCtWire fail on `e`. */
function throwWireError(err: number, e: Entry): never {
  const v6 = e.family === AF_INET6;
  const check = (s: string, what: string): void => addrInto(s, v6, scratch16, 0, what);
  switch (err) {
    case WireError.ORIG_ADDR:
      check(e.orig.src, 'orig.src');
      check(e.orig.dst, 'orig.dst');
      break;
    case WireError.MASTER_ADDR:
      check(e.master!.src, 'master.src');
      check(e.master!.dst, 'master.dst');
      break;
    case WireError.REPLY_DST:
      check(e.reply!.dst, 'reply.dst');
      break;
    case WireError.REPLY_SRC:
      check(e.reply!.src, 'reply.src');
      break;
    case WireError.HELPER_LONG:
      throw nameTooLong('helper', e.helper!, CT_MAX_LEN[NTA.HELPER_NAME]);
    case WireError.LABELS_HEX:
      throw new WireEncodeError(
        e.labels!.length % 2 !== 0 ? `labels: odd-length hex '${e.labels}'` : `labels: not hex: '${e.labels}'`,
      );
    case WireError.LABELS_LONG:
      throw new WireEncodeError(
        `labels: ${e.labels!.length >> 1} bytes, conntrackd peers accept at most ${CT_MAX_LEN[NTA.LABELS] - 4}`,
      );
    default:
      break;
  }
  throw new Error(`cannot encode the entry (writeCtWire ${err})`);
}

// ------------------------------------------------------------------------------- keyed scan

const scanKeyBuf = Buffer.allocUnsafe(40);

/**
 * What scanCtKey() found in one CT message: the flow key and which attributes are present.
 * Reused for every message (no allocation but the key string).
 */
export class CtScan {
  /** Where the scanned message's attributes are (valid until the next scan). */
  readonly index = new WireIndex();
  /** Length of the binary flow key in keyBytes (conntrack/key.ts layout); 0: cannot be keyed. */
  keyLen = 0;
  /** The key's bytes (shared scratch: valid until the next scan). */
  readonly keyBytes: Buffer = scanKeyBuf;
  /** Presence bits of attribute ids 0..31. */
  maskLo = 0;
  /** Presence of id 32 (ZONE). */
  maskHi = 0;

  /** The key as a string ('' when the message cannot be keyed). */
  get key(): string {
    return this.keyLen === 0 ? '' : this.keyBytes.toString('latin1', 0, this.keyLen);
  }

  /** Keys the message b[start, end): see scanCtKey. */
  scan(b: Uint8Array, start: number, end: number): boolean {
    const x = this.index;
    if (!indexCtWire(b, start, end, x)) return false;
    this.maskLo = x.seenLo;
    this.maskHi = x.seenHi;
    this.keyLen = keyOfIndex(b, x.at, this.keyBytes);
    return true;
  }
}

/**
 * flowKey(decodeCtAttrs(...)) of an indexed message, straight from its bytes: what
 * fieldsOfIndex would give family, original tuple and zone, in the key's layout. 0 when the
 * message has no addresses or no protocol.
 */
function keyOfIndex(b: Uint8Array, at: Int32Array, k: Uint8Array): number {
  const p4 = at[NTA.IPV4];
  const p6 = at[NTA.IPV6];
  const pp = at[NTA.L4PROTO];
  const proto = pp < 0 ? 0 : b[pp];
  if ((p4 < 0 && p6 < 0) || proto === 0) return 0;
  const v6 = p6 > p4;
  const ip = v6 ? p6 : p4;
  const n = v6 ? 32 : 8;
  const zp = at[NTA.ZONE];
  writeKeyHead(k, v6 ? AF_INET6 : AF_INET, proto, zp < 0 ? 0 : (b[zp] << 8) | b[zp + 1]);
  for (let i = 0; i < n; i++) k[4 + i] = b[ip + i];
  const port = at[NTA.PORT];
  const ty = at[NTA.ICMP_TYPE];
  const code = at[NTA.ICMP_CODE];
  const id = at[NTA.ICMP_ID];
  writeKeyL4(
    k,
    4 + n,
    proto,
    port < 0 ? 0 : (b[port] << 8) | b[port + 1],
    port < 0 ? 0 : (b[port + 2] << 8) | b[port + 3],
    ty < 0 ? 0 : b[ty],
    code < 0 ? 0 : b[code],
    id < 0 ? 0 : b[id] | (b[id + 1] << 8),
  ); // ICMP_ID: little-endian (quirk Q1)
  return 8 + n;
}

/**
 * The receive path's replacement for decodeCtAttrs(): the same scan (false exactly where
 * decodeCtAttrs returns null), but instead of an Entry it yields the flow key, as
 * flowKey(decodeCtAttrs(...)) would build it, and the ids present. A message without family,
 * addresses or protocol gets key '' (conntrackd accepts any attribute subset; such an entry
 * cannot be keyed).
 */
export function scanCtKey(b: Uint8Array, start: number, end: number, out: CtScan): boolean {
  return out.scan(b, start, end);
}
