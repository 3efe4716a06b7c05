#!/usr/bin/env node
// Memory of an idle daemon: resident memory and threads of a ctsync daemon just started and
// after it has sat idle, against conntrackd's.
//
//   sudo node dist/tools/bench/bench-idle-rss.js [--rounds N] [--idle S] [--ctsync PATH/main.js ...] [--no-conntrackd]
//
// Method: per round, each daemon in turn (the order rotates from round to round) is started
// with -d in a fresh network namespace (ctsync-benchrss-PID-RANDOM) on a veth pair whose other
// end nobody answers from (192.0.2.1 syncing to 192.0.2.2: no peer, caches empty), with the
// pair's conntrackd.conf (tools/lib/pair-config.ts, Scheduler FIFO included).
// Sampled from /proc/PID/status (VmRSS, RssAnon, RssFile, Threads) 2 s after its control socket
// answers, and again after --idle seconds (default 60); then it is stopped with -k. Printed:
// each sample, and per daemon the median of the rounds. RssFile is mostly node's own binary
// (shared with every other node process); RssAnon is the daemon's own. The namespace, the
// daemons and the temporary directory are removed on exit, failure or interrupt.
// --ctsync PATH (repeatable): the CLI entries to compare (default: this checkout's).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loneNode } from './bench-lone-node.js';
import { pairNodeConf } from '../lib/pair-config.js';
import { ctsyncBin } from '../lib/repo.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    idle: { type: 'string', default: '60' },
    ctsync: { type: 'string', multiple: true },
    'no-conntrackd': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const IDLE = Number(values.idle);
const impls: { name: string; entry: string | undefined }[] = (values.ctsync ?? [ctsyncBin()]).map((p) => ({
  name: path.resolve(p),
  entry: path.resolve(p),
}));
if (!values['no-conntrackd'] && spawnSync('conntrackd', ['-v']).status === 0)
  impls.push({ name: 'conntrackd', entry: undefined });

const { ns, dir } = loneNode('benchrss');

const conf = path.join(dir, 'node.conf');
const sock = path.join(dir, 'node.sock');
const lock = path.join(dir, 'node.lock');
fs.writeFileSync(
  conf,
  pairNodeConf({ addr: '192.0.2.1', peer: '192.0.2.2', ifname: 'sync0', log: path.join(dir, 'node.log'), lock, sock }),
);

type Impl = (typeof impls)[number];
interface Sample {
  rss: number;
  anon: number;
  file: number;
  threads: number;
}

/** Sleeps S seconds, blocking (this benchmark is synchronous). */
const sleep = (s: number): void => {
  spawnSync('sleep', [String(s)]);
};

const client = (impl: Impl, args: string[]) =>
  impl.entry
    ? spawnSync('ip', ['netns', 'exec', ns, process.execPath, impl.entry, '-C', conf, ...args], { encoding: 'utf8' })
    : spawnSync('ip', ['netns', 'exec', ns, 'conntrackd', '-C', conf, ...args], { encoding: 'utf8' });

function sample(pid: number): Sample {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN) / 1024;
  return {
    rss: kb('VmRSS'),
    anon: kb('RssAnon'),
    file: kb('RssFile'),
    threads: Number(/^Threads:\s+(\d+)/m.exec(st)?.[1]),
  };
}

function daemonPid(): number {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean);
  if (pids.length !== 1) throw new Error(`expected one process in ${ns}, found ${pids.length}`);
  return Number(pids[0]);
}

const results = impls.map((): { start: Sample[]; idle: Sample[] } => ({ start: [], idle: [] }));
const fmt = (s: Sample): string =>
  `RSS ${s.rss.toFixed(1).padStart(6)} MiB (anon ${s.anon.toFixed(1).padStart(5)}, file ${s.file.toFixed(1).padStart(5)}), ${String(s.threads).padStart(2)} threads`;
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < impls.length; k++) {
    const i = (k + round) % impls.length;
    const impl = impls[i];
    for (const f of [sock, lock]) fs.rmSync(f, { force: true });
    const r = client(impl, ['-d']);
    if (r.status !== 0) throw new Error(`${impl.name} did not start: ${r.stderr}`);
    let up = false;
    for (let t = 0; t < 200 && !up; t++) {
      up = fs.existsSync(sock) && client(impl, ['-s']).status === 0;
      if (!up) sleep(0.05);
    }
    if (!up) throw new Error(`${impl.name} does not answer on ${sock}`);
    sleep(2);
    const pid = daemonPid();
    const a = sample(pid);
    sleep(IDLE);
    const b = sample(pid);
    results[i].start.push(a);
    results[i].idle.push(b);
    console.log(`round ${round + 1} ${impl.name}\n  started: ${fmt(a)}\n  +${IDLE} s:  ${fmt(b)}`);
    client(impl, ['-k']);
    for (let t = 0; t < 100 && fs.existsSync(`/proc/${pid}`); t++) sleep(0.05);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = (list: Sample[]): Sample => ({
  rss: median(list.map((s) => s.rss)),
  anon: median(list.map((s) => s.anon)),
  file: median(list.map((s) => s.file)),
  threads: median(list.map((s) => s.threads)),
});
console.log(`\nmedians of ${ROUNDS} rounds (node ${process.version})`);
impls.forEach((impl, i) => {
  console.log(`${impl.name}\n  started: ${fmt(med(results[i].start))}\n  +${IDLE} s:  ${fmt(med(results[i].idle))}`);
});
