#!/usr/bin/env node
// Generates the same N synthetic conntrack entries in two formats, for tools/bench/bench-ct.sh (and bench-commit.sh):
//   OUT.conntrack  one line of conntrack(8) arguments per entry, the format `conntrack -R FILE`
//                  (conntrack-tools 1.4.7 --load-file) reads: each line is parsed like a command
//                  line, `-A` / `-I` create, `#` comments and blank lines are skipped. It is the
//                  same format `conntrack -L -o save` prints. NB: -R stops at the first line that
//                  fails (e.g. EEXIST), so every tuple here is unique.
//   OUT.jsonl      one Entry object (src/conntrack/entry.ts) per line, for `ctsync ct load`.
//
// Mix: ~80% TCP ESTABLISHED (assured), ~15% UDP (assured), ~5% ICMP echo; a share of the TCP and
// UDP entries are IPv6. Addresses are documentation ranges only (192.0.2.0/24 and
// 2001:db8::/32 as sources, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 as destinations).
// The output is deterministic for given options.
//
// Usage: node dist/tools/bench/gen-entries.js [--count N] [--out PREFIX] [--ipv6-pct P] [--timeout S]
//   defaults: --count 100000 --out ./ct-entries --ipv6-pct 10 --timeout 3600

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    out: { type: 'string', default: './ct-entries' },
    'ipv6-pct': { type: 'string', default: '10' },
    timeout: { type: 'string', default: '3600' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    'usage: node dist/tools/bench/gen-entries.js [--count N] [--out PREFIX] [--ipv6-pct P] [--timeout S]\n',
  );
  process.exit(0);
}

const count = Number(values.count);
const v6pct = Number(values['ipv6-pct']);
const timeout = Number(values.timeout);
if (!Number.isInteger(count) || count < 1) throw new Error(`bad --count ${values.count}`);
if (!(v6pct >= 0 && v6pct <= 100)) throw new Error(`bad --ipv6-pct ${values['ipv6-pct']}`);
if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`bad --timeout ${values.timeout}`);

// Unique key per entry: (source host h, source port / icmp id p). 250 hosts x 64000 ports.
const HOSTS = 250;
const MAX = HOSTS * 64000;
if (count > MAX) throw new Error(`--count at most ${MAX}`);

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const TCP_CONNTRACK_ESTABLISHED = 3;
// IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED (the kernel ignores CONFIRMED on create).
const STATUS_ASSURED = 2 | 4 | 8;
// ICMP echo requests without an answer: just IPS_CONFIRMED.
const STATUS_UNREPLIED = 8;

const tcpPorts = [80, 443, 22, 25, 993, 8080];
const udpPorts = [53, 123, 443, 500, 4500];

const ctLines = new Array(count);
const jsonLines = new Array(count);

// Deterministic mixing: a cheap LCG drives protocol and family choice.
let seed = 0x2545f491;
function rnd() {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
}

for (let i = 0; i < count; i++) {
  const h = i % HOSTS;
  const p = 1024 + Math.floor(i / HOSTS);
  const r = rnd();
  const proto = r < 0.8 ? IPPROTO_TCP : r < 0.95 ? IPPROTO_UDP : IPPROTO_ICMP;
  const v6 = proto !== IPPROTO_ICMP && rnd() * 100 < v6pct;
  let src;
  let dst;
  if (v6) {
    src = `2001:db8:1::${(h + 1).toString(16)}`;
    dst = `2001:db8:2::${((i % 97) + 1).toString(16)}`;
  } else {
    src = `192.0.2.${h + 1}`;
    dst = (i & 1) === 0 ? `198.51.100.${(i % 199) + 1}` : `203.0.113.${(i % 211) + 1}`;
  }
  const family = v6 ? AF_INET6 : AF_INET;

  let ct;
  let entry;
  if (proto === IPPROTO_TCP) {
    const dport = tcpPorts[i % tcpPorts.length];
    ct = `-I -t ${timeout} -u SEEN_REPLY,ASSURED -s ${src} -d ${dst} -p tcp --sport ${p} --dport ${dport} --state ESTABLISHED`;
    entry = {
      family,
      orig: { src, dst, proto, sport: p, dport },
      reply: { src: dst, dst: src, proto, sport: dport, dport: p },
      status: STATUS_ASSURED,
      timeout,
      mark: 0,
      tcp: { state: TCP_CONNTRACK_ESTABLISHED },
    };
  } else if (proto === IPPROTO_UDP) {
    const dport = udpPorts[i % udpPorts.length];
    ct = `-I -t ${timeout} -u SEEN_REPLY,ASSURED -s ${src} -d ${dst} -p udp --sport ${p} --dport ${dport}`;
    entry = {
      family,
      orig: { src, dst, proto, sport: p, dport },
      reply: { src: dst, dst: src, proto, sport: dport, dport: p },
      status: STATUS_ASSURED,
      timeout,
      mark: 0,
    };
  } else {
    // ICMP echo request; the id makes the tuple unique. Reply is an echo reply (type 0).
    ct = `-I -t ${timeout} -s ${src} -d ${dst} -p icmp --icmp-type 8 --icmp-code 0 --icmp-id ${p}`;
    entry = {
      family,
      orig: { src, dst, proto, icmpType: 8, icmpCode: 0, icmpId: p },
      reply: { src: dst, dst: src, proto, icmpType: 0, icmpCode: 0, icmpId: p },
      status: STATUS_UNREPLIED,
      timeout,
      mark: 0,
    };
  }
  ctLines[i] = ct;
  jsonLines[i] = JSON.stringify(entry);
}

const out = values.out;
writeFileSync(`${out}.conntrack`, ctLines.join('\n') + '\n');
writeFileSync(`${out}.jsonl`, jsonLines.join('\n') + '\n');
process.stderr.write(`gen-entries: wrote ${count} entries to ${out}.conntrack and ${out}.jsonl\n`);
