// src/ha/guard.ts against the real kernel: two namespaces, a client (192.0.2.1) and a gateway whose
// address 192.0.2.2 plays the VIP. A TCP connect to a closed port of the VIP is answered with a
// RST ("refused") normally; while the guard holds, the SYN is dropped ("timeout"): exactly the
// difference docs/conntrackd-compat.md §3.1 is about. Proves the table is installed and always removed: on release,
// by the max-hold timer, and by the kernel's element timeouts alone (daemon gone), and that the
// machine holds traffic exactly while it commits.
import { strict as assert } from 'node:assert';
import { Netns, useNetns, vethPair } from '../../helpers/netns.js';
import { TrafficGuard, execaNft, guardInstallScript, type NftRunner } from '../../../src/ha/guard.js';
import { FailoverMachine } from '../../../src/ha/machine.js';
import { createHaActions, type HaOperations } from '../../../src/ha/actions.js';
import { silentLogger } from '../../../src/log.js';

const CLIENT = '192.0.2.1';
const VIP = '192.0.2.2';
const TABLE = 'ctsync_guard';

/** TCP connect from `ns` to host:port: refused (RST), timeout (dropped) or connected. */
async function probe(ns: Netns, host = VIP, port = 9, ms = 400): Promise<string> {
  const code = `
    const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
    const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, ${ms});
    s.on('connect', () => { console.log('connected'); process.exit(0); });
    s.on('error', (e) => { console.log(e.code === 'ECONNREFUSED' ? 'refused' : e.code); process.exit(0); });`;
  const r = await ns.exec(process.execPath, ['-e', code], { timeout: 10_000 });
  return r.stdout.trim();
}

async function tables(ns: Netns): Promise<string> {
  return (await ns.exec('nft', ['list', 'tables'], { reject: true })).stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ha guard (integration): nftables in a namespace', function () {
  this.timeout(60_000);
  const client = useNetns('ha-guard-client', 'nft');
  const gw = useNetns('ha-guard-gw', 'nft');
  let nft: NftRunner;
  let ifGw: string;

  before(async function () {
    const link = await vethPair(client(), gw(), `${CLIENT}/24`, `${VIP}/24`);
    ifGw = link.ifB;
    nft = execaNft(['ip', 'netns', 'exec', gw().name, 'nft']);
  });

  afterEach(async () => {
    // whatever a failed test left behind
    await gw().exec('nft', ['-f', '-'], { input: `table inet ${TABLE}\ndelete table inet ${TABLE}\n` });
  });

  it('without the guard a closed port answers with a RST', async () => {
    assert.equal(await probe(client()), 'refused');
  });

  it('holds (drops, no RST) until released, then removes its table; reports the hold and the drops', async () => {
    const guard = new TrafficGuard(
      { virtualAddresses: [VIP], interfaces: [], exemptSources: [], maxHoldMs: 10_000 },
      { log: silentLogger(), nft },
    );
    const hold = await guard.hold();
    const listed = (await gw().exec('nft', ['list', 'table', 'inet', TABLE], { reject: true })).stdout;
    assert.match(listed, /chain hold \{\n\s+type filter hook prerouting priority raw; policy accept;/);
    assert.match(listed, /ip daddr @vip4 counter name "held" drop/);
    assert.match(listed, /elements = \{ 192\.0\.2\.2 timeout 10s expires /);
    assert.equal(await probe(client()), 'timeout');
    const r = await hold.release();
    assert.equal(r.releasedBy, 'caller');
    assert.equal(r.error, undefined);
    assert.ok(r.heldMs >= 400 && r.heldMs < 10_000, `held ${r.heldMs} ms`);
    assert.ok((r.droppedPackets ?? 0) >= 1, `dropped ${r.droppedPackets}`);
    assert.doesNotMatch(await tables(gw()), new RegExp(TABLE));
    assert.equal(await probe(client()), 'refused');
  });

  it('exempt sources pass while the guard holds', async () => {
    const guard = new TrafficGuard(
      { virtualAddresses: [VIP], interfaces: [], exemptSources: ['192.0.2.0/28'], maxHoldMs: 10_000 },
      { log: silentLogger(), nft },
    );
    const hold = await guard.hold();
    try {
      assert.equal(await probe(client()), 'refused');
    } finally {
      await hold.release();
    }
  });

  it('holds everything arriving on a listed interface (forwarded traffic on a router)', async () => {
    const guard = new TrafficGuard(
      { virtualAddresses: [], interfaces: [ifGw], exemptSources: [], maxHoldMs: 10_000 },
      { log: silentLogger(), nft },
    );
    const hold = await guard.hold();
    try {
      assert.equal(await probe(client()), 'timeout');
    } finally {
      const r = await hold.release();
      assert.ok((r.droppedPackets ?? 0) >= 1);
    }
    assert.equal(await probe(client()), 'refused');
  });

  it('removes itself after maxHoldMs when nobody releases it', async () => {
    const guard = new TrafficGuard(
      { virtualAddresses: [VIP], interfaces: [], exemptSources: [], maxHoldMs: 800 },
      { log: silentLogger(), nft },
    );
    const hold = await guard.hold();
    assert.match(await tables(gw()), new RegExp(TABLE));
    await sleep(1500);
    assert.equal(hold.released, true);
    const r = await hold.release();
    assert.equal(r.releasedBy, 'max-hold');
    assert.equal(r.heldMs, 800);
    assert.doesNotMatch(await tables(gw()), new RegExp(TABLE));
  });

  it('the kernel stops holding by itself after maxHoldMs (daemon gone), and clearStale removes the leftover', async () => {
    // as if the daemon had died right after installing: no timer, no release
    await gw().exec('nft', ['-f', '-'], {
      input: guardInstallScript({ virtualAddresses: [VIP], interfaces: [], exemptSources: [], maxHoldMs: 1000 }),
      reject: true,
    });
    assert.equal(await probe(client(), VIP, 9, 300), 'timeout');
    await sleep(1000);
    assert.equal(await probe(client()), 'refused', 'the set elements expired in the kernel');
    assert.match(await tables(gw()), new RegExp(TABLE), 'the (harmless) table is still there');
    await new TrafficGuard(
      { virtualAddresses: [VIP], interfaces: [], exemptSources: [], maxHoldMs: 1000 },
      { log: silentLogger(), nft },
    ).clearStale();
    assert.doesNotMatch(await tables(gw()), new RegExp(TABLE));
  });

  it('a promotion holds traffic exactly while it commits', async () => {
    const seen: Record<string, string> = {};
    const ops: HaOperations = {
      commit: async () => {
        seen.duringCommit = await probe(client());
        return { committed: 0, replaced: 0, failed: [], seconds: 0.4 };
      },
      flushCaches: () => ({}),
      reloadInternal: async () => {
        seen.duringReload = await probe(client());
        return 0;
      },
      bulkSend: () => 0,
      requestResync: () => undefined,
      schedulePurge: () => 60,
    };
    const guard = new TrafficGuard(
      { virtualAddresses: [VIP], interfaces: [], exemptSources: [], maxHoldMs: 5000 },
      { log: silentLogger(), nft },
    );
    const m = new FailoverMachine({ actions: createHaActions({ ops, guard }), log: silentLogger() });
    const o = await m.request('active', { source: 'fifo', detail: 'GROUP "G1" MASTER 0' });
    assert.equal(o.outcome === 'completed' && o.transition.result, 'ok');
    assert.deepEqual(seen, { duringCommit: 'timeout', duringReload: 'refused' });
    const off = o.outcome === 'completed' ? o.transition.steps.find((s) => s.name === 'guardOff') : undefined;
    assert.match(off?.detail ?? '', /^held \d+ ms, [1-9]\d* packets dropped$/);
    assert.doesNotMatch(await tables(gw()), new RegExp(TABLE));
  });
});
