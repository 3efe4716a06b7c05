#!/usr/bin/env node
// The pair's conntrackd.conf (tools/lib/pair-config.ts) for the shell benchmarks, on stdout:
//   node dist/tools/bench/write-pair-conf.js --addr A --peer P --if IFNAME --stem STEM
//     [--hash-size N] [--hash-limit N] [--netlink-buffer SIZE:MAXGROWTH] [--udp LINE ...] [--sync LINE ...]
// STEM names the node's files: STEM.log, STEM.lock, STEM.sock.
import { parseArgs } from 'node:util';
import { pairNodeConf, stemFiles } from '../lib/pair-config.js';

const { values } = parseArgs({
  options: {
    addr: { type: 'string' },
    peer: { type: 'string' },
    if: { type: 'string' },
    stem: { type: 'string' },
    'hash-size': { type: 'string' },
    'hash-limit': { type: 'string' },
    'netlink-buffer': { type: 'string' },
    udp: { type: 'string', multiple: true },
    /** Extra lines for Sync (e.g. an Authentication block, nested lines indented by the caller). */
    sync: { type: 'string', multiple: true },
  },
  strict: true,
});

function fail(msg: string): never {
  process.stderr.write(`write-pair-conf: ${msg}\n`);
  process.exit(2);
}

/** A whole number option, or undefined when not given. */
function count(name: 'hash-size' | 'hash-limit'): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) fail(`--${name} must be a whole number, not '${v}'`);
  return Number(v);
}

const { addr, peer, if: ifname, stem } = values;
if (!addr || !peer || !ifname || !stem) fail('--addr, --peer, --if and --stem are required');
let netlinkBuffer: { size: number; maxGrowth: number } | undefined;
if (values['netlink-buffer'] !== undefined) {
  const m = /^(\d+):(\d+)$/.exec(values['netlink-buffer']);
  if (!m) fail(`--netlink-buffer must be SIZE:MAXGROWTH in bytes, not '${values['netlink-buffer']}'`);
  netlinkBuffer = { size: Number(m[1]), maxGrowth: Number(m[2]) };
}
process.stdout.write(
  pairNodeConf({
    addr,
    peer,
    ifname,
    ...stemFiles(stem),
    hashSize: count('hash-size'),
    hashLimit: count('hash-limit'),
    netlinkBuffer,
    udp: values.udp,
    sync: values.sync,
  }),
);
