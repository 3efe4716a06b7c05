// `ctsync health` on a real daemon pair: each finding is made to happen for real (a stopped
// peer, a sync link that drops datagrams, a flushed external cache, a kernel entry deleted
// behind the daemon's back), seen reported, then seen cleared; and the sync gate keepalived asks.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { daemonPid, enableHealth, has, health, lacks, waitHealth } from '../../helpers/health.js';

const HEALTH = {
  peerSilentSeconds: 2,
  lossWindowSeconds: 5,
  resyncRetrySeconds: 5,
  audit: { periodSeconds: 2, sample: 1000, kernelSample: 1000, confirmMs: 300 },
};

describe('health: findings of a running daemon pair', function () {
  this.timeout(300_000);
  let pair: SyncPair;
  let trackFile: string;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('health', { impl: 'ctsync' }, { impl: 'ctsync' });
    trackFile = path.join(pair.dir, 'b-synced');
    enableHealth(pair.a, HEALTH);
    enableHealth(pair.b, { ...HEALTH, trackFile: { path: trackFile, weight: 40 } });
  });

  after(async function () {
    await pair?.destroy();
  });

  const logOf = (node: typeof pair.a): string => fs.readFileSync(node.log, 'utf8');

  it('holds a node alone unsynced and its peer silent; both end once the peer is there', async function () {
    await pair.b.start();
    const alone = await health(pair.b);
    assert.equal(alone.sync.gate.pass, false, 'unsynced at start-up');
    assert.equal(alone.sync.reason, 'start-up');
    assert.equal((await pair.b.client(['health', '--sync'])).exitCode, 1);
    assert.equal(fs.readFileSync(trackFile, 'utf8'), '-40\n');
    const silent = await waitHealth(pair.b, 'peer-silent', has('peer-silent'));
    assert.equal(silent.exitCode, 1, 'degraded');
    await pair.load(pair.a, mixedFlows(200));
    await pair.a.start();
    const ok = await waitHealth(pair.b, 'ok', (h) => h.status === 'ok', 60_000);
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.sync.synced, true);
    assert.equal((await pair.b.client(['health', '--sync'])).exitCode, 0);
    assert.equal(fs.readFileSync(trackFile, 'utf8'), '0\n');
    await pair.converge(pair.a, pair.b);
    const log = logOf(pair.b);
    assert.match(log, /health: peer-silent: no message from the peer/);
    assert.match(log, /health: peer-silent ended/);
    assert.match(log, /health: unsynced ended/);
  });

  it('reports a stopped peer as silent, and clears it when the peer runs again', async function () {
    const pid = daemonPid(pair.a);
    process.kill(pid, 'SIGSTOP');
    try {
      const h = await waitHealth(pair.b, 'peer-silent', has('peer-silent'));
      assert.match(h.findings.find((f) => f.name === 'peer-silent')!.message, /no message from the peer for \d+ s/);
      assert.equal(h.exitCode, 1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitHealth(pair.b, 'peer-silent ended', lacks('peer-silent'));
  });

  it('reports a dropped sync link as silence, and lost answers as loss and unsynced', async function () {
    // all of the peer's datagrams dropped: silence
    const drop = ['-p', 'udp', '--dport', '3780', '-j', 'DROP'];
    const rule = async (op: '-I' | '-D', extra: string[] = []): Promise<void> => {
      const r = await pair.b.ns.exec('iptables', [op, 'INPUT', ...extra, ...drop]);
      assert.equal(r.exitCode, 0, r.stderr);
    };
    await rule('-I');
    try {
      await waitHealth(pair.b, 'peer-silent', has('peer-silent'));
    } finally {
      await rule('-D');
    }
    await waitHealth(pair.b, 'peer-silent ended', lacks('peer-silent'));
    // a third of them dropped while the peer answers our resync: the answer has gaps
    const some = ['-m', 'statistic', '--mode', 'random', '--probability', '0.3'];
    await pair.load(pair.a, mixedFlows(3000, 1000));
    await rule('-I', some);
    try {
      const r = await pair.b.client(['-n']);
      assert.equal(r.exitCode, 0, r.stderr);
      const h = await waitHealth(pair.b, 'loss-unrecovered', has('loss-unrecovered'));
      assert.match(h.findings.find((f) => f.name === 'loss-unrecovered')!.message, /arrived with gaps/);
      assert.equal(h.sync.reason, 'answer-unclean');
      assert.equal((await pair.b.client(['health', '--sync'])).exitCode, 1);
    } finally {
      await rule('-D', some);
    }
    // FT-FW and the health monitor ask again; a clean answer makes the cache complete
    await waitHealth(pair.b, 'synced again', (h) => h.sync.synced, 90_000);
    await waitHealth(pair.b, 'ok', (h) => h.status === 'ok', 30_000);
  });

  it('takes a flushed external cache for unsynced until the peer table has arrived again', async function () {
    const r = await pair.b.client(['-f', 'external']);
    assert.equal(r.exitCode, 0, r.stderr);
    await waitHealth(pair.b, 'unsynced', (x) => !x.sync.synced, 10_000);
    // a flush is not answered by a resync of the daemon's own (until resyncRetrySeconds): the
    // owner asks, as conntrackd's scripts do
    assert.equal((await pair.b.client(['-n'])).exitCode, 0);
    await waitHealth(pair.b, 'synced again', (x) => x.sync.synced, 60_000);
    await pair.converge(pair.a, pair.b);
    assert.match(logOf(pair.b), /unsynced: the external cache was emptied/);
  });

  it('finds a kernel entry deleted behind its back by the audit, repairs it, and clears', async function () {
    const ns = pair.a.ns;
    // a flow whose only event is NEW (a datagram to the peer's discard port): `conntrack -D` then
    // deletes it without telling the daemon
    const ct = ['-t', 'raw', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9', '-j', 'CT', '--ctevents', 'new'];
    assert.equal((await ns.exec('iptables', ct)).exitCode, 0);
    const send =
      "const s = (await import('node:dgram')).createSocket('udp4');" + "s.send('x', 9, '192.0.2.2', () => s.close());";
    assert.equal((await ns.exec(process.execPath, ['--input-type=module', '-e', send])).exitCode, 0);
    const inCache = async (): Promise<boolean> => (await pair.a.client(['-i'])).stdout.includes('dport=9 ');
    for (let i = 0; i < 50 && !(await inCache()); i++) await sleep(100);
    assert.ok(await inCache(), 'the daemon has the flow');
    const del = await ns.exec('conntrack', ['-D', '-p', 'udp', '--dport', '9']);
    assert.equal(del.exitCode, 0, del.stderr);
    // no event tells the daemon: the audit finds it (within periodSeconds), as the log shows below
    await waitHealth(pair.a, 'cache-divergence', has('cache-divergence'), 30_000);
    await waitHealth(pair.a, 'cache-divergence ended', lacks('cache-divergence'), 30_000);
    assert.equal(await inCache(), false, 'repaired from the kernel');
    const log = logOf(pair.a);
    assert.match(log, /audit: in the internal cache, not in the kernel: .*dport=9/);
    assert.match(log, /health: cache-divergence: audit: 1 of \d+ internal entries not in the kernel/);
    assert.match(log, /health: cache-divergence ended/);
  });
});
