// The primary's per-event hot path: a ctnetlink conntrack event into the sync wire attributes the
// caches store (and the flow key, and what the filter looks at), with no Entry objects and no
// address strings. It is the two codecs back to back:
//
//   NEW               scanConntrack(msg) -> FlowFields -> writeCtWire
//   UPDATE / DESTROY  scanCtWire(stored) and scanConntrack(msg) -> mergeFields -> writeCtWire
//   key               flowKeyOfFields(scanned message)
//
// which gives what the general path gives (decodeConntrack, mergeEntry, encodeCtAttrs: adapters
// over the same codecs; test/unit/engine/event-transcoder.test.ts holds the two to each other). Where
// the general path would throw, this answers "fall back" (false / undefined / -1) and the caller
// runs the general path for the exact error; so does a helper name that is not valid UTF-8 (the
// general path's text of it differs from its bytes).
import { NetlinkDecodeError } from '../netlink/attr.js';
import { scanConntrack } from '../netlink/ct-scan.js';
import { FlowFields, mergeFields } from '../conntrack/flow-fields.js';
import { flowKeyOfFields } from '../conntrack/key.js';
import { MAX_CT_ATTRS_LEN, scanCtWire, writeCtWire } from '../sync/ct-wire.js';
import { wireOptBits, type CtEncodeOptions } from '../sync/wire-attrs.js';

export { MAX_CT_ATTRS_LEN };

const keyBuf = Buffer.allocUnsafe(40);

/**
 * Reusable (one per engine; not re-entrant). Per kernel event:
 *
 *   if (!t.scan(buf, off, len)) -> general path (decodeConntrack throws: malformed)
 *   if (!filter(t)) -> drop                  (flow-filter.ts: makeFilter(rules) on the scan)
 *   const key = t.key()                      (undefined -> general path)
 *   NEW:   n = t.encode()                    (-1 -> general path); attrs = t.attrs(n)
 *   UPDATE/DESTROY on a live cached object: n = t.encodeMerged(obj.attrs); else as NEW
 */
export class EventTranscoder {
  /** The scanned message (valid after scan() returned true). */
  readonly upd = new FlowFields();
  /** Default output of encode()/encodeMerged(). */
  readonly out = Buffer.allocUnsafe(MAX_CT_ATTRS_LEN);
  private readonly old = new FlowFields();
  private readonly merged = new FlowFields();
  private readonly oldBuf = Buffer.allocUnsafe(8192);
  private readonly opt: number;

  constructor(opts?: CtEncodeOptions) {
    this.opt = wireOptBits(opts);
  }

  /**
   * Scans one conntrack message (`off`/`len` delimit the netlink message, header included, as
   * decodeConntrack takes them). False exactly when decodeConntrack would throw.
   * The buffer must stay unchanged until the results have been used.
   */
  scan(buf: Uint8Array, off: number, len: number): boolean {
    try {
      scanConntrack(buf, off, len, this.upd);
      return true;
    } catch (err) {
      if (err instanceof NetlinkDecodeError) return false;
      throw err;
    }
  }

  // ---- what the filter looks at (flow-filter.ts), of the scanned message

  /** nfgenmsg family. */
  get family(): number {
    return this.upd.family;
  }

  /** Original tuple's L4 protocol (0 when the message has none, as decodeConntrack). */
  get proto(): number {
    return this.upd.orig.proto;
  }

  /** TCP state of the (last) TCP protoinfo, -1 when none. */
  get tcpState(): number {
    return this.upd.tcpState;
  }

  /**
   * The flow key: flowKey(decodeConntrack(msg)). Undefined where flowKey would throw (an address
   * of the other family than the message's).
   */
  key(): string | undefined {
    const n = flowKeyOfFields(this.upd, keyBuf);
    return n < 0 ? undefined : keyBuf.toString('latin1', 0, n);
  }

  /** key() as bytes written to `b` (at least 40 bytes): their length, or -1 where key() is undefined. */
  keyBytes(b: Uint8Array): number {
    return flowKeyOfFields(this.upd, b);
  }

  /**
   * encodeCtAttrs(decodeConntrack(msg), opts) into `out` at `at` (default: this.out at 0).
   * Returns the end offset, or -1: fall back to the general path (it throws WireEncodeError, or
   * the helper name is not valid UTF-8).
   */
  encode(out: Uint8Array = this.out, at = 0): number {
    if (at + MAX_CT_ATTRS_LEN > out.length) throw new RangeError('output buffer too small for a CT message');
    const n = writeCtWire(this.upd, this.opt, out, at);
    return n < 0 ? -1 : n;
  }

  /**
   * encodeCtAttrs(mergeEntry(decodeStored(old), decodeConntrack(msg)), opts): the scanned
   * (partial) event merged into stored wire attributes (a latin1 string as the caches hold them,
   * or bytes). Returns the end offset in `out`, or -1: fall back to the general path.
   */
  encodeMerged(old: string | Uint8Array, out: Uint8Array = this.out, at = 0): number {
    if (at + MAX_CT_ATTRS_LEN > out.length) throw new RangeError('output buffer too small for a CT message');
    let ob: Uint8Array;
    let n: number;
    if (typeof old === 'string') {
      if (old.length > this.oldBuf.length) return -1;
      n = this.oldBuf.write(old, 0, 'latin1');
      ob = this.oldBuf;
    } else {
      ob = old;
      n = old.length;
    }
    return this.mergeInto(ob, 0, n, out, at);
  }

  /** encodeMerged() with the stored attributes at old[start, end) (an arena record), into this.out. */
  encodeMergedFrom(old: Uint8Array, start: number, end: number): number {
    return this.mergeInto(old, start, end, this.out, 0);
  }

  private mergeInto(old: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
    if (!scanCtWire(old, start, end, this.old)) return -1;
    mergeFields(this.merged, this.old, this.upd);
    const n = writeCtWire(this.merged, this.opt, out, at);
    return n < 0 ? -1 : n;
  }

  /** The attributes encoded in this.out as the caches store them (latin1 string). */
  attrs(end: number): string {
    return this.out.toString('latin1', 0, end);
  }
}
