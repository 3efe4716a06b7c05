// ArenaCache (arena + open-addressing table) against a plain Map model: random sequences of
// stores, in-place and moving overwrites, removals and flushes, with growth, compaction and
// backward-shift deletion all exercised (small key space, attributes of 4..600 bytes); and the
// commit's view of it (forEachSegment, forEachRecord) holds exactly the live entries.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { ArenaCache, forEachRecord, hashKey } from '../../../src/cache/arena-cache.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';

type Op =
  | { k: 'store'; key: number; len: number; fill: number; alive: boolean }
  | { k: 'overwrite'; key: number; len: number; fill: number }
  | { k: 'kill'; key: number; len: number; fill: number; final: boolean }
  | { k: 'remove'; key: number }
  | { k: 'flush' }
  /** Lend the arena (as to a commit's workers), give the oldest loan back. */
  | { k: 'lend' }
  | { k: 'release' };

const keyBytes = (i: number, v6: boolean): Buffer => {
  const b = Buffer.alloc(v6 ? 40 : 16);
  b[0] = v6 ? 10 : 2;
  b[1] = 6;
  b.writeUInt32BE(i * 7919, 4);
  b.writeUInt16BE(i & 0xffff, b.length - 4);
  return b;
};
const attrs = (len: number, fill: number): Buffer => Buffer.alloc(len, fill);

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('store' as const),
      key: fc.nat(300),
      len: fc.integer({ min: 4, max: 600 }),
      fill: fc.nat(255),
      alive: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('overwrite' as const),
      key: fc.nat(300),
      len: fc.integer({ min: 4, max: 600 }),
      fill: fc.nat(255),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('kill' as const),
      key: fc.nat(300),
      len: fc.integer({ min: 4, max: 600 }),
      fill: fc.nat(255),
      final: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('remove' as const), key: fc.nat(300) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'lend' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'release' as const }) },
);

describe('ArenaCache', () => {
  it('behaves as a map of key -> (attributes, state) under random operations', () => {
    // sizeHint 0 starts at the minimum sizes; others start pre-sized, below or above the limit
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 300, maxLength: 1500, size: 'max' }),
        fc.integer({ min: 50, max: 400 }),
        fc.constantFrom(0, 9, 100, 1000),
        fc.boolean(),
        (ops, limit, sizeHint, shared) => {
          const c = new ArenaCache('external', limit, { tcpWindowTracking: true }, sizeHint, shared);
          // loans of the arena, with its bytes as lent: they must not change until given back
          const loans: Array<{ lent: ReturnType<ArenaCache['lendArena']>; bytes: Buffer }> = [];
          const unchanged = (l: (typeof loans)[number]): void => {
            assert.ok(
              Buffer.from(l.lent.arena, 0, l.lent.used).equals(l.bytes),
              'a lent arena changed under its readers',
            );
          };
          // the model keeps each key's handle too: it must not change while the key is held
          const model = new Map<string, { attrs: string; state: ObjectState; handle: number }>();
          const liveCount = (): number => [...model.values()].filter((v) => v.state !== ObjectState.DEAD).length;
          for (const o of ops) {
            if (o.k === 'lend') {
              const lent = c.lendArena();
              loans.push({ lent, bytes: Buffer.from(Buffer.from(lent.arena, 0, lent.used)) });
              continue;
            }
            if (o.k === 'release') {
              const l = loans.shift();
              if (l) {
                unchanged(l);
                l.lent.release();
              }
              continue;
            }
            if (o.k === 'flush') {
              assert.equal(c.flush(), liveCount());
              model.clear();
              continue;
            }
            const kb = keyBytes(o.key, o.key % 5 === 0);
            const key = kb.toString('latin1');
            const held = model.get(key);
            if (o.k === 'store') {
              const a = attrs(o.len, o.fill);
              const state = o.alive ? ObjectState.ALIVE : ObjectState.NEW;
              const h = c.store(kb, 0, kb.length, a, 0, a.length, 1000, state);
              assert.equal(h !== 0, held !== undefined || liveCount() < limit);
              if (held) assert.equal(h, held.handle, 'a held key keeps its handle');
              if (h !== 0) model.set(key, { attrs: a.toString('latin1'), state, handle: h });
            } else if (o.k === 'overwrite') {
              const rec = c.find(kb, 0, kb.length);
              assert.equal(rec >= 0, held !== undefined);
              if (held) {
                const a = attrs(o.len, o.fill);
                c.overwriteHandle(held.handle, a, 0, a.length, 2000);
                model.set(key, { attrs: a.toString('latin1'), state: ObjectState.ALIVE, handle: held.handle });
              }
            } else if (o.k === 'kill') {
              const live = held !== undefined && held.state !== ObjectState.DEAD;
              const a = attrs(o.len, o.fill);
              const h = held?.handle ?? 0;
              assert.equal(o.final ? c.kill(h, 3000, a, 0, a.length) : c.kill(h, 3000), live);
              if (held && live)
                model.set(key, {
                  attrs: o.final ? a.toString('latin1') : held.attrs,
                  state: ObjectState.DEAD,
                  handle: h,
                });
            } else {
              assert.equal(c.removeRaw(kb, 0, kb.length), model.delete(key));
              if (held) assert.ok(!c.has(held.handle), 'a removed key frees its handle');
            }
            assert.equal(c.size, liveCount());
            assert.equal(c.totalObjects, model.size);
          }
          for (const l of loans) unchanged(l);
          for (const [k, v] of model) {
            const kb = Buffer.from(k, 'latin1');
            assert.equal(c.findHandle(kb, 0, kb.length), v.handle);
            assert.equal(c.stateOf(v.handle), v.state);
            assert.equal(c.keyOf(v.handle), k);
            const start = c.attrsStart(v.handle);
            assert.equal(c.buffer.toString('latin1', start, start + c.attrsLength(v.handle)), v.attrs);
          }
          assert.deepEqual(
            [...c.handles()].sort((x, y) => x - y),
            [...model.values()].map((v) => v.handle).sort((x, y) => x - y),
          );
          const got = [...c.values()].map((x) => [x.key, x.attrs, x.state]).sort();
          const want = [...model].map(([k, v]) => [k, v.attrs, v.state]).sort();
          assert.deepEqual(got, want);
          for (const [k, v] of model) assert.equal(c.get(k)?.attrs, v.attrs);
          // the commit's view: segments of whole records, copied, then read back on their own
          const first = 64 + (ops.length % 200);
          const most = 256 + 3 * limit;
          const seen: string[] = [];
          let covered = 0;
          const limits = [first, first + 8, most];
          let index = 0;
          c.forEachSegment(limits, (arena, start, end) => {
            assert.equal(start, covered, 'segments follow each other');
            covered = end;
            const limit = limits[Math.min(index++, limits.length - 1)];
            // over its limit only when one record alone is longer (20-byte header, key, room)
            if (end - start > limit)
              assert.ok(
                end - start <= 20 + 40 + 600 + 16 + 4,
                `segment ${index - 1}: ${end - start} bytes for a limit of ${limit}`,
              );
            const copy = new Uint8Array(arena.subarray(start, end));
            forEachRecord(copy, (s, e, updated) => {
              assert.ok(updated === 1000 || updated === 2000, 'DEAD records are left out');
              seen.push(Buffer.from(copy.buffer, s, e - s).toString('latin1'));
            });
          });
          assert.deepEqual(
            seen.sort(),
            [...model.values()]
              .filter((v) => v.state !== ObjectState.DEAD)
              .map((v) => v.attrs)
              .sort(),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('copies a lent arena at the first write into a record, not for appends nor after the loan', () => {
    const c = new ArenaCache('external', 100, { tcpWindowTracking: true }, 0, true);
    const k1 = keyBytes(1, false);
    const k2 = keyBytes(2, false);
    c.store(k1, 0, 16, attrs(40, 1), 0, 40, 100, ObjectState.NEW);
    const lent = c.lendArena();
    assert.equal(lent.arena, c.buffer.buffer, 'a shared cache lends its own arena');
    c.store(k2, 0, 16, attrs(40, 2), 0, 40, 100, ObjectState.NEW); // an append: past what is lent
    assert.equal(c.arenaCopiesForReaders, 0);
    // growth too: the shared arena grows in place, the lent bytes stay where they are
    const grown = new ArenaCache('external', 5000, { tcpWindowTracking: true }, 0, true);
    grown.store(k1, 0, 16, attrs(40, 1), 0, 40, 100, ObjectState.NEW);
    const lentBeforeGrowth = grown.lendArena();
    for (let i = 3; i < 3000; i++)
      grown.store(keyBytes(i, false), 0, 16, attrs(40, i & 0xff), 0, 40, 100, ObjectState.NEW);
    assert.ok(grown.buffer.length > 100_000, 'the arena grew');
    assert.equal(grown.buffer.buffer, lentBeforeGrowth.arena, 'in place: the same shared memory');
    assert.equal(grown.arenaCopiesForReaders, 0);
    lentBeforeGrowth.release();
    c.overwriteHandle(c.findHandle(k1, 0, 16), attrs(40, 3), 0, 40, 200); // in place
    assert.equal(c.arenaCopiesForReaders, 1);
    assert.notEqual(c.buffer.buffer, lent.arena);
    assert.equal(c.get(k1.toString('latin1'))!.attrs, attrs(40, 3).toString('latin1'));
    const seen: string[] = [];
    forEachRecord(Buffer.from(lent.arena, 0, lent.used), (s, e) =>
      seen.push(Buffer.from(lent.arena, s, e - s).toString('latin1')),
    );
    assert.deepEqual(seen, [attrs(40, 1).toString('latin1')], 'the readers see the arena as lent');
    c.overwriteHandle(c.findHandle(k1, 0, 16), attrs(40, 4), 0, 40, 300);
    assert.equal(c.arenaCopiesForReaders, 1, 'one copy per loan');
    lent.release();
    const again = c.lendArena();
    again.release();
    c.overwriteHandle(c.findHandle(k2, 0, 16), attrs(40, 5), 0, 40, 400);
    assert.equal(c.arenaCopiesForReaders, 1, 'no copy once the loan is back');
    const plain = new ArenaCache('internal', 100, { tcpWindowTracking: true });
    plain.store(k1, 0, 16, attrs(40, 1), 0, 40, 100, ObjectState.NEW);
    const copy = plain.lendArena();
    assert.notEqual(copy.arena, plain.buffer.buffer, 'a cache that is not shared lends a copy');
    assert.ok(Buffer.from(copy.arena, 0, copy.used).equals(plain.buffer.subarray(0, copy.used)));
  });

  it('keeps added on overwrite, renews it on a full store, and counts like the internal cache', () => {
    const c = new ArenaCache('external', 10, { tcpWindowTracking: true });
    const kb = keyBytes(1, false);
    assert.ok(c.store(kb, 0, 16, attrs(40, 1), 0, 40, 100, ObjectState.NEW));
    c.overwrite(c.find(kb, 0, 16), attrs(400, 2), 0, 400, 200); // moves: longer than its room
    let o = c.get(kb.toString('latin1'))!;
    assert.deepEqual([o.added, o.updated, o.state, o.attrs.length], [100, 200, ObjectState.ALIVE, 400]);
    assert.ok(c.store(kb, 0, 16, attrs(8, 3), 0, 8, 300, ObjectState.NEW));
    o = c.get(kb.toString('latin1'))!;
    assert.deepEqual([o.added, o.updated, o.state], [300, 300, ObjectState.NEW]);
    assert.deepEqual(c.counters, {
      created: 2,
      createFailed: 0,
      updated: 1,
      updateFailed: 0,
      destroyed: 0,
      destroyFailed: 0,
    });
    assert.equal(c.removeRaw(kb, 0, 16), true);
    assert.equal(c.removeRaw(kb, 0, 16), false);
    assert.equal(c.counters.destroyed, 1);
    assert.ok(c.store(kb, 0, 16, Buffer.from('abcd'), 0, 4, 5, ObjectState.NEW));
    assert.equal(c.size, 1);
  });

  it('spreads flows that differ only in the last octets of their addresses over the table', () => {
    // 192.0.2.x -> 198.51.100.y, one port pair: what a /24 of clients talking to one /24 looks
    // like; the table indexes by the hash's low bits
    const kb = Buffer.alloc(16);
    kb[0] = 2;
    kb[1] = 6;
    kb.writeUInt16BE(40000, 12);
    kb.writeUInt16BE(443, 14);
    const bits = 16;
    const seen = new Set<number>();
    for (let x = 0; x < 256; x++) {
      for (let y = 0; y < 256; y++) {
        kb.writeUInt32BE((0xc0000200 | x) >>> 0, 4);
        kb.writeUInt32BE((0xc6336400 | y) >>> 0, 8);
        seen.add(hashKey(kb, 0, 16) & ((1 << bits) - 1));
      }
    }
    // a random function fills 1 - 1/e (63%) of 2^16 slots with 2^16 keys
    assert.ok(seen.size > 0.55 * (1 << bits), `${seen.size} distinct table positions for 65536 flows`);
  });

  it('a handle keeps naming its flow while records move (longer updates, growth, compaction)', () => {
    const c = new ArenaCache('internal', 100_000, { tcpWindowTracking: true });
    const handle = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const k = i % 1000;
      const kb = keyBytes(k, k % 7 === 0);
      const len = 40 + ((i * 37) % 400);
      if (i % 3 === 0 && handle.has(k)) {
        assert.ok(c.removeHandle(handle.get(k)!));
        handle.delete(k);
      }
      const h = c.store(kb, 0, kb.length, attrs(len, k & 255), 0, len, 1, ObjectState.NEW);
      if (handle.has(k)) assert.equal(h, handle.get(k));
      handle.set(k, h);
      if (i % 5 === 0) c.kill(h, 2); // DEAD records move too
    }
    assert.ok(c.compactions > 0, 'the arena was compacted');
    for (const [k, h] of handle) {
      const kb = keyBytes(k, k % 7 === 0);
      assert.equal(c.keyOf(h), kb.toString('latin1'));
      assert.equal(c.findHandle(kb, 0, kb.length), h);
      assert.equal(c.buffer[c.attrsStart(h)], k & 255);
    }
  });

  it('compacts in place under churn: the same arena throughout, lent and walked bytes left as they were', () => {
    // what a backup's external cache (shared) and a primary's internal cache do under churn: a
    // fixed number of flows alive, the oldest removed as each new one comes; every compaction
    // used to allocate a new arena, and a shared one left behind stayed resident (issue 13)
    for (const shared of [true, false]) {
      const alive = 2000;
      const c = new ArenaCache('external', 100_000, { tcpWindowTracking: true }, alive, shared);
      const attrsOf = (i: number): Buffer => attrs(60 + (i % 7) * 24, i & 0xff);
      let next = 0;
      const churn = (compactions: number): void => {
        const until = c.compactions + compactions;
        while (c.compactions < until) {
          const a = attrsOf(next);
          const kb = keyBytes(next, next % 9 === 0);
          assert.ok(c.store(kb, 0, kb.length, a, 0, a.length, next, ObjectState.ALIVE));
          if (next >= alive) {
            const old = keyBytes(next - alive, (next - alive) % 9 === 0);
            assert.ok(c.removeRaw(old, 0, old.length));
          }
          next++;
        }
      };
      const holdsTheLast = (): void => {
        assert.equal(c.size, alive);
        for (let i = next - alive; i < next; i++) {
          const kb = keyBytes(i, i % 9 === 0);
          const h = c.findHandle(kb, 0, kb.length);
          assert.ok(h > 0, `flow ${i} is held`);
          assert.equal(c.keyOf(h), kb.toString('latin1'));
          assert.ok(
            c.buffer.subarray(c.attrsStart(h), c.attrsStart(h) + c.attrsLength(h)).equals(attrsOf(i)),
            `flow ${i}'s attributes`,
          );
        }
      };
      churn(1);
      const arena = c.buffer.buffer;
      const allocations = c.arenaAllocations;
      churn(30);
      assert.equal(c.buffer.buffer, arena, `${shared ? 'shared' : 'plain'}: 30 compactions in the same arena`);
      assert.equal(c.arenaAllocations, allocations, 'no arena allocated for a compaction');
      holdsTheLast();

      if (shared) {
        // a loan across a compaction: its readers' bytes stay; the cache goes on in one copy
        const lent = c.lendArena();
        const asLent = Buffer.from(Buffer.from(lent.arena, 0, lent.used));
        churn(3);
        assert.ok(Buffer.from(lent.arena, 0, lent.used).equals(asLent), 'a lent arena changed under its readers');
        assert.notEqual(c.buffer.buffer, lent.arena);
        assert.equal(c.arenaCopiesForReaders, 1, 'one copy for the loan');
        lent.release();
        const copy = c.buffer.buffer;
        churn(10);
        assert.equal(c.buffer.buffer, copy, 'in place again once the loan is back');
        assert.equal(c.arenaCopiesForReaders, 1);
        holdsTheLast();
      }

      // a dump walk across compactions: each record at most once, as it was; every flow held
      // throughout is visited (removals made meanwhile may show)
      const before = new Map([...c.values()].map((x) => [x.key, x.attrs]));
      const walk = c.values();
      const seen = new Map<string, string>();
      const first = walk.next().value!;
      seen.set(first.key, first.attrs);
      const walked = c.buffer.buffer;
      churn(3);
      assert.notEqual(c.buffer.buffer, walked, 'the walked arena was left to the walk');
      for (const x of walk) {
        assert.ok(!seen.has(x.key), 'a record visited twice');
        seen.set(x.key, x.attrs);
      }
      for (const [k, v] of seen) assert.equal(v, before.get(k), 'a record the walk did not start with, or changed');
      for (const [k] of before) {
        if (c.get(k)) assert.ok(seen.has(k), 'a flow held throughout was not visited');
      }
      const afterWalk = c.buffer.buffer;
      churn(10);
      assert.equal(c.buffer.buffer, afterWalk, 'in place again once the walk is over');
      holdsTheLast();
    }
  });

  it('a dump started before heavy changes walks the arena it started with', () => {
    const c = new ArenaCache('external', 100_000, { tcpWindowTracking: true });
    for (let i = 0; i < 1000; i++) {
      const kb = keyBytes(i, false);
      c.store(kb, 0, 16, attrs(64, i & 255), 0, 64, 1, ObjectState.NEW);
    }
    const it = c.values();
    const first = it.next().value!;
    // growth and compaction while the dump is paused
    const want = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const kb = keyBytes(i % 1000, false);
      const len = 200 + ((i * 37) % 300);
      if (i % 3 === 0) c.removeRaw(kb, 0, 16); // leaves garbage behind: compactions follow
      c.store(kb, 0, 16, attrs(len, i & 255), 0, len, 2, ObjectState.NEW);
      want.set(kb.toString('latin1'), i & 255);
    }
    assert.ok(c.compactions > 0, 'the arena was compacted');
    let n = 1;
    for (const x of it) {
      assert.equal(x.key.length, 16);
      n++;
    }
    assert.equal(first.attrs.length, 64);
    assert.ok(n <= 1000, `${n} records from the snapshot`);
    assert.equal(c.size, 1000);
    for (const x of c.values()) assert.equal(x.attrs.charCodeAt(0), want.get(x.key));
  });
});
