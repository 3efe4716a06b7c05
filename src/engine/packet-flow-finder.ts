// Which external cache entry a queued packet belongs to (commit on demand, on-demand-commit.ts):
// the packet's headers make the key of the flow whose original direction it travels, and, for
// the reply direction without NAT, the inverse key; both are looked up in the cache's table. A
// reply packet of a NATed flow matches neither: its tuple is the flow's reply tuple, which the
// cache does not index, so an index of the NATed entries' reply tuples is built once per
// promotion, a slice per event-loop turn (the commit workers have the CPU meanwhile). Lookups
// that miss while it is being built wait for it (the caller bounds how long).
import type { ArenaCache } from '../cache/arena-cache.js';
import { ObjectState } from '../cache/sync-cache.js';
import { FlowFields } from '../conntrack/flow-fields.js';
import { tupleKeyOfFields } from '../conntrack/key.js';
import { PacketFlow, readPacketFlow, writePacketKey } from '../conntrack/packet-flow.js';
import { scanCtWire } from '../sync/ct-wire.js';

/** Records indexed per slice of the reply index. */
const INDEX_SLICE = 4096;

export type FindResult =
  /** The entry's handle in the cache. */
  | { found: number }
  /** Not a flow of the cache (or not a packet a key can be made of). */
  | 'unknown'
  /** Not found yet: the NAT reply index is still being built. */
  | 'pending';

export class PacketFlowFinder {
  private readonly flow = new PacketFlow();
  private readonly key = new Uint8Array(40);
  private readonly fields = new FlowFields();
  private readonly inverse = new FlowFields();
  /** Reply-tuple key (latin1) -> handle, for entries whose reply tuple is not the inverse of the original. */
  private readonly replyIndex = new Map<string, number>();
  private nextHandle = 1;
  private indexDone = false;

  constructor(private readonly cache: ArenaCache) {}

  /** The reply index is complete. */
  get ready(): boolean {
    return this.indexDone;
  }

  /** Entries whose reply tuple the index holds (NATed). */
  get natEntries(): number {
    return this.replyIndex.size;
  }

  /** Indexes the next slice of entries; returns true once all are. */
  indexSlice(max = INDEX_SLICE): boolean {
    const c = this.cache;
    const top = c.maxHandle;
    const f = this.fields;
    let n = 0;
    for (; this.nextHandle <= top && n < max; this.nextHandle++, n++) {
      const h = this.nextHandle;
      if (!c.has(h) || c.stateOf(h) === ObjectState.DEAD) continue;
      const start = c.attrsStart(h);
      if (!scanCtWire(c.buffer, start, start + c.attrsLength(h), f)) continue;
      const zone = f.zone < 0 ? 0 : f.zone;
      const len = tupleKeyOfFields(f.reply, f.family, zone, this.key);
      if (len < 0) continue;
      const replyKey = Buffer.from(this.key.buffer, 0, len).toString('latin1');
      this.inverse.reply.invertOf(f.orig);
      const invLen = tupleKeyOfFields(this.inverse.reply, f.family, zone, this.key);
      if (invLen === len && Buffer.from(this.key.buffer, 0, len).toString('latin1') === replyKey) continue;
      this.replyIndex.set(replyKey, h);
    }
    if (this.nextHandle > top) this.indexDone = true;
    return this.indexDone;
  }

  /** The entry of the packet b[off, off + len) (from its layer-3 header). */
  find(b: Uint8Array, off: number, len: number): FindResult {
    const p = this.flow;
    if (!readPacketFlow(b, off, len, p)) return 'unknown';
    const c = this.cache;
    let klen = writePacketKey(p, false, this.key);
    let h = c.findHandle(this.key, 0, klen);
    if (h === 0) {
      klen = writePacketKey(p, true, this.key);
      h = c.findHandle(this.key, 0, klen);
    }
    if (h === 0) {
      // the packet's own tuple, as a reply tuple is keyed
      klen = writePacketKey(p, false, this.key);
      h = this.replyIndex.get(Buffer.from(this.key.buffer, 0, klen).toString('latin1')) ?? 0;
      if (h !== 0 && !c.has(h)) h = 0;
    }
    if (h !== 0 && c.stateOf(h) !== ObjectState.DEAD) return { found: h };
    return this.indexDone ? 'unknown' : 'pending';
  }
}
