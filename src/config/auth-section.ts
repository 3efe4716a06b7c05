// The sync authentication settings (docs/ftfw-protocol.md §13.5): their model, the JSON schema
// fragment, the conntrackd.conf `Authentication { … }` block inside `Sync`, the checks across
// fields, the key files' checks, and the block written back. Stock conntrackd refuses the block.
import type { Token } from './conntrackd-conf.js';
import { readKeyFile } from './auth-keys.js';

import { AUTH_MODES, type AuthMode } from '../sync/auth-verifier.js';

export { AUTH_MODES, type AuthMode };

export interface AuthKeyRef {
  /** Key id 1..255, as carried in the trailer. */
  id: number;
  /** Absolute path of the key file (auth-keys.ts). */
  file: string;
}

export interface AuthConfig {
  mode: AuthMode;
  keys: AuthKeyRef[];
  /** The key this node signs with. */
  activeKey: number;
  /**
   * Seal every datagram sent with AES-256-GCM (src/sync/auth-cipher.ts) instead of signing it, and
   * accept plain datagrams only in receive-only and permissive mode. The peer must be ctsync.
   */
  encrypt: boolean;
}

export interface AuthConfigInput {
  mode?: AuthMode;
  keys: AuthKeyRef[];
  /** Required when there are several keys; the only key's id otherwise. */
  activeKey?: number;
  encrypt?: boolean;
}

const PATH = 'sync.authentication';
const keyId = { type: 'integer', minimum: 1, maximum: 255, expected: 'a key id from 1 to 255' };

/** `sync.authentication` in the JSON schema. */
export const authenticationSchema = {
  type: 'object',
  required: ['keys'],
  additionalProperties: false,
  expected: 'the authentication settings (an object with at least "keys")',
  properties: {
    mode: { enum: [...AUTH_MODES], expected: '"receive-only", "permissive" or "enforce"' },
    keys: {
      type: 'array',
      minItems: 1,
      maxItems: 255,
      expected: 'a list of 1 to 255 keys ({ "id": 1, "file": "/etc/ctsync/sync-1.key" })',
      items: {
        type: 'object',
        required: ['id', 'file'],
        additionalProperties: false,
        expected: 'a key: { "id": 1..255, "file": an absolute path }',
        properties: {
          id: keyId,
          file: { type: 'string', pattern: '^/', maxLength: 4095, expected: 'an absolute path' },
        },
      },
    },
    activeKey: keyId,
    encrypt: { type: 'boolean', expected: 'true or false' },
  },
};

/** A problem at a key path of the model (the shape of schema.ts's KeyedProblem). */
export interface AuthProblem {
  path: string;
  message: string;
  related?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the schema cannot say: key ids unique, the active key among them, named when needed. */
export function authProblems(root: unknown): AuthProblem[] {
  const out: AuthProblem[] = [];
  const auth = isObj(root) && isObj(root.sync) ? root.sync.authentication : undefined;
  if (!isObj(auth) || !Array.isArray(auth.keys)) return out;
  const first = new Map<number, number>();
  const ids: number[] = [];
  auth.keys.forEach((k, i) => {
    if (!isObj(k) || typeof k.id !== 'number') return;
    ids.push(k.id);
    const prev = first.get(k.id);
    if (prev === undefined) first.set(k.id, i);
    else
      out.push({
        path: `${PATH}.keys[${i}].id`,
        message: `key id ${k.id} is given twice`,
        related: `${PATH}.keys[${prev}].id`,
      });
  });
  if (typeof auth.activeKey === 'number') {
    if (!ids.includes(auth.activeKey))
      out.push({
        path: `${PATH}.activeKey`,
        message: `names key ${auth.activeKey}, which is not among the keys (${ids.join(', ')})`,
      });
  } else if (auth.activeKey === undefined && ids.length > 1) {
    out.push({ path: `${PATH}.activeKey`, message: `is needed when there are several keys (${ids.join(', ')})` });
  }
  return out;
}

/**
 * Warnings about settings that are valid but may not do what is meant. `Encrypt on`: the config
 * cannot tell what the peer runs, and a stock conntrackd peer skips every sealed datagram whole
 * (one message of an unknown version), so it would receive nothing; say so every time.
 */
export function authWarnings(auth: AuthConfig | undefined): AuthProblem[] {
  if (!auth?.encrypt) return [];
  return [
    {
      path: `${PATH}.encrypt`,
      message:
        'is on: the peer must be ctsync with Authentication and the same keys; a stock conntrackd peer cannot read encrypted datagrams and receives nothing',
    },
  ];
}

/** The settings with their defaults: enforce; the only key active. */
export function resolveAuth(a: AuthConfigInput): AuthConfig {
  return {
    mode: a.mode ?? 'enforce',
    keys: a.keys.map((k) => ({ id: k.id, file: k.file })),
    activeKey: a.activeKey ?? a.keys[0]!.id,
    encrypt: a.encrypt ?? false,
  };
}

/** Every key file that cannot be used (missing, open to group or others, not one 32-byte key). */
export function keyFileProblems(auth: AuthConfig | undefined): AuthProblem[] {
  if (!auth) return [];
  const out: AuthProblem[] = [];
  auth.keys.forEach((k, i) => {
    const r = readKeyFile(k.file);
    if (r.ok) return;
    const what = r.where === k.file ? `file ${k.file}` : `file ${r.where}:`;
    out.push({ path: `${PATH}.keys[${i}].file`, message: `${what} ${r.why}` });
  });
  return out;
}

/** The keys of `auth` read from their files, by id; throws naming the first file that fails. */
export function loadAuthKeys(auth: AuthConfig): Map<number, Buffer> {
  const keys = new Map<number, Buffer>();
  for (const k of auth.keys) {
    const r = readKeyFile(k.file);
    if (!r.ok) throw new Error(`authentication key ${k.id}: ${r.where === k.file ? k.file : `${r.where}:`} ${r.why}`);
    keys.set(k.id, r.key);
  }
  return keys;
}

/** The block as conntrackd.conf lines (one tab deep, inside `Sync`). */
export function authenticationConfLines(auth: AuthConfig): string[] {
  return [
    '\tAuthentication {',
    `\t\tMode ${auth.mode}`,
    ...auth.keys.map((k) => `\t\tKey ${k.id} ${k.file}`),
    `\t\tActiveKey ${auth.activeKey}`,
    `\t\tEncrypt ${auth.encrypt ? 'on' : 'off'}`,
    '\t}',
  ];
}

/** What the conntrackd.conf reader lends to read the block (its own checks and bookkeeping). */
export interface AuthBlockReader {
  peek(): Token;
  next(): Token;
  open(head: Token): Token | undefined;
  body(ctx: string, open: Token, head: Token, onOption: (t: Token) => void): void;
  err(t: Token, message: string): void;
  num(opt: Token, path?: string): number | undefined;
  bool(opt: Token, path?: string): boolean | undefined;
  path(opt: Token, path: string): string | undefined;
  set(obj: Record<string, unknown>, key: string, value: unknown, path: string, opt: Token): void;
  unknownOption(t: Token, ctx: string, valid: readonly string[]): void;
  /** Records where a model path was set. */
  at(path: string, t: Token): void;
  reported: Set<string>;
}

const CTX = 'Sync > Authentication';
const OPTIONS = ['Mode', 'Key', 'ActiveKey', 'Encrypt'];

/** Reads `Authentication { … }` (head consumed) into `sync.authentication`. */
export function readAuthenticationBlock(r: AuthBlockReader, head: Token, sync: Record<string, unknown>): void {
  if (sync.authentication !== undefined) r.err(head, "'Authentication' is given twice in Sync");
  const auth: Record<string, unknown> & { keys: AuthKeyRef[] } = { keys: [] };
  sync.authentication = auth;
  r.at(PATH, head);
  const open = r.open(head);
  if (!open) {
    r.reported.add(PATH);
    return;
  }
  let sawKey = false;
  r.body(CTX, open, head, (t) => {
    if (t.text === 'Key') sawKey = true;
    switch (t.text) {
      case 'Mode':
        modeOption(r, t, auth);
        break;
      case 'Key':
        keyOption(r, t, auth);
        break;
      case 'ActiveKey': {
        const v = r.num(t, `${PATH}.activeKey`);
        if (v !== undefined) r.set(auth, 'activeKey', v, `${PATH}.activeKey`, t);
        break;
      }
      case 'Encrypt': {
        const on = r.bool(t, `${PATH}.encrypt`);
        if (on !== undefined) r.set(auth, 'encrypt', on, `${PATH}.encrypt`, t);
        break;
      }
      default:
        r.unknownOption(t, CTX, OPTIONS);
    }
  });
  if (!sawKey) {
    r.err(head, "'Authentication' has no 'Key' (e.g. 'Key 1 /etc/ctsync/sync-1.key')");
  }
  if (auth.keys.length === 0) r.reported.add(PATH);
}

function modeOption(r: AuthBlockReader, t: Token, auth: Record<string, unknown>): void {
  const v = r.peek();
  if (v.kind === 'word' && v.line === t.line && (AUTH_MODES as readonly string[]).includes(v.text)) {
    r.next();
    r.set(auth, 'mode', v.text, `${PATH}.mode`, t);
    return;
  }
  const got = v.kind === 'word' && v.line === t.line ? `'${v.text}'` : 'nothing';
  r.err(v.kind === 'word' ? v : t, `'Mode' in ${CTX} expects receive-only, permissive or enforce, got ${got}`);
  r.reported.add(`${PATH}.mode`);
  if (v.kind === 'word' && v.line === t.line) r.next();
}

function keyOption(r: AuthBlockReader, t: Token, auth: { keys: AuthKeyRef[] }): void {
  const i = auth.keys.length;
  const id = r.num(t, `${PATH}.keys`);
  if (id === undefined) return;
  const file = r.path(t, `${PATH}.keys`);
  if (file === undefined) return;
  auth.keys.push({ id, file });
  r.at(`${PATH}.keys[${i}]`, t);
  r.at(`${PATH}.keys[${i}].id`, t);
  r.at(`${PATH}.keys[${i}].file`, t);
}
