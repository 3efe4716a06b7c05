// etc/ctsync.service: systemd accepts it (`systemd-analyze verify`), and the daemon does its work
// with only the capabilities the unit leaves it (CapabilityBoundingSet, applied here with
// setpriv: systemd is not PID 1 on a CI machine): it replicates, commits and runs real-time.
// Each capability is needed: without it something named fails.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SyncPair, mixedFlows } from '../../helpers/syncpair.js';
import { commandMissing, ctsyncBin, requireRoot } from '../../helpers/netns.js';
import { until } from '../../helpers/listen.js';
import { repoRoot } from '../../helpers/fakes.js';
import { serviceSettings } from '../../helpers/unit-file.js';

const UNIT = path.join(repoRoot(), 'etc/ctsync.service');

describe('etc/ctsync.service', function () {
  this.timeout(180_000);

  it('systemd-analyze verify finds nothing to say', function () {
    if (commandMissing('systemd-analyze')) {
      console.log('      (skipped: systemd-analyze is not installed)');
      this.skip();
    }
    // verify also checks that the commands exist: the installed binary's path becomes one that does
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-unit-'));
    try {
      const text = fs.readFileSync(UNIT, 'utf8');
      assert.match(text, /\/usr\/bin\/ctsync /);
      const unit = path.join(dir, 'ctsync.service');
      fs.writeFileSync(unit, text.replaceAll('/usr/bin/ctsync ', `${process.execPath} `));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      // unknown or misspelt keys are only warnings: any output is a finding
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is Type=notify with a watchdog and a reload, and limits the capabilities', () => {
    const unit = serviceSettings(fs.readFileSync(UNIT, 'utf8'));
    assert.equal(unit.get('Type'), 'notify');
    assert.match(unit.get('WatchdogSec') ?? '', /^\d+s$/);
    assert.equal(unit.get('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(unit.get('CapabilityBoundingSet'), 'CAP_NET_ADMIN CAP_SYS_NICE');
    assert.equal(unit.get('AmbientCapabilities'), unit.get('CapabilityBoundingSet'));
    assert.equal(unit.get('NoNewPrivileges'), 'yes');
  });

  describe('the daemon with only the capabilities the unit leaves it', function () {
    let pair: SyncPair;
    const caps = (): string[] =>
      serviceSettings(fs.readFileSync(UNIT, 'utf8'))
        .get('CapabilityBoundingSet')!
        .split(/\s+/)
        .map((c) => c.replace(/^CAP_/, '').toLowerCase());

    before(async function () {
      requireRoot.call(this, 'conntrack', 'setpriv');
      pair = await SyncPair.create('cap', { impl: 'ctsync' }, { impl: 'ctsync' });
      await pair.a.start();
    });

    after(async function () {
      await pair?.destroy();
    });

    /** Runs b in the foreground with the bounding set `capabilities` and no new privileges. */
    function runB(capabilities: string[]) {
      const bounding = ['-all', ...capabilities.map((c) => `+${c}`)].join(',');
      return pair.b.ns.spawn('setpriv', [
        `--bounding-set=${bounding}`,
        '--no-new-privs',
        process.execPath,
        ctsyncBin(),
        '-C',
        pair.b.conf,
      ]);
    }

    const bLog = (): string => (fs.existsSync(pair.b.log) ? fs.readFileSync(pair.b.log, 'utf8') : '');

    it("replicates, commits and applies the real-time Scheduler with the unit's set", async function () {
      fs.rmSync(pair.b.log, { force: true });
      const daemon = runB(caps());
      try {
        await until('b answers', async () => (await pair.b.client(['-s', 'rsqueue'])).exitCode === 0, 60_000);
        // the capabilities are what setpriv left: nothing beyond the bounding set
        const status = fs.readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
        const capEff = BigInt('0x' + /^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]);
        const CAP_NET_ADMIN = 12n;
        const CAP_SYS_NICE = 23n;
        assert.equal(capEff, (1n << CAP_NET_ADMIN) | (1n << CAP_SYS_NICE), `CapEff ${capEff.toString(16)}`);
        assert.match(bLog(), /Scheduler FIFO priority 1 applied to the main thread/);
        const flows = mixedFlows(200)
          .filter((e) => e.orig.proto === 6)
          .slice(0, 50);
        await pair.load(pair.a, flows);
        let ext: string[] = [];
        await until('b has the flows in its external cache', async () => {
          ext = await pair.b.external();
          return ext.length >= flows.length;
        }).catch((err: Error) => {
          throw new Error(`${err.message}: ${ext.length} of ${flows.length}\n${bLog()}`);
        });
        const commit = await pair.b.client(['-c']);
        assert.equal(commit.exitCode, 0, commit.stderr);
        const kernel = await pair.kernel(pair.b);
        assert.ok(kernel.length >= flows.length, `b's kernel has ${kernel.length} entries after the commit`);
        assert.doesNotMatch(bLog(), /\(error\)/);
      } finally {
        daemon.kill('SIGTERM');
        await daemon;
      }
    });

    it('without CAP_SYS_NICE the Scheduler is refused (EPERM), said in the log', async function () {
      fs.rmSync(pair.b.log, { force: true });
      const daemon = runB(caps().filter((c) => c !== 'sys_nice'));
      try {
        await until('b answers', async () => (await pair.b.client(['-s', 'rsqueue'])).exitCode === 0, 60_000);
        assert.match(bLog(), /Scheduler FIFO priority 1 not applied: EPERM/);
      } finally {
        daemon.kill('SIGTERM');
        await daemon;
      }
    });

    it('without CAP_NET_ADMIN the daemon cannot start, and says why', async function () {
      fs.rmSync(pair.b.log, { force: true });
      const r = await runB(caps().filter((c) => c !== 'net_admin'));
      assert.notEqual(r.exitCode, 0);
      assert.match(String(r.stderr), /^ctsync: .*(EPERM|EACCES|Operation not permitted)/m);
    });
  });
});
