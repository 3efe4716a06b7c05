// Sync encryption's two sides (src/sync/auth-sealer.ts): the gate opens a sealed datagram in every
// mode and only once; a sealed datagram that cannot be opened is dropped in every mode and counted
// by reason (a tag that does not match is 'bad-mac'); with Encrypt on a plain datagram is
// 'not-encrypted': dropped in enforce, counted and then checked as before in the other modes.
import { strict as assert } from 'node:assert';
import { senderPseudoHeader } from '../../../src/sync/auth-trailer.js';
import { DatagramGate, DatagramSealer } from '../../../src/sync/auth-sealer.js';
import { DatagramSigner, startEpoch } from '../../../src/sync/auth-signer.js';
import { DatagramVerifier, type AuthMode } from '../../../src/sync/auth-verifier.js';
import { FLAG, encodeControl } from '../../../src/sync/wire.js';

const K1 = Buffer.alloc(32, 1);
const PEER = '192.0.2.2';
const PORT = 41000;
const keys = new Map([[1, K1]]);

function body(seq: number): Buffer {
  const b = Buffer.alloc(8);
  encodeControl(b, 0, FLAG.ALIVE, seq);
  return b;
}

const sealer = (epoch = startEpoch(1_000_000, 7), keyId = 1, key = K1, port = PORT) =>
  new DatagramSealer(keyId, key, epoch, senderPseudoHeader(PEER, port));
const signer = () => new DatagramSigner(1, K1, startEpoch(1_000_000, 9), senderPseudoHeader(PEER, PORT));

function gate(mode: AuthMode, encrypt: boolean): { g: DatagramGate; v: DatagramVerifier } {
  const v = new DatagramVerifier(mode, keys);
  return { g: new DatagramGate(v, keys, encrypt), v };
}

describe('sync/auth-sealer', () => {
  for (const mode of ['receive-only', 'permissive', 'enforce'] as const)
    for (const encrypt of [true, false])
      it(`${mode}, Encrypt ${encrypt ? 'on' : 'off'}: opens a sealed datagram once, then a replay fails`, () => {
        const { g, v } = gate(mode, encrypt);
        const d = sealer().seal(body(1));
        const r = g.receive(d, PEER, PORT);
        assert.ok(r.pass && r.sealed);
        assert.deepEqual(r.data, body(1));
        const again = g.receive(d, PEER, PORT);
        assert.equal(again.pass, mode === 'receive-only', 'receive-only passes a replay on, as for signed');
        assert.equal(v.counters.failed.replay, 1);
        assert.equal(v.counters.accepted, 1);
      });

  for (const mode of ['receive-only', 'permissive', 'enforce'] as const)
    it(`${mode}: drops a sealed datagram it cannot open, by reason`, () => {
      const { g, v } = gate(mode, true);
      const tampered = sealer().seal(body(1));
      tampered[tampered.length - 20]! ^= 1;
      assert.deepEqual(g.receive(tampered, PEER, PORT), {
        pass: false,
        reason: 'bad-mac',
        why: 'the AEAD tag does not match (key 1)',
      });
      const otherKey = sealer(undefined, 1, Buffer.alloc(32, 9)).seal(body(1));
      assert.equal(g.receive(otherKey, PEER, PORT).pass, false);
      const unknown = sealer(undefined, 4).seal(body(1));
      assert.deepEqual(g.receive(unknown, PEER, PORT), {
        pass: false,
        reason: 'unknown-key',
        why: 'key id 4 is not configured',
      });
      const fromOtherPort = sealer(undefined, 1, K1, PORT + 1).seal(body(1));
      assert.equal(g.receive(fromOtherPort, PEER, PORT).pass, false, 'sealed for another sender port');
      const cut = sealer().seal(body(1)).subarray(0, 30);
      assert.equal(g.receive(Buffer.from(cut), PEER, PORT).pass, false);
      assert.deepEqual(v.counters.failed, {
        'no-trailer': 0,
        malformed: 1,
        'unknown-key': 1,
        'bad-mac': 3,
        stale: 0,
        replay: 0,
        'not-encrypted': 0,
      });
      assert.equal(v.counters.dropped, 5);
      assert.equal(v.counters.accepted, 0);
    });

  it('Encrypt on, enforce: drops plain datagrams, signed or not, as not-encrypted', () => {
    const { g, v } = gate('enforce', true);
    assert.deepEqual(g.receive(body(1), PEER, PORT), {
      pass: false,
      reason: 'not-encrypted',
      why: 'a plain datagram while Encrypt is on',
    });
    assert.equal(g.receive(signer().sign(body(2)), PEER, PORT).pass, false);
    assert.equal(v.counters.failed['not-encrypted'], 2);
    assert.equal(v.counters.dropped, 2);
    assert.equal(v.counters.accepted, 0);
  });

  it('Encrypt on, permissive: counts plain datagrams and checks them as without encryption', () => {
    const { g, v } = gate('permissive', true);
    const unsigned = g.receive(body(1), PEER, PORT);
    assert.ok(unsigned.pass && !unsigned.sealed);
    const signed = g.receive(signer().sign(body(2)), PEER, PORT);
    assert.ok(signed.pass);
    assert.deepEqual(signed.data, body(2), 'without its trailer');
    const forged = new DatagramSigner(1, Buffer.alloc(32, 7), 5n, senderPseudoHeader(PEER, PORT)).sign(body(3));
    assert.equal(g.receive(forged, PEER, PORT).pass, false, 'a bad trailer is still dropped');
    assert.equal(v.counters.failed['not-encrypted'], 3);
    assert.equal(v.counters.failed['no-trailer'], 1);
    assert.equal(v.counters.failed['bad-mac'], 1);
    assert.equal(v.counters.accepted, 1);
    assert.equal(v.counters.dropped, 1);
  });

  it('Encrypt off, enforce: plain signed datagrams pass as before, and no not-encrypted count', () => {
    const { g, v } = gate('enforce', false);
    assert.ok(g.receive(signer().sign(body(1)), PEER, PORT).pass);
    assert.equal(g.receive(body(2), PEER, PORT).pass, false);
    assert.equal(v.counters.failed['not-encrypted'], 0);
    assert.equal(v.counters.failed['no-trailer'], 1);
  });

  it('shares the replay window with signed datagrams: a restarted peer that now seals takes over its epoch', () => {
    const { g, v } = gate('enforce', false);
    const old = new DatagramSigner(1, K1, startEpoch(1_000_000, 1), senderPseudoHeader(PEER, PORT));
    const first = old.sign(body(1));
    assert.ok(g.receive(first, PEER, PORT).pass);
    assert.ok(g.receive(sealer(startEpoch(2_000_000, 1)).seal(body(2)), PEER, PORT).pass);
    assert.equal(g.receive(old.sign(body(3)), PEER, PORT).pass, false, 'the older start is stale now');
    assert.equal(v.counters.failed.stale, 1);
  });

  it('a sealer moves to the next epoch before its counter wraps and keeps its nonces on a key change', () => {
    const s = sealer();
    s.seal(body(1));
    s.setActiveKey(1, Buffer.alloc(32, 3));
    assert.deepEqual(s.position, { epoch: startEpoch(1_000_000, 7), counter: 1 });
  });
});
