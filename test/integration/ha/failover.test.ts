// Failover driven three ways on a real pair: ctsync's own promote/demote, Debian's
// primary-backup.sh calling ctsync, and the same unmodified script calling the stock conntrackd
// client against ctsync daemons. With ExpectationSync on: the FTP sessions' expectations fail
// over with their masters.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, ftpSessions, mixedFlows, sleep } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';
import type { SyncNode } from '../../helpers/syncpair.js';
import type { Expect } from '../../../src/conntrack/entry.js';

const SCRIPT = '/usr/share/doc/conntrackd/examples/sync/primary-backup.sh';
const N = 3000;

/** Keys of a kernel table, to compare tables across nodes. */
async function kernelKeys(pair: SyncPair, node: SyncNode): Promise<Set<string>> {
  return new Set(
    (await pair.kernel(node)).map(
      (e) =>
        `${e.zone ?? 0}|${e.orig.proto}|${e.orig.src}|${e.orig.dst}|${e.orig.sport ?? e.orig.icmpId}|${e.orig.dport ?? e.orig.icmpType}`,
    ),
  );
}

async function ctsync(node: SyncNode, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return node.ns.exec(process.execPath, [ctsyncBin(), '-C', node.conf, ...args]);
}

const SESSIONS = ftpSessions(10);

/** A kernel's expectations, by what a failover must carry over. */
async function kernelExpects(node: SyncNode): Promise<string[]> {
  const r = await node.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'expect', 'list', '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Expect)
    .map((x) => JSON.stringify([x.family, x.master, x.tuple, x.mask, x.flags ?? 0, x.helper]))
    .sort();
}

/** Loads the FTP sessions (masters, then expectations) into the node's kernel; waits until the peer's external cache has the expectations. */
async function loadSessions(pair: SyncPair, from: SyncNode, to: SyncNode): Promise<void> {
  await pair.load(from, SESSIONS.masters);
  const file = path.join(pair.dir, 'expects.jsonl');
  fs.writeFileSync(file, SESSIONS.expects.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = await from.ns.exec(process.execPath, [ctsyncBin(), 'ct', 'expect', 'load', file]);
  assert.equal(r.exitCode, 0, r.stderr);
  for (let i = 0; ; i++) {
    const ext = await ctsync(to, ['-e', 'expect']);
    if (ext.stdout.trim().split('\n').filter(Boolean).length === SESSIONS.expects.length) return;
    if (i > 80) throw new Error(`the expectations did not reach ${to.name}: ${ext.stdout}${ext.stderr}`);
    await sleep(250);
  }
}

async function untilEmpty(pair: SyncPair, node: SyncNode, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while ((await pair.kernel(node)).length > 0) {
    if (Date.now() > end) throw new Error(`${node.name}'s kernel table was not purged within ${ms} ms`);
    await sleep(250);
  }
}

describe('failover on a ctsync pair', function () {
  this.timeout(300_000);
  let pair: SyncPair;
  let flows: Set<string>;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    const node = { impl: 'ctsync' as const, ftfw: ['PurgeTimeout 2'], options: ['ExpectationSync on'] };
    pair = await SyncPair.create('ha', node, node);
    await pair.a.start();
    await pair.b.start();
    await pair.load(
      pair.a,
      mixedFlows(N).filter((e) => e.orig.proto !== 1),
    ); // ICMP flows would time out mid-test
    await loadSessions(pair, pair.a, pair.b);
    await pair.converge(pair.a, pair.b);
    flows = await kernelKeys(pair, pair.a);
  });

  after(async function () {
    await pair?.destroy();
  });

  it("ctsync promote commits the external cache: the backup's kernel holds every flow", async function () {
    assert.equal((await kernelKeys(pair, pair.b)).size, 0);
    const r = await ctsync(pair.b, ['promote', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.outcome.outcome, 'completed');
    assert.equal(out.status.role, 'active');
    assert.deepEqual(await kernelKeys(pair, pair.b), flows);
    assert.deepEqual(await kernelExpects(pair.b), await kernelExpects(pair.a), 'the expectations, after their masters');
    // the internal expectation cache was reloaded from the kernel with the rest
    assert.equal((await ctsync(pair.b, ['-i', 'expect'])).stdout.trim().split('\n').length, SESSIONS.expects.length);
    const st = JSON.parse((await ctsync(pair.b, ['status', '--json'])).stdout);
    assert.equal(st.ha.role, 'active');
    assert.equal(st.ha.last.to, 'active');
  });

  it('promote twice is a no-op; bad notify arguments change nothing', async function () {
    const again = JSON.parse((await ctsync(pair.b, ['promote', '--json'])).stdout);
    assert.equal(again.outcome.outcome, 'noop');
    const bad = await ctsync(pair.b, ['notify', 'INSTANCE', 'VI_1', 'MAESTER', '100']);
    assert.notEqual(bad.exitCode, 0);
    assert.match(bad.stderr, /STATE\) must be MASTER, BACKUP, FAULT, STOP or DELETED, got "MAESTER"/);
    assert.equal(JSON.parse((await ctsync(pair.b, ['status', '--json'])).stdout).ha.role, 'active');
  });

  it('ctsync demote on the old primary purges its table after PurgeTimeout and asks for a resync', async function () {
    const r = await ctsync(pair.a, ['demote', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status.role, 'backup');
    await untilEmpty(pair, pair.a, 20_000);
    // its external cache holds the new primary's table (resync requested on demotion)
    await pair.converge(pair.b, pair.a);
  });
});

for (const variant of ['ctsync', 'stock conntrackd client'] as const) {
  describe(`Debian's primary-backup.sh (${variant === 'ctsync' ? 'binary path changed to ctsync' : 'unchanged, calling the stock conntrackd client'}) drives a ctsync pair`, function () {
    this.timeout(300_000);
    let pair: SyncPair;
    let script = '';

    before(async function () {
      requireRoot.call(this, 'conntrack', 'conntrackd');
      if (!fs.existsSync(SCRIPT)) this.skip();
      const node = { impl: 'ctsync' as const, ftfw: ['PurgeTimeout 2'], options: ['ExpectationSync on'] };
      pair = await SyncPair.create(`pb${variant[0]}`, node, node);
      const wrapper = path.join(pair.dir, 'ctsync-bin');
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${ctsyncBin()} "$@"\n`, { mode: 0o755 });
      const bin = variant === 'ctsync' ? wrapper : '/usr/sbin/conntrackd';
      // the only edits: where the binary is, and which config/lock (each node has its own)
      const text = fs
        .readFileSync(SCRIPT, 'utf8')
        .replace(/^CONNTRACKD_BIN=.*$/m, `CONNTRACKD_BIN=${bin}`)
        .replace(/^CONNTRACKD_CONFIG=.*$/m, 'CONNTRACKD_CONFIG=$NODE_CONF')
        .replace(/^CONNTRACKD_LOCK=.*$/m, `CONNTRACKD_LOCK=${path.join(pair.dir, 'pb.lock')}`);
      script = path.join(pair.dir, 'primary-backup.sh');
      fs.writeFileSync(script, text, { mode: 0o755 });
      await pair.a.start();
      await pair.b.start();
      await pair.load(
        pair.a,
        mixedFlows(N).filter((e) => e.orig.proto !== 1),
      );
      await loadSessions(pair, pair.a, pair.b);
      await pair.converge(pair.a, pair.b);
    });

    after(async function () {
      await pair?.destroy();
    });

    it('"primary" on the backup puts every flow of the old primary into its kernel', async function () {
      const before = await kernelKeys(pair, pair.a);
      const r = await pair.b.ns.exec('sh', [script, 'primary'], { env: { NODE_CONF: pair.b.conf } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(await kernelKeys(pair, pair.b), before);
      // `-c` (commit all) carried the expectations over too
      assert.deepEqual(await kernelExpects(pair.b), await kernelExpects(pair.a));
      // -R reloaded the internal cache from the kernel: the new primary's cache holds the flows
      assert.equal((await pair.b.internal()).length, before.size);
    });

    it('"backup" on the old primary purges its table and resyncs from the new primary', async function () {
      const r = await pair.a.ns.exec('sh', [script, 'backup'], { env: { NODE_CONF: pair.a.conf } });
      assert.equal(r.exitCode, 0, r.stderr);
      await untilEmpty(pair, pair.a, 20_000);
      await pair.converge(pair.b, pair.a);
    });
  });
}
