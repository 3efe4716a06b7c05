// The sync channel's batched transmit (sendmmsg on the tx socket's fd) and receive (recvmmsg on
// the rx socket's fd): every datagram arrives, in order, also when the socket buffer is full
// (EAGAIN: the rest goes through node:dgram, which waits for room), for unicast (IPv4 and IPv6)
// and multicast.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, requireRoot, vethPair } from '../../helpers/netns.js';
import { SyncChannel } from '../../../src/sync/channel.js';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/channel-child.js');

interface Report {
  stats: { packetsSent: number; bytesSent: number; sendErrors: number };
  deferredSends: number;
  batchedReceive: boolean;
  received: number;
  inOrder: boolean;
  firstMissing: number;
}

async function run(ns: Netns, spec: object, timeout = 60_000): Promise<Report> {
  const r = await ns.exec(process.execPath, [child, JSON.stringify(spec)], { timeout });
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
}

describe('sync channel: batched transmit', function () {
  const made: Netns[] = [];
  before(function () {
    requireRoot.call(this, 'tc');
  });
  afterEach(async function () {
    await Promise.all(made.splice(0).map((ns) => ns.destroy()));
  });
  async function netns(prefix: string): Promise<Netns> {
    const ns = await Netns.create(prefix);
    made.push(ns);
    return ns;
  }

  it('a datagram is at most what UDP carries, also on a link with a larger MTU (loopback: 65536)', function () {
    const v4 = new SyncChannel({
      kind: 'udp',
      localAddress: '127.0.0.1',
      destination: '127.0.0.1',
      port: 7199,
      interface: 'lo',
    });
    const v6 = new SyncChannel({ kind: 'udp', localAddress: '::1', destination: '::1', port: 7199, interface: 'lo' });
    // IPv4: 65535 - 20 - 8 (the packet's length field, not the MTU, is the limit); IPv6: the
    // MTU is (its length field counts the payload only): 65536 - 40 - 8
    assert.deepEqual([v4.maxDatagram, v6.maxDatagram], [65507, 65488]);
  });

  it('sends every datagram once and in order (unicast, loopback)', async function () {
    const ns = await netns('chan-lo');
    const count = 5000;
    const r = await run(ns, {
      role: 'loop',
      count,
      size: 1000,
      perTurn: 150,
      channel: { kind: 'udp', localAddress: '127.0.0.1', destination: '127.0.0.1', port: 7100, interface: 'lo' },
    });
    assert.equal(r.received, count);
    assert.ok(r.inOrder);
    assert.deepEqual([r.stats.packetsSent, r.stats.bytesSent, r.stats.sendErrors], [count, count * 1000, 0]);
    assert.equal(r.deferredSends, 0);
    assert.equal(r.batchedReceive, true, 'received with recvmmsg');
  });

  it('IPv6 too: the sender is recognised from the raw address (unicast, ::1)', async function () {
    const ns = await netns('chan-lo6');
    const count = 2000;
    const r = await run(ns, {
      role: 'loop',
      count,
      size: 800,
      perTurn: 100,
      channel: { kind: 'udp', localAddress: '::1', destination: '::1', port: 7106, interface: 'lo' },
    });
    assert.equal(r.received, count, JSON.stringify(r));
    assert.ok(r.inOrder);
    assert.equal(r.batchedReceive, true);
  });

  it('loses nothing when the send buffer is full (tiny SO_SNDBUF behind a slow qdisc: EAGAIN)', async function () {
    const ns = await netns('chan-eagain');
    // a slow link keeps sent datagrams charged to the socket: with a minimal send buffer, sendmmsg
    // soon says EAGAIN and the channel must hand the rest to node:dgram
    const tc = await ns.exec('tc', [
      'qdisc',
      'add',
      'dev',
      'lo',
      'root',
      'tbf',
      'rate',
      '40mbit',
      'burst',
      '4kb',
      'latency',
      '200ms',
    ]);
    assert.equal(tc.exitCode, 0, tc.stderr);
    const count = 3000;
    for (const flush of [false, true]) {
      const r = await run(ns, {
        role: 'loop',
        count,
        size: 1000,
        perTurn: 500,
        flush,
        channel: {
          kind: 'udp',
          localAddress: '127.0.0.1',
          destination: '127.0.0.1',
          port: 7101,
          interface: 'lo',
          sndSocketBuffer: 4096,
        },
      });
      assert.ok(r.deferredSends > 0, `EAGAIN was hit (${r.deferredSends} datagrams deferred to node:dgram)`);
      assert.equal(r.stats.sendErrors, 0);
      assert.equal(r.stats.packetsSent, count);
      assert.equal(r.received, count, `first missing: ${r.firstMissing}`);
      assert.ok(r.inOrder, `in order: ${JSON.stringify(r)}`);
    }
  });

  it('multicast: the peer receives every datagram in order', async function () {
    const a = await netns('chan-mc-a');
    const b = await netns('chan-mc-b');
    const link = await vethPair(a, b, '192.0.2.1/24', '192.0.2.2/24');
    const count = 4000;
    const mc = (addr: string, ifName: string) => ({
      kind: 'multicast',
      localAddress: addr,
      group: '225.0.0.51',
      port: 7102,
      interface: ifName,
    });
    const rx = b.spawn(process.execPath, [
      child,
      JSON.stringify({ role: 'recv', count, size: 1200, waitMs: 30_000, channel: mc(link.addrB, link.ifB) }),
    ]);
    let rxOut = '';
    rx.stdout!.on('data', (d: Buffer) => (rxOut += d.toString()));
    const t0 = Date.now();
    while (!rxOut.includes('ready')) {
      if (Date.now() - t0 > 15_000 || rx.exitCode !== null) throw new Error(`receiver did not start: ${rxOut}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const tx = await run(a, { role: 'send', count, size: 1200, perTurn: 200, channel: mc(link.addrA, link.ifA) });
    assert.equal(tx.stats.packetsSent, count);
    assert.equal(tx.stats.sendErrors, 0);
    const res = await rx;
    const r = JSON.parse(String(res.stdout).trim().split('\n').pop()!) as Report;
    assert.equal(r.received, count, `first missing: ${r.firstMissing}`);
    assert.ok(r.inOrder);
  });
});
