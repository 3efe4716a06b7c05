// The log's line formats: text by default, JSON lines with --log-format json.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type LogFormat } from '../../src/log.js';
import { ctsyncBin } from '../helpers/netns.js';

describe('log formats', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-log-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Logs two messages to a new file in `format` and returns its lines. */
  async function logged(format: LogFormat | undefined): Promise<string[]> {
    const file = path.join(dir, `${format ?? 'default'}.log`);
    const log = createLogger({ console: false, file, rateLimit: false, ...(format ? { format } : {}) });
    log.info('peer contacted us');
    log.warn('two\nlines "quoted"');
    await new Promise<void>((resolve) => {
      log.on('finish', resolve);
      log.end();
    });
    await new Promise((r) => setTimeout(r, 100)); // the file transport's own stream
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  }

  it('text is the default: [timestamp] (level) message', async () => {
    const lines = await logged(undefined);
    assert.match(lines[0]!, /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] \(info\) peer contacted us$/);
    const untimed = (l: string[]): string[] => l.map((x) => x.replace(/^\[[^\]]+\] /, ''));
    assert.deepEqual(untimed(await logged('text')), untimed(lines));
  });

  it('json: one object per line with level, message and timestamp; newlines stay inside the string', async () => {
    const lines = await logged('json');
    assert.equal(lines.length, 2);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      objects.map(({ level, message }) => ({ level, message })),
      [
        { level: 'info', message: 'peer contacted us' },
        { level: 'warn', message: 'two\nlines "quoted"' },
      ],
    );
    for (const o of objects) assert.match(String(o.timestamp), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.deepEqual(Object.keys(objects[0]!).sort(), ['level', 'message', 'timestamp']);
  });

  for (const mode of ['foreground', '-d'] as const)
    it(`the daemon takes --log-format json (${mode}): its start-up failure is a JSON line in LogFile`, () => {
      const log = path.join(dir, `daemon${mode}.log`);
      const lock = path.join(dir, 'held.lock');
      fs.writeFileSync(lock, `${process.pid}\n`); // held by a live process: the daemon cannot start
      const conf = path.join(dir, 'c.conf');
      fs.writeFileSync(
        conf,
        [
          'Sync {',
          '  Mode FTFW { }',
          '  UDP Default { IPv4_address 192.0.2.1',
          '    IPv4_Destination_Address 192.0.2.2',
          '    Port 3780',
          '    Interface lo }',
          '}',
          'General {',
          `  LogFile ${log}`,
          `  LockFile ${lock}`,
          `  UNIX { Path ${path.join(dir, 'c.sock')} }`,
          '}',
          '',
        ].join('\n'),
      );
      const r = spawnSync(
        process.execPath,
        [ctsyncBin(), '-C', conf, '--log-format', 'json', ...(mode === '-d' ? ['-d'] : [])],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.notEqual(r.status, 0);
      const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
      const last = JSON.parse(lines.at(-1)!) as { level: string; message: string };
      assert.equal(last.level, 'error');
      assert.equal(
        last.message,
        `cannot start: lock file ${lock} is held by a running daemon (pid ${process.pid}); stop it with -k`,
      );
    });
});
