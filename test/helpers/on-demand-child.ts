// Child process for test/integration/engine/on-demand-commit.test.ts, run inside the gateway
// namespace: fills an external cache with the flows given, binds the queue and runs commit on
// demand on it (real QueueSocket, real EntryCommitter, the system clock) until a line "stop"
// comes on stdin; then prints one JSON line: the counters and the datagrams its UDP listeners
// received. Prints "ready" once the queue is bound.
// argv[2]: JSON { queue, limits, flows: Entry[], listen: [{ addr, port }], read?: false }
import dgram from 'node:dgram';
import readline from 'node:readline';
import { ArenaCache } from '../../src/cache/arena-cache.js';
import { ObjectState } from '../../src/cache/sync-cache.js';
import type { Entry } from '../../src/conntrack/entry.js';
import { flowKey } from '../../src/conntrack/key.js';
import { EntryCommitter } from '../../src/engine/entry-committer.js';
import { OnDemandCommit, type OnDemandLimits } from '../../src/engine/on-demand-commit.js';
import { systemClock } from '../../src/engine/production/system-clock.js';
import { QueueSocket } from '../../src/netlink/queue-socket.js';
import { encodeCtAttrs } from '../../src/sync/wire-attrs.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  queue: number;
  limits: OnDemandLimits;
  flows: Entry[];
  listen: Array<{ addr: string; port: number }>;
  read?: boolean;
};
const now = Math.floor(Date.now() / 1000);
const cache = new ArenaCache('external', 1024, { tcpWindowTracking: false }, 64, true);
const scratch = Buffer.alloc(1024);
for (const e of args.flows) {
  const key = Buffer.from(flowKey(e), 'latin1');
  cache.store(key, 0, key.length, scratch, 0, encodeCtAttrs(scratch, 0, e, undefined), now, ObjectState.NEW);
}
const received: Record<string, number> = {};
for (const l of args.listen) {
  const s = dgram.createSocket('udp4');
  s.on('message', () => (received[l.port] = (received[l.port] ?? 0) + 1));
  await new Promise<void>((r) => s.bind(l.port, l.addr, r));
}
const queue = new QueueSocket({ queue: args.queue, copyRange: 128, maxLen: args.limits.maxQueueLength });
const session = new OnDemandCommit(cache, queue, new EntryCommitter({ liberal: true }), systemClock, args.limits);
if (args.read !== false) session.start();
process.stdout.write('ready\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() !== 'stop') continue;
  const counters = session.stop();
  process.stdout.write(JSON.stringify({ counters, received }) + '\n');
  process.exit(0);
}
