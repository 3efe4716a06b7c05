// Small stand-ins shared by the tests.
import type { HaActions } from '../../src/ha/machine.js';
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

/** Deterministic PRNG (mulberry32): the same seed gives the same sequence in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** HA actions that only record which were called, in order (hooks are skipped). */
export function recordingActions(): { actions: HaActions; calls: string[] } {
  const calls: string[] = [];
  const act = (name: string) => async (): Promise<void> => { calls.push(name); };
  const actions: HaActions = {
    runHook: async () => ({ status: 'skipped' }),
    commitExternal: act('commit'), flushCaches: act('flush'), resyncInternalFromKernel: act('reload'), bulkSend: act('bulk'),
    requestResync: act('resync'), schedulePurge: act('purge'),
  };
  return { actions, calls };
}
