#!/usr/bin/env node
// Sends random and mutated sync datagrams to a sync daemon, from a given local address (run it
// inside a test namespace: it targets only the address it is given). Mutations start from real
// conntrackd messages (test/golden/sync-*.hex). Usage:
//   node dist/tools/fuzz/fuzz-peer.js --from 192.0.2.1 --to 192.0.2.2 --port 3780 --count 100000 [--seed N]
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../lib/repo.js';

const { values: args } = parseArgs({
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    port: { type: 'string' },
    count: { type: 'string' },
    seed: { type: 'string' },
  },
});
const from = args.from;
const to = args.to;
const port = Number(args.port ?? 3780);
const count = Number(args.count ?? 100000);
let seed = Number(args.seed ?? 12345) >>> 0;
if (!from || !to) {
  console.error('usage: fuzz-peer.js --from ADDR --to ADDR [--port P] [--count N] [--seed S]');
  process.exit(2);
}
// xorshift32: reproducible runs
const rnd = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 0x100000000;
};
const int = (n: number): number => Math.floor(rnd() * n);

const golden = path.join(repoRoot(), 'test', 'golden');
const seeds = fs
  .readdirSync(golden)
  .filter((f) => /^sync-.*\.hex$/.test(f))
  .map((f) => Buffer.from(fs.readFileSync(path.join(golden, f), 'utf8').replace(/[^0-9a-f]/gi, ''), 'hex'))
  .filter((b) => b.length >= 8);

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const kind = int(8);
  if (kind === 0) return out.subarray(0, int(out.length + 1)); // truncate
  if (kind === 1) {
    out.writeUInt16BE(int(65536), 2);
    return out;
  } // bogus length
  if (kind === 2) {
    out[0] = int(256);
    return out;
  } // version/type
  if (kind === 3) {
    out[1] = int(256);
    return out;
  } // flags
  if (kind === 4 && out.length > 12) {
    out.writeUInt16BE(int(65536), 8 + 4 * int((out.length - 8) / 4) - 0 > out.length - 2 ? 8 : 8);
    return out;
  } // first TLV length
  for (let i = 0, n = 1 + int(8); i < n; i++) out[int(out.length)] = int(256); // byte flips
  return out;
}

function datagram(): Buffer {
  const r = rnd();
  if (r < 0.3 || seeds.length === 0) {
    const b = Buffer.alloc(int(1500));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  // one to several mutated messages back to back
  const parts: Buffer[] = [];
  for (let i = 0, n = 1 + int(4); i < n; i++) parts.push(mutate(seeds[int(seeds.length)]!));
  return Buffer.concat(parts).subarray(0, 1472);
}

const sock = dgram.createSocket('udp4');
sock.bind(0, from, async () => {
  let sent = 0;
  while (sent < count) {
    // bursts small enough for the receiver's queue; the point is content, not load
    for (let i = 0; i < 200 && sent < count; i++, sent++) sock.send(datagram(), port, to);
    await new Promise((r) => setTimeout(r, 2));
  }
  sock.close();
  console.log(JSON.stringify({ sent }));
});
