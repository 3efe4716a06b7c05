import { strict as assert } from 'node:assert';
import { runAudit, type AuditPorts } from '../../../src/health/audit.js';
import { flowKey } from '../../../src/conntrack/key.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const flow = (i: number): Entry => ({
  family: 2,
  orig: { src: '198.51.100.1', dst: '203.0.113.1', proto: 17, sport: 1000 + i, dport: 53 },
  status: 8,
  timeout: 30,
});

/** A kernel and an internal cache as sets of keys; `after` runs during the confirmation delay. */
function ports(kernel: Entry[], cache: Entry[], after?: (k: Set<string>, c: Set<string>) => void): AuditPorts {
  const k = new Map(kernel.map((e) => [flowKey(e), e]));
  const c = new Map(cache.map((e) => [flowKey(e), e]));
  const kernelKeys = new Set(k.keys());
  const cacheKeys = new Set(c.keys());
  return {
    kernelHas: async (e) => kernelKeys.has(flowKey(e)),
    kernelFirst: async (n) => [...k.values()].slice(0, n),
    internalSample: (n) => [...c.values()].slice(0, n),
    internalHas: (e) => cacheKeys.has(flowKey(e)),
    replicates: (e) => e.orig.sport !== 1999,
    sleep: async () => after?.(kernelKeys, cacheKeys),
    now: () => 42,
  };
}

const CFG = { periodSeconds: 60, sample: 10, kernelSample: 10, confirmMs: 1000 };

describe('health/audit', () => {
  it('finds nothing when the cache mirrors the kernel', async () => {
    const flows = [1, 2, 3].map(flow);
    const r = await runAudit(CFG, ports(flows, flows));
    assert.deepEqual(r, { at: 42, sampled: 3, missingInKernel: 0, kernelSampled: 3, missingInCache: 0, examples: [] });
  });

  it('counts a difference both ways once it is confirmed', async () => {
    const r = await runAudit(CFG, ports([flow(1), flow(2)], [flow(1), flow(3)]));
    assert.equal(r.missingInKernel, 1);
    assert.equal(r.missingInCache, 1);
    assert.deepEqual(
      r.examples.map((x) => [x.where, x.entry.orig.sport]),
      [
        ['kernel', 1003],
        ['cache', 1002],
      ],
    );
  });

  it('drops a difference that an event in flight resolved during the confirmation delay', async () => {
    const r = await runAudit(
      CFG,
      ports([flow(1), flow(2)], [flow(1), flow(3)], (k, c) => {
        c.delete(flowKey(flow(3))); // the DESTROY event arrived
        c.add(flowKey(flow(2))); // the NEW event arrived
      }),
    );
    assert.equal(r.missingInKernel + r.missingInCache, 0);
  });

  it('leaves out the kernel entries the Filter keeps out of the cache, and samples at most as asked', async () => {
    const flows = Array.from({ length: 30 }, (_, i) => flow(i));
    const r = await runAudit(CFG, ports([...flows, flow(999)], flows));
    assert.equal(r.sampled, 10);
    assert.equal(r.kernelSampled, 10);
    const filtered = await runAudit({ ...CFG, kernelSample: 100 }, ports([...flows, flow(999)], flows));
    assert.equal(filtered.kernelSampled, 30);
    assert.equal(filtered.missingInCache, 0);
  });
});
