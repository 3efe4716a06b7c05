// Authenticated sync in enforce mode over a lossy link: 20% of the sync datagrams arriving at
// each node are dropped (iptables statistic match in both namespaces) from before the daemons
// start. Every flow reaches the backup's external cache; a primary restarted in the middle (a new
// epoch, docs/ftfw-protocol.md §13.4) is accepted at once, over the same lossy link.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, dropOnReceiver, droppedAtReceiver as dropped, mixedFlows } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';

const N = 10_000;

describe('authenticated sync, enforce, over a lossy link (20% dropped both ways)', function () {
  this.timeout(300_000);
  let pair: SyncPair | undefined;

  before(function () {
    requireRoot.call(this, 'conntrack', 'iptables');
  });

  after(async () => {
    await pair?.destroy();
  });

  it('from a cold start nothing is lost; a restarted primary is accepted at once', async () => {
    pair = await SyncPair.create('aloss', { impl: 'ctsync' }, { impl: 'ctsync' });
    const p = pair;
    const key = path.join(p.dir, 'sync-1.key');
    generateKeyFile(key);
    for (const node of [p.a, p.b]) {
      node.setAuthentication({ mode: 'enforce', keys: [[1, key]] });
      await dropOnReceiver(node, 0.2);
    }
    await p.a.start();
    await p.b.start();
    // flows arrive while the handshake itself is being lost
    await p.load(p.a, mixedFlows(N));
    const ms = await p.converge(p.a, p.b, 180_000);
    assert.equal((await p.b.external()).length, N);
    const first = await p.b.authStats();
    assert.deepEqual(
      { dropped: first.dropped, 'bad MAC': first['bad MAC'], stale: first.stale, replay: first.replay },
      { dropped: 0, 'bad MAC': 0, stale: 0, replay: 0 },
    );

    // the primary restarts (a crash: no goodbye) and loads more: b takes its new epoch at once
    await p.a.kill();
    await p.a.start();
    await p.load(p.a, mixedFlows(N / 2, N));
    await p.converge(p.a, p.b, 180_000);
    assert.equal((await p.b.external()).length, N + N / 2);
    const end = await p.b.authStats();
    assert.equal(end.stale, 0, 'nothing of the restarted primary was stale');
    assert.equal(end.dropped, 0, 'nothing dropped by authentication');
    const lost = { a: await dropped(p.a), b: await dropped(p.b) };
    assert.ok(lost.a > 0 && lost.b > 0, 'the drop rules did drop datagrams');
    console.log(
      `      (${N} flows converged in ${ms} ms; datagrams dropped by the link: ${JSON.stringify(lost)}; auth at b: ${JSON.stringify(end)})`,
    );
  });
});
