// Reading entries and expectations from JSON lines (what `ct list --json` and
// `ct expect list --json` write): every bad line is reported with its number and reason, none is
// skipped silently.
import type { Entry, Expect } from './entry.js';

export interface ParsedLines<T> {
  items: T[];
  /** Line number (1-based) of each item, for messages about it later. */
  lines: number[];
  /** One message per bad line: `source:line: reason`. */
  errors: string[];
}

export interface ParsedEntries {
  entries: Entry[];
  /** Line number (1-based) of each entry, for messages about it later. */
  lines: number[];
  /** One message per bad line: `source:line: reason`. */
  errors: string[];
}

/**
 * Parses JSON lines with `check`, which returns the item or throws an Error naming the bad
 * field. Blank lines and lines starting with '#' are skipped.
 */
export function parseLines<T>(text: string, source: string, check: (value: unknown) => T): ParsedLines<T> {
  const out: ParsedLines<T> = { items: [], lines: [], errors: [] };
  let lineNo = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line[0] === '#') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      out.errors.push(`${source}:${lineNo}: not valid JSON: ${(err as Error).message}`);
      continue;
    }
    try {
      out.items.push(check(value));
      out.lines.push(lineNo);
    } catch (err) {
      out.errors.push(`${source}:${lineNo}: ${(err as Error).message}`);
    }
  }
  return out;
}

export async function parseEntries(text: string, source: string): Promise<ParsedEntries> {
  // loaded on demand: compiling the schema costs ~80 ms of start-up that `ct list` should not pay
  const { checkEntry } = await import('./schema.js');
  const { items, lines, errors } = parseLines(text, source, checkEntry);
  return { entries: items, lines, errors };
}

export async function parseExpects(text: string, source: string): Promise<ParsedLines<Expect>> {
  const { checkExpect } = await import('./schema.js');
  return parseLines(text, source, checkExpect);
}
