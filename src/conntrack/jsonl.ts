// Reading entries from JSON lines (what `ct list --json` writes): every bad line is reported with
// its number and reason, none is skipped silently.
import type { Entry } from './entry.js';

export interface ParsedEntries {
  entries: Entry[];
  /** Line number (1-based) of each entry, for messages about it later. */
  lines: number[];
  /** One message per bad line: `source:line: reason`. */
  errors: string[];
}

export async function parseEntries(text: string, source: string): Promise<ParsedEntries> {
  // loaded on demand: compiling the schema costs ~80 ms of start-up that `ct list` should not pay
  const { checkEntry } = await import('./schema.js');
  const out: ParsedEntries = { entries: [], lines: [], errors: [] };
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
      out.entries.push(checkEntry(value));
      out.lines.push(lineNo);
    } catch (err) {
      out.errors.push(`${source}:${lineNo}: ${(err as Error).message}`);
    }
  }
  return out;
}
