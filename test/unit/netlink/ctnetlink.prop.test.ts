// Property tests for the conntrack codec (fc.record with noNullPrototype: the decoder makes plain
// objects, and deepStrictEqual compares prototypes) and the address text code:
//  - any Entry survives writeDumpAttrs -> decodeConntrack unchanged;
//  - a CT_NEW request (writeCreateAttrs) decodes back to what it asked for;
//  - IPv6/IPv4 text: parse(format(bytes)) = bytes, format = Node's (libuv inet_ntop) canonical
//    form, every valid spelling of an address parses to the same bytes, and parse accepts exactly
//    what net.isIPv4/isIPv6 accept;
//  - garbage fed to decodeConntrack throws NetlinkDecodeError or nothing, and always returns.
import { strict as assert } from 'node:assert';
import net from 'node:net';
import fc from 'fast-check';
import { NlWriter, NetlinkDecodeError } from '../../../src/netlink/attr.js';
import {
  decodeConntrack,
  invertTuple,
  requestStatus,
  writeCreateAttrs,
  writeDumpAttrs,
} from '../../../src/netlink/ctnetlink.js';
import { formatIPv4, formatIPv6, parseIPv4Into, parseIPv6Into } from '../../../src/netlink/ip.js';
import { CTA } from '../../../src/netlink/constants.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 500);
const CT_NEW = (1 << 8) | 0;

import { entry, u8, v4Bytes, v6Bytes } from '../../helpers/arbitraries.js';

function encodeDump(e: Entry): Buffer {
  const w = new NlWriter(256);
  w.beginNf(CT_NEW, 0x2, 1, e.family);
  writeDumpAttrs(w, e);
  w.end();
  return Buffer.from(w.bytes());
}

// ---------------------------------------------------------------- codec

describe('ctnetlink properties', function () {
  this.timeout(120000);

  it('any Entry survives writeDumpAttrs -> decodeConntrack', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const buf = encodeDump(e);
        assert.equal(buf.readUInt32LE(0), buf.length);
        assert.deepStrictEqual(decodeConntrack(buf, 0, buf.length), e);
      }),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('decoding at an offset inside a larger buffer gives the same Entry', () => {
    fc.assert(
      fc.property(
        entry,
        fc.nat({ max: 64 }).map((n) => n * 4),
        (e, pad) => {
          const msg = encodeDump(e);
          const buf = Buffer.concat([Buffer.alloc(pad, 0xa5), msg, Buffer.alloc(8, 0x5a)]);
          assert.deepStrictEqual(decodeConntrack(buf, pad, msg.length), e);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('a CT_NEW request decodes back to the fields it asks for', () => {
    const createable = entry.filter((e) => e.timeout !== undefined);
    fc.assert(
      fc.property(createable, (e) => {
        const w = new NlWriter(256);
        w.beginNf(CT_NEW, 0x1 | 0x4 | 0x200 | 0x400, 1, e.family);
        writeCreateAttrs(w, e);
        w.end();
        const d = decodeConntrack(w.bytes(), 0, w.bytes().length);
        assert.deepStrictEqual(d.orig, e.orig);
        assert.equal(d.status, requestStatus(e.status));
        assert.equal(d.timeout, e.timeout);
        // mark 0 and an all-zero synproxy are what a new entry has anyway: not sent
        assert.equal(d.mark, e.mark || undefined);
        assert.equal(d.zone, e.zone);
        assert.equal(d.helper, e.helper);
        assert.equal(d.labels, e.labels);
        if (e.labels !== undefined) assert.equal(d.labelsMask, e.labelsMask ?? 'ff'.repeat(e.labels.length / 2));
        assert.deepStrictEqual(d.master, e.master);
        assert.deepStrictEqual(d.seqAdjOrig, e.seqAdjOrig);
        assert.deepStrictEqual(d.seqAdjReply, e.seqAdjReply);
        const s = e.synproxy;
        assert.deepStrictEqual(d.synproxy, s && (s.isn || s.its || s.tsoff) ? s : undefined);
        assert.deepStrictEqual(d.sctp, e.sctp);
        assert.deepStrictEqual(d.dccp, e.dccp);
        // read-only fields never go into a request
        for (const k of [
          'use',
          'id',
          'secmark',
          'secctx',
          'countersOrig',
          'countersReply',
          'timestampStart',
          'timestampStop',
          'unknown',
        ] as const) {
          assert.equal(d[k], undefined, k);
        }
        // an explicit NAT range replaces the reply tuple by the plain inverse (the kernel NATs it)
        if (e.natSrc || e.natDst) {
          assert.deepStrictEqual(d.reply, invertTuple(e.orig));
          assert.deepStrictEqual(d.natSrc, e.natSrc);
          assert.deepStrictEqual(d.natDst, e.natDst);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  describe('decodeConntrack on garbage throws only NetlinkDecodeError, and returns', () => {
    const check = (buf: Buffer, off = 0, len = buf.length): void => {
      try {
        decodeConntrack(buf, off, len);
      } catch (err) {
        if (!(err instanceof NetlinkDecodeError)) throw err;
      }
    };

    it('random bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (b) => check(Buffer.from(b))),
        { numRuns: NUM_RUNS * 4 },
      );
    });

    it('random bytes behind a valid header, with random offsets and lengths', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(32), fc.nat(500), (b, off, len) => {
          const buf = Buffer.concat([Buffer.alloc(20), Buffer.from(b)]);
          buf.writeUInt32LE(buf.length, 0);
          check(buf);
          check(buf, off, len);
        }),
        { numRuns: NUM_RUNS * 4 },
      );
    });

    // Well-formed attribute trees of known types with random shapes and sizes: this reaches every
    // branch of the decoder (short payloads, nests where scalars belong and the reverse).
    type AttrNode = { type: number; data?: Uint8Array; kids?: AttrNode[] };
    const { tree } = fc.letrec<{ tree: AttrNode; node: AttrNode }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({ type: fc.integer({ min: 0, max: 30 }), data: fc.uint8Array({ maxLength: 20 }) }),
        fc.record({ type: fc.integer({ min: 0, max: 30 }), kids: fc.array(tie('node'), { maxLength: 5 }) }),
      ),
      tree: fc.record({ type: fc.constant(0), kids: fc.array(tie('node'), { maxLength: 8 }) }),
    }));
    const write = (w: NlWriter, n: AttrNode): void => {
      if (n.kids) {
        const s = w.nestStart(n.type);
        for (const k of n.kids) write(w, k);
        w.nestEnd(s);
      } else w.bytesAttr(n.type, n.data ?? new Uint8Array(0));
    };

    it('random attribute trees', () => {
      fc.assert(
        fc.property(tree, fc.boolean(), (t, withOrig) => {
          const w = new NlWriter(256);
          w.beginNf(CT_NEW, 0, 0, 2);
          if (withOrig) {
            const o = w.nestStart(CTA.TUPLE_ORIG);
            w.nestEnd(o);
          }
          for (const k of t.kids ?? []) write(w, k);
          w.end();
          check(Buffer.from(w.bytes()));
        }),
        { numRuns: NUM_RUNS * 4 },
      );
    });

    it('valid messages with bytes flipped or cut off', () => {
      fc.assert(
        fc.property(entry, fc.array(fc.tuple(fc.nat(), u8), { maxLength: 6 }), fc.nat(), (e, flips, cut) => {
          const buf = encodeDump(e);
          for (const [at, v] of flips) buf[at % buf.length] = v;
          check(buf);
          check(buf.subarray(0, cut % (buf.length + 1)));
        }),
        { numRuns: NUM_RUNS * 2 },
      );
    });
  });
});

// ---------------------------------------------------------------- address text

function full(b: Uint8Array): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
  return w.join(':');
}

function parse6(s: string): Buffer {
  const out = Buffer.alloc(16);
  parseIPv6Into(s, out, 0);
  return out;
}

function ok(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** Other valid spellings of the same address: zero-padded, upper case, any zero run as ::, dotted tail. */
function spellings(b: Buffer, pick: number): string[] {
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  const out = [
    words.map((x) => x.toString(16).padStart(4, '0')).join(':'),
    full(b).toUpperCase(),
    `${words
      .slice(0, 6)
      .map((x) => x.toString(16))
      .join(':')}:${b[12]}.${b[13]}.${b[14]}.${b[15]}`,
  ];
  // compress the zero run starting at some zero word, whatever its length (also length 1)
  const zeros = words.map((x, i) => (x === 0 ? i : -1)).filter((i) => i >= 0);
  if (zeros.length) {
    const start = zeros[pick % zeros.length];
    let end = start;
    while (end + 1 < 8 && words[end + 1] === 0 && end - start < pick % 8) end++;
    const head = words
      .slice(0, start)
      .map((x) => x.toString(16))
      .join(':');
    const tail = words
      .slice(end + 1)
      .map((x) => x.toString(16))
      .join(':');
    out.push(`${head}::${tail}`);
  }
  return out;
}

describe('IP address text properties', function () {
  this.timeout(120000);

  it('IPv6: parseIPv6Into(formatIPv6(b)) = b', () => {
    fc.assert(
      fc.property(v6Bytes, (b) => {
        assert.deepStrictEqual(parse6(formatIPv6(b, 0)), b);
      }),
      { numRuns: NUM_RUNS * 10 },
    );
  });

  it("IPv6: formatIPv6 is Node's canonical text (libuv inet_ntop, same rules as glibc)", () => {
    fc.assert(
      fc.property(v6Bytes, (b) => {
        const node = new net.SocketAddress({ address: full(b), family: 'ipv6' }).address;
        assert.equal(formatIPv6(b, 0), node);
      }),
      { numRuns: NUM_RUNS * 10 },
    );
  });

  it('IPv6: without a dotted tail, formatIPv6 is also the WHATWG URL (RFC 5952) form', () => {
    fc.assert(
      fc.property(v6Bytes, (b) => {
        const s = formatIPv6(b, 0);
        fc.pre(!s.includes('.'));
        assert.equal(`[${s}]`, new URL(`http://[${full(b)}]/`).hostname);
      }),
      { numRuns: NUM_RUNS * 10 },
    );
  });

  it('IPv6: every valid spelling parses to the same bytes', () => {
    fc.assert(
      fc.property(v6Bytes, fc.nat(), (b, pick) => {
        for (const s of spellings(b, pick)) {
          assert.ok(net.isIPv6(s), `test spelling ${s} should be valid`);
          assert.deepStrictEqual(parse6(s), b, s);
        }
      }),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('IPv6: parseIPv6Into accepts exactly what net.isIPv6 accepts (no zone ids)', () => {
    const ch = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''), ':', ':', '0', '1', 'f');
    fc.assert(
      fc.property(fc.string({ unit: ch, maxLength: 45 }), (s) => {
        assert.equal(
          ok(() => parse6(s)),
          net.isIPv6(s),
          JSON.stringify(s),
        );
      }),
      { numRuns: NUM_RUNS * 40 },
    );
  });

  it('IPv4: parse(format(b)) = b, and parse accepts exactly what net.isIPv4 accepts', () => {
    fc.assert(
      fc.property(v4Bytes, (b) => {
        const out = Buffer.alloc(4);
        parseIPv4Into(formatIPv4(b, 0), out, 0);
        assert.deepStrictEqual(out, b);
      }),
      { numRuns: NUM_RUNS * 4 },
    );
    const ch = fc.constantFrom(...'0123456789.'.split(''), '.', '1', '2', '5');
    fc.assert(
      fc.property(fc.string({ unit: ch, maxLength: 17 }), (s) => {
        assert.equal(
          ok(() => parseIPv4Into(s, Buffer.alloc(4), 0)),
          net.isIPv4(s),
          JSON.stringify(s),
        );
      }),
      { numRuns: NUM_RUNS * 40 },
    );
  });
});
