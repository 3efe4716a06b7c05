// Loading a configuration file: ctsync's native JSON or a conntrackd.conf, told apart by content.
//   - ends with .json, or parses as JSON, or starts with '{' (a conntrackd.conf cannot): JSON;
//   - anything else: conntrackd.conf syntax.
// Both end in the same model, validated by the same schema, with defaults applied.
import { readFile } from 'node:fs/promises';
import { ConfigError, formatProblem, type ConfigProblem } from './errors.js';
import { keyFileProblems } from './auth-section.js';
import { withDefaults, type CtsyncConfig, type CtsyncConfigInput } from './model.js';
import { keyedMessage, lintConfig, validateConfig, type KeyedProblem } from './schema.js';
import { parseConntrackdConf } from './conntrackd-conf.js';
import { printable } from './stray-characters.js';

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

/** Deeper than any ctsync configuration; the scanner below recurses once per level. */
const MAX_JSON_DEPTH = 100;

/**
 * Where and why `text` is not JSON (V8's messages do not always give a position). Returns
 * undefined if this scanner finds no error.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function jsonError(text: string): { offset: number; message: string } | undefined {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(
      readonly offset: number,
      readonly message: string,
    ) {}
  }
  const at = (k: number) => (k >= n ? 'end of file' : `'${printable(text[k]!)}'`);
  const ws = () => {
    while (i < n && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = () => {
    i++;
    for (;;) {
      if (i >= n) throw new Stop(i, 'unterminated string');
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') throw new Stop(i, 'control character in a string (write it escaped)');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, 'bad \\u escape');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Stop(i, 'bad escape in a string');
        i += 2;
        continue;
      }
      i++;
    }
  };
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  const value = (depth: number): void => {
    ws();
    const c = text[i];
    if ((c === '{' || c === '[') && depth >= MAX_JSON_DEPTH)
      throw new Stop(i, `nested more than ${MAX_JSON_DEPTH} levels deep`);
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Stop(i, `expected a key in double quotes, got ${at(i)}`);
        str();
        ws();
        if (text[i] !== ':') throw new Stop(i, `expected ':' after the key, got ${at(i)}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') throw new Stop(i, "trailing comma before '}'");
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Stop(i, `expected ',' or '}', got ${at(i)}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        if (text[i] === ',') throw new Stop(i, "unexpected ','");
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === ']') throw new Stop(i, "trailing comma before ']'");
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Stop(i, `expected ',' or ']', got ${at(i)}`);
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const num = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    num.lastIndex = i;
    if (num.test(text)) {
      i = num.lastIndex;
      return;
    }
    for (const lit of ['true', 'false', 'null'])
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    throw new Stop(i, `unexpected ${at(i)}`);
  };
  try {
    value(0);
    ws();
    if (i < n) throw new Stop(i, `unexpected ${at(i)} after the end of the JSON value`);
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, message: e.message };
    throw e;
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const found = jsonError(text);
    if (!found) throw new ConfigError([{ source, message: `invalid JSON: ${(e as Error).message}` }]);
    const where = position(text, found.offset);
    throw new ConfigError([
      { source, line: where.line, column: where.column, message: `invalid JSON: ${found.message}` },
    ]);
  }
}

function looksLikeJson(text: string, path: string): boolean {
  if (path.endsWith('.json')) return true;
  if (text.trimStart().startsWith('{')) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Parses configuration text (either format) into the input model, with warnings. */
export function parseConfigText(text: string, source: string): ParsedConfigText {
  if (looksLikeJson(text, source)) {
    const input = validateConfig(parseJson(text, source), source);
    const place = (p: KeyedProblem): ConfigProblem => ({ source, path: p.path, message: keyedMessage(p) });
    const warnings = lintConfig(withDefaults(input)).map((p) => formatProblem(place(p)));
    return { input, warnings, format: 'json', place };
  }
  const r = parseConntrackdConf(text, source);
  return { input: r.config, warnings: r.warnings.map(formatProblem), format: 'conntrackd', place: r.place };
}

export interface ParsedConfigText {
  input: CtsyncConfigInput;
  warnings: string[];
  format: 'json' | 'conntrackd';
  /** Where a later problem of the model is, in the file's own terms (line or key path). */
  place(p: KeyedProblem): ConfigProblem;
}

export interface LoadOptions {
  /** Also read the authentication key files and refuse the configuration if one is unusable. */
  keyFiles?: boolean;
}

/** Reads and validates a configuration file; throws ConfigError (every problem, with its place). */
export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ source: path, message: `cannot read the configuration: ${(e as Error).message}` }]);
  }
  const { input, warnings, format, place } = parseConfigText(text, path);
  const config = withDefaults(input);
  if (opts.keyFiles) {
    const problems = keyFileProblems(config.sync.authentication);
    if (problems.length > 0) throw new ConfigError(problems.map(place));
  }
  return { config, warnings, format };
}

/**
 * conntrackd.conf text → ctsync's JSON config (as written: defaults are not filled in, so the
 * result stays as short as the original). Throws ConfigError like loadConfig.
 */
export function convertConntrackdConf(
  text: string,
  path: string,
): { json: string; config: CtsyncConfigInput; warnings: string[] } {
  const r = parseConntrackdConf(text, path);
  return { json: `${JSON.stringify(r.config, null, 2)}\n`, config: r.config, warnings: r.warnings.map(formatProblem) };
}
