// DisableExternalCache on: the backup puts what the primary sends straight into its kernel table
// (create, update, delete), with no commit, from a ctsync or a conntrackd 1.4.7 primary; its
// external cache stays empty and -c has nothing to do, as with conntrackd.
import { strict as assert } from 'node:assert';
import type { Entry } from '../../../src/conntrack/entry.js';
import { SyncPair, mixedFlows, sleep, type Impl, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

const N = 2_000;

/** What must be equal between the primary's kernel and the backup's, one line per flow. */
function flowLines(entries: Entry[]): string[] {
  return entries
    .map((e) => {
      const o = e.orig;
      const l4 =
        o.proto === 1 || o.proto === 58 ? `icmp ${o.icmpType}/${o.icmpCode}/${o.icmpId}` : `${o.sport}-${o.dport}`;
      const state = e.tcp?.state ?? e.sctp?.state ?? '';
      return `${e.family} ${o.proto} ${o.src} ${o.dst} ${l4} mark=${e.mark ?? 0} zone=${e.zone ?? 0} state=${state}`;
    })
    .sort();
}

async function kernelConverges(pair: SyncPair, from: SyncNode, to: SyncNode, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  let want: string[] = [];
  let got: string[] = [];
  while (Date.now() - t0 < timeoutMs) {
    want = flowLines(await pair.kernel(from));
    got = flowLines(await pair.kernel(to));
    if (want.length === got.length && want.every((l, i) => l === got[i])) return;
    await sleep(250);
  }
  const gotSet = new Set(got);
  const wantSet = new Set(want);
  throw new Error(
    `${to.name}'s kernel did not converge with ${from.name}'s: ${want.length} expected, ${got.length} present\n` +
      `missing: ${want
        .filter((l) => !gotSet.has(l))
        .slice(0, 5)
        .join('\n         ')}\n` +
      `unexpected: ${got
        .filter((l) => !wantSet.has(l))
        .slice(0, 5)
        .join('\n            ')}${to.logTail()}`,
  );
}

for (const primary of ['ctsync', 'conntrackd'] as Impl[]) {
  describe(`DisableExternalCache on: ${primary} primary -> ctsync backup's kernel`, function () {
    this.timeout(300_000);
    let pair: SyncPair;

    before(async function () {
      requireRoot.call(this, 'conntrack', 'conntrackd');
      pair = await SyncPair.create(
        `inj${primary[1]}`,
        { impl: primary },
        { impl: 'ctsync', ftfw: ['DisableExternalCache on'] },
      );
      await pair.a.start();
      await pair.b.start();
    });

    after(async function () {
      await pair?.destroy();
    });

    it(`new flows appear in the backup's kernel without a commit`, async function () {
      await pair.load(pair.a, mixedFlows(N));
      await kernelConverges(pair, pair.a, pair.b);
      assert.deepEqual(await pair.b.external(), [], 'the external cache stays empty');
      // nothing the injection caused goes back to the primary
      await sleep(500);
      assert.deepEqual(await pair.a.external(), []);
    });

    it("updates (marks) and deletions reach the backup's kernel", async function () {
      const table = await pair.kernel(pair.a);
      await pair.update(
        pair.a,
        table.map((e) => ({ family: e.family, orig: e.orig, zone: e.zone, mark: 77 })),
      );
      await kernelConverges(pair, pair.a, pair.b);
      const del = await pair.a.ns.exec('conntrack', ['-D', '-p', 'udp']);
      assert.equal(del.exitCode, 0, del.stderr);
      await kernelConverges(pair, pair.a, pair.b);
      assert.ok(!(await pair.kernel(pair.b)).some((e) => e.orig.proto === 17), 'no UDP flow left');
    });

    it('-c has nothing to do and -e prints nothing, as with conntrackd', async function () {
      const before = flowLines(await pair.kernel(pair.b));
      const c = await pair.b.client(['-c']);
      assert.equal(c.exitCode, 0, c.stderr);
      const e = await pair.b.client(['-e']);
      assert.equal(e.exitCode, 0, e.stderr);
      assert.equal(e.stdout, '');
      assert.deepEqual(flowLines(await pair.kernel(pair.b)), before);
    });

    it("-s shows conntrackd's 'external inject' block in place of the external cache", async function () {
      const s = await pair.b.client(['-s']);
      assert.equal(s.exitCode, 0, s.stderr);
      assert.ok(!s.stdout.includes('cache external:'), s.stdout);
      const m = /^external inject:\nconnections created:\t\t +(\d+)\tfailed:\t +0\n/m.exec(s.stdout);
      assert.ok(m, s.stdout);
      assert.ok(Number(m[1]) > 0);
    });
  });
}
