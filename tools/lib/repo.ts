// Where the checkout is, for tools that run from their build (dist/tools/...) and read or start
// files of the repository (test/golden, dist/src/cli/ctsync.cjs).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder with package.json), found from this module up. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Absolute path of the built CLI as shipped (package.json's bin), dist/src/cli/ctsync.cjs. */
export function ctsyncBin(): string {
  return resolve(repoRoot(), 'dist/src/cli/ctsync.cjs');
}
