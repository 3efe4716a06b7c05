// SIGHUP (systemd's ExecReload): the configuration file is read and checked again. Nothing in it
// is applied to a running daemon (the channel, caches, failover layer and logger are built from
// it once, at start), so each changed setting is named in the log as waiting for a restart, and
// a file that no longer loads is reported while the running configuration stays.
import type { CtsyncConfig } from '../config/model.js';
import { loadConfig } from '../config/load.js';

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

/** What a reload found: the settings that changed, or why the file does not load. */
export type ReloadOutcome = { changed: string[] } | { error: string };

/** Re-reads `path` against the running configuration and logs what it found. */
export async function rereadConfig(path: string, running: CtsyncConfig, log: ReloadLog): Promise<ReloadOutcome> {
  let next: CtsyncConfig;
  try {
    const loaded = await loadConfig(path);
    for (const w of loaded.warnings) log.warn(w);
    next = loaded.config;
  } catch (err) {
    const error = (err as Error).message;
    log.error(
      `configuration re-read (SIGHUP): ${error}; the daemon keeps running with the configuration it started with`,
    );
    return { error };
  }
  const changed = changedSettings(running, next);
  if (changed.length === 0) log.info(`configuration re-read (SIGHUP): ${path} is unchanged`);
  else
    log.warn(
      `configuration re-read (SIGHUP): changed in ${path}: ${changed.join(', ')}; not applied to the running daemon, restart it to apply them`,
    );
  return { changed };
}
