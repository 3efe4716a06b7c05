// Kernel events -> internal cache -> FT-FW -> datagrams (src/engine/kernel-intake.ts,
// transmitter.ts), on fake ports: a fake event source, a channel that captures what is sent.
import { strict as assert } from 'node:assert';
import type { Entry, EventType, Expect } from '../../../src/conntrack/entry.js';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';
import { BULK_PER_TURN } from '../../../src/engine/transmitter.js';
import { FakePeer, ackAll, handshake, startedEngine, udpFlow, type EngineRig } from '../../helpers/engine-fakes.js';

const dataOf = (rig: EngineRig) => rig.channel.messages().filter((m) => m.type !== MSG.CTL);

describe('engine: replication out (kernel events -> peer)', () => {
  it('a kernel NEW event reaches the channel as a CT_NEW message on the next loop turn', async () => {
    const rig = await startedEngine();
    rig.channel.messages();
    const e = udpFlow(1);
    rig.events.conntrack([['NEW', e]]);
    assert.equal(rig.channel.sent.length, 0, 'nothing goes out inside the event');
    assert.equal(rig.engine.internal.size, 1);
    rig.clock.settle();
    const data = dataOf(rig);
    assert.equal(data.length, 1);
    assert.equal(data[0].type, MSG.CT_NEW);
    assert.deepEqual(data[0].entry?.orig, e.orig);
    assert.equal(data[0].flags & FLAG.HELLO, FLAG.HELLO, 'said with HELLO before the handshake');
  });

  it('an UPDATE goes out as CT_UPD and a DESTROY as CT_DEL; the dead entry goes once the peer has it', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    handshake(rig, peer);
    assert.equal(rig.engine.ftfw.hello, 'done');
    const e = udpFlow(2);
    rig.events.conntrack([['NEW', e]]);
    rig.clock.settle();
    assert.deepEqual(
      dataOf(rig).map((m) => [m.type, m.flags]),
      [[MSG.CT_NEW, 0]],
      'no HELLO any more',
    );
    rig.events.conntrack([['UPDATE', { ...e, timeout: 120 }]]);
    rig.clock.settle();
    const upd = dataOf(rig);
    assert.deepEqual(
      upd.map((m) => m.type),
      [MSG.CT_UPD],
    );
    assert.equal(upd[0].entry?.timeout, 120);
    rig.events.conntrack([['DESTROY', e]]);
    rig.clock.settle();
    const del = rig.channel.messages(false).filter((m) => m.type !== MSG.CTL);
    assert.deepEqual(
      del.map((m) => m.type),
      [MSG.CT_DEL],
    );
    const h = rig.engine.internal.handleOfKey(rig.engine.internal.keyOf(1));
    assert.equal(rig.engine.internal.stateOf(h), ObjectState.DEAD, 'kept while the peer has not acknowledged it');
    ackAll(rig, peer);
    rig.clock.settle();
    assert.equal(rig.engine.internal.totalObjects, 0, 'the DEAD entry is freed once acknowledged');
    assert.equal(rig.engine.ftfw.stats().rsQueueLen, 0);
  });

  it('events our own requests caused are stored but never sent back', async () => {
    const rig = await startedEngine();
    rig.channel.messages();
    rig.events.conntrack([['NEW', udpFlow(3)]], rig.kernel.portId);
    rig.clock.settle();
    assert.equal(rig.engine.internal.size, 1);
    assert.equal(rig.engine.ownEvents, 1);
    assert.deepEqual(dataOf(rig), []);
  });

  it('what the Filter ignores is neither cached nor sent', async () => {
    const rig = await startedEngine((c) => {
      c.general = { ...c.general, filter: { protocol: { mode: 'ignore', protocols: [17] } } };
    });
    rig.channel.messages();
    rig.events.conntrack([['NEW', udpFlow(4)]]);
    rig.events.conntrack([
      [
        'NEW',
        {
          ...udpFlow(5),
          orig: { ...udpFlow(5).orig, proto: 6, sport: 1, dport: 2 },
          reply: { ...udpFlow(5).reply!, proto: 6, sport: 2, dport: 1 },
          tcp: { state: 3 },
        },
      ],
    ]);
    rig.clock.settle();
    assert.equal(rig.engine.internal.size, 1, 'only the TCP flow');
    const data = dataOf(rig);
    assert.equal(data.length, 1);
    assert.equal(data[0].entry?.orig.proto, 6);
  });

  it('a batch of events goes out in one transmit pass, packed into full datagrams', async () => {
    const rig = await startedEngine();
    rig.channel.messages();
    rig.events.conntrack(Array.from({ length: 40 }, (_, i): [EventType, Entry] => ['NEW', udpFlow(100 + i)]));
    const flushes = rig.channel.flushes;
    rig.clock.turn();
    assert.equal(rig.channel.flushes, flushes + 1, 'one pass');
    const datagrams = rig.channel.sent.length;
    assert.ok(datagrams < 40 && datagrams >= 2, `40 messages in ${datagrams} datagrams`);
    assert.equal(dataOf(rig).length, 40);
  });

  it("packs to the channel's maxDatagram as it is at each pass (a reload turning authentication on or off)", async () => {
    const rig = await startedEngine();
    rig.channel.messages();
    const burst = (base: number) =>
      rig.events.conntrack(Array.from({ length: 40 }, (_, i): [EventType, Entry] => ['NEW', udpFlow(base + i)]));
    const largest = () => Math.max(...rig.channel.sent.splice(0).map((d) => d.length));
    burst(100);
    rig.clock.turn();
    assert.ok(largest() > 1472 - 36, 'full size before');
    Object.defineProperty(rig.channel, 'maxDatagram', { value: 1472 - 36 });
    burst(200);
    rig.clock.turn();
    assert.ok(largest() < 1472 - 36, 'room for a trailer after');
  });

  it('-B sends every internal entry, BULK_PER_TURN per loop turn', async () => {
    const n = BULK_PER_TURN + 100;
    const rig = await startedEngine(undefined, (p) => {
      for (let i = 0; i < n; i++) p.kernel.add(udpFlow(i));
    });
    assert.equal(rig.engine.internal.size, n, 'loaded from the kernel at start');
    rig.channel.messages();
    assert.equal(rig.engine.bulkSend(), n);
    rig.clock.turn();
    const first = dataOf(rig).length;
    assert.ok(first > 0 && first <= BULK_PER_TURN, `first turn: ${first}`);
    rig.clock.settle();
    const msgs = dataOf(rig);
    assert.equal(first + msgs.length, n, 'every entry once');
    assert.ok(
      msgs.every((m) => m.type === MSG.CT_NEW),
      'as held: NEW',
    );
  });

  it('with ExpectationSync, a kernel expectation event goes out as EXP_NEW; -B covers expectations after the conntracks', async () => {
    const rig = await startedEngine(
      (c) => {
        c.sync.options = { expectationSync: ['ftp'] };
      },
      (p) => p.kernel.add(udpFlow(7)),
    );
    rig.channel.messages();
    const x: Expect = {
      family: 2,
      helper: 'ftp',
      timeout: 300,
      master: { src: '198.51.100.8', dst: '203.0.113.1', proto: 6, sport: 40000, dport: 21 },
      tuple: { src: '198.51.100.8', dst: '203.0.113.1', proto: 6, sport: 0, dport: 50000 },
      mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    };
    rig.events.expect('NEW', x);
    rig.events.expect('NEW', { ...x, helper: 'sip', tuple: { ...x.tuple, dport: 50001 } });
    rig.clock.settle();
    const sent = dataOf(rig);
    assert.deepEqual(
      sent.map((m) => [m.type, m.expect?.tuple.dport]),
      [[MSG.EXP_NEW, 50000]],
      'only the helper ExpectationSync names',
    );
    assert.equal(rig.engine.bulkSend(), 2);
    rig.clock.run(1500);
    assert.deepEqual(
      dataOf(rig).map((m) => m.type),
      [MSG.CT_NEW, MSG.EXP_NEW],
    );
  });

  it('after stop() nothing is sent, and every port is closed', async () => {
    const rig = await startedEngine();
    rig.channel.messages();
    rig.events.conntrack([['NEW', udpFlow(6)]]);
    rig.engine.stop();
    rig.clock.run(5000);
    assert.equal(rig.channel.sent.length, 0);
    assert.ok(rig.channel.closed && rig.kernel.closed && rig.events.closed && rig.commitPool.stopped);
    assert.equal(rig.clock.pendingTimers, 0, 'no timer left');
  });
});
