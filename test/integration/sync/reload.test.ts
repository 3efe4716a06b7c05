// A reload of the internal cache from the kernel (`-R`, the overrun resync, the scheduled
// consistency check) while another process creates and deletes flows: the internal cache (now
// kept under handles in an arena) ends equal to the kernel table. A dump is not a snapshot, but
// it runs to its end before any event is handled (the kernel queues them), and the events that
// follow it correct what it saw.
import { strict as assert } from 'node:assert';
import { SyncPair, flowChurn, mixedFlows, sleep } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { flowKey } from '../../../src/conntrack/key.js';
import type { Entry } from '../../../src/conntrack/entry.js';

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
    await pair.load(
      pair.a,
      mixedFlows(30_000).filter((e) => e.orig.proto !== 1),
    ); // ICMP would time out
    // another process creates a flow every millisecond or so and deletes the one it made 20 before
    const running = flowChurn(pair.a, { ms: 3000, dstOctet: 252, sportBase: 20000, deleteLag: 20 });
    await sleep(500);
    for (let k = 0; k < 6; k++) {
      const r = await pair.a.client(['-R']);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const made = await running;
    assert.ok(made > 200, `churn made ${made} flows`);
    await sleep(1000);
    const kernel = new Set((await pair.kernel(pair.a)).map((e) => flowKey(e)));
    const internal = (await pair.a.client(['-i', '--json'])).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => flowKey(JSON.parse(l) as Entry));
    const missing = [...kernel].filter((k) => !internal.includes(k)).length;
    const extra = internal.filter((k) => !kernel.has(k)).length;
    assert.deepEqual(
      { missing, extra, size: internal.length },
      { missing: 0, extra: 0, size: kernel.size },
      'internal cache = kernel table',
    );
  });
});
