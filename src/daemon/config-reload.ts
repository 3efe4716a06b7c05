// SIGHUP (systemd's ExecReload): the configuration file is read and checked again. Of its
// settings, a reload applies the sync authentication (docs/ftfw-protocol.md §13.9) as a whole or
// refuses it with the reason; everything else (the channel, caches, failover layer and logger are
// built from it once, at start) is named in the log as waiting for a restart. A file that no
// longer loads is reported while the running configuration stays.
import type { CtsyncConfig } from '../config/model.js';
import { loadConfig } from '../config/load.js';
import { loadAuthKeys, type AuthConfig } from '../config/auth-section.js';
import { describeAuth, planAuthReload, type AuthState } from '../config/auth-reload-plan.js';

/** The settings (dotted paths in the resolved model, arrays whole) whose values differ. */
export function changedSettings(running: unknown, next: unknown, at = ''): string[] {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isRecord(running) && isRecord(next)) {
    const keys = [...new Set([...Object.keys(running), ...Object.keys(next)])].sort();
    return keys.flatMap((k) => changedSettings(running[k], next[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(running) === JSON.stringify(next) ? [] : [at || '(the whole configuration)'];
}

export interface ReloadLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a reload can change in the running daemon: the sync channel's authentication. */
export interface ReloadTargets {
  readonly authentication: AuthState;
  /** Applies new settings and keys at once; throws, changing nothing, when it cannot. */
  reconfigure(auth: AuthConfig | undefined, keys: ReadonlyMap<number, Buffer>): void;
}

/**
 * What a reload found: the settings that changed and wait for a restart (`changed`), what it
 * applied and what it refused, or why the file does not load.
 */
export type ReloadOutcome = { changed: string[]; applied?: string[]; refused?: string } | { error: string };

const AUTH_PATH = 'sync.authentication';
const isAuthSetting = (s: string): boolean => s === AUTH_PATH || s.startsWith(`${AUTH_PATH}.`);

/**
 * Re-reads `path` against the running configuration and logs what it found. Applied
 * authentication settings become the running ones (`running.sync.authentication`).
 */
export async function rereadConfig(
  path: string,
  running: CtsyncConfig,
  log: ReloadLog,
  targets?: ReloadTargets,
): Promise<ReloadOutcome> {
  let next: CtsyncConfig;
  let nextKeys: Map<number, Buffer>;
  try {
    const loaded = await loadConfig(path, { keyFiles: true });
    for (const w of loaded.warnings) log.warn(w);
    next = loaded.config;
    const auth = next.sync.authentication;
    nextKeys = auth ? loadAuthKeys(auth) : new Map();
  } catch (err) {
    const error = (err as Error).message;
    log.error(
      `configuration re-read (SIGHUP): ${error}; the daemon keeps running with the configuration it started with`,
    );
    return { error };
  }
  const all = changedSettings(running, next);
  // planned at every reload: a key file may have other bytes under the same settings
  const auth = targets ? reloadAuth(path, targets, next, nextKeys, log) : {};
  if (auth.applied) running.sync.authentication = next.sync.authentication;
  // without targets (a check only), authentication waits for a restart like the rest
  const changed = targets ? all.filter((s) => !isAuthSetting(s)) : all;
  if (changed.length > 0)
    log.warn(
      `configuration re-read (SIGHUP): changed in ${path}: ${changed.join(', ')}; not applied to the running daemon, restart it to apply them`,
    );
  else if (!auth.applied && !auth.refused) log.info(`configuration re-read (SIGHUP): ${path} is unchanged`);
  return { changed, ...auth };
}

/** Plans and applies the authentication of `next`, logging the one or the other. */
function reloadAuth(
  path: string,
  targets: ReloadTargets,
  next: CtsyncConfig,
  keys: Map<number, Buffer>,
  log: ReloadLog,
): { applied?: string[]; refused?: string } {
  const was = targets.authentication.auth;
  const plan = planAuthReload(targets.authentication, { auth: next.sync.authentication, keys });
  let refused: string | undefined;
  if (plan.kind === 'refused') refused = plan.why;
  else if (plan.kind === 'apply') {
    try {
      targets.reconfigure(next.sync.authentication, keys);
      log.info(`configuration re-read (SIGHUP): applied from ${path}: authentication ${plan.changes.join(', ')}`);
      return { applied: plan.changes };
    } catch (err) {
      refused = (err as Error).message;
    }
  } else return {};
  log.error(
    `configuration re-read (SIGHUP): ${path}: the Authentication settings are refused: ${refused}; authentication stays as it runs (${describeAuth(was)})`,
  );
  return { refused };
}
