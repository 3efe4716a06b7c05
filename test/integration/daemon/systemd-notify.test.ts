// The daemon under a `Type=notify` service manager, played by a listening UNIX datagram socket
// (systemd is not PID 1 here): READY=1 only once the sync channel is bound and the kernel table
// loaded, from the main pid (NotifyAccess=main, through the real-time restart); WATCHDOG=1 at
// half of WATCHDOG_USEC; STOPPING=1 on SIGTERM. conntrackd.conf's `Systemd` (default on, as
// conntrackd built with systemd) switches it; the stock Debian conntrackd.service works with ctsync
// in conntrackd's place.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';
import { serviceSettings } from '../../helpers/unit-file.js';
import { until } from '../../helpers/listen.js';
import { NotifyListener, notifyValue, type Notification } from '../../helpers/notify-listener.js';

const DEBIAN_UNIT = '/lib/systemd/system/conntrackd.service';

const internalCount = (n: Notification): number => {
  const m = /internal cache (\d+) entries/.exec(notifyValue(n, 'STATUS') ?? '');
  assert.ok(m, `STATUS with the cache sizes in ${JSON.stringify(n.message)}`);
  return Number(m[1]);
};

describe('the daemon under a Type=notify service manager', function () {
  this.timeout(180_000);
  let pair: SyncPair;
  let listener: NotifyListener | undefined;
  let daemon: ReturnType<SyncPair['b']['ns']['spawn']> | undefined;
  const FLOWS = 300;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'python3');
    pair = await SyncPair.create('sdn', { impl: 'ctsync' }, { impl: 'ctsync' });
    // flows in b's kernel, for READY to come after they are loaded
    await pair.load(
      pair.b,
      mixedFlows(FLOWS * 2)
        .filter((e) => e.orig.proto === 6)
        .slice(0, FLOWS),
    );
  });

  // a failed test leaves no daemon behind (it would hold the lock for the next one)
  afterEach(async () => {
    listener?.close();
    listener = undefined;
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await daemon;
    }
    daemon = undefined;
  });

  after(async function () {
    await pair?.destroy();
  });

  /** Starts ctsync in b's namespace in the foreground, `env` added, notifying a new listener. */
  async function runNotified(args: string[], env: Record<string, string> = {}) {
    const address = path.join(pair.dir, `notify-${Date.now()}`);
    listener = await NotifyListener.bind(address);
    daemon = pair.b.ns.spawn(process.execPath, [ctsyncBin(), ...args], {
      env: { NOTIFY_SOCKET: address, ...env },
    });
    return { daemon, listener };
  }

  it('READY after bind and dump, from the main pid; watchdog at half of WATCHDOG_USEC; STOPPING on SIGTERM', async function () {
    const { daemon, listener } = await runNotified(['-C', pair.b.conf], { WATCHDOG_USEC: '1000000' });
    const ready = await listener.waitFor('READY', 60_000);
    assert.equal(ready.pid, daemon.pid, 'sent by the main process (its pid survives the real-time restart)');
    assert.ok(
      internalCount(ready) >= FLOWS,
      `the kernel table is loaded at READY: ${ready.message} (loaded ${FLOWS} flows)`,
    );
    assert.match(notifyValue(ready, 'STATUS')!, /^role \w+; internal cache \d+ entries, external cache \d+ entries$/);
    // the control socket answers once READY is out (clients like keepalived's scripts start after it)
    assert.equal((await pair.b.client(['-s', 'rsqueue'])).exitCode, 0);
    await sleep(4000);
    const pings = listener.with('WATCHDOG').filter((n) => n.at > ready.at);
    assert.ok(pings.length >= 3, `watchdog pings after READY: ${pings.length}`);
    assert.ok(
      pings.every((n) => n.pid === daemon.pid),
      'pings from the main pid',
    );
    const gaps = pings.slice(1).map((n, i) => n.at - pings[i].at);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    // 500 ms asked (half of 1 s); generous bounds, yet the full interval (1000 ms) is out
    assert.ok(mean > 300 && mean < 800, `mean ping interval ${mean.toFixed(0)} ms (gaps ${gaps.join(', ')})`);
    daemon.kill('SIGTERM');
    const stopping = await listener.waitFor('STOPPING', 15_000);
    assert.equal(stopping.pid, daemon.pid);
    assert.equal((await daemon).exitCode, 0);
    const last = listener.received.at(-1)!;
    assert.equal(last, stopping, 'nothing after STOPPING=1');
  });

  it('SIGHUP (ExecReload): RELOADING=1 then READY=1, the changed setting named in the log, the daemon still running', async function () {
    const conf = path.join(pair.dir, 'b-reload.conf');
    const text = fs.readFileSync(pair.b.conf, 'utf8');
    fs.writeFileSync(conf, text);
    fs.rmSync(pair.b.log, { force: true });
    const { daemon, listener } = await runNotified(['-C', conf]);
    const ready = await listener.waitFor('READY', 60_000);
    fs.writeFileSync(conf, text.replace(/HashLimit \d+/, 'HashLimit 123456'));
    daemon.kill('SIGHUP');
    const reloading = await listener.waitFor('RELOADING', 15_000);
    assert.match(notifyValue(reloading, 'MONOTONIC_USEC')!, /^\d+$/);
    await until('READY again', () => listener.with('READY').length === 2, 15_000);
    assert.ok(listener.with('READY')[1]!.at > reloading.at && reloading.at > ready.at);
    assert.equal((await pair.b.client(['-s', 'rsqueue'])).exitCode, 0, 'the daemon still answers');
    assert.match(
      fs.readFileSync(pair.b.log, 'utf8'),
      /\(warn\) configuration re-read \(SIGHUP\): changed in \S+b-reload\.conf: general\.hashLimit; not applied to the running daemon, restart it to apply them/,
    );
    daemon.kill('SIGTERM');
    assert.equal((await daemon).exitCode, 0);
  });

  it('a WATCHDOG_PID naming another process: READY, but no pings', async function () {
    const { daemon, listener } = await runNotified(['-C', pair.b.conf], {
      WATCHDOG_USEC: '200000',
      WATCHDOG_PID: '1',
    });
    await listener.waitFor('READY', 60_000);
    await sleep(1000);
    assert.deepEqual(listener.with('WATCHDOG'), []);
    daemon.kill('SIGTERM');
    await daemon;
  });

  it('Systemd off: nothing is sent, and the log says so', async function () {
    const conf = path.join(pair.dir, 'b-systemd-off.conf');
    fs.writeFileSync(
      conf,
      fs.readFileSync(pair.b.conf, 'utf8').replace(/^General \{\n/m, 'General {\n\tSystemd off\n'),
    );
    assert.match(fs.readFileSync(conf, 'utf8'), /Systemd off/);
    fs.rmSync(pair.b.log, { force: true });
    const { daemon, listener } = await runNotified(['-C', conf], { WATCHDOG_USEC: '200000' });
    for (let i = 0; i < 200 && (await pair.b.client(['-s', 'rsqueue'])).exitCode !== 0; i++) await sleep(100);
    await sleep(1000);
    daemon.kill('SIGTERM');
    assert.equal((await daemon).exitCode, 0);
    assert.deepEqual(listener.received, []);
    assert.match(fs.readFileSync(pair.b.log, 'utf8'), /Systemd is off in General: NOTIFY_SOCKET=\S+ is not notified/);
  });

  it('the stock Debian conntrackd.service, with ctsync as conntrackd: its Type=notify protocol is met', async function () {
    if (!fs.existsSync(DEBIAN_UNIT)) this.skip();
    const unit = serviceSettings(fs.readFileSync(DEBIAN_UNIT, 'utf8'));
    assert.equal(unit.get('Type'), 'notify');
    const notifyAccess = unit.get('NotifyAccess') ?? 'main';
    const [binary, ...args] = unit.get('ExecStart')!.split(/\s+/);
    assert.equal(binary, '/usr/sbin/conntrackd');
    assert.deepEqual(args.slice(0, -1), ['-C'], 'the unit runs the daemon in the foreground with a config');
    // the config the unit names, with this test's paths (and no Systemd line: the default applies)
    assert.doesNotMatch(fs.readFileSync(pair.b.conf, 'utf8'), /Systemd/);
    const { daemon, listener } = await runNotified(['-C', pair.b.conf]);
    // TimeoutStartSec's default is 90 s
    const ready = await listener.waitFor('READY', 90_000);
    if (notifyAccess === 'main') assert.equal(ready.pid, daemon.pid, 'NotifyAccess=main: from the main pid');
    // systemd stops the unit with SIGTERM (KillSignal's default); Restart=on-failure must not fire
    daemon.kill('SIGTERM');
    await listener.waitFor('STOPPING', 15_000);
    const done = await daemon;
    assert.equal(done.exitCode, 0, `a clean exit: ${done.stderr}`);
  });
});
