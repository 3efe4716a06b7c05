// Child process for test/integration/sync/channel-batch.test.ts, run inside a test namespace: a SyncChannel that sends
// numbered datagrams, or receives them and reports what arrived.
// argv[2]: JSON { role: 'loop' | 'send' | 'recv', channel: ChannelOptions, count, size, perTurn?, flush?, waitMs? }
//   loop: send `count` datagrams to itself (unicast to its own address) and count what comes back
//   send: send `count` datagrams; recv: receive until `count` arrived or waitMs passed.
// Prints one JSON line: { stats, deferredSends, received, inOrder, firstMissing }.
import { SyncChannel, type ChannelOptions } from '../../src/sync/channel.js';

interface Spec {
  role: 'loop' | 'send' | 'recv';
  channel: ChannelOptions;
  count: number;
  size: number;
  perTurn?: number;
  flush?: boolean;
  waitMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const ch = new SyncChannel(spec.channel);
await ch.open();
const seen: number[] = [];
ch.on('datagram', (d) => {
  if (d.length === spec.size) seen.push(d.readUInt32BE(0));
});
if (spec.role === 'recv') process.stdout.write('"ready"\n');
if (spec.role !== 'recv') {
  let sent = 0;
  const per = spec.perTurn ?? 100;
  const d = Buffer.alloc(spec.size, 0x5a);
  await new Promise<void>((resolve) => {
    const turn = (): void => {
      for (let i = 0; i < per && sent < spec.count; i++, sent++) {
        d.writeUInt32BE(sent, 0); // the channel copies: the same buffer is reused right away
        ch.send(d);
      }
      if (spec.flush) ch.flush();
      if (sent < spec.count) setImmediate(turn);
      else resolve();
    };
    turn();
  });
}
const end = Date.now() + (spec.waitMs ?? 20_000);
const expectBack = spec.role === 'send' ? 0 : spec.count;
const txDone = (): boolean =>
  ch.stats.packetsSent + ch.stats.sendErrors >= (spec.role === 'recv' ? 0 : spec.count) && ch.deferredPending === 0;
while ((seen.length < expectBack || !txDone()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
if (spec.role === 'send') await new Promise((r) => setTimeout(r, 100));
let inOrder = true;
let firstMissing = -1;
let disorder: number[] = [];
for (let i = 0; i < seen.length; i++)
  if (seen[i] !== i) {
    inOrder = false;
    disorder = seen.slice(Math.max(0, i - 3), i + 8);
    break;
  }
const got = new Set(seen);
for (let i = 0; i < spec.count; i++)
  if (!got.has(i)) {
    firstMissing = i;
    break;
  }
process.stdout.write(
  JSON.stringify({
    stats: ch.stats,
    deferredSends: ch.deferredSends,
    batchedReceive: ch.receivesBatched,
    received: seen.length,
    inOrder,
    disorder,
    firstMissing,
  }) + '\n',
);
ch.close();
