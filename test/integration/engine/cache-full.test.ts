// A full cache is not silent: with a HashLimit smaller than the flows, the primary's internal
// cache refuses kernel entries and the backup's external cache refuses the peer's entries. Each
// daemon warns in its log and says it in `-s` (text and JSON), with the cache, the count and
// the limit. (conntrackd 1.4.7, as the backup in the same case, logs nothing: its `-s` shows
// them as "failed" creations of the external cache, `-s cache` as "no space left in cache".)
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { SyncPair, mixedFlows, sleep, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { controlRequest } from '../../../src/control/client.js';

const PRIMARY_LIMIT = 2500;
const BACKUP_LIMIT = 2000;
const FLOWS = 3000;

describe('a full cache (HashLimit) says so in the log and in -s', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create(
      'cfull',
      { impl: 'ctsync', hashLimit: PRIMARY_LIMIT },
      { impl: 'ctsync', hashLimit: BACKUP_LIMIT },
    );
    await pair.b.start();
    await pair.a.start();
    await pair.a.settled();
    await pair.load(pair.a, mixedFlows(FLOWS));
    // the backup holds what the primary could send: its own limit's worth
    for (let i = 0; i < 200 && (await counters(pair.b)).external.active < BACKUP_LIMIT; i++) await sleep(100);
  });

  after(async function () {
    await pair?.destroy();
  });

  type Counters = {
    internal: { active: number; createFailed: number; limit: number };
    external: { active: number; createFailed: number; limit: number };
    warnings: string[];
  };
  const counters = async (node: SyncNode): Promise<Counters> =>
    ((await controlRequest(node.sock, { cmd: 'stats' })) as { counters: Counters }).counters;

  /** Waits for a line matching `re` in the node's log (refusals are reported after the loop turn). */
  async function logLine(node: SyncNode, re: RegExp): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const hit = fs
        .readFileSync(node.log, 'utf8')
        .split('\n')
        .find((l) => re.test(l));
      if (hit) return hit;
      await sleep(100);
    }
    assert.fail(`no line matching ${re} in the log of ${node.name}${node.logTail()}`);
  }

  it('the backup: "external cache full" in its log (a warning) and in -s, with the count and the limit', async function () {
    const c = await counters(pair.b);
    assert.equal(c.external.active, BACKUP_LIMIT);
    assert.ok(c.external.createFailed >= PRIMARY_LIMIT - BACKUP_LIMIT, `refused: ${c.external.createFailed}`);
    const line = await logLine(pair.b, /external cache full/);
    assert.match(
      line,
      /\(warn\) external cache full: \d+ entries refused so far \(HashLimit 2000\): those flows from the peer are not committed on failover; raise HashLimit/,
    );
    const s = await pair.b.client(['-s']);
    assert.equal(s.exitCode, 0, s.stderr);
    const refused = (await counters(pair.b)).external.createFailed;
    assert.match(s.stdout, new RegExp(`\\texternal cache full: ${refused} entries refused \\(HashLimit 2000\\)\\n`));
    assert.match(
      (await pair.b.client(['-s', 'cache'])).stdout,
      /external cache full: \d+ entries refused \(HashLimit 2000\)/,
    );
    const json = await counters(pair.b);
    assert.equal(json.external.limit, BACKUP_LIMIT);
    assert.ok(
      json.warnings.some((w) => /^external cache full: \d+ entries refused \(HashLimit 2000\)$/.test(w)),
      JSON.stringify(json.warnings),
    );
    console.log(`      (backup: ${refused} entries refused; log: ${line.replace(/^\[[^\]]*\] /, '')})`);
  });

  it('the primary: "internal cache full" for the kernel entries it could not hold', async function () {
    const c = await counters(pair.a);
    assert.equal(c.internal.active, PRIMARY_LIMIT);
    assert.ok(c.internal.createFailed >= FLOWS - PRIMARY_LIMIT, `refused: ${c.internal.createFailed}`);
    const line = await logLine(pair.a, /internal cache full/);
    assert.match(
      line,
      /\(warn\) internal cache full: \d+ kernel entries refused so far \(HashLimit 2500\): those flows are not sent to the peer; raise HashLimit/,
    );
    const s = await pair.a.client(['-s']);
    assert.match(s.stdout, /\tinternal cache full: \d+ kernel entries refused \(HashLimit 2500\)\n/);
    assert.doesNotMatch(s.stdout, /external cache/, 'its external cache is fine');
  });

  it('a cache that never refused anything adds nothing to -s', async function () {
    const s = await pair.a.client(['-s', 'cache']);
    assert.doesNotMatch(s.stdout, /external cache (was )?full/);
    const t = await pair.b.client(['-s']);
    assert.doesNotMatch(t.stdout, /internal cache (was )?full/);
  });
});
