// ctnetlink conntrack messages <-> Entry. Pure: no sockets.
//
// The codec itself is one scan (ct-scan.ts) and one writer (ct-write.ts) over flat fields, with
// the attribute table in ct-attrs.ts; this module puts the Entry API on them:
//   decodeConntrack                              = scanConntrack -> entryOfFields
//   writeCreateAttrs / writeUpdateAttrs /
//   writeIdentity / writeDumpAttrs               = EntryFields.load -> the writer's shape
// Decoding keeps every attribute: known ones become Entry fields, unknown ones are kept verbatim
// in Entry.unknown (with the nest they came from). Writing has two shapes: 'dump' (every field,
// in the kernel's own dump order, to mirror captured kernel bytes) and the requests
// ('create'/'update': what the kernel accepts in a CT_NEW).
import { AF_INET, AF_INET6 } from './constants.js';
import { type NlWriter } from './attr.js';
import { parseIPv4Into, parseIPv6Into } from './ip.js';
import type { Entry, NatRange, RawAttr, Tuple } from '../conntrack/entry.js';
import { FlowFields, RawAttrList, TupleFields, inverseIcmpType, isIcmp } from '../conntrack/flow-fields.js';
import { EntryFields, asBuffer, entryOfFields, tupleOf } from '../conntrack/flow-entry.js';
import { UnknownAt, unknownPath } from './ct-attrs.js';
import { scanConntrack, scanTuple } from './ct-scan.js';
import {
  CtSource,
  CtWriteError,
  deriveNat,
  derivedNat,
  lastCtWriteError,
  writeCreate,
  writeDump,
  writeIdentity as writeIdentityFields,
  writeTupleNest,
  writeUpdate,
  type CreateOptions,
} from './ct-write.js';

export { inverseIcmpType } from '../conntrack/flow-fields.js';
export { requestStatus } from './ct-write.js';

// ---------------------------------------------------------------- decoding

/** Entry.unknown of the attributes a scan kept; `caller` names a CALLER tuple's nest. */
function unknownOf(u: RawAttrList, b: Uint8Array, caller = ''): RawAttr[] {
  const buf = asBuffer(b);
  const out: RawAttr[] = [];
  for (let i = 0; i < u.count; i++) {
    const path = unknownPath(u.path[i], caller);
    const data = buf.toString('hex', u.off[i], u.off[i] + u.len[i]);
    out.push(path ? { type: u.type[i], data, path } : { type: u.type[i], data });
  }
  return out;
}

const tupleScan = new TupleFields();
const tupleUnknown = new RawAttrList();

/** Decodes a CTA_TUPLE_* nest. `owner` collects unknown attributes, found at `path`. */
export function decodeTuple(
  buf: Buffer,
  start: number,
  end: number,
  owner: { unknown?: RawAttr[] },
  path: string,
): Tuple {
  tupleUnknown.count = 0;
  scanTuple(buf, start, end, tupleScan, tupleUnknown, UnknownAt.CALLER);
  if (tupleUnknown.count > 0) (owner.unknown ??= []).push(...unknownOf(tupleUnknown, buf, path));
  return tupleOf(tupleScan);
}

const scanned = new FlowFields();

/**
 * Decodes a conntrack message. `off`/`len` delimit the whole netlink message (header included).
 * Throws NetlinkDecodeError naming the attribute and byte offset when the message is malformed.
 */
export function decodeConntrack(buf: Buffer, off: number, len: number): Entry {
  scanConntrack(buf, off, len, scanned);
  const e = entryOfFields(scanned);
  if (scanned.unknown.count > 0) e.unknown = unknownOf(scanned.unknown, buf);
  return e;
}

// ---------------------------------------------------------------- encoding

/** An entry that cannot be turned into a request; the message names the field. */
export class EntryEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryEncodeError';
  }
}

const scratch16 = new Uint8Array(16);

/** The text of the address a writer could not use. */
function addrSource(e: Entry, s: CtSource): string | undefined {
  switch (s) {
    case CtSource.ORIG_SRC:
      return e.orig.src;
    case CtSource.ORIG_DST:
      return e.orig.dst;
    case CtSource.REPLY_SRC:
      return e.reply?.src;
    case CtSource.REPLY_DST:
      return e.reply?.dst;
    case CtSource.MASTER_SRC:
      return e.master?.src;
    case CtSource.MASTER_DST:
      return e.master?.dst;
    case CtSource.NAT_SRC_MIN:
      return e.natSrc?.minIp;
    case CtSource.NAT_SRC_MAX:
      return e.natSrc?.maxIp;
    case CtSource.NAT_DST_MIN:
      return e.natDst?.minIp;
    case CtSource.NAT_DST_MAX:
      return e.natDst?.maxIp;
    default:
      return undefined;
  }
}

/** The decimal u64 a writer could not use. */
function u64Source(e: Entry, s: CtSource): string | undefined {
  if (s === CtSource.DCCP_SEQ) return e.dccp?.handshakeSeq;
  return s === CtSource.TS_START ? e.timestampStart : e.timestampStop;
}

/** Throws what the writer's failure `code` on `e` means: EntryEncodeError naming the field. */
function throwWriteError(code: number, e: Entry): never {
  const why = lastCtWriteError;
  if (code === CtWriteError.ADDR) {
    const s = addrSource(e, why.source) as string;
    try {
      if (e.family === AF_INET6) parseIPv6Into(s, scratch16, 0);
      else parseIPv4Into(s, scratch16, 0);
    } catch (err) {
      throw new EntryEncodeError(`${why.what}: ${(err as Error).message}`);
    }
  } else if (code === CtWriteError.TIMEOUT) {
    throw new EntryEncodeError('timeout: missing (the kernel needs one to create an entry)');
  } else if (code === CtWriteError.U64) {
    // what the conversion throws
    Buffer.alloc(8).writeBigUInt64BE(BigInt(u64Source(e, why.source) as string));
  }
  throw new Error(`cannot encode the entry (ctnetlink writer ${code})`);
}

/** The entry that cannot be created or changed as it is: why. */
function checkFamily(e: Entry): void {
  const fam = e.family;
  if (fam !== AF_INET && fam !== AF_INET6) throw new EntryEncodeError(`family: ${fam} is not 2 (ipv4) or 10 (ipv6)`);
  if (!e.orig) throw new EntryEncodeError('orig: missing original tuple');
}

const loaded = new EntryFields();
const requestOpts: CreateOptions = { timeout: -1, liberal: false, markAlways: false };

export interface RequestOptions {
  /** Force IP_CT_TCP_FLAG_BE_LIBERAL in both directions (what a failover commit wants). */
  liberal?: boolean;
  /** Override the entry's timeout (seconds). */
  timeout?: number;
}

function options(opts: RequestOptions): CreateOptions {
  requestOpts.timeout = opts.timeout ?? -1;
  requestOpts.liberal = opts.liberal ?? false;
  return requestOpts;
}

/**
 * Writes the attributes of a CT_NEW create request for `e` (message header written by caller).
 * Throws EntryEncodeError naming the bad field; the caller should then `w.abort()`.
 */
export function writeCreateAttrs(w: NlWriter, e: Entry, opts: RequestOptions = {}): void {
  checkFamily(e);
  const r = writeCreate(w, loaded.load(e), options(opts));
  if (r < 0) throwWriteError(r, e);
}

/**
 * Attributes of an update request (CT_NEW without CREATE): identity plus what the kernel lets an
 * existing entry change (timeout, mark, protocol state, labels). NAT, helper, master and the
 * reply tuple are left out: the kernel answers EOPNOTSUPP/EBUSY to them on an update.
 */
export function writeUpdateAttrs(w: NlWriter, e: Entry, opts: RequestOptions = {}): void {
  const r = writeUpdate(w, loaded.load(e), options(opts));
  if (r < 0) throwWriteError(r, e);
}

/** Attributes that identify an entry (get/delete/update): original tuple and zone. */
export function writeIdentity(w: NlWriter, e: Entry): void {
  const r = writeIdentityFields(w, loaded.load(e));
  if (r < 0) throwWriteError(r, e);
}

/**
 * Writes every field of `e` in the order the kernel uses in dump replies (Linux 6.x
 * ctnetlink_fill_info), so decode -> encode reproduces captured kernel bytes.
 */
export function writeDumpAttrs(w: NlWriter, e: Entry): void {
  const r = writeDump(w, loaded.load(e));
  if (r < 0) throwWriteError(r, e);
}

/** Writes a tuple `t` of an entry of `family` as a nest of type `type`; `what` names it in errors. */
export function writeTuple(w: NlWriter, type: number, family: number, t: Tuple, what: string): void {
  const r = writeTupleNest(w, type, loaded.load({ family, orig: t }).orig, family, what);
  if (r < 0) throwWriteError(r, { family, orig: t });
}

// ---------------------------------------------------------------- tuples and NAT of an Entry

/** The reply tuple the kernel would compute for an un-NATed flow. */
export function invertTuple(t: Tuple): Tuple {
  const r: Tuple = { src: t.dst, dst: t.src, proto: t.proto };
  if (isIcmp(t.proto)) {
    if (t.icmpType !== undefined) r.icmpType = inverseIcmpType(t.proto, t.icmpType);
    if (t.icmpCode !== undefined) r.icmpCode = t.icmpCode;
    if (t.icmpId !== undefined) r.icmpId = t.icmpId;
  } else {
    if (t.dport !== undefined) r.sport = t.dport;
    if (t.sport !== undefined) r.dport = t.sport;
  }
  return r;
}

/**
 * NAT ranges that recreate an entry's translated reply tuple, derived the way conntrackd detects
 * NAT: the reply tuple differs from the inverse of the original (addresses compared as addresses).
 */
export function natFromReply(e: Entry): { natSrc?: NatRange; natDst?: NatRange } {
  const out: { natSrc?: NatRange; natDst?: NatRange } = {};
  const r = e.reply;
  if (!r) return out;
  deriveNat(loaded.load(e));
  const { src, dst } = derivedNat();
  if (src.present) {
    out.natSrc = { minIp: r.dst, maxIp: r.dst };
    if (src.minPort >= 0) out.natSrc.minPort = out.natSrc.maxPort = src.minPort;
  }
  if (dst.present) {
    out.natDst = { minIp: r.src, maxIp: r.src };
    if (dst.minPort >= 0) out.natDst.minPort = out.natDst.maxPort = dst.minPort;
  }
  return out;
}
