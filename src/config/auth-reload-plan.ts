// What a reload (SIGHUP) does with the sync authentication settings (docs/ftfw-protocol.md §13.9):
// compares the running settings and keys with the re-read ones and says what changes, or why the
// whole change is refused. Pure: the keys come read, the caller applies the plan in one step.
import type { AuthConfig } from './auth-section.js';

/** Authentication as it runs, or as a re-read file has it: settings (undefined: off) and keys by id. */
export interface AuthState {
  auth: AuthConfig | undefined;
  keys: ReadonlyMap<number, Uint8Array>;
}

export type AuthReloadPlan =
  | { kind: 'unchanged' }
  /** Apply `next` as a whole; `changes` names each difference, for the log. */
  | { kind: 'apply'; next: AuthState; changes: string[] }
  | { kind: 'refused'; why: string };

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const ids = (xs: readonly number[]): string => xs.join(', ');

/** Why `next` cannot replace `running` on a running daemon, if it cannot. */
function refusal(running: AuthState, next: AuthState): string | undefined {
  const was = running.auth;
  const now = next.auth;
  // framing and datagram size change with it, and the peer must change at the same moment
  if ((was?.encrypt ?? false) !== (now?.encrypt ?? false))
    return `Encrypt changes only with a restart (running: ${was?.encrypt ? 'on' : 'off'})`;
  if (!was || !now) return undefined;
  const active = was.activeKey;
  const kept = next.keys.get(active);
  // make before break: the peer may still verify with the key this node signs with
  if (!kept)
    return `it removes key ${active}, which this node signs with now; make another key active first (ActiveKey), reload, and remove key ${active} in a later reload`;
  if (!sameBytes(kept, running.keys.get(active)!))
    return `key ${active}, which this node signs with now, has other bytes in ${now.keys.find((k) => k.id === active)!.file}; give a new key a new id instead`;
  return undefined;
}

/** The differences between two states, as short phrases for the log. */
function differences(running: AuthState, next: AuthState): string[] {
  const was = running.auth;
  const now = next.auth;
  if (!was && !now) return [];
  if (!was) return [`on (${now!.mode}, keys ${ids(now!.keys.map((k) => k.id))}, active key ${now!.activeKey})`];
  if (!now) return ['off (nothing signed or checked from now on)'];
  const out: string[] = [];
  if (was.mode !== now.mode) out.push(`mode ${was.mode} -> ${now.mode}`);
  const added = now.keys.filter((k) => !running.keys.has(k.id)).map((k) => k.id);
  const removed = was.keys.filter((k) => !next.keys.has(k.id)).map((k) => k.id);
  const replaced = now.keys
    .filter((k) => running.keys.has(k.id) && !sameBytes(running.keys.get(k.id)!, next.keys.get(k.id)!))
    .map((k) => k.id);
  const moved = now.keys
    .filter((k) => !replaced.includes(k.id) && was.keys.some((w) => w.id === k.id && w.file !== k.file))
    .map((k) => k.id);
  if (added.length) out.push(`key${added.length > 1 ? 's' : ''} ${ids(added)} added`);
  if (removed.length) out.push(`key${removed.length > 1 ? 's' : ''} ${ids(removed)} removed`);
  if (replaced.length) out.push(`key${replaced.length > 1 ? 's' : ''} ${ids(replaced)} replaced (other bytes)`);
  if (moved.length) out.push(`key${moved.length > 1 ? 's' : ''} ${ids(moved)} read from another file`);
  if (was.activeKey !== now.activeKey) out.push(`active key ${was.activeKey} -> ${now.activeKey}`);
  return out;
}

/** What a reload does with authentication: nothing, all of `next`, or nothing with a reason. */
export function planAuthReload(running: AuthState, next: AuthState): AuthReloadPlan {
  const why = refusal(running, next);
  if (why) return { kind: 'refused', why };
  const changes = differences(running, next);
  return changes.length ? { kind: 'apply', next, changes } : { kind: 'unchanged' };
}

/** The running settings in a few words (what stays in force after a refusal). */
export function describeAuth(auth: AuthConfig | undefined): string {
  if (!auth) return 'off';
  return `${auth.mode}, keys ${ids(auth.keys.map((k) => k.id))}, active key ${auth.activeKey}`;
}
