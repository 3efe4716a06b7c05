// A reload of the internal cache from the kernel (`-R`, the overrun resync, the scheduled
// consistency check) while another process creates and deletes flows: the internal cache (now
// kept under handles in an arena) ends equal to the kernel table. A dump is not a snapshot, but
// it runs to its end before any event is handled (the kernel queues them), and the events that
// follow it correct what it saw.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep } from '../helpers/syncpair.js';
import { requireRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/fakes.js';
import { flowKey } from '../../src/conntrack/key.js';
import type { Entry } from '../../src/conntrack/entry.js';

describe('reloading the internal cache while flows come and go', function () {
  this.timeout(180_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('rl', { impl: 'ctsync' }, { impl: 'ctsync' });
    await pair.a.start();
    await pair.b.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('-R during creates and deletes leaves the internal cache equal to the kernel table', async function () {
    await pair.load(pair.a, mixedFlows(30_000).filter((e) => e.orig.proto !== 1)); // ICMP would time out
    // another process creates a flow every millisecond or so and deletes the one it made 20 before
    const churn = `
      const { ConntrackClient } = await import(${JSON.stringify(path.join(repoRoot(), 'dist/src/netlink/conntrack-client.js'))});
      const c = new ConntrackClient();
      const flow = (i) => ({ family: 2, orig: { src: '203.0.113.' + (1 + (i % 250)), dst: '198.51.100.252', proto: 17, sport: 20000 + Math.floor(i / 250), dport: 5353 }, status: 8, timeout: 600, mark: 0 });
      const end = Date.now() + 3000;
      let i = 0;
      for (; Date.now() < end; i++) {
        await c.create([flow(i)]);
        if (i >= 20) await c.delete([flow(i - 20)]);
        await new Promise((r) => setTimeout(r, 1));
      }
      console.log(i);`;
    const running = pair.a.ns.exec(process.execPath, ['--input-type=module', '-e', churn]);
    await sleep(500);
    for (let k = 0; k < 6; k++) {
      const r = await pair.a.client(['-R']);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const done = await running;
    assert.equal(done.exitCode, 0, done.stderr);
    assert.ok(Number(done.stdout) > 200, `churn made ${done.stdout.trim()} flows`);
    await sleep(1000);
    const kernel = new Set((await pair.kernel(pair.a)).map((e) => flowKey(e)));
    const internal = (await pair.a.client(['-i', '--json'])).stdout.split('\n').filter(Boolean).map((l) => flowKey(JSON.parse(l) as Entry));
    const missing = [...kernel].filter((k) => !internal.includes(k)).length;
    const extra = internal.filter((k) => !kernel.has(k)).length;
    assert.deepEqual({ missing, extra, size: internal.length }, { missing: 0, extra: 0, size: kernel.size }, 'internal cache = kernel table');
  });
});
