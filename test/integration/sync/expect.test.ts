// ExpectationSync across a pair, in both directions with the stock conntrackd 1.4.7: the
// expectations of the primary's kernel (masters with the ftp helper, both families, one with
// NAT, one PERMANENT) reach the backup's external expectation cache as conntrackd prints them;
// deletions follow; `-f external` then `-n` pulls them again; and the backup's `-c` puts the
// masters and their expectations into its own kernel.
//
// Kernel note (6.18): the ftp helper allows one expectation per master, so each has its own.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, ftpSessions, sleep, stripActive, type Impl, type SyncNode } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';
import { formatCacheExpect } from '../../../src/conntrack/format.js';
import type { Expect } from '../../../src/conntrack/entry.js';

const N = 60;

for (const [primary, backup] of [
  ['ctsync', 'conntrackd'],
  ['conntrackd', 'ctsync'],
] as Array<[Impl, Impl]>) {
  describe(`expectation sync: ${primary} primary -> ${backup} backup`, function () {
    this.timeout(120_000);
    let pair: SyncPair;
    const { masters, expects } = ftpSessions(N);

    async function ctsync(node: SyncNode, args: string[], input?: object[]): Promise<string> {
      let file = '';
      if (input) {
        file = path.join(pair.dir, `x-${Date.now()}-${Math.random().toString(16).slice(2)}.jsonl`);
        fs.writeFileSync(file, input.map((o) => JSON.stringify(o)).join('\n') + '\n');
      }
      const r = await node.ns.exec(process.execPath, [ctsyncBin(), ...args, ...(file ? [file] : [])]);
      if (file) fs.rmSync(file, { force: true });
      assert.equal(r.exitCode, 0, `ctsync ${args.join(' ')} on ${node.name}: ${r.stderr}`);
      return r.stdout;
    }

    const kernelExpects = async (node: SyncNode): Promise<Expect[]> =>
      (await ctsync(node, ['ct', 'expect', 'list', '--json']))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Expect);

    /** What the peer's `-e expect` must show for a kernel's expectations. */
    const linesFor = (list: Expect[]): string[] => stripActive(list.map((x) => formatCacheExpect(x, 0)).join('\n'));

    async function externalExpect(node: SyncNode): Promise<string[]> {
      const r = await node.client(['-e', 'expect']);
      assert.equal(r.exitCode, 0, r.stderr);
      return stripActive(r.stdout);
    }

    /** Waits until `to`'s external expectation cache shows what `from`'s kernel holds. */
    async function converge(from: SyncNode, to: SyncNode): Promise<string[]> {
      let want: string[] = [];
      let got: string[] = [];
      for (const end = Date.now() + 30_000; Date.now() < end; await sleep(250)) {
        want = linesFor(await kernelExpects(from));
        got = await externalExpect(to);
        if (got.join('\n') === want.join('\n')) return got;
      }
      assert.deepEqual(got, want, `${to.impl} on ${to.name}: external expectation cache${to.logTail()}`);
      return got;
    }

    /** The fields a commit must carry over (timeouts, ids and NAT are not compared). */
    const stable = (list: Expect[]): string[] =>
      list.map((x) => JSON.stringify([x.family, x.master, x.tuple, x.mask, x.flags ?? 0, x.helper])).sort();

    before(async function () {
      requireRoot.call(this, 'conntrack', 'conntrackd');
      pair = await SyncPair.create(
        `xp${primary[1]}`,
        { impl: primary, options: ['ExpectationSync on'] },
        { impl: backup, options: ['ExpectationSync on'] },
      );
      await pair.a.start();
      await pair.b.start();
      await pair.b.settled();
    });

    after(async function () {
      await pair?.destroy();
    });

    it(`replicates ${N} expectations of both families, with NAT and flags`, async function () {
      await pair.load(pair.a, masters);
      await ctsync(pair.a, ['ct', 'expect', 'load'], expects);
      const got = await converge(pair.a, pair.b);
      assert.equal(got.length, N);
      assert.ok(
        got.some((l) => l.includes(' PERMANENT class=0 helper=ftp')),
        'flags are carried',
      );
      assert.ok(
        got.some((l) => l.startsWith('proto=6 src=2001:db8:1::')) || got.some((l) => l.includes('src=2001:db8::')),
        'IPv6 is carried',
      );
      await pair.converge(pair.a, pair.b); // the masters too
    });

    it('-i expect on the primary shows its own expectations', async function () {
      const r = await pair.a.client(['-i', 'expect']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(stripActive(r.stdout), linesFor(await kernelExpects(pair.a)));
    });

    it("the stock conntrackd client dumps a ctsync daemon's caches as ctsync does", async function () {
      const node = primary === 'ctsync' ? pair.a : pair.b;
      for (const args of [['-i', 'expect'], ['-e', 'expect'], ['-i'], ['-e']]) {
        const stock = await node.ns.exec('conntrackd', ['-C', node.conf, ...args]);
        assert.equal(stock.exitCode, 0, stock.stderr);
        const ours = await node.client(args);
        assert.deepEqual(stripActive(stock.stdout), stripActive(ours.stdout), args.join(' '));
      }
    });

    it('deletions follow', async function () {
      const gone = expects.filter((_, i) => i % 3 === 0);
      await ctsync(pair.a, ['ct', 'expect', 'delete'], gone);
      const got = await converge(pair.a, pair.b);
      assert.equal(got.length, N - gone.length);
    });

    it('-n on the backup pulls the expectations again after -f', async function () {
      await pair.b.settled();
      // (conntrackd's `-f external` keeps the expectations; `-f` flushes every cache)
      assert.equal((await pair.b.client(['-f'])).exitCode, 0);
      assert.deepEqual(await externalExpect(pair.b), []);
      assert.equal((await pair.b.client(['-n'])).exitCode, 0);
      await converge(pair.a, pair.b);
    });

    it('-c on the backup commits the masters, then their expectations, into its kernel', async function () {
      await sleep(2500); // the committed timeouts are what is left of the primary's
      const r = await pair.b.client(['-c']);
      assert.equal(r.exitCode, 0, r.stderr + pair.b.logTail());
      const theirs = await kernelExpects(pair.a);
      const ours = await kernelExpects(pair.b);
      assert.deepEqual(stable(ours), stable(theirs));
      if (backup === 'ctsync') {
        for (const x of ours)
          assert.ok(x.timeout! <= 298, `timeout ${x.timeout}: the kernel's own 300 s, not what was left`);
        const s = await pair.b.client(['-s', 'expect']);
        assert.match(
          s.stdout,
          new RegExp(`^cache external:\\ncurrent active connections:\\t\\s+${theirs.length}\\n`, 'm'),
        );
        assert.match(
          (await pair.b.client(['-s'])).stdout,
          new RegExp(`\\texpectations external:\\s+${theirs.length}\\n`),
        );
      }
    });
  });
}

describe('expectation sync: ctsync without ExpectationSync', function () {
  this.timeout(60_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'conntrackd');
    pair = await SyncPair.create('xpoff', { impl: 'conntrackd', options: ['ExpectationSync on'] }, { impl: 'ctsync' });
    await pair.a.start();
    await pair.b.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it("ignores the peer's EXP messages (counted) and says why -e expect has nothing", async function () {
    const { masters, expects } = ftpSessions(3);
    await pair.load(pair.a, masters);
    const file = path.join(pair.dir, 'x.jsonl');
    fs.writeFileSync(file, expects.map((o) => JSON.stringify(o)).join('\n') + '\n');
    assert.equal((await pair.a.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'expect', 'load', file])).exitCode, 0);
    let ignored = 0;
    for (let i = 0; i < 40 && ignored < 3; i++) {
      await sleep(250);
      const s = JSON.parse((await pair.b.client(['-s', '--json'])).stdout) as { expectMessagesIgnored: number };
      ignored = s.expectMessagesIgnored;
    }
    assert.equal(ignored, 3);
    assert.match((await pair.b.client(['-s'])).stdout, /\tEXP messages ignored:\s+3\n/);
    const r = await pair.b.client(['-e', 'expect']);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /ExpectationSync on/);
  });
});
