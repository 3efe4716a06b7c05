// Authentication changed by reloads (SIGHUP) on a running pair while flows replicate
// (docs/ftfw-protocol.md §13.9): a key rotation, make before break (both nodes take key 2, then
// each signs with it, then both drop key 1), and the three-pass rollout from off through
// receive-only and permissive to enforce. Nothing is lost on the way, and no datagram fails.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep, type AuthBlock, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';
import type { Entry } from '../../../src/conntrack/entry.js';

/** n flows without ICMP (which would time out during the test), from the `base`th on. */
const flows = (n: number, base = 0): Entry[] =>
  mixedFlows(Math.ceil((n * 10) / 9) + 10, base)
    .filter((e) => e.orig.proto !== 1)
    .slice(0, n);

/** Writes `auth` into both nodes' files and reloads them one after the other; each must apply it. */
async function reloadBoth(pair: SyncPair, auth: AuthBlock | undefined, gapMs: number): Promise<void> {
  for (const node of [pair.a, pair.b]) await reloadOne(node, auth, gapMs);
}

async function reloadOne(node: SyncNode, auth: AuthBlock | undefined, gapMs: number): Promise<void> {
  node.setAuthentication(auth);
  const lines = await node.reload();
  assert.ok(
    lines.some((l) => l.includes('applied from')),
    `${node.name} applied the reload:\n${lines.join('\n')}`,
  );
  await sleep(gapMs);
}

const ZERO = {
  'no trailer': 0,
  'malformed trailer': 0,
  'unknown key': 0,
  'bad MAC': 0,
  stale: 0,
  replay: 0,
  dropped: 0,
};

const failures = (s: Record<string, number>): Record<string, number> => ({
  'no trailer': s['no trailer']!,
  'malformed trailer': s['malformed trailer']!,
  'unknown key': s['unknown key']!,
  'bad MAC': s['bad MAC']!,
  stale: s.stale!,
  replay: s.replay!,
  dropped: s.dropped!,
});

describe('authentication changed by reloads on a running pair', function () {
  this.timeout(600_000);
  let pair: SyncPair | undefined;

  before(function () {
    requireRoot.call(this, 'conntrack');
  });

  afterEach(async () => {
    await pair?.destroy();
    pair = undefined;
  });

  it('a key rotation during the replication of 100k flows loses nothing and fails no datagram', async () => {
    pair = await SyncPair.create('arot', { impl: 'ctsync' }, { impl: 'ctsync' });
    const p = pair;
    const k1 = path.join(p.dir, 'sync-1.key');
    const k2 = path.join(p.dir, 'sync-2.key');
    generateKeyFile(k1);
    generateKeyFile(k2);
    for (const node of [p.a, p.b]) node.setAuthentication({ mode: 'enforce', keys: [[1, k1]], activeKey: 1 });
    await p.b.start();
    await p.a.start();
    await p.a.settled();
    // make before break: every receiver takes key 2 before any sender signs with it, and every
    // sender has left key 1 before any receiver drops it; a quarter of the flows is loaded before
    // each step and after the last, and replicates while the step is taken
    const quarters = [0, 30_000, 60_000, 90_000].map((base) => flows(25_000, base));
    await p.load(p.a, quarters[0]!);
    await reloadBoth(
      p,
      {
        mode: 'enforce',
        keys: [
          [1, k1],
          [2, k2],
        ],
        activeKey: 1,
      },
      300,
    );
    await p.load(p.a, quarters[1]!);
    await reloadBoth(
      p,
      {
        mode: 'enforce',
        keys: [
          [1, k1],
          [2, k2],
        ],
        activeKey: 2,
      },
      300,
    );
    await p.load(p.a, quarters[2]!);
    await reloadBoth(p, { mode: 'enforce', keys: [[2, k2]], activeKey: 2 }, 300);
    await p.load(p.a, quarters[3]!);
    const ms = await p.converge(p.a, p.b, 240_000);
    assert.equal((await p.b.external()).length, 100_000);
    const a = await p.a.authStats();
    const b = await p.b.authStats();
    console.log(
      `      (converged ${ms} ms after the last load; auth at a: ${JSON.stringify(a)}; at b: ${JSON.stringify(b)})`,
    );
    assert.deepEqual(failures(b), ZERO, 'no datagram of a failed at b');
    assert.deepEqual(failures(a), ZERO, 'no datagram of b failed at a');
    // replication goes on with key 2 alone
    await p.load(p.a, flows(10, 200_000));
    await p.converge(p.a, p.b);
  });

  it('the three-pass rollout off -> receive-only -> permissive -> enforce on a running pair loses nothing', async () => {
    pair = await SyncPair.create('arol', { impl: 'ctsync' }, { impl: 'ctsync' });
    const p = pair;
    const k1 = path.join(p.dir, 'sync-1.key');
    generateKeyFile(k1);
    await p.b.start();
    await p.a.start();
    await p.a.settled();
    const loading = p.load(p.a, flows(50_000));
    for (const mode of ['receive-only', 'permissive', 'enforce'] as const)
      await reloadBoth(p, { mode, keys: [[1, k1]] }, 500);
    await loading;
    await p.load(p.a, flows(5_000, 100_000));
    await p.converge(p.a, p.b, 240_000);
    assert.equal((await p.b.external()).length, 55_000);
    const a = await p.a.authStats();
    const b = await p.b.authStats();
    console.log(`      (auth at a: ${JSON.stringify(a)}; at b: ${JSON.stringify(b)})`);
    // the only failures a rollout allows: unsigned datagrams while the peer was still off,
    // passed on by receive-only
    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const) {
      assert.deepEqual({ ...failures(s), 'no trailer': 0 }, ZERO, `${name}: nothing failed but no-trailer`);
      assert.ok(s.accepted! > 0, `${name} accepted signed datagrams`);
    }
  });
});
