import type { ArenaCache } from './arena-cache.js';

/**
 * When the peer last refreshed each entry of the external cache, in FT-FW's RESYNC epochs
 * (FtFw.resyncEpoch: RESYNCs sent so far), by handle: 4 bytes per handle, no object per flow.
 * Once the peer's answer to the RESYNC of epoch k is known complete, an entry stamped below k
 * is one the peer no longer has (a ghost): sweep() removes those.
 */
export class RefreshStamps {
  private stamps = new Uint32Array(1024);

  /** The peer sent `handle`'s entry while the epoch was `epoch`. */
  stamp(handle: number, epoch: number): void {
    if (handle >= this.stamps.length) {
      let n = this.stamps.length * 2;
      while (n <= handle) n *= 2;
      const next = new Uint32Array(n);
      next.set(this.stamps);
      this.stamps = next;
    }
    this.stamps[handle] = epoch;
  }

  /** Removes from `cache` every entry last refreshed before `epoch`; returns how many. */
  sweep(cache: ArenaCache, epoch: number): number {
    const stamps = this.stamps;
    let removed = 0;
    for (let h = 1; h <= cache.maxHandle; h++) {
      if (!cache.has(h) || (h < stamps.length && stamps[h] >= epoch)) continue;
      cache.removeHandle(h);
      removed++;
    }
    return removed;
  }
}
