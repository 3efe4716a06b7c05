// SIGHUP's re-read of the configuration: what changed is named, a bad file is reported.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { changedSettings, rereadConfig, type ReloadTargets } from '../../../src/daemon/config-reload.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';
import type { AuthConfig } from '../../../src/config/auth-section.js';
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
  const conf = (hashLimit: number, auth: string[] = []): string =>
    [
      'Sync {',
      ...auth,
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

  it('applies the Authentication settings as a whole, refuses the removal of the active key, names the rest', async () => {
    const file = path.join(dir, 'auth.conf');
    const key = (id: number): string => {
      const f = path.join(dir, `sync-${id}.key`);
      if (!fs.existsSync(f)) generateKeyFile(f);
      return f;
    };
    const block = (mode: string, ids: number[], active: number): string[] => [
      'Authentication {',
      `Mode ${mode}`,
      ...ids.map((id) => `Key ${id} ${key(id)}`),
      `ActiveKey ${active}`,
      '}',
    ];
    fs.writeFileSync(file, conf(1000));
    const { config } = await loadConfig(file);
    const calls: Array<[AuthConfig | undefined, number[]]> = [];
    let state: ReloadTargets['authentication'] = { auth: undefined, keys: new Map() };
    const target: ReloadTargets = {
      get authentication() {
        return state;
      },
      reconfigure(auth, keys) {
        calls.push([auth, [...keys.keys()]]);
        state = { auth, keys };
      },
    };
    const log = logged();
    fs.writeFileSync(file, conf(1000, block('receive-only', [1], 1)));
    assert.deepEqual(await rereadConfig(file, config, log, target), {
      changed: [],
      applied: ['on (receive-only, keys 1, active key 1)'],
    });
    assert.equal(config.sync.authentication?.mode, 'receive-only', 'the running configuration follows');
    fs.writeFileSync(file, conf(2000, block('enforce', [1, 2], 1)));
    assert.deepEqual(await rereadConfig(file, config, log, target), {
      changed: ['general.hashLimit'],
      applied: ['mode receive-only -> enforce', 'key 2 added'],
    });
    fs.writeFileSync(file, conf(2000, block('enforce', [2], 2)));
    const refused = await rereadConfig(file, config, log, target);
    assert.match('refused' in refused ? refused.refused! : '', /removes key 1/);
    assert.equal(calls.length, 2, 'nothing applied of the refused reload');
    assert.deepEqual(calls[1], [config.sync.authentication, [1, 2]]);
    assert.deepEqual(
      log.lines.map((l) => l.replaceAll(file, 'FILE')),
      [
        'info configuration re-read (SIGHUP): applied from FILE: authentication on (receive-only, keys 1, active key 1)',
        'info configuration re-read (SIGHUP): applied from FILE: authentication mode receive-only -> enforce, key 2 added',
        'warn configuration re-read (SIGHUP): changed in FILE: general.hashLimit; not applied to the running daemon, restart it to apply them',
        'error configuration re-read (SIGHUP): FILE: the Authentication settings are refused: it removes key 1, which this node signs with now; make another key active first (ActiveKey), reload, and remove key 1 in a later reload; authentication stays as it runs (enforce, keys 1, 2, active key 1)',
        'warn configuration re-read (SIGHUP): changed in FILE: general.hashLimit; not applied to the running daemon, restart it to apply them',
      ],
    );
  });
});
