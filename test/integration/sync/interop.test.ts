// Wire compatibility is the definition of "works": a ctsync node and a stock Debian conntrackd
// 1.4.7 sync with each other, in both directions, over a veth pair between two namespaces, on a
// UDP channel and on a TCP channel.
import { strict as assert } from 'node:assert';
import { SyncPair, mixedFlows, sleep, type Impl } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

const N = 10_000;

for (const [primary, backup, transport] of [
  ['ctsync', 'conntrackd', 'UDP'],
  ['conntrackd', 'ctsync', 'UDP'],
  ['ctsync', 'conntrackd', 'TCP'],
  ['conntrackd', 'ctsync', 'TCP'],
] as Array<[Impl, Impl, 'UDP' | 'TCP']>) {
  describe(`sync interop: ${primary} primary -> ${backup} backup over ${transport}`, function () {
    this.timeout(300_000);
    let pair: SyncPair;

    before(async function () {
      requireRoot.call(this, 'conntrack', 'conntrackd');
      pair = await SyncPair.create(
        `io${transport[0]}${primary[1]}`,
        { impl: primary, transport },
        { impl: backup, transport },
      );
      await pair.a.start();
      await pair.b.start();
    });

    after(async function () {
      await pair?.destroy();
    });

    it(`replicates ${N} new flows of mixed protocols, field for field`, async function () {
      await pair.load(pair.a, mixedFlows(N));
      const ms = await pair.converge(pair.a, pair.b);
      assert.equal((await pair.b.external()).length, N);
      console.log(`      (${N} flows converged in ${ms} ms)`);
    });

    it('replicates updates (marks) and deletions', async function () {
      // new marks on every flow (`ct load --update`: the stock `conntrack -U` fails on some of
      // these entries with EOPNOTSUPP), then delete all UDP flows
      const table = await pair.kernel(pair.a);
      await pair.update(
        pair.a,
        table.map((e) => ({ family: e.family, orig: e.orig, zone: e.zone, mark: 77 })),
      );
      await pair.converge(pair.a, pair.b);
      const ext = await pair.b.external();
      assert.ok(
        ext.every((l) => l.includes('mark=77')),
        'every external entry has the new mark',
      );
      const del = await pair.a.ns.exec('conntrack', ['-D', '-p', 'udp']);
      assert.equal(del.exitCode, 0, del.stderr);
      await pair.converge(pair.a, pair.b);
      assert.ok(!(await pair.b.external()).some((l) => l.startsWith('udp ')), 'no UDP flow left');
    });

    it("-n on the backup pulls the primary's cache again after -f external", async function () {
      await pair.b.settled(); // its own startup RESYNC's bulk must not land after the flush
      assert.equal((await pair.b.client(['-f', 'external'])).exitCode, 0);
      assert.equal((await pair.b.external()).length, 0);
      assert.equal((await pair.b.client(['-n'])).exitCode, 0);
      await pair.converge(pair.a, pair.b);
    });

    it('-B on the primary pushes its cache to the backup', async function () {
      await pair.b.settled();
      assert.equal((await pair.b.client(['-f', 'external'])).exitCode, 0);
      await sleep(200);
      assert.equal((await pair.a.client(['-B'])).exitCode, 0);
      await pair.converge(pair.a, pair.b);
    });

    it("the reverse direction works too: the backup's own flows reach the primary", async function () {
      await pair.load(pair.b, mixedFlows(500, 1_000_000));
      await pair.converge(pair.b, pair.a);
    });
  });
}
