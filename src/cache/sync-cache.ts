// The internal cache (this node's flows, fed by the kernel) and the external cache (the peer's
// flows, fed by sync messages) share one structure: flow key -> object holding the entry's sync
// wire attributes as a compact one-byte string.
//
// Why the wire form: it is what conntrackd itself sends, so a bulk send or a retransmission is a
// copy (no re-encoding), and it is small: ~80 bytes for a TCP flow, about 250 bytes per cached
// entry with the key and the object, where a decoded Entry graph costs over 1 KB.
import type { Entry } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import { decodeCtAttrs, encodeCtAttrs, type CtEncodeOptions } from '../sync/wire-attrs.js';

/** Object states as conntrackd has them: NEW (added), ALIVE (updated since), DEAD (destroyed, kept until the peer ACKs it). */
export const enum ObjectState {
  NEW = 0,
  ALIVE = 1,
  DEAD = 2,
}

export class CacheObject {
  /** FT-FW's record while the protocol holds this object (FtFwOptions.nodeOf); opaque. */
  ftfw: object | undefined = undefined;
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
    out[k] = (k === 'tcp' || k === 'sctp' || k === 'dccp') && old && typeof old === 'object' ? Object.assign(old, v) : v;
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

export class SyncCache implements CacheView {
  private readonly objects = new Map<string, CacheObject>();
  private live = 0;
  readonly counters: CacheCounters = { created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0 };

  /**
   * @param name 'internal' or 'external', for messages and stats
   * @param limit most objects held (conntrackd's HashLimit); more are refused and counted
   * @param encodeOptions how entries are stored = how they are sent (CommitTimeout, window tracking)
   */
  constructor(readonly name: string, readonly limit: number, private readonly encodeOptions: CtEncodeOptions) {}

  /** Entries that are not DEAD. */
  get size(): number {
    return this.live;
  }

  /** All objects, DEAD ones included. */
  get totalObjects(): number {
    return this.objects.size;
  }

  get(key: string): CacheObject | undefined {
    return this.objects.get(key);
  }

  values(): IterableIterator<CacheObject> {
    return this.objects.values();
  }

  entry(obj: CacheObject): Entry {
    return decodeStored(obj.attrs);
  }

  private encode(e: Entry): string {
    const end = encodeCtAttrs(scratch, 0, e, this.encodeOptions);
    return scratch.toString('latin1', 0, end);
  }

  /**
   * Adds an entry, or replaces the one with the same flow key. Returns the object, or undefined
   * when the cache is full (counted in createFailed).
   */
  add(e: Entry, now: number, key = flowKey(e)): CacheObject | undefined {
    return this.store(key, this.encode(e), now, ObjectState.NEW);
  }

  /** Adds from already-encoded wire attributes (a received message: no re-encoding). */
  addEncoded(key: string, attrs: string, now: number): CacheObject | undefined {
    return this.store(key, attrs, now, ObjectState.NEW);
  }

  private store(key: string, attrs: string, now: number, state: ObjectState): CacheObject | undefined {
    const old = this.objects.get(key);
    if (old) {
      if (old.state === ObjectState.DEAD) this.live++;
      old.attrs = attrs;
      old.state = state;
      old.added = now;
      old.updated = now;
      this.counters.created++;
      return old;
    }
    if (this.live >= this.limit) {
      this.counters.createFailed++;
      return undefined;
    }
    const obj = new CacheObject(key, attrs, state, now, now);
    this.objects.set(key, obj);
    this.live++;
    this.counters.created++;
    return obj;
  }

  /**
   * Applies an update: fields present in `e` overwrite, absent ones are kept; an unknown flow is
   * added. The object becomes ALIVE.
   */
  update(e: Entry, now: number, key = flowKey(e)): CacheObject | undefined {
    const old = this.objects.get(key);
    if (!old || old.state === ObjectState.DEAD) {
      const obj = this.add(e, now, key);
      if (obj) obj.state = ObjectState.ALIVE;
      return obj;
    }
    old.attrs = this.encode(mergeEntry(decodeStored(old.attrs), e));
    old.state = ObjectState.ALIVE;
    old.updated = now;
    this.counters.updated++;
    return old;
  }

  /**
   * Overwrites a live object's attributes with already-encoded ones that say at least as much
   * (a received full update: no decode, no merge). The object becomes ALIVE.
   */
  overwriteEncoded(obj: CacheObject, attrs: string, now: number): void {
    obj.attrs = attrs;
    obj.state = ObjectState.ALIVE;
    obj.updated = now;
    this.counters.updated++;
  }

  /**
   * Replaces a flow with a complete entry (from a dump: nothing to merge); a known flow becomes
   * ALIVE and keeps its age. Returns the object, or undefined when the cache is full.
   */
  replace(e: Entry, now: number, key = flowKey(e)): CacheObject | undefined {
    const old = this.objects.get(key);
    if (!old || old.state === ObjectState.DEAD) return this.add(e, now, key);
    const attrs = this.encode(e);
    if (attrs !== old.attrs) {
      old.attrs = attrs;
      old.state = ObjectState.ALIVE;
      old.updated = now;
      this.counters.updated++;
    }
    return old;
  }

  /** Marks a flow destroyed (kept, DEAD, until the peer has acknowledged it). */
  kill(key: string, now: number, last?: Entry): CacheObject | undefined {
    const obj = this.liveObject(key);
    if (obj && last) obj.attrs = this.encode(mergeEntry(decodeStored(obj.attrs), last));
    return obj && this.markDead(obj, now);
  }

  /**
   * kill() with the final attributes already encoded (the last event merged in by the caller);
   * without them the stored attributes stay.
   */
  killEncoded(key: string, now: number, attrs?: string): CacheObject | undefined {
    const obj = this.liveObject(key);
    if (obj && attrs !== undefined) obj.attrs = attrs;
    return obj && this.markDead(obj, now);
  }

  /** The live object of a key; a missing or DEAD one counts as a failed destroy. */
  private liveObject(key: string): CacheObject | undefined {
    const obj = this.objects.get(key);
    if (obj && obj.state !== ObjectState.DEAD) return obj;
    this.counters.destroyFailed++;
    return undefined;
  }

  private markDead(obj: CacheObject, now: number): CacheObject {
    obj.state = ObjectState.DEAD;
    obj.updated = now;
    this.live--;
    this.counters.destroyed++;
    return obj;
  }

  /** Removes a flow outright (external cache on CT_DEL; a DEAD object once acknowledged). */
  remove(key: string): boolean {
    const obj = this.objects.get(key);
    if (!obj) return false;
    this.objects.delete(key);
    if (obj.state !== ObjectState.DEAD) {
      this.live--;
      this.counters.destroyed++;
    }
    return true;
  }

  /** Drops everything (`-f`). Returns how many live entries were dropped. */
  flush(): number {
    const n = this.live;
    this.objects.clear();
    this.live = 0;
    return n;
  }
}
