import { strict as assert } from 'node:assert';
import type { Entry, Expect, Tuple } from '../../../src/conntrack/entry.js';
import {
  ctime,
  dccpStateName,
  eventTag,
  formatCacheEntry,
  formatCacheExpect,
  formatEntry,
  formatEvent,
  formatExpect,
  formatExpectEvent,
  l3protoName,
  parseConnlabelConf,
  protoName,
  protoNumber,
  sctpStateName,
  tcpStateName,
  tcpStateNumber,
} from '../../../src/conntrack/format.js';

// Expected strings were captured from conntrack-tools 1.4.7 / libnetfilter_conntrack 1.0.9 on a
// 6.18 kernel (entries inserted with `conntrack -I` or made by traffic inside a scratch network
// namespace), unless a case says "library": those were produced by calling the installed
// libnetfilter_conntrack directly, for features this kernel cannot produce (DCCP, flow offload,
// SELinux contexts, 64-bit counters).

const UNREPLIED = 0x8; // CONFIRMED only
const REPLIED = 0xa; // SEEN_REPLY | CONFIRMED
const ASSURED = 0xe; // SEEN_REPLY | ASSURED | CONFIRMED

function tp(src: string, dst: string, proto: number, sport?: number, dport?: number): Tuple {
  const t: Tuple = { src, dst, proto };
  if (sport !== undefined) t.sport = sport;
  if (dport !== undefined) t.dport = dport;
  return t;
}

function icmp(src: string, dst: string, proto: number, type: number, code: number, id: number): Tuple {
  return { src, dst, proto, icmpType: type, icmpCode: code, icmpId: id };
}

/** A flow whose reply tuple is the mirror of the original (no NAT). */
function flow(family: number, o: Tuple, extra: Partial<Entry>): Entry {
  const r: Tuple = { src: o.dst, dst: o.src, proto: o.proto };
  if (o.sport !== undefined) r.sport = o.dport;
  if (o.dport !== undefined) r.dport = o.sport;
  return { family, orig: o, reply: r, ...extra };
}

/** Nanosecond timestamp string for a Unix second. */
const ns = (sec: number, frac = '123456789'): string => `${sec}${frac}`;

const T_0655_20 = 1795676120; // Thu Nov 26 06:55:20 2026 UTC
const T_0655_41 = 1795676141;
const T_0657_33 = 1795676253;
const T_0657_38 = 1795676258;
const T_0657_39 = 1795676259;

const LABELS = parseConnlabelConf('# test map\n0 foo\n1 bar\n5 baz-qux\n');

describe('conntrack text format', () => {
  let savedTz: string | undefined;
  before(() => {
    // [start=...] is ctime(3) in local time; the captures were made with TZ=UTC.
    savedTz = process.env.TZ;
    process.env.TZ = 'UTC';
  });
  after(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  describe('formatEntry (conntrack -L)', () => {
    it('tcp SYN_SENT, unreplied', () => {
      const e = flow(2, tp('192.0.2.1', '198.51.100.1', 6, 40000, 80), {
        status: UNREPLIED,
        timeout: 119,
        tcp: { state: 1 },
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'tcp      6 119 SYN_SENT src=192.0.2.1 dst=198.51.100.1 sport=40000 dport=80 [UNREPLIED] src=198.51.100.1 dst=192.0.2.1 sport=80 dport=40000 mark=0 use=1',
      );
    });

    it('tcp ESTABLISHED, assured, with mark', () => {
      const e = flow(2, tp('192.0.2.2', '198.51.100.1', 6, 40001, 443), {
        status: ASSURED,
        timeout: 431999,
        tcp: { state: 3 },
        mark: 42,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=198.51.100.1 sport=40001 dport=443 src=198.51.100.1 dst=192.0.2.2 sport=443 dport=40001 [ASSURED] mark=42 use=1',
      );
    });

    it('tcp TIME_WAIT, replied but not assured: neither flag', () => {
      const e = flow(2, tp('192.0.2.3', '198.51.100.1', 6, 40002, 22), {
        status: REPLIED,
        timeout: 59,
        tcp: { state: 7 },
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'tcp      6 59 TIME_WAIT src=192.0.2.3 dst=198.51.100.1 sport=40002 dport=22 src=198.51.100.1 dst=192.0.2.3 sport=22 dport=40002 mark=0 use=1',
      );
    });

    it('tcp SNAT (reply tuple differs)', () => {
      const e: Entry = {
        family: 2,
        orig: tp('192.0.2.10', '203.0.113.10', 6, 40003, 80),
        reply: tp('203.0.113.10', '203.0.113.1', 6, 80, 40003),
        status: ASSURED | 0x10 | 0x80,
        timeout: 299,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
      };
      assert.equal(
        formatEntry(e),
        'tcp      6 299 ESTABLISHED src=192.0.2.10 dst=203.0.113.10 sport=40003 dport=80 src=203.0.113.10 dst=203.0.113.1 sport=80 dport=40003 [ASSURED] mark=0 use=1',
      );
    });

    it('tcp DNAT', () => {
      const e: Entry = {
        family: 2,
        orig: tp('192.0.2.11', '203.0.113.11', 6, 40004, 80),
        reply: tp('198.51.100.99', '192.0.2.11', 6, 80, 40004),
        status: REPLIED | 0x20 | 0x100,
        timeout: 299,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
      };
      assert.equal(
        formatEntry(e),
        'tcp      6 299 ESTABLISHED src=192.0.2.11 dst=203.0.113.11 sport=40004 dport=80 src=198.51.100.99 dst=192.0.2.11 sport=80 dport=40004 mark=0 use=1',
      );
    });

    it('udp unreplied', () => {
      const e = flow(2, tp('192.0.2.4', '198.51.100.2', 17, 5353, 53), {
        status: UNREPLIED,
        timeout: 29,
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'udp      17 29 src=192.0.2.4 dst=198.51.100.2 sport=5353 dport=53 [UNREPLIED] src=198.51.100.2 dst=192.0.2.4 sport=53 dport=5353 mark=0 use=1',
      );
    });

    it('udp assured in zone 5', () => {
      const e = flow(2, tp('192.0.2.5', '198.51.100.2', 17, 5354, 53), {
        status: ASSURED,
        timeout: 179,
        mark: 0,
        zone: 5,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'udp      17 179 src=192.0.2.5 dst=198.51.100.2 sport=5354 dport=53 src=198.51.100.2 dst=192.0.2.5 sport=53 dport=5354 [ASSURED] mark=0 zone=5 use=1',
      );
    });

    it('udplite (7-letter name keeps one pad blank)', () => {
      const e = flow(2, tp('192.0.2.8', '198.51.100.5', 136, 1000, 2000), {
        status: UNREPLIED,
        timeout: 29,
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'udplite  136 29 src=192.0.2.8 dst=198.51.100.5 sport=1000 dport=2000 [UNREPLIED] src=198.51.100.5 dst=192.0.2.8 sport=2000 dport=1000 mark=0 use=1',
      );
    });

    it('sctp ESTABLISHED', () => {
      const e = flow(2, tp('192.0.2.7', '198.51.100.4', 132, 3868, 3868), {
        status: ASSURED,
        timeout: 209,
        sctp: { state: 4, vtagOrig: 1, vtagReply: 2 },
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'sctp     132 209 ESTABLISHED src=192.0.2.7 dst=198.51.100.4 sport=3868 dport=3868 src=198.51.100.4 dst=192.0.2.7 sport=3868 dport=3868 [ASSURED] mark=0 use=1',
      );
    });

    it('icmp echo', () => {
      const e: Entry = {
        family: 2,
        orig: icmp('192.0.2.6', '198.51.100.3', 1, 8, 0, 1234),
        reply: icmp('198.51.100.3', '192.0.2.6', 1, 0, 0, 1234),
        status: UNREPLIED,
        timeout: 29,
        mark: 0,
        use: 1,
      };
      assert.equal(
        formatEntry(e),
        'icmp     1 29 src=192.0.2.6 dst=198.51.100.3 type=8 code=0 id=1234 [UNREPLIED] src=198.51.100.3 dst=192.0.2.6 type=0 code=0 id=1234 mark=0 use=1',
      );
    });

    it('gre keys in unpadded hex', () => {
      const e = flow(2, tp('192.0.2.9', '198.51.100.6', 47, 0x10, 0x20), {
        status: UNREPLIED,
        timeout: 29,
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'gre      47 29 src=192.0.2.9 dst=198.51.100.6 srckey=0x10 dstkey=0x20 [UNREPLIED] src=198.51.100.6 dst=192.0.2.9 srckey=0x20 dstkey=0x10 mark=0 use=1',
      );
    });

    it('unknown protocol: no layer-4 fields', () => {
      const e = flow(2, tp('192.0.2.12', '198.51.100.7', 99), { status: UNREPLIED, timeout: 29, mark: 0, use: 1 });
      assert.equal(
        formatEntry(e),
        'unknown  99 29 src=192.0.2.12 dst=198.51.100.7 [UNREPLIED] src=198.51.100.7 dst=192.0.2.12 mark=0 use=1',
      );
    });

    it('sctp with timeout 0 still prints the timeout', () => {
      const e = flow(2, tp('192.0.2.7', '198.51.100.4', 132, 3868, 3868), {
        status: ASSURED,
        timeout: 0,
        sctp: { state: 4 },
        mark: 0,
        use: 1,
      });
      assert.equal(
        formatEntry(e),
        'sctp     132 0 ESTABLISHED src=192.0.2.7 dst=198.51.100.4 sport=3868 dport=3868 src=198.51.100.4 dst=192.0.2.7 sport=3868 dport=3868 [ASSURED] mark=0 use=1',
      );
    });

    it('counters and delta-time (nf_conntrack_acct=1, nf_conntrack_timestamp=1)', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 6, 45000, 8080), {
        status: ASSURED,
        timeout: 431997,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
        countersOrig: { packets: 4, bytes: 221 },
        countersReply: { packets: 3, bytes: 170 },
        timestampStart: ns(T_0655_41),
      });
      assert.equal(
        formatEntry(e, { now: T_0655_41 + 2 }),
        'tcp      6 431997 ESTABLISHED src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 packets=4 bytes=221 src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000 packets=3 bytes=170 [ASSURED] mark=0 delta-time=2 use=1',
      );
    });

    it('helper= goes after delta-time, before use=', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 6, 45010, 21), {
        status: ASSURED,
        timeout: 431998,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
        helper: 'ftp',
        countersOrig: { packets: 5, bytes: 293 },
        countersReply: { packets: 4, bytes: 232 },
        timestampStart: ns(1795676142),
      });
      assert.equal(
        formatEntry(e, { now: 1795676143 }),
        'tcp      6 431998 ESTABLISHED src=192.0.2.100 dst=192.0.2.100 sport=45010 dport=21 packets=5 bytes=293 src=192.0.2.100 dst=192.0.2.100 sport=21 dport=45010 packets=4 bytes=232 [ASSURED] mark=0 delta-time=1 helper=ftp use=1',
      );
    });

    it('udp with counters on both sides, replied', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 17, 45001, 9999), {
        status: REPLIED,
        timeout: 28,
        mark: 0,
        use: 1,
        countersOrig: { packets: 2, bytes: 96 },
        countersReply: { packets: 1, bytes: 48 },
        timestampStart: ns(1795676142),
      });
      assert.equal(
        formatEntry(e, { now: 1795676143 }),
        'udp      17 28 src=192.0.2.100 dst=192.0.2.100 sport=45001 dport=9999 packets=2 bytes=96 src=192.0.2.100 dst=192.0.2.100 sport=9999 dport=45001 packets=1 bytes=48 mark=0 delta-time=1 use=1',
      );
    });

    it('icmpv6 echo with counters', () => {
      const e: Entry = {
        family: 10,
        orig: icmp('2001:db8::100', '2001:db8::100', 58, 128, 0, 888),
        reply: icmp('2001:db8::100', '2001:db8::100', 58, 129, 0, 888),
        status: REPLIED,
        timeout: 27,
        mark: 0,
        use: 1,
        countersOrig: { packets: 1, bytes: 56 },
        countersReply: { packets: 1, bytes: 56 },
        timestampStart: ns(1795676309),
      };
      assert.equal(
        formatEntry(e, { now: 1795676312 }),
        'icmpv6   58 27 src=2001:db8::100 dst=2001:db8::100 type=128 code=0 id=888 packets=1 bytes=56 src=2001:db8::100 dst=2001:db8::100 type=129 code=0 id=888 packets=1 bytes=56 mark=0 delta-time=3 use=1',
      );
    });

    it('per-direction zone (zone-orig=) sits before the counters', () => {
      const e = flow(
        2,
        { ...tp('192.0.2.32', '198.51.100.32', 17, 1, 2), zone: 7 },
        {
          status: UNREPLIED,
          timeout: 99,
          mark: 0,
          use: 1,
          countersOrig: { packets: 0, bytes: 0 },
          countersReply: { packets: 0, bytes: 0 },
          timestampStart: ns(T_0657_33),
        },
      );
      assert.equal(
        formatEntry(e, { now: T_0657_33 }),
        'udp      17 99 src=192.0.2.32 dst=198.51.100.32 sport=1 dport=2 zone-orig=7 packets=0 bytes=0 [UNREPLIED] src=198.51.100.32 dst=192.0.2.32 sport=2 dport=1 packets=0 bytes=0 mark=0 delta-time=0 use=1',
      );
    });

    it('zone-reply= (library)', () => {
      const e: Entry = {
        family: 2,
        orig: { ...tp('192.0.2.9', '198.51.100.6', 2), zone: 4 },
        reply: { ...tp('198.51.100.6', '192.0.2.9', 2), zone: 5 },
        status: ASSURED,
      };
      assert.equal(
        formatEntry(e),
        'unknown  2 src=192.0.2.9 dst=198.51.100.6 zone-orig=4 src=198.51.100.6 dst=192.0.2.9 zone-reply=5 [ASSURED]',
      );
    });

    it('labels only with a label map (-o labels), in bit order', () => {
      const e = flow(2, tp('192.0.2.35', '198.51.100.35', 6, 1, 2), {
        status: REPLIED,
        timeout: 99,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
        countersOrig: { packets: 0, bytes: 0 },
        countersReply: { packets: 0, bytes: 0 },
        timestampStart: ns(T_0657_33),
        labels: '21000000000000000000000000000000',
      });
      const pre =
        'tcp      6 99 ESTABLISHED src=192.0.2.35 dst=198.51.100.35 sport=1 dport=2 packets=0 bytes=0 src=198.51.100.35 dst=192.0.2.35 sport=2 dport=1 packets=0 bytes=0 mark=0 delta-time=0 use=1';
      assert.equal(formatEntry(e, { now: T_0657_33 }), pre);
      assert.equal(formatEntry(e, { now: T_0657_33, labelMap: LABELS }), pre + ' labels=foo,baz-qux');
    });

    it('labels with no named bit print a bare "labels" (library)', () => {
      const e: Entry = {
        family: 2,
        orig: tp('192.0.2.9', '198.51.100.6', 2),
        status: ASSURED,
        labels: '0200000000000000',
      };
      const map = parseConnlabelConf('0 foo\n2 bar\n8 baz\n');
      assert.equal(formatEntry(e, { labelMap: map }), 'unknown  2 src=192.0.2.9 dst=198.51.100.6 [ASSURED] labels');
      assert.equal(
        formatEntry({ ...e, labels: '0500000000000000' }, { labelMap: map }),
        'unknown  2 src=192.0.2.9 dst=198.51.100.6 [ASSURED] labels=foo,bar',
      );
      assert.equal(
        formatEntry({ ...e, labels: '0001000000000000' }, { labelMap: map }),
        'unknown  2 src=192.0.2.9 dst=198.51.100.6 [ASSURED] labels=baz',
      );
    });

    it('[OFFLOAD] and [HW_OFFLOAD] replace [ASSURED] (library)', () => {
      const e: Entry = { family: 2, orig: tp('192.0.2.9', '198.51.100.6', 2), status: 0x4000 };
      assert.equal(formatEntry(e), 'unknown  2 src=192.0.2.9 dst=198.51.100.6 [UNREPLIED] [OFFLOAD]');
      assert.equal(
        formatEntry({ ...e, status: 0x8000 | 0x4000 | 0x4 }),
        'unknown  2 src=192.0.2.9 dst=198.51.100.6 [UNREPLIED] [HW_OFFLOAD]',
      );
      assert.equal(formatEntry({ ...e, status: 0x4000 | 0x6 }), 'unknown  2 src=192.0.2.9 dst=198.51.100.6 [OFFLOAD]');
    });

    it('dccp states (library; this kernel has no DCCP tracking)', () => {
      const e: Entry = { family: 2, orig: tp('192.0.2.9', '198.51.100.6', 33, 16, 32), status: 8, dccp: { state: 4 } };
      assert.equal(formatEntry(e), 'dccp     33 OPEN src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]');
      assert.equal(
        formatEntry({ ...e, dccp: { state: 9 } }),
        'dccp     33 INVALID src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]',
      );
      assert.equal(
        formatEntry({ ...e, dccp: { state: 10 } }),
        'dccp     33 NONE src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]',
      );
    });

    it('secmark, secctx, 64-bit counters, id and stop time (library, parsed from a netlink message)', () => {
      const e: Entry = {
        family: 2,
        orig: tp('192.0.2.1', '198.51.100.1', 17, 1000, 53),
        reply: tp('198.51.100.1', '192.0.2.1', 17, 53, 1000),
        status: REPLIED,
        timeout: 30,
        mark: 5,
        secmark: 77,
        secctx: 'system_u:object_r:ssh_t:s0',
        use: 3,
        id: 4000000000,
        countersOrig: { packets: 123456789012, bytes: 12345678901234 },
        countersReply: { packets: 3, bytes: 300 },
        timestampStart: '1795676141265302000',
        timestampStop: '1795676151999999999',
      };
      assert.equal(
        formatEvent('DESTROY', e, { extended: true, id: true, ktimestamp: true }),
        '[DESTROY] ipv4     2 udp      17 30 src=192.0.2.1 dst=198.51.100.1 sport=1000 dport=53 packets=123456789012 bytes=12345678901234 src=198.51.100.1 dst=192.0.2.1 sport=53 dport=1000 packets=3 bytes=300 mark=5 secmark=77 secctx=system_u:object_r:ssh_t:s0 delta-time=10 [start=Thu Nov 26 06:55:41 2026] [stop=Thu Nov 26 06:55:51 2026] use=3 id=4000000000',
      );
    });

    it('a stop before the start wraps delta-time like %llu (library)', () => {
      const e: Entry = {
        family: 2,
        orig: tp('192.0.2.1', '198.51.100.1', 2),
        timestampStart: '1700000000000000000',
        timestampStop: '1600000000000000000',
      };
      assert.equal(formatEntry(e), 'unknown  2 src=192.0.2.1 dst=198.51.100.1 delta-time=18446744073609551616');
    });

    it('unknown layer-3 family: no addresses (library)', () => {
      const e: Entry = {
        family: 7,
        orig: tp('192.0.2.9', '198.51.100.6', 2),
        status: 6,
        zone: 3,
        helper: 'ftp',
        id: 99,
      };
      assert.equal(
        formatEntry(e, { extended: true, id: true }),
        'unknown  7 unknown  2 [ASSURED] zone=3 helper=ftp id=99',
      );
    });

    it('out-of-range states print NONE (library)', () => {
      const e: Entry = { family: 2, orig: tp('192.0.2.9', '198.51.100.6', 6, 16, 32), status: 8, tcp: { state: 9 } };
      assert.equal(formatEntry(e), 'tcp      6 SYN_SENT2 src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]');
      assert.equal(
        formatEntry({ ...e, tcp: { state: 10 } }),
        'tcp      6 NONE src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]',
      );
      const s: Entry = { ...e, orig: tp('192.0.2.9', '198.51.100.6', 132, 16, 32), tcp: undefined, sctp: { state: 8 } };
      assert.equal(
        formatEntry(s),
        'sctp     132 HEARTBEAT_SENT src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]',
      );
      assert.equal(
        formatEntry({ ...s, sctp: { state: 10 } }),
        'sctp     132 NONE src=192.0.2.9 dst=198.51.100.6 sport=16 dport=32 [UNREPLIED]',
      );
    });

    it('no status attribute: neither [UNREPLIED] nor [ASSURED]', () => {
      const e = flow(2, tp('192.0.2.1', '198.51.100.1', 17, 1, 2), { timeout: 5 });
      assert.equal(
        formatEntry(e),
        'udp      17 5 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      );
    });
  });

  describe('formatEntry -o extended / id / ktimestamp', () => {
    it('-o extended: ipv4 tcp', () => {
      const e = flow(2, tp('192.0.2.2', '198.51.100.1', 6, 40001, 443), {
        status: ASSURED,
        timeout: 431999,
        tcp: { state: 3 },
        mark: 42,
        use: 1,
      });
      assert.equal(
        formatEntry(e, { extended: true }),
        'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=198.51.100.1 sport=40001 dport=443 src=198.51.100.1 dst=192.0.2.2 sport=443 dport=40001 [ASSURED] mark=42 use=1',
      );
    });

    it('-o extended: ipv4 unknown protocol', () => {
      const e = flow(2, tp('192.0.2.12', '198.51.100.7', 99), { status: UNREPLIED, timeout: 29, mark: 0, use: 1 });
      assert.equal(
        formatEntry(e, { extended: true }),
        'ipv4     2 unknown  99 29 src=192.0.2.12 dst=198.51.100.7 [UNREPLIED] src=198.51.100.7 dst=192.0.2.12 mark=0 use=1',
      );
    });

    it('-o id appends id= after use=; without the option id is not printed', () => {
      const e = flow(2, tp('192.0.2.8', '198.51.100.5', 136, 1000, 2000), {
        status: UNREPLIED,
        timeout: 29,
        mark: 0,
        use: 1,
        id: 4176935749,
      });
      const line =
        'udplite  136 29 src=192.0.2.8 dst=198.51.100.5 sport=1000 dport=2000 [UNREPLIED] src=198.51.100.5 dst=192.0.2.8 sport=2000 dport=1000 mark=0 use=1';
      assert.equal(formatEntry(e), line);
      assert.equal(formatEntry(e, { id: true }), line + ' id=4176935749');
    });

    it('-o extended,id,ktimestamp: ipv6 tcp', () => {
      const e = flow(10, tp('2001:db8::1', '2001:db8:1::2', 6, 50000, 443), {
        status: ASSURED,
        timeout: 299,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
        id: 2674604712,
        countersOrig: { packets: 0, bytes: 0 },
        countersReply: { packets: 0, bytes: 0 },
        timestampStart: ns(T_0655_20),
      });
      assert.equal(
        formatEntry(e, { extended: true, id: true, ktimestamp: true, now: T_0655_20 }),
        'ipv6     10 tcp      6 299 ESTABLISHED src=2001:db8::1 dst=2001:db8:1::2 sport=50000 dport=443 packets=0 bytes=0 src=2001:db8:1::2 dst=2001:db8::1 sport=443 dport=50000 packets=0 bytes=0 [ASSURED] mark=0 delta-time=0 [start=Thu Nov 26 06:55:20 2026] use=1 id=2674604712',
      );
      assert.equal(
        formatEntry(e, { ktimestamp: true, now: T_0655_20 }),
        'tcp      6 299 ESTABLISHED src=2001:db8::1 dst=2001:db8:1::2 sport=50000 dport=443 packets=0 bytes=0 src=2001:db8:1::2 dst=2001:db8::1 sport=443 dport=50000 packets=0 bytes=0 [ASSURED] mark=0 delta-time=0 [start=Thu Nov 26 06:55:20 2026] use=1',
      );
    });

    it('-o extended,id,ktimestamp,labels: everything at once', () => {
      const e = flow(2, tp('192.0.2.30', '198.51.100.30', 6, 1, 2), {
        status: REPLIED,
        timeout: 41,
        tcp: { state: 3 },
        mark: 0,
        use: 1,
        id: 1032821954,
        countersOrig: { packets: 0, bytes: 0 },
        countersReply: { packets: 0, bytes: 0 },
        timestampStart: ns(T_0657_33),
        labels: '01000000000000000000000000000000',
      });
      assert.equal(
        formatEntry(e, { extended: true, id: true, ktimestamp: true, labelMap: LABELS, now: T_0657_33 + 59 }),
        'ipv4     2 tcp      6 41 ESTABLISHED src=192.0.2.30 dst=198.51.100.30 sport=1 dport=2 packets=0 bytes=0 src=198.51.100.30 dst=192.0.2.30 sport=2 dport=1 packets=0 bytes=0 mark=0 delta-time=59 [start=Thu Nov 26 06:57:33 2026] use=1 id=1032821954 labels=foo',
      );
    });

    it('-o ktimestamp uses the local time zone, like ctime(3)', () => {
      process.env.TZ = 'Europe/Berlin';
      try {
        assert.equal(ctime(1700000000), 'Tue Nov 14 23:13:20 2023');
        assert.equal(ctime(1600000000), 'Sun Sep 13 14:26:40 2020');
      } finally {
        process.env.TZ = 'UTC';
      }
      assert.equal(ctime(1780000000), 'Thu May 28 20:26:40 2026');
      assert.equal(ctime(1778000000), 'Tue May  5 16:53:20 2026');
    });
  });

  describe('formatEvent (conntrack -E)', () => {
    it('NEW from userspace (conntrack -I): [USERSPACE] portid=', () => {
      const e = flow(2, tp('192.0.2.1', '198.51.100.1', 6, 40000, 80), {
        status: UNREPLIED,
        timeout: 120,
        tcp: { state: 1 },
        mark: 0,
      });
      assert.equal(
        formatEvent('NEW', e, { portid: 3415 }),
        '    [NEW] tcp      6 120 SYN_SENT src=192.0.2.1 dst=198.51.100.1 sport=40000 dport=80 [UNREPLIED] src=198.51.100.1 dst=192.0.2.1 sport=80 dport=40000 mark=0 [USERSPACE] portid=3415',
      );
    });

    it('NEW/UPDATE from the kernel: no mark, no use', () => {
      const o = tp('192.0.2.100', '192.0.2.100', 6, 45000, 8080);
      assert.equal(
        formatEvent('NEW', flow(2, o, { status: UNREPLIED, timeout: 120, tcp: { state: 1 } })),
        '    [NEW] tcp      6 120 SYN_SENT src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 [UNREPLIED] src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000',
      );
      assert.equal(
        formatEvent('UPDATE', flow(2, o, { status: REPLIED, timeout: 60, tcp: { state: 2 } })),
        ' [UPDATE] tcp      6 60 SYN_RECV src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000',
      );
      assert.equal(
        formatEvent('UPDATE', flow(2, o, { status: ASSURED, timeout: 432000, tcp: { state: 3 } })),
        ' [UPDATE] tcp      6 432000 ESTABLISHED src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000 [ASSURED]',
      );
    });

    it('UPDATE with helper', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 6, 45010, 21), {
        status: ASSURED,
        timeout: 30,
        tcp: { state: 6 },
        helper: 'ftp',
      });
      assert.equal(
        formatEvent('UPDATE', e),
        ' [UPDATE] tcp      6 30 LAST_ACK src=192.0.2.100 dst=192.0.2.100 sport=45010 dport=21 src=192.0.2.100 dst=192.0.2.100 sport=21 dport=45010 [ASSURED] helper=ftp',
      );
    });

    it('DESTROY on expiry: no timeout, counters and delta-time', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 6, 45000, 8080), {
        status: ASSURED,
        tcp: { state: 7 },
        countersOrig: { packets: 6, bytes: 325 },
        countersReply: { packets: 4, bytes: 222 },
        timestampStart: ns(T_0655_41),
        timestampStop: ns(1795676265),
      });
      assert.equal(
        formatEvent('DESTROY', e),
        '[DESTROY] tcp      6 TIME_WAIT src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 packets=6 bytes=325 src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000 packets=4 bytes=222 [ASSURED] delta-time=124',
      );
      assert.equal(
        formatEvent('DESTROY', { ...e, id: 3579955692 }, { id: true, ktimestamp: true }),
        '[DESTROY] tcp      6 TIME_WAIT src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 packets=6 bytes=325 src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000 packets=4 bytes=222 [ASSURED] delta-time=124 [start=Thu Nov 26 06:55:41 2026] [stop=Thu Nov 26 06:57:45 2026] id=3579955692',
      );
    });

    it('DESTROY of ipv6 udp with -o ktimestamp,id', () => {
      const e = flow(10, tp('2001:db8::100', '2001:db8::100', 17, 45002, 9999), {
        status: UNREPLIED,
        countersOrig: { packets: 1, bytes: 58 },
        countersReply: { packets: 0, bytes: 0 },
        timestampStart: ns(T_0657_38),
        timestampStop: ns(T_0657_39),
        id: 1941951664,
      });
      assert.equal(
        formatEvent('DESTROY', e, { ktimestamp: true, id: true }),
        '[DESTROY] udp      17 src=2001:db8::100 dst=2001:db8::100 sport=45002 dport=9999 packets=1 bytes=58 [UNREPLIED] src=2001:db8::100 dst=2001:db8::100 sport=9999 dport=45002 packets=0 bytes=0 delta-time=1 [start=Thu Nov 26 06:57:38 2026] [stop=Thu Nov 26 06:57:39 2026] id=1941951664',
      );
    });

    it('DESTROY from conntrack -D: timeout and state kept, progname', () => {
      const e = flow(2, tp('192.0.2.35', '198.51.100.35', 6, 1, 2), {
        status: REPLIED,
        timeout: 94,
        tcp: { state: 3 },
        mark: 7,
        id: 1177013620,
        countersOrig: { packets: 0, bytes: 0 },
        countersReply: { packets: 0, bytes: 0 },
        timestampStart: ns(T_0657_33),
        timestampStop: ns(T_0657_38),
      });
      assert.equal(
        formatEvent('DESTROY', e, { portid: 2403772012, progname: 'conntrack' }),
        '[DESTROY] tcp      6 94 ESTABLISHED src=192.0.2.35 dst=198.51.100.35 sport=1 dport=2 packets=0 bytes=0 src=198.51.100.35 dst=192.0.2.35 sport=2 dport=1 packets=0 bytes=0 mark=7 delta-time=5 [USERSPACE] portid=2403772012 progname=conntrack',
      );
      assert.equal(
        formatEvent('DESTROY', e, { portid: 2403772012, progname: 'conntrack', ktimestamp: true, id: true }),
        '[DESTROY] tcp      6 94 ESTABLISHED src=192.0.2.35 dst=198.51.100.35 sport=1 dport=2 packets=0 bytes=0 src=198.51.100.35 dst=192.0.2.35 sport=2 dport=1 packets=0 bytes=0 mark=7 delta-time=5 [start=Thu Nov 26 06:57:33 2026] [stop=Thu Nov 26 06:57:38 2026] id=1177013620 [USERSPACE] portid=2403772012 progname=conntrack',
      );
    });

    it('DESTROY with per-direction zone', () => {
      const e = flow(
        2,
        { ...tp('192.0.2.32', '198.51.100.32', 17, 1, 2), zone: 7 },
        {
          status: UNREPLIED,
          timeout: 94,
          countersOrig: { packets: 0, bytes: 0 },
          countersReply: { packets: 0, bytes: 0 },
          timestampStart: ns(T_0657_33),
          timestampStop: ns(T_0657_38),
        },
      );
      assert.equal(
        formatEvent('DESTROY', e, { portid: 2234570752 }),
        '[DESTROY] udp      17 94 src=192.0.2.32 dst=198.51.100.32 sport=1 dport=2 zone-orig=7 packets=0 bytes=0 [UNREPLIED] src=198.51.100.32 dst=192.0.2.32 sport=2 dport=1 packets=0 bytes=0 delta-time=5 [USERSPACE] portid=2234570752',
      );
    });

    it('DESTROY of icmp and gre (kernel, no timeout)', () => {
      const i: Entry = {
        family: 2,
        orig: icmp('192.0.2.6', '198.51.100.3', 1, 8, 0, 1234),
        reply: icmp('198.51.100.3', '192.0.2.6', 1, 0, 0, 1234),
        status: UNREPLIED,
      };
      assert.equal(
        formatEvent('DESTROY', i),
        '[DESTROY] icmp     1 src=192.0.2.6 dst=198.51.100.3 type=8 code=0 id=1234 [UNREPLIED] src=198.51.100.3 dst=192.0.2.6 type=0 code=0 id=1234',
      );
      const g = flow(2, tp('192.0.2.9', '198.51.100.6', 47, 0x10, 0x20), { status: UNREPLIED });
      assert.equal(
        formatEvent('DESTROY', g),
        '[DESTROY] gre      47 src=192.0.2.9 dst=198.51.100.6 srckey=0x10 dstkey=0x20 [UNREPLIED] src=198.51.100.6 dst=192.0.2.9 srckey=0x20 dstkey=0x10',
      );
    });

    it('-o extended,id and -o extended,labels events', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 17, 45001, 9999), {
        status: UNREPLIED,
        timeout: 30,
        id: 3386278297,
      });
      assert.equal(
        formatEvent('NEW', e, { extended: true, id: true }),
        '    [NEW] ipv4     2 udp      17 30 src=192.0.2.100 dst=192.0.2.100 sport=45001 dport=9999 [UNREPLIED] src=192.0.2.100 dst=192.0.2.100 sport=9999 dport=45001 id=3386278297',
      );
      const l = flow(2, tp('192.0.2.35', '198.51.100.35', 6, 1, 2), {
        status: REPLIED,
        timeout: 94,
        tcp: { state: 3 },
        mark: 7,
        labels: '20000000000000000000000000000000',
      });
      assert.equal(
        formatEvent('UPDATE', l, { extended: true, labelMap: LABELS, portid: 4275025699, progname: 'conntrack' }),
        ' [UPDATE] ipv4     2 tcp      6 94 ESTABLISHED src=192.0.2.35 dst=198.51.100.35 sport=1 dport=2 src=198.51.100.35 dst=192.0.2.35 sport=2 dport=1 mark=7 labels=baz-qux [USERSPACE] portid=4275025699 progname=conntrack',
      );
    });

    it('-o timestamp prefixes [sec.usec] and a tab', () => {
      const e = flow(2, tp('192.0.2.100', '192.0.2.100', 6, 45000, 8080), {
        status: UNREPLIED,
        timeout: 120,
        tcp: { state: 1 },
      });
      assert.equal(
        formatEvent('NEW', e, { time: { sec: 1795676141, usec: 265302 } }),
        '[1795676141.265302]\t    [NEW] tcp      6 120 SYN_SENT src=192.0.2.100 dst=192.0.2.100 sport=45000 dport=8080 [UNREPLIED] src=192.0.2.100 dst=192.0.2.100 sport=8080 dport=45000',
      );
      assert.equal(formatEvent('NEW', e, { time: { sec: 12, usec: 5 } }).slice(0, 18), '[00000012.000005]\t');
    });

    it('event tags are right-aligned to 9 columns', () => {
      assert.equal(eventTag('NEW'), '    [NEW] ');
      assert.equal(eventTag('UPDATE'), ' [UPDATE] ');
      assert.equal(eventTag('DESTROY'), '[DESTROY] ');
    });
  });

  describe('formatExpect (conntrack -L expect / -E expect)', () => {
    const ftp: Expect = {
      family: 2,
      master: tp('192.0.2.100', '192.0.2.100', 6, 45020, 21),
      tuple: tp('192.0.2.100', '192.0.2.100', 6, 0, 50000),
      mask: tp('255.255.255.255', '255.255.255.255', 6, 0, 65535),
      timeout: 299,
      class: 0,
      helper: 'ftp',
      flags: 0,
    };

    it('ftp helper expectation', () => {
      assert.equal(
        formatExpect(ftp),
        '299 proto=6 src=192.0.2.100 dst=192.0.2.100 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45020 dport=21 class=0 helper=ftp',
      );
      assert.equal(
        formatExpectEvent('NEW', { ...ftp, timeout: 300 }),
        '    [NEW] 300 proto=6 src=192.0.2.100 dst=192.0.2.100 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45020 dport=21 class=0 helper=ftp',
      );
      assert.equal(
        formatExpectEvent('DESTROY', { ...ftp, timeout: 296 }),
        '[DESTROY] 296 proto=6 src=192.0.2.100 dst=192.0.2.100 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45020 dport=21 class=0 helper=ftp',
      );
    });

    it('unknown protocol in the expected tuple: addresses only', () => {
      const x: Expect = {
        ...ftp,
        master: tp('192.0.2.100', '192.0.2.100', 6, 45030, 21),
        tuple: tp('192.0.2.100', '192.0.2.100', 195),
        mask: tp('255.255.255.255', '255.255.255.255', 195),
      };
      assert.equal(
        formatExpect(x),
        '299 proto=195 src=192.0.2.100 dst=192.0.2.100 mask-src=255.255.255.255 mask-dst=255.255.255.255 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45030 dport=21 class=0 helper=ftp',
      );
    });

    it('zone and flags; NAT tuple, NAT dir and fn are not printed (library)', () => {
      const x: Expect = {
        ...ftp,
        zone: 4,
        flags: 7,
        natDir: 1,
        fn: 'sip',
        natTuple: tp('192.0.2.100', '192.0.2.100', 6, 0, 50000),
      };
      assert.equal(
        formatExpectEvent('NEW', x),
        '    [NEW] 299 proto=6 src=192.0.2.100 dst=192.0.2.100 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45020 dport=21 zone=4 PERMANENT,INACTIVE,USERSPACE class=0 helper=ftp',
      );
    });

    it('ipv6, single flag, no class/helper; unnamed flag bits leave a stray blank (library)', () => {
      const x: Expect = {
        family: 10,
        master: tp('2001:db8::1', '2001:db8::2', 17, 5060, 5060),
        tuple: tp('2001:db8::1', '2001:db8::2', 17, 0, 50000),
        mask: tp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::', 17, 0, 65535),
        timeout: 0,
        flags: 2,
      };
      assert.equal(
        formatExpect(x),
        '0 proto=17 src=2001:db8::1 dst=2001:db8::2 sport=0 dport=50000 mask-src=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff mask-dst=:: sport=0 dport=65535 master-src=2001:db8::1 master-dst=2001:db8::2 sport=5060 dport=5060 INACTIVE',
      );
      const { timeout: _t, ...noTimeout } = { ...ftp, flags: 8 };
      delete (noTimeout as Partial<Expect>).class;
      delete (noTimeout as Partial<Expect>).helper;
      assert.equal(
        formatExpect(noTimeout as Expect),
        'proto=6 src=192.0.2.100 dst=192.0.2.100 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.100 master-dst=192.0.2.100 sport=45020 dport=21 ',
      );
    });

    it('icmp expectation (library)', () => {
      const x: Expect = {
        family: 2,
        master: icmp('192.0.2.1', '192.0.2.2', 1, 8, 0, 3),
        tuple: { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpType: 8 },
        mask: { src: '0.0.0.0', dst: '255.255.255.255', proto: 1 },
      };
      assert.equal(
        formatExpectEvent('DESTROY', x),
        '[DESTROY] proto=1 src=192.0.2.1 dst=192.0.2.2 type=8 code=0 id=0 mask-src=0.0.0.0 mask-dst=255.255.255.255 type=0 code=0 id=0 master-src=192.0.2.1 master-dst=192.0.2.2 type=8 code=0 id=3',
      );
    });
  });

  describe('name tables and helpers', () => {
    it('protocol names', () => {
      assert.deepEqual([1, 6, 17, 33, 47, 58, 132, 136].map(protoName), [
        'icmp',
        'tcp',
        'udp',
        'dccp',
        'gre',
        'icmpv6',
        'sctp',
        'udplite',
      ]);
      assert.equal(protoName(2), 'unknown');
      assert.equal(protoName(0), 'unknown');
      assert.equal(protoName(255), 'unknown');
      assert.equal(protoNumber('udplite'), 136);
      assert.equal(protoNumber('igmp'), -1);
    });

    it('family names', () => {
      assert.equal(l3protoName(2), 'ipv4');
      assert.equal(l3protoName(10), 'ipv6');
      assert.equal(l3protoName(0), 'unknown');
    });

    it('state names', () => {
      assert.equal(tcpStateName(3), 'ESTABLISHED');
      assert.equal(tcpStateName(8), 'CLOSE');
      assert.equal(tcpStateName(200), 'NONE');
      assert.equal(tcpStateNumber('TIME_WAIT'), 7);
      assert.equal(sctpStateName(7), 'SHUTDOWN_ACK_SENT');
      assert.equal(sctpStateName(9), 'HEARTBEAT_ACKED');
      assert.equal(dccpStateName(7), 'TIMEWAIT');
      assert.equal(dccpStateName(8), 'IGNORE');
    });

    it('parseConnlabelConf follows the library rules', () => {
      const m = parseConnlabelConf(
        '# c\n0 foo\n 1 sp\n0x2 hex\n010 oct\n3 bad;name\n4  padded name \t\n5 foo\n0 again\n1024 big\n6\n7 ok-7\r\n',
      );
      assert.equal(m[0], 'foo');
      assert.equal(m[1], 'sp');
      assert.equal(m[2], 'hex');
      assert.equal(m[8], 'oct');
      assert.equal(m[3], undefined);
      assert.equal(m[4], 'padded name');
      assert.equal(m[5], undefined); // duplicate name
      assert.equal(m[6], undefined);
      assert.equal(m[7], 'ok-7');
      assert.equal(m.length, 9);
    });
  });

  describe("conntrackd's cache dumps (-i, -e)", () => {
    const e: Entry = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1000, dport: 53 },
      reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 17, sport: 53, dport: 1000 },
      status: 8,
      timeout: 30,
      mark: 0,
    };
    const x: Expect = {
      family: 2,
      master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 21 },
      tuple: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 0, dport: 50000 },
      mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
    };

    it("Mode ALARM's external entries carry [expires in Ns] before [active since Ns]", () => {
      const line = formatCacheEntry(e, 3, true, 42);
      assert.match(line, / \[expires in 42s\] \[active since 3s\]$/);
      assert.equal(line.replace(' [expires in 42s]', ''), formatCacheEntry(e, 3, true));
      assert.doesNotMatch(formatCacheEntry(e, 3, true), /expires/);
      assert.match(formatCacheExpect(x, 3, 7), / \[expires in 7s\] \[active since 3s\]$/);
      assert.doesNotMatch(formatCacheExpect(x, 3), /expires/);
    });
  });
});
