// What the caches share: object states and counters as conntrackd has them, and the object view
// of a cached entry (dumps). The conntrack caches are arenas (arena-cache.ts), the expectation
// caches maps of objects (expect-cache.ts).
//
// Every cache holds an entry as its sync wire attributes: what conntrackd itself sends, so a bulk
// send or a retransmission is a copy (no re-encoding), and small (~80 bytes for a TCP flow, where
// a decoded Entry graph costs over 1 KB).
import type { Entry } from '../conntrack/entry.js';
import { decodeCtAttrs } from '../sync/wire-attrs.js';

/** Object states as conntrackd has them: NEW (added), ALIVE (updated since), DEAD (destroyed, kept until the peer ACKs it). */
export const enum ObjectState {
  NEW = 0,
  ALIVE = 1,
  DEAD = 2,
}

export class CacheObject {
  constructor(
    readonly key: string,
    /** Sync wire attributes (TLVs without the 8-byte header), latin1. */
    public attrs: string,
    public state: ObjectState,
    /** Unix seconds when the entry entered the cache ("active since"). */
    public added: number,
    /** Unix seconds of the last change (commit subtracts the age from the cached timeout). */
    public updated: number,
  ) {}
}

/** conntrackd's per-cache counters (`conntrackd -s cache`). */
export interface CacheCounters {
  created: number;
  createFailed: number;
  updated: number;
  updateFailed: number;
  destroyed: number;
  destroyFailed: number;
}

/** Scratch space for encoding one entry: sync messages are far below 4 KiB. */
const scratch = Buffer.allocUnsafe(8192);

/** Decodes stored attributes back into an Entry. */
export function decodeStored(attrs: string): Entry {
  const n = scratch.write(attrs, 0, 'latin1');
  const e = decodeCtAttrs(scratch, 0, n);
  if (!e) throw new Error('cache holds attributes that do not decode (bug)');
  return e;
}

/** Overlays the fields `next` has on `prev`: an UPDATE event carries only what changed. */
export function mergeEntry(prev: Entry, next: Entry): Entry {
  const out = prev as unknown as Record<string, unknown>; // prev is a fresh decode: ours to change
  const add = next as unknown as Record<string, unknown>;
  for (const k in add) {
    const v = add[k];
    if (v === undefined) continue;
    const old = out[k];
    // protocol info is itself partial in events: merge one level down
    out[k] =
      (k === 'tcp' || k === 'sctp' || k === 'dccp') && old && typeof old === 'object' ? Object.assign(old, v) : v;
  }
  return prev;
}

/** What dumps, stats and commits read from either cache. */
export interface CacheView {
  readonly name: string;
  readonly size: number;
  readonly totalObjects: number;
  readonly counters: CacheCounters;
  values(): IterableIterator<CacheObject>;
  entry(obj: CacheObject): Entry;
}
