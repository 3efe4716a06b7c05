#!/usr/bin/env node
// CLI start-up benchmark: what a keepalived notify script pays per ctsync call, against the bare
// start of the same node (`node -e 0`). Debian's primary-backup.sh makes five conntrackd calls
// per transition; ctsync stands in for conntrackd there, so each client command should cost
// little more than node itself.
//
//   sudo node dist/tools/bench/bench-cli.js [--runs N] [--only CMD,CMD...] [--ctsync PATH/main.js ...]
//
// Method:
// - One ctsync daemon (the checkout's, started with -d) in a fresh network namespace
//   (ctsync-benchcli-PID-RANDOM) on a veth pair, 192.0.2.1 syncing to 192.0.2.2 (nobody
//   answers: the daemon is idle, its caches empty). Its conntrackd.conf and control socket are
//   in a temporary directory; the namespace, the daemon and the directory are removed on exit,
//   failure or interrupt.
// - The clients run in the benchmark's own namespace: the control socket is a path, and `ip
//   netns exec` would add its own start-up to both sides of the ratio.
// - Every run of a command is paired with a run of `node -e 0` just before it (same node
//   binary), and the ratio of the two wall times is taken: the machine's speed drifts (other
//   processes, CPU frequency), a pair sees the same moment. Reported per command: the median of
//   its ratios, and the medians of its and its partners' wall times. Runs go round-robin over
//   the commands (one run of each, then the next round), so a slow minute hits all alike.
// - Output is thrown away (stdout, stderr to /dev/null); a command that fails (exit status not
//   0) is reported with its stderr and the benchmark stops: a failure's time means nothing.
// - `-k` stops the daemon: it is started again after each -k run (not timed), and the next run
//   waits until the new daemon is idle (its CPU time stops moving), so its start-up does not
//   slow the runs that follow. `promote` and `demote` alternate the node's role.
// - A reference row: a one-file ES module client (node:net, the same `-s` request, no argument
//   parsing, no config file) shows what any client written in JavaScript pays on this machine.
// - --ctsync PATH (repeatable): the CLI entries to compare (default: dist/src/cli/main.js of
//   this checkout); each gets its own daemon, and the rounds alternate between them. The target
//   (issue 14) is a median ratio of at most 1.2 for every client command.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loneNode } from './bench-lone-node.js';
import { pairNodeConf } from '../lib/pair-config.js';
import { ctsyncBin } from '../lib/repo.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    only: { type: 'string' },
    ctsync: { type: 'string', multiple: true },
  },
});
const RUNS = Number(values.runs);
const entries = (values.ctsync ?? [ctsyncBin()]).map((p) => path.resolve(p));

/** The client commands, as keepalived scripts (and people) call them. */
const COMMANDS = [
  ['--version'],
  ['--help'],
  ['-s'],
  ['-s', 'cache'],
  ['-i'],
  ['-e'],
  ['-f'],
  ['-R'],
  ['-B'],
  ['-n'],
  ['-t'],
  ['-c'],
  ['notify', 'INSTANCE', 'VI_1', 'BACKUP', '100'],
  ['promote'],
  ['demote'],
  ['-k'],
];
const only = values.only?.split(',');
const commands = only ? COMMANDS.filter((c) => only.includes(c.join(' ')) || only.includes(c[0])) : COMMANDS;

const { ns, dir } = loneNode('benchcli');

/** One daemon per CLI entry: its config (and so its socket, lock and log) in `dir`. */
const daemons = entries.map((entry, k) => {
  const conf = path.join(dir, `d${k}.conf`);
  const sock = path.join(dir, `d${k}.sock`);
  // the pair's configuration; no netlink sizes or real-time scheduler: an idle daemon, clients timed
  fs.writeFileSync(
    conf,
    pairNodeConf({
      addr: '192.0.2.1',
      peer: '192.0.2.2',
      ifname: 'sync0',
      port: 3780 + k,
      log: path.join(dir, `d${k}.log`),
      lock: path.join(dir, `d${k}.lock`),
      sock,
      ftfw: ['PurgeTimeout 600'],
      netlinkBuffer: null,
      scheduler: false,
    }),
  );
  return { entry, conf, sock, lock: path.join(dir, `d${k}.lock`) };
});

type Daemon = (typeof daemons)[number];
interface Runs {
  cmd: number[];
  bare: number[];
  ratio: number[];
}

function startDaemon(d: Daemon): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, d.entry, '-C', d.conf, '-d'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`daemon did not start: ${r.stderr}`);
  for (let i = 0; i < 200; i++) {
    if (
      fs.existsSync(d.sock) &&
      spawnSync(process.execPath, [d.entry, '-C', d.conf, '-s'], { stdio: 'ignore' }).status === 0
    )
      return;
    spawnSync('sleep', ['0.05']);
  }
  throw new Error(`daemon does not answer on ${d.sock}`);
}

// the reference client: one file, node:net, the request -s makes
const reference = path.join(dir, 'reference-client.mjs');
fs.writeFileSync(
  reference,
  [
    "import net from 'node:net';",
    'const s = net.connect(process.argv[2]);',
    `s.on('connect', () => s.write('{"cmd":"stats","args":{"section":"general"}}\\n'));`,
    "let buf = '';",
    "s.on('data', (d) => { buf += d; if (buf.includes('\\n')) { process.stdout.write(JSON.parse(buf).result.text); s.destroy(); } });",
    '',
  ].join('\n'),
);

/** Waits until the daemon's CPU time stops moving (its start-up is over). */
function waitIdle(d: Daemon): void {
  const pid = Number(fs.readFileSync(d.lock, 'utf8').trim());
  const ticks = () =>
    fs
      .readFileSync(`/proc/${pid}/stat`, 'utf8')
      .split(') ')[1]!
      .split(' ')
      .slice(11, 13)
      .reduce((a, b) => a + Number(b), 0);
  let last = ticks();
  for (let i = 0, quiet = 0; i < 100 && quiet < 2; i++) {
    spawnSync('sleep', ['0.25']);
    const now = ticks();
    quiet = now - last <= 1 ? quiet + 1 : 0;
    last = now;
  }
}

function waitGone(d: Daemon): void {
  for (let i = 0; i < 200 && fs.existsSync(d.sock); i++) spawnSync('sleep', ['0.05']);
}

/** Wall milliseconds of one run; throws with its stderr if it fails. */
function timed(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return ms;
}

for (const d of daemons) {
  startDaemon(d);
  waitIdle(d);
}
const referenceRuns: Runs = { cmd: [], bare: [], ratio: [] };

// results[daemon][command] = { cmd: [], bare: [], ratio: [] }
const results = daemons.map(() => commands.map((): Runs => ({ cmd: [], bare: [], ratio: [] })));
for (let run = 0; run < RUNS; run++) {
  // untimed: the first start after the pauses of a daemon restart was slow on both sides
  timed(['-e', '0']);
  for (let k = 0; k < daemons.length; k++) {
    // the CLI entries take turns going first
    const d = daemons[(k + run) % daemons.length];
    const res = results[(k + run) % daemons.length];
    commands.forEach((c, i) => {
      const bare = timed(['-e', '0']);
      // --version and --help as people type them; the rest with the daemon's config
      const cmd = timed([d.entry, ...(c[0].startsWith('--') ? [] : ['-C', d.conf]), ...c]);
      res[i].bare.push(bare);
      res[i].cmd.push(cmd);
      res[i].ratio.push(cmd / bare);
      if (c[0] === '-k') {
        waitGone(d);
        startDaemon(d);
        waitIdle(d);
      }
    });
  }
  const bare = timed(['-e', '0']);
  const cmd = timed([reference, daemons[0].sock]);
  referenceRuns.bare.push(bare);
  referenceRuns.cmd.push(cmd);
  referenceRuns.ratio.push(cmd / bare);
  process.stderr.write(`\rround ${run + 1}/${RUNS}`);
}
process.stderr.write('\n');

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
console.log(`node ${process.version}, ${RUNS} runs per command, load average now ${load}`);
const row = (name: string, r: Runs): void => {
  const ratio = median(r.ratio);
  console.log(
    `${name.padEnd(34)} ${median(r.cmd).toFixed(1).padStart(9)} ${median(r.bare).toFixed(1).padStart(9)} ${ratio.toFixed(2).padStart(6)}${ratio > 1.2 ? '  > 1.2' : ''}`,
  );
};
daemons.forEach((d, k) => {
  console.log(`\n${d.entry}`);
  console.log(`${'command'.padEnd(34)} ${'median ms'.padStart(9)} ${'node -e 0'.padStart(9)} ${'ratio'.padStart(6)}`);
  commands.forEach((c, i) => row(c.join(' '), results[k][i]));
});
console.log('');
row('reference: one-file client, -s', referenceRuns);
