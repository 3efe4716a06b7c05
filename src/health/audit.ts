// The cache audit: does the internal cache still mirror the kernel table? Each run samples a
// bounded number of entries on both sides: random internal entries are looked up in the kernel,
// and the first entries of a kernel dump (cut short) are looked up in the internal cache. A
// difference can be an event still in flight, so it counts only if it is still there after
// `confirmMs`. Work per run: `sample` kernel lookups, one short dump, and as many lookups again
// for the differences. I/O and time come in as ports (daemon/health-monitor.ts builds them).
import type { Entry } from '../conntrack/entry.js';
import type { AuditConfig } from './config.js';
import type { AuditResult } from './finding.js';

export interface AuditPorts {
  /** The kernel's entry with this entry's original tuple and zone, or undefined. */
  kernelHas(e: Entry): Promise<boolean>;
  /** The first `n` entries of a kernel dump (the dump is abandoned after them). */
  kernelFirst(n: number): Promise<Entry[]>;
  /** Up to `n` live internal entries, picked at random. */
  internalSample(n: number): Entry[];
  /** Whether the internal cache holds a live entry for this flow. */
  internalHas(e: Entry): boolean;
  /** Whether the Filter lets this flow into the internal cache. */
  replicates(e: Entry): boolean;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export interface AuditOutcome extends AuditResult {
  /** A few of the confirmed differences, for the log. */
  examples: Array<{ where: 'kernel' | 'cache'; entry: Entry }>;
}

const EXAMPLES = 3;

async function filterAsync<T>(items: T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const out: T[] = [];
  for (const item of items) if (await keep(item)) out.push(item);
  return out;
}

export async function runAudit(cfg: AuditConfig, p: AuditPorts): Promise<AuditOutcome> {
  const internal = p.internalSample(cfg.sample);
  const kernel = cfg.kernelSample > 0 ? (await p.kernelFirst(cfg.kernelSample)).filter((e) => p.replicates(e)) : [];
  // first look, then the same question again after the confirmation delay
  let notInKernel = await filterAsync(internal, async (e) => !(await p.kernelHas(e)));
  let notInCache = kernel.filter((e) => !p.internalHas(e));
  if (notInKernel.length + notInCache.length > 0 && cfg.confirmMs > 0) {
    await p.sleep(cfg.confirmMs);
    notInKernel = await filterAsync(notInKernel, async (e) => p.internalHas(e) && !(await p.kernelHas(e)));
    notInCache = await filterAsync(notInCache, async (e) => !p.internalHas(e) && (await p.kernelHas(e)));
  }
  return {
    at: p.now(),
    sampled: internal.length,
    missingInKernel: notInKernel.length,
    kernelSampled: kernel.length,
    missingInCache: notInCache.length,
    examples: [
      ...notInKernel.slice(0, EXAMPLES).map((entry) => ({ where: 'kernel' as const, entry })),
      ...notInCache.slice(0, EXAMPLES).map((entry) => ({ where: 'cache' as const, entry })),
    ],
  };
}
