// Small stand-ins shared by the tests.
import type { HaActions } from '../../src/ha/machine.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A logger that records its lines (`level message`), for assertions on what was logged. */
export class RecLog {
  lines: string[] = [];
  error(m: string): void {
    this.lines.push(`error ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  verbose(m: string): void {
    this.lines.push(`verbose ${m}`);
  }
  debug(m: string): void {
    this.lines.push(`debug ${m}`);
  }
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
  const act = (name: string) => async (): Promise<void> => {
    calls.push(name);
  };
  const actions: HaActions = {
    runHook: async () => ({ status: 'skipped' }),
    commitExternal: act('commit'),
    flushCaches: act('flush'),
    resyncInternalFromKernel: act('reload'),
    bulkSend: act('bulk'),
    requestResync: act('resync'),
    schedulePurge: act('purge'),
  };
  return { actions, calls };
}

/** A clock whose time moves only when told, firing its timers in order (synchronous). */
export class ManualClock {
  t = 1_750_000_000_000;
  private timers: Array<{ at: number; id: number; fire: () => void }> = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fire: () => void): unknown {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, id, fire });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
  /** Fires the earliest timer due by `until`, moving time to it; false when none is due. */
  fireNext(until: number): boolean {
    this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const next = this.timers[0];
    if (!next || next.at > until) return false;
    this.timers.shift();
    this.t = next.at;
    next.fire();
    return true;
  }
  /** Moves time forward by `ms`, firing the timers that fall due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.fireNext(end));
    this.t = end;
  }
}
