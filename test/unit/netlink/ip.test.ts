// src/netlink/ip.ts against known glibc inet_ntop / inet_pton results (what conntrack(8) prints
// and accepts). Expected strings were produced with glibc 2.36 inet_ntop on the same bytes.
import { strict as assert } from 'node:assert';
import {
  AddressError,
  formatIPv4,
  formatIPv6,
  isIPv6Text,
  parseIP,
  parseIPv4Into,
  parseIPv6Into,
} from '../../../src/netlink/ip.js';

const bytes = (h: string): Buffer => Buffer.from(h, 'hex');

function v6(s: string): string {
  const out = new Uint8Array(16);
  parseIPv6Into(s, out, 0);
  return Buffer.from(out).toString('hex');
}

function v4(s: string): string {
  const out = new Uint8Array(4);
  parseIPv4Into(s, out, 0);
  return Buffer.from(out).toString('hex');
}

// [bytes, glibc inet_ntop]
const NTOP6: Array<[string, string]> = [
  ['00000000000000000000000000000001', '::1'],
  ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ['20010db8000000000000000000000001', '2001:db8::1'],
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ['00000000000000000000000000000000', '::'],
  ['00010000000000000000000000000000', '1::'],
  // a run of seven zero words is not an IPv4-compatible address (regression: was ::0.0.0.2)
  ['00000000000000000000000000000002', '::2'],
  ['0000000000000000000000000000ffff', '::ffff'],
  // IPv4-compatible (run of exactly six) and IPv4-mapped (five, then ffff)
  ['000000000000000000000000c0000201', '::192.0.2.1'],
  ['00000000000000000000000000010000', '::0.1.0.0'],
  ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
  // longest run wins, the first one on a tie, a single zero word is not compressed
  ['00010000000000020000000000030004', '1::2:0:0:3:4'],
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
  ['20010db8000000010000000000000000', '2001:db8:0:1::'],
  ['00000000000000000000000100020003', '::1:2:3'],
  ['00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
  ['00000001000200030004000500060007', '0:1:2:3:4:5:6:7'],
  ['20010db8000000000000000000000000', '2001:db8::'],
  ['fe800000000000000000000000000001', 'fe80::1'],
  ['ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

// [text, bytes] accepted by glibc inet_pton
const PTON6: Array<[string, string]> = [
  ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
  ['::1:2:3:4:5:6:7', '00000001000200030004000500060007'],
  ['0:0:0:0:0:ffff:1.2.3.4', '00000000000000000000ffff01020304'],
  ['ABCD::EF', 'abcd00000000000000000000000000ef'],
  ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
  ['::1.2.3.4', '00000000000000000000000001020304'],
  ['2001:0DB8:0000:0000:0000:0000:0000:0001', '20010db8000000000000000000000001'],
  ['::', '00000000000000000000000000000000'],
];

// rejected by glibc inet_pton
const BAD6 = [
  '',
  ':',
  ':::',
  '1::2::3',
  '12345::',
  '00001::',
  'g::',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7',
  '::ffff:1.2.3',
  '::ffff:256.1.1.1',
  '::ffff:01.2.3.4',
  '::1.2.3.4:5',
  '1.2.3.4',
  '1.2.3.4::',
  'fe80::1%eth0',
  ' ::1',
  '::1 ',
  '1::2:3:4:5:6:7:8',
  ':1::',
  '1::2:',
  '[::1]',
];

const BAD4 = [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.0.0.1',
  '01.2.3.4',
  '1.2.3.00',
  '1..2.3',
  '1.2.3.4.',
  '.1.2.3',
  'a.b.c.d',
  '1.2.3.-4',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '1.2.3.1000',
  '0x1.2.3.4',
  '::1',
];

describe('ip: formatIPv6 (glibc inet_ntop)', () => {
  for (const [hex, text] of NTOP6) {
    it(`${hex} -> ${text}`, () => {
      assert.equal(formatIPv6(bytes(hex), 0), text);
      // at an offset inside a bigger buffer
      assert.equal(formatIPv6(Buffer.concat([bytes('ffff'), bytes(hex), bytes('ffff')]), 2), text);
      assert.equal(v6(text), hex, 'and back');
    });
  }
});

describe('ip: formatIPv4', () => {
  it('dotted quad, at an offset', () => {
    assert.equal(formatIPv4(bytes('c0000201'), 0), '192.0.2.1');
    assert.equal(formatIPv4(bytes('ff00000000ffffff'), 1), '0.0.0.0');
    assert.equal(formatIPv4(bytes('ffffffff'), 0), '255.255.255.255');
  });
});

describe('ip: parseIPv6Into (glibc inet_pton)', () => {
  for (const [text, hex] of PTON6) {
    it(`accepts ${text}`, () => assert.equal(v6(text), hex));
  }
  for (const text of BAD6) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => v6(text),
        (err: unknown) => err instanceof AddressError && /IPv6/.test(err.message),
      );
    });
  }
  it('writes at the offset and nowhere else', () => {
    const out = Buffer.alloc(20, 0xee);
    parseIPv6Into('2001:db8::1', out, 2);
    assert.equal(out.toString('hex'), 'eeee20010db8000000000000000000000001eeee');
  });
});

describe('ip: parseIPv4Into (glibc inet_pton)', () => {
  for (const [text, hex] of [
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['192.0.2.1', 'c0000201'],
    ['10.0.0.0', '0a000000'],
    ['198.51.100.200', 'c63364c8'],
  ]) {
    it(`accepts ${text}`, () => assert.equal(v4(text), hex));
  }
  for (const text of BAD4) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => v4(text),
        (err: unknown) => err instanceof AddressError && /IPv4/.test(err.message),
      );
    });
  }
});

describe('ip: parseIP, isIPv6Text', () => {
  it('parses by family', () => {
    assert.deepEqual(Buffer.from(parseIP('203.0.113.7', 2)), bytes('cb007107'));
    assert.deepEqual(Buffer.from(parseIP('2001:db8::7', 10)), bytes('20010db8000000000000000000000007'));
    assert.throws(() => parseIP('2001:db8::7', 2), AddressError);
    assert.throws(() => parseIP('203.0.113.7', 10), AddressError);
  });
  it('tells IPv6 text by its colon', () => {
    assert.equal(isIPv6Text('::ffff:192.0.2.1'), true);
    assert.equal(isIPv6Text('192.0.2.1'), false);
  });
});
