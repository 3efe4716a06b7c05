// src/sync/ftfw.ts: the FT-FW reliability state machine, rule by rule (docs/ftfw-protocol.md §7, §8) with a fake
// clock, then two instances over a simulated lossy / duplicating / reordering link.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { mulberry32 as rng } from '../../helpers/fakes.js';
import {
  FtFw,
  FTFW_FLAG as F,
  FTFW_TYPE as T,
  seqAfter,
  seqBefore,
  seqAdd,
  seqDiff,
  type FtFwEnv,
  type FtFwHooks,
  type FtFwOptions,
  type RxHeader,
  type TxMessage,
  type BulkReason,
  type ReleaseReason,
  type PeerBulkAnswer,
} from '../../../src/sync/ftfw.js';

// ------------------------------------------------------------------------------------ fake time

/** Discrete-event scheduler: fake wall clock + one-shot timers, run in (time, insertion) order. */
class Sim {
  now: number;
  private heap: Array<{ at: number; id: number; cb: () => void }> = [];
  private cancelled = new Set<number>();
  private nextId = 1;

  constructor(startMs = 1_750_000_000_000) {
    this.now = startMs;
  }

  at(delayMs: number, cb: () => void): number {
    const ev = { at: this.now + Math.max(0, delayMs), id: this.nextId++, cb };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
    return ev.id;
  }

  cancel(id: number): void {
    this.cancelled.add(id);
  }

  private pop(): { at: number; id: number; cb: () => void } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  /** Runs every event due up to `until` (absolute ms); the clock ends at `until`. */
  runUntil(until: number): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > until) break;
      this.pop();
      if (this.cancelled.delete(top.id)) continue;
      this.now = top.at;
      top.cb();
    }
    this.now = until;
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** An FtFwEnv on this scheduler, optionally with a clock offset (another host's clock). */
  env(offsetMs = 0): FtFwEnv {
    return {
      now: () => this.now + offsetMs,
      setTimer: (ms, cb) => this.at(ms, cb),
      clearTimer: (h) => this.cancel(h as number),
    };
  }
}

function less(a: { at: number; id: number }, b: { at: number; id: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

// ------------------------------------------------------------------- single-instance helpers

interface TObj {
  key: string;
  state: 'NEW' | 'ALIVE' | 'DEAD';
  ver: number;
  node?: object;
}

/** FtFwOptions for intrusive records kept in TObj.node (the engine's mode). */
export const intrusiveOpts: FtFwOptions<TObj> = {
  nodeOf: (o) => o.node,
  setNodeOf: (o, n) => {
    o.node = n;
  },
};

interface Probe {
  sim: Sim;
  fw: FtFw<TObj>;
  released: Array<[string, ReleaseReason]>;
  bulks: BulkReason[];
  peerStarts: Array<{ seq: number; firstContact: boolean }>;
  txPending: number;
  handshakes: number;
  answers: PeerBulkAnswer[];
  seqResets: Array<{ lastSeq: number; seq: number }>;
}

const T0 = 1_750_000_000; // Unix seconds of the fake clock
const obj = (key: string, state: TObj['state'] = 'NEW', ver = 1): TObj => ({ key, state, ver });

/**
 * One FtFw on a fake clock, recording what it tells its owner. Its bulk passes are queued at
 * once (an empty cache), unless `paced`: then the test queues and calls bulkQueued() itself.
 */
function probe(opts: FtFwOptions<TObj> = {}, start = true, sim = new Sim(T0 * 1000), paced = false): Probe {
  const p: Probe = {
    sim,
    fw: undefined as unknown as FtFw<TObj>,
    released: [],
    bulks: [],
    peerStarts: [],
    txPending: 0,
    handshakes: 0,
    answers: [],
    seqResets: [],
  };
  const hooks: FtFwHooks<TObj> = {
    released: (o, why) => p.released.push([o.key, why]),
    bulk: (why) => {
      p.bulks.push(why);
      if (!paced) p.fw.bulkQueued();
    },
    txPending: () => p.txPending++,
    peerStart: (i) => p.peerStarts.push(i),
    handshakeComplete: () => p.handshakes++,
    peerBulkComplete: (a) => p.answers.push(a),
    peerSequenceReset: (i) => p.seqResets.push(i),
  };
  // the start-up recovery (S6, startup RESYNC) is tested on its own; off here to keep passes small
  p.fw = new FtFw<TObj>(sim.env(), hooks, { keyOf: (o) => o.key, startupResync: false, bulkOnStartup: false, ...opts });
  if (start) p.fw.start();
  return p;
}

const compat = (o: FtFwOptions<TObj> = {}): FtFwOptions<TObj> => ({ conntrackdCompat: true, ...o });

/** Compact view of a transmit pass: 'obj:k@seq' / 'ack(a,b)@seq' plus flags. */
function show(msgs: TxMessage<TObj>[]): string[] {
  return msgs.map((m) => {
    const f = (m.flags & F.HELLO ? 'H' : '') + (m.flags & F.HELLO_BACK ? 'B' : '');
    const it = m.item;
    const body =
      it.kind === 'object' ? `obj:${it.obj.key}` : it.kind === 'alive' ? 'alive' : `${it.kind}(${it.from},${it.to})`;
    return `${body}${f ? '/' + f : ''}`;
  });
}

const data = (seq: number, flags = 0): RxHeader => ({ type: T.CT_NEW, flags, seq: seq >>> 0 });
const ack = (seq: number, from: number, to: number, flags = 0): RxHeader => ({
  type: T.CTL,
  flags: F.ACK | flags,
  seq: seq >>> 0,
  from: from >>> 0,
  to: to >>> 0,
});
const nack = (seq: number, from: number, to: number, flags = 0): RxHeader => ({
  type: T.CTL,
  flags: F.NACK | flags,
  seq: seq >>> 0,
  from: from >>> 0,
  to: to >>> 0,
});
const alive = (seq: number, flags = 0): RxHeader => ({ type: T.CTL, flags: F.ALIVE | flags, seq: seq >>> 0 });
const resync = (seq: number, flags = 0): RxHeader => ({
  type: T.CTL,
  flags: F.RESYNC | flags,
  seq: seq >>> 0,
  from: 0,
  to: 0,
});

/**
 * Completes our handshake: we say ALIVE|HELLO after 1 s (if we said nothing yet), the peer
 * answers with HELLO_BACK on an ALIVE; with `linger` the lingering time is let pass and the
 * peer is heard from again. The peer's last seq is then `ps` (the next one is ps + 1).
 */
function handshake(p: Probe, ps = 5000, linger = true): void {
  if (p.fw.hello === 'init') {
    p.sim.run(1000);
    p.fw.transmitPass();
  }
  p.fw.receive(alive(linger ? ps - 1 : ps, F.HELLO_BACK));
  if (linger) {
    p.sim.run(3000);
    p.fw.receive(alive(ps)); // the linger ends once the peer has been heard from again
    p.fw.transmitPass();
  }
}

// ----------------------------------------------------------------------------- unit: basics

describe('ftfw: sequence arithmetic (docs/ftfw-protocol.md §4)', () => {
  it('serial comparisons wrap', () => {
    assert.ok(seqBefore(1, 2));
    assert.ok(seqAfter(2, 1));
    assert.ok(!seqBefore(5, 5) && !seqAfter(5, 5));
    assert.ok(seqBefore(0xffffffff, 0), '2^32-1 is before 0');
    assert.ok(seqAfter(3, 0xfffffffe));
    assert.equal(seqAdd(0xffffffff, 2), 1);
    assert.equal(seqDiff(1, 0xffffffff), 2);
    assert.equal(seqDiff(0xffffffff, 1), -2);
  });

  it("counter starts at the clock's Unix seconds at the first message and is shared by all messages", () => {
    const p = probe();
    p.sim.now += 12_345; // the seed is taken when the first message is built, not at start()
    p.fw.queueObject(obj('a'));
    let out = p.fw.transmitPass();
    assert.equal(out[0].seq, T0 + 12);
    p.fw.receive(alive(100, F.HELLO_BACK));
    p.fw.queueObject(obj('b'));
    p.fw.receive(data(101));
    p.fw.receive(data(103)); // gap -> ACK(100,101) + NACK(102,102)
    out = p.fw.transmitPass();
    // control messages first, then the replayed a and the new b, consecutive
    assert.deepEqual(show(out), ['ack(100,101)', 'nack(102,102)', 'obj:a', 'obj:b']);
    assert.deepEqual(
      out.map((m) => m.seq),
      [T0 + 13, T0 + 14, T0 + 15, T0 + 16],
    );
  });

  it('wraps from 2^32-1 to 0', () => {
    const p = probe({}, true, new Sim(0xfffffffe * 1000));
    for (const k of ['a', 'b', 'c']) p.fw.queueObject(obj(k));
    assert.deepEqual(
      p.fw.transmitPass().map((m) => m.seq),
      [0xfffffffe, 0xffffffff, 0],
    );
  });

  it('rejects nonsense options', () => {
    assert.throws(() => probe({ ackWindowSize: 0 }), RangeError);
    assert.throws(() => probe({ resendQueueSize: 1.5 }), RangeError);
  });
});

describe('ftfw: sender (docs/ftfw-protocol.md §7.2, §7.3)', () => {
  it('transmits queued objects in order, once per pass, coalescing repeated queueing', () => {
    const p = probe(compat());
    const a = obj('a'),
      b = obj('b');
    p.fw.queueObject(a);
    p.fw.queueObject(b);
    p.fw.queueObject(a);
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:a/H', 'obj:b/H']);
    assert.deepEqual(p.fw.transmitPass(), [], 'nothing left');
    assert.equal(p.fw.stats().rsQueueLen, 2);
  });

  it('an object waiting for its ACK goes back to tx on a new event and is sent with a new seq', () => {
    const p = probe(compat());
    const a = obj('a');
    p.fw.queueObject(a);
    const [m1] = p.fw.transmitPass();
    a.state = 'DEAD';
    p.fw.queueObject(a);
    assert.equal(p.fw.stats().rsQueueLen, 0);
    const [m2] = p.fw.transmitPass();
    assert.equal(m2.seq, m1.seq + 1);
    assert.equal((m2.item as { obj: TObj }).obj.state, 'DEAD', 'owner serialises the current state');
  });

  it('a different object with the same key replaces the queued one (released as replaced)', () => {
    const p = probe(compat());
    p.fw.queueObject(obj('a', 'NEW', 1));
    p.fw.transmitPass();
    const a2 = obj('a', 'NEW', 2);
    p.fw.queueObject(a2);
    assert.deepEqual(p.released, [['a', 'replaced']]);
    assert.equal((p.fw.transmitPass()[0].item as { obj: TObj }).obj, a2);
  });

  it('data, ACK, NACK and RESYNC go to the resend queue, ALIVE does not; rsqueue dump format', () => {
    const p = probe(compat());
    p.fw.receive(data(1000));
    p.fw.receive(data(1003)); // gap -> ACK(1000,1000) + NACK(1001,1002)
    p.fw.queueObject(obj('a'));
    p.fw.requestResync();
    const out = p.fw.transmitPass();
    // control messages first (conntrackd: one FIFO; the order inside a pass is immaterial)
    assert.deepEqual(show(out), ['ack(1000,1000)/H', 'nack(1001,1002)/H', 'resync(0,0)/H', 'obj:a/H']);
    p.sim.run(1000); // timer: ack_from = 1003 set -> ACK(1003,1003)
    const t = p.fw.transmitPass();
    assert.deepEqual(show(t), ['ack(1003,1003)/H']);
    p.sim.run(1000); // nothing received since: ALIVE
    assert.deepEqual(show(p.fw.transmitPass()), ['alive/H']);
    const s = T0;
    assert.equal(
      p.fw.rsQueueDump(),
      'resent queue (len=5)\n' +
        `control -> seq:${s} flags:${F.ACK | F.HELLO}\n` +
        `control -> seq:${s + 1} flags:${F.NACK | F.HELLO}\n` +
        `control -> seq:${s + 2} flags:${F.RESYNC | F.HELLO}\n` +
        `object -> seq:${s + 3}\n` +
        `control -> seq:${s + 4} flags:${F.ACK | F.HELLO}\n`,
    );
  });

  it('ACK(from,to) releases the entries in range and tells the owner; inverted range is bad', () => {
    const p = probe(compat());
    for (const k of ['a', 'b', 'c', 'd']) p.fw.queueObject(obj(k));
    const out = p.fw.transmitPass();
    const s = out[0].seq;
    p.fw.receive(data(500));
    assert.equal(p.fw.receive(ack(501, s + 1, s + 2)), 'control');
    assert.deepEqual(p.released, [
      ['b', 'acked'],
      ['c', 'acked'],
    ]);
    assert.deepEqual(
      p.fw.rsQueueEntries().map((e) => e.seq),
      [s, s + 3],
    );
    assert.equal(p.fw.receive(ack(502, s + 3, s)), 'bad');
    assert.equal(p.fw.stats().badHeader, 1);
    assert.equal(p.fw.rxState().lastSeq, 501, 'a bad message does not advance last_seq');
    assert.equal(p.fw.stats().rsQueueLen, 2);
  });

  it('NACK(from,to) moves the range back to tx: new seqs, objects re-serialised, controls keep from/to', () => {
    const p = probe(compat());
    p.fw.receive(data(10));
    p.fw.receive(data(13)); // -> ACK(10,10), NACK(11,12)
    p.fw.queueObject(obj('x'));
    const first = p.fw.transmitPass();
    const s = first[0].seq;
    assert.equal(p.fw.receive(nack(14, s + 1, s + 2)), 'control');
    const again = p.fw.transmitPass();
    assert.deepEqual(show(again), ['nack(11,12)/H', 'obj:x/H']);
    assert.deepEqual(
      again.map((m) => m.seq),
      [s + 3, s + 4],
    );
    assert.equal(p.fw.stats().nackRetransmits, 2);
    assert.equal(p.fw.receive(nack(15, 9, 3)), 'bad');
  });

  it('resend queue overflow evicts the oldest entry, counts it and releases it', () => {
    const p = probe(compat({ resendQueueSize: 3 }));
    for (const k of ['a', 'b', 'c', 'd', 'e']) p.fw.queueObject(obj(k));
    p.fw.transmitPass();
    const st = p.fw.stats();
    assert.equal(st.rsQueueLen, 3);
    assert.equal(st.rsEvicted, 2);
    assert.deepEqual(p.released, [
      ['a', 'evicted'],
      ['b', 'evicted'],
    ]);
    assert.ok(!p.fw.holds(obj('a')) && p.fw.holds(obj('e')));
  });

  it('forget() drops an object without sending it', () => {
    const p = probe(compat());
    p.fw.queueObject(obj('a'));
    assert.ok(p.fw.forget(obj('a')));
    assert.deepEqual(p.released, [['a', 'forgotten']]);
    assert.deepEqual(p.fw.transmitPass(), []);
    assert.ok(!p.fw.forget(obj('a')));
  });
});

describe('ftfw: the replication lag probe (unackedSince, for the metrics)', () => {
  it('is the first transmission of the oldest unacknowledged object, through resends, until the ACK', () => {
    const p = probe(compat());
    assert.equal(p.fw.unackedSince(), undefined, 'nothing sent');
    p.fw.queueObject(obj('a'));
    const t0 = p.sim.now;
    const [m] = p.fw.transmitPass();
    p.sim.now += 2000;
    p.fw.queueObject(obj('b'));
    p.fw.transmitPass();
    assert.equal(p.fw.unackedSince(), t0);
    p.sim.now += 2000;
    p.fw.receive(data(500));
    p.fw.receive(nack(501, m.seq, m.seq)); // a is sent again: it still dates from t0
    p.fw.transmitPass();
    assert.equal(p.fw.unackedSince(), t0);
    const a = obj('a', 'DEAD');
    p.fw.queueObject(a); // an update waiting in tx: the peer still lacks a since t0
    assert.equal(p.fw.unackedSince(), t0);
    const resent = p.fw.transmitPass();
    p.fw.receive(ack(502, m.seq, resent.at(-1)!.seq));
    assert.equal(p.fw.unackedSince(), undefined, 'all acknowledged');
    assert.equal(p.fw.ackless, false);
  });
});

describe('ftfw: ALIVE / ACK timer (docs/ftfw-protocol.md §7.4)', () => {
  it('first message after start is ALIVE|HELLO after 1 s; the owner is told to transmit', () => {
    const p = probe(compat());
    p.sim.run(999);
    assert.equal(p.txPending, 0);
    p.sim.run(1);
    assert.equal(p.txPending, 1);
    const out = p.fw.transmitPass();
    assert.deepEqual(show(out), ['alive/H']);
    assert.equal(out[0].flags, F.ALIVE | F.HELLO);
    assert.equal(p.fw.stats().rsQueueLen, 0, 'ALIVE is not kept');
  });

  it('sends ACK(ack_from, last_seq) when something was received, else ALIVE', () => {
    const p = probe(compat());
    p.fw.receive(data(700));
    p.fw.receive(data(701));
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(700,701)/H']);
    assert.equal(p.fw.rxState().ackFrom, undefined, 'ack_from cleared');
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['alive/H']);
    p.fw.receive(alive(702));
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(702,702)/H'], 'control messages count too');
  });

  it('is re-armed after every transmit pass (fires 1 s after the last transmission)', () => {
    const p = probe(compat());
    p.sim.run(600);
    p.fw.queueObject(obj('a'));
    p.fw.transmitPass();
    p.sim.run(999);
    assert.equal(p.txPending, 0, 'not at 1 s after start');
    p.sim.run(1);
    assert.equal(p.txPending, 1);
    // an empty pass does not re-arm (conntrackd only transmits when something is queued)
    p.fw.transmitPass();
    p.sim.run(500);
    p.fw.transmitPass();
    p.sim.run(500);
    assert.equal(p.txPending, 2);
  });

  it('stop() cancels the timer', () => {
    const p = probe(compat());
    p.fw.stop();
    p.sim.run(5000);
    assert.equal(p.txPending, 0);
  });
});

describe('ftfw: receiver (docs/ftfw-protocol.md §7.5)', () => {
  it('first message is accepted without a check; in-sync messages are applied', () => {
    const p = probe(compat());
    assert.equal(p.fw.receive(data(123456)), 'apply');
    assert.equal(p.fw.receive(data(123457)), 'apply');
    assert.deepEqual(p.fw.rxState(), { lastSeq: 123457, ackFrom: 123456, window: 298 });
  });

  it('gap: process, ACK(ack_from, expected-1), NACK(expected, seq-1), window restarts; lost over-counts by 2', () => {
    const p = probe(compat());
    p.fw.receive(data(100));
    p.fw.receive(data(101));
    assert.equal(p.fw.receive(data(105)), 'apply');
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(100,101)/H', 'nack(102,104)/H']);
    assert.deepEqual(p.fw.rxState(), { lastSeq: 105, ackFrom: 105, window: 299 });
    const st = p.fw.stats();
    assert.equal(st.lost, 5, 'conntrackd: seq - last_seq + 1 for 3 lost');
    assert.equal(st.lostExact, 3);
  });

  it('gap with no pending ack_from sends only the NACK', () => {
    const p = probe(compat());
    p.fw.receive(data(100));
    p.sim.run(1000); // timer ACK clears ack_from
    p.fw.transmitPass();
    p.fw.receive(data(102));
    assert.deepEqual(show(p.fw.transmitPass()), ['nack(101,101)/H']);
  });

  it('before: duplicates and late messages are dropped and counted, state unchanged', () => {
    const p = probe(compat());
    p.fw.receive(data(100));
    p.fw.receive(data(103));
    const before = p.fw.rxState();
    assert.equal(p.fw.receive(data(101)), 'drop', 'late');
    assert.equal(p.fw.receive(data(103)), 'drop', 'duplicate');
    assert.equal(p.fw.receive(ack(100, 1, 2)), 'drop', 'controls too');
    assert.equal(p.fw.stats().before, 3);
    assert.deepEqual(p.fw.rxState(), before);
  });

  it('sequence comparisons survive the wrap', () => {
    const p = probe(compat());
    p.fw.receive(data(0xfffffffe));
    assert.equal(p.fw.receive(data(0xffffffff)), 'apply');
    assert.equal(p.fw.receive(data(0)), 'apply');
    assert.equal(p.fw.receive(data(3)), 'apply');
    assert.deepEqual(show(p.fw.transmitPass()), [`ack(${0xfffffffe},0)/H`, 'nack(1,2)/H']);
    assert.equal(p.fw.receive(data(0xffffffff)), 'drop');
  });

  it('window: ACK(ack_from, seq) after ACKWindowSize in-sync messages, not reset by the timer ACK', () => {
    const p = probe(compat());
    let seq = 1000;
    for (let i = 0; i < 299; i++) p.fw.receive(data(seq++));
    assert.deepEqual(p.fw.transmitPass(), []);
    p.fw.receive(data(seq++));
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(1000,1299)/H']);
    // 100 more, then a timer ACK, then 200 more: the window ACK comes at 300 regardless
    for (let i = 0; i < 100; i++) p.fw.receive(data(seq++));
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(1300,1399)/H']);
    for (let i = 0; i < 199; i++) p.fw.receive(data(seq++));
    assert.deepEqual(p.fw.transmitPass(), []);
    p.fw.receive(data(seq));
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(1400,1599)/H']);
  });

  it('honours ACKWindowSize', () => {
    const p = probe(compat({ ackWindowSize: 3 }));
    for (const s of [1, 2, 3, 4, 5, 6]) p.fw.receive(data(s));
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(1,3)/H', 'ack(4,6)/H']);
  });

  it('classifies headers like conntrackd (docs/ftfw-protocol.md §3.5)', () => {
    const p = probe(compat());
    let s = 10;
    assert.equal(p.fw.receive({ type: T.CT_DEL, flags: F.HELLO_BACK, seq: s++ }), 'apply');
    assert.equal(p.fw.receive({ type: T.EXP_UPD, flags: 0, seq: s++ }), 'apply');
    assert.equal(p.fw.receive({ type: T.CT_NEW, flags: F.ACK, seq: s++ }), 'bad', 'data with a control bit');
    assert.equal(p.fw.receive({ type: 7, flags: 0, seq: s++ }), 'bad', 'type 6-9');
    assert.equal(p.fw.receive({ type: T.CTL, flags: 0, seq: s++ }), 'bad', 'CTL without a control bit');
    assert.equal(
      p.fw.receive({ type: T.CTL, flags: F.ACK | F.NACK, seq: s++, from: 1, to: 0 }),
      'bad',
      'ACK wins, inverted',
    );
    assert.equal(p.fw.receive({ type: T.CTL, flags: F.RESYNC | F.ALIVE, seq: s++, from: 0, to: 0 }), 'control');
    assert.deepEqual(p.bulks, ['resync-requested'], 'RESYNC wins over ALIVE');
    assert.equal(p.fw.stats().badHeader, 4);
    // bad messages do not advance last_seq: conntrackd then sees a gap at the next good one
    assert.equal(p.fw.rxState().lastSeq, s - 1);
  });

  it('RESYNC received asks the owner for a bulk; requestResync() sends RESYNC(0,0)', () => {
    const p = probe(compat());
    assert.equal(p.fw.receive(resync(40)), 'control');
    assert.deepEqual(p.bulks, ['resync-requested']);
    p.fw.requestResync();
    const [m] = p.fw.transmitPass();
    assert.equal(m.flags, F.RESYNC | F.HELLO);
    assert.deepEqual(m.item, { kind: 'resync', from: 0, to: 0 });
  });

  it("NACK for a lost NACK: the peer NACKs our NACK's seq, we resend it with its original range", () => {
    const p = probe(compat());
    p.fw.receive(data(100));
    p.fw.receive(data(110)); // -> ACK(100,100) + NACK(101,109)
    const out = p.fw.transmitPass();
    const nackSeq = out[1].seq;
    // our NACK was lost; the peer sees the gap at our next message and NACKs it
    p.fw.receive(data(101)); // late: dropped
    p.fw.receive(nack(111, nackSeq, nackSeq));
    assert.deepEqual(show(p.fw.transmitPass()), ['nack(101,109)/H']);
  });
});

describe('ftfw: HELLO handshake (docs/ftfw-protocol.md §7.6), conntrackd semantics', () => {
  it('HELLO on everything until HELLO_BACK; HELLO_BACK once after a received HELLO', () => {
    const p = probe(compat());
    p.fw.queueObject(obj('a'));
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:a/H']);
    p.fw.receive(alive(900, F.HELLO));
    p.sim.run(1000);
    p.fw.queueObject(obj('b'));
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(900,900)/HB', 'obj:b/H']);
    p.fw.receive(ack(901, 0, 0, F.HELLO_BACK));
    p.fw.queueObject(obj('c'));
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:c']);
    assert.equal(p.fw.hello, 'done');
  });

  it('HELLO_BACK received before we said anything is ignored (INIT state)', () => {
    const p = probe(compat());
    p.fw.receive(alive(5, F.HELLO_BACK));
    p.fw.queueObject(obj('a'));
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:a/H']);
  });

  it('received HELLO: rs queue discarded, regressed seq accepted, window reset if before ack_from', () => {
    const p = probe(compat());
    for (const k of ['a', 'b']) p.fw.queueObject(obj(k));
    p.fw.transmitPass();
    p.fw.receive(data(5000));
    p.fw.receive(data(5001));
    assert.equal(p.fw.receive(data(4000, F.HELLO)), 'apply', 'restarted peer, lower seq');
    assert.deepEqual(p.released, [
      ['a', 'discarded'],
      ['b', 'discarded'],
    ]);
    assert.equal(p.fw.stats().rsQueueLen, 0);
    assert.deepEqual(p.fw.rxState(), { lastSeq: 4000, ackFrom: 4000, window: 298 });
    assert.equal(p.fw.receive(data(4001)), 'apply');
    assert.deepEqual(p.bulks, [], 'nothing sent to a restarted peer (docs/ftfw-protocol.md §7.7)');
  });

  it('HELLO bypasses the sequence check: a gap under HELLO is never NACKed (the L2 hole)', () => {
    const p = probe(compat());
    p.fw.receive(data(100, F.HELLO));
    p.fw.receive(data(105, F.HELLO));
    assert.deepEqual(p.fw.stats().lost, 0);
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(100,105)/HB'], 'and the ACK covers 101-104 (L3)');
  });

  it('startupResync sends RESYNC at once in compat mode', () => {
    const p = probe(compat({ startupResync: true }));
    assert.deepEqual(show(p.fw.transmitPass()), ['resync(0,0)/H']);
  });
});

// --------------------------------------------------------------------- unit: improvements

describe('ftfw: improvements beyond conntrackd', () => {
  it('S1: entries sent with HELLO are not released by ACK and are replayed after HELLO_BACK, twice', () => {
    const p = probe();
    for (const k of ['a', 'b']) p.fw.queueObject(obj(k));
    const out = p.fw.transmitPass();
    p.fw.receive(ack(10, out[0].seq, out[1].seq));
    assert.deepEqual(p.released, [], 'an ACK of HELLO-phase messages is not trusted');
    p.fw.receive(alive(11, F.HELLO_BACK));
    assert.equal(p.handshakes, 1);
    const again = p.fw.transmitPass();
    assert.deepEqual(show(again), ['obj:a', 'obj:b'], 'first replay, sequence-checked (no HELLO)');
    p.fw.receive(ack(12, again[0].seq, again[1].seq));
    assert.deepEqual(p.released, [], 'still held while lingering');
    p.fw.queueObject(obj('c'));
    const c = p.fw.transmitPass();
    p.fw.receive(ack(13, c[0].seq, c[0].seq));
    assert.deepEqual(p.released, [], 'while lingering, acknowledged post-handshake entries are held too');
    p.sim.run(2999);
    p.fw.receive(alive(14));
    assert.deepEqual(
      show(p.fw.transmitPass()).filter((m) => m.startsWith('obj')),
      [],
    );
    p.sim.run(1);
    assert.deepEqual(
      show(p.fw.transmitPass()).filter((m) => m.startsWith('obj')),
      [],
      'after 3 periods, but nothing heard from the peer since (its regression report may be lost)',
    );
    p.fw.receive(alive(15));
    const third = p.fw.transmitPass();
    assert.deepEqual(show(third), ['obj:a', 'obj:b'], 'second replay of the HELLO phase');
    assert.deepEqual(p.released, [['c', 'acked']], 'acknowledged ones released at the end of the linger');
    assert.equal(p.fw.stats().helloReplays, 4);
    p.fw.receive(ack(16, third[0].seq, third[1].seq));
    assert.deepEqual(p.released.slice(1), [
      ['a', 'acked'],
      ['b', 'acked'],
    ]);
  });

  it('S1: helloLingerPeriods 0 releases after the first replay', () => {
    const p = probe({ helloLingerPeriods: 0 });
    p.fw.queueObject(obj('a'));
    p.fw.transmitPass();
    p.fw.receive(alive(11, F.HELLO_BACK));
    const again = p.fw.transmitPass();
    p.fw.receive(ack(12, again[0].seq, again[0].seq));
    assert.deepEqual(p.released, [['a', 'acked']]);
  });

  it('S1: a RESYNC requested during our HELLO phase waits for the handshake, several collapse', () => {
    const p = probe({ startupResync: true });
    p.fw.requestResync();
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['alive/H']);
    handshake(p, 5000, false);
    assert.deepEqual(
      show(p.fw.transmitPass()),
      [],
      'and the linger time (stock peers discard their queue at each HELLO)',
    );
    p.sim.run(3000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(5000,5000)', 'alive', 'alive', 'resync(0,0)']);
    p.fw.requestResync();
    assert.deepEqual(show(p.fw.transmitPass()), ['resync(0,0)'], 'after the handshake: immediate');
  });

  it('S2: an ACK skipping older unacked entries re-queues them at once', () => {
    const p = probe();
    handshake(p);
    for (const k of ['a', 'b', 'c', 'd']) p.fw.queueObject(obj(k));
    const out = p.fw.transmitPass();
    const s = out[0].seq;
    // the peer acknowledges c..d only (a, b lost before its first accepted message)
    p.fw.receive(ack(5001, s + 2, s + 3));
    assert.deepEqual(
      p.released.map((r) => r[0]),
      ['c', 'd'],
    );
    // (our own earlier ACK, not acknowledged either, goes again too)
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(4999,4999)', 'obj:a', 'obj:b']);
    assert.equal(p.fw.stats().holeRetransmits, 3);
  });

  it('S2 is off in compat mode (entries wait for a NACK that never comes)', () => {
    const p = probe(compat());
    for (const k of ['a', 'b', 'c']) p.fw.queueObject(obj(k));
    const out = p.fw.transmitPass();
    p.fw.receive(ack(9, out[2].seq, out[2].seq));
    assert.deepEqual(p.fw.transmitPass(), []);
    assert.equal(p.fw.stats().rsQueueLen, 2);
  });

  it('S3: unacked objects are re-sent after N periods while the peer is alive, with back-off', () => {
    const p = probe({ retransmitTimeoutPeriods: 2, retransmitMaxPeriods: 4 });
    handshake(p);
    p.fw.queueObject(obj('a'));
    p.fw.transmitPass();
    let seq = 5001;
    const t0 = p.sim.now;
    const sends: number[] = [];
    for (let i = 0; i < 12; i++) {
      p.fw.receive(alive(seq++)); // peer alive, never ACKs our object
      p.sim.run(1000);
      for (const m of p.fw.transmitPass()) if (m.item.kind === 'object') sends.push((p.sim.now - t0) / 1000);
    }
    // sent at 0; resent at 2, then 4 s later (back-off 2x), then every 4 s (cap)
    assert.deepEqual(sends, [2, 6, 10]);
    assert.equal(p.fw.stats().timeoutRetransmits, 3);
  });

  it('S3: nothing is re-sent to a silent peer', () => {
    const p = probe({ retransmitTimeoutPeriods: 2 });
    handshake(p);
    p.sim.run(1000);
    p.fw.queueObject(obj('a'));
    p.fw.transmitPass();
    for (let i = 0; i < 10; i++) {
      p.sim.run(1000);
      p.fw.transmitPass();
    }
    assert.equal(p.fw.stats().timeoutRetransmits, 0);
  });

  it('S4: a NACK for evicted objects triggers a bulk send (once)', () => {
    const p = probe({ resendQueueSize: 2, flowControl: false });
    handshake(p);
    p.bulks.length = 0;
    for (const k of ['a', 'b', 'c', 'd']) p.fw.queueObject(obj(k));
    const out = p.fw.transmitPass();
    const s = out[0].seq;
    p.fw.receive(nack(5001, s, s + 3));
    assert.deepEqual(p.bulks, ['nack-evicted']);
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:c', 'obj:d'], 'what is still there is re-sent too');
    p.fw.receive(nack(5002, s, s + 1));
    assert.deepEqual(p.bulks, ['nack-evicted'], 'evicted range forgotten after the bulk');
    const st = p.fw.stats();
    assert.equal(st.bulkFallbacks, 1);
    assert.equal(st.unservableNacks, 1);
  });

  it('S5: a peer that moves its last_seq back into our HELLO phase gets everything we hold again', () => {
    const p = probe({ bulkOnStartup: false });
    p.fw.queueObject(obj('h'));
    const [h] = p.fw.transmitPass(); // sent with HELLO
    p.fw.receive(alive(100, F.HELLO_BACK));
    p.fw.queueObject(obj('x'));
    const out = p.fw.transmitPass(); // replayed h, then x
    const last = out[1].seq;
    p.fw.receive(ack(101, h.seq, last)); // the peer is beyond our HELLO phase
    assert.deepEqual(p.fw.transmitPass(), []);
    // a stock receiver accepts a late duplicate of our HELLO message h: it NACKs from h+1
    p.fw.receive(ack(102, h.seq, h.seq));
    p.fw.receive(nack(103, h.seq + 1, last + 5));
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:h', 'obj:x']);
    const st = p.fw.stats();
    assert.equal(st.peerRegressions, 1, 'the NACK after the ACK is the same regression');
    assert.equal(st.regressionRetransmits, 2);
  });

  it('S6: our whole cache is offered once our handshake completes (unless a bulk went out in HELLO)', () => {
    const p = probe({ bulkOnStartup: true, startupResync: undefined });
    handshake(p, 5000, true);
    assert.deepEqual(p.bulks, ['startup']);
    assert.equal(p.fw.stats().resyncSent, 1, 'startupResync is on by default outside compat');
    const q = probe({ bulkOnStartup: true });
    q.fw.receive(resync(7, F.HELLO)); // the peer asked during our HELLO phase
    assert.deepEqual(q.bulks, ['peer-restart']);
    handshake(q, 8, false);
    assert.deepEqual(q.bulks, ['peer-restart'], 'those entries are replayed anyway');
  });

  it('S7: flow control: objects wait in tx instead of evicting unacknowledged entries', () => {
    const p = probe({ resendQueueSize: 8 }); // 2 kept in reserve for control messages
    handshake(p);
    const before = p.fw.stats().rsQueueLen; // our handshake ALIVE/ACK leftovers
    for (let i = 0; i < 10; i++) p.fw.queueObject(obj(`k${i}`));
    p.fw.receive(data(5001));
    p.fw.receive(data(5003)); // gap: ACK + NACK still go out
    const out = p.fw.transmitPass();
    const objs = out.filter((m) => m.item.kind === 'object');
    assert.equal(objs.length, 6 - before - 2, 'the ACK and NACK went first');
    assert.ok(show(out).includes('nack(5002,5002)'));
    assert.equal(p.fw.stats().rsEvicted, 0);
    assert.ok(p.fw.txPending);
    p.fw.receive(ack(5004, objs[0].seq, objs.at(-1)!.seq));
    const more = p.fw.transmitPass().filter((m) => m.item.kind === 'object').length;
    assert.ok(more > 0 && more <= 10 - objs.length, 'ACKs make room');
    assert.equal(p.fw.stats().rsEvicted, 0);
    assert.ok(p.fw.stats().flowBlocked > 0);
  });

  it('R1: HELLO messages of an ongoing peer run are sequence-checked: gaps NACKed, late ones dropped', () => {
    const p = probe();
    assert.equal(p.fw.receive(data(100, F.HELLO)), 'apply');
    assert.deepEqual(p.peerStarts, [{ seq: 100, firstContact: true }]);
    assert.equal(p.fw.receive(data(103, F.HELLO)), 'apply');
    assert.equal(p.fw.receive(data(101, F.HELLO)), 'drop', 'late HELLO message not applied (stale data)');
    assert.equal(p.fw.receive(data(104)), 'apply', 'peer finished its handshake');
    assert.equal(p.fw.receive(data(102, F.HELLO)), 'drop', 'late HELLO after the run closed is not a restart');
    assert.equal(p.fw.stats().peerRestarts, 1);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(100,100)/HB', 'nack(101,102)/H']);
  });

  it("R1: an older HELLO right after the peer's run ended is a late duplicate, later a restart", () => {
    const p = probe();
    p.fw.receive(data(100, F.HELLO)); // first contact: a run opens
    p.fw.receive(data(101, F.HELLO));
    p.fw.receive(data(102)); // the peer got our HELLO_BACK: run closed
    p.sim.run(500);
    p.fw.receive(alive(103));
    assert.equal(p.fw.receive(data(101, F.HELLO)), 'drop', 'within maxReorderMs');
    p.sim.run(600);
    p.fw.receive(alive(104));
    assert.equal(p.fw.receive(data(101, F.HELLO)), 'apply', 'a restarted peer whose new seq fell in the old range');
    assert.equal(p.fw.stats().peerRestarts, 2);
  });

  it('R1: a peer that cannot hear us says HELLO forever: that is one run, not a restart a second', () => {
    const p = probe();
    let seq = 300;
    for (let i = 0; i < 30; i++) {
      p.fw.receive(alive(seq++, F.HELLO));
      p.sim.run(1000 + (i % 3) * 150); // its ALIVE timer, with some jitter
      p.fw.transmitPass();
    }
    assert.equal(p.fw.stats().peerRestarts, 1);
    assert.deepEqual(p.bulks, ['peer-restart']);
  });

  it('R1/R2: HELLO after the peer finished its handshake = restart: objects re-queued, bulk + RESYNC', () => {
    const p = probe();
    handshake(p, 100); // first contact without HELLO: the peer was already running
    p.fw.receive(data(101));
    p.fw.queueObject(obj('a'));
    p.fw.transmitPass();
    p.fw.receive(data(102));
    p.fw.receive(data(105)); // gap -> ACK + NACK, sent and kept in rs
    p.fw.transmitPass();
    p.bulks.length = 0;
    assert.equal(p.fw.receive(data(50, F.HELLO)), 'apply', 'restarted peer with a lower seq');
    assert.deepEqual(p.peerStarts.at(-1), { seq: 50, firstContact: false });
    assert.deepEqual(p.bulks, ['peer-restart']);
    assert.deepEqual(p.released, [], 'nothing discarded');
    assert.deepEqual(show(p.fw.transmitPass()), ['resync(0,0)/B', 'obj:a'], 'old ACK/NACK dropped');
    assert.equal(p.fw.stats().restartRequeues, 1);
    assert.equal(p.fw.receive(data(51)), 'apply');
  });

  it('R1: HELLO after a silence is a restart, and the gap is NACKed anyway', () => {
    const p = probe();
    p.fw.receive(data(100, F.HELLO));
    p.sim.run(3500);
    p.fw.transmitPass();
    p.fw.receive(data(110, F.HELLO));
    assert.equal(p.fw.stats().peerRestarts, 2);
    assert.ok(show(p.fw.transmitPass()).includes('nack(101,109)/HB'));
  });
});

describe('ftfw: reconciliation, stall recovery, cost bounds (R3-R5)', () => {
  const seqOf = (msgs: TxMessage<TObj>[], kind: string): number => msgs.find((m) => m.item.kind === kind)!.seq;

  it("R3: ACKs covering the peer's RESYNC wait until our answer (a paced bulk) is transmitted", () => {
    const p = probe({}, true, undefined, true);
    handshake(p, 100);
    assert.equal(p.fw.receive(resync(101)), 'control');
    assert.deepEqual(p.bulks, ['resync-requested']);
    p.fw.receive(data(102));
    p.fw.receive(data(103));
    p.sim.run(1000); // the timer's ACK(100, 103) leaves the RESYNC out
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(100,100)', 'ack(102,103)']);
    p.fw.queueObject(obj('a')); // the owner's bulk, a turn later
    assert.deepEqual(show(p.fw.transmitPass()), ['obj:a']);
    p.fw.receive(data(104));
    p.sim.run(1000);
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(104,104)'], 'the owner has not said the bulk is queued');
    p.fw.bulkQueued();
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(101,101)'], 'acknowledged once the answer is out');
    assert.equal(p.fw.stats().acksHeld, 1);
  });

  it('R3: a pass already running when the RESYNC arrives does not count; the next one does', () => {
    const p = probe({}, true, undefined, true);
    handshake(p, 100);
    p.fw.requestBulk();
    assert.deepEqual(p.bulks, ['local']);
    p.fw.receive(resync(101));
    assert.deepEqual(p.bulks, ['local'], 'folded into one more pass, after this one');
    p.fw.bulkQueued();
    p.sim.run(1000); // the timer's ACK; pass 1 is done at that transmit pass
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(100,100)'], 'the RESYNC left out');
    p.sim.run(0); // pass 2 starts then (1 s after pass 1: bulkMinGapMs)
    assert.deepEqual(p.bulks, ['local', 'resync-requested']);
    p.fw.bulkQueued();
    assert.deepEqual(show(p.fw.transmitPass()), ['ack(101,101)']);
    assert.equal(p.fw.stats().bulkRequestsMerged, 1);
  });

  it("R3: the peer's first ACK covering our RESYNC, with no gap since, completes its answer", () => {
    const p = probe();
    handshake(p, 100);
    p.fw.requestResync();
    const r = seqOf(p.fw.transmitPass(), 'resync');
    assert.equal(p.fw.resyncEpoch, 1);
    p.fw.receive(data(101)); // the bulk
    p.fw.receive(data(102));
    p.fw.receive(ack(103, r - 5, r - 1));
    assert.deepEqual(p.answers, [], 'an ACK short of the RESYNC says nothing');
    p.fw.receive(ack(104, r, r));
    assert.deepEqual(p.answers, [{ epoch: 1, clean: true }]);
    assert.equal(p.fw.stats().peerBulksComplete, 1);
  });

  it("R3: with a gap in the peer's answer it is unclean, and a RESYNC is asked again, spaced out", () => {
    const p = probe();
    handshake(p, 100);
    p.fw.requestResync();
    const r = seqOf(p.fw.transmitPass(), 'resync');
    p.fw.receive(data(101));
    p.fw.receive(data(105)); // 102-104 lost
    p.fw.transmitPass();
    p.fw.receive(ack(106, r, r));
    assert.deepEqual(p.answers, [{ epoch: 1, clean: false }]);
    p.sim.run(9_000);
    assert.ok(!show(p.fw.transmitPass()).includes('resync(0,0)'));
    p.sim.run(1_000);
    assert.ok(show(p.fw.transmitPass()).includes('resync(0,0)'), 'asked again 10 s later');
    assert.equal(p.fw.resyncEpoch, 2);
  });

  it("R3: a peer restart forgets the old incarnation's RESYNC and the held ACKs", () => {
    const p = probe({}, true, undefined, true);
    handshake(p, 100);
    p.fw.requestResync();
    const r = seqOf(p.fw.transmitPass(), 'resync');
    p.fw.receive(resync(101)); // its ACK waits for our answer
    p.fw.receive(data(7, F.HELLO)); // the peer restarted
    p.fw.receive(ack(8, r, r, F.HELLO));
    assert.deepEqual(p.answers, [], 'not an answer of this incarnation');
    p.fw.receive(data(9));
    p.fw.receive(resync(10));
    p.fw.receive(data(11));
    p.sim.run(1000);
    const acks = show(p.fw.transmitPass())
      .filter((m) => m.startsWith('ack'))
      .map((m) => m.split('/')[0]);
    assert.deepEqual(acks, ['ack(7,9)', 'ack(11,11)'], "only the new incarnation's RESYNC is left out");
  });

  it("R4: one message 2^31 ahead does not wedge the receiver: after 3 s of drops the peer's sequence is taken as new", () => {
    const p = probe();
    handshake(p, 100);
    assert.equal(p.fw.receive(data(101)), 'apply');
    assert.equal(p.fw.receive(data(101 + 0x7ffffff0)), 'apply', 'far ahead: a gap, as conntrackd');
    let seq = 102;
    const verdicts: string[] = [];
    for (let t = 0; t < 5; t++) {
      verdicts.push(p.fw.receive(alive(seq++)));
      p.sim.run(1000);
    }
    assert.deepEqual(verdicts, ['drop', 'drop', 'drop', 'control', 'control'], 'the 4th, 3 s after the 1st');
    assert.deepEqual(p.seqResets, [{ lastSeq: (101 + 0x7ffffff0) >>> 0, seq: 105 }]);
    assert.equal(p.fw.receive(data(seq)), 'apply', 'in sequence again');
    assert.ok(show(p.fw.transmitPass()).includes('resync(0,0)'), 'and what was dropped is asked for');
    assert.equal(p.fw.stats().sequenceResets, 1);
  });

  it('R4: late duplicates dropped for less than the window do not reset anything', () => {
    const p = probe();
    handshake(p, 100);
    p.fw.receive(data(101));
    p.fw.receive(data(150));
    for (let t = 0; t < 20; t++) {
      assert.equal(p.fw.receive(data(102 + t)), 'drop');
      p.sim.run(100);
    }
    assert.equal(p.fw.receive(data(151)), 'apply');
    assert.deepEqual(p.seqResets, []);
  });

  it('R4 is off in compat mode: conntrackd stays wedged', () => {
    const p = probe(compat());
    p.fw.receive(data(101));
    p.fw.receive(data(101 + 0x7ffffff0));
    for (let t = 0; t < 10; t++) {
      assert.equal(p.fw.receive(alive(102 + t)), 'drop');
      p.sim.run(1000);
    }
  });

  it('R5: a storm of forged HELLOs buys one bulk at once and one per hold-off, which doubles', () => {
    const p = probe();
    handshake(p, 100);
    const rnd = rng(3);
    const hellos = (n: number): void => {
      for (let i = 0; i < n; i++) p.fw.receive(alive(Math.floor(rnd() * 2 ** 32), F.HELLO));
      p.fw.transmitPass(); // the owner's loop turn: the (empty) bulk pass goes out
    };
    hellos(10);
    assert.ok(p.fw.stats().peerRestarts >= 9);
    assert.deepEqual(p.bulks, ['peer-restart'], 'the first restart at once');
    p.sim.run(4_999);
    assert.equal(p.bulks.length, 1);
    p.sim.run(1);
    assert.equal(p.bulks.length, 2, 'the rest collapsed into one, 5 s later');
    hellos(10);
    p.sim.run(9_999);
    assert.equal(p.bulks.length, 2);
    p.sim.run(1);
    assert.equal(p.bulks.length, 3, 'then 10 s later');
    assert.equal(p.fw.stats().bulksRequested, 3);
    assert.ok(p.fw.stats().restartsDeferred >= 18);
  });

  it('R5: a real restart after a quiet time gets its bulk at once', () => {
    const p = probe();
    handshake(p, 100);
    p.fw.receive(data(50, F.HELLO));
    p.sim.run(60_000);
    p.fw.transmitPass();
    p.fw.receive(data(51));
    p.sim.run(60_000);
    p.fw.receive(data(20, F.HELLO));
    assert.deepEqual(p.bulks, ['peer-restart', 'peer-restart']);
  });

  it('bulk passes: one at a time; requests meanwhile make one more pass, 1 s after the last start', () => {
    const p = probe({}, true, undefined, true);
    p.fw.requestBulk();
    p.fw.requestBulk();
    p.fw.requestBulk();
    assert.deepEqual(p.bulks, ['local']);
    assert.ok(p.fw.bulkInProgress);
    p.fw.bulkQueued();
    p.fw.transmitPass();
    p.sim.run(999);
    assert.deepEqual(p.bulks, ['local']);
    p.sim.run(1);
    assert.deepEqual(p.bulks, ['local', 'local']);
    p.fw.bulkQueued();
    p.fw.transmitPass();
    assert.ok(!p.fw.bulkInProgress);
    assert.equal(p.fw.stats().bulkRequestsMerged, 2);
  });
});

// --------------------------------------------------------------------------- simulation

interface WireMsg {
  type: number;
  flags: number;
  seq: number;
  from?: number;
  to?: number;
  key?: string;
  ver?: number;
}

interface LinkCfg {
  loss: number;
  dup: number;
  reorder: number;
  /** drop the first N datagrams (cold start loss from the very first message). */
  dropFirst?: number;
  latencyMs?: number;
}

class Link {
  up = true;
  sent = 0;
  dropped = 0;
  /** Everything put on the link (before loss), one line per message, when tracing. */
  trace: string[] | undefined;
  private n = 0;
  constructor(
    private sim: Sim,
    private rnd: () => number,
    public cfg: LinkCfg,
    private deliver: (d: WireMsg[]) => void,
  ) {}

  send(d: WireMsg[]): void {
    this.sent++;
    if (this.trace)
      for (const m of d)
        this.trace.push(`${this.sim.now} ${m.type} ${m.flags} ${m.seq} ${m.from ?? m.key} ${m.to ?? m.ver}`);
    const i = this.n++;
    if (!this.up || i < (this.cfg.dropFirst ?? 0) || this.rnd() < this.cfg.loss) {
      this.dropped++;
      return;
    }
    const lat = this.cfg.latencyMs ?? 1;
    const delay = (): number => lat + (this.rnd() < this.cfg.reorder ? this.rnd() * 40 : 0);
    this.sim.at(delay(), () => this.deliver(d));
    if (this.rnd() < this.cfg.dup) this.sim.at(delay() + this.rnd() * 200, () => this.deliver(d));
  }
}

/** A node: internal cache (its kernel), external cache (peer's entries) and an FtFw. */
class Node {
  internal = new Map<string, TObj>();
  external = new Map<string, number>();
  /** RESYNC epoch of each external entry's last refresh (R3), as the engine keeps it. */
  private stamps = new Map<string, number>();
  /** External entries removed by complete answers to our RESYNCs. */
  swept = 0;
  /** Complete (clean) answers to our RESYNCs. */
  answers = 0;
  fw!: FtFw<TObj>;
  out!: Link;
  up = true;
  private kickAt = -1;
  private ver = 0;
  incarnation = 0;

  constructor(
    private sim: Sim,
    readonly name: string,
    private opts: FtFwOptions<TObj>,
    clockOffsetMs = 0,
    readonly intrusive = false,
  ) {
    this.boot(clockOffsetMs);
  }

  private boot(clockOffsetMs: number): void {
    const inc = ++this.incarnation;
    const hooks: FtFwHooks<TObj> = {
      released: (o) => {
        if (inc !== this.incarnation) return;
        if (o.state === 'DEAD' && this.internal.get(o.key) === o) this.internal.delete(o.key);
      },
      bulk: () => {
        for (const o of this.internal.values()) this.fw.queueObject(o);
        this.fw.bulkQueued();
      },
      txPending: () => this.kick(),
      peerBulkComplete: ({ epoch, clean }) => {
        if (inc !== this.incarnation || !clean) return;
        this.answers++;
        for (const k of [...this.external.keys()]) {
          if ((this.stamps.get(k) ?? 0) >= epoch) continue;
          this.external.delete(k);
          this.swept++;
        }
      },
    };
    // intrusive records: a restarted process keeps its (kernel's) objects here, so their records
    // belong to the crashed instance: the new one must ignore them
    this.fw = new FtFw<TObj>(this.sim.env(clockOffsetMs), hooks, {
      keyOf: (o) => o.key,
      ...(this.intrusive ? intrusiveOpts : {}),
      ...this.opts,
    });
    this.fw.start();
  }

  /** Process crash: timers stop, incoming traffic is lost. */
  crash(): void {
    this.up = false;
    this.fw.stop();
  }

  /**
   * Restart: the kernel table survives (DEAD entries are gone from it), the external cache does
   * not; the new process loads its internal cache silently. Returns keys whose DEL may not have
   * reached the peer (tombstones the protocol cannot carry over a restart).
   */
  restart(clockOffsetMs: number): Set<string> {
    const tomb = new Set<string>();
    for (const [k, o] of this.internal)
      if (o.state === 'DEAD') {
        tomb.add(k);
        this.internal.delete(k);
      }
    this.external.clear();
    this.up = true;
    this.boot(clockOffsetMs);
    return tomb;
  }

  set(key: string): void {
    const cur = this.internal.get(key);
    let o: TObj;
    if (cur !== undefined && cur.state === 'DEAD' && this.intrusive) {
      // intrusive records: the owner keeps one object per flow while the protocol holds it (as
      // the engine's cache does); the map mode below replaces it (released as 'replaced')
      o = cur;
      o.state = 'NEW';
      o.ver = ++this.ver;
    } else if (cur === undefined || cur.state === 'DEAD') {
      o = { key, state: 'NEW', ver: ++this.ver };
      this.internal.set(key, o);
    } else {
      o = cur;
      o.state = 'ALIVE';
      o.ver = ++this.ver;
    }
    this.fw.queueObject(o);
    this.kick();
  }

  del(key: string): void {
    const cur = this.internal.get(key);
    if (cur === undefined || cur.state === 'DEAD') return;
    cur.state = 'DEAD';
    cur.ver = ++this.ver;
    this.fw.queueObject(cur);
    this.kick();
  }

  /** The main loop runs a transmit pass after each batch of work. */
  kick(): void {
    if (!this.up || this.kickAt === this.sim.now) return;
    this.kickAt = this.sim.now;
    const inc = this.incarnation;
    this.sim.at(0, () => {
      this.kickAt = -1;
      if (this.up && inc === this.incarnation) this.pass();
    });
  }

  private pass(): void {
    const msgs = this.fw.transmitPass();
    let dgram: WireMsg[] = [];
    for (const m of msgs) {
      const it = m.item;
      let w: WireMsg;
      if (it.kind === 'object') {
        const o = it.obj; // serialised from its state NOW
        w = {
          type: o.state === 'NEW' ? T.CT_NEW : o.state === 'ALIVE' ? T.CT_UPD : T.CT_DEL,
          flags: m.flags,
          seq: m.seq,
          key: o.key,
          ver: o.ver,
        };
      } else {
        w = { type: T.CTL, flags: m.flags, seq: m.seq, from: it.from, to: it.to };
      }
      dgram.push(w);
      if (dgram.length === 12) {
        this.out.send(dgram);
        dgram = [];
      }
    }
    if (dgram.length) this.out.send(dgram);
  }

  receive(d: WireMsg[]): void {
    if (!this.up) return;
    for (const m of d) {
      if (this.fw.receive(m) !== 'apply') continue;
      if (m.type === T.CT_DEL) this.external.delete(m.key!);
      else {
        this.external.set(m.key!, m.ver!);
        this.stamps.set(m.key!, this.fw.resyncEpoch);
      }
    }
    this.kick();
  }

  live(): Map<string, number> {
    const r = new Map<string, number>();
    for (const [k, o] of this.internal) if (o.state !== 'DEAD') r.set(k, o.ver);
    return r;
  }
}

/** Differences between what `src` has and what `dst` received; `ghostsOk` may linger. */
function diff(
  src: Node,
  dst: Node,
  ghostsOk: Set<string> = new Set(),
): { missing: number; stale: number; ghosts: number } {
  const live = src.live();
  let missing = 0,
    stale = 0,
    ghosts = 0;
  for (const [k, v] of live) {
    const got = dst.external.get(k);
    if (got === undefined) missing++;
    else if (got !== v) stale++;
  }
  for (const k of dst.external.keys()) if (!live.has(k) && !ghostsOk.has(k)) ghosts++;
  return { missing, stale, ghosts };
}

const clean = (d: { missing: number; stale: number; ghosts: number }): boolean => d.missing + d.stale + d.ghosts === 0;

interface Scenario {
  seed: number;
  ab: LinkCfg;
  ba: LinkCfg;
  objectsA: number;
  objectsB: number;
  optsA?: FtFwOptions<TObj>;
  optsB?: FtFwOptions<TObj>;
  /**
   * crash one node at this ms, restart it `downMs` later with a lower sequence counter; with
   * `kernelDeletes`, that many of its flows end in its kernel meanwhile (no daemon hears it).
   */
  restart?: { who: 'A' | 'B'; atMs: number; downMs: number; kernelDeletes?: number };
  /** how long to let it converge (simulated ms) under continued loss. */
  settleMs?: number;
  /** Both nodes keep FT-FW records on the objects (nodeOf/setNodeOf) instead of a Map. */
  intrusive?: boolean;
  /** Record everything sent on both links (Result.wire). */
  recordWire?: boolean;
  /** debugging aid: called every 500 simulated ms. */
  trace?: (t: number, ab: ReturnType<typeof diff>, ba: ReturnType<typeof diff>, a: Node, b: Node) => void;
}

interface Result {
  a: Node;
  b: Node;
  ab: { missing: number; stale: number; ghosts: number };
  ba: { missing: number; stale: number; ghosts: number };
  /** DELs the restarted node may not have delivered (ghosts the protocol alone would keep). */
  tombs: { A: Set<string>; B: Set<string> };
  convergedAtMs: number | undefined;
  /** With Scenario.recordWire: the messages sent A->B, then a separator, then B->A. */
  wire?: string[];
}

/**
 * Both nodes start cold at the same time. A creates `objectsA` flows, B `objectsB`; both update
 * and delete some while creating (batches every 5 ms), then go quiet; the links stay lossy.
 */
export function simulate(sc: Scenario): Result {
  const sim = new Sim(T0 * 1000 + 123);
  const r = rng(sc.seed);
  const a = new Node(sim, 'A', sc.optsA ?? {}, 0, sc.intrusive);
  const b = new Node(sim, 'B', sc.optsB ?? {}, 0, sc.intrusive);
  a.out = new Link(sim, rng(sc.seed ^ 0x5bd1e995), sc.ab, (d) => b.receive(d));
  b.out = new Link(sim, rng(sc.seed ^ 0x1b873593), sc.ba, (d) => a.receive(d));
  if (sc.recordWire) {
    a.out.trace = [];
    b.out.trace = [];
  }
  const start = sim.now;
  const tombs = { A: new Set<string>(), B: new Set<string>() };

  let running = 0;
  const workload = (n: Node, prefix: string, count: number, perBatch: number): void => {
    let created = 0;
    if (count === 0) return;
    running++;
    const step = (): void => {
      if (!n.up) {
        sim.at(5, step);
        return;
      }
      for (let i = 0; i < perBatch && created < count; i++) {
        n.set(`${prefix}${created++}`);
        // churn: updates, deletes and re-creations of earlier flows
        const x = r();
        if (created > 10 && x < 0.3) n.set(`${prefix}${Math.floor(r() * created)}`);
        else if (created > 10 && x < 0.38) n.del(`${prefix}${Math.floor(r() * created)}`);
      }
      if (created < count) sim.at(5, step);
      else running--;
    };
    sim.at(1 + Math.floor(r() * 3), step);
  };
  workload(a, 'a', sc.objectsA, 50);
  workload(b, 'b', sc.objectsB, 5);

  if (sc.restart) {
    const { who, atMs, downMs, kernelDeletes = 0 } = sc.restart;
    sim.runUntil(start + atMs);
    const n = who === 'A' ? a : b;
    n.crash();
    let deleted = 0;
    for (const k of n.internal.keys()) {
      if (deleted++ >= kernelDeletes) break;
      n.internal.delete(k);
    }
    sim.run(downMs);
    // the restarted process seeds its counter from its clock; put that clock 60 s behind so its
    // new seqs are below the old incarnation's (docs/ftfw-protocol.md §4)
    const old = n.fw.stats().nextSeq ?? 0;
    const offset = -((Math.floor(sim.now / 1000) - (old - 40)) * 1000);
    tombs[who] = n.restart(offset);
    assert.ok(seqBefore(Math.floor((sim.now + offset) / 1000) >>> 0, old), 'restart regresses the seq');
  }

  const settle = sc.settleMs ?? 120_000;
  let convergedAtMs: number | undefined;
  const deadline = sim.now + settle;
  while (sim.now < deadline) {
    sim.run(500);
    sc.trace?.(sim.now - start, diff(a, b, tombs.A), diff(b, a, tombs.B), a, b);
    if (running === 0 && clean(diff(a, b, tombs.A)) && clean(diff(b, a, tombs.B))) {
      // stable for a while (nothing still in flight that could break it)
      sim.run(5_000);
      if (clean(diff(a, b, tombs.A)) && clean(diff(b, a, tombs.B))) {
        convergedAtMs = sim.now - start;
        break;
      }
    }
  }
  const wire = sc.recordWire ? [...a.out.trace!, '--', ...b.out.trace!] : undefined;
  return { a, b, ab: diff(a, b, tombs.A), ba: diff(b, a, tombs.B), tombs, convergedAtMs, wire };
}

const lossy = (loss: number, dup = 0, reorder = 0, dropFirst = 0): LinkCfg => ({ loss, dup, reorder, dropFirst });

function assertConverged(res: Result, what: string): void {
  const detail =
    `${what}: A->B ${JSON.stringify(res.ab)} B->A ${JSON.stringify(res.ba)} ` +
    `A ${JSON.stringify(res.a.fw.stats())} B ${JSON.stringify(res.b.fw.stats())}`;
  assert.ok(clean(res.ab) && clean(res.ba), detail);
  assert.notEqual(res.convergedAtMs, undefined, detail);
}

for (const intrusive of [false, true])
  describe(`ftfw: two instances over a lossy link${intrusive ? ' (intrusive records)' : ''}`, function () {
    this.timeout(120_000);

    it('10,000 objects, 20% loss, duplicates and reordering, loss from the very first message: zero loss', () => {
      const res = simulate({
        intrusive,
        seed: 1,
        objectsA: 10_000,
        objectsB: 500,
        ab: lossy(0.2, 0.05, 0.1, 3),
        ba: lossy(0.2, 0.05, 0.1, 3),
      });
      assertConverged(res, 'cold start');
      assert.equal(res.a.live().size, res.b.external.size);
      assert.ok(res.b.external.size > 8_000);
      const sa = res.a.fw.stats(),
        sb = res.b.fw.stats();
      assert.ok(sb.lostExact > 0 && sa.lostExact > 0, 'there was loss to recover from');
      assert.ok(sa.helloReplays > 0, 'HELLO-phase messages were replayed');
    });

    it('receiver restarts mid-stream (HELLO, lower seq): zero loss', () => {
      const res = simulate({
        intrusive,
        seed: 2,
        objectsA: 10_000,
        objectsB: 300,
        ab: lossy(0.2, 0.05, 0.1),
        ba: lossy(0.2, 0.05, 0.1),
        restart: { who: 'B', atMs: 700, downMs: 400 },
      });
      assertConverged(res, 'B restart');
      assert.ok(res.a.fw.stats().peerRestarts >= 2, 'A saw B start twice');
      assert.ok(res.b.external.size > 8_000);
    });

    it('sender restarts mid-stream (HELLO, lower seq): zero loss (only DELs unacked at the crash may linger)', () => {
      const res = simulate({
        intrusive,
        seed: 3,
        objectsA: 10_000,
        objectsB: 300,
        ab: lossy(0.2, 0.05, 0.1),
        ba: lossy(0.2, 0.05, 0.1),
        restart: { who: 'A', atMs: 900, downMs: 300 },
      });
      assertConverged(res, 'A restart');
      assert.ok(res.b.fw.stats().peerRestarts >= 2, 'B saw A start twice');
    });

    it('sender restarts on a clean link, its kernel deleted flows meanwhile: the receiver keeps no ghost (R3)', () => {
      for (let seed = 30; seed < 34; seed++) {
        const res = simulate({
          intrusive,
          seed,
          objectsA: 3_000,
          objectsB: 100,
          ab: lossy(0),
          ba: lossy(0),
          restart: { who: 'A', atMs: 200 + seed * 20, downMs: 2000, kernelDeletes: 300 },
        });
        assert.deepEqual(
          diff(res.a, res.b),
          { missing: 0, stale: 0, ghosts: 0 },
          `seed ${seed}: B holds exactly A's flows`,
        );
        assert.deepEqual(diff(res.b, res.a), { missing: 0, stale: 0, ghosts: 0 }, `seed ${seed}: and A B's`);
        assert.ok(res.b.swept > 0, `seed ${seed}: B removed the flows A's kernel ended while A was down`);
      }
    });

    it("both sides answer each other's RESYNC with more flows than the resend queue holds: no deadlock (R3, S7)", () => {
      const opts: FtFwOptions<TObj> = { resendQueueSize: 300 };
      const res = simulate({
        intrusive,
        seed: 40,
        objectsA: 4_000,
        objectsB: 4_000,
        ab: lossy(0),
        ba: lossy(0),
        optsA: opts,
        optsB: opts,
      });
      assertConverged(res, 'mutual resync');
      assert.ok(res.a.answers >= 1 && res.b.answers >= 1, `answers: A ${res.a.answers}, B ${res.b.answers}`);
      assert.ok(res.a.fw.stats().flowBlocked > 0, 'flow control did hold the bulks back');
    });

    it('our sender loses nothing with a stock (conntrackd-compat) receiver', () => {
      const res = simulate({
        intrusive,
        seed: 4,
        objectsA: 10_000,
        objectsB: 0,
        ab: lossy(0.2, 0.05, 0.1, 3),
        ba: lossy(0.2, 0.05, 0.1, 3),
        optsB: { conntrackdCompat: true },
      });
      assertConverged(res, 'stock receiver');
      assert.ok(res.b.external.size > 8_000);
    });

    it('a stock sender loses nothing towards our receiver when we ask for a resync (loss only)', () => {
      const res = simulate({
        intrusive,
        seed: 5,
        objectsA: 300,
        objectsB: 5_000,
        ab: lossy(0.2, 0, 0, 3),
        ba: lossy(0.2, 0, 0, 3),
        optsB: { conntrackdCompat: true },
      });
      assertConverged(res, 'stock B');
      assert.ok(res.a.fw.stats().resyncSent >= 1);
    });

    it('motivation: two stock (compat) instances lose entries at a cold start with 20% loss', () => {
      let lossy20 = 0;
      for (let seed = 10; seed < 14; seed++) {
        const res = simulate({
          intrusive,
          seed,
          objectsA: 2_000,
          objectsB: 0,
          settleMs: 20_000,
          ab: lossy(0.2, 0, 0, 3),
          ba: lossy(0.2, 0, 0, 3),
          optsA: { conntrackdCompat: true },
          optsB: { conntrackdCompat: true },
        });
        if (!clean(res.ab)) lossy20++;
      }
      assert.ok(lossy20 > 0, 'expected the stock protocol to lose something');
    });

    it('property: for random loss / duplication / reordering patterns both sides converge', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 0x7fffffff }),
          fc.double({ min: 0, max: 0.5, noNaN: true }),
          fc.double({ min: 0, max: 0.2, noNaN: true }),
          fc.double({ min: 0, max: 0.3, noNaN: true }),
          fc.integer({ min: 0, max: 6 }),
          fc.option(
            fc.record({
              who: fc.constantFrom<'A' | 'B'>('A', 'B'),
              atMs: fc.integer({ min: 50, max: 600 }),
              downMs: fc.integer({ min: 0, max: 4000 }),
            }),
            { nil: undefined },
          ),
          (seed, loss, dup, reorder, dropFirst, restart) => {
            const res = simulate({
              intrusive,
              seed,
              objectsA: 400,
              objectsB: 60,
              restart,
              ab: lossy(loss, dup, reorder, dropFirst),
              ba: lossy(loss, dup, reorder, dropFirst),
              settleMs: 300_000,
            });
            assertConverged(res, JSON.stringify({ seed, loss, dup, reorder, dropFirst, restart }));
          },
        ),
        { numRuns: 40 },
      );
    });
  });

// --------------------------------------------------------------- per-object fast paths

describe('ftfw: per-object fast paths (intrusive records, record reuse, transmitTo, receiveHeader)', function () {
  this.timeout(120_000);

  it('intrusive records give the same wire output as the keyed map, message for message', () => {
    const scenarios: Scenario[] = [
      { seed: 21, objectsA: 3_000, objectsB: 200, ab: lossy(0.2, 0.05, 0.1, 3), ba: lossy(0.2, 0.05, 0.1, 3) },
      {
        seed: 22,
        objectsA: 3_000,
        objectsB: 200,
        ab: lossy(0.2, 0.05, 0.1),
        ba: lossy(0.2, 0.05, 0.1),
        restart: { who: 'B', atMs: 300, downMs: 400 },
      },
      {
        seed: 23,
        objectsA: 3_000,
        objectsB: 200,
        ab: lossy(0.2, 0.05, 0.1),
        ba: lossy(0.2, 0.05, 0.1),
        restart: { who: 'A', atMs: 400, downMs: 300 },
      },
      {
        seed: 24,
        objectsA: 3_000,
        objectsB: 0,
        ab: lossy(0.2, 0.05, 0.1, 3),
        ba: lossy(0.2, 0.05, 0.1, 3),
        optsB: { conntrackdCompat: true },
      },
      {
        seed: 25,
        objectsA: 2_000,
        objectsB: 100,
        ab: lossy(0.1),
        ba: lossy(0.1),
        optsA: { resendQueueSize: 300 },
        optsB: { resendQueueSize: 300 },
      },
    ];
    for (const sc of scenarios) {
      const map = simulate({ ...sc, recordWire: true });
      const intr = simulate({ ...sc, recordWire: true, intrusive: true });
      assertConverged(intr, `seed ${sc.seed}`);
      assert.ok(map.wire!.length > 1000);
      assert.ok(intr.wire!.join('\n') === map.wire!.join('\n'), `seed ${sc.seed}: wire output differs`);
      assert.deepEqual({ ...intr.a.fw.stats() }, { ...map.a.fw.stats() });
      assert.deepEqual({ ...intr.b.fw.stats() }, { ...map.b.fw.stats() });
    }
  });

  it('nodeOf and setNodeOf go together', () => {
    assert.throws(() => probe({ nodeOf: (o) => o.node }), TypeError);
    assert.throws(() => probe({ setNodeOf: () => {} }), TypeError);
  });

  it('the record lives on the object while held and is cleared before released() is called', () => {
    const seen: Array<[string, boolean, boolean]> = [];
    const p = probe(compat(intrusiveOpts));
    const fw = p.fw;
    // look at the object's state from inside the hook (as the engine does with holds())
    (fw as unknown as { hooks: FtFwHooks<TObj> }).hooks.released = (o, why) => {
      seen.push([`${o.key}:${why}`, fw.holds(o), o.node !== undefined]);
    };
    const a = obj('a'),
      b = obj('b'),
      c = obj('c');
    assert.ok(!fw.holds(a));
    fw.queueObject(a);
    fw.queueObject(b);
    fw.queueObject(c);
    fw.queueObject(a); // coalesced
    assert.ok(a.node !== undefined && fw.holds(a) && fw.holds(b));
    const out = fw.transmitPass();
    assert.deepEqual(show(out), ['obj:a/H', 'obj:b/H', 'obj:c/H']);
    const s = out[0].seq;
    b.state = 'ALIVE';
    fw.queueObject(b); // back from the resend queue to tx
    assert.equal(fw.stats().rsQueueLen, 2);
    fw.receive(data(700));
    fw.receive(ack(701, s, s + 2));
    assert.deepEqual(seen, [
      ['a:acked', false, false],
      ['c:acked', false, false],
    ]);
    assert.ok(a.node === undefined && !fw.holds(a) && fw.holds(b));
    assert.ok(fw.forget(b));
    assert.ok(!fw.forget(b) && b.node === undefined);
    assert.deepEqual(fw.transmitPass(), []);
    // a different object with the same key is another object here: nothing is 'replaced'
    const a2 = obj('a');
    fw.queueObject(a2);
    fw.queueObject(obj('a'));
    assert.equal(fw.transmitPass().length, 2);
    assert.ok(!seen.some(([w]) => w.endsWith('replaced')));
  });

  it('a record left on an object by another instance (restarted owner) is ignored and replaced', () => {
    const p1 = probe(compat(intrusiveOpts));
    const p2 = probe(compat(intrusiveOpts));
    const a = obj('a');
    p1.fw.queueObject(a);
    p1.fw.transmitPass();
    const old = a.node;
    assert.ok(old !== undefined);
    assert.ok(!p2.fw.holds(a) && !p2.fw.forget(a));
    p2.fw.queueObject(a);
    assert.ok(a.node !== old && p2.fw.holds(a));
    assert.deepEqual(show(p2.fw.transmitPass()), ['obj:a/H']);
    assert.equal(p1.fw.stats().rsQueueLen, 1, 'the first instance is not touched');
  });

  for (const intrusive of [false, true]) {
    it(`reused records start clean: a HELLO-phase record does not make a later object held${intrusive ? ' (intrusive)' : ''}`, () => {
      const p = probe({ helloLingerPeriods: 1, ...(intrusive ? intrusiveOpts : {}) });
      const early = ['e1', 'e2', 'e3'].map((k) => obj(k));
      for (const o of early) p.fw.queueObject(o);
      p.fw.transmitPass(); // sent with HELLO: held, helloSent
      for (const o of early) p.fw.forget(o); // their records go to the free list
      handshake(p, 5000);
      assert.equal(p.fw.hello, 'done');
      p.released.length = 0;
      const later = ['x', 'y'].map((k) => obj(k));
      for (const o of later) p.fw.queueObject(o);
      const out = p.fw.transmitPass();
      assert.deepEqual(show(out), ['obj:x', 'obj:y']);
      p.fw.receive(ack(5001, out[0].seq, out[1].seq));
      assert.deepEqual(
        p.released,
        [
          ['x', 'acked'],
          ['y', 'acked'],
        ],
        'released at once: not held, not replayed',
      );
      assert.equal(p.fw.stats().rsQueueLen, 0);
      p.sim.run(10_000);
      assert.equal(p.fw.stats().helloReplays, 0);
    });
  }

  it('transmitTo hands over exactly what transmitPass returns (objects, controls, flags, seqs)', () => {
    const run = (raw: boolean): { msgs: string[]; dump: string } => {
      const p = probe(compat({ resendQueueSize: 4 }));
      const msgs: string[] = [];
      const pass = (): void => {
        if (!raw) {
          for (const m of p.fw.transmitPass()) {
            const it = m.item;
            msgs.push(
              it.kind === 'object'
                ? `obj ${it.obj.key} ${m.seq} ${m.flags}`
                : `${it.kind} ${m.seq} ${m.flags} ${it.from} ${it.to}`,
            );
          }
          return;
        }
        const n = p.fw.transmitTo({
          object: (o, seq, flags) => void msgs.push(`obj ${o.key} ${seq} ${flags}`),
          control: (kind, seq, flags, from, to) => void msgs.push(`${kind} ${seq} ${flags} ${from} ${to}`),
        });
        assert.equal(typeof n, 'number');
      };
      p.fw.receive(data(1000, F.HELLO));
      p.fw.receive(data(1003)); // gap -> ACK + NACK
      for (const k of ['a', 'b', 'c', 'd', 'e']) p.fw.queueObject(obj(k)); // overflows the rs queue
      p.fw.requestResync();
      pass();
      p.sim.run(1000); // timer ACK
      pass();
      p.sim.run(1000); // ALIVE
      pass();
      p.fw.receive(alive(1004, F.HELLO_BACK));
      const s = T0;
      p.fw.receive(nack(1005, s + 1, s + 6));
      pass();
      return { msgs, dump: p.fw.rsQueueDump() };
    };
    const a = run(false),
      b = run(true);
    assert.ok(a.msgs.length >= 12);
    assert.ok(a.msgs.some((m) => m.startsWith('alive ')) && a.msgs.some((m) => m.startsWith('nack ')));
    assert.deepEqual(b, a);
  });

  it('receiveHeader(fields) is receive(header)', () => {
    const hs: RxHeader[] = [
      data(10, F.HELLO),
      data(11),
      data(14),
      alive(15, F.HELLO_BACK),
      ack(16, 1, 0),
      nack(17, 5, 6),
      resync(18),
      data(12),
      { type: 7, flags: 0, seq: 19 },
    ];
    const a = probe(compat()),
      b = probe(compat());
    const va = hs.map((h) => a.fw.receive(h));
    const vb = hs.map((h) => b.fw.receiveHeader(h.type, h.flags, h.seq, h.from, h.to));
    assert.deepEqual(vb, va);
    assert.deepEqual(b.fw.stats(), a.fw.stats());
    assert.deepEqual(show(b.fw.transmitPass()), show(a.fw.transmitPass()));
  });
});
