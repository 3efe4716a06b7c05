// The expectation caches (conntrackd's `ExpectationSync`): this node's expectations (internal,
// fed by the kernel's expectation events and dumps) and the peer's (external, fed by EXP
// messages). Expectations are few (one per FTP/SIP/... control connection waiting for its data
// connection), so both are plain maps of objects; like the conntrack caches, an object holds its
// expectation as sync wire attributes, which is what a bulk send or a retransmission copies.
import type { Expect } from '../conntrack/entry.js';
import { tupleKey } from '../conntrack/key.js';
import { decodeExpAttrs, encodeExpAttrs, type ExpEncodeOptions } from '../sync/wire-attrs.js';
import { CacheObject, ObjectState, type CacheCounters } from './sync-cache.js';

/** A cached expectation: FT-FW queues it as this object (conntracks go by their arena handle). */
export class ExpectObject extends CacheObject {
  /** FT-FW's record while the protocol holds this object (FtFwOptions.nodeOf); opaque. */
  ftfw: object | undefined = undefined;
  /** External cache: the FT-FW RESYNC epoch in which the peer last sent it (RefreshStamps). */
  refreshed = 0;
}

const scratch = Buffer.allocUnsafe(4096);

/**
 * Key of an expectation: its expected tuple and its master's tuple (the wire carries no zone).
 * The leading 'x' keeps it apart from every flow key (which starts with the family byte).
 */
export function expectKey(x: Expect): string {
  return 'x' + tupleKey(x.tuple, x.zone ?? 0, x.family) + tupleKey(x.master, x.zone ?? 0, x.family);
}

/** Decodes stored expectation attributes. */
export function decodeStoredExpect(attrs: string): Expect {
  const n = scratch.write(attrs, 0, 'latin1');
  const x = decodeExpAttrs(scratch, 0, n);
  if (!x) throw new Error('expectation cache holds attributes that do not decode (bug)');
  return x;
}

export class ExpectCache {
  private readonly objects = new Map<string, ExpectObject>();
  private live = 0;
  readonly counters: CacheCounters = {
    created: 0,
    createFailed: 0,
    updated: 0,
    updateFailed: 0,
    destroyed: 0,
    destroyFailed: 0,
  };
  /** Called when an expectation is refused because the cache is full (after createFailed counted it). */
  onRefused?: () => void;

  /**
   * @param name 'internal' or 'external', for messages and stats
   * @param limit most expectations held (conntrackd's HashLimit); more are refused and counted
   * @param encodeOptions how expectations are stored = how they are sent (CommitTimeout)
   */
  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly encodeOptions: ExpEncodeOptions,
  ) {}

  /** Expectations that are not DEAD. */
  get size(): number {
    return this.live;
  }

  /** All objects, DEAD ones included. */
  get totalObjects(): number {
    return this.objects.size;
  }

  get(key: string): ExpectObject | undefined {
    return this.objects.get(key);
  }

  values(): IterableIterator<ExpectObject> {
    return this.objects.values();
  }

  expect(obj: ExpectObject): Expect {
    return decodeStoredExpect(obj.attrs);
  }

  private encode(x: Expect): string {
    return scratch.toString('latin1', 0, encodeExpAttrs(scratch, 0, x, this.encodeOptions));
  }

  /** Adds an expectation, or replaces the one with the same key (NEW). Undefined when the cache is full. */
  add(x: Expect, now: number, key = expectKey(x)): ExpectObject | undefined {
    const attrs = this.encode(x);
    const old = this.objects.get(key);
    if (old) {
      if (old.state === ObjectState.DEAD) this.live++;
      old.attrs = attrs;
      old.state = ObjectState.NEW;
      old.added = now;
      old.updated = now;
      this.counters.created++;
      return old;
    }
    if (this.live >= this.limit) {
      this.counters.createFailed++;
      this.onRefused?.();
      return undefined;
    }
    const obj = new ExpectObject(key, attrs, ObjectState.NEW, now, now);
    this.objects.set(key, obj);
    this.live++;
    this.counters.created++;
    return obj;
  }

  /**
   * Replaces an expectation with a complete one (a dump, a peer's EXP_UPD: the kernel sends no
   * partial expectation); a known one becomes ALIVE when it changed, and keeps its age.
   */
  replace(x: Expect, now: number, key = expectKey(x)): ExpectObject | undefined {
    const old = this.objects.get(key);
    if (!old || old.state === ObjectState.DEAD) return this.add(x, now, key);
    const attrs = this.encode(x);
    if (attrs !== old.attrs) {
      old.attrs = attrs;
      old.state = ObjectState.ALIVE;
      old.updated = now;
      this.counters.updated++;
    }
    return old;
  }

  /** Marks an expectation destroyed (kept, DEAD, until the peer has heard of it); a missing or DEAD one is a failed destroy. */
  kill(key: string, now: number): ExpectObject | undefined {
    const obj = this.objects.get(key);
    if (!obj || obj.state === ObjectState.DEAD) {
      this.counters.destroyFailed++;
      return undefined;
    }
    obj.state = ObjectState.DEAD;
    obj.updated = now;
    this.live--;
    this.counters.destroyed++;
    return obj;
  }

  /** Removes an expectation outright (a peer's EXP_DEL; a DEAD one once the peer has heard of it). */
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

  /** Drops everything (`-f`). Returns how many live expectations were dropped. */
  flush(): number {
    const n = this.live;
    this.objects.clear();
    this.live = 0;
    return n;
  }
}
