// OnDemandCommit on fakes: verdicts (a batch when nothing waits, one each otherwise), the rate
// limit, the packets that wait for the NAT reply index and the bound on their wait.
import { strict as assert } from 'node:assert';
import { ArenaCache } from '../../../src/cache/arena-cache.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';
import type { Entry } from '../../../src/conntrack/entry.js';
import { flowKey } from '../../../src/conntrack/key.js';
import { OnDemandCommit, type QueuePort } from '../../../src/engine/on-demand-commit.js';
import type { EntryCommitPort } from '../../../src/engine/entry-committer.js';
import type { EngineClock } from '../../../src/engine/ports/clock.js';
import { QueuedPacket } from '../../../src/netlink/queue-packet.js';
import { parseIP } from '../../../src/netlink/ip.js';
import { encodeCtAttrs } from '../../../src/sync/wire-attrs.js';

const flow = (i: number): Entry => ({
  family: 2,
  orig: { src: '192.0.2.2', dst: '198.51.100.1', proto: 17, sport: 1000 + i, dport: 53 },
  status: 14,
  timeout: 600,
});

function cacheOf(n: number): ArenaCache {
  const cache = new ArenaCache('external', n * 2 + 64, { tcpWindowTracking: false }, n + 1, false);
  const scratch = Buffer.alloc(512);
  for (let i = 0; i < n; i++) {
    const key = Buffer.from(flowKey(flow(i)), 'latin1');
    cache.store(key, 0, key.length, scratch, 0, encodeCtAttrs(scratch, 0, flow(i), undefined), 1000, ObjectState.NEW);
  }
  return cache;
}

/** An IPv4 UDP packet from source port `sport`. */
function packet(sport: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x45;
  b[9] = 17;
  b.set(parseIP('192.0.2.2', 2), 12);
  b.set(parseIP('198.51.100.1', 2), 16);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(53, 22);
  return b;
}

class FakeQueue implements QueuePort {
  queued: Array<{ id: number; bytes: Buffer }> = [];
  verdicts: string[] = [];
  onReadable(): void {}
  readPackets(fn: (p: QueuedPacket, buf: Buffer) => void): number {
    const n = this.queued.length;
    for (const q of this.queued.splice(0)) {
      const p = new QueuedPacket();
      p.id = q.id;
      p.payload = 0;
      p.payloadLength = q.bytes.length;
      fn(p, q.bytes);
    }
    return n;
  }
  accept(id: number): void {
    this.verdicts.push(`accept ${id}`);
  }
  acceptUpTo(maxId: number): void {
    this.verdicts.push(`accept <=${maxId}`);
  }
  close(): void {
    this.verdicts.push('close');
  }
}

class FakeCommitter implements EntryCommitPort {
  handles: number[] = [];
  commit(_c: ArenaCache, h: number): number {
    this.handles.push(h);
    return 0;
  }
  close(): void {}
}

class FakeClock implements EngineClock {
  t = 0;
  timers: Array<{ at: number; cb: () => void }> = [];
  turns: Array<() => void> = [];
  now = () => 1_000_000 + this.t;
  monotonic = () => this.t;
  setTimer = (ms: number, cb: () => void) => {
    const t = { at: this.t + ms, cb };
    this.timers.push(t);
    return t;
  };
  clearTimer = (h: unknown) => void (this.timers = this.timers.filter((t) => t !== h));
  nextTurn = (cb: () => void) => void this.turns.push(cb);
  advance(ms: number): void {
    this.t += ms;
    for (const t of this.timers.filter((x) => x.at <= this.t)) {
      this.timers = this.timers.filter((x) => x !== t);
      t.cb();
    }
  }
}

const limits = { maxQueueLength: 100, maxWaitMs: 50, maxCommitsPerSecond: 1000 };

describe('engine/on-demand-commit', () => {
  it('commits known flows, accepts unknown ones unchanged, one batch verdict', () => {
    const q = new FakeQueue();
    const c = new FakeCommitter();
    const s = new OnDemandCommit(cacheOf(10), q, c, new FakeClock(), limits);
    s.start();
    q.queued.push({ id: 1, bytes: packet(1003) }, { id: 2, bytes: packet(9) }, { id: 3, bytes: packet(1004) });
    s.drain();
    assert.equal(c.handles.length, 2);
    assert.deepEqual(q.verdicts, ['accept <=3']);
    assert.deepEqual({ ...s.counters }, { ...s.counters, packets: 3, committed: 2, unknown: 1 });
  });

  it('over the rate, accepts without committing and counts; the bucket refills with time', () => {
    const q = new FakeQueue();
    const c = new FakeCommitter();
    const clock = new FakeClock();
    const s = new OnDemandCommit(cacheOf(10), q, c, clock, { ...limits, maxCommitsPerSecond: 2 });
    s.start();
    for (let i = 0; i < 4; i++) q.queued.push({ id: i + 1, bytes: packet(1000 + i) });
    s.drain();
    assert.deepEqual([s.counters.committed, s.counters.rateLimited], [2, 2]);
    clock.advance(500);
    q.queued.push({ id: 5, bytes: packet(1005) }, { id: 6, bytes: packet(1006) });
    s.drain();
    assert.deepEqual([s.counters.committed, s.counters.rateLimited], [3, 3]);
  });

  it('a miss waits for the NAT reply index, then is looked up again; other packets are answered one by one', () => {
    const q = new FakeQueue();
    const c = new FakeCommitter();
    const clock = new FakeClock();
    const s = new OnDemandCommit(cacheOf(5000), q, c, clock, limits); // more than one index slice
    s.start();
    q.queued.push({ id: 1, bytes: packet(9) }, { id: 2, bytes: packet(1001) });
    s.drain();
    assert.deepEqual(q.verdicts, ['accept 2'], 'the unknown packet waits; the known one is answered alone');
    while (clock.turns.length) clock.turns.shift()!();
    assert.deepEqual(q.verdicts, ['accept 2', 'accept 1']);
    assert.deepEqual([s.counters.unknown, s.counters.committed, s.counters.waitedTooLong], [1, 1, 0]);
  });

  it('a packet that waited maxWaitMs is accepted without its entry and counted', () => {
    const q = new FakeQueue();
    const clock = new FakeClock();
    const s = new OnDemandCommit(cacheOf(5000), q, new FakeCommitter(), clock, limits);
    s.start();
    q.queued.push({ id: 1, bytes: packet(9) });
    s.drain();
    clock.advance(49);
    assert.deepEqual(q.verdicts, []);
    clock.advance(1);
    assert.deepEqual(q.verdicts, ['accept 1']);
    assert.equal(s.counters.waitedTooLong, 1);
  });

  it('stop answers what waits, then closes the queue', () => {
    const q = new FakeQueue();
    const s = new OnDemandCommit(cacheOf(5000), q, new FakeCommitter(), new FakeClock(), limits);
    s.start();
    q.queued.push({ id: 7, bytes: packet(9) });
    s.drain();
    const counters = s.stop();
    assert.deepEqual(q.verdicts, ['accept 7', 'close']);
    assert.equal(counters.waitedTooLong, 1);
  });
});
