// Sync channels addressed as conntrackd allows, between two ctsync daemons in namespaces joined
// by a veth pair: a UDP block without a local address (conntrackd binds the wildcard address and
// sends to the destination; VyOS writes no IPv4_address unless listen-address is set), IPv6
// link-local UDP addresses and an ff02:: multicast group (the scope is the index of `Interface`,
// as conntrackd sets it), and a local address that cannot be bound: a clear error naming the
// setting, a non-zero exit and no lock file left behind.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { SyncPair, mixedFlows, type SyncNode } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';

/** Adds a link-local IPv6 address (usable at once) to the node's sync interface. */
async function addLinkLocal(node: SyncNode, address: string): Promise<void> {
  const r = await node.ns.exec('ip', ['addr', 'add', `${address}/64`, 'dev', node.ifname, 'nodad']);
  assert.equal(r.exitCode, 0, r.stderr);
}

describe('sync channel addresses as conntrackd has them', function () {
  this.timeout(180_000);
  let pair: SyncPair | undefined;

  before(function () {
    requireRoot.call(this, 'conntrack');
  });

  afterEach(async () => {
    await pair?.destroy();
    pair = undefined;
  });

  async function replicate(p: SyncPair): Promise<void> {
    await p.b.start();
    await p.a.start();
    await p.load(p.a, mixedFlows(40));
    await p.converge(p.a, p.b);
  }

  it('UDP without IPv4_address: the wildcard address is bound, and the flows replicate', async () => {
    pair = await SyncPair.create('nolocal', { impl: 'ctsync' }, { impl: 'ctsync' });
    for (const node of [pair.a, pair.b])
      node.replaceChannel(
        `  UDP Default {\n    IPv4_Destination_Address ${node.peer}\n    Port 3780\n    Interface ${node.ifname}\n    Checksum on\n  }`,
      );
    await replicate(pair);
    const sockets = await pair.b.ns.exec('ss', ['-Hlun', 'sport', '= :3780']);
    assert.match(sockets.stdout, /0\.0\.0\.0(%\S+)?:3780/, sockets.stdout);
  });

  it('UDP over IPv6 link-local addresses (fe80::, the scope from Interface)', async () => {
    pair = await SyncPair.create('ll6', { impl: 'ctsync' }, { impl: 'ctsync' });
    const ll = { a: 'fe80::c75:1', b: 'fe80::c75:2' };
    await addLinkLocal(pair.a, ll.a);
    await addLinkLocal(pair.b, ll.b);
    for (const [node, local, peer] of [
      [pair.a, ll.a, ll.b],
      [pair.b, ll.b, ll.a],
    ] as const)
      node.replaceChannel(
        `  UDP Default {\n    IPv6_address ${local}\n    IPv6_Destination_Address ${peer}\n    Port 3780\n    Interface ${node.ifname}\n    Checksum on\n  }`,
      );
    await replicate(pair);
  });

  it('Multicast to an ff02:: group (joined on Interface)', async () => {
    pair = await SyncPair.create('mc6', { impl: 'ctsync' }, { impl: 'ctsync' });
    for (const node of [pair.a, pair.b])
      node.replaceChannel(
        `  Multicast Default {\n    IPv6_address ff02::c75:3780\n    Group 3780\n    Interface ${node.ifname}\n    Checksum on\n  }`,
      );
    await replicate(pair);
  });

  it('a link-local address that is not on the interface: one line naming the setting, exit non-zero, no lock file', async () => {
    pair = await SyncPair.create('llbad', { impl: 'ctsync' }, { impl: 'ctsync' });
    const node = pair.b;
    node.replaceChannel(
      `  UDP Default {\n    IPv6_address fe80::c75:99\n    IPv6_Destination_Address fe80::c75:1\n    Port 3780\n    Interface ${node.ifname}\n    Checksum on\n  }`,
    );
    const r = await node.ns.exec(process.execPath, [ctsyncBin(), '-C', node.conf], { timeout: 60_000 });
    assert.notEqual(r.exitCode, 0);
    assert.deepEqual(
      r.stderr.split('\n').filter((l) => l.trim() !== ''),
      [
        `ctsync: sync channel: cannot bind [fe80::c75:99%${node.ifname}]:3780 (EADDRNOTAVAIL: the address is not on this machine; check IPv6_address in Sync > UDP)`,
      ],
    );
    assert.ok(!fs.existsSync(node.conf.replace(/\.conf$/, '.lock')), 'no lock file left behind');
  });
});
