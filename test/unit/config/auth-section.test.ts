// The Authentication settings (src/config/auth-section.ts): the conntrackd.conf block and the
// JSON form give the same model; every mistake is refused at its file:line or key path; the
// writer gives the block back; `loadConfig(…, { keyFiles: true })` (config check, the daemon)
// refuses unusable key files at the `Key` line that names them.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConntrackdConf } from '../../../src/config/conntrackd-conf.js';
import { toConntrackdConf } from '../../../src/config/conntrackd-conf-write.js';
import { ConfigError } from '../../../src/config/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { withDefaults } from '../../../src/config/model.js';
import { checkConfig } from '../../../src/config/schema.js';
import { keyFileText } from '../../../src/config/auth-keys.js';

const UDP = 'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth2 }';
/** The Authentication block's body starts on line 3. */
const conf = (body: string) => `Sync {\n\tMode FTFW { }\n\tAuthentication {\n${body}\n\t}\n\t${UDP}\n}\n`;

function errorOf(text: string): string {
  try {
    parseConntrackdConf(text, 'c.conf');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('config/auth-section', () => {
  it('reads the block of the issue into sync.authentication', () => {
    const r = parseConntrackdConf(
      conf('Mode permissive\nKey 1 /etc/ctsync/sync-1.key\nKey 2 /etc/ctsync/sync-2.key\nActiveKey 2\nEncrypt off'),
      'c.conf',
    );
    assert.deepEqual(r.config.sync.authentication, {
      mode: 'permissive',
      keys: [
        { id: 1, file: '/etc/ctsync/sync-1.key' },
        { id: 2, file: '/etc/ctsync/sync-2.key' },
      ],
      activeKey: 2,
      encrypt: false,
    });
  });

  it('defaults to enforce with the only key active, and is absent when not given', () => {
    const cfg = withDefaults(parseConntrackdConf(conf('Key 7 /k'), 'c.conf').config);
    assert.deepEqual(cfg.sync.authentication, {
      mode: 'enforce',
      keys: [{ id: 7, file: '/k' }],
      activeKey: 7,
      encrypt: false,
    });
    const off = withDefaults(parseConntrackdConf(`Sync {\n\tMode FTFW { }\n\t${UDP}\n}\n`, 'c.conf').config);
    assert.equal(off.sync.authentication, undefined);
  });

  it('refuses each mistake at its line', () => {
    assert.equal(
      errorOf(conf('Mode strict\nKey 1 /k')),
      "c.conf:4:6: 'Mode' in Sync > Authentication expects receive-only, permissive or enforce, got 'strict'",
    );
    assert.match(errorOf(conf('Key 1 /k\nEncrypt maybe')), /^c\.conf:5:9: 'Encrypt' expects/);
    assert.equal(
      errorOf(conf('Mode enforce')),
      "c.conf:3:2: 'Authentication' has no 'Key' (e.g. 'Key 1 /etc/ctsync/sync-1.key')",
    );
    assert.equal(
      errorOf(conf('Key 1 /a\nKey 1 /b\nActiveKey 1')),
      "c.conf:5:1: 'Key' key id 1 is given twice (first at line 4)",
    );
    assert.equal(
      errorOf(conf('Key 1 /a\nActiveKey 3')),
      "c.conf:5:1: 'ActiveKey' names key 3, which is not among the keys (1)",
    );
    assert.equal(
      errorOf(conf('Key 1 /a\nKey 2 /b')),
      "c.conf:3:2: in 'Authentication': sync.authentication.activeKey is needed when there are several keys (1, 2)",
    );
    assert.equal(errorOf(conf('Key 0 /a')), "c.conf:4:1: 'Key' must be >= 1, got 0");
    assert.match(errorOf(conf('Key 1 relative')), /^c\.conf:4:7: 'Key' expects an absolute path/);
    assert.match(errorOf(conf('Key 1 /a\nSecret x')), /^c\.conf:5:1: unknown option 'Secret' in Sync > Authentication/);
  });

  it('checks the JSON form with the same rules', () => {
    const base = {
      channels: [{ kind: 'udp', ipv4Address: '192.0.2.1', destination: '192.0.2.2', port: 3780, interface: 'eth2' }],
    };
    const problems = (authentication: unknown) =>
      checkConfig({ sync: { ...base, authentication } }).map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(problems({ keys: [{ id: 1, file: '/k' }] }), []);
    assert.deepEqual(problems({ keys: [{ id: 1, file: '/k' }], encrypt: true }), []);
    assert.deepEqual(problems({ keys: [{ id: 1, file: '/k' }], encrypt: 'yes' }), [
      'sync.authentication.encrypt: must be true or false, got "yes"',
    ]);
    assert.deepEqual(problems({ keys: [{ id: 1, file: '/k' }], activeKey: 2 }), [
      'sync.authentication.activeKey: names key 2, which is not among the keys (1)',
    ]);
    assert.ok(problems({ keys: [] }).length > 0);
    assert.ok(problems({ keys: [{ id: 256, file: '/k' }] }).length > 0);
    assert.ok(problems({ keys: [{ id: 1, file: 'k' }] }).length > 0);
  });

  it('is written back as the same block (writer → reader round trip)', () => {
    for (const encrypt of ['off', 'on']) {
      const body = `Mode receive-only\nKey 3 /a\nKey 9 /b\nActiveKey 9\nEncrypt ${encrypt}`;
      const cfg = withDefaults(parseConntrackdConf(conf(body), 'c.conf').config);
      assert.equal(cfg.sync.authentication?.encrypt, encrypt === 'on');
      const again = withDefaults(parseConntrackdConf(toConntrackdConf(cfg), 'w.conf').config);
      assert.deepEqual(again.sync.authentication, cfg.sync.authentication);
    }
  });

  it('takes Encrypt on, and warns that the peer must be ctsync (both formats)', () => {
    const r = parseConntrackdConf(conf('Key 1 /k\nEncrypt on'), 'c.conf');
    assert.equal(r.config.sync.authentication?.encrypt, true);
    const warning = r.warnings.map((w) => w.message).find((m) => m.includes('stock conntrackd'));
    assert.ok(warning, JSON.stringify(r.warnings));
    assert.match(warning, /cannot read encrypted datagrams/);
    assert.equal(r.warnings.find((w) => w.message === warning)?.line, 5, 'at the Encrypt line');
    const off = parseConntrackdConf(conf('Key 1 /k\nEncrypt off'), 'c.conf');
    assert.ok(!off.warnings.some((w) => w.message.includes('stock conntrackd')));
  });

  it('refuses unusable key files at the Key line when asked to read them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-auth-'));
    try {
      const good = path.join(dir, 'good.key');
      const open = path.join(dir, 'open.key');
      fs.writeFileSync(good, keyFileText(Buffer.alloc(32, 1)), { mode: 0o600 });
      fs.writeFileSync(open, keyFileText(Buffer.alloc(32, 2)), { mode: 0o644 });
      fs.chmodSync(open, 0o644);
      const file = path.join(dir, 'c.conf');
      fs.writeFileSync(file, conf(`Key 1 ${good}\nKey 2 ${open}\nKey 3 ${dir}/none.key\nActiveKey 1`));
      await loadConfig(file); // without keyFiles: only the configuration
      await assert.rejects(loadConfig(file, { keyFiles: true }), (e: Error) => {
        assert.equal(
          e.message,
          `${file}:5:1: 'Key' file ${open} can be read or written by group or others (mode 0644); run chmod 600 on it\n` +
            `${file}:6:1: 'Key' file ${dir}/none.key does not exist`,
        );
        return true;
      });
      fs.writeFileSync(file, conf(`Key 1 ${good}`));
      assert.equal((await loadConfig(file, { keyFiles: true })).config.sync.authentication?.activeKey, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
