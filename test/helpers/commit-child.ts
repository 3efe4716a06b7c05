// Child process for test/integration/engine/commit-lend.test.ts, run inside a test namespace: fills a shared external
// cache with N TCP flows marked 1, starts a commit with the worker pool, and while the workers
// read the lent arena rewrites every flow in place with mark 2 and removes every tenth. Prints
// one JSON line: the commit's counts, the copies the cache made for its readers, and the marks
// the cache holds afterwards.
// argv[2]: N.
import { ArenaCache } from '../../src/cache/arena-cache.js';
import { CommitPool } from '../../src/engine/commit-pool.js';
import { encodeCtAttrs } from '../../src/sync/wire-attrs.js';
import { flowKey } from '../../src/conntrack/key.js';
import { ObjectState } from '../../src/cache/sync-cache.js';
import type { Entry } from '../../src/conntrack/entry.js';

const n = Number(process.argv[2] ?? '20000');
const flow = (i: number, mark: number): Entry => ({
  family: 2,
  orig: {
    src: `192.0.2.${1 + (i % 250)}`,
    dst: '198.51.100.80',
    proto: 6,
    sport: 1024 + Math.floor(i / 250),
    dport: 443,
  },
  status: 14,
  timeout: 600,
  mark,
  tcp: { state: 3 },
});
const cache = new ArenaCache('external', n * 2, { tcpWindowTracking: false }, n, true);
const scratch = Buffer.alloc(1024);
const keys: Buffer[] = [];
for (let i = 0; i < n; i++) {
  const e = flow(i, 1);
  const key = Buffer.from(flowKey(e), 'latin1');
  keys.push(key);
  cache.store(key, 0, key.length, scratch, 0, encodeCtAttrs(scratch, 0, e, undefined), 1000, ObjectState.NEW);
}
const pool = new CommitPool();
await pool.start();
const now = Math.floor(Date.now() / 1000);
const committing = pool.commit(cache, { tcpWindowTracking: false, now });
// the workers have the arena now: peer messages arrive (same-size updates go in place)
for (let i = 0; i < n; i++) {
  const h = cache.findHandle(keys[i], 0, keys[i].length);
  if (i % 10 === 0) cache.removeHandle(h);
  else cache.overwriteHandle(h, scratch, 0, encodeCtAttrs(scratch, 0, flow(i, 2), undefined), now);
}
const r = await committing;
const marks: Record<string, number> = {};
for (const o of cache.values()) {
  const m = String(cache.entry(o).mark);
  marks[m] = (marks[m] ?? 0) + 1;
}
process.stdout.write(
  JSON.stringify({
    committed: r.committed,
    failed: r.failed.length,
    copies: cache.arenaCopiesForReaders,
    size: cache.size,
    marks,
  }) + '\n',
);
pool.stop();
process.exit(0);
