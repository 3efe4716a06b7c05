// Flows created and deleted all the time, a few hundred alive: both caches fill with removed
// records and are compacted again and again. In place, in the arena they have: a new arena per
// compaction (a shared one, the backup's external cache, stays resident until a full GC) made a
// backup's memory grow without end under churn (issue 13). And the backup still holds exactly
// the primary's flows.
import { strict as assert } from 'node:assert';
import { controlRequest } from '../../../src/control/client.js';
import { SyncPair, flowChurn, sleep, type SyncNode } from '../../helpers/syncpair.js';

type ArenaStats = { compactions: number; allocations: number };

async function arenas(node: SyncNode): Promise<{ internal: ArenaStats; external: ArenaStats }> {
  const r = (await controlRequest(node.sock, { cmd: 'stats' })) as {
    counters: { memory: { internalArena: ArenaStats; externalArena: ArenaStats } };
  };
  return { internal: r.counters.memory.internalArena, external: r.counters.memory.externalArena };
}

describe('sync under churn: compaction of the caches', function () {
  this.timeout(120_000);
  let pair: SyncPair;

  before(async function () {
    // small caches (HashSize 256: a 40 KiB arena to start with) so that compactions come often
    pair = await SyncPair.create('churn', { impl: 'ctsync', hashSize: 256 }, { impl: 'ctsync', hashSize: 256 });
    await pair.b.start();
    await pair.a.start();
    await Promise.all([pair.a.settled(), pair.b.settled()]);
  });

  after(async function () {
    await pair?.destroy();
  });

  it("compacts the primary's internal and the backup's external cache in place, and the backup converges", async function () {
    const churn = flowChurn(pair.a, { ms: 20_000, dstOctet: 7, sportBase: 20000, deleteLag: 300 });
    // counted from when the caches have reached their working size (300 flows alive)
    await sleep(5000);
    const a0 = await arenas(pair.a);
    const b0 = await arenas(pair.b);
    await sleep(13_000);
    const a1 = await arenas(pair.a);
    const b1 = await arenas(pair.b);
    await churn;
    assert.ok(
      b1.external.compactions - b0.external.compactions >= 8,
      `backup external: ${b1.external.compactions - b0.external.compactions} compactions`,
    );
    assert.ok(
      a1.internal.compactions - a0.internal.compactions >= 8,
      `primary internal: ${a1.internal.compactions - a0.internal.compactions} compactions`,
    );
    assert.equal(
      b1.external.allocations,
      b0.external.allocations,
      "no arena allocated for the backup's external cache",
    );
    assert.equal(
      a1.internal.allocations,
      a0.internal.allocations,
      "no arena allocated for the primary's internal cache",
    );
    await pair.converge(pair.a, pair.b);
  });
});
