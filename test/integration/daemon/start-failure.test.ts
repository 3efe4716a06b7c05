// A daemon that cannot start says why, in one line, on stderr and in its log file, and leaves
// no lock file of its own behind: in the foreground (where, with a real-time Scheduler, it has
// restarted itself with V8 flags first) and with -d. The configs are SyncPair's, which have
// `Scheduler { Type FIFO Priority 1 }`.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair } from '../../helpers/syncpair.js';
import { convertConntrackdConf } from '../../../src/config/load.js';
import { ctsyncBin, requireRoot, type ExecResult } from '../../helpers/netns.js';

describe('a daemon that cannot start says why', function () {
  this.timeout(120_000);
  let pair: SyncPair;
  let lockFile: string;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('start', { impl: 'ctsync' }, { impl: 'ctsync' });
    lockFile = path.join(pair.dir, 'b.lock');
  });

  after(async function () {
    await pair?.destroy();
  });

  beforeEach(() => {
    fs.rmSync(pair.b.log, { force: true });
    fs.rmSync(lockFile, { force: true });
  });

  /** Runs ctsync in b's namespace (foreground unless -d is among the arguments). */
  const ctsync = (args: string[], timeout = 60_000): Promise<ExecResult> =>
    pair.b.ns.exec(process.execPath, [ctsyncBin(), ...args], { timeout });
  const stderrLines = (r: ExecResult): string[] => r.stderr.split('\n').filter((l) => l.trim() !== '');
  const logText = (): string => (fs.existsSync(pair.b.log) ? fs.readFileSync(pair.b.log, 'utf8') : '');

  /** A lock file held by a process that is alive (this test's). */
  function holdLock(): string {
    fs.writeFileSync(lockFile, `${process.pid}\n`);
    return `lock file ${lockFile} is held by a running daemon (pid ${process.pid}); stop it with -k`;
  }

  /** b's config with one line replaced. */
  function confWith(name: string, line: RegExp, replacement: string): string {
    const conf = path.join(pair.dir, `b-${name}.conf`);
    const text = fs.readFileSync(pair.b.conf, 'utf8');
    assert.match(text, line);
    fs.writeFileSync(conf, text.replace(line, replacement));
    return conf;
  }

  /** b's config with a local address that is not on the machine (its interface has 192.0.2.2). */
  const foreignAddressConf = (): string =>
    confWith('foreign', /IPv4_address 192\.0\.2\.2\n/, 'IPv4_address 192.0.2.77\n');
  const BIND_FAILURE =
    'sync channel: cannot bind 192.0.2.77:3780 (EADDRNOTAVAIL: the address is not on this machine; check IPv4_address in Sync > UDP)';

  for (const mode of ['foreground', '-d'] as const) {
    const extra = mode === '-d' ? ['-d'] : [];

    it(`${mode}: a lock held by a running daemon: the reason on stderr (one line) and in the log; the lock is left alone`, async function () {
      const reason = holdLock();
      const r = await ctsync(['-C', pair.b.conf, ...extra]);
      assert.notEqual(r.exitCode, 0);
      assert.deepEqual(stderrLines(r), [`ctsync: ${reason}`]);
      assert.ok(logText().includes(`(error) cannot start: ${reason}\n`), `in the log:\n${logText()}`);
      assert.equal(fs.readFileSync(lockFile, 'utf8'), `${process.pid}\n`, "the other daemon's lock is untouched");
    });

    it(`${mode}: a local address that is not on the machine: one line naming address, port and setting; no lock file left`, async function () {
      const r = await ctsync(['-C', foreignAddressConf(), ...extra]);
      assert.notEqual(r.exitCode, 0);
      assert.deepEqual(stderrLines(r), [`ctsync: ${BIND_FAILURE}`], 'one line, no stack trace');
      assert.ok(logText().includes(`(error) cannot start: ${BIND_FAILURE}\n`), `in the log:\n${logText()}`);
      assert.ok(!fs.existsSync(lockFile), 'no lock file left behind');
    });
  }

  it('a LogFile that is a directory: refused in one line (the daemon used to run and log nowhere)', async function () {
    const conf = confWith('logdir', /LogFile .*\n/, `LogFile ${pair.dir}\n`);
    const r = await ctsync(['-C', conf], 15_000);
    assert.notEqual(r.exitCode, 0);
    assert.deepEqual(stderrLines(r), [
      `ctsync: log file ${pair.dir} cannot be written (EISDIR: it is a directory): check LogFile in General`,
    ]);
    assert.ok(!fs.existsSync(lockFile), 'no lock file left behind');
  });

  it('a control socket in a directory that does not exist: one line naming the socket and the setting', async function () {
    const sock = path.join(pair.dir, 'nodir', 'b.sock');
    const conf = confWith('nodir', /UNIX \{ Path .* \}\n/, `UNIX { Path ${sock} }\n`);
    const r = await ctsync(['-C', conf]);
    assert.notEqual(r.exitCode, 0);
    const reason = `control socket ${sock}: cannot listen (EACCES: its directory does not exist): check Path in General > UNIX`;
    assert.deepEqual(stderrLines(r), [`ctsync: ${reason}`]);
    assert.ok(logText().includes(`(error) cannot start: ${reason}\n`), `in the log:\n${logText()}`);
  });

  it('a metrics address that is not on the machine: one line naming it; no lock file left', async function () {
    const conf = path.join(pair.dir, 'b-metrics.json');
    const { config } = convertConntrackdConf(fs.readFileSync(pair.b.conf, 'utf8'), pair.b.conf);
    fs.writeFileSync(conf, JSON.stringify({ ...config, metrics: { address: '192.0.2.77', port: 9469 } }));
    const r = await ctsync(['-C', conf]);
    assert.notEqual(r.exitCode, 0);
    assert.deepEqual(stderrLines(r), ['ctsync: metrics: cannot listen on 192.0.2.77:9469: EADDRNOTAVAIL']);
    assert.ok(!fs.existsSync(lockFile), 'no lock file left behind');
  });

  it("a second daemon on the same control socket fails, and leaves the first one's socket alone", async function () {
    await pair.b.start();
    try {
      const conf = confWith('second', /LockFile .*\n/, `LockFile ${path.join(pair.dir, 'second.lock')}\n`);
      const r = await ctsync(['-C', conf]);
      assert.notEqual(r.exitCode, 0);
      assert.deepEqual(stderrLines(r), [
        `ctsync: ${pair.b.sock}: another daemon is running (it answers on this socket)`,
      ]);
      assert.equal(
        (await pair.b.client(['-s', 'rsqueue'])).exitCode,
        0,
        'the first daemon still answers on its socket',
      );
    } finally {
      await pair.b.stop();
    }
  });

  it('and the daemon starts with the same config once the lock is free', async function () {
    await pair.b.start();
    await pair.b.stop();
  });
});
