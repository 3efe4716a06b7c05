// Ghosts: a primary that crashes and comes back while its flows come and go. Flows deleted while
// it was down are never announced (no DEL can be sent for them), and its bulk after the restart
// adds and updates but never removes. The backup's external cache must still end equal to the
// primary's table: the backup asks for a resync when its peer restarts, and once the answer is
// known complete (FT-FW R3) drops what the peer did not send.
import { strict as assert } from 'node:assert';
import { SyncPair, flowChurn, sleep, type Impl } from '../../helpers/syncpair.js';
import { controlRequest } from '../../../src/control/client.js';
import { requireRoot } from '../../helpers/netns.js';

const RESTARTS = 3;

describe('ghost entries after peer restarts during churn', function () {
  this.timeout(300_000);
  before(function () {
    requireRoot.call(this, 'conntrack', 'conntrackd');
  });

  for (const primary of ['ctsync', 'conntrackd'] as Impl[]) {
    it(`${primary} primary killed ${RESTARTS} times while flows come and go: the ctsync backup ends equal to its table`, async function () {
      const pair = await SyncPair.create(`gh${primary[1]}`, { impl: primary }, { impl: 'ctsync' });
      try {
        await pair.a.start();
        await pair.b.start();
        await pair.b.settled();
        // ~2,000 flows alive: each one is deleted 2,000 creations later
        const churn = flowChurn(pair.a, {
          ms: 6000 + RESTARTS * 4000,
          dstOctet: 250,
          sportBase: 30000,
          deleteLag: 2000,
        });
        await sleep(3000);
        for (let k = 0; k < RESTARTS; k++) {
          await pair.a.kill();
          await sleep(1500); // deletions in the primary's kernel meanwhile go unannounced
          await pair.a.start();
          await sleep(2500);
        }
        const made = await churn;
        assert.ok(made > 2000, `churn made ${made} flows`);
        if (primary === 'ctsync') await pair.converge(pair.a, pair.b, 60_000);
        else {
          // conntrackd's own cache can differ from its kernel (a flow that ends while it dumps
          // the table at start-up stays in its cache): what it can send is its cache
          const flows = (lines: string[]): string[] =>
            lines.map((l) => /src=\S+ dst=\S+ sport=\d+ dport=\d+/.exec(l)?.[0] ?? l).sort();
          let want: string[] = [];
          let got: string[] = [];
          for (let t = 0; t < 240; t++) {
            want = flows(await pair.a.internal());
            got = flows(await pair.b.external());
            if (want.join() === got.join()) break;
            await sleep(250);
          }
          const kernel = (await pair.kernel(pair.a)).length;
          assert.deepEqual(
            got,
            want,
            `the backup holds what conntrackd's cache holds (${want.length}; its kernel ${kernel})`,
          );
        }
        const stats = (await controlRequest(pair.b.sock, { cmd: 'stats' })) as {
          counters: { staleRemoved: number; ftfw: { peerBulksComplete: number } };
        };
        console.log(
          `      (${made} flows made; the backup removed ${stats.counters.staleRemoved} stale entries after ${stats.counters.ftfw.peerBulksComplete} complete answers)`,
        );
        assert.ok(stats.counters.staleRemoved > 0, 'the backup had ghosts to remove');
      } finally {
        await pair.destroy();
      }
    });
  }
});
