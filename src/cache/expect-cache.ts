// The expectation caches (conntrackd's `ExpectationSync`): this node's expectations (internal,
// fed by the kernel's expectation events and dumps) and the peer's (external, fed by EXP
// messages). Expectations are few (one per FTP/SIP/... control connection waiting for its data
// connection), so both are plain maps of objects; like the conntrack caches, an object holds its
// expectation as sync wire attributes, which is what a bulk send or a retransmission copies.
import type { Expect } from '../conntrack/entry.js';
import { tupleKey } from '../conntrack/key.js';
import { decodeExpAttrs, encodeExpAttrs, type ExpEncodeOptions } from '../sync/wire-attrs.js';
import { CacheObject, ObjectState, ObjectTable } from './sync-cache.js';

/** A cached expectation: the sender tells it from a conntrack object by its class. */
export class ExpectObject extends CacheObject {}

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

export class ExpectCache extends ObjectTable<ExpectObject> {
  /** @param encodeOptions how expectations are stored = how they are sent (CommitTimeout) */
  constructor(name: string, limit: number, private readonly encodeOptions: ExpEncodeOptions) {
    super(name, limit, (key, attrs, state, now) => new ExpectObject(key, attrs, state, now, now));
  }

  expect(obj: ExpectObject): Expect {
    return decodeStoredExpect(obj.attrs);
  }

  private encode(x: Expect): string {
    return scratch.toString('latin1', 0, encodeExpAttrs(scratch, 0, x, this.encodeOptions));
  }

  /** Adds an expectation, or replaces the one with the same key. Undefined when the cache is full. */
  add(x: Expect, now: number, key = expectKey(x)): ExpectObject | undefined {
    return this.store(key, this.encode(x), now, ObjectState.NEW);
  }

  /**
   * Replaces an expectation with a complete one (a dump, a peer's EXP_UPD: the kernel sends no
   * partial expectation); a known one becomes ALIVE and keeps its age.
   */
  replace(x: Expect, now: number, key = expectKey(x)): ExpectObject | undefined {
    const old = this.objects.get(key);
    if (!old || old.state === ObjectState.DEAD) return this.add(x, now, key);
    const attrs = this.encode(x);
    if (attrs !== old.attrs) this.overwriteEncoded(old, attrs, now);
    return old;
  }

  /** Marks an expectation destroyed (kept, DEAD, until the peer has acknowledged it). */
  kill(key: string, now: number): ExpectObject | undefined {
    return this.killEncoded(key, now);
  }
}
