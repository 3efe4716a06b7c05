// The commit fast path (the sync wire scan straight into the ctnetlink create writer) must write
// exactly what the general path writes: writeCreateAttrs(decodeCtAttrs(attrs)), the same codecs
// through their Entry adapters. It used to have a scan of its own: the cases below are where that
// one read stored attributes otherwise than conntrackd and decodeCtAttrs do.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { NlWriter } from '../../../src/netlink/attr.js';
import { writeCreateAttrs } from '../../../src/netlink/ctnetlink.js';
import { CTA } from '../../../src/netlink/constants.js';
import { decodeCtAttrs, encodeCtAttrs } from '../../../src/sync/wire-attrs.js';
import { scanTimeout, writeScannedCreate } from '../../../src/engine/commit-encoder.js';
import { entry } from '../../helpers/arbitraries.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const scratch = Buffer.alloc(8192);

function both(e: Entry, liberal: boolean): { fast: string; slow: string } | undefined {
  let end: number;
  try {
    end = encodeCtAttrs(scratch, 0, e, { tcpWindowTracking: true, longHelper: 'omit' });
  } catch {
    return undefined; // not representable on the wire (e.g. no status and family mismatch)
  }
  const decoded = decodeCtAttrs(scratch, 0, end);
  if (!decoded || !decoded.orig.src || !decoded.orig.proto) return undefined;
  const slow = new NlWriter(1024);
  slow.beginNf(0x100, 0, 1, decoded.family);
  writeCreateAttrs(slow, { ...decoded, timeout: 123 }, { liberal });
  slow.end();
  const fast = new NlWriter(1024);
  fast.beginNf(0x100, 0, 1, decoded.family);
  scanTimeout(scratch, 0, end);
  assert.ok(writeScannedCreate(fast, scratch, { timeout: 123, liberal, update: false }));
  fast.end();
  return { fast: fast.bytes().toString('hex'), slow: slow.bytes().toString('hex') };
}

describe('commit fast path', function () {
  it('writes the same create request as decode + writeCreateAttrs, for any entry', function () {
    let compared = 0;
    fc.assert(
      fc.property(entry, fc.boolean(), (e, liberal) => {
        const r = both(e, liberal);
        if (!r) return;
        compared++;
        assert.equal(r.fast, r.slow);
      }),
      { numRuns: 3000 },
    );
    assert.ok(compared > 1000, `enough entries compared (${compared})`);
  });

  it('handles NAT, ICMP and related entries like the general path', function () {
    const cases: Entry[] = [
      {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 80 },
        reply: { src: '198.51.100.1', dst: '203.0.113.1', proto: 6, sport: 80, dport: 6000 },
        status: 0x19e,
        timeout: 100,
        mark: 3,
        tcp: { state: 3 },
      },
      {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 80 },
        reply: { src: '203.0.113.2', dst: '192.0.2.1', proto: 6, sport: 8080, dport: 1000 },
        status: 0x1ae,
        timeout: 100,
        tcp: { state: 3 },
      },
      {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 },
        status: 8,
        timeout: 30,
      },
      {
        family: 10,
        orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 7 },
        status: 8,
        timeout: 30,
      },
      {
        family: 2,
        orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 2000, dport: 3000 },
        master: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 21 },
        status: 9,
        timeout: 100,
        helper: 'ftp',
        labels: '0100000000000000',
        zone: 4,
      },
    ];
    for (const e of cases) {
      const r = both(e, true)!;
      assert.equal(r.fast, r.slow);
    }
  });

  it('an update of an existing entry carries the mark even when it is 0 (a create leaves it out)', function () {
    const marks = (e: Entry, update: boolean): number[] => {
      const end = encodeCtAttrs(scratch, 0, e, { tcpWindowTracking: true });
      const w = new NlWriter(1024);
      w.beginNf(0x100, 0, 1, e.family);
      scanTimeout(scratch, 0, end);
      assert.ok(writeScannedCreate(w, scratch, { timeout: 60, liberal: false, update }));
      w.end();
      const b = w.bytes();
      const out: number[] = [];
      for (let o = 20; o + 4 <= b.length;) {
        const len = b.readUInt16LE(o);
        if ((b.readUInt16LE(o + 2) & 0x3fff) === 8 /* CTA_MARK */) out.push(b.readUInt32BE(o + 4));
        o += (len + 3) & ~3;
      }
      return out;
    };
    const flow = (mark?: number): Entry => ({
      family: 2,
      orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 17, sport: 1000, dport: 53 },
      status: 14,
      timeout: 30,
      mark,
    });
    assert.deepEqual(marks(flow(0), false), []);
    assert.deepEqual(marks(flow(undefined), false), []);
    assert.deepEqual(marks(flow(0), true), [0]);
    assert.deepEqual(marks(flow(undefined), true), [0]);
    assert.deepEqual(marks(flow(7), false), [7]);
    assert.deepEqual(marks(flow(7), true), [7]);
  });
});

describe('commit fast path: stored attributes it used to read its own way', function () {
  const base: Entry = {
    family: 2,
    orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1000, dport: 80 },
    status: 0x18e,
    timeout: 100,
    tcp: { state: 3 },
  };
  const wire = (e: Entry, extra = ''): Buffer => {
    const b = Buffer.alloc(4096);
    const n = encodeCtAttrs(b, 0, e, { tcpWindowTracking: true });
    return Buffer.concat([b.subarray(0, n), Buffer.from(extra, 'hex')]);
  };
  /** The commit's request for stored attributes, and decode + writeCreateAttrs's (undefined: refused). */
  const requests = (attrs: Buffer): { fast?: string; slow?: string } => {
    const fast = new NlWriter(1024);
    fast.beginNf(0x100, 0, 1, 2);
    scanTimeout(attrs, 0, attrs.length);
    const ok = writeScannedCreate(fast, attrs, { timeout: 123, liberal: true, update: false });
    fast.end();
    const d = decodeCtAttrs(attrs, 0, attrs.length)!;
    const slow = new NlWriter(1024);
    slow.beginNf(0x100, 0, 1, d.family);
    let slowOk = true;
    try {
      writeCreateAttrs(slow, { ...d, timeout: 123 }, { liberal: true });
    } catch {
      slowOk = false;
    }
    slow.end();
    return {
      fast: ok ? fast.bytes().toString('hex') : undefined,
      slow: slowOk ? slow.bytes().toString('hex') : undefined,
    };
  };

  /** Top-level attribute types of a request (hex, nlmsghdr + nfgenmsg first). */
  const types = (hex: string): number[] => {
    const b = Buffer.from(hex, 'hex');
    const out: number[] = [];
    for (let o = 20; o + 4 <= b.length; o += (b.readUInt16LE(o) + 3) & ~3) out.push(b.readUInt16LE(o + 2) & 0x3fff);
    return out;
  };

  it('an empty helper name as the last 4 bytes (conntrackd does not look at it): no helper', function () {
    const r = requests(wire(base, '0004001b'));
    assert.ok(r.slow && !types(r.slow).includes(CTA.HELP));
    assert.equal(r.fast, r.slow);
  });

  it('an SNAT address with only DST_NAT_DONE set: the reply tuple the peer gave, as the general path', function () {
    const e: Entry = {
      ...base,
      reply: { src: '198.51.100.1', dst: '203.0.113.9', proto: 6, sport: 80, dport: 1000 },
      status: 0x18e,
    };
    // the NTA_SNAT_IPV4 attribute is there, but the status says only the destination was NATed
    const attrs = wire(e);
    attrs.writeUInt32BE(0x10e, attrs.indexOf(Buffer.from('00080005', 'hex')) + 4);
    const r = requests(attrs);
    assert.ok(r.slow?.includes(Buffer.from([203, 0, 113, 9]).toString('hex')));
    assert.equal(r.fast, r.slow);
  });

  it('an IPv4 SNAT address in an IPv6 entry: refused (it used to read 16 bytes from a 4-byte attribute)', function () {
    const e: Entry = {
      family: 10,
      orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 17, sport: 1, dport: 2 },
      status: 0x188,
      timeout: 30,
    };
    const r = requests(wire(e, '0008000ccb007109'));
    assert.equal(r.slow, undefined);
    assert.equal(r.fast, undefined);
  });

  it('a master tuple without addresses: refused, as the general path refuses it', function () {
    const r = requests(wire(base, '0005000a06000000'));
    assert.equal(r.slow, undefined);
    assert.equal(r.fast, undefined);
  });
});
