// Loading a configuration file: ctsync's native JSON or a conntrackd.conf, told apart by content.
//   - ends with .json, or parses as JSON, or starts with '{' (a conntrackd.conf cannot): JSON;
//   - anything else: conntrackd.conf syntax.
// Both end in the same model, validated by the same schema, with defaults applied.
import { readFile } from 'node:fs/promises';
import { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
import { withDefaults, type CtsyncConfig, type CtsyncConfigInput } from './model.js';
import { keyedMessage, lintConfig, validateConfig } from './schema.js';
import { parseConntrackdConf } from './conntrackd-conf.js';

export interface LoadedConfig {
  config: CtsyncConfig;
  /** One line per warning, formatted like errors (`file:line:col: …` or `file: key.path: …`). */
  warnings: string[];
  format: 'json' | 'conntrackd';
}

/** Line and column of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /at position ([0-9]+)/.exec(msg);
    const where = at ? position(text, Number(at[1])) : undefined;
    const clean = msg.replace(/ in JSON at position [0-9]+.*$/s, '').replace(/^JSON\.parse: /, '');
    const problem: ConfigProblem = where
      ? { source, line: where.line, column: where.column, message: `invalid JSON: ${clean}` }
      : { source, message: `invalid JSON: ${clean}` };
    throw new ConfigError([problem]);
  }
}

function looksLikeJson(text: string, path: string): boolean {
  if (path.endsWith('.json')) return true;
  if (text.trimStart().startsWith('{')) return true;
  try { JSON.parse(text); return true; } catch { return false; }
}

/** Parses configuration text (either format) into the input model, with warnings. */
export function parseConfigText(text: string, source: string): { input: CtsyncConfigInput; warnings: string[]; format: 'json' | 'conntrackd' } {
  if (looksLikeJson(text, source)) {
    const input = validateConfig(parseJson(text, source), source);
    const warnings = lintConfig(withDefaults(input)).map((p) => formatProblem({ source, path: p.path, message: keyedMessage(p) }));
    return { input, warnings, format: 'json' };
  }
  const r = parseConntrackdConf(text, source);
  return { input: r.config, warnings: r.warnings.map(formatProblem), format: 'conntrackd' };
}

/** Reads and validates a configuration file; throws ConfigError (every problem, with its place). */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ source: path, message: `cannot read the configuration: ${(e as Error).message}` }]);
  }
  const { input, warnings, format } = parseConfigText(text, path);
  return { config: withDefaults(input), warnings, format };
}

/**
 * conntrackd.conf text → ctsync's JSON config (as written: defaults are not filled in, so the
 * result stays as short as the original). Throws ConfigError like loadConfig.
 */
export function convertConntrackdConf(text: string, path: string): { json: string; config: CtsyncConfigInput; warnings: string[] } {
  const r = parseConntrackdConf(text, path);
  return { json: `${JSON.stringify(r.config, null, 2)}\n`, config: r.config, warnings: r.warnings.map(formatProblem) };
}
