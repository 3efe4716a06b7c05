// Hostile input on the sync port: 100,000 random and mutated datagrams from the peer's address,
// and datagrams from a stranger. The daemon stays up, counts them, and keeps syncing. It has
// ExpectationSync on, so well-formed EXP messages among them land in its expectation cache too.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { SyncPair, mixedFlows } from '../helpers/syncpair.js';
import { requireRoot } from '../helpers/netns.js';
import { controlRequest } from '../../src/control/client.js';

const FUZZER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../scripts/fuzz-peer.mjs');

interface Counters {
  malformed: { total: number };
  channel: { packetsReceived: number; foreign: number };
}

describe('sync receiver under fuzz', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('fuzz', { impl: 'ctsync' }, { impl: 'ctsync', options: ['ExpectationSync on'] });
    await pair.b.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  const stats = async (): Promise<Counters> => ((await controlRequest(pair.b.sock, { cmd: 'stats' })) as { counters: Counters }).counters;

  it('survives 100,000 random and mutated datagrams from the peer address, counting them malformed', async function () {
    const r = await pair.a.ns.exec(process.execPath, [FUZZER, '--from', '192.0.2.1', '--to', '192.0.2.2', '--count', '100000'], { timeout: 240_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const s = await stats();
    assert.ok(s.channel.packetsReceived > 50_000, `most datagrams reached the daemon (${s.channel.packetsReceived})`);
    assert.ok(s.malformed.total > 50_000, `counted as malformed (${s.malformed.total})`);
    console.log(`      (${s.channel.packetsReceived} datagrams received, ${s.malformed.total} malformed messages counted)`);
  });

  it('drops and counts datagrams from anyone but the configured peer', async function () {
    await pair.a.ns.exec('ip', ['addr', 'add', '192.0.2.3/24', 'dev', pair.a.ifname]);
    // let the daemon drain what the fuzzer left queued
    let before = await stats();
    for (;;) {
      await new Promise((res) => setTimeout(res, 300));
      const now = await stats();
      if (now.channel.packetsReceived === before.channel.packetsReceived) break;
      before = now;
    }
    const r = await pair.a.ns.exec(process.execPath, [FUZZER, '--from', '192.0.2.3', '--to', '192.0.2.2', '--count', '500']);
    assert.equal(r.exitCode, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 300));
    const after = await stats();
    assert.ok(after.channel.foreign - before.channel.foreign >= 400, 'stranger datagrams counted');
    assert.equal(after.malformed.total, before.malformed.total, 'and never parsed');
  });

  it('then syncs normally with the real peer', async function () {
    // mutated messages that happen to be valid are indistinguishable from the peer's data: they
    // are in the external cache now, as they would be in conntrackd's; start from a clean one
    assert.equal((await pair.b.client(['-f', 'external'])).exitCode, 0);
    await pair.a.start();
    await pair.load(pair.a, mixedFlows(2000));
    await pair.converge(pair.a, pair.b);
  });
});
