// Small stand-ins shared by the tests.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A logger that records its lines (`level message`), for assertions on what was logged. */
export class RecLog {
  lines: string[] = [];
  error(m: string): void { this.lines.push(`error ${m}`); }
  warn(m: string): void { this.lines.push(`warn ${m}`); }
  info(m: string): void { this.lines.push(`info ${m}`); }
  verbose(m: string): void { this.lines.push(`verbose ${m}`); }
  debug(m: string): void { this.lines.push(`debug ${m}`); }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The repository root (the folder with package.json), from dist/test/... or test/... */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
