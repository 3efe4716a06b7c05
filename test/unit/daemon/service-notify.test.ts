// The sd_notify protocol: what the environment asks for, what is sent when, and the addon's
// datagrams arriving at a real listening UNIX datagram socket (path and abstract name).
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ServiceNotifier,
  readNotifyEnvironment,
  serviceNotifier,
  statusText,
  type NotifyEnvironment,
  type NotifyLog,
  type NotifyPorts,
} from '../../../src/daemon/service-notify.js';
import { nativeAddon } from '../../../src/native.js';
import { NotifyListener } from '../../helpers/notify-listener.js';

describe('readNotifyEnvironment', () => {
  it('no NOTIFY_SOCKET (or an empty one): nothing to notify', () => {
    assert.equal(readNotifyEnvironment({}, 10), undefined);
    assert.equal(readNotifyEnvironment({ NOTIFY_SOCKET: '', WATCHDOG_USEC: '1000000' }, 10), undefined);
  });

  it('a socket without a watchdog', () => {
    assert.deepEqual(readNotifyEnvironment({ NOTIFY_SOCKET: '/run/systemd/notify' }, 10), {
      socket: '/run/systemd/notify',
      warnings: [],
    });
  });

  it('the watchdog pings at half of WATCHDOG_USEC, for us or for any process', () => {
    const env = { NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '30000000' };
    assert.equal(readNotifyEnvironment(env, 10)?.watchdogIntervalMs, 15_000);
    assert.equal(readNotifyEnvironment({ ...env, WATCHDOG_PID: '10' }, 10)?.watchdogIntervalMs, 15_000);
  });

  it('a watchdog for another process (WATCHDOG_PID) is not ours: no pings, no warning', () => {
    const r = readNotifyEnvironment({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '11' }, 10);
    assert.deepEqual(r, { socket: '@x', warnings: [] });
  });

  it('bad values are warnings naming the variable, and no watchdog', () => {
    for (const [env, warning] of [
      [{ WATCHDOG_USEC: 'soon' }, 'WATCHDOG_USEC=soon: not a positive number of microseconds; no watchdog pings'],
      [{ WATCHDOG_USEC: '0' }, 'WATCHDOG_USEC=0: not a positive number of microseconds; no watchdog pings'],
      [{ WATCHDOG_USEC: '100', WATCHDOG_PID: 'me' }, 'WATCHDOG_PID=me: not a process id; no watchdog pings'],
    ] as const) {
      assert.deepEqual(readNotifyEnvironment({ NOTIFY_SOCKET: '/n', ...env }, 10), {
        socket: '/n',
        warnings: [warning],
      });
    }
    assert.deepEqual(readNotifyEnvironment({ NOTIFY_SOCKET: 'vsock:2:9' }, 10)?.warnings, [
      'NOTIFY_SOCKET=vsock:2:9: neither a path nor an @abstract name; the service manager is not notified',
    ]);
  });
});

/** Fake ports: what was sent, and the periodic timers by interval, fired by hand. */
function fakePorts(
  result = 0,
): NotifyPorts & { sent: string[]; timers: Map<number, () => void>; fire(ms: number): void } {
  const timers = new Map<number, () => void>();
  return {
    sent: [],
    timers,
    send(message) {
      this.sent.push(message);
      return result;
    },
    every: (ms, fire) => (timers.set(ms, fire), ms),
    cancel: (ms) => timers.delete(ms as number),
    monotonicUsec: () => 123_456_789n,
    fire(ms) {
      timers.get(ms)!();
    },
  };
}

describe('ServiceNotifier', () => {
  const env: NotifyEnvironment = { socket: '/n', watchdogIntervalMs: 500, warnings: [] };
  const state = { role: 'backup', internal: 3, external: 7 };
  const log = (): NotifyLog => ({ info: () => undefined, warn: () => undefined });

  it('READY=1 carries the first status; STATUS is then refreshed periodically', () => {
    const ports = fakePorts();
    const n = new ServiceNotifier(env, ports, log(), () => state, 10_000);
    assert.deepEqual(ports.sent, [], 'nothing before ready()');
    n.ready();
    assert.deepEqual(ports.sent, ['READY=1\nSTATUS=role backup; internal cache 3 entries, external cache 7 entries']);
    state.internal = 4;
    ports.fire(10_000);
    assert.equal(ports.sent[1], 'STATUS=role backup; internal cache 4 entries, external cache 7 entries');
  });

  it('watchdog pings at the interval the environment gave, only when asked for', () => {
    const ports = fakePorts();
    new ServiceNotifier(env, ports, log(), () => state).startWatchdog();
    ports.fire(500);
    ports.fire(500);
    assert.deepEqual(ports.sent, ['WATCHDOG=1', 'WATCHDOG=1']);
    const quiet = fakePorts();
    new ServiceNotifier({ socket: '/n', warnings: [] }, quiet, log(), () => state).startWatchdog();
    assert.equal(quiet.timers.size, 0);
  });

  it('STOPPING=1 once, then nothing more: timers cancelled, later calls silent', () => {
    const ports = fakePorts();
    const n = new ServiceNotifier(env, ports, log(), () => state, 10_000);
    n.startWatchdog();
    n.ready();
    n.stopping();
    n.stopping();
    n.updateStatus();
    n.ready();
    assert.equal(ports.timers.size, 0);
    assert.deepEqual(ports.sent.slice(1), ['STOPPING=1\nSTATUS=stopping']);
  });

  it('a reload: RELOADING=1 with the monotonic time it began, then READY=1 with the status', () => {
    const ports = fakePorts();
    const n = new ServiceNotifier(env, ports, log(), () => state, 10_000);
    n.reloading();
    n.reloaded();
    assert.deepEqual(ports.sent, ['RELOADING=1\nMONOTONIC_USEC=123456789', `READY=1\nSTATUS=${statusText(state)}`]);
  });

  it('a failed send is a warning naming the socket, the errno and the message', () => {
    const ports = fakePorts(-111);
    const warnings: string[] = [];
    const n = new ServiceNotifier(env, ports, { info: () => undefined, warn: (m) => warnings.push(m) }, () => state);
    n.ready();
    assert.deepEqual(warnings, ['systemd: cannot notify /n (ECONNREFUSED): READY=1 not delivered']);
  });

  it('statusText', () => {
    assert.equal(
      statusText({ role: 'active', internal: 0, external: 12 }),
      'role active; internal cache 0 entries, external cache 12 entries',
    );
  });
});

describe('serviceNotifier (the daemon’s)', () => {
  const quiet = { info: () => undefined, warn: () => undefined };
  const state = () => ({ role: 'starting', internal: 0, external: 0 });

  it('none without NOTIFY_SOCKET, whatever the watchdog variables say', () => {
    assert.equal(serviceNotifier(true, quiet, state, { WATCHDOG_USEC: '1000000' }), undefined);
  });

  it('none with Systemd off, and the log says the socket is left alone', () => {
    const infos: string[] = [];
    const n = serviceNotifier(false, { info: (m) => infos.push(m), warn: () => undefined }, state, {
      NOTIFY_SOCKET: '/run/n',
    });
    assert.equal(n, undefined);
    assert.deepEqual(infos, ['systemd: Systemd is off in General: NOTIFY_SOCKET=/run/n is not notified']);
  });
});

describe('sdNotify (addon) to a listening UNIX datagram socket', function () {
  this.timeout(30_000);
  let dir: string;
  const listeners: NotifyListener[] = [];

  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-notify-'))));
  after(() => {
    for (const l of listeners) l.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ['path', 'abstract'] as const) {
    it(`${kind} address: the datagram arrives whole, from this process`, async () => {
      const address = kind === 'path' ? path.join(dir, 'notify') : `@ctsync-notify-test-${process.pid}-${Date.now()}`;
      const listener = await NotifyListener.bind(address);
      listeners.push(listener);
      assert.equal(nativeAddon().sdNotify(address, 'READY=1\nSTATUS=role x'), 0);
      const n = await listener.waitFor('READY', 10_000);
      assert.equal(n.message, 'READY=1\nSTATUS=role x');
      assert.equal(n.pid, process.pid);
    });
  }

  it('-errno, never a throw, for an address nobody listens on or one that cannot be', () => {
    const addon = nativeAddon();
    assert.equal(addon.sdNotify(path.join(dir, 'nobody'), 'READY=1'), -2, 'ENOENT');
    assert.equal(addon.sdNotify('relative/path', 'READY=1'), -22, 'EINVAL');
    assert.equal(addon.sdNotify('@', 'READY=1'), -22, 'EINVAL: empty abstract name');
    assert.equal(addon.sdNotify('/' + 'x'.repeat(200), 'READY=1'), -36, 'ENAMETOOLONG');
  });
});
