// Expectations on the real kernel: masters with the ftp helper are made with `ctsync ct load`,
// expectations with `ctsync ct expect load`; `ctsync ct expect list` prints what
// `conntrack -L expect` prints, its JSON loads back into the same table, flush/stats/events match
// the stock tool, and bad input or refused expectations are reported with their line.
//
// Kernel notes (6.18): the ftp helper allows one expectation per master (one more evicts the
// oldest), so every expectation here has a master of its own; the timeout of a new expectation
// comes from the helper policy (ftp: 300 s), whatever the request says.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ctsyncBin, runCtsync, useNetns } from '../../helpers/netns.js';
import type { Entry, Expect, Tuple } from '../../../src/conntrack/entry.js';
import { SENTINEL, lines, until } from '../../helpers/listen.js';

type ExpectEvent = Expect & { type: string; table?: string; portid?: number };

const tcp = (src: string, dst: string, sport: number, dport: number): Tuple => ({ src, dst, proto: 6, sport, dport });

/** An FTP control connection, ESTABLISHED, with the ftp helper (what expectations need). */
function master(family: number, orig: Tuple, withHelper = true): Entry {
  return { family, orig, status: 6, timeout: 3600, tcp: { state: 3 }, ...(withHelper ? { helper: 'ftp' } : {}) };
}

const M = {
  a: tcp('192.0.2.10', '198.51.100.20', 40000, 21),
  b: tcp('192.0.2.11', '198.51.100.21', 40001, 21),
  c: tcp('2001:db8::10', '2001:db8:1::20', 40002, 21),
  d: tcp('2001:db8::11', '2001:db8:1::21', 40003, 21),
  e: tcp('192.0.2.13', '198.51.100.23', 40005, 21),
  f: tcp('192.0.2.14', '198.51.100.24', 40006, 21),
  noHelper: tcp('192.0.2.12', '198.51.100.22', 40004, 21),
  sentinel: tcp(SENTINEL, '203.0.113.251', 40000, 21),
};

const MASTERS: Entry[] = [
  master(2, M.a),
  master(2, M.b),
  master(10, M.c),
  master(10, M.d),
  master(2, M.e),
  master(2, M.f),
  master(2, M.noHelper, false),
  master(2, M.sentinel),
];

/** Hand-written expectations: masks given by their source part only, as a user would. */
const EXPECTS = {
  // passive FTP: the client opens a data connection to port 50000 of the server
  a: {
    family: 2,
    master: M.a,
    tuple: tcp('192.0.2.10', '198.51.100.20', 0, 50000),
    mask: { src: '255.255.255.255', sport: 0 },
  },
  // any host of the client's /24, permanent
  b: {
    family: 2,
    master: M.b,
    tuple: tcp('192.0.2.11', '198.51.100.21', 0, 50001),
    mask: { src: '255.255.255.0', sport: 0 },
    flags: 1,
  },
  c: {
    family: 10,
    master: M.c,
    tuple: tcp('2001:db8::10', '2001:db8:1::20', 0, 50002),
    mask: { src: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', sport: 0 },
  },
  // any host of the client's /64, inactive
  d: {
    family: 10,
    master: M.d,
    tuple: tcp('2001:db8::11', '2001:db8:1::21', 0, 50003),
    mask: { src: 'ffff:ffff:ffff:ffff::', sport: 0 },
    flags: 2,
  },
  // active FTP through NAT: the server connects back to 203.0.113.5:6000, NATed to the client
  e: {
    family: 2,
    master: M.e,
    tuple: tcp('198.51.100.23', '203.0.113.5', 0, 6000),
    mask: { src: '255.255.255.255', sport: 0 },
    natDir: 1,
    natTuple: { src: '192.0.2.13', proto: 6, sport: 5000 },
    fn: 'nat-follow-master',
  },
};
const ALL = Object.values(EXPECTS);

const jsonl = (rows: object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Expectation lines with the timeout (first field) blanked, sorted. */
function normalize(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^\d+ /, 'T '))
    .sort();
}

/** `ct expect list --json` without the fields that change (timeout, id), sorted by port. */
function stable(text: string): Expect[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Expect)
    .map(({ timeout: _t, id: _i, ...x }) => x)
    .sort((p, q) => (p.tuple.dport ?? 0) - (q.tuple.dport ?? 0));
}

describe('ct expect on the real kernel', function () {
  const ns = useNetns('expect', 'conntrack');
  let dir = '';
  const file = (name: string): string => path.join(dir, name);

  /** Both families as conntrack(8) lists them (it shows one family per call, ipv4 by default). */
  async function stockList(): Promise<string> {
    const v4 = await ns().exec('conntrack', ['-L', 'expect', '-f', 'ipv4']);
    const v6 = await ns().exec('conntrack', ['-L', 'expect', '-f', 'ipv6']);
    assert.equal(v4.exitCode, 0, v4.stderr);
    assert.equal(v6.exitCode, 0, v6.stderr);
    return v4.stdout + '\n' + v6.stdout;
  }

  async function listJson(...args: string[]): Promise<string> {
    const r = await runCtsync(ns(), ['ct', 'expect', 'list', '--json', ...args]);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout;
  }

  async function load(name: string, ...args: string[]) {
    return runCtsync(ns(), ['ct', 'expect', 'load', file(name), ...args]);
  }

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-exp-'));
    fs.writeFileSync(file('masters.jsonl'), jsonl(MASTERS));
    fs.writeFileSync(file('expects.jsonl'), jsonl(ALL));
    // the masters, with "helper":"ftp", through our own loader
    const r = await runCtsync(ns(), ['ct', 'load', file('masters.jsonl'), '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).created, MASTERS.length);
    const listed = await ns().exec('conntrack', ['-L']);
    assert.equal((listed.stdout.match(/helper=ftp/g) ?? []).length, MASTERS.length - 1, listed.stdout);
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads hand-written expectations of both families', async function () {
    const r = await load('expects.jsonl', '--json');
    assert.equal(r.exitCode, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.created, ALL.length);
    assert.equal(summary.failed, 0);
    const human = await load('expects.jsonl');
    assert.match(human.stderr, /0 created, 5 already existing, 0 replaced, 0 failed \(5 expectations in /);
  });

  it('prints the same text as conntrack -L expect -f ipv4 / -f ipv6 (modulo timeouts)', async function () {
    const ours = await runCtsync(ns(), ['ct', 'expect', 'list']);
    assert.equal(ours.exitCode, 0, ours.stderr);
    assert.match(ours.stderr, /ctsync: 5 expectations have been shown\./);
    const stock = await stockList();
    assert.deepEqual(normalize(ours.stdout), normalize(stock));
    assert.equal(normalize(ours.stdout).length, ALL.length);
    // the layout details the test data was chosen for
    assert.match(
      ours.stdout,
      /mask-src=255\.255\.255\.0 mask-dst=255\.255\.255\.255 sport=0 dport=65535 master-src=192\.0\.2\.11 .* PERMANENT class=0 helper=ftp/,
    );
    assert.match(ours.stdout, /mask-src=ffff:ffff:ffff:ffff:: .* INACTIVE class=0 helper=ftp/);
    // --family against the stock tool's per-family listing (ipv4 is its default)
    const v4 = await runCtsync(ns(), ['ct', 'expect', 'list', '--family', 'ipv4']);
    assert.deepEqual(normalize(v4.stdout), normalize((await ns().exec('conntrack', ['-L', 'expect'])).stdout));
    const v6 = await runCtsync(ns(), ['ct', 'expect', 'list', '--family', 'ipv6']);
    assert.deepEqual(
      normalize(v6.stdout),
      normalize((await ns().exec('conntrack', ['-L', 'expect', '-f', 'ipv6'])).stdout),
    );
    assert.equal(normalize(v6.stdout).length, 2);
  });

  it('--json has every field, and after conntrack -F expect loads back into the same table', async function () {
    const text = await listJson();
    const list = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Expect);
    assert.equal(list.length, ALL.length);
    const byPort = (port: number): Expect => {
      const x = list.find((y) => y.tuple.dport === port);
      assert.ok(x, `no expectation to port ${port}`);
      return x;
    };
    const a = byPort(50000);
    assert.deepEqual(a.master, M.a);
    assert.deepEqual(a.tuple, EXPECTS.a.tuple);
    assert.deepEqual(a.mask, { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 });
    assert.equal(a.helper, 'ftp', "dumps report the master's helper");
    assert.equal(a.flags, 0);
    assert.equal(a.class, 0);
    assert.ok(a.timeout! > 250 && a.timeout! <= 300, `the ftp policy's 300 s, got ${a.timeout}`);
    assert.equal(typeof a.id, 'number');
    assert.equal(byPort(50001).flags, 1);
    assert.equal(byPort(50003).flags, 2);
    assert.equal(byPort(50003).family, 10);
    const e = byPort(6000);
    assert.equal(e.natDir, 1);
    assert.deepEqual(e.natTuple, { src: '192.0.2.13', dst: '0.0.0.0', proto: 6, sport: 5000, dport: 0 });
    assert.equal(e.fn, 'nat-follow-master');
    fs.writeFileSync(file('dump.jsonl'), text);
    const v6 = await listJson('--family', 'ipv6');
    assert.deepEqual(
      v6
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Expect).family),
      [10, 10],
    );

    const stockBefore = await stockList();
    const flush = await ns().exec('conntrack', ['-F', 'expect']);
    assert.equal(flush.exitCode, 0, flush.stderr);
    assert.equal((await listJson()).trim(), '', 'the table is empty');

    const r = await load('dump.jsonl', '--json');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).created, ALL.length);
    assert.deepEqual(stable(await listJson()), stable(text));
    assert.deepEqual(normalize(await stockList()), normalize(stockBefore));
  });

  it('loading again reports existing ones; --replace re-creates them; --update sets the timeouts', async function () {
    const again = await load('dump.jsonl', '--json');
    assert.equal(again.exitCode, 1, 'not everything went in: exit code 1');
    assert.equal(JSON.parse(again.stdout).existing, ALL.length);
    const replace = await load('dump.jsonl', '--json', '--replace');
    assert.equal(replace.exitCode, 0, replace.stderr);
    assert.equal(JSON.parse(replace.stdout).replaced, ALL.length);

    // the kernel ignores the timeout on create; an update sets it
    const rows = fs
      .readFileSync(file('dump.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => ({ ...JSON.parse(l), timeout: 100 }));
    fs.writeFileSync(file('timeouts.jsonl'), jsonl(rows));
    const created = await load('timeouts.jsonl', '--json', '--replace');
    assert.equal(created.exitCode, 0, created.stderr);
    for (const x of (await listJson())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Expect)) {
      assert.ok(x.timeout! > 250, `create ignores the timeout: ${x.timeout}`);
    }
    const update = await load('timeouts.jsonl', '--json', '--update');
    assert.equal(update.exitCode, 0, update.stderr);
    assert.deepEqual(JSON.parse(update.stdout), { entries: ALL.length, updated: ALL.length, missing: 0, failed: 0 });
    for (const x of (await listJson())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Expect)) {
      assert.ok(x.timeout! <= 100 && x.timeout! >= 90, `timeout set to 100: ${x.timeout}`);
    }
    assert.match((await ns().exec('conntrack', ['-L', 'expect'])).stdout, /^(100|99|98) proto=6 /m);
  });

  it('flush --family ipv6 leaves the ipv4 expectations (the kernel flush alone would take both)', async function () {
    const r = await runCtsync(ns(), ['ct', 'expect', 'flush', '--family', 'ipv6']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /2 ipv6 expectations have been deleted/);
    assert.equal((await ns().exec('conntrack', ['-L', 'expect', '-f', 'ipv6'])).stdout.trim(), '');
    assert.deepEqual(
      stable(await listJson()).map((x) => x.family),
      [2, 2, 2],
    );
    const all = await runCtsync(ns(), ['ct', 'expect', 'flush']);
    assert.equal(all.exitCode, 0, all.stderr);
    assert.match(all.stderr, /expectation table has been emptied/);
    assert.equal((await listJson()).trim(), '');
    assert.equal((await load('dump.jsonl', '--json')).exitCode, 0);
  });

  it('prints the counters like conntrack -S expect', async function () {
    const ours = await runCtsync(ns(), ['ct', 'expect', 'stats']);
    const stock = await ns().exec('conntrack', ['-S', 'expect']);
    assert.equal(ours.exitCode, 0, ours.stderr);
    assert.equal(ours.stdout, stock.stdout);
    assert.match(ours.stdout, /^cpu=0 {3}\texpect_new=\d+ expect_create=\d+ expect_delete=\d+ $/m);
    const viaStats = await runCtsync(ns(), ['ct', 'stats', '--expect']);
    assert.equal(viaStats.stdout, stock.stdout);
    const json = await runCtsync(ns(), ['ct', 'expect', 'stats', '--json']);
    const cpus = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(cpus.length, stock.stdout.trim().split('\n').length);
    const created = cpus.reduce((n, c) => n + c.expect_create, 0);
    assert.ok(created >= 4 * ALL.length, `expectations created so far: ${created}`);
  });

  it('ct events --expect sees expectation NEW and DESTROY events with every field', async function () {
    await runCtsync(ns(), ['ct', 'expect', 'flush']);
    const proc = ns().spawn(process.execPath, [ctsyncBin(), 'ct', 'events', '--expect', '--json']);
    const out = lines(proc);
    try {
      let sport = 1000;
      await until(
        'the listener to subscribe',
        async () => {
          // conntrack events come too: a sentinel flow, a new tuple each try
          await ns().exec('conntrack', [
            '-I',
            '-p',
            'udp',
            '-s',
            SENTINEL,
            '-d',
            '203.0.113.251',
            '--sport',
            String(++sport),
            '--dport',
            '9',
            '-t',
            '5',
          ]);
          return out.some((l) => l.includes(SENTINEL));
        },
        15_000,
      );
      out.ready = true;
      out.length = 0;
      fs.writeFileSync(file('ac.jsonl'), jsonl([EXPECTS.a, EXPECTS.c]));
      assert.equal((await load('ac.jsonl')).exitCode, 0);
      // the stock tool insists on reply ports for -D expect -p tcp (and exits 1 even on success)
      await ns().exec('conntrack', [
        '-D',
        'expect',
        '-s',
        '192.0.2.10',
        '-d',
        '198.51.100.20',
        '-p',
        'tcp',
        '--sport',
        '0',
        '--dport',
        '50000',
        '--reply-port-src',
        '0',
        '--reply-port-dst',
        '0',
      ]);
      await until('the DESTROY of the ipv4 expectation', () => out.filter((l) => l.includes('"DESTROY"')).length >= 1);
      assert.equal((await runCtsync(ns(), ['ct', 'expect', 'flush'])).exitCode, 0);
      await until('four expectation events', () => out.filter((l) => l.includes('"table":"expect"')).length >= 4);
      const ev = out.map((l) => JSON.parse(l) as ExpectEvent).filter((e) => e.table === 'expect');
      assert.deepEqual(
        ev.map((e) => `${e.type} ${e.tuple.dport}`),
        ['NEW 50000', 'NEW 50002', 'DESTROY 50000', 'DESTROY 50002'],
      );
      for (const e of ev) {
        const want = e.tuple.dport === 50000 ? EXPECTS.a : EXPECTS.c;
        assert.equal(e.family, want.family);
        assert.deepEqual(e.master, want.master);
        assert.deepEqual(e.tuple, want.tuple);
        assert.equal(e.mask.src, want.mask.src);
        assert.equal(e.helper, 'ftp');
        assert.equal(typeof e.id, 'number');
        assert.ok(e.portid! > 0, 'caused by a netlink request');
      }
      assert.equal(ev[2].id, ev[0].id, 'the same expectation');
      assert.equal(ev[3].id, ev[1].id, 'the same expectation');
      assert.ok(ev[0].timeout! > 290 && ev[0].timeout! <= 300);
      assert.ok(
        !out.some((l) => l.includes('"UPDATE"') && l.includes('"table":"expect"')),
        'no expectation UPDATE events exist',
      );
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('ct expect events prints events like conntrack -E expect', async function () {
    await runCtsync(ns(), ['ct', 'expect', 'flush']);
    const proc = ns().spawn(process.execPath, [ctsyncBin(), 'ct', 'expect', 'events']);
    const stock = ns().spawn('conntrack', ['-E', 'expect']);
    const ours = lines(proc);
    const theirs = lines(stock);
    const sentinel = {
      family: 2,
      master: M.sentinel,
      tuple: tcp(SENTINEL, '203.0.113.251', 0, 50100),
      mask: { src: '255.255.255.255', sport: 0 },
    };
    fs.writeFileSync(file('sentinel.jsonl'), jsonl([sentinel]));
    try {
      await until(
        'both listeners',
        async () => {
          // expectation events only: re-create a sentinel expectation until both have seen one
          await load('sentinel.jsonl', '--replace', '-q');
          return ours.length > 0 && theirs.length > 0;
        },
        15_000,
      );
      await runCtsync(ns(), ['ct', 'expect', 'delete', file('sentinel.jsonl'), '-q']);
      ours.ready = theirs.ready = true;
      ours.length = 0;
      theirs.length = 0;
      fs.writeFileSync(file('bd.jsonl'), jsonl([EXPECTS.b, EXPECTS.d]));
      assert.equal((await load('bd.jsonl')).exitCode, 0);
      const del = await runCtsync(ns(), ['ct', 'expect', 'delete', file('bd.jsonl')]);
      assert.equal(del.exitCode, 0, del.stderr);
      assert.match(del.stderr, /2 deleted, 0 not found, 0 failed/);
      await until('four events each', () => ours.length >= 4 && theirs.length >= 4);
      // timeouts may differ by a second between the two readers
      const norm = (l: string): string => l.replace(/^(\s*\[\w+\]) \d+ /, '$1 T ');
      assert.deepEqual(ours.slice(0, 4).map(norm), theirs.slice(0, 4).map(norm));
      assert.deepEqual(
        ours.map((l) => l.trim().split(' ')[0]),
        ['[NEW]', '[NEW]', '[DESTROY]', '[DESTROY]'],
      );
      assert.match(
        ours[1],
        /^ {4}\[NEW\] \d+ proto=6 src=2001:db8::11 dst=2001:db8:1::21 sport=0 dport=50003 mask-src=ffff:ffff:ffff:ffff:: /,
      );
    } finally {
      proc.kill('SIGTERM');
      stock.kill('SIGTERM');
    }
  });

  it('names the line and the reason for bad input, and loads nothing from a malformed file', async function () {
    await runCtsync(ns(), ['ct', 'expect', 'flush']);
    fs.writeFileSync(
      file('bad.jsonl'),
      [
        JSON.stringify(EXPECTS.a),
        '{"family":2,',
        JSON.stringify({ ...EXPECTS.b, mask: undefined }),
        JSON.stringify({ ...EXPECTS.c, family: 2 }),
        JSON.stringify({ ...EXPECTS.a, tuple: { ...EXPECTS.a.tuple, sport: 70000 } }),
      ].join('\n'),
    );
    const r = await load('bad.jsonl');
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /bad\.jsonl:2: not valid JSON/);
    assert.match(r.stderr, /bad\.jsonl:3: expectation: missing field 'mask'/);
    assert.match(r.stderr, /bad\.jsonl:4: master: address family does not match family 2 \(ipv4\)/);
    assert.match(r.stderr, /bad\.jsonl:5: tuple\.sport: must be <= 65535/);
    assert.match(r.stderr, /4 invalid line\(s\): nothing loaded/);
    assert.equal((await listJson()).trim(), '', 'nothing reached the kernel');

    const skip = await load('bad.jsonl', '--skip-invalid', '--json');
    assert.equal(skip.exitCode, 1, 'invalid lines make the exit code 1');
    assert.deepEqual(
      { ...JSON.parse(skip.stdout), seconds: 0 },
      { entries: 1, created: 1, existing: 0, replaced: 0, failed: 0, invalid: 4, seconds: 0 },
    );
  });

  it('reports expectations the kernel refuses, with the line and the errno', async function () {
    const noMaster = {
      ...EXPECTS.a,
      master: tcp('192.0.2.99', '198.51.100.99', 40099, 21),
      tuple: tcp('192.0.2.99', '198.51.100.99', 0, 50099),
    };
    const noHelper = {
      family: 2,
      master: M.noHelper,
      tuple: tcp('192.0.2.12', '198.51.100.22', 0, 50004),
      mask: { src: '255.255.255.255', sport: 0 },
    };
    const ok = {
      family: 2,
      master: M.f,
      tuple: tcp('192.0.2.14', '198.51.100.24', 0, 50005),
      mask: { src: '255.255.255.255', sport: 0 },
    };
    fs.writeFileSync(file('refused.jsonl'), jsonl([noMaster, noHelper, ok]));
    const r = await load('refused.jsonl');
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /refused\.jsonl:1: ENOENT: .*no master conntrack/);
    assert.match(r.stderr, /refused\.jsonl:2: EOPNOTSUPP: .*the master conntrack has no helper/);
    assert.match(r.stderr, /1 created, 0 already existing, 0 replaced, 2 failed/);
    const update = await load('refused.jsonl', '--update');
    assert.equal(update.exitCode, 1);
    assert.match(update.stderr, /refused\.jsonl:3: timeout: missing/);
    const del = await runCtsync(ns(), ['ct', 'expect', 'delete', file('refused.jsonl'), '--json']);
    assert.equal(del.exitCode, 1, 'some were not there');
    assert.deepEqual(JSON.parse(del.stdout), { entries: 3, deleted: 1, missing: 2, failed: 0, invalid: 0 });
  });
});
