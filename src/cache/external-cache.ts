// The external cache (the peer's flows) without a JavaScript object per flow: records live in one
// arena buffer, found through an open-addressing hash table of typed arrays keyed by the flow
// key's bytes. A received message is keyed from its bytes (sync/wire-attrs scanCtKey) and copied
// into the arena as it arrived: no string, no object, nothing for the garbage collector. That is
// what the backup does 100,000 times in a resync, and what made it several times slower than
// conntrackd with a Map of objects.
//
// Record layout (4-byte aligned, offsets in 32-bit words):
//   w0  state (u8) | key length (u8) << 8 | attributes length (u16) << 16
//   w1  attribute capacity in bytes (room for a longer update in place)
//   w2  added (unix seconds)        w3  updated (unix seconds)
//   then the key bytes (padded to 4), then the attributes (capacity bytes)
// A removed or moved record is marked FREE and counted as garbage; the arena is compacted when
// garbage outweighs the live records.
//
// The rest of the daemon sees the same view as the internal cache (CacheView): values() builds a
// CacheObject per record on demand (dumps, filling the internal cache after a commit); the
// commit hands whole runs of records to its workers as they are (forEachSegment), and the
// workers read them with forEachRecord.
import type { Entry } from '../conntrack/entry.js';
import { CacheObject, ObjectState, decodeStored, mergeEntry, type CacheCounters, type CacheView } from './sync-cache.js';
import { encodeCtAttrs, type CtEncodeOptions } from '../sync/wire-attrs.js';

const HDR = 16;
const FREE = 3;
const MIN_TABLE = 16;
const MIN_ARENA = 4096;

const align4 = (n: number): number => (n + 3) & ~3;

/** FNV-1a over 32-bit words (keys are 16 or 40 bytes), with a final avalanche. Never 0. */
function hashKey(b: Uint8Array, o: number, len: number): number {
  let h = 0x811c9dc5 ^ len;
  for (let i = 0; i < len; i += 4) {
    h = Math.imul(h ^ (b[o + i] | (b[o + i + 1] << 8) | (b[o + i + 2] << 16) | (b[o + i + 3] << 24)), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 1;
}

export class ExternalCache implements CacheView {
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
  readonly counters: CacheCounters = { created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0 };

  /**
   * @param sizeHint entries to make room for at once (conntrackd's HashSize), so that filling
   *   the cache does not grow and copy the arena and the table a dozen times; the memory is only
   *   reserved (the kernel gives pages as they are written)
   */
  constructor(readonly name: string, readonly limit: number, private readonly encodeOptions: CtEncodeOptions, sizeHint = 0) {
    const n = Math.min(sizeHint, limit);
    if (n > MIN_TABLE / 2) {
      let slots = MIN_TABLE;
      while (slots < n * 2) slots *= 2;
      this.slots = new Int32Array(slots);
      this.hashes = new Int32Array(slots);
      this.mask = slots - 1;
      this.setArena(Buffer.allocUnsafe(Math.max(MIN_ARENA, n * 160)));
    }
  }

  get size(): number {
    return this.live;
  }

  get totalObjects(): number {
    return this.live;
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
   * full message: CT_NEW, or CT_UPD of an unknown flow). False when the cache is full
   * (HashLimit; counted in createFailed).
   */
  store(kb: Uint8Array, ko: number, klen: number, src: Buffer, start: number, end: number, now: number, state: ObjectState): boolean {
    const h = hashKey(kb, ko, klen);
    const rec = this.findHashed(kb, ko, klen, h);
    if (rec >= 0) {
      this.writeAttrs(rec, src, start, end, now, state, true);
      this.counters.created++;
      return true;
    }
    if (this.live >= this.limit) {
      this.counters.createFailed++;
      return false;
    }
    if ((this.live + 1) * 2 > this.slots.length) this.grow();
    this.link(kb, ko, klen, h, this.append(kb, ko, klen, src, start, end, now, now, state));
    this.live++;
    this.counters.created++;
    return true;
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

  /** Removes a flow (CT_DEL). */
  removeRaw(kb: Uint8Array, ko: number, klen: number): boolean {
    const rec = this.find(kb, ko, klen);
    if (rec < 0) return false;
    this.free(rec);
    this.deleteSlot(this.slot);
    this.live--;
    this.counters.destroyed++;
    return true;
  }

  // ----------------------------------------------------------------------- CacheView

  get(key: string): CacheObject | undefined {
    const n = this.keyScratch.write(key, 0, 'latin1');
    const rec = this.find(this.keyScratch, 0, n);
    return rec < 0 ? undefined : this.materialize(rec);
  }

  remove(key: string): boolean {
    const n = this.keyScratch.write(key, 0, 'latin1');
    return this.removeRaw(this.keyScratch, 0, n);
  }

  /**
   * Every record in arena order, as objects. A walk in progress (a dump being written) goes on
   * over the arena it started with: records added later are not visited, and an update made in
   * place may or may not show; nothing is visited twice or half-written.
   */
  *values(): IterableIterator<CacheObject> {
    // the arena is never resized in place (growth and compaction allocate a new one) and a
    // record never changes size
    const a = this.arena;
    const w = this.words;
    const end = this.used >> 2;
    for (let rec = 0; rec < end;) {
      const size = (HDR + align4((w[rec] >>> 8) & 0xff) + w[rec + 1]) >> 2;
      if ((w[rec] & 0xff) !== FREE) yield this.materialize(rec, a, w);
      rec += size;
    }
  }

  /**
   * The arena in segments of whole records, each at most `maxBytes` long (`firstBytes` for the
   * first, so a consumer can start early) unless a single record is longer: `visit(arena, start,
   * end)`. Read the records with forEachRecord; FREE ones are in there too. The arena must not
   * change while this runs.
   */
  forEachSegment(firstBytes: number, maxBytes: number, visit: (arena: Buffer, start: number, end: number) => void): void {
    const w = this.words;
    const end = this.used >> 2;
    let start = 0;
    let limit = firstBytes;
    for (let rec = 0; rec < end;) {
      const next = rec + ((HDR + align4((w[rec] >>> 8) & 0xff) + w[rec + 1]) >> 2);
      if (next * 4 - start > limit && rec * 4 > start) {
        visit(this.arena, start, rec * 4);
        start = rec * 4;
        limit = maxBytes;
      }
      rec = next;
    }
    if (end * 4 > start) visit(this.arena, start, end * 4);
  }

  entry(obj: CacheObject): Entry {
    return decodeStored(obj.attrs);
  }

  /** Drops everything (`-f external`). Returns how many entries were dropped. */
  flush(): number {
    const n = this.live;
    // new buffers (a dump in progress keeps walking the old arena), of the sizes the cache had:
    // a flush is usually followed by a resync that fills it again, which would otherwise grow
    // (and copy) the arena and the table all the way up once more
    this.arena = Buffer.allocUnsafe(this.arena.length);
    this.words = new Uint32Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >> 2);
    this.used = 0;
    this.garbage = 0;
    this.slots = new Int32Array(this.slots.length);
    this.hashes = new Int32Array(this.hashes.length);
    this.live = 0;
    return n;
  }

  // ----------------------------------------------------------------------- internals

  private materialize(rec: number, a = this.arena, w = this.words): CacheObject {
    const klen = (w[rec] >>> 8) & 0xff;
    const p = rec * 4 + HDR;
    const q = p + align4(klen);
    return new CacheObject(a.toString('latin1', p, p + klen), a.toString('latin1', q, q + (w[rec] >>> 16)),
      (w[rec] & 0xff) as ObjectState, w[rec + 2], w[rec + 3]);
  }

  private recordWords(rec: number): number {
    return (HDR + align4((this.words[rec] >>> 8) & 0xff) + this.words[rec + 1]) >> 2;
  }

  /** New attributes for a held record: in place when they fit, else the record moves. */
  private writeAttrs(rec: number, src: Buffer, start: number, end: number, now: number, state: ObjectState, renew: boolean): void {
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
    this.free(rec);
    this.link(kb, 0, klen, hashKey(kb, 0, klen), this.append(kb, 0, klen, src, start, end, added, now, state));
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
    const w = this.words;
    w[rec] = (w[rec] & ~0xff) | FREE;
    this.garbage += this.recordWords(rec) * 4;
  }

  /** Appends a record; returns its word offset. May grow or compact the arena. */
  private append(kb: Uint8Array, ko: number, klen: number, src: Buffer, start: number, end: number, added: number, now: number, state: ObjectState): number {
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
      this.compact(Math.max(MIN_ARENA, this.arena.length));
      if (this.used + size <= this.arena.length) return;
    }
    let cap = this.arena.length * 2;
    while (this.used + size > cap) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.arena.copy(next, 0, 0, this.used);
    this.setArena(next);
  }

  private setArena(b: Buffer): void {
    this.arena = b;
    this.words = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  }

  private compact(cap: number): void {
    this.compactions++;
    const old = this.arena;
    const ow = this.words;
    const end = this.used >> 2;
    const next = Buffer.allocUnsafe(cap);
    let o = 0;
    for (let rec = 0; rec < end;) {
      const words = (HDR + align4((ow[rec] >>> 8) & 0xff) + ow[rec + 1]) >> 2;
      if ((ow[rec] & 0xff) !== FREE) {
        old.copy(next, o, rec * 4, (rec + words) * 4);
        o += words * 4;
      }
      rec += words;
    }
    this.setArena(next);
    this.used = o;
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

  /** Rebuilds the table from the live records (after a compaction moved them). */
  private rehash(): void {
    const size = this.slots.length;
    const slots = new Int32Array(size);
    const hashes = new Int32Array(size);
    const mask = size - 1;
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
    this.slots = slots;
    this.hashes = hashes;
    this.mask = mask;
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
