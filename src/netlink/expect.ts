// ctnetlink expectation message codec (NFNL_SUBSYS_CTNETLINK_EXP): message <-> Expect. Pure.
//
// Tuples are (de)coded with the conntrack codec's decodeTuple/writeTuple. Three encoders:
//  - writeExpectDumpAttrs: every field in the kernel's own order (ctnetlink_exp_dump_expect), so
//    decode -> encode reproduces captured kernel bytes;
//  - writeExpectCreateAttrs: an IPCTNL_MSG_EXP_NEW create request;
//  - writeExpectIdentity: the attributes that name one expectation (get / delete).
//
// Kernel facts (Linux 6.18, checked against a live kernel, see tools/golden/capture-golden-expect.ts):
//  - dump / event order: TUPLE, MASK, MASTER, [NAT {DIR, TUPLE}], TIMEOUT, ID, FLAGS, CLASS,
//    [HELP_NAME], [FN]. CTA_EXPECT_ZONE is never dumped (it is request-only).
//  - MASK is dumped as a whole tuple of which only the source address and source port (ICMP: id)
//    are real; the kernel fills the destination address, destination port (ICMP: type, code) with
//    all-ones and puts the expected tuple's protocol number in.
//  - NAT.TUPLE is dumped with the saved source address and port and a zero destination.
//  - On create, the kernel parses MASTER, TUPLE and MASK as full tuples (both addresses, both
//    ports), so every one of them must be complete; the timeout of a new expectation comes from
//    the master's helper policy and CTA_EXPECT_TIMEOUT is ignored (a later EXP_NEW without
//    NLM_F_EXCL on the existing expectation changes it).
import { AF_INET, AF_INET6, CTA_EXPECT, CTA_EXPECT_NAT, IPPROTO, NFGENMSG_LEN, NLMSG_HDRLEN } from './constants.js';
import { NetlinkDecodeError, NlWriter, forEachAttr, hex, readStrz } from './attr.js';
import { EntryEncodeError, decodeTuple, writeTuple } from './ctnetlink.js';
import { isIcmp } from '../conntrack/flow-fields.js';
import type { Expect, RawAttr, Tuple } from '../conntrack/entry.js';

// ---------------------------------------------------------------- decoding

function keep(x: { unknown?: RawAttr[] }, buf: Buffer, p: number, len: number, rawType: number, path: string): void {
  (x.unknown ??= []).push(
    path ? { type: rawType, data: hex(buf, p, len), path } : { type: rawType, data: hex(buf, p, len) },
  );
}

function need(len: number, want: number, what: string, p: number): void {
  if (len < want) throw new NetlinkDecodeError(`${what}: ${len} bytes, expected ${want}`, p);
}

/**
 * Decodes an expectation message (EXP_NEW / EXP_DELETE from a dump, a get reply or an event).
 * `off`/`len` delimit the whole netlink message, header included. Unknown attributes are kept in
 * Expect.unknown with the nest they came from ("" top level, "tuple.proto", "nat", ...).
 * Throws NetlinkDecodeError when the message is malformed or lacks MASTER, TUPLE or MASK.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function decodeExpect(buf: Buffer, off: number, len: number): Expect {
  const end = off + len;
  if (len < NLMSG_HDRLEN + NFGENMSG_LEN) throw new NetlinkDecodeError('truncated expectation message', off);
  const family = buf[off + NLMSG_HDRLEN];
  const x: Omit<Expect, 'family' | 'master' | 'tuple' | 'mask'> = {};
  let master: Tuple | undefined;
  let tuple: Tuple | undefined;
  let mask: Tuple | undefined;
  forEachAttr(buf, off + NLMSG_HDRLEN + NFGENMSG_LEN, end, (type, p, alen, raw) => {
    switch (type) {
      case CTA_EXPECT.MASTER:
        master = decodeTuple(buf, p, p + alen, x, 'master');
        break;
      case CTA_EXPECT.TUPLE:
        tuple = decodeTuple(buf, p, p + alen, x, 'tuple');
        break;
      case CTA_EXPECT.MASK:
        mask = decodeTuple(buf, p, p + alen, x, 'mask');
        break;
      case CTA_EXPECT.TIMEOUT:
        need(alen, 4, 'CTA_EXPECT_TIMEOUT', p);
        x.timeout = buf.readUInt32BE(p);
        break;
      case CTA_EXPECT.ID:
        need(alen, 4, 'CTA_EXPECT_ID', p);
        x.id = buf.readUInt32BE(p);
        break;
      case CTA_EXPECT.HELP_NAME:
        x.helper = readStrz(buf, p, alen);
        break;
      case CTA_EXPECT.ZONE:
        need(alen, 2, 'CTA_EXPECT_ZONE', p);
        x.zone = buf.readUInt16BE(p);
        break;
      case CTA_EXPECT.FLAGS:
        need(alen, 4, 'CTA_EXPECT_FLAGS', p);
        x.flags = buf.readUInt32BE(p);
        break;
      case CTA_EXPECT.CLASS:
        need(alen, 4, 'CTA_EXPECT_CLASS', p);
        x.class = buf.readUInt32BE(p);
        break;
      case CTA_EXPECT.FN:
        x.fn = readStrz(buf, p, alen);
        break;
      case CTA_EXPECT.NAT:
        forEachAttr(buf, p, p + alen, (nt, np, nlen, nraw) => {
          if (nt === CTA_EXPECT_NAT.DIR) {
            need(nlen, 4, 'CTA_EXPECT_NAT_DIR', np);
            x.natDir = buf.readUInt32BE(np);
          } else if (nt === CTA_EXPECT_NAT.TUPLE) x.natTuple = decodeTuple(buf, np, np + nlen, x, 'nat.tuple');
          else keep(x, buf, np, nlen, nraw, 'nat');
        });
        break;
      default:
        keep(x, buf, p, alen, raw, '');
    }
  });
  if (!master) throw new NetlinkDecodeError('expectation message without CTA_EXPECT_MASTER', off);
  if (!tuple) throw new NetlinkDecodeError('expectation message without CTA_EXPECT_TUPLE', off);
  if (!mask) throw new NetlinkDecodeError('expectation message without CTA_EXPECT_MASK', off);
  // field order as in the Expect interface, so JSON output reads naturally
  const { unknown, ...rest } = x;
  const out: Expect = { family, master, tuple, mask, ...rest };
  if (unknown) out.unknown = unknown;
  return out;
}

// ---------------------------------------------------------------- encoding

/**
 * Protocols whose tuples carry ports (GRE: its keys, as PPTP expectations use), which the kernel's
 * nf_ct_port_nlattr_to_tuple requires both of.
 */
const hasPorts = (proto: number): boolean =>
  proto === IPPROTO.TCP ||
  proto === IPPROTO.UDP ||
  proto === IPPROTO.UDPLITE ||
  proto === IPPROTO.SCTP ||
  proto === IPPROTO.DCCP ||
  proto === IPPROTO.GRE;

const allOnes = (family: number): string =>
  family === AF_INET6 ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255';
const anyAddr = (family: number): string => (family === AF_INET6 ? '::' : '0.0.0.0');

function checkFamily(x: Expect): void {
  if (x.family !== AF_INET && x.family !== AF_INET6)
    throw new EntryEncodeError(`family: ${x.family} is not 2 (ipv4) or 10 (ipv6)`);
}

function requireTuple(t: Tuple | undefined, what: string): Tuple {
  if (!t) throw new EntryEncodeError(`${what}: missing`);
  if (!t.src || !t.dst) throw new EntryEncodeError(`${what}: source and destination address are required`);
  if (hasPorts(t.proto) && (t.sport === undefined || t.dport === undefined)) {
    throw new EntryEncodeError(`${what}: source and destination port are required for protocol ${t.proto}`);
  }
  return t;
}

/**
 * The mask as a request needs it: the kernel only uses its source address and source port (ICMP:
 * id) but parses it as a full tuple, so the rest is filled the way the kernel dumps it.
 */
function requestMask(family: number, tuple: Tuple, m: Tuple): Tuple {
  const out: Tuple = { src: m.src, dst: m.dst || allOnes(family), proto: tuple.proto };
  if (isIcmp(tuple.proto)) {
    out.icmpId = m.icmpId ?? 0xffff;
    out.icmpType = m.icmpType ?? 0xff;
    out.icmpCode = m.icmpCode ?? 0xff;
  } else if (hasPorts(tuple.proto)) {
    out.sport = m.sport ?? 0xffff;
    out.dport = m.dport ?? 0xffff;
  }
  if (!out.src) throw new EntryEncodeError('mask.src: missing source address mask');
  return out;
}

/** The NAT tuple of a request: only source address and port matter; the rest is zero as dumped. */
function requestNatTuple(family: number, t: Tuple): Tuple {
  const out: Tuple = { ...t, dst: t.dst || anyAddr(family) };
  if (hasPorts(t.proto)) {
    out.sport = t.sport ?? 0;
    out.dport = t.dport ?? 0;
  }
  if (!out.src) throw new EntryEncodeError('natTuple.src: missing');
  return out;
}

/**
 * Writes the attributes of an IPCTNL_MSG_EXP_NEW create request for `x` (message header, with
 * NLM_F_CREATE and usually NLM_F_EXCL, written by the caller; family in nfgenmsg = x.family).
 * The master conntrack must exist (same zone) and carry a helper, or the kernel answers ENOENT /
 * EOPNOTSUPP. Throws EntryEncodeError naming the bad field; the caller should then `w.abort()`.
 * NB: CTA_EXPECT_HELP_NAME (x.helper) is sent as given. The kernel stores it as exp->helper, which
 * it attaches to the expected connection when that arrives; a dump reports the master's helper
 * name instead (also for expectations created without one), so replaying a dumped `helper`
 * gives the child connection a helper the original expectation did not have.
 */
export function writeExpectCreateAttrs(w: NlWriter, x: Expect): void {
  checkFamily(x);
  const fam = x.family;
  const tuple = requireTuple(x.tuple, 'tuple');
  writeTuple(w, CTA_EXPECT.MASTER, fam, requireTuple(x.master, 'master'), 'master');
  writeTuple(w, CTA_EXPECT.TUPLE, fam, tuple, 'tuple');
  if (!x.mask) throw new EntryEncodeError('mask: missing');
  writeTuple(w, CTA_EXPECT.MASK, fam, requestMask(fam, tuple, x.mask), 'mask');
  if (x.timeout !== undefined) w.u32be(CTA_EXPECT.TIMEOUT, x.timeout);
  if (x.zone !== undefined) w.u16be(CTA_EXPECT.ZONE, x.zone);
  if (x.flags !== undefined) w.u32be(CTA_EXPECT.FLAGS, x.flags);
  if (x.class !== undefined) w.u32be(CTA_EXPECT.CLASS, x.class);
  if (x.helper !== undefined) w.strz(CTA_EXPECT.HELP_NAME, x.helper);
  if (x.natDir !== undefined || x.natTuple !== undefined) {
    // the kernel wants both or rejects the request (EINVAL)
    if (x.natDir === undefined || x.natTuple === undefined)
      throw new EntryEncodeError('natDir/natTuple: both are needed for expectation NAT');
    const n = w.nestStart(CTA_EXPECT.NAT);
    w.u32be(CTA_EXPECT_NAT.DIR, x.natDir);
    writeTuple(w, CTA_EXPECT_NAT.TUPLE, fam, requestNatTuple(fam, x.natTuple), 'natTuple');
    w.nestEnd(n);
  }
  if (x.fn !== undefined) w.strz(CTA_EXPECT.FN, x.fn);
}

/**
 * Attributes that name one expectation for EXP_GET / EXP_DELETE: its tuple, and the zone when it
 * is not 0. (The kernel finds an expectation by any tuple its tuple/mask match.)
 */
export function writeExpectIdentity(w: NlWriter, x: Expect): void {
  checkFamily(x);
  writeTuple(w, CTA_EXPECT.TUPLE, x.family, requireTuple(x.tuple, 'tuple'), 'tuple');
  if (x.zone !== undefined && x.zone !== 0) w.u16be(CTA_EXPECT.ZONE, x.zone);
}

function writeUnknown(w: NlWriter, x: Expect, path: string): void {
  if (!x.unknown) return;
  for (const u of x.unknown) if ((u.path ?? '') === path) w.bytesAttr(u.type, Buffer.from(u.data, 'hex'));
}

/**
 * Writes every field of `x` in the order of the kernel's ctnetlink_exp_dump_expect (Linux 6.x),
 * so decode -> encode reproduces captured kernel bytes. Fields the kernel never dumps (zone) go
 * after the dumped ones; unknown top-level attributes go last.
 */
export function writeExpectDumpAttrs(w: NlWriter, x: Expect): void {
  const fam = x.family;
  writeTuple(w, CTA_EXPECT.TUPLE, fam, x.tuple, 'tuple');
  writeTuple(w, CTA_EXPECT.MASK, fam, x.mask, 'mask');
  writeTuple(w, CTA_EXPECT.MASTER, fam, x.master, 'master');
  if (x.natDir !== undefined || x.natTuple !== undefined) {
    const n = w.nestStart(CTA_EXPECT.NAT);
    if (x.natDir !== undefined) w.u32be(CTA_EXPECT_NAT.DIR, x.natDir);
    if (x.natTuple) writeTuple(w, CTA_EXPECT_NAT.TUPLE, fam, x.natTuple, 'natTuple');
    writeUnknown(w, x, 'nat');
    w.nestEnd(n);
  }
  if (x.timeout !== undefined) w.u32be(CTA_EXPECT.TIMEOUT, x.timeout);
  if (x.id !== undefined) w.u32be(CTA_EXPECT.ID, x.id);
  if (x.flags !== undefined) w.u32be(CTA_EXPECT.FLAGS, x.flags);
  if (x.class !== undefined) w.u32be(CTA_EXPECT.CLASS, x.class);
  if (x.helper !== undefined) w.strz(CTA_EXPECT.HELP_NAME, x.helper);
  if (x.fn !== undefined) w.strz(CTA_EXPECT.FN, x.fn);
  if (x.zone !== undefined) w.u16be(CTA_EXPECT.ZONE, x.zone);
  writeUnknown(w, x, '');
}
