// Wire compatibility is the definition of "works": a ctsync node and a stock Debian conntrackd
// 1.4.7 sync with each other, in both directions, on a veth pair between two namespaces, in each
// sync mode: FTFW (reliable), NOTRACK (each change once; -n asks the peer with a RESYNC) and ALARM
// (each change once, every entry again each RefreshTime, the receiver drops what stops coming
// after CacheTimeout), over UDP, and FTFW and NOTRACK over TCP too. One runner, the mode and the
// channel parameters; what a mode does differently is in its case. DisableExternalCache exists in FTFW and NOTRACK only (conntrackd refuses it in
// ALARM): the NOTRACK case runs it.
import { strict as assert } from 'node:assert';
import {
  SyncPair,
  dropOnReceiver,
  droppedAtReceiver,
  mixedFlows,
  sleep,
  stopDropping,
  type Impl,
  type SyncNode,
} from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import type { PairMode } from '../../../tools/lib/pair-config.js';

interface ModeCase {
  mode: PairMode;
  transports: Array<'UDP' | 'TCP'>;
  /** Flows of the first load. */
  flows: number;
  /** Lines for the Mode block. */
  modeLines?: string[];
}

/**
 * Short enough for a test. CacheTimeout spans about ten refreshes: with 20% of the datagrams
 * lost, an entry then misses all of them (and expires until the next) with odds of 0.2^10.
 */
const REFRESH_S = 2;
const CACHE_TIMEOUT_S = 20;

const MODES: ModeCase[] = [
  { mode: 'FTFW', transports: ['UDP', 'TCP'], flows: 10_000 },
  { mode: 'NOTRACK', transports: ['UDP', 'TCP'], flows: 5_000 },
  {
    mode: 'ALARM',
    transports: ['UDP'],
    flows: 5_000,
    modeLines: [`RefreshTime ${REFRESH_S}`, `CacheTimeout ${CACHE_TIMEOUT_S}`],
  },
];

const DIRECTIONS: Array<[Impl, Impl]> = [
  ['ctsync', 'conntrackd'],
  ['conntrackd', 'ctsync'],
];

/** Waits until `node`'s `-s` shows both of its TCP connections up. */
async function tcpConnected(node: SyncNode): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    last = (await node.client(['-s'])).stdout;
    if (/server=connected client=connected/.test(last)) return;
    await sleep(100);
  }
  assert.fail(`${node.impl} on ${node.name}: the TCP channel is not up:\n${last}`);
}

for (const { mode, transports, flows, modeLines } of MODES) {
  for (const [[primary, backup], transport] of DIRECTIONS.flatMap((d) => transports.map((t) => [d, t] as const))) {
    describe(`${mode} interop: ${primary} primary -> ${backup} backup over ${transport}`, function () {
      this.timeout(300_000);
      let pair: SyncPair;

      before(async function () {
        requireRoot.call(this, 'conntrack', 'conntrackd', ...(mode === 'ALARM' ? ['iptables'] : []));
        // conntrackd 1.4.7 drops the rest of a partial write on its TCP socket, which cuts the
        // stream when a bulk fills the send buffer (docs/conntrackd-compat.md): NOTRACK cannot
        // recover it, FTFW does but counts the cut messages as malformed
        const channel = transport === 'TCP' ? ['SndSocketBuffer 16777216'] : [];
        pair = await SyncPair.create(
          `${mode[0]!.toLowerCase()}${transport[0]!.toLowerCase()}${primary[1]}`,
          { impl: primary, mode, transport, channel, ftfw: modeLines },
          { impl: backup, mode, transport, channel, ftfw: modeLines },
        );
        await pair.a.start();
        await pair.b.start();
        // a node dials its peer once a second: what it sends before then waits in a queue of
        // ErrorQueueLength buffers, and NOTRACK loses what overflows it (as conntrackd does)
        if (transport === 'TCP') for (const node of [pair.a, pair.b]) await tcpConnected(node);
      });

      after(async function () {
        await pair?.destroy();
      });

      it(`replicates ${flows} new flows of mixed protocols, field for field`, async function () {
        await pair.load(pair.a, mixedFlows(flows));
        const ms = await pair.converge(pair.a, pair.b);
        assert.equal((await pair.b.external()).length, flows);
        console.log(`      (${flows} flows converged in ${ms} ms)`);
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
        assert.ok(
          (await pair.b.external()).every((l) => l.includes('mark=77')),
          'every external entry has the new mark',
        );
        const del = await pair.a.ns.exec('conntrack', ['-D', '-p', 'udp']);
        assert.equal(del.exitCode, 0, del.stderr);
        await pair.converge(pair.a, pair.b);
        assert.ok(!(await pair.b.external()).some((l) => l.startsWith('udp ')), 'no UDP flow left');
      });

      if (mode === 'ALARM') {
        it('refills the external cache after -f external with its refreshes (ALARM has no -n)', async function () {
          const before = (await pair.b.external()).length;
          assert.equal((await pair.b.client(['-f', 'external'])).exitCode, 0);
          assert.ok((await pair.b.external()).length < before, 'the flush emptied the cache');
          await pair.converge(pair.a, pair.b, (REFRESH_S + 30) * 1000);
        });
      } else {
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
      }

      it("the reverse direction works too: the backup's own flows reach the primary", async function () {
        await pair.load(pair.b, mixedFlows(500, 1_000_000));
        await pair.converge(pair.b, pair.a);
      });

      it(`neither side found a message it did not expect in ${mode}`, async function () {
        for (const node of [pair.a, pair.b]) {
          const r = await node.client(['-s', 'network']);
          assert.equal(r.exitCode, 0, r.stderr);
          const malformed = /Malformed messages:\s+(\d+)/.exec(r.stdout);
          assert.ok(malformed, `-s network on ${node.name}: ${r.stdout}`);
          assert.equal(Number(malformed[1]), 0, `${node.impl} on ${node.name}: ${r.stdout}`);
        }
      });

      if (mode !== 'ALARM') return;

      it('with 20% of the datagrams dropped at the backup, converges after RefreshTime', async function () {
        await dropOnReceiver(pair.b, 0.2);
        try {
          await pair.load(pair.a, mixedFlows(2_000, 2_000_000));
          await pair.converge(pair.a, pair.b, 120_000);
          assert.ok((await droppedAtReceiver(pair.b)) > 0, 'the drop rule did drop datagrams');
        } finally {
          await stopDropping(pair.b);
        }
      });

      it('entries the primary stops refreshing expire after CacheTimeout, shown counting down', async function () {
        const dump = await pair.b.client(['-e']);
        assert.equal(dump.exitCode, 0, dump.stderr);
        const lines = dump.stdout.split('\n').filter(Boolean);
        assert.ok(lines.length > 0);
        const without = lines.filter((l) => !/ \[expires in \d+s\] \[active since \d+s\]$/.test(l));
        assert.deepEqual(without, [], 'every -e line says when it expires');
        await pair.a.stop();
        let left = lines.length;
        for (let i = 0; i < (CACHE_TIMEOUT_S + 30) * 4 && left > 0; i++) {
          await sleep(250);
          left = (await pair.b.external()).length;
        }
        assert.equal(left, 0, `${backup}'s external cache emptied after CacheTimeout`);
      });
    });
  }
}

describe('NOTRACK with DisableExternalCache on: conntrackd primary -> ctsync backup', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'conntrackd');
    pair = await SyncPair.create(
      'ntinj',
      { impl: 'conntrackd', mode: 'NOTRACK' },
      { impl: 'ctsync', mode: 'NOTRACK', ftfw: ['DisableExternalCache on'] },
    );
    await pair.a.start();
    await pair.b.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it("flows appear in the backup's kernel without a commit, and go when deleted", async function () {
    const key = (e: { orig: { src: string; dst: string; proto: number } }): string =>
      `${e.orig.proto} ${e.orig.src} ${e.orig.dst}`;
    const flows = mixedFlows(300).filter((e) => e.family === 2 && e.orig.proto === 17);
    await pair.load(pair.a, flows);
    const want = (await pair.kernel(pair.a)).map(key).sort();
    let got: string[] = [];
    for (let i = 0; i < 120 && got.length !== want.length; i++) {
      await sleep(250);
      got = (await pair.kernel(pair.b)).map(key).sort();
    }
    assert.deepEqual(got, want);
    assert.deepEqual(await pair.b.external(), []);
    assert.equal((await pair.a.ns.exec('conntrack', ['-D', '-p', 'udp'])).exitCode, 0);
    for (let i = 0; i < 120 && got.length > 0; i++) {
      await sleep(250);
      got = (await pair.kernel(pair.b)).map(key);
    }
    assert.deepEqual(got, []);
  });
});
