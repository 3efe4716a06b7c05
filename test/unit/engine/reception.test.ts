// Peer datagrams -> FT-FW -> external caches (src/engine/reception.ts), on fake ports: what the
// peer sends is built with DatagramBuilder and delivered through the fake channel.
import { strict as assert } from 'node:assert';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import { ObjectState } from '../../../src/cache/sync-cache.js';
import type { Expect } from '../../../src/conntrack/entry.js';
import {
  FakePeer,
  ackAll,
  datagram,
  handshake,
  startedEngine,
  udpFlow,
  type EngineRig,
} from '../../helpers/engine-fakes.js';

const externalKeys = (rig: EngineRig): string[] =>
  [...rig.engine.external.values()].map(
    (o) => rig.engine.external.entry(o).orig.src + ':' + rig.engine.external.entry(o).orig.sport,
  );

describe('engine: reception (peer -> external cache)', () => {
  it('a received CT_NEW lands in the external cache; CT_UPD updates it; CT_DEL removes it', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    const e = udpFlow(1);
    peer.send((b, next) => b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), e));
    assert.equal(rig.engine.external.size, 1);
    const [obj] = [...rig.engine.external.values()];
    assert.equal(obj.state, ObjectState.NEW);
    assert.deepEqual(rig.engine.external.entry(obj).orig, e.orig);
    peer.send((b, next) => b.addCt(MSG.CT_UPD, 0, next(), { ...e, timeout: 99 }));
    const [upd] = [...rig.engine.external.values()];
    assert.equal(rig.engine.external.entry(upd).timeout, 99);
    peer.send((b, next) => b.addCt(MSG.CT_DEL, 0, next(), e));
    assert.equal(rig.engine.external.size, 0);
    assert.equal(rig.engine.internal.size, 0, 'the internal cache is not touched');
  });

  it('the commit workers start with the first entry from the peer, not before', async () => {
    const rig = await startedEngine();
    assert.equal(rig.commitPool.started, false, 'an empty external cache needs no workers');
    const peer = new FakePeer(rig.channel);
    peer.send((b, next) => b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(9)));
    assert.equal(rig.commitPool.started, true);
    assert.deepEqual(
      rig.events.ignored,
      [rig.kernel.portId, ...rig.commitPool.portIds],
      'their requests are not heard',
    );
  });

  it('a late duplicate is not applied again (FT-FW drops it)', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    const e = udpFlow(2);
    peer.send((b, next) => b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), e));
    const newSeq = peer.seq - 1;
    peer.send((b, next) => b.addCt(MSG.CT_DEL, FLAG.HELLO, next(), e));
    assert.equal(rig.engine.external.size, 0);
    // the CT_NEW again, with its old sequence number
    rig.channel.deliver(datagramOf((b) => b.addCt(MSG.CT_NEW, FLAG.HELLO, newSeq, e)));
    assert.equal(rig.engine.external.size, 0, 'a stale NEW after its DEL is dropped');
    assert.equal(rig.engine.ftfw.stats().before, 1);
  });

  it('a gap in the peer sequence is NACKed on the next loop turn', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    peer.send((b, next) => b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(3)));
    peer.send((b, next) => b.addControl(FLAG.ALIVE | FLAG.HELLO_BACK, next()));
    rig.clock.settle();
    rig.channel.messages();
    peer.lose(2);
    peer.send((b, next) => b.addCt(MSG.CT_NEW, 0, next(), udpFlow(4)));
    assert.equal(rig.engine.external.size, 2, 'applied all the same');
    rig.clock.settle();
    const nacks = rig.channel.messages().filter((m) => m.type === MSG.CTL && m.flags & FLAG.NACK);
    assert.deepEqual(
      nacks.map((m) => [m.from, m.to]),
      [[5002, 5003]],
    );
  });

  it('malformed messages are counted by reason; a bad header still goes through sequence tracking', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    peer.send((b, next) => b.addControl(FLAG.ALIVE | FLAG.HELLO, next()));
    const bad = datagramOf((b) => b.addControl(FLAG.ALIVE, peer.seq));
    bad[0] = 0x2a; // version 2
    rig.channel.deliver(bad);
    assert.deepEqual([rig.engine.malformed.total, rig.engine.malformed.badVersion], [1, 1]);
    assert.equal(rig.engine.ftfw.stats().msgsReceived, 1, 'a wrong version is not tracked');
    peer.send((b, next) => b.addControl(0, next())); // a control message of no known kind
    assert.deepEqual([rig.engine.malformed.total, rig.engine.malformed.badHeader], [2, 1]);
    assert.equal(rig.engine.ftfw.stats().msgsReceived, 2, 'as conntrackd: tracked, then counted as malformed');
  });

  it('EXP messages are ignored (and counted) when ExpectationSync is off', async () => {
    const rig = await startedEngine();
    const peer = new FakePeer(rig.channel);
    peer.send((b, next) => b.addExp(MSG.EXP_NEW, FLAG.HELLO, next(), expectation(1)));
    assert.equal(rig.engine.expectMessagesIgnored, 1);
    assert.equal(rig.engine.externalExpect.size, 0);
  });

  it('with ExpectationSync on, a received EXP_NEW lands in the external expectation cache', async () => {
    const rig = await startedEngine((c) => {
      c.sync.options = { expectationSync: true };
    });
    const peer = new FakePeer(rig.channel);
    peer.send((b, next) => b.addExp(MSG.EXP_NEW, FLAG.HELLO, next(), expectation(1)));
    assert.equal(rig.engine.externalExpect.size, 1);
    peer.send((b, next) => b.addExp(MSG.EXP_DEL, 0, next(), expectation(1)));
    assert.equal(rig.engine.externalExpect.size, 0);
  });

  describe('reconciliation (ghosts)', () => {
    /**
     * The peer sends A and B, the engine asks for a resync (its start-up RESYNC), the peer's
     * answer carries B only, then the peer acknowledges the RESYNC: A is a ghost.
     */
    async function answerWithout(opts: { gap: boolean }): Promise<EngineRig> {
      const rig = await startedEngine();
      const peer = new FakePeer(rig.channel);
      peer.send((b, next) => {
        b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(10));
        b.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(11));
      });
      assert.deepEqual(externalKeys(rig).sort(), ['198.51.100.11:10000', '198.51.100.12:10000']);
      rig.clock.run(1000);
      rig.channel.messages();
      peer.send((b, next) => b.addControl(FLAG.ALIVE | FLAG.HELLO_BACK, next()));
      // the handshake's linger time, then the RESYNC goes out
      let resync;
      for (let i = 0; i < 6 && !resync; i++) {
        rig.clock.run(1000);
        resync = rig.channel.messages(false).find((m) => m.type === MSG.CTL && m.flags & FLAG.RESYNC);
        if (!resync) ackAll(rig, peer);
      }
      assert.ok(resync, 'the engine asked for a resync');
      assert.equal(rig.engine.ftfw.resyncEpoch, 1);
      // the answer: B only (A was deleted on the peer while its DEL could not reach us)
      if (opts.gap) peer.lose();
      peer.send((b, next) => b.addCt(MSG.CT_UPD, 0, next(), udpFlow(11)));
      ackAll(rig, peer);
      rig.clock.settle();
      return rig;
    }

    it("a peer's complete answer to our RESYNC removes the external entries it left out", async () => {
      const rig = await answerWithout({ gap: false });
      assert.deepEqual(externalKeys(rig), ['198.51.100.12:10000']);
      assert.equal(rig.engine.staleRemoved, 1);
      assert.ok(
        rig.log.lines.some((l) => /removed 1 flows the peer no longer has/.test(l)),
        rig.log.lines.join('\n'),
      );
    });

    it('an answer with a gap removes nothing', async () => {
      const rig = await answerWithout({ gap: true });
      assert.equal(rig.engine.external.size, 2);
      assert.equal(rig.engine.staleRemoved, 0);
      assert.ok(rig.log.lines.some((l) => /arrived with gaps/.test(l)));
    });
  });

  it('after the handshake, a received RESYNC makes the engine send its whole internal cache', async () => {
    const rig = await startedEngine(undefined, (p) => {
      for (let i = 0; i < 5; i++) p.kernel.add(udpFlow(20 + i));
    });
    const peer = new FakePeer(rig.channel);
    handshake(rig, peer);
    peer.send((b, next) => b.addControl(FLAG.RESYNC, next()));
    rig.clock.run(1500);
    const data = rig.channel.messages().filter((m) => m.type === MSG.CT_NEW);
    assert.equal(data.length, 5);
    assert.ok(rig.log.lines.some((l) => /resync requested by other node/.test(l)));
  });
});

function datagramOf(fill: Parameters<typeof datagram>[0]): Buffer {
  return datagram(fill);
}

function expectation(i: number): Expect {
  return {
    family: 2,
    master: { src: '198.51.100.1', dst: '203.0.113.1', proto: 6, sport: 40000 + i, dport: 21 },
    tuple: { src: '198.51.100.1', dst: '203.0.113.1', proto: 6, sport: 0, dport: 50000 + i },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    timeout: 300,
    helper: 'ftp',
  };
}
