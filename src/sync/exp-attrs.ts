// The attributes of conntrackd's EXP_NEW / EXP_UPD / EXP_DEL messages (enum nta_exp_attr,
// conntrack-tools 1.4.7), and their codec: Expect <-> attributes, one decoder and one encoder.
// Same TLV layout as the CT attributes (ct-attrs.ts). Expectations are rare (helpers create
// them): no flat form, no fast path.
//
// Encoding follows conntrackd's exp2msg (attribute choice and order); decoding follows msg2exp's
// validation exactly (one failure rejects the whole message).
import type { Expect, Tuple } from '../conntrack/entry.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { formatIPv4, formatIPv6 } from '../netlink/ip.js';
import { hasWirePorts } from '../conntrack/flow-fields.js';
import { utf8 } from '../conntrack/flow-entry.js';
import { WireEncodeError, addrInto, nameTooLong } from './wire-errors.js';

/** enum nta_exp_attr. */
export const enum NTA_EXP {
  MASTER_IPV4 = 0,
  MASTER_IPV6 = 1,
  MASTER_L4PROTO = 2,
  MASTER_PORT = 3,
  EXPECT_IPV4 = 4,
  EXPECT_IPV6 = 5,
  EXPECT_L4PROTO = 6,
  EXPECT_PORT = 7,
  MASK_IPV4 = 8,
  MASK_IPV6 = 9,
  MASK_L4PROTO = 10,
  MASK_PORT = 11,
  TIMEOUT = 12,
  FLAGS = 13,
  CLASS = 14,
  NAT_IPV4 = 15,
  NAT_PORT = 16,
  NAT_L4PROTO = 17,
  NAT_DIR = 18,
  HELPER_NAME = 19,
  FN = 20,
}
/** First invalid EXP attribute id. */
export const NTA_EXP_MAX = 21;

export interface ExpWireAttr {
  name: string;
  id: number;
  /** Exact nta_len of a fixed-size attribute; 0 for a variable one. */
  len: number;
  /** Largest nta_len of a variable attribute. */
  maxLen: number;
}

const ip4 = 12;
const ip6 = 36;
const u8 = 5;
const u32 = 8;
const ports = 8;

const row = (id: NTA_EXP, name: string, len: number, maxLen = 0): ExpWireAttr => ({ name, id, len, maxLen });

/** Every EXP attribute, by id. */
export const EXP_ATTRS: readonly ExpWireAttr[] = [
  row(NTA_EXP.MASTER_IPV4, 'MASTER_IPV4', ip4),
  row(NTA_EXP.MASTER_IPV6, 'MASTER_IPV6', ip6),
  row(NTA_EXP.MASTER_L4PROTO, 'MASTER_L4PROTO', u8),
  row(NTA_EXP.MASTER_PORT, 'MASTER_PORT', ports),
  row(NTA_EXP.EXPECT_IPV4, 'EXPECT_IPV4', ip4),
  row(NTA_EXP.EXPECT_IPV6, 'EXPECT_IPV6', ip6),
  row(NTA_EXP.EXPECT_L4PROTO, 'EXPECT_L4PROTO', u8),
  row(NTA_EXP.EXPECT_PORT, 'EXPECT_PORT', ports),
  row(NTA_EXP.MASK_IPV4, 'MASK_IPV4', ip4),
  row(NTA_EXP.MASK_IPV6, 'MASK_IPV6', ip6),
  row(NTA_EXP.MASK_L4PROTO, 'MASK_L4PROTO', u8),
  row(NTA_EXP.MASK_PORT, 'MASK_PORT', ports),
  row(NTA_EXP.TIMEOUT, 'TIMEOUT', u32),
  row(NTA_EXP.FLAGS, 'FLAGS', u32),
  row(NTA_EXP.CLASS, 'CLASS', u32),
  row(NTA_EXP.NAT_IPV4, 'NAT_IPV4', ip4),
  row(NTA_EXP.NAT_PORT, 'NAT_PORT', ports),
  row(NTA_EXP.NAT_L4PROTO, 'NAT_L4PROTO', u8),
  row(NTA_EXP.NAT_DIR, 'NAT_DIR', u32),
  // NFCT_HELPER_NAME_MAX with the NUL; the expectation function name: at most 31 bytes and the NUL
  row(NTA_EXP.HELPER_NAME, 'HELPER_NAME', 0, 16),
  row(NTA_EXP.FN, 'FN', 0, 32),
];

/** Exact nta_len of each fixed-size EXP attribute, 0 = variable. By id. */
export const EXP_FIXED_LEN: readonly number[] = EXP_ATTRS.map((a) => a.len);
/** Largest nta_len of the variable EXP attributes, by id. */
export const EXP_MAX_LEN: Readonly<Record<number, number>> = Object.fromEntries(
  EXP_ATTRS.filter((a) => a.len === 0).map((a) => [a.id, a.maxLen]),
);

export interface ExpEncodeOptions {
  /** The sender has `CommitTimeout` configured: EXP_TIMEOUT is left out. */
  commitTimeout?: boolean;
  /** See CtEncodeOptions.longHelper; also applies to EXP_FN (at most 27 bytes + NUL). */
  longHelper?: 'error' | 'omit';
}

// ------------------------------------------------------------------------------- encoding

function tooSmall(): never {
  throw new RangeError('sync message does not fit in the output buffer');
}

/**
 * Writes an attribute header for a `plen`-byte payload at `o`, zeroes its padding, and returns
 * the payload offset. The attribute occupies align4(4 + plen) bytes.
 */
function attr(buf: Uint8Array, o: number, id: number, plen: number): number {
  const len = 4 + plen;
  const end = o + ((len + 3) & ~3);
  if (end > buf.length) tooSmall();
  buf[o] = len >> 8;
  buf[o + 1] = len & 0xff;
  buf[o + 2] = 0;
  buf[o + 3] = id;
  for (let i = o + len; i < end; i++) buf[i] = 0;
  return o + 4;
}

function u8Attr(buf: Uint8Array, o: number, id: number, v: number): number {
  buf[attr(buf, o, id, 1)] = v & 0xff;
  return o + 8;
}

function u32beAttr(buf: Uint8Array, o: number, id: number, v: number): number {
  const p = attr(buf, o, id, 4);
  buf[p] = (v >>> 24) & 0xff;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
  return o + 8;
}

/** NTA_EXP_*_IPV4 / *IPV6 group: src + dst. */
function addrPairAttr(buf: Uint8Array, o: number, id: number, v6: boolean, t: Tuple, what: string): number {
  const n = v6 ? 16 : 4;
  const p = attr(buf, o, id, 2 * n);
  addrInto(t.src, v6, buf, p, `${what}.src`);
  addrInto(t.dst, v6, buf, p + n, `${what}.dst`);
  return o + 4 + 2 * n;
}

/** NTA_EXP_*_PORT group: sport + dport, both BE16. */
function portPairAttr(buf: Uint8Array, o: number, id: number, t: Tuple): number {
  const p = attr(buf, o, id, 4);
  const s = t.sport ?? 0;
  const d = t.dport ?? 0;
  buf[p] = (s >>> 8) & 0xff;
  buf[p + 1] = s & 0xff;
  buf[p + 2] = (d >>> 8) & 0xff;
  buf[p + 3] = d & 0xff;
  return o + 8;
}

function strAttr(
  buf: Uint8Array,
  o: number,
  id: number,
  s: string,
  maxLen: number,
  policy: 'error' | 'omit' | undefined,
  what: string,
): number {
  const n = Buffer.byteLength(s);
  if (4 + n + 1 > maxLen) {
    if (policy === 'omit') return o;
    throw nameTooLong(what, s, maxLen);
  }
  const p = attr(buf, o, id, n + 1);
  Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(s, p, 'utf8');
  buf[p + n] = 0;
  return o + ((4 + n + 1 + 3) & ~3);
}

/** Writes the attributes of an EXP message for `x` at `o`; returns the new offset. */
export function encodeExpAttrs(buf: Uint8Array, o: number, x: Expect, opts: ExpEncodeOptions | undefined): number {
  const fam = x.family;
  if (fam !== AF_INET && fam !== AF_INET6) throw new WireEncodeError(`family: ${fam} is not 2 (ipv4) or 10 (ipv6)`);
  if (!x.master || !x.tuple || !x.mask) throw new WireEncodeError('expectation: master, tuple and mask are required');
  const v6 = fam === AF_INET6;
  // every *_PORT is gated on the master's protocol, as conntrackd does
  const ports = hasWirePorts(x.master.proto);
  const group = (t: Tuple, ip4: number, ip6: number, l4: number, port: number, what: string): void => {
    if (t.src && t.dst) o = addrPairAttr(buf, o, v6 ? ip6 : ip4, v6, t, what);
    o = u8Attr(buf, o, l4, t.proto ?? 0);
    if (ports) o = portPairAttr(buf, o, port, t);
  };
  group(x.master, NTA_EXP.MASTER_IPV4, NTA_EXP.MASTER_IPV6, NTA_EXP.MASTER_L4PROTO, NTA_EXP.MASTER_PORT, 'master');
  group(x.tuple, NTA_EXP.EXPECT_IPV4, NTA_EXP.EXPECT_IPV6, NTA_EXP.EXPECT_L4PROTO, NTA_EXP.EXPECT_PORT, 'tuple');
  group(x.mask, NTA_EXP.MASK_IPV4, NTA_EXP.MASK_IPV6, NTA_EXP.MASK_L4PROTO, NTA_EXP.MASK_PORT, 'mask');
  if (!opts?.commitTimeout && x.timeout !== undefined) o = u32beAttr(buf, o, NTA_EXP.TIMEOUT, x.timeout);
  o = u32beAttr(buf, o, NTA_EXP.FLAGS, x.flags ?? 0);
  if (x.class !== undefined) o = u32beAttr(buf, o, NTA_EXP.CLASS, x.class);
  const n = x.natTuple;
  if (n) {
    // there is no NAT_IPV6 attribute: an IPv6 NAT tuple travels without addresses
    if (!v6 && n.src && n.dst) o = addrPairAttr(buf, o, NTA_EXP.NAT_IPV4, false, n, 'natTuple');
    o = u8Attr(buf, o, NTA_EXP.NAT_L4PROTO, n.proto ?? 0);
    if (ports) o = portPairAttr(buf, o, NTA_EXP.NAT_PORT, n);
    o = u32beAttr(buf, o, NTA_EXP.NAT_DIR, x.natDir ?? 0);
  }
  if (x.helper !== undefined)
    o = strAttr(buf, o, NTA_EXP.HELPER_NAME, x.helper, EXP_MAX_LEN[NTA_EXP.HELPER_NAME], opts?.longHelper, 'helper');
  if (x.fn !== undefined) o = strAttr(buf, o, NTA_EXP.FN, x.fn, EXP_MAX_LEN[NTA_EXP.FN], opts?.longHelper, 'fn');
  return o;
}

// ------------------------------------------------------------------------------- decoding

const get16be = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const get32be = (b: Uint8Array, p: number): number =>
  ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;

/** NUL-terminated string inside [p, p + n): up to the first NUL, or all n bytes. */
function readStr(b: Uint8Array, p: number, n: number): string {
  let e = p;
  while (e < p + n && b[e] !== 0) e++;
  return utf8(b, p, e - p);
}

/**
 * Walks the attributes of one message, [start, end), with msg2exp's checks: loop while more than
 * 4 bytes remain; nta_len >= 4 and <= remaining; id < max; fixed-size attributes exactly their
 * size; variable ones at most their maximum. Calls fn for each attribute and returns false at the
 * first violation (the whole message is then malformed).
 */
function walk(b: Uint8Array, start: number, end: number, fn: (id: number, p: number, plen: number) => void): boolean {
  let o = start;
  let remain = end - start;
  while (remain > 4) {
    const len = get16be(b, o);
    const id = get16be(b, o + 2);
    if (len > remain || len < 4 || id >= NTA_EXP_MAX) return false;
    const want = EXP_FIXED_LEN[id];
    if (want !== 0) {
      if (len !== want) return false;
    } else if (len > EXP_MAX_LEN[id]) return false;
    fn(id, o + 4, len - 4);
    const step = (len + 3) & ~3;
    o += step;
    remain -= step;
  }
  return true;
}

/** Address/port/proto fields of a tuple as they arrive, before they become a Tuple. */
interface TupleAcc {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
}

function toTuple(a: TupleAcc): Tuple {
  const t: Tuple = { src: a.src ?? '', dst: a.dst ?? '', proto: a.proto ?? 0 };
  if (a.sport !== undefined) t.sport = a.sport;
  if (a.dport !== undefined) t.dport = a.dport;
  return t;
}

/**
 * Decodes the attributes of an EXP message in [start, end), or returns null when conntrackd would
 * reject it. family comes from EXP_MASTER_IPV4/IPV6 (else from the expected tuple, else 0);
 * missing addresses are ''. The NAT tuple of an IPv6 expectation has no addresses on the wire.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function decodeExpAttrs(b: Uint8Array, start: number, end: number): Expect | null {
  let famMaster = 0;
  let famOther = 0;
  const master: TupleAcc = {};
  const tuple: TupleAcc = {};
  const mask: TupleAcc = {};
  let nat: TupleAcc | undefined;
  let timeout: number | undefined;
  let flags: number | undefined;
  let cls: number | undefined;
  let natDir: number | undefined;
  let helper: string | undefined;
  let fn: string | undefined;
  const pair = (t: TupleAcc, p: number, v6: boolean): void => {
    t.src = v6 ? formatIPv6(b, p) : formatIPv4(b, p);
    t.dst = v6 ? formatIPv6(b, p + 16) : formatIPv4(b, p + 4);
  };
  const ports = (t: TupleAcc, p: number): void => {
    t.sport = get16be(b, p);
    t.dport = get16be(b, p + 2);
  };
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  const ok = walk(b, start, end, (id, p, n) => {
    switch (id) {
      case NTA_EXP.MASTER_IPV4:
        pair(master, p, false);
        famMaster = AF_INET;
        break;
      case NTA_EXP.MASTER_IPV6:
        pair(master, p, true);
        famMaster = AF_INET6;
        break;
      case NTA_EXP.MASTER_L4PROTO:
        master.proto = b[p];
        break;
      case NTA_EXP.MASTER_PORT:
        ports(master, p);
        break;
      case NTA_EXP.EXPECT_IPV4:
        pair(tuple, p, false);
        famOther = AF_INET;
        break;
      case NTA_EXP.EXPECT_IPV6:
        pair(tuple, p, true);
        famOther = AF_INET6;
        break;
      case NTA_EXP.EXPECT_L4PROTO:
        tuple.proto = b[p];
        break;
      case NTA_EXP.EXPECT_PORT:
        ports(tuple, p);
        break;
      case NTA_EXP.MASK_IPV4:
        pair(mask, p, false);
        break;
      case NTA_EXP.MASK_IPV6:
        pair(mask, p, true);
        break;
      case NTA_EXP.MASK_L4PROTO:
        mask.proto = b[p];
        break;
      case NTA_EXP.MASK_PORT:
        ports(mask, p);
        break;
      case NTA_EXP.TIMEOUT:
        timeout = get32be(b, p);
        break;
      case NTA_EXP.FLAGS:
        flags = get32be(b, p);
        break;
      case NTA_EXP.CLASS:
        cls = get32be(b, p);
        break;
      case NTA_EXP.NAT_IPV4:
        pair((nat ??= {}), p, false);
        break;
      case NTA_EXP.NAT_PORT:
        ports((nat ??= {}), p);
        break;
      case NTA_EXP.NAT_L4PROTO:
        (nat ??= {}).proto = b[p];
        break;
      case NTA_EXP.NAT_DIR:
        natDir = get32be(b, p);
        break;
      case NTA_EXP.HELPER_NAME:
        helper = readStr(b, p, n);
        break;
      case NTA_EXP.FN:
        fn = readStr(b, p, n);
        break;
      default:
        break;
    }
  });
  if (!ok) return null;
  const x: Expect = {
    family: famMaster || famOther,
    master: toTuple(master),
    tuple: toTuple(tuple),
    mask: toTuple(mask),
  };
  if (timeout !== undefined) x.timeout = timeout;
  if (helper !== undefined) x.helper = helper;
  if (flags !== undefined) x.flags = flags;
  if (cls !== undefined) x.class = cls;
  if (natDir !== undefined) x.natDir = natDir;
  if (nat) x.natTuple = toTuple(nat);
  if (fn !== undefined) x.fn = fn;
  return x;
}
