// A forger on the sync segment, with the peer's source address: one datagram far ahead in the
// peer's sequence must not wedge the receiver (conntrackd drops every later message as
// "before"), and forged HELLOs or junk flagged HELLO must not buy a bulk each.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { repoRoot, mulberry32 } from '../../helpers/fakes.js';
import { controlRequest } from '../../../src/control/client.js';
import { FLAG, MSG, encodeControl, encodeCt } from '../../../src/sync/wire.js';
import type { FtFwStats } from '../../../src/sync/ftfw.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const FORGE = path.join(repoRoot(), 'dist/test/helpers/forge-child.js');

/** Sends datagrams into `to` from `from`'s address (in `from`'s namespace). */
async function forge(from: SyncNode, to: SyncNode, datagrams: Buffer[], gapMs = 0): Promise<void> {
  const spec = { from: from.addr, to: to.addr, port: 3780, datagrams: datagrams.map((d) => d.toString('hex')), gapMs };
  const r = await from.ns.exec(process.execPath, [FORGE, JSON.stringify(spec)]);
  assert.equal(r.exitCode, 0, r.stderr);
}

async function ftfw(node: SyncNode): Promise<FtFwStats> {
  return ((await controlRequest(node.sock, { cmd: 'stats' })) as { counters: { ftfw: FtFwStats } }).counters.ftfw;
}

const forged: Entry = {
  family: 2,
  orig: { src: '192.0.2.77', dst: '198.51.100.77', proto: 6, sport: 4077, dport: 443 },
  status: 14,
  timeout: 3600,
  mark: 0,
  tcp: { state: 3 },
};

describe("a forger with the peer's address", function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('hst', { impl: 'ctsync' }, { impl: 'ctsync' });
    await pair.a.start();
    await pair.b.start();
    await pair.b.settled();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('one CT_NEW 2^31 ahead in the sequence: real traffic after it still arrives, the forged entry goes', async function () {
    await pair.load(pair.a, mixedFlows(10));
    await pair.converge(pair.a, pair.b);
    const last = (await ftfw(pair.b)).lastSeqReceived!;
    const d = Buffer.alloc(512);
    const n = encodeCt(d, 0, MSG.CT_NEW, 0, (last + 0x7ffffff0) >>> 0, forged);
    await forge(pair.a, pair.b, [d.subarray(0, n)]);
    await pair.load(pair.a, mixedFlows(18, 1000));
    // the peer's ALIVE/ACK once a second: its sequence is taken as new after ~3 s of drops,
    // then a resync brings what was dropped, and its answer removes the forged entry
    await pair.converge(pair.a, pair.b, 30_000);
    const s = await ftfw(pair.b);
    assert.ok(s.sequenceResets >= 1, "the receiver reset its view of the peer's sequence");
    assert.equal((await pair.b.external()).length, 28);
  });

  it('ten forged 8-byte ALIVE|HELLO datagrams buy at most two bulks of 20,000 flows', async function () {
    await pair.load(
      pair.a,
      mixedFlows(20_000, 5000).filter((e) => e.orig.proto !== 1),
    );
    await pair.converge(pair.a, pair.b, 60_000);
    await sleep(6000); // past the hold-off of the restart seen in the test before
    const before = await ftfw(pair.a);
    const rnd = mulberry32(7);
    const hellos = Array.from({ length: 10 }, () => {
      const d = Buffer.alloc(8);
      encodeControl(d, 0, FLAG.ALIVE | FLAG.HELLO, Math.floor(rnd() * 2 ** 32));
      return d;
    });
    await forge(pair.b, pair.a, hellos, 50);
    await sleep(8000); // the hold-off's deferred bulk, if any, has gone
    const after = await ftfw(pair.a);
    const bulks = after.bulksRequested - before.bulksRequested;
    console.log(
      `      (${after.peerRestarts - before.peerRestarts} restarts seen, ${bulks} bulks sent, ${after.restartsDeferred - before.restartsDeferred} held off)`,
    );
    assert.ok(bulks >= 1 && bulks <= 2, `bulks sent: ${bulks}`);
    await pair.converge(pair.a, pair.b, 60_000);
  });

  it('junk flagged HELLO at the backup asks the peer for at most two resyncs, and sync goes on', async function () {
    await sleep(6000);
    const before = await ftfw(pair.b);
    const rnd = mulberry32(11);
    const junk = Array.from({ length: 300 }, () => {
      const d = Buffer.alloc(8 + Math.floor(rnd() * 200));
      for (let i = 0; i < d.length; i++) d[i] = Math.floor(rnd() * 256);
      d[0] = 0x10 | (d[0] & 0x0f); // version 1, any type
      d[1] |= FLAG.HELLO;
      d.writeUInt16BE(d.length, 2);
      return d;
    });
    await forge(pair.a, pair.b, junk, 5);
    await sleep(8000);
    const after = await ftfw(pair.b);
    const resyncs = after.resyncSent - before.resyncSent;
    console.log(
      `      (${after.peerRestarts - before.peerRestarts} restarts seen, ${resyncs} resyncs asked, ${after.restartsDeferred - before.restartsDeferred} held off)`,
    );
    assert.ok(resyncs <= 2, `resyncs asked: ${resyncs}`);
    await pair.load(pair.a, mixedFlows(50, 40_000));
    await pair.converge(pair.a, pair.b, 60_000);
  });
});
