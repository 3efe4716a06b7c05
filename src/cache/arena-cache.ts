// The conntrack caches (the peer's flows: external; this node's: internal) without a JavaScript
// object per flow: records live in one arena buffer, found through an open-addressing hash table
// of typed arrays keyed by the flow key's bytes. A received message or a kernel event is keyed
// from its bytes and its wire attributes are written into the arena: no string, no object,
// nothing for the garbage collector. That is what a node does 100,000 times in a burst, and what
// made it several times slower than conntrackd with a Map of objects.
//
// Record layout (4-byte aligned, offsets in 32-bit words):
//   w0  state (u8) | key length (u8) << 8 | attributes length (u16) << 16
//   w1  attribute capacity in bytes (room for a longer update in place)
//   w2  added (unix seconds)        w3  updated (unix seconds)
//   w4  handle
//   then the key bytes (padded to 4), then the attributes (capacity bytes)
// A removed or moved record is marked FREE and counted as garbage; the arena is compacted in
// place when garbage outweighs the live records: a new arena per compaction, left to the garbage
// collector, made a backup's memory grow without bound under churn (see compact()).
//
// Records move (growth, compaction, a longer update); a handle does not: it names a flow from
// the time it is stored until it is removed, and is what FT-FW queues for the internal cache.
// A DEAD record (a destroyed flow the peer has not heard of yet) stays until removed.
//
// The rest of the daemon sees a CacheView: values() builds a CacheObject per record on demand
// (dumps); the commit hands whole runs of records to its workers as they are (forEachSegment),
// and the workers read them with forEachRecord.
import type { Entry } from '../conntrack/entry.js';
import {
  CacheObject,
  ObjectState,
  decodeStored,
  mergeEntry,
  type CacheCounters,
  type CacheView,
} from './sync-cache.js';
import { decodeCtAttrs, encodeCtAttrs, type CtEncodeOptions } from '../sync/wire-attrs.js';

const HDR = 20;
const FREE = 3;
const MIN_TABLE = 16;
const MIN_ARENA = 4096;

const align4 = (n: number): number => (n + 3) & ~3;

/** Words of the record at word offset `rec`: header, key (padded), attribute room. */
const recordWordsAt = (w: Uint32Array, rec: number): number => (HDR + align4((w[rec] >>> 8) & 0xff) + w[rec + 1]) >> 2;

/** A growable SharedArrayBuffer (ES2024: Node 20 has it; the TypeScript lib here is ES2022). */
interface GrowableShared extends SharedArrayBuffer {
  readonly growable: boolean;
  readonly maxByteLength: number;
  grow(bytes: number): void;
}
const GrowableSharedArrayBuffer = SharedArrayBuffer as unknown as new (
  bytes: number,
  opts: { maxByteLength: number },
) => GrowableShared;
/** Address space a shared arena reserves to grow into, at most (pages count only once written). */
const ARENA_RESERVE_MAX = 2 ** 31;

/**
 * MurmurHash3 (x86, 32-bit) over the key's 32-bit words (keys are 16 or 40 bytes). Each word is
 * mixed in whole: addresses differ mostly in their last octet, which is the top byte of a
 * little-endian word, and the table takes the hash's low bits. (An FNV step per word never moves
 * high bits down: flows of one /16 then shared a few hundred hash values.)
 */
export function hashKey(b: Uint8Array, o: number, len: number): number {
  let h = len;
  for (let i = 0; i < len; i += 4) {
    let k = b[o + i] | (b[o + i + 1] << 8) | (b[o + i + 2] << 16) | (b[o + i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class ArenaCache implements CacheView {
  private arena: Buffer = Buffer.allocUnsafe(MIN_ARENA);
  private words: Uint32Array = new Uint32Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >> 2);
  /** Bytes of the arena in use (live records and garbage). */
  private used = 0;
  private garbage = 0;
  /** slot -> record word offset + 1 (0 = empty). */
  private slots = new Int32Array(MIN_TABLE);
  private hashes = new Int32Array(MIN_TABLE);
  private mask = MIN_TABLE - 1;
  private live = 0;
  /** Slot of the last find(): where the key is, or where it would go. */
  private slot = 0;
  private readonly keyScratch = Buffer.allocUnsafe(64);
  private readonly encScratch = Buffer.allocUnsafe(8192);
  /** Times the arena was compacted (for stats and tests). */
  compactions = 0;
  /** handle -> record word offset + 1 (0: unused handle). */
  private recOf = new Int32Array(64);
  /** Released handles, for reuse. */
  private freeHandles: number[] = [];
  /** Highest handle given out since the last flush. */
  private handleTop = 0;
  /** DEAD records held. */
  private dead = 0;
  readonly counters: CacheCounters = {
    created: 0,
    createFailed: 0,
    updated: 0,
    updateFailed: 0,
    destroyed: 0,
    destroyFailed: 0,
  };
  /** Called when an entry is refused because the cache is full (after createFailed counted it). */
  onRefused?: () => void;
  /** Called when the cache, empty, takes an entry (the external cache's commit workers start then). */
  onFilled?: () => void;

  /**
   * @param sizeHint entries to make room for at once (conntrackd's HashSize), so that filling
   *   the cache does not grow and copy the arena and the table a dozen times; the memory is only
   *   reserved (the kernel gives pages as they are written)
   */
  /**
   * @param shared the arena lives in shared memory, for readers on other threads (lendArena):
   *   the external cache, which a commit's workers read in place instead of a copy of it
   */
  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly encodeOptions: CtEncodeOptions,
    sizeHint = 0,
    private readonly shared = false,
  ) {
    if (shared) this.setArena(this.allocArena(MIN_ARENA));
    const n = Math.min(sizeHint, limit);
    if (n > MIN_TABLE / 2) {
      let slots = MIN_TABLE;
      while (slots < n * 2) slots *= 2;
      this.slots = new Int32Array(slots);
      this.hashes = new Int32Array(slots);
      this.mask = slots - 1;
      this.setArena(this.allocArena(Math.max(MIN_ARENA, n * 160)));
    }
  }

  get size(): number {
    return this.live;
  }

  /** All records, DEAD ones included. */
  get totalObjects(): number {
    return this.live + this.dead;
  }

  // ----------------------------------------------------------------------- by handle

  /** Handles run from 1 to this (some of them unused). */
  get maxHandle(): number {
    return this.handleTop;
  }

  /** Whether `h` names a record (live or DEAD). */
  has(h: number): boolean {
    return h > 0 && h <= this.handleTop && this.recOf[h] !== 0;
  }

  /** The handle of a key's record, or 0. */
  findHandle(kb: Uint8Array, ko: number, klen: number): number {
    const rec = this.find(kb, ko, klen);
    return rec < 0 ? 0 : this.words[rec + 4];
  }

  /** findHandle() for a key held as a latin1 string. */
  handleOfKey(key: string): number {
    return this.findHandle(this.keyScratch, 0, this.keyBytes(key));
  }

  stateOf(h: number): ObjectState {
    return (this.words[this.recOf[h] - 1] & 0xff) as ObjectState;
  }

  updatedOf(h: number): number {
    return this.words[this.recOf[h] - 1 + 3];
  }

  /** The arena: a record's attributes are arena[attrsStart(h), attrsStart(h) + attrsLength(h)), until the next change. */
  get buffer(): Buffer {
    return this.arena;
  }

  attrsStart(h: number): number {
    const rec = this.recOf[h] - 1;
    return rec * 4 + HDR + align4((this.words[rec] >>> 8) & 0xff);
  }

  attrsLength(h: number): number {
    return this.words[this.recOf[h] - 1] >>> 16;
  }

  /** The key as a latin1 string (flowKey's form). */
  keyOf(h: number): string {
    const rec = this.recOf[h] - 1;
    const p = rec * 4 + HDR;
    return this.arena.toString('latin1', p, p + ((this.words[rec] >>> 8) & 0xff));
  }

  /** Whether the record holds exactly src[start, end). */
  sameAttrs(h: number, src: Uint8Array, start: number, end: number): boolean {
    const n = end - start;
    if (n !== this.attrsLength(h)) return false;
    const a = this.arena;
    const p = this.attrsStart(h);
    for (let i = 0; i < n; i++) if (a[p + i] !== src[start + i]) return false;
    return true;
  }

  /** Replaces a record's attributes (ALIVE; a DEAD one comes back to life). */
  overwriteHandle(h: number, src: Buffer, start: number, end: number, now: number): void {
    const rec = this.recOf[h] - 1;
    if ((this.words[rec] & 0xff) === ObjectState.DEAD) this.revive();
    this.overwrite(rec, src, start, end, now);
  }

  /**
   * Marks a live record destroyed (DEAD, kept until removed), with its final attributes when
   * given. A missing or DEAD one counts as a failed destroy (returns false).
   */
  kill(h: number, now: number, src?: Buffer, start = 0, end = 0): boolean {
    if (!this.has(h) || this.stateOf(h) === ObjectState.DEAD) {
      this.counters.destroyFailed++;
      return false;
    }
    const rec = this.recOf[h] - 1;
    if (src) this.writeAttrs(rec, src, start, end, now, ObjectState.DEAD, false);
    else {
      this.beforeWrite();
      const w = this.words;
      w[rec] = (w[rec] & ~0xff) | ObjectState.DEAD;
      w[rec + 3] = now;
    }
    this.live--;
    this.dead++;
    this.counters.destroyed++;
    return true;
  }

  /** Removes a record by handle (a DEAD one once the peer has heard of it); the handle is freed. */
  removeHandle(h: number): boolean {
    if (!this.has(h)) return false;
    const rec = this.recOf[h] - 1;
    const p = rec * 4 + HDR;
    const klen = (this.words[rec] >>> 8) & 0xff;
    this.arena.copy(this.keyScratch, 0, p, p + klen);
    return this.removeRaw(this.keyScratch, 0, klen);
  }

  /**
   * Stores every live record of this cache into `target` as NEW, keeping the bytes as they are
   * (a commit's copy of the external cache into the internal one), except the keys `skip` names
   * (asked only when given).
   */
  copyLiveInto(target: ArenaCache, now: number, skip?: (key: string) => boolean): void {
    const a = this.arena;
    const w = this.words;
    const end = this.used >> 2;
    for (let rec = 0; rec < end;) {
      const klen = (w[rec] >>> 8) & 0xff;
      const state = w[rec] & 0xff;
      if (state !== FREE && state !== ObjectState.DEAD) {
        const kp = rec * 4 + HDR;
        if (!skip || !skip(a.toString('latin1', kp, kp + klen))) {
          const ap = kp + align4(klen);
          target.store(a, kp, klen, a, ap, ap + (w[rec] >>> 16), now, ObjectState.NEW);
        }
      }
      rec += (HDR + align4(klen) + w[rec + 1]) >> 2;
    }
  }

  /** The handles in use, from the lowest; handles added while it runs may or may not be visited. */
  *handles(): Generator<number> {
    for (let h = 1; h <= this.handleTop; h++) if (this.recOf[h] !== 0) yield h;
  }

  // ----------------------------------------------------------------------- decoded entries
  // (the general path: kernel events the transcoder leaves to decodeConntrack, dumps)

  /** The entry a handle holds, decoded. */
  entryOf(h: number): Entry {
    const start = this.attrsStart(h);
    const e = decodeCtAttrs(this.arena, start, start + this.attrsLength(h));
    if (!e) throw new Error('cache holds attributes that do not decode (bug)');
    return e;
  }

  private encodeEntry(e: Entry): number {
    return encodeCtAttrs(this.encScratch, 0, e, this.encodeOptions);
  }

  /** Writes a latin1 key into keyScratch; its length. */
  private keyBytes(key: string): number {
    return this.keyScratch.write(key, 0, 'latin1');
  }

  /** Stores a complete entry under `key` (flowKey); the handle, or 0 when full. */
  storeEntry(key: string, e: Entry, now: number, state: ObjectState): number {
    const n = this.encodeEntry(e);
    return this.store(this.keyScratch, 0, this.keyBytes(key), this.encScratch, 0, n, now, state);
  }

  /**
   * An update event: what `e` has overwrites, the rest is kept (ALIVE). An unknown or DEAD flow
   * is stored as it comes. The handle, or 0 when full.
   */
  updateEntry(key: string, e: Entry, now: number): number {
    const h = this.handleOfKey(key);
    if (h === 0 || this.stateOf(h) === ObjectState.DEAD) return this.storeEntry(key, e, now, ObjectState.ALIVE);
    this.mergeUpdate(this.recOf[h] - 1, e, now);
    return h;
  }

  /** kill() by key, with the last event merged in when given. The handle, or 0 (a failed destroy). */
  killEntry(key: string, now: number, last?: Entry): number {
    const h = this.handleOfKey(key);
    if (h === 0 || this.stateOf(h) === ObjectState.DEAD || !last) return this.kill(h, now) ? h : 0;
    const n = encodeCtAttrs(this.encScratch, 0, mergeEntry(this.entryOf(h), last), this.encodeOptions);
    this.kill(h, now, this.encScratch, 0, n);
    return h;
  }

  /**
   * A complete entry from a dump: stored when new, DEAD or different (then ALIVE, keeping its
   * age). The handle (0 when full); `lastChanged` tells whether anything changed.
   */
  replaceEntry(key: string, e: Entry, now: number): number {
    const n = this.encodeEntry(e);
    const kl = this.keyBytes(key);
    const h = this.findHandle(this.keyScratch, 0, kl);
    this.lastChanged = true;
    if (h === 0 || this.stateOf(h) === ObjectState.DEAD)
      return this.store(this.keyScratch, 0, kl, this.encScratch, 0, n, now, ObjectState.NEW);
    if (this.sameAttrs(h, this.encScratch, 0, n)) this.lastChanged = false;
    else this.overwrite(this.recOf[h] - 1, this.encScratch, 0, n, now);
    return h;
  }

  /** Whether the last replaceEntry() changed the cache. */
  lastChanged = false;

  private revive(): void {
    this.dead--;
    if (++this.live === 1) this.onFilled?.();
  }

  private newHandle(rec: number): number {
    let h = this.freeHandles.pop();
    if (h === undefined) {
      h = ++this.handleTop;
      if (h >= this.recOf.length) {
        const next = new Int32Array(this.recOf.length * 2);
        next.set(this.recOf);
        this.recOf = next;
      }
    }
    this.recOf[h] = rec + 1;
    return h;
  }

  // ----------------------------------------------------------------------- raw (receive path)

  /** The record (word offset) of a key, or -1. Leaves the slot for store(). */
  find(kb: Uint8Array, ko: number, klen: number): number {
    return this.findHashed(kb, ko, klen, hashKey(kb, ko, klen));
  }

  private findHashed(kb: Uint8Array, ko: number, klen: number, h: number): number {
    const slots = this.slots;
    const hashes = this.hashes;
    const a = this.arena;
    const w = this.words;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const s = slots[i];
      if (s === 0) {
        this.slot = i;
        return -1;
      }
      if (hashes[i] === h) {
        const rec = s - 1;
        if (((w[rec] >>> 8) & 0xff) === klen) {
          const p = rec * 4 + HDR;
          let k = 0;
          while (k < klen && a[p + k] === kb[ko + k]) k++;
          if (k === klen) {
            this.slot = i;
            return rec;
          }
        }
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * Stores a flow's attributes `src[start, end)` under its key, replacing what the key held (a
   * full message: CT_NEW, or CT_UPD of an unknown flow; a NEW event). Returns the record's
   * handle, or 0 when the cache is full (HashLimit; counted in createFailed).
   */
  store(
    kb: Uint8Array,
    ko: number,
    klen: number,
    src: Buffer,
    start: number,
    end: number,
    now: number,
    state: ObjectState,
  ): number {
    const h = hashKey(kb, ko, klen);
    const rec = this.findHashed(kb, ko, klen, h);
    if (rec >= 0) {
      const handle = this.words[rec + 4];
      if ((this.words[rec] & 0xff) === ObjectState.DEAD) this.revive();
      this.writeAttrs(rec, src, start, end, now, state, true);
      this.counters.created++;
      return handle;
    }
    if (this.live >= this.limit) {
      this.counters.createFailed++;
      this.onRefused?.();
      return 0;
    }
    if ((this.live + this.dead + 1) * 2 > this.slots.length) this.grow();
    const added = this.append(kb, ko, klen, src, start, end, now, now, state, 0);
    this.link(kb, ko, klen, h, added);
    if (++this.live === 1) this.onFilled?.();
    this.counters.created++;
    return this.words[added + 4];
  }

  /** The handle of the record at word offset `rec` (from find()). */
  handleAt(rec: number): number {
    return this.words[rec + 4];
  }

  /** Replaces a held record's attributes with a full update (ALIVE). */
  overwrite(rec: number, src: Buffer, start: number, end: number, now: number): void {
    this.writeAttrs(rec, src, start, end, now, ObjectState.ALIVE, false);
    this.counters.updated++;
  }

  /** A partial update of a held record: merged field by field with what is stored (ALIVE). */
  mergeUpdate(rec: number, e: Entry, now: number): void {
    const off = rec * 4 + HDR + align4((this.words[rec] >>> 8) & 0xff);
    const len = this.words[rec] >>> 16;
    const merged = mergeEntry(decodeStored(this.arena.toString('latin1', off, off + len)), e);
    const n = encodeCtAttrs(this.encScratch, 0, merged, this.encodeOptions);
    this.overwrite(rec, this.encScratch, 0, n, now);
  }

  /**
   * Whether every attribute id of the stored record is also present in a message with these
   * presence bits (scanCtKey's maskLo / maskHi): then the message can replace it as is.
   */
  coveredBy(rec: number, lo: number, hi: number): boolean {
    const a = this.arena;
    let o = rec * 4 + HDR + align4((this.words[rec] >>> 8) & 0xff);
    const end = o + (this.words[rec] >>> 16);
    while (o + 4 <= end) {
      const len = (a[o] << 8) | a[o + 1];
      const id = (a[o + 2] << 8) | a[o + 3];
      if (len < 4) return false;
      if (id < 32 ? (lo & (1 << id)) === 0 : hi === 0) return false;
      o += (len + 3) & ~3;
    }
    return true;
  }

  /** Removes a flow (CT_DEL); its handle is freed. */
  removeRaw(kb: Uint8Array, ko: number, klen: number): boolean {
    const rec = this.find(kb, ko, klen);
    if (rec < 0) return false;
    const w = this.words;
    const h = w[rec + 4];
    this.recOf[h] = 0;
    this.freeHandles.push(h);
    if ((w[rec] & 0xff) === ObjectState.DEAD) this.dead--;
    else {
      this.live--;
      this.counters.destroyed++;
    }
    this.free(rec);
    this.deleteSlot(this.slot);
    return true;
  }

  // ----------------------------------------------------------------------- CacheView

  get(key: string): CacheObject | undefined {
    const rec = this.find(this.keyScratch, 0, this.keyBytes(key));
    return rec < 0 ? undefined : this.materialize(rec);
  }

  /**
   * Every record in arena order, as objects. A walk in progress (a dump being written) goes on
   * over the arena it started with: records added later are not visited, and an update or a
   * removal made meanwhile may or may not show; nothing is visited twice or half-written.
   */
  *values(): IterableIterator<CacheObject> {
    // records never change size, and a walked arena is never compacted (compact() moves the
    // cache to a copy first): the records walked stay where they are
    const release = this.walks.hold(this.arena.buffer);
    try {
      const a = this.arena;
      const w = this.words;
      const end = this.used >> 2;
      for (let rec = 0; rec < end;) {
        const size = recordWordsAt(w, rec);
        if ((w[rec] & 0xff) !== FREE) yield this.materialize(rec, a, w);
        rec += size;
      }
    } finally {
      release();
    }
  }

  /**
   * The arena in segments of whole records (see SegmentWalk): `visit(arena, start, end)`. Read
   * the records with forEachRecord; FREE ones are in there too. The arena must not change while
   * this runs.
   */
  forEachSegment(limits: readonly number[], visit: (arena: Buffer, start: number, end: number) => void): void {
    const walk = new SegmentWalk(this.arena.buffer, this.arena.byteOffset, this.used, limits);
    while (walk.next()) visit(this.arena, walk.start, walk.end);
  }

  entry(obj: CacheObject): Entry {
    return decodeStored(obj.attrs);
  }

  /** Drops everything (`-f`), handles included. Returns how many live entries were dropped. */
  flush(): number {
    const n = this.live;
    // the same arrays, emptied: a field the optimizing compiler has seen hold one object
    // only is treated as constant, and a new object there would throw away (deoptimize)
    // the store path that a resync after the flush is about to run 100k times
    this.recOf.fill(0);
    this.freeHandles.length = 0;
    this.handleTop = 0;
    this.dead = 0;
    // the same arena emptied (a lent one, or one a dump walks, is left to its readers for a new
    // one), and everything of the sizes the cache had: a flush is usually followed by a resync
    // that fills it again, which would otherwise grow (and copy) the arena and the table all the
    // way up once more
    if (this.loans.holds(this.arena.buffer) || this.walks.holds(this.arena.buffer)) this.leaveToReaders(0);
    this.used = 0;
    this.garbage = 0;
    this.slots.fill(0);
    this.hashes.fill(0);
    this.live = 0;
    return n;
  }

  // ----------------------------------------------------------------------- internals

  private materialize(rec: number, a = this.arena, w = this.words): CacheObject {
    const klen = (w[rec] >>> 8) & 0xff;
    const p = rec * 4 + HDR;
    const q = p + align4(klen);
    return new CacheObject(
      a.toString('latin1', p, p + klen),
      a.toString('latin1', q, q + (w[rec] >>> 16)),
      (w[rec] & 0xff) as ObjectState,
      w[rec + 2],
      w[rec + 3],
    );
  }

  private recordWords(rec: number): number {
    return recordWordsAt(this.words, rec);
  }

  /** New attributes for a held record: in place when they fit, else the record moves. */
  private writeAttrs(
    rec: number,
    src: Buffer,
    start: number,
    end: number,
    now: number,
    state: ObjectState,
    renew: boolean,
  ): void {
    this.beforeWrite();
    const w = this.words;
    const n = end - start;
    const klen = (w[rec] >>> 8) & 0xff;
    const added = renew ? now : w[rec + 2];
    if (n <= w[rec + 1]) {
      const q = rec * 4 + HDR + align4(klen);
      src.copy(this.arena, q, start, end);
      w[rec] = state | (klen << 8) | (n << 16);
      w[rec + 2] = added;
      w[rec + 3] = now;
      return;
    }
    // copy the key out first: append() may move the arena
    const kp = rec * 4 + HDR;
    const kb = this.keyScratch;
    this.arena.copy(kb, 0, kp, kp + klen);
    const handle = w[rec + 4];
    this.free(rec);
    this.link(kb, 0, klen, hashKey(kb, 0, klen), this.append(kb, 0, klen, src, start, end, added, now, state, handle));
  }

  /**
   * Points the key's slot at `rec`: the slot that still names the key's old (freed) record, or
   * an empty one (a new key, or the old record was dropped by a compaction).
   */
  private link(kb: Uint8Array, ko: number, klen: number, h: number, rec: number): void {
    this.findHashed(kb, ko, klen, h);
    this.slots[this.slot] = rec + 1;
    this.hashes[this.slot] = h;
  }

  private free(rec: number): void {
    this.beforeWrite();
    const w = this.words;
    w[rec] = (w[rec] & ~0xff) | FREE;
    this.garbage += this.recordWords(rec) * 4;
  }

  /**
   * Appends a record; returns its word offset. May grow or compact the arena. `handle` is the
   * moved record's, or 0 for a new one.
   */
  private append(
    kb: Uint8Array,
    ko: number,
    klen: number,
    src: Buffer,
    start: number,
    end: number,
    added: number,
    now: number,
    state: ObjectState,
    handle: number,
  ): number {
    const n = end - start;
    // room for a later update that adds a few attributes (mark, NAT, labels) without moving
    const cap = align4(n + 16);
    const size = HDR + align4(klen) + cap;
    if (this.used + size > this.arena.length) this.makeRoom(size);
    const o = this.used;
    const rec = o >> 2;
    const w = this.words;
    w[rec] = state | (klen << 8) | (n << 16);
    w[rec + 1] = cap;
    w[rec + 2] = added;
    w[rec + 3] = now;
    if (handle === 0) w[rec + 4] = this.newHandle(rec);
    else {
      w[rec + 4] = handle;
      this.recOf[handle] = rec + 1;
    }
    const a = this.arena;
    for (let i = 0; i < klen; i++) a[o + HDR + i] = kb[ko + i];
    src.copy(a, o + HDR + align4(klen), start, end);
    this.used += size;
    return rec;
  }

  /** Compacts when garbage is over half the live bytes, else grows; compaction rebuilds the table. */
  private makeRoom(size: number): void {
    const liveBytes = this.used - this.garbage;
    if (this.garbage * 2 > liveBytes && this.garbage >= size) {
      this.compact();
      if (this.used + size <= this.arena.length) return;
    }
    let cap = this.arena.length * 2;
    while (this.used + size > cap) cap *= 2;
    if (this.growInPlace(cap)) return;
    const next = this.allocArena(cap);
    this.arena.copy(next, 0, 0, this.used);
    this.setArena(next);
  }

  private allocArena(bytes: number): Buffer {
    this.arenaAllocations++;
    if (!this.shared) return Buffer.allocUnsafe(bytes);
    // growable, so the arena grows in place (makeRoom): a shared arena left behind by a copy
    // stays resident until a full GC, which shared memory hardly prompts (seen: +16 MiB for 100k)
    const reserve = Math.max(bytes, Math.min(ARENA_RESERVE_MAX, this.limit * 256));
    return Buffer.from(new GrowableSharedArrayBuffer(bytes, { maxByteLength: reserve }), 0, bytes);
  }

  /** Grows a shared arena in place to `cap` bytes; false when it cannot (then it is copied). */
  private growInPlace(cap: number): boolean {
    const sab = this.arena.buffer as GrowableShared;
    if (!this.shared || !sab.growable || cap > sab.maxByteLength) return false;
    try {
      sab.grow(cap);
    } catch {
      return false;
    }
    // the records stay where they are: readers of the lent arena and dumps keep their views
    this.setArena(Buffer.from(sab, 0, cap));
    return true;
  }

  /** The arena lent out (lendArena) and not given back by everyone yet: its bytes must not change. */
  private readonly loans = new ArenaReaders();
  /** The arena dumps walk (values()): its records must not move. */
  private readonly walks = new ArenaReaders();

  /**
   * Lends the arena as it is now, [0, used), to readers on other threads (a commit's workers)
   * until release(). A write meanwhile moves the cache to a copy first, so the lent bytes never
   * change under the readers; appends go past `used` and need no copy. Offsets are the cache's
   * own (forEachSegment's). A cache that is not shared lends a copy.
   */
  lendArena(): { arena: SharedArrayBuffer; used: number; release(): void } {
    const used = this.used;
    if (!this.shared) {
      const copy = new SharedArrayBuffer(used);
      new Uint8Array(copy).set(this.arena.subarray(0, used));
      return { arena: copy, used, release: () => undefined };
    }
    return { arena: this.arena.buffer as SharedArrayBuffer, used, release: this.loans.hold(this.arena.buffer) };
  }

  /** Before a write into the arena's records: a lent arena is left to its readers. */
  private beforeWrite(): void {
    if (this.loans.holds(this.arena.buffer)) this.moveToCopy();
  }

  /** Leaves the arena to its readers: the cache goes on in a copy. */
  private moveToCopy(): void {
    this.leaveToReaders(this.used);
    this.arenaCopiesForReaders++;
  }

  /** Moves the cache to a new arena holding the first `keep` bytes of the current one. */
  private leaveToReaders(keep: number): void {
    const next = this.allocArena(this.arena.length);
    this.arena.copy(next, 0, 0, keep);
    this.setArena(next);
    this.loans.forget();
    this.walks.forget();
  }

  /** Times the cache moved to a copy of its arena, leaving it to readers (for stats and tests). */
  arenaCopiesForReaders = 0;

  /**
   * Times a new arena was allocated (pre-sizing, growth that could not be in place, a copy left
   * to readers); compaction and flush keep the arena they have (for stats and tests).
   */
  arenaAllocations = 0;

  /** The arena's size and use in bytes, and how often it was compacted, copied or allocated (for stats). */
  arenaStats(): {
    bytes: number;
    used: number;
    garbage: number;
    compactions: number;
    copiesForReaders: number;
    allocations: number;
  } {
    return {
      bytes: this.arena.length,
      used: this.used,
      garbage: this.garbage,
      compactions: this.compactions,
      copiesForReaders: this.arenaCopiesForReaders,
      allocations: this.arenaAllocations,
    };
  }

  private setArena(b: Buffer): void {
    this.arena = b;
    this.words = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  }

  /**
   * Slides the live records down over the garbage, within the arena (a record only moves to a
   * lower offset, so nothing is overwritten before it is read). Not into a new arena: a shared
   * arena left behind stays resident until a full GC, which nothing prompts (V8 does not count a
   * growable SharedArrayBuffer as external memory, and the JS heap hardly grows): under churn a
   * backup grew by an arena (~5 MiB) per compaction, without end. A lent arena, or one a dump
   * walks, is left to its readers first.
   */
  private compact(): void {
    if (this.loans.holds(this.arena.buffer) || this.walks.holds(this.arena.buffer)) this.moveToCopy();
    this.compactions++;
    const w = this.words;
    const end = this.used >> 2;
    let o = 0;
    for (let rec = 0; rec < end;) {
      const words = recordWordsAt(w, rec);
      if ((w[rec] & 0xff) !== FREE) {
        if (o !== rec) w.copyWithin(o, rec, rec + words);
        this.recOf[w[o + 4]] = o + 1;
        o += words;
      }
      rec += words;
    }
    this.used = o * 4;
    this.garbage = 0;
    this.rehash();
  }

  /** Doubles the table, moving the slots with their stored hashes (no key is read). */
  private grow(): void {
    const os = this.slots;
    const oh = this.hashes;
    const size = os.length * 2;
    const slots = new Int32Array(size);
    const hashes = new Int32Array(size);
    const mask = size - 1;
    for (let j = 0; j < os.length; j++) {
      const s = os[j];
      if (s === 0) continue;
      const h = oh[j];
      let i = h & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = s;
      hashes[i] = h;
    }
    this.slots = slots;
    this.hashes = hashes;
    this.mask = mask;
  }

  /** Rebuilds the table, in place, from the live records (after a compaction moved them). */
  private rehash(): void {
    const slots = this.slots;
    const hashes = this.hashes;
    slots.fill(0);
    hashes.fill(0);
    const mask = this.mask;
    const w = this.words;
    const a = this.arena;
    const end = this.used >> 2;
    for (let rec = 0; rec < end;) {
      const klen = (w[rec] >>> 8) & 0xff;
      if ((w[rec] & 0xff) !== FREE) {
        const h = hashKey(a, rec * 4 + HDR, klen);
        let i = h & mask;
        while (slots[i] !== 0) i = (i + 1) & mask;
        slots[i] = rec + 1;
        hashes[i] = h;
      }
      rec += (HDR + align4(klen) + w[rec + 1]) >> 2;
    }
  }

  /** Linear-probing delete with backward shift (no tombstones). */
  private deleteSlot(i: number): void {
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = this.mask;
    slots[i] = 0;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (slots[j] === 0) return;
      const k = hashes[j] & mask;
      // move j back to i when its home slot k is not cyclically in (i, j]
      const inRange = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!inRange) {
        slots[i] = slots[j];
        hashes[i] = hashes[j];
        slots[j] = 0;
        i = j;
      }
    }
  }
}

/** Who reads an arena (a commit's workers, dumps) until they release it; one arena at a time. */
class ArenaReaders {
  private buffer: ArrayBufferLike | undefined;
  private count = 0;

  /** Marks `buffer` as read until the returned release (which counts once). */
  hold(buffer: ArrayBufferLike): () => void {
    if (this.buffer !== buffer) {
      this.buffer = buffer;
      this.count = 0;
    }
    this.count++;
    let released = false;
    return () => {
      if (released || this.buffer !== buffer) return;
      released = true;
      if (--this.count === 0) this.buffer = undefined;
    };
  }

  /** Whether `buffer` has readers. */
  holds(buffer: ArrayBufferLike): boolean {
    return this.buffer !== undefined && this.buffer === buffer;
  }

  /** Forgets the readers: the cache has left their arena to them and moved on. */
  forget(): void {
    this.buffer = undefined;
    this.count = 0;
  }
}

/**
 * Cuts an arena's records [0, used) into segments of whole records, one per next(): segment i at
 * most `limits[i]` bytes long (the last limit for every segment after; small ones first, so
 * consumers can start early) unless a single record is longer. On any thread: a commit worker
 * walks the lent arena itself and takes its share of the segments.
 */
export class SegmentWalk {
  private readonly words: Uint32Array;
  private readonly endRec: number;
  private rec = 0;
  /** The segment the last next() found: bytes [start, end) from the arena's start, and its number. */
  start = 0;
  end = 0;
  number = -1;

  constructor(
    arena: ArrayBufferLike,
    byteOffset: number,
    used: number,
    private readonly limits: readonly number[],
  ) {
    this.words = new Uint32Array(arena, byteOffset, used >> 2);
    this.endRec = used >> 2;
  }

  next(): boolean {
    const w = this.words;
    const endRec = this.endRec;
    let rec = this.rec;
    if (rec >= endRec) return false;
    const start = rec * 4;
    const n = this.number + 1;
    const limit = this.limits[n < this.limits.length ? n : this.limits.length - 1];
    rec += recordWordsAt(w, rec); // at least one record
    while (rec < endRec) {
      const next = rec + recordWordsAt(w, rec);
      if (next * 4 - start > limit) break;
      rec = next;
    }
    this.rec = rec;
    this.start = start;
    this.end = rec * 4;
    this.number = n;
    return true;
  }
}

/**
 * The live records of a segment that forEachSegment gave (copied anywhere, e.g. to a worker):
 * `visit(attrsStart, attrsEnd, updated)`, offsets into `seg`.
 */
export function forEachRecord(seg: Uint8Array, visit: (start: number, end: number, updated: number) => void): void {
  const w = new Uint32Array(seg.buffer, seg.byteOffset, seg.byteLength >> 2);
  for (let rec = 0; rec < w.length;) {
    const klen = (w[rec] >>> 8) & 0xff;
    const attrs = rec * 4 + HDR + align4(klen);
    const state = w[rec] & 0xff;
    if (state !== FREE && state !== ObjectState.DEAD) visit(attrs, attrs + (w[rec] >>> 16), w[rec + 3]);
    rec += (HDR + align4(klen) + w[rec + 1]) >> 2;
  }
}
