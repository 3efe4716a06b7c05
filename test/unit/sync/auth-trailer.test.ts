// Tests of the authentication trailer codec (src/sync/auth-trailer.ts): sign -> find -> the same
// fields and a matching MAC (mirror), the bytes of a trailer field by field, how a stock walker
// (our wire decoder, which follows conntrackd's checks) sees a signed datagram, and properties:
// any byte flipped, another sender, another key, or a cut datagram never verifies.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  MAC_LENGTH,
  SUITE_HMAC_SHA256_128,
  TRAILER_BYTE0,
  TRAILER_LENGTH,
  findTrailer,
  macMatches,
  senderPseudoHeader,
  sign,
  type TrailerFields,
} from '../../../src/sync/auth-trailer.js';
import { FLAG, decodeDatagram, encodeControl, type MalformedReason } from '../../../src/sync/wire.js';

const KEY = Buffer.alloc(32, 7);
const SENDER = senderPseudoHeader('192.0.2.1', 40000);

/** A datagram of `n` ALIVE messages (8 bytes each), as a sender packs them. */
function alives(n: number, seq = 100): Buffer {
  const out = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) encodeControl(out, 8 * i, FLAG.ALIVE, seq + i);
  return out;
}

function verifies(d: Buffer, key: Uint8Array = KEY, sender: Uint8Array = SENDER): boolean {
  const t = findTrailer(d);
  return t.kind === 'signed' && macMatches(d, t.at, key, sender);
}

const fieldsArb = fc.record({
  keyId: fc.integer({ min: 1, max: 255 }),
  epoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  counter: fc.integer({ min: 0, max: 0xffffffff }),
});

describe('sync/auth-trailer', () => {
  it('lays a trailer out as a version-10 message of 36 bytes after the datagram', () => {
    const body = alives(2);
    const d = sign(body, { keyId: 3, epoch: 0x0102030405060708n, counter: 0x0a0b0c0d }, KEY, SENDER);
    assert.equal(d.length, body.length + TRAILER_LENGTH);
    assert.deepEqual(d.subarray(0, body.length), body);
    const t = d.subarray(body.length);
    assert.equal(t[0], TRAILER_BYTE0);
    assert.equal(t[1], SUITE_HMAC_SHA256_128);
    assert.equal(t.readUInt16BE(2), TRAILER_LENGTH);
    assert.equal(t[4], 3);
    assert.deepEqual([...t.subarray(5, 8)], [0, 0, 0]);
    assert.equal(t.subarray(8, 16).toString('hex'), '0102030405060708');
    assert.equal(t.subarray(16, 20).toString('hex'), '0a0b0c0d');
    assert.equal(t.length - 20, MAC_LENGTH);
  });

  it('finds what sign wrote (mirror) and the MAC matches', () => {
    fc.assert(
      fc.property(fieldsArb, fc.integer({ min: 0, max: 40 }), (fields: TrailerFields, n) => {
        const d = sign(alives(n), fields, KEY, SENDER);
        const t = findTrailer(d);
        assert.equal(t.kind, 'signed');
        if (t.kind !== 'signed') return;
        assert.deepEqual(t.fields, { ...fields });
        assert.equal(t.at, 8 * n);
        assert.ok(macMatches(d, t.at, KEY, SENDER));
      }),
    );
  });

  it('calls a datagram without a trailer unsigned', () => {
    assert.equal(findTrailer(alives(3)).kind, 'unsigned');
    assert.equal(findTrailer(Buffer.alloc(0)).kind, 'unsigned');
  });

  it('calls a trailer that is not last, too short or of an unknown suite malformed', () => {
    const signed = sign(alives(1), { keyId: 1, epoch: 1n, counter: 0 }, KEY, SENDER);
    const notLast = Buffer.concat([signed, alives(1)]);
    assert.equal(findTrailer(notLast).kind, 'malformed');
    const suite = Buffer.from(signed);
    suite[8 + 1] = 9;
    assert.equal(findTrailer(suite).kind, 'malformed');
    const short = Buffer.from(signed.subarray(0, signed.length - 4));
    short.writeUInt16BE(TRAILER_LENGTH - 4, 8 + 2);
    assert.equal(findTrailer(short).kind, 'malformed');
  });

  it('is skipped by a stock walker as one message of a wrong version, after the real ones', () => {
    const d = sign(alives(3), { keyId: 1, epoch: 5n, counter: 9 }, KEY, SENDER);
    const seen: string[] = [];
    decodeDatagram(d, d.length, {
      control: (flags: number, seq: number) => seen.push(`alive ${seq}`),
      malformed: (reason: MalformedReason, offset: number) => seen.push(`${reason} @${offset}`),
      exp: () => seen.push('exp'),
    });
    assert.deepEqual(seen, ['alive 100', 'alive 101', 'alive 102', 'bad-version @24']);
  });

  it('never verifies with a byte flipped, another sender, another key or a cut', () => {
    fc.assert(
      fc.property(
        fieldsArb,
        fc.integer({ min: 0, max: 10 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (fields, n, where, xor) => {
          const d = sign(alives(n), fields, KEY, SENDER);
          const flipped = Buffer.from(d);
          flipped[where % d.length] ^= xor;
          assert.equal(verifies(flipped), false);
          assert.equal(verifies(d, KEY, senderPseudoHeader('192.0.2.1', 40001)), false);
          assert.equal(verifies(d, KEY, senderPseudoHeader('192.0.2.9', 40000)), false);
          assert.equal(verifies(d, Buffer.alloc(32, 8)), false);
          assert.equal(verifies(d.subarray(0, d.length - 1)), false);
          assert.equal(verifies(d), true);
        },
      ),
    );
  });

  it('maps IPv4 into IPv6 in the sender pseudo-header, and writes IPv6 as is', () => {
    assert.equal(senderPseudoHeader('192.0.2.1', 3780).toString('hex'), '00000000000000000000ffffc00002010ec4');
    assert.equal(senderPseudoHeader('2001:db8::1', 1).toString('hex'), '20010db80000000000000000000000010001');
    assert.throws(() => senderPseudoHeader('nowhere', 1), /not an IP address/);
  });

  it('refuses a key id or counter out of range', () => {
    assert.throws(() => sign(alives(1), { keyId: 0, epoch: 1n, counter: 0 }, KEY, SENDER), /key id 0/);
    assert.throws(() => sign(alives(1), { keyId: 1, epoch: 1n, counter: 2 ** 32 }, KEY, SENDER), /counter/);
  });
});
