// When the commit workers run (src/engine/commit-pool-demand.ts): while the external cache holds
// entries, with a fake pool, cache and timer.
import { strict as assert } from 'node:assert';
import { runPoolWhileFilled, type DemandPool, type FilledCache } from '../../../src/engine/commit-pool-demand.js';
import { ArenaCache } from '../../../src/cache/arena-cache.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';

class FakePool implements DemandPool {
  size = 0;
  starts = 0;
  stops = 0;
  pending?: { resolve: () => void; reject: (err: Error) => void };
  committing = false;

  get busy(): boolean {
    return this.pending !== undefined || this.committing;
  }

  start(): Promise<void> {
    this.starts++;
    return new Promise((resolve, reject) => {
      this.pending = {
        resolve: () => {
          this.pending = undefined;
          this.size = 2;
          resolve();
        },
        reject: (err) => {
          this.pending = undefined;
          reject(err);
        },
      };
    });
  }

  stop(): void {
    this.stops++;
    this.size = 0;
  }
}

class FakeCache implements FilledCache {
  size = 0;
  onFilled?: () => void;

  fill(): void {
    this.size++;
    if (this.size === 1) this.onFilled?.();
  }
}

function setup(initialSize = 0) {
  const pool = new FakePool();
  const cache = new FakeCache();
  cache.size = initialSize;
  let tick: (() => void) | undefined;
  const errors: string[] = [];
  const unfollow = runPoolWhileFilled(pool, cache, {
    log: { error: (m) => errors.push(m), verbose: () => undefined },
    setInterval: (cb) => (tick = cb),
    clearInterval: () => (tick = undefined),
  });
  return { pool, cache, errors, unfollow, check: () => tick?.(), ticking: () => tick !== undefined };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('commit workers while the external cache holds entries', () => {
  it('does not start them for an empty cache', () => {
    const { pool, check } = setup();
    check();
    check();
    assert.equal(pool.starts, 0);
  });

  it('starts them at the first entry, once', () => {
    const { pool, cache } = setup();
    cache.fill();
    cache.fill();
    assert.equal(pool.starts, 1);
    pool.pending!.resolve();
    cache.size = 0;
    cache.fill();
    assert.equal(pool.starts, 1, 'running already');
  });

  it('starts them at once for a cache that holds entries already', () => {
    const { pool } = setup(5);
    assert.equal(pool.starts, 1);
  });

  it('stops them once the cache was empty at two checks in a row, not while busy', async () => {
    const { pool, cache, check } = setup();
    cache.fill();
    pool.pending!.resolve();
    await settle();
    cache.size = 0; // flushed
    check();
    assert.equal(pool.stops, 0, 'one empty check is not enough');
    pool.committing = true;
    check();
    assert.equal(pool.stops, 0, 'not under a commit');
    pool.committing = false;
    check();
    assert.equal(pool.stops, 1);
    assert.equal(pool.size, 0);
    // entries again: started again
    cache.fill();
    assert.equal(pool.starts, 2);
  });

  it('an entry between two checks keeps them', async () => {
    const { pool, cache, check } = setup();
    cache.fill();
    pool.pending!.resolve();
    await settle();
    cache.size = 0;
    check();
    cache.fill();
    cache.size = 0;
    check();
    assert.equal(pool.stops, 0);
  });

  it('a failed start is logged and tried again at the next check', async () => {
    const { pool, cache, errors, check } = setup();
    cache.fill();
    pool.pending!.reject(new Error('no netlink'));
    await settle();
    assert.match(errors[0], /commit workers did not start: no netlink/);
    check();
    assert.equal(pool.starts, 2);
  });

  it('unfollowing stops the checks and leaves the cache alone', () => {
    const { pool, cache, unfollow, ticking } = setup();
    unfollow();
    assert.equal(ticking(), false);
    cache.fill();
    assert.equal(pool.starts, 0);
  });

  it('a start that unfollowing cut short is no error', async () => {
    const { pool, cache, errors, unfollow } = setup();
    cache.fill();
    unfollow();
    pool.pending!.reject(new Error('commit pool stopped while it started'));
    await settle();
    assert.deepEqual(errors, []);
  });

  it('ArenaCache says when it takes its first entry, and again after being emptied', () => {
    const cache = new ArenaCache('external', 100, { tcpWindowTracking: true }, 0, true);
    let filled = 0;
    cache.onFilled = () => filled++;
    const key = (i: number): Buffer => Buffer.from(`key ${i}`, 'latin1');
    const attrs = Buffer.alloc(8);
    cache.store(key(1), 0, 5, attrs, 0, 8, 1, ObjectState.NEW);
    cache.store(key(2), 0, 5, attrs, 0, 8, 1, ObjectState.NEW);
    assert.equal(filled, 1);
    cache.flush();
    cache.store(key(3), 0, 5, attrs, 0, 8, 1, ObjectState.NEW);
    assert.equal(filled, 2);
    cache.removeRaw(key(3), 0, 5);
    cache.store(key(4), 0, 5, attrs, 0, 8, 1, ObjectState.NEW);
    assert.equal(filled, 3);
  });
});
