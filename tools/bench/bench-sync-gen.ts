#!/usr/bin/env node
// Generates N unique conntrack entries as JSON lines for `ctsync ct load`, for tools/bench/bench-sync.sh.
//
// Addresses are documentation ranges only: sources 198.51.100.1-254, destinations
// 203.0.113.1-254 (the sync link itself uses 192.0.2.0/24, so no entry involves a sync address).
// Mix: ~80% TCP ESTABLISHED (assured), ~15% UDP (assured), ~5% ICMP echo (unreplied).
// Every entry gets a long timeout so nothing expires during a benchmark. Deterministic.
//
// Usage: node dist/tools/bench/bench-sync-gen.js --count N --out FILE.jsonl [--timeout S]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    out: { type: 'string' },
    timeout: { type: 'string', default: '7200' },
  },
  strict: true,
});
const count = Number(values.count);
const timeout = Number(values.timeout);
const HOSTS = 254;
const PORTS = 64000;
if (!Number.isInteger(count) || count < 1 || count > HOSTS * PORTS)
  throw new Error(`bad --count ${values.count} (1..${HOSTS * PORTS})`);
if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`bad --timeout ${values.timeout}`);
if (!values.out) throw new Error('--out FILE.jsonl is required');

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ASSURED = 2 | 4 | 8; // SEEN_REPLY | ASSURED | CONFIRMED
const UNREPLIED = 8; // CONFIRMED
const tcpPorts = [80, 443, 22, 25, 993, 8080];
const udpPorts = [53, 123, 443, 500, 4500];

let seed = 0x1b873593;
function rnd() {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
}

const lines = new Array(count);
for (let i = 0; i < count; i++) {
  // (source host, source port / icmp id) is unique per entry
  const src = `198.51.100.${(i % HOSTS) + 1}`;
  const p = 1024 + Math.floor(i / HOSTS);
  const dst = `203.0.113.${((i * 7) % HOSTS) + 1}`;
  const r = rnd();
  let e;
  if (r < 0.8) {
    const dport = tcpPorts[i % tcpPorts.length];
    e = {
      family: 2,
      orig: { src, dst, proto: TCP, sport: p, dport },
      reply: { src: dst, dst: src, proto: TCP, sport: dport, dport: p },
      status: ASSURED,
      timeout,
      mark: 0,
      tcp: { state: 3 },
    };
  } else if (r < 0.95) {
    const dport = udpPorts[i % udpPorts.length];
    e = {
      family: 2,
      orig: { src, dst, proto: UDP, sport: p, dport },
      reply: { src: dst, dst: src, proto: UDP, sport: dport, dport: p },
      status: ASSURED,
      timeout,
      mark: 0,
    };
  } else {
    e = {
      family: 2,
      orig: { src, dst, proto: ICMP, icmpType: 8, icmpCode: 0, icmpId: p },
      reply: { src: dst, dst: src, proto: ICMP, icmpType: 0, icmpCode: 0, icmpId: p },
      status: UNREPLIED,
      timeout,
      mark: 0,
    };
  }
  lines[i] = JSON.stringify(e);
}
writeFileSync(values.out, lines.join('\n') + '\n');
