// Key files (src/config/auth-keys.ts): the format, the permission checks, and `generate`.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KEY_BYTES, generateKeyFile, keyFileText, parseKeyFile, readKeyFile } from '../../../src/config/auth-keys.js';

const HEX = 'ab'.repeat(KEY_BYTES);

describe('config/auth-keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-keys-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads one line of 64 hex digits, comments and blank lines aside (mirror of keyFileText)', () => {
    const r = parseKeyFile(`# a comment\n\n  ${HEX}  \n`, 'k');
    assert.ok(r.ok);
    assert.equal(r.key.toString('hex'), HEX);
    const key = Buffer.alloc(KEY_BYTES, 0x5a);
    const back = parseKeyFile(keyFileText(key), 'k');
    assert.ok(back.ok && back.key.equals(key));
  });

  it('names the line of what is wrong: length, digits, a second key, no key', () => {
    assert.deepEqual(parseKeyFile(`#\n${HEX.slice(2)}\n`, 'k'), {
      ok: false,
      where: 'k:2',
      why: 'the key is 31 bytes (62 hex digits); it must be 32 bytes (64 hex digits)',
    });
    assert.deepEqual(parseKeyFile(`${HEX.slice(1)}x\n`, 'k'), {
      ok: false,
      where: 'k:1',
      why: 'the key line is not hexadecimal digits',
    });
    assert.equal((parseKeyFile(`${HEX}\n${HEX}\n`, 'k') as { where: string }).where, 'k:2');
    assert.deepEqual(parseKeyFile('# nothing\n', 'k'), {
      ok: false,
      where: 'k',
      why: 'no key line (expected 64 hexadecimal digits)',
    });
  });

  it('refuses a key file that group or others can read, a missing one, a directory', () => {
    const f = path.join(dir, 'k');
    fs.writeFileSync(f, `${HEX}\n`, { mode: 0o600 });
    assert.ok(readKeyFile(f).ok);
    fs.chmodSync(f, 0o640);
    assert.deepEqual(readKeyFile(f), {
      ok: false,
      where: f,
      why: 'can be read or written by group or others (mode 0640); run chmod 600 on it',
    });
    fs.chmodSync(f, 0o604);
    assert.equal(readKeyFile(f).ok, false);
    assert.deepEqual(readKeyFile(path.join(dir, 'none')), {
      ok: false,
      where: path.join(dir, 'none'),
      why: 'does not exist',
    });
    assert.deepEqual(readKeyFile(dir), { ok: false, where: dir, why: 'is not a regular file' });
  });

  it('generates a random key with mode 0600 and never overwrites a file', () => {
    const f = path.join(dir, 'new.key');
    const umask = process.umask(0);
    try {
      generateKeyFile(f);
    } finally {
      process.umask(umask);
    }
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    const r = readKeyFile(f);
    assert.ok(r.ok && r.key.length === KEY_BYTES);
    const g = path.join(dir, 'other.key');
    generateKeyFile(g);
    assert.notEqual(fs.readFileSync(f, 'utf8'), fs.readFileSync(g, 'utf8'));
    assert.throws(() => generateKeyFile(f), /EEXIST/);
    assert.equal(fs.readFileSync(f, 'utf8'), fs.readFileSync(f, 'utf8'));
  });
});
