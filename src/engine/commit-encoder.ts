// Commit's hot path: a cached entry's sync wire attributes into a ctnetlink create request, the
// two codecs back to back: scanCtWire (sync/ct-wire.ts) -> FlowFields -> writeCreate
// (netlink/ct-write.ts). No Entry objects, no address strings. A commit spends its time in the
// kernel, not here (about 1 µs an entry here, 2 to 3 there). What it writes is what
// writeCreateAttrs(decodeCtAttrs(attrs)) writes (adapters over the same codecs; a unit test
// holds them to each other), but for the mark of an update (CommitEncodeOptions.update).
import type { NlWriter } from '../netlink/attr.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { writeCreate, writeIdentity, type CreateOptions } from '../netlink/ct-write.js';
import { FlowFields } from '../conntrack/flow-fields.js';
import { scanCtWire } from '../sync/ct-wire.js';

export interface CommitEncodeOptions {
  /** Seconds for CTA_TIMEOUT (already computed: CommitTimeout or remaining time). */
  timeout: number;
  liberal: boolean;
  /**
   * The request updates an entry the kernel already has: the mark goes even when it is 0 (a new
   * entry has 0 anyway, an existing one may have another).
   */
  update: boolean;
}

/** The entry scanTimeout() read; reused for every entry. */
const f = new FlowFields();
let scanned = false;
const createOpts: CreateOptions = { timeout: 0, liberal: false, markAlways: false };

/**
 * Reads the wire attributes b[start, end) of one entry (kept until the next call) and returns
 * its TIMEOUT attribute, -1 if absent: the caller computes the commit timeout from it.
 */
export function scanTimeout(b: Uint8Array, start: number, end: number): number {
  scanned = scanCtWire(b, start, end, f);
  return scanned ? f.timeout : -1;
}

/** The scanned entry has a tuple the kernel can take (addresses and a protocol). */
function usable(): boolean {
  return scanned && f.orig.src >= 0 && f.orig.proto !== 0;
}

/**
 * Writes the attributes of a CT_NEW create request for the entry scanTimeout() just read (whose
 * bytes `b` still holds). Returns false (nothing written) when the entry cannot be written: no
 * usable tuple, or an address of the other family than the entry's.
 */
export function writeScannedCreate(w: NlWriter, _b: Uint8Array, opts: CommitEncodeOptions): boolean {
  if (!usable()) return false;
  createOpts.timeout = opts.timeout;
  createOpts.liberal = opts.liberal;
  createOpts.markAlways = opts.update;
  return writeCreate(w, f, createOpts) === 0;
}

/** Layer-3 family of the scanned entry (2 or 10). */
export function scannedFamily(): number {
  return f.family === AF_INET6 ? AF_INET6 : AF_INET;
}

/** Identity of the scanned entry (original tuple + zone): for the delete of a replace. */
export function writeScannedIdentity(w: NlWriter, _b: Uint8Array): boolean {
  return usable() && writeIdentity(w, f) === 0;
}
