// Expectation codec (src/netlink/expect.ts) against real kernel bytes captured by
// tools/golden/capture-golden-expect.ts (Linux 6.18), plus a write -> decode property test.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { NetlinkDecodeError, NlWriter, forEachAttr } from '../../../src/netlink/attr.js';
import {
  CTA_EXPECT,
  NLMSG_HDRLEN,
  NFGENMSG_LEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_MULTI,
} from '../../../src/netlink/constants.js';
import { EntryEncodeError } from '../../../src/netlink/ctnetlink.js';
import {
  decodeExpect,
  writeExpectCreateAttrs,
  writeExpectDumpAttrs,
  writeExpectIdentity,
} from '../../../src/netlink/expect.js';
import { formatIPv4, formatIPv6 } from '../../../src/netlink/ip.js';
import type { Expect, RawAttr, Tuple } from '../../../src/conntrack/entry.js';
import { repoRoot } from '../../helpers/fakes.js';

const GOLDEN = join(repoRoot(), 'test/golden');
const golden = (name: string): Buffer => Buffer.from(readFileSync(join(GOLDEN, `${name}.hex`), 'utf8').trim(), 'hex');
const decode = (b: Buffer): Expect => decodeExpect(b, 0, b.length);
const ATTRS = NLMSG_HDRLEN + NFGENMSG_LEN;

const EXP_NEW = (2 << 8) | 0;
const EXP_DELETE = (2 << 8) | 2;

/** Top-level attribute types (masked) of a message, in order. */
function attrTypes(b: Buffer, start = ATTRS, end = b.length): number[] {
  const out: number[] = [];
  forEachAttr(b, start, end, (t) => out.push(t));
  return out;
}

/** Re-encodes a decoded golden message with the same header; the port id is copied over. */
function mirror(b: Buffer): Buffer {
  const x = decode(b);
  const w = new NlWriter(256);
  w.beginNf(b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt32LE(8), b[16], b.readUInt16BE(18));
  writeExpectDumpAttrs(w, x);
  w.end();
  const out = Buffer.from(w.bytes());
  b.copy(out, 12, 12, 16);
  return out;
}

const FTP_CLIENT = '192.0.2.10';
const FTP_SERVER = '198.51.100.20';
const masterA: Tuple = { src: FTP_CLIENT, dst: FTP_SERVER, proto: 6, sport: 40000, dport: 21 };
const tupleA: Tuple = { src: FTP_CLIENT, dst: FTP_SERVER, proto: 6, sport: 0, dport: 50000 };
const maskV4: Tuple = { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff };

describe('expect codec', () => {
  describe('golden kernel messages', () => {
    it('decodes an IPv4 dump reply', () => {
      const b = golden('exp-dump-ipv4');
      assert.equal(b.readUInt16LE(4), EXP_NEW, 'dump replies are EXP_NEW messages');
      assert.ok(b.readUInt16LE(6) & NLM_F_MULTI);
      const x = decode(b);
      const { timeout, id, ...rest } = x;
      assert.deepEqual(rest, {
        family: 2,
        master: masterA,
        tuple: tupleA,
        mask: maskV4,
        flags: 0,
        class: 0,
        helper: 'ftp',
      });
      // the ftp helper's expect policy decides the timeout (300 s); captured a moment later
      assert.ok(timeout !== undefined && timeout > 290 && timeout <= 300, `timeout ${timeout}`);
      assert.equal(typeof id, 'number');
    });

    it('decodes an IPv6 dump reply (partial source mask, INACTIVE, timeout changed after creation)', () => {
      const x = decode(golden('exp-dump-ipv6'));
      assert.equal(x.family, 10);
      assert.deepEqual(x.master, { src: '2001:db8::10', dst: '2001:db8:1::20', proto: 6, sport: 40001, dport: 21 });
      assert.deepEqual(x.tuple, { src: '2001:db8::10', dst: '2001:db8:1::20', proto: 6, sport: 0, dport: 50001 });
      // only the source half of the mask is real: the kernel dumps the rest as all-ones
      assert.deepEqual(x.mask, {
        src: 'ffff:ffff:ffff:ffff::',
        dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        proto: 6,
        sport: 0,
        dport: 0xffff,
      });
      assert.equal(x.flags, 2);
      assert.equal(x.class, 0);
      assert.equal(x.helper, 'ftp');
      assert.ok(x.timeout !== undefined && x.timeout > 110 && x.timeout <= 120, `timeout ${x.timeout}`);
      assert.equal(x.natDir, undefined);
      assert.equal(x.unknown, undefined);
    });

    it('decodes NAT, expectfn and flags; the zone is not dumped', () => {
      const x = decode(golden('exp-dump-nat'));
      assert.equal(x.family, 2);
      assert.deepEqual(x.master, { src: '192.0.2.11', dst: '198.51.100.21', proto: 6, sport: 40002, dport: 21 });
      assert.deepEqual(x.tuple, { src: '198.51.100.21', dst: '203.0.113.5', proto: 6, sport: 0, dport: 6000 });
      assert.deepEqual(x.mask, maskV4);
      assert.equal(x.natDir, 1);
      assert.deepEqual(x.natTuple, { src: '192.0.2.11', dst: '0.0.0.0', proto: 6, sport: 5000, dport: 0 });
      assert.equal(x.fn, 'nat-follow-master');
      assert.equal(x.flags, 1);
      assert.equal(x.helper, 'ftp');
      assert.equal(x.zone, undefined, 'created in zone 7, but ctnetlink_exp_dump_expect has no CTA_EXPECT_ZONE');
    });

    it('decodes the NEW and DESTROY events of one expectation', () => {
      const n = golden('exp-event-new');
      const d = golden('exp-event-destroy');
      assert.equal(n.readUInt16LE(4), EXP_NEW);
      assert.equal(n.readUInt16LE(6), NLM_F_CREATE | NLM_F_EXCL);
      assert.equal(d.readUInt16LE(4), EXP_DELETE);
      assert.equal(d.readUInt16LE(6), 0);
      const xn = decode(n);
      const xd = decode(d);
      for (const x of [xn, xd]) {
        assert.deepEqual(x.master, masterA);
        assert.deepEqual(x.tuple, tupleA);
        assert.deepEqual(x.mask, maskV4);
        assert.equal(x.helper, 'ftp');
      }
      assert.equal(xn.id, xd.id);
      assert.equal(xn.id, decode(golden('exp-dump-ipv4')).id);
    });

    it('finds attributes in the kernel order: TUPLE MASK MASTER [NAT] TIMEOUT ID FLAGS CLASS HELP_NAME [FN]', () => {
      const E = CTA_EXPECT;
      const plain = [E.TUPLE, E.MASK, E.MASTER, E.TIMEOUT, E.ID, E.FLAGS, E.CLASS, E.HELP_NAME];
      for (const name of ['exp-dump-ipv4', 'exp-dump-ipv6', 'exp-event-new', 'exp-event-destroy']) {
        assert.deepEqual(attrTypes(golden(name)), plain, name);
      }
      assert.deepEqual(attrTypes(golden('exp-dump-nat')), [
        E.TUPLE,
        E.MASK,
        E.MASTER,
        E.NAT,
        E.TIMEOUT,
        E.ID,
        E.FLAGS,
        E.CLASS,
        E.HELP_NAME,
        E.FN,
      ]);
    });

    for (const name of ['exp-dump-ipv4', 'exp-dump-ipv6', 'exp-dump-nat', 'exp-event-new', 'exp-event-destroy']) {
      it(`mirrors ${name}: writeExpectDumpAttrs reproduces the kernel bytes`, () => {
        const b = golden(name);
        assert.equal(mirror(b).toString('hex'), b.toString('hex'));
      });
    }

    it('keeps unknown attributes and writes top-level ones back', () => {
      const b = golden('exp-dump-ipv4');
      const extra = Buffer.from('0800630001020304', 'hex'); // type 99, 4 bytes
      const m = Buffer.concat([b, extra]);
      m.writeUInt32LE(m.length, 0);
      const x = decode(m);
      assert.deepEqual(x.unknown, [{ type: 99, data: '01020304' }] satisfies RawAttr[]);
      assert.equal(mirror(m).toString('hex'), m.toString('hex'));
    });
  });

  describe('decode errors', () => {
    it('rejects a message without MASTER, TUPLE or MASK', () => {
      const w = new NlWriter(256);
      w.beginNf(EXP_NEW, 0, 1, 2);
      w.u32be(CTA_EXPECT.TIMEOUT, 5);
      w.end();
      const b = Buffer.from(w.bytes());
      assert.throws(() => decode(b), NetlinkDecodeError);
    });

    it('rejects a truncated message and a bad attribute length', () => {
      const b = golden('exp-dump-ipv4');
      assert.throws(() => decodeExpect(b, 0, 10), NetlinkDecodeError);
      const bad = Buffer.from(b);
      bad.writeUInt16LE(0xff, ATTRS); // first attribute claims more than the message holds
      assert.throws(() => decode(bad), NetlinkDecodeError);
    });
  });

  describe('requests', () => {
    const base: Expect = {
      family: 2,
      master: masterA,
      tuple: tupleA,
      mask: { src: '255.255.255.255', dst: '', proto: 6, sport: 0 },
    };

    function createMsg(x: Expect): Buffer {
      const w = new NlWriter(256);
      w.beginNf(EXP_NEW, 0x1 | 0x4 | NLM_F_CREATE | NLM_F_EXCL, 1, x.family);
      writeExpectCreateAttrs(w, x);
      w.end();
      return Buffer.from(w.bytes());
    }

    it('writes a create request with completed mask, in the order MASTER TUPLE MASK TIMEOUT ZONE FLAGS CLASS HELP_NAME NAT FN', () => {
      const x: Expect = {
        ...base,
        timeout: 300,
        zone: 7,
        flags: 1,
        class: 0,
        helper: 'ftp',
        natDir: 1,
        natTuple: { src: '192.0.2.11', dst: '', proto: 6, sport: 5000 },
        fn: 'nat-follow-master',
        id: 1234,
      };
      const b = createMsg(x);
      const E = CTA_EXPECT;
      assert.deepEqual(attrTypes(b), [
        E.MASTER,
        E.TUPLE,
        E.MASK,
        E.TIMEOUT,
        E.ZONE,
        E.FLAGS,
        E.CLASS,
        E.HELP_NAME,
        E.NAT,
        E.FN,
      ]);
      const back = decode(b);
      assert.deepEqual(back.master, masterA);
      assert.deepEqual(back.tuple, tupleA);
      // the kernel parses the mask as a full tuple: dst / dport are filled as the kernel dumps them
      assert.deepEqual(back.mask, maskV4);
      assert.deepEqual(back.natTuple, { src: '192.0.2.11', dst: '0.0.0.0', proto: 6, sport: 5000, dport: 0 });
      assert.equal(back.id, undefined, 'CTA_EXPECT_ID is not part of a create');
      assert.equal(back.zone, 7);
      assert.equal(back.fn, 'nat-follow-master');
    });

    it('refuses what the kernel would refuse', () => {
      const w = new NlWriter(256);
      assert.throws(() => writeExpectCreateAttrs(w, { ...base, family: 7 }), EntryEncodeError);
      assert.throws(
        () => writeExpectCreateAttrs(w, { ...base, tuple: { ...tupleA, sport: undefined } }),
        /tuple.*port/,
      );
      assert.throws(() => writeExpectCreateAttrs(w, { ...base, master: { ...masterA, dst: '' } }), /master/);
      assert.throws(() => writeExpectCreateAttrs(w, { ...base, natDir: 1 }), /natDir\/natTuple/);
      assert.throws(
        () => writeExpectCreateAttrs(w, { ...base, tuple: { ...tupleA, src: '2001:db8::1' } }),
        EntryEncodeError,
      );
    });

    it('names an expectation by its tuple, plus the zone when not 0', () => {
      const w = new NlWriter(256);
      w.beginNf(EXP_DELETE, 0x5, 1, 2);
      writeExpectIdentity(w, { ...base, zone: 0, timeout: 5, helper: 'ftp' });
      w.end();
      assert.deepEqual(attrTypes(Buffer.from(w.bytes())), [CTA_EXPECT.TUPLE]);
      w.reset();
      w.beginNf(EXP_DELETE, 0x5, 1, 2);
      writeExpectIdentity(w, { ...base, zone: 7 });
      w.end();
      const b = Buffer.from(w.bytes());
      assert.deepEqual(attrTypes(b), [CTA_EXPECT.TUPLE, CTA_EXPECT.ZONE]);
      // the golden kernel tuple bytes and ours agree
      const g = golden('exp-dump-ipv4');
      const tupleBytes = (m: Buffer): string => {
        let s = '';
        forEachAttr(m, ATTRS, m.length, (t, p, len) => {
          if (t === CTA_EXPECT.TUPLE) s = m.toString('hex', p - 4, p + len);
        });
        return s;
      };
      assert.equal(tupleBytes(b), tupleBytes(g));
    });
  });

  describe('property: write -> decode', () => {
    const u8 = fc.integer({ min: 0, max: 0xff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b, 0));
    const v6 = fc
      .array(fc.constantFrom(0, 0, 1, 0xdb8, 0xffff, 0x2001, 0xabcd), { minLength: 8, maxLength: 8 })
      .map((words) => {
        const b = new Uint8Array(16);
        words.forEach((wd, i) => {
          b[2 * i] = wd >> 8;
          b[2 * i + 1] = wd & 0xff;
        });
        return formatIPv6(b, 0);
      });
    const name = fc.string({ maxLength: 16 }).filter((s) => !s.includes('\0'));

    function tupleArb(addr: fc.Arbitrary<string>): fc.Arbitrary<Tuple> {
      const ports = fc.record(
        { src: addr, dst: addr, proto: fc.constantFrom(6, 17, 33, 47, 132, 136), sport: u16, dport: u16, zone: u16 },
        { requiredKeys: ['src', 'dst', 'proto'], noNullPrototype: true },
      );
      const icmp = fc.record(
        { src: addr, dst: addr, proto: fc.constantFrom(1, 58), icmpType: u8, icmpCode: u8, icmpId: u16 },
        { requiredKeys: ['src', 'dst', 'proto'], noNullPrototype: true },
      );
      const other = fc.record(
        { src: addr, dst: addr, proto: fc.constantFrom(0, 2, 50, 255) },
        { noNullPrototype: true },
      );
      return fc.oneof(ports, icmp, other);
    }

    const unknownArb = fc.array(
      fc.record(
        {
          type: fc.integer({ min: 12, max: 0x3fff }),
          data: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('hex')),
        },
        { noNullPrototype: true },
      ),
      { maxLength: 2 },
    );

    function expectArb(family: 2 | 10): fc.Arbitrary<Expect> {
      const t = tupleArb(family === 2 ? v4 : v6);
      return fc
        .record(
          {
            master: t,
            tuple: t,
            mask: t,
            timeout: u32,
            id: u32,
            helper: name,
            zone: u16,
            flags: u32,
            class: u32,
            natDir: u32,
            natTuple: t,
            fn: name,
            unknown: unknownArb,
          },
          { requiredKeys: ['master', 'tuple', 'mask'], noNullPrototype: true },
        )
        .map((r) => {
          const x: Expect = { family, ...r };
          if (x.unknown && x.unknown.length === 0) delete x.unknown;
          return x;
        });
    }

    it('random expectations survive writeExpectDumpAttrs -> decodeExpect', () => {
      fc.assert(
        fc.property(fc.oneof(expectArb(2), expectArb(10)), fc.integer({ min: 0, max: 0xffffffff }), (x, seq) => {
          const w = new NlWriter(64);
          w.beginNf(EXP_NEW, NLM_F_MULTI, seq, x.family);
          writeExpectDumpAttrs(w, x);
          w.end();
          const b = Buffer.from(w.bytes());
          assert.deepStrictEqual(decode(b), x);
          // and encoding is stable
          assert.equal(mirror(b).toString('hex'), b.toString('hex'));
        }),
        { numRuns: 500 },
      );
    });

    it('create requests carry master, tuple and the meaningful half of the mask', () => {
      const full = (addr: fc.Arbitrary<string>) =>
        fc.record({ src: addr, dst: addr, proto: fc.constant(6), sport: u16, dport: u16 }, { noNullPrototype: true });
      fc.assert(
        fc.property(
          full(v4),
          full(v4),
          v4,
          u16,
          fc.option(u16, { nil: undefined }),
          (master, tuple, maskSrc, maskSport, zone) => {
            const x: Expect = { family: 2, master, tuple, mask: { src: maskSrc, dst: '', proto: 6, sport: maskSport } };
            if (zone !== undefined) x.zone = zone;
            const w = new NlWriter(64);
            w.beginNf(EXP_NEW, 0x605, 1, 2);
            writeExpectCreateAttrs(w, x);
            w.end();
            const back = decode(Buffer.from(w.bytes()));
            assert.deepStrictEqual(back.master, master);
            assert.deepStrictEqual(back.tuple, tuple);
            assert.deepStrictEqual(back.mask, {
              src: maskSrc,
              dst: '255.255.255.255',
              proto: 6,
              sport: maskSport,
              dport: 0xffff,
            });
            assert.equal(back.zone, zone);
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});
