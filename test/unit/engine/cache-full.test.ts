// src/engine/cache-full.ts: the warning and the -s line of a cache that refuses entries.
import { strict as assert } from 'node:assert';
import { cacheFullText, warnWhenFull, type LimitedCache } from '../../../src/engine/cache-full.js';
import { ArenaCache } from '../../../src/cache/arena-cache.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';
import { flowKey } from '../../../src/conntrack/key.js';
import type { Entry } from '../../../src/conntrack/entry.js';
import { RecLog } from '../../helpers/fakes.js';

const flow = (i: number): Entry => ({
  family: 2,
  orig: { src: `198.51.100.${i % 250}`, dst: '203.0.113.1', proto: 17, sport: 1024 + i, dport: 53 },
  status: 8,
  timeout: 30,
  mark: 0,
});

describe('cache-full', () => {
  it('a full ArenaCache warns once per loop turn with the total refused, the cache and its limit', () => {
    const cache = new ArenaCache('external', 3, { tcpWindowTracking: true, longHelper: 'omit' });
    const log = new RecLog();
    const turns: Array<() => void> = [];
    warnWhenFull(cache, 'external', log, (report) => turns.push(report));
    for (let i = 0; i < 10; i++) cache.storeEntry(flowKey(flow(i)), flow(i), 0, ObjectState.NEW);
    assert.equal(cache.size, 3);
    assert.equal(turns.length, 1, 'one report for the turn');
    turns.shift()!();
    assert.deepEqual(log.lines, [
      'warn external cache full: 7 entries refused so far (HashLimit 3): those flows from the peer are not committed on failover; raise HashLimit',
    ]);
    cache.storeEntry(flowKey(flow(20)), flow(20), 0, ObjectState.NEW);
    turns.shift()!();
    assert.match(log.lines[1], /^warn external cache full: 8 entries refused so far/);
  });

  it('-s: full, was full, or nothing', () => {
    const c: LimitedCache = { limit: 5000, size: 5000, counters: { createFailed: 0 } };
    assert.equal(cacheFullText(c, 'external'), undefined);
    Object.assign(c, { counters: { createFailed: 15000 } });
    assert.equal(cacheFullText(c, 'external'), 'external cache full: 15000 entries refused (HashLimit 5000)');
    assert.equal(cacheFullText(c, 'internal'), 'internal cache full: 15000 kernel entries refused (HashLimit 5000)');
    Object.assign(c, { size: 1200 });
    assert.equal(
      cacheFullText(c, 'external expectation'),
      'external expectation cache was full: 15000 expectations refused (HashLimit 5000, 1200 held now)',
    );
  });
});
