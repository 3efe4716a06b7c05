// SIGHUP's re-read of the configuration: what changed is named, a bad file is reported.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { changedSettings, rereadConfig } from '../../../src/daemon/config-reload.js';
import { loadConfig } from '../../../src/config/load.js';

describe('changedSettings', () => {
  it('names each differing leaf by its path; arrays compare whole', () => {
    assert.deepEqual(
      changedSettings(
        { general: { hashLimit: 1, unix: { path: '/a' } }, sync: { channels: [{ port: 1 }] } },
        { general: { hashLimit: 2, unix: { path: '/a' } }, sync: { channels: [{ port: 2 }] }, log: { level: 'debug' } },
      ),
      ['general.hashLimit', 'log', 'sync.channels'],
    );
  });

  it('nothing for equal configurations', () => {
    assert.deepEqual(changedSettings({ a: { b: [1, 2] } }, { a: { b: [1, 2] } }), []);
  });
});

describe('rereadConfig', () => {
  let dir: string;
  const conf = (hashLimit: number): string =>
    [
      'Sync {',
      '  Mode FTFW { }',
      '  UDP Default { IPv4_address 192.0.2.1',
      '    IPv4_Destination_Address 192.0.2.2',
      '    Port 3780',
      '    Interface eth0 }',
      '}',
      'General {',
      `  HashLimit ${hashLimit}`,
      '}',
      '',
    ].join('\n');
  const logged = (): { lines: string[]; info(m: string): void; warn(m: string): void; error(m: string): void } => {
    const lines: string[] = [];
    return {
      lines,
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    };
  };

  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-reload-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('unchanged, changed, broken: each said once, in its words', async () => {
    const file = path.join(dir, 'c.conf');
    fs.writeFileSync(file, conf(1000));
    const { config } = await loadConfig(file);
    const log = logged();
    assert.deepEqual(await rereadConfig(file, config, log), { changed: [] });
    fs.writeFileSync(file, conf(2000));
    assert.deepEqual(await rereadConfig(file, config, log), { changed: ['general.hashLimit'] });
    fs.writeFileSync(file, conf(2000).replace('HashLimit', 'HashLimmit'));
    const broken = await rereadConfig(file, config, log);
    assert.ok('error' in broken);
    assert.deepEqual(log.lines.slice(0, 2), [
      `info configuration re-read (SIGHUP): ${file} is unchanged`,
      `warn configuration re-read (SIGHUP): changed in ${file}: general.hashLimit; not applied to the running daemon, restart it to apply them`,
    ]);
    assert.match(
      log.lines[2]!,
      /^error configuration re-read \(SIGHUP\): .*c\.conf:9:.*HashLimmit.*; the daemon keeps running with the configuration it started with$/s,
    );
  });
});
