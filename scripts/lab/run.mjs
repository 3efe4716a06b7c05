#!/usr/bin/env node
// Entry point of the failover lab (npm run demo / scripts/demo.sh): the lab is written in
// TypeScript (scripts/lab/*.ts) and runs from its build, dist/scripts/lab/run.js.
//   node scripts/lab/run.mjs --help
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../../dist/scripts/lab/run.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write(`lab: ${built} is missing: build first (npm run build, or bash scripts/setup.sh)\n`);
  process.exit(2);
}
await import(built);
