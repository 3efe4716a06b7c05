// Tests of sync authentication's two sides (src/sync/auth-signer.ts, src/sync/auth-verifier.ts):
// each rejection reason, each mode's decision, restarts (a new epoch), reordering, counters.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { COUNTER_MAX, senderPseudoHeader } from '../../../src/sync/auth-trailer.js';
import { DatagramSigner, startEpoch } from '../../../src/sync/auth-signer.js';
import { DatagramVerifier, type AuthMode } from '../../../src/sync/auth-verifier.js';
import { FLAG, encodeControl } from '../../../src/sync/wire.js';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);
const PEER = '192.0.2.2';
const PORT = 41000;
const keys = new Map([
  [1, K1],
  [2, K2],
]);

function body(seq: number): Buffer {
  const b = Buffer.alloc(8);
  encodeControl(b, 0, FLAG.ALIVE, seq);
  return b;
}

const signer = (epoch = startEpoch(1_000_000, 7), keyId = 1, key = K1) =>
  new DatagramSigner(keyId, key, epoch, senderPseudoHeader(PEER, PORT));

describe('sync/auth-verifier and auth-signer', () => {
  it('enforce: passes a valid fresh datagram without its trailer, once', () => {
    const v = new DatagramVerifier('enforce', keys);
    const d = signer().sign(body(1));
    assert.deepEqual(v.verify(d, PEER, PORT), { pass: true, length: 8 });
    assert.deepEqual(v.verify(d, PEER, PORT), {
      pass: false,
      reason: 'replay',
      why: `epoch ${startEpoch(1_000_000, 7).toString(16)} counter 0 was accepted before`,
    });
    assert.equal(v.counters.accepted, 1);
    assert.equal(v.counters.failed.replay, 1);
    assert.equal(v.counters.dropped, 1);
  });

  it('enforce: drops each kind of bad datagram and counts it by reason', () => {
    const v = new DatagramVerifier('enforce', keys);
    const s = signer();
    const reason = (d: Buffer, port = PORT) => {
      const r = v.verify(d, PEER, port);
      return r.pass ? 'pass' : r.reason;
    };
    assert.equal(reason(body(1)), 'no-trailer');
    assert.equal(reason(signer(1n, 3, K1).sign(body(1))), 'unknown-key');
    assert.equal(reason(signer(1n, 1, K2).sign(body(1))), 'bad-mac', 'wrong key under a known id');
    const flipped = s.sign(body(2));
    flipped[6] ^= 1;
    assert.equal(reason(flipped), 'bad-mac');
    assert.equal(reason(s.sign(body(3)), PORT + 1), 'bad-mac', 'another source port');
    const cut = s.sign(body(4));
    cut.writeUInt16BE(20, 8 + 2);
    assert.equal(reason(cut), 'malformed');
    assert.deepEqual(v.counters.failed, {
      'no-trailer': 1,
      malformed: 1,
      'unknown-key': 1,
      'bad-mac': 3,
      stale: 0,
      replay: 0,
      'not-encrypted': 0,
    });
    assert.equal(v.counters.dropped, 6);
    assert.equal(v.counters.accepted, 0, 'a forged datagram never moves the replay state');
  });

  it('takes a restarted sender (higher epoch) at once and calls the old epoch stale', () => {
    const v = new DatagramVerifier('enforce', keys);
    const before = signer(startEpoch(1_000_000, 1));
    const old = before.sign(body(1));
    assert.ok(v.verify(before.sign(body(2)), PEER, PORT).pass);
    const after = signer(startEpoch(1_005_000, 0));
    assert.ok(v.verify(after.sign(body(1)), PEER, PORT).pass);
    const r = v.verify(old, PEER, PORT);
    assert.equal(r.pass ? 'pass' : r.reason, 'stale');
  });

  it('passes datagrams reordered within the window, each once', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...Array(200).keys()], { minLength: 200, maxLength: 200 }), (order) => {
        const v = new DatagramVerifier('enforce', keys);
        const s = signer();
        const sent = order.map((_, i) => s.sign(body(i)));
        for (const i of order) assert.ok(v.verify(sent[i]!, PEER, PORT).pass);
        for (const d of sent) assert.equal(v.verify(d, PEER, PORT).pass, false);
      }),
      { numRuns: 20 },
    );
  });

  it('permissive passes unsigned datagrams (counted) and drops bad ones; receive-only passes all', () => {
    const bad = signer(1n, 1, K2).sign(body(1));
    const decide = (mode: AuthMode) => {
      const v = new DatagramVerifier(mode, keys);
      return [v.verify(body(1), PEER, PORT), v.verify(bad, PEER, PORT), v.counters] as const;
    };
    const [u1, b1, c1] = decide('permissive');
    assert.deepEqual(u1, { pass: true, length: 8, reason: 'no-trailer', why: 'no authentication trailer' });
    assert.equal(b1.pass, false);
    assert.deepEqual([c1.failed['no-trailer'], c1.failed['bad-mac'], c1.dropped], [1, 1, 1]);
    const [u2, b2, c2] = decide('receive-only');
    assert.equal(u2.pass, true);
    assert.equal(b2.pass && b2.length, 8, 'passed on without the trailer');
    assert.deepEqual([c2.failed['no-trailer'], c2.failed['bad-mac'], c2.dropped], [1, 1, 0]);
  });

  it('signer: counts up, moves to the next epoch before the counter wraps, and never repeats', () => {
    const s = signer(5n);
    s.sign(body(1));
    assert.deepEqual(s.position, { epoch: 5n, counter: 1 });
    (s as unknown as { counter: number }).counter = COUNTER_MAX + 1;
    s.sign(body(1));
    assert.deepEqual(s.position, { epoch: 6n, counter: 1 });
    assert.ok(startEpoch(2000, 0) > startEpoch(1999, 0xffff), 'a later start has a higher epoch');
  });
});
