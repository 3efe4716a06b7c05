#!/usr/bin/env node
// In-process commit benchmark: where the time of a `-c` goes, without daemons or a sync link.
// Run inside a network namespace (its conntrack table is emptied before each round):
//   ip netns exec NS node dist/tools/bench/bench-commit-inproc.js FLOWS.jsonl [--rounds R] [--no-listener] [--idle S] [--keep] [--lazy]
// --lazy: the pool is not started before the first round, whose commit starts it (and waits for
// its warm-up): the worst case of the daemon's on-demand pool (commit-pool-demand.ts), a commit
// asked for at the moment the external cache takes its first entry.
// --idle S: the pool sits idle S seconds before each round, as a backup's does before its commit.
// --keep: the table is not emptied between rounds: from the second on, every entry exists (a
// failback's commit).
// FLOWS.jsonl comes from tools/bench/gen-entries.ts. The external cache is the daemon's (the arena
// ArenaCache), filled the way received sync messages fill it (encoded bytes under their key); an event listener ignoring the commit sockets stands in for the daemon's
// (the kernel builds an event per created entry whenever anyone listens). Each round prints
// the pool's phases and the copy into the internal cache that SyncEngine.commit() does after it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ArenaCache } from '../../src/cache/arena-cache.js';
import { encodeCtAttrs } from '../../src/sync/wire-attrs.js';
import { CommitPool } from '../../src/engine/commit-pool.js';
import { ConntrackEvents } from '../../src/netlink/conntrack-events.js';
import { ConntrackClient } from '../../src/netlink/conntrack-client.js';
import { flowKey } from '../../src/conntrack/key.js';
import type { Entry } from '../../src/conntrack/entry.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    'no-listener': { type: 'boolean', default: false },
    idle: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
    lazy: { type: 'boolean', default: false },
  },
});
if (positionals[0] === undefined) {
  console.error('usage: bench-commit-inproc.js FLOWS.jsonl [--rounds R] [--no-listener] [--idle S] [--keep] [--lazy]');
  process.exit(2);
}
const entries = readFileSync(positionals[0], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Entry);
const now = Math.floor(Date.now() / 1000);
const external = new ArenaCache('external', 1e8, { tcpWindowTracking: true, longHelper: 'omit' }, 0, true);
const scratch = Buffer.alloc(4096);
for (const e of entries) {
  const key = Buffer.from(flowKey(e), 'latin1');
  const n = encodeCtAttrs(scratch, 0, e, { tcpWindowTracking: true, longHelper: 'omit' });
  external.store(key, 0, key.length, scratch, 0, n, now, 0 /* NEW */);
}
const kernel = new ConntrackClient();
const pool = new CommitPool();
let events = 0;
let ev: ConntrackEvents | undefined;
if (!values['no-listener']) {
  const listener = new ConntrackEvents({ rcvbuf: 64 << 20 });
  ev = listener;
  // as the daemon does: the workers' sockets join the filter when they start
  pool.onPorts = (ports) => listener.ignorePorts([kernel.portId, ...ports]);
  listener.ignorePorts([kernel.portId]);
  listener.on('event', () => events++);
  listener.start();
}
if (!values.lazy) await pool.start();
await new Promise((r) => setTimeout(r, 300));
const ms = (s: number): string => (s * 1000).toFixed(0).padStart(5);
for (let round = 0; round < Number(values.rounds); round++) {
  if (!values.keep || round === 0) await kernel.flush();
  await new Promise((r) => setTimeout(r, 200 + Number(values.idle) * 1000));
  const t0 = performance.now();
  const r = await pool.commit(external, { tcpWindowTracking: false });
  const t1 = performance.now();
  const internal = new ArenaCache('internal', 1e8, { tcpWindowTracking: false, longHelper: 'omit' });
  const failed = new Set(r.failed.map((f) => f.key));
  external.copyLiveInto(internal, now, failed.size ? (key: string) => failed.has(key) : undefined);
  const t2 = performance.now();
  const ph = r.phases
    ? ' ' +
      Object.entries(r.phases)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')
    : '';
  console.log(
    `round ${round}: ${r.committed} committed (${r.replaced} replaced, ${r.failed.length} failed): pool ${ms((t1 - t0) / 1000)} ms, +internal copy ${ms((t2 - t1) / 1000)} ms = ${ms((t2 - t0) / 1000)} ms;${ph} [own events seen: ${events}]`,
  );
}
pool.stop();
ev?.stop();
process.exit(0);
