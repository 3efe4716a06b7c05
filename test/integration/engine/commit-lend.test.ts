// A commit's workers read the external cache's arena in place, lent to them: peer messages that
// change the cache meanwhile must neither reach the kernel half-written nor be lost. The kernel
// gets every flow as it was when the commit began; the cache keeps the newer versions.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useNetns } from '../../helpers/netns.js';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/commit-child.js');

describe('commit: the external cache changes while the workers read it', function () {
  const ns = useNetns('commitlend', 'conntrack');

  it('commits the flows as lent (mark 1, all of them) and keeps the updates in the cache (mark 2, removals)', async function () {
    const n = 20000;
    const r = await ns().exec(process.execPath, [child, String(n)]);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      committed: number;
      failed: number;
      copies: number;
      size: number;
      marks: Record<string, number>;
    };
    assert.deepEqual({ committed: out.committed, failed: out.failed }, { committed: n, failed: 0 });
    assert.equal(out.copies, 1, 'the first write moved the cache to a copy, once');
    assert.deepEqual(out.marks, { 2: n - n / 10 }, 'the cache holds the updates and not the removed flows');
    const listed = await ns().exec('conntrack', ['-L', '-p', 'tcp', '--dport', '443']);
    const marks = new Map<string, number>();
    for (const line of listed.stdout.split('\n')) {
      const m = /\bmark=(\d+)/.exec(line);
      if (m) marks.set(m[1], (marks.get(m[1]) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(marks), { 1: n }, 'the kernel got every flow as it was when the commit began');
  });
});
