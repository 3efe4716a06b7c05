#!/usr/bin/env node
// Micro benchmark of sync authentication's per-datagram cost (docs/ftfw-protocol.md §13): CPU
// microseconds per datagram to sign (src/sync/auth-signer.ts), verify (auth-verifier.ts), seal and
// open (auth-sealer.ts), for datagrams of a given size. The end-to-end cost (tools/bench/bench-auth.sh)
// is about this times the datagrams both daemons send.
//
//   npm run build:ts && node dist/tools/bench/bench-auth-codec.js [--size 1400] [--count 20000] [--reps 5]
//
// Reports the median and the minimum over the repetitions of process CPU time (user + sys) per
// datagram; the first repetition warms the compiler and is left out.
import { parseArgs } from 'node:util';
import { DatagramSigner, startEpoch } from '../../src/sync/auth-signer.js';
import { DatagramVerifier } from '../../src/sync/auth-verifier.js';
import { DatagramGate, DatagramSealer } from '../../src/sync/auth-sealer.js';
import { senderPseudoHeader } from '../../src/sync/auth-trailer.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1400' },
    count: { type: 'string', default: '20000' },
    reps: { type: 'string', default: '5' },
  },
  strict: true,
});
const SIZE = Number(values.size);
const COUNT = Number(values.count);
const REPS = Number(values.reps);
if (![SIZE, COUNT, REPS].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write('bench-auth-codec: --size, --count and --reps must be positive integers\n');
  process.exit(2);
}

const KEY = Buffer.alloc(32, 1);
const KEYS = new Map([[1, KEY]]);
const PEER = '192.0.2.1';
const PORT = 3780;
const SENDER = senderPseudoHeader(PEER, PORT);
// ALIVE-shaped messages of 8 bytes, so the trailer walk sees a realistic number of messages
const datagram = Buffer.alloc(SIZE - (SIZE % 8));
for (let i = 0; i < datagram.length; i += 8) datagram.writeUInt32BE(0x1a000008, i);

/** CPU µs per call of `f` over COUNT calls. */
function timed(f: (i: number) => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < COUNT; i++) f(i);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / COUNT;
}

const results: Record<string, number[]> = { sign: [], verify: [], seal: [], open: [] };
for (let rep = 0; rep <= REPS; rep++) {
  const signer = new DatagramSigner(1, KEY, startEpoch(Date.now(), rep), SENDER);
  const verifier = new DatagramVerifier('enforce', KEYS);
  const signed: Buffer[] = [];
  const sign = timed(() => signed.push(signer.sign(datagram)));
  const verify = timed((i) => verifier.verify(signed[i]!, PEER, PORT));
  const sealer = new DatagramSealer(1, KEY, startEpoch(Date.now(), rep), SENDER);
  const gate = new DatagramGate(new DatagramVerifier('enforce', KEYS), KEYS, true);
  const sealed: Buffer[] = [];
  const seal = timed(() => sealed.push(sealer.seal(datagram)));
  const open = timed((i) => gate.receive(sealed[i]!, PEER, PORT));
  if (rep === 0) continue;
  results.sign!.push(sign);
  results.verify!.push(verify);
  results.seal!.push(seal);
  results.open!.push(open);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
process.stdout.write(`datagrams of ${datagram.length} bytes, ${COUNT} per repetition, ${REPS} repetitions\n`);
for (const [name, v] of Object.entries(results))
  process.stdout.write(
    `${name.padEnd(8)} median ${median(v).toFixed(2)} µs, min ${Math.min(...v).toFixed(2)} µs per datagram\n`,
  );
