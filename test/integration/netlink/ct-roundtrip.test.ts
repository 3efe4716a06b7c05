// The engine against the real kernel: entries made by the stock `conntrack -I` are listed by
// `ctsync ct list`, exactly as `conntrack -L` lists them; after a flush, `ctsync ct load` puts
// them back and `conntrack -L` shows the same table again.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCtsync, useNetns } from '../../helpers/netns.js';
import type { Entry } from '../../../src/conntrack/entry.js';

/** `conntrack -I` argument lists: one entry of every protocol and feature the kernel allows here. */
const INSERTS: string[][] = [
  [
    '-p',
    'tcp',
    '-s',
    '192.0.2.1',
    '-d',
    '198.51.100.1',
    '--sport',
    '40000',
    '--dport',
    '80',
    '--state',
    'ESTABLISHED',
    '-t',
    '3000',
    '-u',
    'SEEN_REPLY,ASSURED',
    '-m',
    '66',
  ],
  [
    '-p',
    'tcp',
    '-s',
    '192.0.2.2',
    '-d',
    '198.51.100.1',
    '--sport',
    '40001',
    '--dport',
    '443',
    '--state',
    'SYN_SENT',
    '-t',
    '3000',
  ],
  [
    '-p',
    'tcp',
    '-s',
    '192.0.2.3',
    '-d',
    '198.51.100.1',
    '--sport',
    '40002',
    '--dport',
    '22',
    '--state',
    'TIME_WAIT',
    '-t',
    '3000',
    '-w',
    '5',
  ],
  [
    '-p',
    'tcp',
    '-s',
    '192.0.2.4',
    '-d',
    '198.51.100.1',
    '--sport',
    '40003',
    '--dport',
    '8080',
    '--state',
    'ESTABLISHED',
    '-t',
    '3000',
    '--src-nat',
    '203.0.113.1',
  ],
  [
    '-p',
    'tcp',
    '-s',
    '192.0.2.5',
    '-d',
    '198.51.100.2',
    '--sport',
    '40004',
    '--dport',
    '80',
    '--state',
    'ESTABLISHED',
    '-t',
    '3000',
    '--dst-nat',
    '203.0.113.2',
  ],
  ['-p', 'udp', '-s', '192.0.2.6', '-d', '198.51.100.3', '--sport', '5353', '--dport', '53', '-t', '3000', '-m', '7'],
  ['-p', 'udp', '-s', '192.0.2.6', '-d', '198.51.100.3', '--sport', '5353', '--dport', '53', '-t', '3000', '-w', '9'],
  ['-p', 'udplite', '-s', '192.0.2.7', '-d', '198.51.100.4', '--sport', '1000', '--dport', '2000', '-t', '3000'],
  [
    '-p',
    'icmp',
    '-s',
    '192.0.2.8',
    '-d',
    '198.51.100.5',
    '--icmp-type',
    '8',
    '--icmp-code',
    '0',
    '--icmp-id',
    '4660',
    '-t',
    '3000',
  ],
  [
    '-p',
    'sctp',
    '-s',
    '192.0.2.9',
    '-d',
    '198.51.100.6',
    '--sport',
    '5000',
    '--dport',
    '5001',
    '--state',
    'ESTABLISHED',
    '--orig-vtag',
    '10',
    '--reply-vtag',
    '11',
    '-t',
    '3000',
  ],
  ['-p', 'gre', '-s', '192.0.2.10', '-d', '198.51.100.7', '--srckey', '5', '--dstkey', '6', '-t', '3000'],
  [
    '-p',
    'tcp',
    '-s',
    '2001:db8::1',
    '-d',
    '2001:db8::2',
    '--sport',
    '40005',
    '--dport',
    '443',
    '--state',
    'ESTABLISHED',
    '-t',
    '3000',
    '-m',
    '1',
  ],
  ['-p', 'udp', '-s', '2001:db8::1', '-d', '2001:db8:1::3', '--sport', '546', '--dport', '547', '-t', '3000'],
  [
    '-p',
    'icmpv6',
    '-s',
    '2001:db8::1',
    '-d',
    '2001:db8::2',
    '--icmpv6-type',
    '128',
    '--icmpv6-code',
    '0',
    '--icmpv6-id',
    '7',
    '-t',
    '3000',
  ],
];

/** `conntrack -L` lines with the timeout column (3rd field) blanked, sorted. */
function normalize(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^(\S+\s+\d+) \d+ /, '$1 T '))
    .sort();
}

describe('ct engine round trip on the real kernel', function () {
  const ns = useNetns('roundtrip', 'conntrack');
  let jsonFile = '';

  before(async function () {
    for (const args of INSERTS) {
      const r = await ns().exec('conntrack', ['-I', ...args]);
      assert.equal(r.exitCode, 0, `conntrack -I ${args.join(' ')}: ${r.stderr}`);
    }
    jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-rt-')), 'table.jsonl');
  });

  after(function () {
    if (jsonFile) fs.rmSync(path.dirname(jsonFile), { recursive: true, force: true });
  });

  it('lists every entry with every field (--json)', async function () {
    const r = await runCtsync(ns(), ['ct', 'list', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const entries = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Entry);
    assert.equal(entries.length, INSERTS.length);
    fs.writeFileSync(jsonFile, r.stdout);

    const find = (pred: (e: Entry) => boolean, what: string): Entry => {
      const e = entries.find(pred);
      assert.ok(e, `missing ${what}`);
      return e;
    };
    const est = find((e) => e.orig.sport === 40000, 'tcp ESTABLISHED');
    assert.deepEqual(est.orig, { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 40000, dport: 80 });
    assert.deepEqual(est.reply, { src: '198.51.100.1', dst: '192.0.2.1', proto: 6, sport: 80, dport: 40000 });
    assert.equal(est.mark, 66);
    assert.equal(est.tcp?.state, 3);
    assert.equal(est.status! & 0x6, 0x6, 'SEEN_REPLY|ASSURED');
    assert.ok(est.timeout! > 2900 && est.timeout! <= 3000);
    assert.equal(typeof est.id, 'number');
    assert.equal(find((e) => e.orig.sport === 40002, 'tcp zone 5').zone, 5);
    assert.equal(find((e) => e.orig.sport === 40002, 'tcp TIME_WAIT').tcp?.state, 7);
    const snat = find((e) => e.orig.sport === 40003, 'SNAT');
    assert.equal(snat.reply?.dst, '203.0.113.1');
    assert.ok(snat.status! & 0x80, 'SRC_NAT_DONE');
    const dnat = find((e) => e.orig.sport === 40004, 'DNAT');
    assert.equal(dnat.reply?.src, '203.0.113.2');
    const udp = entries.filter((e) => e.orig.proto === 17 && e.family === 2);
    assert.deepEqual(udp.map((e) => e.zone ?? 0).sort(), [0, 9], 'same tuple in two zones');
    assert.equal(find((e) => e.orig.proto === 136, 'udplite').orig.dport, 2000);
    const icmp = find((e) => e.orig.proto === 1, 'icmp');
    assert.deepEqual(icmp.orig, {
      src: '192.0.2.8',
      dst: '198.51.100.5',
      proto: 1,
      icmpId: 4660,
      icmpType: 8,
      icmpCode: 0,
    });
    assert.equal(icmp.reply?.icmpType, 0);
    const sctp = find((e) => e.orig.proto === 132, 'sctp');
    // state 4 = ESTABLISHED; conntrack -I hands the vtags to the kernel in host order, so the
    // kernel (and we) read 10 as 0x0a000000
    assert.deepEqual(sctp.sctp, { state: 4, vtagOrig: 0x0a000000, vtagReply: 0x0b000000 });
    const gre = find((e) => e.orig.proto === 47, 'gre');
    assert.equal(gre.orig.sport, 5);
    assert.equal(gre.orig.dport, 6);
    const tcp6 = find((e) => e.family === 10 && e.orig.proto === 6, 'tcp6');
    assert.equal(tcp6.orig.src, '2001:db8::1');
    assert.equal(tcp6.mark, 1);
    const icmp6 = find((e) => e.orig.proto === 58, 'icmpv6');
    assert.equal(icmp6.orig.icmpType, 128);
    assert.equal(icmp6.reply?.icmpType, 129);
  });

  it('prints the same text as conntrack -L (modulo timeouts)', async function () {
    const stock = await ns().exec('conntrack', ['-L']);
    const ours = await runCtsync(ns(), ['ct', 'list']);
    assert.equal(ours.exitCode, 0, ours.stderr);
    assert.deepEqual(normalize(ours.stdout), normalize(stock.stdout));
    assert.match(ours.stderr, new RegExp(`${INSERTS.length} flow entries have been shown`));
    const ext = await ns().exec('conntrack', ['-L', '-o', 'extended']);
    const oursExt = await runCtsync(ns(), ['ct', 'list', '-o']);
    assert.deepEqual(normalize(oursExt.stdout.replace(/^(\S+\s+\d+ )/gm, '')).length, INSERTS.length);
    assert.deepEqual(
      oursExt.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^(\S+\s+\d+ \S+\s+\d+) \d+ /, '$1 T '))
        .sort(),
      ext.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^(\S+\s+\d+ \S+\s+\d+) \d+ /, '$1 T '))
        .sort(),
    );
  });

  it('filters by zone, mark and family like the kernel does', async function () {
    const zone = await runCtsync(ns(), ['ct', 'list', '--json', '--zone', '5']);
    assert.deepEqual(
      zone.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Entry).orig.sport),
      [40002],
    );
    const mark = await runCtsync(ns(), ['ct', 'list', '--json', '--mark', '66']);
    assert.deepEqual(
      mark.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Entry).orig.sport),
      [40000],
    );
    const v6 = await runCtsync(ns(), ['ct', 'list', '--json', '--family', 'ipv6']);
    assert.equal(v6.stdout.trim().split('\n').length, 3);
    const count = await runCtsync(ns(), ['ct', 'count']);
    assert.equal(count.stdout.trim(), String(INSERTS.length));
  });

  it('after conntrack -F, ct load restores the same table', async function () {
    const before = await ns().exec('conntrack', ['-L']);
    const flush = await ns().exec('conntrack', ['-F']);
    assert.equal(flush.exitCode, 0);
    assert.equal((await ns().exec('conntrack', ['-L'])).stdout.trim(), '');
    const load = await runCtsync(ns(), ['ct', 'load', jsonFile, '--json']);
    assert.equal(load.exitCode, 0, load.stderr);
    const summary = JSON.parse(load.stdout);
    assert.equal(summary.created, INSERTS.length);
    assert.equal(summary.failed, 0);
    const after = await ns().exec('conntrack', ['-L']);
    assert.deepEqual(normalize(after.stdout), normalize(before.stdout));
  });

  it('loading again reports existing entries, and --replace re-creates them', async function () {
    const again = await runCtsync(ns(), ['ct', 'load', jsonFile, '--json']);
    assert.equal(again.exitCode, 1, 'not everything went in: exit code 1');
    assert.equal(JSON.parse(again.stdout).existing, INSERTS.length);
    const replace = await runCtsync(ns(), ['ct', 'load', jsonFile, '--json', '--replace']);
    assert.equal(replace.exitCode, 0, replace.stderr);
    assert.equal(JSON.parse(replace.stdout).replaced, INSERTS.length);
  });

  it('names the line and the reason for bad input, and loads nothing from a malformed file', async function () {
    const bad = path.join(path.dirname(jsonFile), 'bad.jsonl');
    const good = fs.readFileSync(jsonFile, 'utf8').split('\n')[0];
    fs.writeFileSync(
      bad,
      [
        good,
        '{"family":2,',
        '{"family":2,"orig":{"src":"192.0.2.1","dst":"198.51.100.1","proto":6,"sport":70000}}',
        '{"family":4,"orig":{"src":"a","dst":"b","proto":6}}',
      ].join('\n'),
    );
    await ns().exec('conntrack', ['-F']);
    const r = await runCtsync(ns(), ['ct', 'load', bad]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /bad\.jsonl:2: not valid JSON/);
    assert.match(r.stderr, /bad\.jsonl:3: orig\.sport: must be <= 65535/);
    assert.match(r.stderr, /bad\.jsonl:4: family: must be one of 2, 10/);
    assert.match(r.stderr, /nothing loaded/);
    assert.equal((await ns().exec('conntrack', ['-L'])).stdout.trim(), '', 'nothing reached the kernel');
  });

  it('reports entries the kernel refuses, with the line and the errno', async function () {
    const file = path.join(path.dirname(jsonFile), 'refused.jsonl');
    const ok = {
      family: 2,
      orig: { src: '192.0.2.50', dst: '198.51.100.50', proto: 17, sport: 1, dport: 2 },
      timeout: 100,
    };
    const noHelper = { ...ok, orig: { ...ok.orig, sport: 3 }, helper: 'nosuchhelper' };
    const noTimeout = { family: 2, orig: { ...ok.orig, sport: 4 } };
    fs.writeFileSync(file, [ok, noHelper, noTimeout].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = await runCtsync(ns(), ['ct', 'load', file]);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /refused\.jsonl:2: EOPNOTSUPP/);
    assert.match(r.stderr, /refused\.jsonl:3: timeout: missing/);
    assert.match(r.stderr, /1 created, 0 already existing, 0 replaced, 2 failed/);
  });

  it('loads an IPv6 entry whose reply tuple spells its addresses otherwise as un-NATed (no NAT status bits)', async function () {
    const file = path.join(path.dirname(jsonFile), 'spelling.jsonl');
    const e = {
      family: 10,
      orig: { src: '2001:db8::60', dst: '2001:db8::61', proto: 6, sport: 1000, dport: 80 },
      reply: { src: '2001:DB8:0::61', dst: '2001:0db8::60', proto: 6, sport: 80, dport: 1000 },
      status: 8,
      timeout: 100,
      tcp: { state: 3 },
    };
    fs.writeFileSync(file, JSON.stringify(e) + '\n');
    const r = await runCtsync(ns(), ['ct', 'load', file]);
    assert.equal(r.exitCode, 0, r.stderr);
    const list = await runCtsync(ns(), ['ct', 'list', '--json', '--family', 'ipv6']);
    const got = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Entry)
      .find((x) => x.orig.src === '2001:db8::60');
    assert.ok(got, list.stdout);
    assert.deepEqual(got.reply, { src: '2001:db8::61', dst: '2001:db8::60', proto: 6, sport: 80, dport: 1000 });
    assert.equal(got.status! & 0x1b0, 0, `no NAT bits in status ${got.status}`);
  });

  it('rejects unknown options and bad values with a clear message', async function () {
    const r = await runCtsync(ns(), ['ct', 'list', '--zone', 'x']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /zone must be an integer 0\.\.65535, got 'x'/);
    const u = await runCtsync(ns(), ['ct', 'list', '--bogus']);
    assert.notEqual(u.exitCode, 0);
    assert.match(u.stderr, /unknown option '--bogus'/);
  });
});
