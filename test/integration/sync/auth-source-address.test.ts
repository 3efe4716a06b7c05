// Authenticated sync (enforce) on channels whose local address is the wildcard: Multicast without
// IPv4_interface, UDP without IPv4_address. The MAC covers the sender's address as the receiver
// sees it (docs/ftfw-protocol.md §13.1): the address the kernel chose for the send socket, not
// the configured 0.0.0.0, so every datagram verifies and the flows replicate.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, mixedFlows, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';

/** Multicast to a group, joined and sent through the routing table (no interface address given). */
async function multicastRoute(node: SyncNode): Promise<void> {
  const r = await node.ns.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', node.ifname]);
  assert.equal(r.exitCode, 0, r.stderr);
}

const CHANNELS: Array<{ name: string; block: (node: SyncNode) => string; multicast: boolean }> = [
  {
    name: 'Multicast without IPv4_interface',
    block: (n) => `  Multicast Default {\n    IPv4_address 225.0.0.50\n    Group 3780\n    Interface ${n.ifname}\n  }`,
    multicast: true,
  },
  {
    name: 'UDP without IPv4_address',
    block: (n) =>
      `  UDP Default {\n    IPv4_Destination_Address ${n.peer}\n    Port 3780\n    Interface ${n.ifname}\n  }`,
    multicast: false,
  },
];

describe('authenticated sync from a wildcard local address', function () {
  this.timeout(180_000);
  let pair: SyncPair | undefined;

  before(function () {
    requireRoot.call(this, 'conntrack');
  });

  afterEach(async () => {
    await pair?.destroy();
    pair = undefined;
  });

  for (const [i, c] of CHANNELS.entries()) {
    it(`${c.name}, enforce: every datagram verifies, the flows replicate`, async () => {
      pair = await SyncPair.create(`asrc${i}`, { impl: 'ctsync' }, { impl: 'ctsync' });
      const key = path.join(pair.dir, 'sync-1.key');
      generateKeyFile(key);
      for (const node of [pair.a, pair.b]) {
        node.replaceChannel(c.block(node));
        node.setAuthentication({ mode: 'enforce', keys: [[1, key]] });
        if (c.multicast) await multicastRoute(node);
      }
      await pair.b.start();
      await pair.a.start();
      await pair.load(pair.a, mixedFlows(200));
      await pair.converge(pair.a, pair.b, 20_000);
      const b = await pair.b.authStats();
      assert.equal(b['bad MAC'], 0, 'no bad MAC at b');
      assert.equal(b.dropped, 0, 'nothing dropped at b');
      assert.ok(b.accepted! > 0, 'b accepted datagrams of a');
      const a = await pair.a.authStats();
      assert.equal(a['bad MAC'], 0, 'no bad MAC at a (its acknowledgements came from b)');
    });
  }
});
