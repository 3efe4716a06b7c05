// Commit on the real kernel: RELATED entries (with a master tuple) reach the backup's external
// cache and are committed after their masters exist; afterwards the internal cache holds exactly
// what the kernel holds.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SyncPair, flowChurn, mixedFlows } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';
import { sleep } from '../../helpers/fakes.js';
import { flowKey } from '../../../src/conntrack/key.js';
import { REALTIME_V8_FLAGS } from '../../../src/daemon/daemon.js';
import { FLAG, MSG, encodeCt } from '../../../src/sync/wire.js';
import type { Entry } from '../../../src/conntrack/entry.js';

/** The scheduling policy of the daemon's main thread and of its other threads (/proc stat field 41). */
function threadPolicies(conf: string): { pid: string; main: number; others: number[] } {
  const pid = execFileSync('pgrep', ['-f', '--', conf], { encoding: 'utf8' }).trim().split('\n')[0];
  assert.ok(pid, 'daemon pid');
  const policy = (tid: string): number => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
  };
  const others = fs.readdirSync(`/proc/${pid}/task`).filter((t) => t !== pid);
  return { pid, main: policy(pid), others: others.map(policy) };
}

describe('commit: related flows after their masters, internal cache = kernel', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('commit', { impl: 'ctsync' }, { impl: 'ctsync' });
    await pair.b.start();
    await pair.a.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it("applies the config's Scheduler (FIFO 1) to the main thread only", function () {
    // the pair's configuration has `Scheduler { Type FIFO Priority 1 }`, as conntrackd's examples
    const { pid, main, others } = threadPolicies(pair.b.conf);
    assert.equal(main, 1, 'main thread SCHED_FIFO');
    assert.ok(others.length >= 4, 'node has its other threads');
    assert.deepEqual([...new Set(others)], [0], 'every other thread SCHED_OTHER');
    assert.match(pair.b.logTail(), /Scheduler FIFO priority 1 applied to the main thread/);
    // ... and restarted itself (same pid) with its GC and compiler on the main thread only
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of REALTIME_V8_FLAGS) assert.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
  });

  it('in the foreground as well: restarts itself with those V8 flags and keeps its pid (service managers track it)', async function () {
    await pair.b.stop();
    const sub = pair.b.ns.spawn(process.execPath, [ctsyncBin(), '-C', pair.b.conf]);
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = fs.existsSync(pair.b.sock) && (await pair.b.client(['-s', 'rsqueue'])).exitCode === 0;
        if (!up) await sleep(50);
      }
      assert.ok(up, `foreground daemon answers${pair.b.logTail()}`);
      const lockPid = Number(fs.readFileSync(path.join(path.dirname(pair.b.conf), 'b.lock'), 'utf8').trim());
      assert.equal(lockPid, sub.pid, 'the pid `ip netns exec` started is the daemon');
      const cmdline = fs.readFileSync(`/proc/${lockPid}/cmdline`, 'utf8').split('\0');
      for (const flag of REALTIME_V8_FLAGS) assert.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
    } finally {
      sub.kill('SIGTERM');
      await sub;
    }
    await pair.b.start();
  });

  it('commits 3,000 flows of which 40 are RELATED to 40 masters, masters kept', async function () {
    const masters: Entry[] = [];
    const related: Entry[] = [];
    for (let k = 0; k < 40; k++) {
      const m: Entry = {
        family: 2,
        orig: { src: `198.51.100.${k + 1}`, dst: '203.0.113.200', proto: 6, sport: 40000 + k, dport: 21 },
        status: 14,
        timeout: 3600,
        mark: 0,
        tcp: { state: 3 },
      };
      masters.push(m);
      // the data connection of an active-mode FTP session: server port 20 back to the client
      related.push({
        family: 2,
        orig: { src: '203.0.113.200', dst: `198.51.100.${k + 1}`, proto: 6, sport: 20, dport: 50000 + k },
        status: 14,
        timeout: 3600,
        mark: 0,
        tcp: { state: 3 },
        master: { ...m.orig },
      });
    }
    await pair.load(pair.a, [...masters, ...related, ...mixedFlows(2920)]);
    await pair.converge(pair.a, pair.b);
    const r = await pair.b.client(['-c']);
    assert.equal(r.exitCode, 0, r.stderr);
    const kernel = await pair.kernel(pair.b);
    assert.equal(kernel.length, 3000, 'every flow committed');
    const byKey = new Map(kernel.map((e) => [flowKey(e), e]));
    for (const x of related) {
      const got = byKey.get(flowKey(x));
      assert.ok(got, `related flow ${x.orig.src}:${x.orig.sport} -> ${x.orig.dst}:${x.orig.dport} committed`);
      assert.deepEqual(
        [got.master?.src, got.master?.dst, got.master?.sport, got.master?.dport],
        [x.master!.src, x.master!.dst, x.master!.sport, x.master!.dport],
      );
    }
    // the internal cache took the committed entries at once (no event echo, no resync needed)
    const internal = await pair.b.client(['-i', '--json']);
    assert.equal(internal.exitCode, 0, internal.stderr);
    const lines = internal.stdout.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 3000, 'internal cache holds what the kernel holds');
  });

  it('the commit workers, started on demand after the switch to FIFO, run at the default policy', function () {
    // they were started by the commit above, long after the main thread became real-time: born
    // with its policy, they warmed up at SCHED_IDLE and then took SCHED_OTHER
    const { main, others } = threadPolicies(pair.b.conf);
    assert.equal(main, 1, 'main thread SCHED_FIFO');
    assert.deepEqual([...new Set(others)], [0], `every other thread SCHED_OTHER (${others.join(' ')})`);
  });

  it('-f external straight after -c: the internal cache still takes what was committed', async function () {
    // the copy into the internal cache runs shortly after the reply; a flush of the external
    // cache arriving first (the stock client starts in milliseconds) must not empty it
    requireRoot.call(this, 'conntrackd');
    assert.equal((await pair.b.client(['-f', 'internal'])).exitCode, 0);
    const conf = pair.b.conf;
    const r = await pair.b.ns.exec('sh', [
      '-c',
      `conntrackd -C ${conf} -c >/dev/null && conntrackd -C ${conf} -f external`,
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = (await pair.b.client(['-i', '--json'])).stdout.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 3000, 'internal cache holds the committed flows');
    // the peer fills the external cache again for the tests that follow
    assert.equal((await pair.b.client(['-n'])).exitCode, 0);
    await pair.converge(pair.a, pair.b);
  });

  it('an entry the kernel refuses is reported with its reason; the rest commits; the internal cache leaves it out', async function () {
    // a new peer incarnation (HELLO) sends two flows; one has TCP state 99, which conntrackd's
    // wire carries but the kernel refuses (ERANGE) on create
    await pair.a.stop();
    assert.equal((await pair.b.client(['-f'])).exitCode, 0);
    await pair.b.ns.exec('conntrack', ['-F']);
    const good: Entry = {
      family: 2,
      orig: { src: '198.51.100.77', dst: '203.0.113.77', proto: 6, sport: 4000, dport: 443 },
      status: 14,
      timeout: 3600,
      mark: 0,
      tcp: { state: 3 },
    };
    const bad: Entry = {
      family: 2,
      orig: { src: '198.51.100.78', dst: '203.0.113.78', proto: 6, sport: 4000, dport: 443 },
      status: 14,
      timeout: 3600,
      mark: 0,
      tcp: { state: 99 },
    };
    const b = Buffer.alloc(512);
    let o = encodeCt(b, 0, MSG.CT_NEW, FLAG.HELLO, 5000, good, { tcpWindowTracking: true });
    o = encodeCt(b, o, MSG.CT_NEW, FLAG.HELLO, 5001, bad, { tcpWindowTracking: true });
    const send = `const s=require('node:dgram').createSocket('udp4');s.bind(0,'192.0.2.1',()=>s.send(Buffer.from('${b.subarray(0, o).toString('hex')}','hex'),3780,'192.0.2.2',()=>s.close()));`;
    const r = await pair.a.ns.exec(process.execPath, ['-e', send]);
    assert.equal(r.exitCode, 0, r.stderr);
    let ext: string[] = [];
    for (let i = 0; i < 50 && ext.length < 2; i++) {
      await new Promise((res) => setTimeout(res, 100));
      ext = (await pair.b.client(['-e'])).stdout.trim().split('\n').filter(Boolean);
    }
    assert.equal(ext.length, 2, 'both flows reached the external cache');
    const c = await pair.b.client(['-c']);
    assert.equal(c.exitCode, 1, 'a partial commit exits 1 (primary-backup.sh logs it)');
    assert.match(c.stdout, /committed 1 entries \(0 replaced\), 1 failed/);
    const kernel = await pair.kernel(pair.b);
    assert.deepEqual(
      kernel.map((e) => e.orig.src),
      ['198.51.100.77'],
    );
    const internal = (await pair.b.client(['-i'])).stdout.trim().split('\n').filter(Boolean);
    assert.equal(internal.length, 1, 'the refused flow is not in the internal cache');
    assert.match(internal[0], /198\.51\.100\.77/);
    const log = pair.b.logTail();
    assert.match(log, /1 failed/);
    assert.match(log, /ERANGE: a value out of range.*198\.51\.100\.78/s);
  });
});

describe('commit: flows created by packets meanwhile are not lost', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('cmtraf', { impl: 'ctsync' }, { impl: 'ctsync' });
    await pair.b.start();
    await pair.a.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('picks up from the kernel the flows created while it had left the NEW events group', async function () {
    await pair.load(pair.a, mixedFlows(30_000));
    await pair.converge(pair.a, pair.b);
    // another process creates a flow every millisecond or so in the backup's table, before,
    // during and after the commit (as the first packets through a promoted backup do)
    const running = flowChurn(pair.b, { ms: 2500, dstOctet: 251, sportBase: 10000 });
    await sleep(700);
    const c = await pair.b.client(['-c']);
    assert.equal(c.exitCode, 0, c.stderr);
    const inserted = await running;
    assert.ok(inserted > 100, `inserter created ${inserted} flows`);
    await sleep(1000);
    const kernel = new Set((await pair.kernel(pair.b)).map((e) => flowKey(e)));
    const internal = (await pair.b.client(['-i', '--json'])).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => flowKey(JSON.parse(l) as Entry));
    assert.equal(kernel.size, 30_000 + inserted, 'kernel: the committed and the inserted flows');
    assert.equal(internal.length, kernel.size, 'internal cache holds what the kernel holds');
    for (const k of internal) assert.ok(kernel.has(k));
    const m = /flows created while the commit ran: (\d+) picked up/.exec(fs.readFileSync(pair.b.log, 'utf8'));
    assert.ok(m, `the daemon looked for flows created during the commit${pair.b.logTail()}`);
    assert.ok(Number(m[1]) > 0, 'some were created inside the commit and picked up');
  });
});

describe("commit: what the backup's kernel already has becomes the peer's flow", function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('cmrepl', { impl: 'ctsync' }, { impl: 'ctsync' });
    await pair.b.start();
    await pair.a.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('updated in place where the kernel allows, deleted and created again where it does not', async function () {
    const tcp = (i: number, e: Partial<Entry>): Entry => ({
      family: 2,
      orig: { src: `192.0.2.${10 + i}`, dst: '198.51.100.10', proto: 6, sport: 40000 + i, dport: 443 },
      ...e,
    });
    const udp = (e: Partial<Entry>): Entry => ({
      family: 2,
      orig: { src: '192.0.2.99', dst: '198.51.100.53', proto: 17, sport: 5353, dport: 53 },
      ...e,
    });
    // the peer's flows: TCP established and assured with mark 7, UDP answered but not assured
    const peer = [
      ...Array.from({ length: 50 }, (_, i) => tcp(i, { status: 14, timeout: 3600, mark: 7, tcp: { state: 3 } })),
      udp({ status: 10, timeout: 120, mark: 0 }),
    ];
    await pair.load(pair.a, peer);
    await pair.converge(pair.a, pair.b);
    // the backup's own entries for the same flows, as packets through it would have left them:
    // TCP half open with another mark; UDP assured, which an update cannot take back (EBUSY)
    await pair.load(pair.b, [
      ...Array.from({ length: 50 }, (_, i) => tcp(i, { status: 8, timeout: 30, mark: 1, tcp: { state: 1 } })),
      udp({ status: 14, timeout: 30, mark: 5 }),
    ]);
    // the kernel counts every entry it inserts (conntrack -S): an update in place inserts none
    const inserts = async (): Promise<number> => {
      const r = await pair.b.ns.exec('conntrack', ['-S']);
      return [...r.stdout.matchAll(/\binsert=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const insertsBefore = await inserts();
    const c = await pair.b.client(['-c']);
    assert.equal(c.exitCode, 0, c.stderr);
    assert.match(c.stdout, /committed 51 entries \(51 replaced\), 0 failed/);
    assert.equal(
      (await inserts()) - insertsBefore,
      1,
      'the TCP flows were updated in place, the UDP one created again',
    );
    const after = await pair.kernel(pair.b);
    assert.equal(after.length, 51);
    for (const e of after) {
      if (e.orig.proto === 6) {
        assert.deepEqual(
          { state: e.tcp?.state, mark: e.mark, assured: (e.status! & 4) !== 0 },
          { state: 3, mark: 7, assured: true },
          JSON.stringify(e),
        );
        assert.ok(e.timeout! > 3000, `timeout ${e.timeout}`);
      } else {
        // an update cannot take ASSURED back: only a new entry is without it
        assert.deepEqual(
          { mark: e.mark, assured: (e.status! & 4) !== 0, seenReply: (e.status! & 2) !== 0 },
          { mark: 0, assured: false, seenReply: true },
          JSON.stringify(e),
        );
      }
    }
    // the insert counter moved by what the commit inserted, nothing else: no reading back
    await sleep(500);
    assert.doesNotMatch(pair.b.logTail(), /flows created while the commit ran/);
  });
});
