// The sealed datagram codec (src/sync/auth-cipher.ts): seal → open gives the datagram back for
// any datagram, key, sender, epoch and counter, in both suites; a change to any byte, another key
// or another sender does not open; a stock receiver's walk meets one version-10 message; nonces of
// two starts (epochs) never meet, and the cipher key is not the key file's key.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  SEALED_HEADER_LENGTH,
  SEALED_OVERHEAD,
  SUITE_AES_256_GCM,
  SUITE_CHACHA20_POLY1305,
  deriveCipherKey,
  findSealed,
  openSealed,
  seal,
  sealedNonce,
  type SealedSuite,
} from '../../../src/sync/auth-cipher.js';
import { COUNTER_MAX, senderPseudoHeader } from '../../../src/sync/auth-trailer.js';
import { DatagramSealer } from '../../../src/sync/auth-sealer.js';
import { startEpoch } from '../../../src/sync/auth-signer.js';

const SENDER = senderPseudoHeader('192.0.2.1', 3780);
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const fields = fc.record({
  keyId: fc.integer({ min: 1, max: 255 }),
  epoch: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  counter: fc.integer({ min: 0, max: COUNTER_MAX }),
});
const suite = fc.constantFrom<SealedSuite>(SUITE_AES_256_GCM, SUITE_CHACHA20_POLY1305);
const datagram = fc.uint8Array({ minLength: 0, maxLength: 1500 });

function openAll(d: Buffer, cipherKey: Buffer): Buffer | undefined {
  const s = findSealed(d);
  return s.kind === 'sealed' ? openSealed(d, s, cipherKey) : undefined;
}

describe('sync/auth-cipher', () => {
  it('seal then open gives the datagram and the header fields back (property)', () => {
    fc.assert(
      fc.property(datagram, fields, suite, key, (d, f, s, k) => {
        const ck = deriveCipherKey(k, SENDER);
        const sealed = seal(d, f, s, ck);
        assert.equal(sealed.length, d.length + SEALED_OVERHEAD);
        const found = findSealed(sealed);
        assert.deepEqual(found, { kind: 'sealed', fields: { ...f }, suite: s });
        assert.deepEqual(openAll(sealed, ck), Buffer.from(d));
      }),
    );
  });

  it('any changed byte (header, ciphertext or tag) does not open (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fields,
        suite,
        key,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (d, f, s, k, where, flip) => {
          const ck = deriveCipherKey(k, SENDER);
          const sealed = seal(d, f, s, ck);
          const at = where % sealed.length;
          sealed[at]! ^= flip;
          const found = findSealed(sealed);
          // a changed version/type, length, suite or key id 0 is not even a sealed datagram
          if (found.kind !== 'sealed') return;
          const refound = { ...found, fields: { ...found.fields } };
          assert.equal(openSealed(sealed, refound, ck), undefined, `byte ${at} ^ ${flip}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not open under another key or from another sender', () => {
    const d = Buffer.from('conntrack entry 198.51.100.7');
    const k = Buffer.alloc(32, 5);
    const sealed = seal(d, { keyId: 1, epoch: 9n, counter: 0 }, SUITE_AES_256_GCM, deriveCipherKey(k, SENDER));
    assert.deepEqual(openAll(sealed, deriveCipherKey(k, SENDER)), d);
    assert.equal(openAll(sealed, deriveCipherKey(Buffer.alloc(32, 6), SENDER)), undefined);
    assert.equal(openAll(sealed, deriveCipherKey(k, senderPseudoHeader('192.0.2.1', 3781))), undefined);
    assert.equal(openAll(sealed, deriveCipherKey(k, senderPseudoHeader('192.0.2.9', 3780))), undefined);
  });

  it('derives a cipher key that is neither the key file key nor the other direction’s', () => {
    const k = Buffer.alloc(32, 5);
    const a = deriveCipherKey(k, senderPseudoHeader('192.0.2.1', 3780));
    const b = deriveCipherKey(k, senderPseudoHeader('192.0.2.2', 3780));
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, k);
    assert.notDeepEqual(a, b);
    assert.deepEqual(a, deriveCipherKey(k, senderPseudoHeader('192.0.2.1', 3780)), 'deterministic');
  });

  it('hides the plain bytes: no 4-byte run of the datagram appears in the sealed one', () => {
    const d = Buffer.from([198, 51, 100, 7, 203, 0, 113, 80, 0x01, 0xbb]);
    const sealed = seal(
      d,
      { keyId: 1, epoch: 1n, counter: 0 },
      SUITE_AES_256_GCM,
      deriveCipherKey(Buffer.alloc(32, 5), SENDER),
    );
    const body = sealed.subarray(SEALED_HEADER_LENGTH);
    for (let i = 0; i + 4 <= d.length; i++) assert.equal(body.indexOf(d.subarray(i, i + 4)), -1);
  });

  it('is one version-10 message spanning the datagram (what a stock receiver skips)', () => {
    const sealed = seal(Buffer.alloc(40), { keyId: 3, epoch: 1n, counter: 2 }, SUITE_AES_256_GCM, Buffer.alloc(32));
    assert.equal(sealed[0]! >> 4, 10);
    assert.equal(sealed.readUInt16BE(2), sealed.length);
  });

  it('finds malformed sealed datagrams and leaves others alone', () => {
    const sealed = seal(Buffer.alloc(10), { keyId: 3, epoch: 1n, counter: 2 }, SUITE_AES_256_GCM, Buffer.alloc(32));
    assert.deepEqual(findSealed(Buffer.from([0x10, 0, 0, 8, 0, 0, 0, 1])), { kind: 'not-sealed' });
    assert.deepEqual(findSealed(Buffer.alloc(0)), { kind: 'not-sealed' });
    assert.equal(findSealed(sealed.subarray(0, 20)).kind, 'malformed');
    assert.deepEqual(findSealed(Buffer.concat([sealed, Buffer.alloc(1)])), {
      kind: 'malformed',
      why: `sealed length ${sealed.length} in a datagram of ${sealed.length + 1} bytes`,
    });
    const suite9 = Buffer.from(sealed);
    suite9[1] = 9;
    assert.deepEqual(findSealed(suite9), { kind: 'malformed', why: 'unknown suite 9' });
    const key0 = Buffer.from(sealed);
    key0[4] = 0;
    assert.deepEqual(findSealed(key0), { kind: 'malformed', why: 'key id 0' });
  });

  it('never repeats a nonce within a start, across its counter wrap', () => {
    const sealer = new DatagramSealer(1, Buffer.alloc(32), startEpoch(1_000_000, 0xffff), SENDER);
    const seen = new Set<string>();
    const take = (n: number) => {
      for (let i = 0; i < n; i++) {
        const nonce = sealer.seal(Buffer.alloc(1)).subarray(8, 20).toString('hex');
        assert.ok(!seen.has(nonce), `nonce ${nonce} repeated`);
        seen.add(nonce);
      }
    };
    take(100);
    // jump the counter to just before the wrap (as 2^32 datagrams would)
    (sealer as unknown as { counter: number }).counter = COUNTER_MAX;
    take(3);
    assert.deepEqual(sealer.position, { epoch: startEpoch(1_000_000, 0xffff) + 1n, counter: 2 });
    assert.equal(sealedNonce(5n, 7).toString('hex'), '000000000000000500000007');
  });

  it('never repeats a nonce across two starts: the later start begins above all the earlier reached (property)', () => {
    // a start at t0 ms that runs D ms wraps its counter fewer than D times (that would take 2^32
    // datagrams per ms), so its epochs stay below startEpoch(t0, r0) + D; the next start, at t0 + D
    // or later (the clock goes forward), begins at (t0 + D) << 16 or above
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (t0, d, r0, r1, rate) => {
          const wraps = BigInt(Math.floor(rate * d)); // < d: fewer than 2^32 datagrams per ms
          const highestFirst = startEpoch(t0, r0) + wraps;
          assert.ok(highestFirst < startEpoch(t0 + d, r1), `t0 ${t0} D ${d} r0 ${r0} r1 ${r1} wraps ${wraps}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
