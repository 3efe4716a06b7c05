// Reliability on a real lossy link: 20% of the sync datagrams arriving at the backup are dropped
// (iptables statistic match in the backup's namespace), warm and from a cold start; and a backup
// daemon that restarts in the middle of the stream.
import { strict as assert } from 'node:assert';
import { SyncPair, mixedFlows, sleep, dropOnReceiver, dropped, type Impl } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

const N = 10_000;

const CASES: Array<{ primary: Impl; backup: Impl; cold: boolean }> = [
  { primary: 'ctsync', backup: 'ctsync', cold: false },
  { primary: 'ctsync', backup: 'ctsync', cold: true },
  { primary: 'ctsync', backup: 'conntrackd', cold: false },
  { primary: 'ctsync', backup: 'conntrackd', cold: true },
  { primary: 'conntrackd', backup: 'ctsync', cold: false },
];

describe('sync over a lossy link (20% of datagrams dropped at the receiver)', function () {
  this.timeout(300_000);
  before(function () {
    requireRoot.call(this, 'conntrack', 'conntrackd', 'iptables');
  });

  for (const c of CASES) {
    it(`${c.primary} -> ${c.backup}, ${c.cold ? 'cold start (drop active before the daemons start)' : 'warm'}: ${N} flows, none lost`, async function () {
      const pair = await SyncPair.create(
        `loss${c.primary[1]}${c.backup[1]}${c.cold ? 'c' : 'w'}`,
        { impl: c.primary },
        { impl: c.backup },
      );
      try {
        if (c.cold) await dropOnReceiver(pair.b, 0.2);
        await pair.a.start();
        await pair.b.start();
        if (c.cold) {
          // flows arrive while the handshake itself is being lost
          await pair.load(pair.a, mixedFlows(N));
        } else {
          await sleep(2500); // handshake done
          await dropOnReceiver(pair.b, 0.2);
          await pair.load(pair.a, mixedFlows(N));
        }
        const ms = await pair.converge(pair.a, pair.b, 180_000);
        const lost = await dropped(pair.b);
        assert.ok(lost > 0, 'the drop rule did drop datagrams');
        console.log(`      (${N} flows converged in ${ms} ms; ${lost} datagrams dropped)`);
      } finally {
        await pair.destroy();
      }
    });
  }
});

describe('a backup daemon restarting mid-stream', function () {
  this.timeout(300_000);
  before(function () {
    requireRoot.call(this, 'conntrack', 'conntrackd');
  });

  for (const primary of ['ctsync', 'conntrackd'] as Impl[]) {
    it(`${primary} primary -> ctsync backup: converges again after the backup restarts`, async function () {
      const pair = await SyncPair.create(`rst${primary[1]}`, { impl: primary }, { impl: 'ctsync' });
      try {
        await pair.a.start();
        await pair.b.start();
        await pair.load(pair.a, mixedFlows(N / 2));
        // hard stop (no goodbye) while flows keep coming
        await pair.b.stop();
        const more = pair.load(pair.a, mixedFlows(N / 2, N));
        await sleep(200);
        await pair.b.start();
        await more;
        await pair.converge(pair.a, pair.b, 120_000);
        assert.equal((await pair.b.external()).length, N);
      } finally {
        await pair.destroy();
      }
    });
  }
});
