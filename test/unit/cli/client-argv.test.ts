// The command line's fast path (src/cli/client-argv.ts): the plain client commands that
// keepalived scripts run are read without commander and load only the control socket's client,
// and they behave exactly as the full command line (program.ts) does. Checked against a fake
// daemon (a control socket in a temporary directory): same requests, same output, same status.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseClientArgv } from '../../../src/cli/client-argv.js';
import { repoRoot } from '../../helpers/fakes.js';

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function node(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 });
    });
  });
}

/** A control socket that answers as a daemon would, and records what it was asked. */
class FakeDaemon {
  readonly requests: unknown[] = [];
  private readonly server: net.Server;

  constructor(readonly path: string) {
    this.server = net.createServer((sock) => {
      let rest = '';
      sock.on('data', (d) => {
        rest += d.toString();
        const nl = rest.indexOf('\n');
        if (nl < 0) return;
        const req = JSON.parse(rest.slice(0, nl)) as { cmd: string };
        this.requests.push(req);
        for (const line of FakeDaemon.answer(req.cmd)) sock.write(JSON.stringify(line) + '\n');
        sock.end();
      });
      sock.on('error', () => undefined);
    });
  }

  private static answer(cmd: string): unknown[] {
    const ok = (result: unknown): unknown => ({ ok: true, result });
    const status = {
      role: 'active',
      since: 0,
      last: {
        from: 'backup',
        to: 'active',
        reason: { source: 'cli', detail: 'ctsync promote' },
        durationMs: 7,
        result: 'ok',
      },
    };
    switch (cmd) {
      case 'stats':
        return [ok({ text: 'cache internal:\n\tactive: 0\n', counters: { internal: 0 } })];
      case 'dump-text':
        return [{ data: 'tcp 6 300 ESTABLISHED src=192.0.2.1' }, { data: 'udp 17 30 src=192.0.2.2' }, ok({})];
      case 'dump':
        return [{ data: { family: 2 } }, ok({})];
      case 'commit':
        return [
          ok({
            committed: 3,
            replaced: 1,
            failed: [],
            seconds: 0.0123,
            expect: { committed: 0, replaced: 0, failed: [], seconds: 0.001 },
          }),
        ];
      case 'notify':
        return [ok({ decision: 'backup' })];
      case 'promote':
        return [ok({ outcome: { outcome: 'completed', transition: { durationMs: 7, result: 'ok' } }, status })];
      case 'demote':
        return [ok({ outcome: { outcome: 'noop' }, status: { ...status, role: 'backup' } })];
      case 'status':
        return [ok({ pid: 1, uptimeSeconds: 5, ha: status, internal: 1, external: 2, channel: 'udp' })];
      case 'health':
        return [
          ok({
            status: 'degraded',
            findings: [{ name: 'unsynced', severity: 'degraded', message: 'external cache incomplete', since: 0 }],
            sync: {
              tracked: true,
              synced: false,
              reason: 'start-up',
              since: 0,
              gate: { pass: false, why: 'unsynced' },
            },
          }),
        ];
      case 'kill':
        return [{ ok: false, error: 'refused for the test' }];
      default:
        return [ok({})];
    }
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('CLI fast path', function () {
  this.timeout(300_000);
  const dist = path.join(repoRoot(), 'dist/src/cli');
  const main = path.join(dist, 'main.js');
  // the shipped entry (package.json's bin): main.ts bundled with the fast path into one CommonJS file
  const bundle = path.join(dist, 'ctsync.cjs');
  let dir: string;
  let conf: string;
  let full: string;
  let daemon: FakeDaemon;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-cli-'));
    conf = path.join(dir, 'conntrackd.conf');
    daemon = new FakeDaemon(path.join(dir, 'ctl.sock'));
    fs.writeFileSync(conf, `General {\n  UNIX {\n    Path ${daemon.path}\n  }\n}\n`);
    // the full command line alone, as main.js runs it for what the fast path leaves
    full = path.join(dir, 'full.mjs');
    fs.writeFileSync(
      full,
      `import { runProgram } from ${JSON.stringify(pathToFileURL(path.join(dist, 'program.js')).href)};\nawait runProgram(process.argv);\n`,
    );
    await daemon.listen();
  });

  after(async () => {
    await daemon?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('parseClientArgv', () => {
    it('reads -x with -i and -e, before or after them', () => {
      for (const args of [
        ['-i', 'ct', '-x'],
        ['-x', '-i'],
        ['--xml', '-e', 'expect'],
      ]) {
        const call = parseClientArgv(args);
        assert.equal(call?.kind, 'request', args.join(' '));
        assert.equal(call.kind === 'request' && call.opts.xml, true, args.join(' '));
      }
    });

    it('reads the plain client commands', () => {
      assert.deepEqual(parseClientArgv(['-C', 'a.conf', '-c']), {
        kind: 'request',
        action: 'commit',
        opts: { config: 'a.conf', commit: true },
      });
      assert.deepEqual(parseClientArgv(['-C', 'a.conf', '-s', 'n']), {
        kind: 'request',
        action: 'stats',
        opts: { config: 'a.conf', stats: 'network' },
      });
      assert.deepEqual(parseClientArgv(['--config=a.conf', '--flush', 'ext', '--json']), {
        kind: 'request',
        action: 'flush',
        opts: { config: 'a.conf', flush: 'external', json: true },
      });
      assert.deepEqual(parseClientArgv(['-B']), { kind: 'request', action: 'bulk', opts: { bulk: true } });
      assert.deepEqual(parseClientArgv(['-C', 'a.conf', 'notify', 'GROUP', 'G1', 'MASTER', '0']), {
        kind: 'notify',
        program: { config: 'a.conf' },
        args: ['GROUP', 'G1', 'MASTER', '0'],
        opts: {},
      });
      assert.deepEqual(parseClientArgv(['promote', '--force', '--json']), {
        kind: 'transition',
        program: {},
        name: 'promote',
        opts: { force: true, json: true },
      });
      assert.deepEqual(parseClientArgv(['health', '--sync']), { kind: 'health', program: {}, opts: { sync: true } });
      assert.deepEqual(parseClientArgv(['--version']), { kind: 'version' });
    });

    it('leaves everything else to commander', () => {
      for (const args of [
        [],
        ['-C', 'a.conf'],
        ['-C', 'a.conf', '-d'],
        ['--help'],
        ['-h'],
        ['-C', 'a.conf', '-c', '-f'],
        ['-c', '-c'],
        ['-c', 'bogus'],
        ['-sn'],
        ['-C'],
        ['-C', '-c'],
        ['--bulk=1'],
        ['-C', 'a', '-x'],
        ['-s', '-x'],
        ['-i', '-x', '--json'],
        ['-i', '-x', '-x'],
        ['-C', 'a', '--log-level', 'debug'],
        ['-c', 'ct', 'extra'],
        ['ct', 'list'],
        ['config', 'check', 'x'],
        ['-B', 'notify', 'X'],
        ['notify'],
        ['notify', 'A', '--bogus'],
        ['promote', 'now'],
        ['status', '--force'],
        ['health', '--force'],
        ['health', 'now'],
        ['--version', '-c'],
        ['--', '-c'],
      ])
        assert.equal(parseClientArgv(args), undefined, args.join(' '));
    });
  });

  // every argument list twice: main.js (the fast path where it applies) and the full command line
  const cases: string[][] = [
    ['-c'],
    ['-c', 'ct'],
    ['-c', 'e'],
    ['--commit', 'expect', '--json'],
    ['-f'],
    ['-f', 'i'],
    ['-F'],
    ['-R', 'ct'],
    ['-B'],
    ['-n'],
    ['-t'],
    ['-k'],
    ['-s'],
    ['-s', 'net'],
    ['-s', 'MULTI'],
    ['-s', 'c'],
    ['-s', 'p'],
    ['-s', 'ct', '--json'],
    ['-i'],
    ['-e', 'ct'],
    ['-e', '--json'],
    ['-i', 'ct', '-x'],
    ['-x', '-e', 'expect'],
    ['notify', 'INSTANCE', 'VI_1', 'MASTER', '100'],
    ['notify', 'INSTANCE', 'VI_1', 'MAESTER'],
    ['notify', '--json', 'GROUP', 'G', 'BACKUP'],
    ['promote'],
    ['promote', '--force', '--json'],
    ['demote'],
    ['status'],
    ['status', '--json'],
    ['health'],
    ['health', '--json'],
    ['health', '--sync'],
    ['health', '--sync', '--json'],
    // not taken by the fast path: the same behaviour, trivially, but the cases keep it honest
    ['-c', 'bogus'],
    ['-c', '-f'],
    ['-s', '-x'],
    ['promote', 'now'],
  ];

  it('sends the same requests and prints the same as the full command line', async () => {
    for (const entry of [main, bundle]) {
      for (const c of cases) {
        const args = ['-C', conf, ...c];
        daemon.requests.length = 0;
        const fast = await node([entry, ...args]);
        const fastRequests = [...daemon.requests];
        daemon.requests.length = 0;
        const slow = await node([full, ...args]);
        assert.deepEqual(fast, slow, `${path.basename(entry)} ${c.join(' ')}`);
        assert.deepEqual(fastRequests, daemon.requests, `${path.basename(entry)} ${c.join(' ')}`);
      }
      // no -C: the default configuration files (absent here, or a real one: the same either way)
      assert.deepEqual(await node([entry, '-s']), await node([full, '-s']));
      assert.deepEqual(await node([entry, '--version']), await node([full, '--version']));
    }
  });

  it('ships the bundle as the bin, holding node built-ins only and the slow paths outside', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    assert.equal(path.join(repoRoot(), pkg.bin['ctsync']!), bundle);
    const text = fs.readFileSync(bundle, 'utf8');
    assert.ok(text.startsWith('#!/usr/bin/env node\n'), 'the bundle keeps the shebang');
    const required = [...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]);
    assert.deepEqual(
      required.filter((r) => !r!.startsWith('node:')),
      [],
      'the bundle requires node built-ins only',
    );
    const imported = new Set([...text.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]));
    assert.deepEqual([...imported].sort(), ['../config/errors.js', '../config/load.js', './program.js']);
  });

  it('loads only the control socket client for a client command', async () => {
    // an ES module hook that notes every module the command loads
    const log = path.join(dir, 'loaded.txt');
    const hooks = path.join(dir, 'hooks.mjs');
    fs.writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`,
    );
    const register = path.join(dir, 'register.mjs');
    fs.writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const allowed = [
      'cli/main.js',
      'cli/client-argv.js',
      'cli/client-flags.js',
      'cli/client-requests.js',
      'cli/output.js',
      'control/client.js',
      'ha/keepalived.js',
    ];
    for (const c of [
      ['-c'],
      ['-s', 'cache'],
      ['-i'],
      ['-k'],
      ['notify', 'INSTANCE', 'VI_1', 'BACKUP'],
      ['promote'],
      ['demote'],
      ['--version'],
    ]) {
      fs.rmSync(log, { force: true });
      const r = await node([
        '--import',
        pathToFileURL(register).href,
        main,
        ...(c[0] === '--version' ? [] : ['-C', conf]),
        ...c,
      ]);
      assert.ok(r.code === 0 || c[0] === '-k', `${c.join(' ')}: ${r.stderr}`);
      const ours = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((u) => u.startsWith('file:'));
      const extra = ours.filter((u) => !allowed.some((a) => u.endsWith(`/dist/src/${a}`)));
      assert.deepEqual(extra, [], `${c.join(' ')} loaded more than it uses`);
      // the bundle: its client commands load no module of ours besides itself
      fs.rmSync(log, { force: true });
      const b = await node([
        '--import',
        pathToFileURL(register).href,
        bundle,
        ...(c[0] === '--version' ? [] : ['-C', conf]),
        ...c,
      ]);
      assert.ok(b.code === 0 || c[0] === '-k', `bundle ${c.join(' ')}: ${b.stderr}`);
      const loaded = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : [];
      const mine = loaded.filter((u) => u.startsWith('file:') && !u.endsWith('/dist/src/cli/ctsync.cjs'));
      assert.deepEqual(mine, [], `bundle ${c.join(' ')} loaded more than itself`);
    }
  });
});
