// Entry <-> FlowFields: the adapters that put the general (object) API of every codec on its one
// scan and its one writer. entryOfFields builds the Entry a scan describes; EntryFields.load lays
// an Entry out flat (addresses parsed, names and byte strings written into its own buffer) for a
// writer. Loading never throws: what does not convert is marked (AddrKind.BAD, BAD_OFFSET,
// labelsBad) and a writer that needs it fails; its adapter then says why, naming the field.
import type { Counters, Entry, NatRange, SeqAdj, Tuple } from './entry.js';
import { AF_INET6 } from '../netlink/constants.js';
import { formatIPv4, formatIPv6, parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';
import { AddrKind, BAD_OFFSET, FlowFields, NatFields, SeqAdjFields, TupleFields } from './flow-fields.js';

// ------------------------------------------------------------------------------- fields -> Entry

/** A Buffer over the bytes of `b` (no copy). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function addrText(b: Uint8Array, p: number, kind: AddrKind): string {
  if (kind === AddrKind.V4) return formatIPv4(b, p);
  if (kind === AddrKind.V6) return formatIPv6(b, p);
  return '';
}

/** UTF-8 text of b[p, p + n). */
export function utf8(b: Uint8Array, p: number, n: number): string {
  let ascii = true;
  for (let i = p; i < p + n; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii) return asBuffer(b).toString('utf8', p, p + n);
  let s = '';
  for (let i = p; i < p + n; i++) s += String.fromCharCode(b[i]);
  return s;
}

const HEX = '0123456789abcdef';

/** The 8 big-endian bytes at b[p] as a decimal string. */
function u64Text(b: Uint8Array, p: number): string {
  return asBuffer(b).readBigUInt64BE(p).toString();
}

/**
 * A Tuple of TupleFields. `of` / `ofText` (optional): a tuple already made (its TupleFields and
 * Tuple); an address at the same place in the same buffer takes its text (the reply of an
 * un-NATed flow repeats the original's addresses: formatted once).
 */
export function tupleOf(t: TupleFields, of?: TupleFields, ofText?: Tuple): Tuple {
  let src: string;
  let dst: string;
  if (of && ofText && t.buf === of.buf && t.src === of.dst && t.srcKind === of.dstKind) src = ofText.dst;
  else src = addrText(t.buf, t.src, t.srcKind);
  if (of && ofText && t.buf === of.buf && t.dst === of.src && t.dstKind === of.srcKind) dst = ofText.src;
  else dst = addrText(t.buf, t.dst, t.dstKind);
  const out: Tuple = { src, dst, proto: t.proto };
  if (t.sport >= 0) out.sport = t.sport;
  if (t.dport >= 0) out.dport = t.dport;
  if (t.icmpId >= 0) out.icmpId = t.icmpId;
  if (t.icmpType >= 0) out.icmpType = t.icmpType;
  if (t.icmpCode >= 0) out.icmpCode = t.icmpCode;
  if (t.zone >= 0) out.zone = t.zone;
  return out;
}

function natOf(n: NatFields, b: Uint8Array): NatRange {
  const out: NatRange = {};
  if (n.minIp >= 0) out.minIp = addrText(b, n.minIp, n.minKind);
  if (n.maxIp >= 0) out.maxIp = addrText(b, n.maxIp, n.maxKind);
  if (n.minPort >= 0) out.minPort = n.minPort;
  if (n.maxPort >= 0) out.maxPort = n.maxPort;
  return out;
}

function seqAdjOf(s: SeqAdjFields): SeqAdj {
  return { correctionPos: s.correctionPos, offsetBefore: s.offsetBefore, offsetAfter: s.offsetAfter };
}

/** The label bitmap as Entry.labels has it: hex of the kernel's bytes (little-endian u32 words). */
function labelsText(f: FlowFields): string {
  const b = f.labelsBuf;
  const p = f.labels;
  const n = f.labelsLen;
  if (!f.labelsWire) return asBuffer(b).toString('hex', p, p + n);
  let h = '';
  for (let w = p; w < p + n; w += 4) {
    for (let k = 3; k >= 0; k--) h += HEX[b[w + k] >> 4] + HEX[b[w + k] & 15];
  }
  return h;
}

/** The Entry `f` describes. Fields in one fixed order (one object shape for every decoder). */
export function entryOfFields(f: FlowFields): Entry {
  const b = f.buf;
  const orig = tupleOf(f.orig);
  const e: Entry = { family: f.family, orig };
  if (f.reply.present) e.reply = tupleOf(f.reply, f.orig, orig);
  if (f.master.present) e.master = tupleOf(f.master);
  if (f.status >= 0) e.status = f.status;
  if (f.timeout >= 0) e.timeout = f.timeout;
  if (f.mark >= 0) e.mark = f.mark;
  if (f.zone >= 0) e.zone = f.zone;
  if (f.use >= 0) e.use = f.use;
  if (f.id >= 0) e.id = f.id;
  if (f.secmark >= 0) e.secmark = f.secmark;
  if (f.secctx >= 0) e.secctx = utf8(b, f.secctx, f.secctxLen);
  if (f.helper >= 0) e.helper = utf8(f.helperBuf, f.helper, f.helperLen);
  if (f.labels >= 0) e.labels = labelsText(f);
  if (f.labelsMask >= 0) e.labelsMask = asBuffer(b).toString('hex', f.labelsMask, f.labelsMask + f.labelsMaskLen);
  if (f.tcp) {
    e.tcp = {};
    if (f.tcpState >= 0) e.tcp.state = f.tcpState;
    if (f.wsO >= 0) e.tcp.wscaleOrig = f.wsO;
    if (f.wsR >= 0) e.tcp.wscaleReply = f.wsR;
    if (f.flagsO >= 0) e.tcp.flagsOrig = f.flagsO;
    if (f.maskO >= 0) e.tcp.maskOrig = f.maskO;
    if (f.flagsR >= 0) e.tcp.flagsReply = f.flagsR;
    if (f.maskR >= 0) e.tcp.maskReply = f.maskR;
  }
  if (f.sctp) {
    e.sctp = {};
    if (f.sctpState >= 0) e.sctp.state = f.sctpState;
    if (f.vtagO >= 0) e.sctp.vtagOrig = f.vtagO;
    if (f.vtagR >= 0) e.sctp.vtagReply = f.vtagR;
  }
  if (f.dccp) {
    e.dccp = {};
    if (f.dccpState >= 0) e.dccp.state = f.dccpState;
    if (f.dccpRole >= 0) e.dccp.role = f.dccpRole;
    if (f.dccpSeq >= 0) e.dccp.handshakeSeq = u64Text(b, f.dccpSeq);
  }
  if (f.natSrc.present) e.natSrc = natOf(f.natSrc, b);
  if (f.natDst.present) e.natDst = natOf(f.natDst, b);
  if (f.seqO.present) e.seqAdjOrig = seqAdjOf(f.seqO);
  if (f.seqR.present) e.seqAdjReply = seqAdjOf(f.seqR);
  if (f.countersO) e.countersOrig = { packets: f.packetsO, bytes: f.bytesO };
  if (f.countersR) e.countersReply = { packets: f.packetsR, bytes: f.bytesR };
  if (f.tsStart >= 0) e.timestampStart = u64Text(b, f.tsStart);
  if (f.tsStop >= 0) e.timestampStop = u64Text(b, f.tsStop);
  if (f.syn.present) e.synproxy = { isn: f.syn.isn, its: f.syn.its, tsoff: f.syn.tsoff };
  return e;
}

// ------------------------------------------------------------------------------- Entry -> fields

const num = (v: number | undefined): number => (v === undefined ? -1 : v);

function loadSeqAdj(s: SeqAdjFields, from: SeqAdj): void {
  s.present = true;
  s.correctionPos = from.correctionPos;
  s.offsetBefore = from.offsetBefore;
  s.offsetAfter = from.offsetAfter;
}

/** An Entry laid out as FlowFields, in a buffer of its own (reused: valid until the next load). */
export class EntryFields {
  readonly f = new FlowFields();
  private buf = Buffer.alloc(1024);
  private at = 0;
  private v6 = false;
  /** The offset of the address tupleAddr last placed. */
  private placedAt = -1;

  /**
   * Lays `e` out; the entry's family decides how addresses are read. Never throws. (Every field
   * is set once, here, rather than cleared first: this is the general encoders' per-entry cost.)
   */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  load(e: Entry): FlowFields {
    this.at = 0;
    const need = 256 + textBytes(e);
    if (need > this.buf.length) this.buf = Buffer.alloc(Math.max(need, 2 * this.buf.length));
    const f = this.f;
    const buf = this.buf;
    f.buf = f.helperBuf = f.labelsBuf = buf;
    f.forgetRare();
    f.unknown.count = 0;
    f.seenLo = f.seenHi = 0;
    this.v6 = e.family === AF_INET6;
    f.family = e.family;
    const o = e.orig;
    if (o) this.tuple(f.orig, o);
    else f.orig.clear(buf);
    const r = e.reply;
    if (r) this.tuple(f.reply, r, o ? f.orig : undefined, o);
    else f.reply.present = false;
    if (e.master) this.tuple(f.master, e.master);
    else f.master.present = false;
    f.status = num(e.status);
    f.timeout = num(e.timeout);
    f.mark = num(e.mark);
    f.zone = num(e.zone);
    f.use = num(e.use);
    f.id = num(e.id);
    if (e.helper !== undefined) {
      f.helper = this.at;
      f.helperLen = this.text(e.helper);
    } else {
      f.helper = -1;
      f.helperLen = 0;
    }
    f.labelsWire = false;
    if (e.labels !== undefined) {
      f.labels = this.at;
      f.labelsLen = this.hex(e.labels);
      f.labelsBad = !/^(?:[0-9a-fA-F]{2})*$/.test(e.labels);
    } else {
      f.labels = -1;
      f.labelsLen = 0;
      f.labelsBad = false;
    }
    const tcp = e.tcp;
    f.tcp = tcp !== undefined;
    f.tcpState = num(tcp?.state);
    f.wsO = num(tcp?.wscaleOrig);
    f.wsR = num(tcp?.wscaleReply);
    f.flagsO = num(tcp?.flagsOrig);
    f.maskO = num(tcp?.maskOrig);
    f.flagsR = num(tcp?.flagsReply);
    f.maskR = num(tcp?.maskReply);
    const sctp = e.sctp;
    f.sctp = sctp !== undefined;
    f.sctpState = num(sctp?.state);
    f.vtagO = num(sctp?.vtagOrig);
    f.vtagR = num(sctp?.vtagReply);
    const dccp = e.dccp;
    f.dccp = dccp !== undefined;
    f.dccpState = num(dccp?.state);
    f.dccpRole = num(dccp?.role);
    if (hasRare(e)) this.loadRare(e);
    return f;
  }

  /** The fields few entries have (FlowFields.rare: set when one of them is). */
  private loadRare(e: Entry): void {
    const f = this.f;
    f.rare = true;
    if (e.secmark !== undefined) f.secmark = e.secmark;
    if (e.secctx !== undefined) {
      f.secctx = this.at;
      f.secctxLen = this.text(e.secctx);
    }
    if (e.labelsMask !== undefined) {
      f.labelsMask = this.at;
      f.labelsMaskLen = this.hex(e.labelsMask);
    }
    if (e.dccp?.handshakeSeq !== undefined) f.dccpSeq = this.u64(e.dccp.handshakeSeq);
    if (e.natSrc) this.nat(f.natSrc, e.natSrc);
    if (e.natDst) this.nat(f.natDst, e.natDst);
    if (e.seqAdjOrig) loadSeqAdj(f.seqO, e.seqAdjOrig);
    if (e.seqAdjReply) loadSeqAdj(f.seqR, e.seqAdjReply);
    const sp = e.synproxy;
    if (sp) {
      f.syn.present = true;
      f.syn.isn = sp.isn;
      f.syn.its = sp.its;
      f.syn.tsoff = sp.tsoff;
    }
    if (e.countersOrig) counters(f, true, e.countersOrig);
    if (e.countersReply) counters(f, false, e.countersReply);
    if (e.timestampStart !== undefined) f.tsStart = this.u64(e.timestampStart);
    if (e.timestampStop !== undefined) f.tsStop = this.u64(e.timestampStop);
    const u = e.unknown;
    if (u) {
      // only the top-level ones can be written (the nested ones stay in the model)
      for (const a of u) {
        if ((a.path ?? '') !== '') continue;
        const p = this.at;
        f.unknown.add(a.type, p, this.hex(a.data), 0);
      }
    }
  }

  /**
   * Tuple addresses: an empty or missing text is NONE, one that does not parse BAD. A reply
   * address that repeats the original's (no NAT) is not parsed again.
   */
  private tuple(t: TupleFields, x: Tuple, of?: TupleFields, ox?: Tuple): void {
    t.buf = this.buf;
    t.present = true;
    const mirrors = of !== undefined && ox !== undefined;
    t.srcKind = this.tupleAddr(x.src, mirrors && x.src === ox.dst ? of.dstKind : AddrKind.NONE, of?.dst ?? -1);
    t.src = this.placedAt;
    t.dstKind = this.tupleAddr(x.dst, mirrors && x.dst === ox.src ? of.srcKind : AddrKind.NONE, of?.src ?? -1);
    t.dst = this.placedAt;
    t.proto = x.proto ?? 0;
    t.sport = num(x.sport);
    t.dport = num(x.dport);
    t.icmpType = num(x.icmpType);
    t.icmpCode = num(x.icmpCode);
    t.icmpId = num(x.icmpId);
    t.zone = num(x.zone);
  }

  /** NAT range addresses: any text that does not parse (the empty one too) is BAD. */
  private nat(n: NatFields, x: NatRange): void {
    n.present = true;
    if (x.minIp !== undefined) {
      n.minIp = this.at;
      n.minKind = this.addr(x.minIp);
    }
    if (x.maxIp !== undefined) {
      n.maxIp = this.at;
      n.maxKind = this.addr(x.maxIp);
    }
    n.minPort = num(x.minPort);
    n.maxPort = num(x.maxPort);
  }

  /** Parses an address of the entry's family into the next 16 bytes. */
  /**
   * One address of a tuple: where the same address already stands (`sameKind` not NONE: at
   * `sameAt`), else `text` parsed into the buffer, else NONE. Returns its kind and leaves its
   * offset (-1 for NONE) in placedAt.
   */
  private tupleAddr(text: string, sameKind: AddrKind, sameAt: number): AddrKind {
    if (sameKind !== AddrKind.NONE) {
      this.placedAt = sameAt;
      return sameKind;
    }
    if (typeof text === 'string' && text !== '') {
      this.placedAt = this.at;
      return this.addr(text);
    }
    this.placedAt = -1;
    return AddrKind.NONE;
  }

  private addr(s: string): AddrKind {
    const p = this.at;
    this.at += 16;
    try {
      if (this.v6) parseIPv6Into(s, this.buf, p);
      else parseIPv4Into(s, this.buf, p);
    } catch {
      return AddrKind.BAD;
    }
    return this.v6 ? AddrKind.V6 : AddrKind.V4;
  }

  /** UTF-8 bytes of `s`; their count. */
  private text(s: string): number {
    const n = this.buf.write(s, this.at, 'utf8');
    this.at += n;
    return n;
  }

  /** The bytes Buffer.from(s, 'hex') makes of `s`; their count. */
  private hex(s: string): number {
    const n = this.buf.write(s, this.at, 'hex');
    this.at += n;
    return n;
  }

  /** A decimal u64 as 8 big-endian bytes; its offset, or BAD_OFFSET. */
  private u64(s: string): number {
    const p = this.at;
    try {
      this.buf.writeBigUInt64BE(BigInt(s), p);
    } catch {
      return BAD_OFFSET;
    }
    this.at += 8;
    return p;
  }
}

/** Bytes an Entry's texts can take in EntryFields' buffer, addresses aside. */
function textBytes(e: Entry): number {
  let n = 0;
  if (typeof e.secctx === 'string') n += 3 * e.secctx.length;
  if (typeof e.helper === 'string') n += 3 * e.helper.length;
  if (typeof e.labels === 'string') n += e.labels.length;
  if (typeof e.labelsMask === 'string') n += e.labelsMask.length;
  if (e.unknown) for (const a of e.unknown) n += typeof a.data === 'string' ? a.data.length : 0;
  return n;
}

/** Has the entry any of the fields few entries have? */
function hasRare(e: Entry): boolean {
  return (
    e.secmark !== undefined ||
    e.secctx !== undefined ||
    e.labelsMask !== undefined ||
    e.dccp?.handshakeSeq !== undefined ||
    e.natSrc !== undefined ||
    e.natDst !== undefined ||
    e.countersOrig !== undefined ||
    e.countersReply !== undefined ||
    e.timestampStart !== undefined ||
    e.timestampStop !== undefined ||
    e.unknown !== undefined ||
    e.seqAdjOrig !== undefined ||
    e.seqAdjReply !== undefined ||
    e.synproxy !== undefined
  );
}

function counters(f: FlowFields, orig: boolean, c: Counters): void {
  if (orig) {
    f.countersO = true;
    f.packetsO = c.packets;
    f.bytesO = c.bytes;
  } else {
    f.countersR = true;
    f.packetsR = c.packets;
    f.bytesR = c.bytes;
  }
}
