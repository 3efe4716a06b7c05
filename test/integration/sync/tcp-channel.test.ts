// A TCP sync channel with the real conntrackd 1.4.7 on the other end: the `-s` traffic header in
// conntrackd's layout with both connections up, and an outage of the channel (every sync
// connection in the primary's namespace reset, new ones refused) during which flows are added:
// once the connections are back, the backup has every flow, in FT-FW and in NOTRACK.
import { strict as assert } from 'node:assert';
import { SyncPair, mixedFlows, sleep, type Impl } from '../../helpers/syncpair.js';
import { requireRoot, type Netns } from '../../helpers/netns.js';
import { PAIR_PORT } from '../../../tools/lib/pair-config.js';

/** The `-s` header of the TCP channel, the interface name made generic. */
async function tcpHeader(node: SyncPair['a']): Promise<string> {
  const r = await node.client(['-s']);
  assert.equal(r.exitCode, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('TCP traffic'));
  assert.ok(line, `${node.impl} -s has a TCP traffic line:\n${r.stdout}`);
  return line.replace(/device=[^)\s]+/, 'device=IF');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Resets the sync connections in `ns` and refuses new ones (REJECT with a TCP reset) until the returned undo. */
async function cutChannel(ns: Netns): Promise<() => Promise<void>> {
  const rules = [
    ['INPUT', '--dport'],
    ['INPUT', '--sport'],
  ].map(([chain, dir]) => [chain!, '-p', 'tcp', dir!, String(PAIR_PORT), '-j', 'REJECT', '--reject-with', 'tcp-reset']);
  for (const r of rules) {
    const x = await ns.exec('iptables', ['-I', ...r]);
    assert.equal(x.exitCode, 0, x.stderr);
  }
  // the established connections go now, not at their next segment
  const killed = await ns.exec('ss', ['-K', 'sport', '=', `:${PAIR_PORT}`, 'or', 'dport', '=', `:${PAIR_PORT}`]);
  assert.equal(killed.exitCode, 0, killed.stderr);
  return async () => {
    for (const r of rules) await ns.exec('iptables', ['-D', ...r]);
  };
}

for (const [mode, primary, backup] of [
  ['FTFW', 'ctsync', 'conntrackd'],
  ['FTFW', 'conntrackd', 'ctsync'],
  ['NOTRACK', 'ctsync', 'conntrackd'],
] as Array<['FTFW' | 'NOTRACK', Impl, Impl]>) {
  describe(`TCP channel, ${mode}: ${primary} primary -> ${backup} backup`, function () {
    this.timeout(300_000);
    let pair: SyncPair;

    before(async function () {
      requireRoot.call(this, 'conntrack', 'conntrackd', 'iptables', 'ss');
      pair = await SyncPair.create(
        `tc${mode[0]}${primary[1]}`,
        { impl: primary, mode, transport: 'TCP' },
        { impl: backup, mode, transport: 'TCP' },
      );
      await pair.a.start();
      await pair.b.start();
    });

    after(async function () {
      await pair?.destroy();
    });

    it("-s shows both connections up, in conntrackd's words", async function () {
      const up = 'TCP traffic (active device=IF) server=connected client=connected:';
      for (const node of [pair.a, pair.b]) {
        await waitFor(`${node.impl}'s connections`, async () => (await tcpHeader(node)) === up);
      }
    });

    it('flows added while the channel is down arrive once it is back', async function () {
      await pair.load(pair.a, mixedFlows(300));
      await pair.converge(pair.a, pair.b);
      const restore = await cutChannel(pair.a.ns);
      try {
        await pair.load(pair.a, mixedFlows(300, 10_000));
        const ctsync = pair.a.impl === 'ctsync' ? pair.a : pair.b;
        await waitFor('ctsync to see its connections down', async () =>
          (await tcpHeader(ctsync)).includes('disconnected'),
        );
        await sleep(2000);
      } finally {
        await restore();
      }
      await pair.converge(pair.a, pair.b, 90_000);
      assert.equal((await pair.b.external()).length, 600);
      for (const node of [pair.a, pair.b]) {
        await waitFor(
          `${node.impl}'s connections again`,
          async () => !(await tcpHeader(node)).includes('disconnected'),
        );
      }
    });
  });
}
