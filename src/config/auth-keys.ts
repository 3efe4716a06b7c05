// Sync authentication keys on disk (docs/ftfw-protocol.md §13.5): the key file format, reading one
// with its permission checks, and writing a new random one. The format:
//
//   # ctsync sync key (docs/ftfw-protocol.md §13.5); keep it mode 0600
//   <64 hexadecimal digits: the 32-byte key>
//
// Lines starting with '#' and blank lines are ignored; exactly one key line is required.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Bytes of a key (HMAC-SHA256 and AES-256-GCM both take 32). */
export const KEY_BYTES = 32;

/** A key file's bytes, or why they are not one: `where` is `path:line` or `path`. */
export type KeyParse = { ok: true; key: Buffer } | { ok: false; where: string; why: string };

/** Parses the text of a key file (no I/O): `path` only names it in problems. */
export function parseKeyFile(text: string, path: string): KeyParse {
  let key: Buffer | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${path}:${i + 1}`;
    if (key) return { ok: false, where, why: 'a second key line (a key file holds one key)' };
    if (!/^[0-9a-fA-F]*$/.test(line)) return { ok: false, where, why: 'the key line is not hexadecimal digits' };
    if (line.length !== 2 * KEY_BYTES)
      return {
        ok: false,
        where,
        why: `the key is ${line.length / 2} bytes (${line.length} hex digits); it must be ${KEY_BYTES} bytes (${2 * KEY_BYTES} hex digits)`,
      };
    key = Buffer.from(line, 'hex');
  }
  if (!key) return { ok: false, where: path, why: 'no key line (expected 64 hexadecimal digits)' };
  return { ok: true, key };
}

/** The text of a key file holding `key`. */
export function keyFileText(key: Uint8Array): string {
  return `# ctsync sync key (docs/ftfw-protocol.md §13.5); keep it mode 0600\n${Buffer.from(key).toString('hex')}\n`;
}

/** Why a key file's status is refused (not a regular file, group or others have access), if it is. */
export function permissionProblem(st: Pick<fs.Stats, 'mode' | 'isFile'>): string | undefined {
  if (!st.isFile()) return 'is not a regular file';
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0)
    return `can be read or written by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 on it`;
  return undefined;
}

/** Reads a key file: its key, or one line saying what is wrong with it and where. */
export function readKeyFile(path: string): KeyParse {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, where: path, why: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
  const refused = permissionProblem(st);
  if (refused) return { ok: false, where: path, why: refused };
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, where: path, why: `cannot be read (${(e as NodeJS.ErrnoException).code})` };
  }
  return parseKeyFile(text, path);
}

/**
 * Writes a new random key to `path` with mode 0600; refuses to overwrite an existing file (a key
 * in use would be lost).
 */
export function generateKeyFile(path: string): void {
  const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, keyFileText(randomBytes(KEY_BYTES)));
  } finally {
    fs.closeSync(fd);
  }
}
