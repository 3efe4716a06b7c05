// What the caches share: object states and counters as conntrackd has them, the object view of a
// cached entry (dumps), and a key -> object table (ObjectTable, for the expectation caches; the
// conntrack caches are arenas, arena-cache.ts).
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

/**
 * Key -> object, with conntrackd's object states and per-cache counters. What the objects' attrs
 * hold (conntrack or expectation wire attributes) is the subclass's business.
 */
export class ObjectTable<O extends CacheObject> {
  protected readonly objects = new Map<string, O>();
  protected live = 0;
  readonly counters: CacheCounters = { created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0 };

  /**
   * @param name 'internal' or 'external', for messages and stats
   * @param limit most objects held (conntrackd's HashLimit); more are refused and counted
   * @param make builds a new object (the subclass's object type)
   */
  constructor(readonly name: string, readonly limit: number, private readonly make: (key: string, attrs: string, state: ObjectState, now: number) => O) {}

  /** Entries that are not DEAD. */
  get size(): number {
    return this.live;
  }

  /** All objects, DEAD ones included. */
  get totalObjects(): number {
    return this.objects.size;
  }

  get(key: string): O | undefined {
    return this.objects.get(key);
  }

  values(): IterableIterator<O> {
    return this.objects.values();
  }

  /** Adds or replaces the object of `key`; undefined when the cache is full (counted in createFailed). */
  protected store(key: string, attrs: string, now: number, state: ObjectState): O | undefined {
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
    const obj = this.make(key, attrs, state, now);
    this.objects.set(key, obj);
    this.live++;
    this.counters.created++;
    return obj;
  }

  /**
   * Overwrites a live object's attributes with already-encoded ones that say at least as much
   * (a received full update: no decode, no merge). The object becomes ALIVE.
   */
  overwriteEncoded(obj: O, attrs: string, now: number): void {
    obj.attrs = attrs;
    obj.state = ObjectState.ALIVE;
    obj.updated = now;
    this.counters.updated++;
  }

  /**
   * Marks an object destroyed (kept, DEAD, until the peer has acknowledged it), with its final
   * attributes when given (already encoded: the last event merged in by the caller).
   */
  killEncoded(key: string, now: number, attrs?: string): O | undefined {
    const obj = this.liveObject(key);
    if (obj && attrs !== undefined) obj.attrs = attrs;
    return obj && this.markDead(obj, now);
  }

  /** The live object of a key; a missing or DEAD one counts as a failed destroy. */
  protected liveObject(key: string): O | undefined {
    const obj = this.objects.get(key);
    if (obj && obj.state !== ObjectState.DEAD) return obj;
    this.counters.destroyFailed++;
    return undefined;
  }

  protected markDead(obj: O, now: number): O {
    obj.state = ObjectState.DEAD;
    obj.updated = now;
    this.live--;
    this.counters.destroyed++;
    return obj;
  }

  /** Removes an object outright (external cache on a DEL message; a DEAD object once acknowledged). */
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
