// loadConfig (format detection, errors with places, warnings) and convertConntrackdConf.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/errors.js';
import { convertConntrackdConf, jsonError, loadConfig } from '../../../src/config/load.js';
import { validateConfig } from '../../../src/config/schema.js';
import { repoRoot } from '../../helpers/fakes.js';

const DEBIAN = path.join(repoRoot(), 'test/fixtures/conntrackd/debian-ftfw.conf');
const JSON_CONFIG = {
  sync: {
    channels: [{ kind: 'udp', ipv4Address: '10.0.0.1', destination: '10.0.0.2', port: 3780, interface: 'eth1' }],
  },
};

async function loadError(file: string): Promise<string> {
  try {
    await loadConfig(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('config: loading', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-config-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('reads a .json file as the native format', async () => {
    const r = await loadConfig(write('a.json', JSON.stringify(JSON_CONFIG)));
    assert.equal(r.format, 'json');
    assert.equal(r.config.sync.channels[0]!.port, 3780);
    assert.equal(r.config.general.hashSize, 65536);
    assert.deepStrictEqual(r.warnings, []);
  });

  it('recognises JSON by content whatever the file name', async () => {
    assert.equal((await loadConfig(write('ctsync.conf', JSON.stringify(JSON_CONFIG, null, 2)))).format, 'json');
  });

  it('reads anything else as conntrackd.conf', async () => {
    const r = await loadConfig(DEBIAN);
    assert.equal(r.format, 'conntrackd');
    assert.equal(r.config.sync.channels[0]!.kind, 'multicast');
    assert.equal(r.config.general.logFile, '/var/log/conntrackd.log');
  });

  it('JSON syntax errors give line and column', async () => {
    const file = write('bad.json', '{\n  "sync": {\n    "channels": [,]\n  }\n}\n');
    assert.equal(await loadError(file), `${file}:3:18: invalid JSON: unexpected ','`);
  });

  it('a file starting with "{" is JSON even without the extension', async () => {
    const file = write('ctsync.cfg', '{ "sync": ');
    assert.equal(await loadError(file), `${file}:1:11: invalid JSON: unexpected end of file`);
  });

  it('broken JSON nested deeper than any config is an error at its place, not a stack overflow', async () => {
    // Found by conntrackd-conf.fuzz.test.ts: the position finder recursed once per level.
    const file = write('deep.json', '{"sync":'.repeat(20000));
    assert.equal(await loadError(file), `${file}:1:801: invalid JSON: nested more than 100 levels deep`);
  });

  it('a stray character in JSON is named by its escape', async () => {
    const file = write('nbsp.json', '{\u00a0"sync": {}}');
    assert.equal(await loadError(file), `${file}:1:2: invalid JSON: expected a key in double quotes, got '\\u00a0'`);
  });

  it('jsonError finds what JSON.parse rejects', () => {
    const cases: Array<[string, number, string]> = [
      ['{"a":1,}', 7, "trailing comma before '}'"],
      ["{'a':1}", 1, "expected a key in double quotes, got '''"],
      ['{"a" 1}', 5, "expected ':' after the key, got '1'"],
      ['[1 2]', 3, "expected ',' or ']', got '2'"],
      ['{"a":"x\\q"}', 7, 'bad escape in a string'],
      ['{"a":"x\ny"}', 7, 'control character in a string (write it escaped)'],
      ['{"a":tru}', 5, "unexpected 't'"],
      ['{} x', 3, "unexpected 'x' after the end of the JSON value"],
      ['"abc', 4, 'unterminated string'],
    ];
    for (const [text, offset, message] of cases) {
      assert.throws(() => JSON.parse(text));
      assert.deepStrictEqual(jsonError(text), { offset, message }, text);
    }
    assert.equal(jsonError('{"a": [1, 2.5e3, -0, true, null, "\\u00e9"]}'), undefined);
  });

  it('schema problems of a JSON file name the file and key path', async () => {
    const file = write(
      'ports.json',
      JSON.stringify({ sync: { channels: [{ ...JSON_CONFIG.sync.channels[0], port: 0 }] } }),
    );
    assert.equal(await loadError(file), `${file}: sync.channels[0].port: must be >= 1, got 0`);
  });

  it('conntrackd.conf problems name the file, line and column', async () => {
    const file = write('conntrackd.conf', 'Sync {\n  Mode FTFW {\n    Foo 1\n  }\n}\n');
    assert.equal(
      await loadError(file),
      [
        `${file}:1:1: 'Sync' section has no 'UDP', 'Multicast' or 'TCP' block (ctsync needs one to reach its peer)`,
        `${file}:3:5: unknown option 'Foo' in Sync > Mode FTFW`,
      ].join('\n'),
    );
  });

  it('JSON warnings are formatted with the key path', async () => {
    const file = write(
      'warn.json',
      JSON.stringify({ sync: { disableExternalCache: true, commitTimeout: 9, channels: JSON_CONFIG.sync.channels } }),
    );
    assert.deepStrictEqual((await loadConfig(file)).warnings, [
      `${file}: sync.commitTimeout: is ignored when disableExternalCache is on (received entries go straight into the kernel)`,
    ]);
  });

  it('a missing file is a ConfigError naming it', async () => {
    assert.match(await loadError(path.join(dir, 'nope.conf')), /nope\.conf: cannot read the configuration: ENOENT/);
  });

  it('convertConntrackdConf gives JSON that loads to the same configuration', async () => {
    const text = fs.readFileSync(DEBIAN, 'utf8');
    const { json, config, warnings } = convertConntrackdConf(text, 'debian-ftfw.conf');
    assert.deepStrictEqual(warnings, []);
    const parsed = JSON.parse(json) as unknown;
    assert.deepStrictEqual(parsed, config);
    assert.doesNotThrow(() => validateConfig(parsed, 'converted.json'));
    const fromJson = await loadConfig(write('converted.json', json));
    const fromConf = await loadConfig(DEBIAN);
    assert.deepStrictEqual(fromJson.config, fromConf.config);
  });

  it('convertConntrackdConf refuses what ctsync does not support', () => {
    assert.throws(
      () => convertConntrackdConf('Stats { LogFile on }\n', 'stats.conf'),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          "stats.conf:1:1: 'Stats' section is not supported by ctsync (conntrackd's statistics mode; ctsync only synchronizes)",
    );
  });
});
