#!/usr/bin/env node
// The node side of tools/bench/bench-churn.sh (see there for the method). Two subcommands:
//
//   churn --client PATH --flows N --rate R [--tick MS] [--timeout S]
//     Runs in the primary's namespace. Creates N flows in the kernel table (batched ctnetlink
//     creates with the project's ConntrackClient, PATH = dist/src/netlink/conntrack-client.js),
//     prints `loaded ...`, then every tick creates the flows due at R per second and deletes as
//     many of the oldest ones (one batch each), so N stay alive, until SIGTERM or SIGINT; then
//     prints one key=value line: created, deleted, seconds, rate (achieved creates per second),
//     failed (creates and deletes that failed: refused, or a flow not found), behind (flows
//     that could not be made in time, dropped rather than caught up, see below).
//     Flow i: 198.51.100.(1 + i % 254):(1024 + i / 254 % 64000) -> 203.0.113.x, ~80% TCP
//     ESTABLISHED, ~15% UDP, ~5% ICMP echo, timeout S (default 86400: nothing expires meanwhile).
//
//   run --primary-pid P --backup-pid P --primary-sock S --backup-sock S
//       --primary-proto P --backup-proto P --flows N --duration S --warmup S --interval S
//       [--csv FILE] -- LOADER-COMMAND...
//     Starts the loader (the churn above, in the primary's namespace), waits for its `loaded`
//     line, then samples every interval for `duration` seconds: both daemons' VmRSS, RssAnon,
//     RssFile and RssShmem (/proc/PID/status), for ctsync its JS heap and array buffers
//     (process.memoryUsage through the control socket's stats: counters.memory), the backup's
//     external and the primary's internal cache counts, and the primary's kernel table count.
//     Stops the loader and prints one key=value line: for each daemon (a = primary, b =
//     backup) the RSS at the first and last sample (rss_a0, rss_a1), and over the samples after
//     `warmup` seconds its min and max, the least-squares slope in MiB per minute (rss_a_slope)
//     and the median rise over one minute in MiB (rss_a_rise); the same for the JS heap of
//     ctsync (heap_*); the backup's external count after warm-up (ext_min, ext_mean, ext_max)
//     and the loader's totals. Every sample goes to FILE as CSV when given.
//
// Every output line is key=value pairs (bench-sync-lib.ts's out); exit 2 with error="..." on
// failure.

import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { commandLine, counts, fail, jsonRequest, kernelCount, out, sleep, type Proto } from './bench-sync-lib.js';
import type { Entry } from '../../src/conntrack/entry.js';

type ConntrackClientModule = typeof import('../../src/netlink/conntrack-client.js');
/** What the daemon's stats answer holds of its memory (ctsync only). */
interface DaemonMemory {
  heapUsed: number;
  arrayBuffers: number;
  internalArena: { bytes: number };
  externalArena: { bytes: number; compactions: number };
}

const MIB = 1048576;

const {
  sub,
  values: o,
  command: loaderCmd,
} = commandLine({
  client: { type: 'string' },
  flows: { type: 'string', default: '10000' },
  rate: { type: 'string', default: '1000' },
  tick: { type: 'string', default: '50' },
  timeout: { type: 'string', default: '86400' },
  'primary-pid': { type: 'string' },
  'backup-pid': { type: 'string' },
  'primary-sock': { type: 'string' },
  'backup-sock': { type: 'string' },
  'primary-proto': { type: 'string' },
  'backup-proto': { type: 'string' },
  duration: { type: 'string', default: '600' },
  warmup: { type: 'string', default: '120' },
  interval: { type: 'string', default: '5' },
  csv: { type: 'string' },
});

/** A positive number option, or a clear failure naming it. */
type Option = keyof typeof o;
/** The value of a string option the subcommand needs. */
function need(name: Option): string {
  const v = o[name];
  if (typeof v !== 'string') fail(`${sub}: --${name} is required`);
  return v;
}
function proto(name: Option): Proto {
  const v = need(name);
  if (v !== 'ctsync' && v !== 'conntrackd') fail(`--${name} must be ctsync or conntrackd, not '${v}'`);
  return v;
}

function positive(name: Option, integer = true): number {
  const v = Number(o[name]);
  if (!(v > 0) || (integer && !Number.isInteger(v)))
    fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not '${o[name]}'`);
  return v;
}

// ------------------------------------------------------------------------------------- churn

const HOSTS = 254;
const PORTS = 64000;
const SPACE = HOSTS * PORTS;
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ASSURED = 2 | 4 | 8; // SEEN_REPLY | ASSURED | CONFIRMED
const UNREPLIED = 8; // CONFIRMED

/** Flow number i (modulo the address space): unique while fewer than SPACE are alive. */
function flow(i: number, timeout: number): Entry {
  const n = i % SPACE;
  const src = `198.51.100.${(n % HOSTS) + 1}`;
  const p = 1024 + Math.floor(n / HOSTS);
  const dst = `203.0.113.${((n * 7) % HOSTS) + 1}`;
  const kind = n % 20;
  if (kind < 16) {
    const dport = 443;
    return {
      family: 2,
      orig: { src, dst, proto: TCP, sport: p, dport },
      reply: { src: dst, dst: src, proto: TCP, sport: dport, dport: p },
      status: ASSURED,
      timeout,
      mark: 0,
      tcp: { state: 3 },
    };
  }
  if (kind < 19) {
    const dport = 53;
    return {
      family: 2,
      orig: { src, dst, proto: UDP, sport: p, dport },
      reply: { src: dst, dst: src, proto: UDP, sport: dport, dport: p },
      status: ASSURED,
      timeout,
      mark: 0,
    };
  }
  return {
    family: 2,
    orig: { src, dst, proto: ICMP, icmpType: 8, icmpCode: 0, icmpId: p },
    reply: { src: dst, dst: src, proto: ICMP, icmpType: 0, icmpCode: 0, icmpId: p },
    status: UNREPLIED,
    timeout,
    mark: 0,
  };
}

async function churn(): Promise<void> {
  if (!o.client) fail('churn: --client PATH (dist/src/netlink/conntrack-client.js) is required');
  const client = o.client;
  const flows = positive('flows');
  const rate = positive('rate');
  const tick = positive('tick');
  const timeout = positive('timeout');
  if (flows >= SPACE / 2) fail(`--flows must be below ${SPACE / 2}`);
  // from PATH, not imported: the client of the ctsync under test (a snapshot's, see bench-pair.sh)
  const { ConntrackClient } = (await import(pathToFileURL(client).href)) as ConntrackClientModule;
  const ct = new ConntrackClient();
  let failed = 0;
  let created = 0;
  let deleted = 0;
  const flowsFrom = (from: number, n: number): Entry[] => Array.from({ length: n }, (_, k) => flow(from + k, timeout));
  const complain = (what: string, r: { failed: { reason: string }[] }): void => {
    if (r.failed.length) process.stderr.write(`churn: ${what} failed: ${r.failed[0]!.reason}\n`);
  };
  const make = async (from: number, n: number): Promise<void> => {
    const r = await ct.create(flowsFrom(from, n));
    created += r.created;
    failed += r.failed.length + r.existing;
    complain('create', r);
  };
  const drop = async (from: number, n: number): Promise<void> => {
    const r = await ct.delete(flowsFrom(from, n));
    deleted += r.deleted;
    failed += r.failed.length + r.missing;
    complain('delete', r);
  };
  const t0Load = performance.now();
  for (let i = 0; i < flows; i += 1000) await make(i, Math.min(1000, flows - i));
  out({ loaded: flows, seconds: (performance.now() - t0Load) / 1000, failed });
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  process.on('SIGINT', () => (stop = true));
  let next = flows; // the next flow to create; the oldest alive is next - flows
  let done = 0; // churn steps taken (one create and one delete each)
  let behind = 0;
  created = 0;
  deleted = 0;
  const t0 = performance.now();
  while (!stop) {
    // the steps due by now; more than a second's worth late (the machine was busy) are dropped
    // rather than caught up in a burst, and counted
    let due = Math.floor(((performance.now() - t0) / 1000) * rate) - done - behind;
    if (due > rate) {
      behind += due - rate;
      due = rate;
    }
    if (due > 0) {
      await make(next, due);
      await drop(next - flows, due);
      next += due;
      done += due;
    }
    await sleep(tick);
  }
  const seconds = (performance.now() - t0) / 1000;
  out({ created, deleted, seconds, rate: created / seconds, failed, behind });
  ct.close();
}

// --------------------------------------------------------------------------------------- run

/** VmRSS, RssAnon, RssFile, RssShmem of a process, in bytes. */
function procMemory(pid: number): { rss: number; anon: number; file: number; shmem: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/** Cache counts and, for ctsync, process.memoryUsage() and the arenas (counters.memory). */
async function daemonState(
  sock: string,
  proto: Proto,
): Promise<{ internal: number; external: number; memory: DaemonMemory | undefined }> {
  if (proto === 'conntrackd') return { ...(await counts(sock, proto)), memory: undefined };
  type Stats = { counters: { internal: { active: number }; external: { active: number }; memory: DaemonMemory } };
  const r = (await jsonRequest(sock, { cmd: 'stats', args: { section: 'cache' } })) as Stats;
  return { internal: r.counters.internal.active, external: r.counters.external.active, memory: r.counters.memory };
}

/**
 * The median of the rises over one minute (y at x + 1 minus y at x, the sample nearest a minute
 * later, x in minutes): what grows steadily between rare drops (garbage collected in one go
 * after minutes) shows here, while a least-squares slope over a drop can come out near 0 or
 * below. NaN when the samples span less than a minute.
 */
function medianRise(xs: number[], ys: number[]): number {
  const rises: number[] = [];
  let j = 0;
  for (let i = 0; i < xs.length; i++) {
    while (j < xs.length && xs[j] < xs[i] + 1) j++;
    if (j >= xs.length) break;
    const k = j > 0 && Math.abs(xs[j - 1] - xs[i] - 1) < Math.abs(xs[j] - xs[i] - 1) ? j - 1 : j;
    rises.push(ys[k] - ys[i]);
  }
  if (rises.length === 0) return NaN;
  rises.sort((a, b) => a - b);
  const m = rises.length >> 1;
  return rises.length % 2 ? rises[m] : (rises[m - 1] + rises[m]) / 2;
}

/** Least-squares slope of y over x; NaN with fewer than two points. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** One sample of both daemons (a = primary, b = backup): bytes, counts, t in seconds. */
interface Sample {
  t: number;
  rss_a: number;
  anon_a: number;
  file_a: number;
  shmem_a: number;
  heap_a: number;
  ab_a: number;
  rss_b: number;
  anon_b: number;
  file_b: number;
  shmem_b: number;
  heap_b: number;
  ab_b: number;
  kernel_a: number;
  internal_a: number;
  external_b: number;
  arena_a: number;
  arena_b: number;
  compactions_b: number;
}

// eslint-disable-next-line max-lines-per-function
async function run(): Promise<void> {
  if (loaderCmd.length === 0) fail('run: no loader command after --');
  const duration = positive('duration', false);
  const warmup = Number(o.warmup);
  if (!(warmup >= 0 && warmup < duration))
    fail(`--warmup must be at least 0 and below --duration (${duration}), not '${o.warmup}'`);
  const interval = positive('interval', false);
  const pidA = Number(o['primary-pid']);
  const pidB = Number(o['backup-pid']);
  const csv = o.csv ? fs.openSync(o.csv, 'w') : undefined;
  const cols: (keyof Sample)[] = [
    't',
    'rss_a',
    'anon_a',
    'file_a',
    'shmem_a',
    'heap_a',
    'ab_a',
    'rss_b',
    'anon_b',
    'file_b',
    'shmem_b',
    'heap_b',
    'ab_b',
    'kernel_a',
    'internal_a',
    'external_b',
    'arena_a',
    'arena_b',
    'compactions_b',
  ];
  if (csv !== undefined) fs.writeSync(csv, cols.join(',') + '\n');

  const loader = spawn(loaderCmd[0]!, loaderCmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let loaderErr = '';
  loader.stderr.on('data', (d: Buffer) => (loaderErr += d.toString()));
  const lines = createInterface({ input: loader.stdout });
  const loaderLines: string[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (l) => {
    loaderLines.push(l);
    wake?.();
  });
  let exited: number | string | undefined;
  const exit = new Promise<void>((resolve) =>
    loader.on('exit', (code, sig) => {
      exited = code ?? sig ?? undefined;
      resolve();
      wake?.();
    }),
  );
  const stopLoader = async () => {
    if (exited === undefined) loader.kill('SIGTERM');
    await Promise.race([exit, sleep(10000)]);
    if (exited === undefined) loader.kill('SIGKILL');
  };
  const field = (line: string, key: string): string | undefined => new RegExp(`(?:^| )${key}=([^ ]*)`).exec(line)?.[1];

  // the initial load
  const tLoad = performance.now();
  while (!loaderLines.some((l) => l.startsWith('loaded='))) {
    if (exited !== undefined) fail(`loader exited with ${exited} before loading: ${loaderErr.trim().slice(0, 300)}`);
    if (performance.now() - tLoad > 120000) {
      await stopLoader();
      fail('loader did not load its flows within 120 s');
    }
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 1000);
    });
  }
  const load = loaderLines.find((l) => l.startsWith('loaded=')) ?? '';
  if (Number(field(load, 'failed')) > 0) {
    await stopLoader();
    fail(`loader could not create all its flows: ${load}; ${loaderErr.trim().slice(0, 300)}`);
  }

  const samples: Sample[] = [];
  const t0 = performance.now();
  let failed: string | undefined;
  for (let k = 0; ; k++) {
    // samples on a fixed grid from the churn's start
    const wait = t0 + k * interval * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    const t = (performance.now() - t0) / 1000;
    if (t > duration + interval / 2) break;
    if (exited !== undefined) {
      failed = `loader exited with ${exited} during the churn: ${loaderErr.trim().slice(0, 300)}`;
      break;
    }
    try {
      const [a, b] = await Promise.all([
        daemonState(need('primary-sock'), proto('primary-proto')),
        daemonState(need('backup-sock'), proto('backup-proto')),
      ]);
      const ma = procMemory(pidA);
      const mb = procMemory(pidB);
      const s: Sample = {
        t,
        rss_a: ma.rss,
        anon_a: ma.anon,
        file_a: ma.file,
        shmem_a: ma.shmem,
        heap_a: a.memory?.heapUsed ?? NaN,
        ab_a: a.memory?.arrayBuffers ?? NaN,
        rss_b: mb.rss,
        anon_b: mb.anon,
        file_b: mb.file,
        shmem_b: mb.shmem,
        heap_b: b.memory?.heapUsed ?? NaN,
        ab_b: b.memory?.arrayBuffers ?? NaN,
        kernel_a: kernelCount(pidA),
        internal_a: a.internal,
        external_b: b.external,
        arena_a: a.memory?.internalArena.bytes ?? NaN,
        arena_b: b.memory?.externalArena.bytes ?? NaN,
        compactions_b: b.memory?.externalArena.compactions ?? NaN,
      };
      samples.push(s);
      if (csv !== undefined)
        fs.writeSync(
          csv,
          cols.map((c) => (Number.isNaN(s[c]) ? '' : c === 't' ? s.t.toFixed(1) : String(s[c]))).join(',') + '\n',
        );
    } catch (e) {
      failed = `sampling failed at ${t.toFixed(0)} s (a daemon gone?): ${(e as Error).message}`;
      break;
    }
  }
  await stopLoader();
  const totals = loaderLines.find((l) => l.startsWith('created=')) ?? '';
  if (csv !== undefined) fs.closeSync(csv);

  const after = samples.filter((s) => s.t >= warmup);
  const mins = after.map((s) => s.t / 60);
  const first: Partial<Sample> = samples[0] ?? {};
  const last: Partial<Sample> = samples[samples.length - 1] ?? {};
  const ext = after.map((s) => s.external_b);
  // per daemon and quantity: first and last sample; after the warm-up: min, max, slope, rise
  const series: Record<string, number | undefined> = {};
  for (const q of ['rss_a', 'rss_b', 'heap_a', 'heap_b'] as const) {
    const ys = after.map((s) => s[q] / MIB);
    Object.assign(series, {
      [`${q}0`]: first[q],
      [`${q}1`]: last[q],
      [`${q}_min`]: Math.min(...after.map((s) => s[q])),
      [`${q}_max`]: Math.max(...after.map((s) => s[q])),
      [`${q}_slope`]: slope(mins, ys),
      [`${q}_rise`]: medianRise(mins, ys),
    });
  }
  const fields: Record<string, unknown> = {
    samples: samples.length,
    warm_samples: after.length,
    seconds: last.t,
    ...series,
    ab_b0: first.ab_b,
    ab_b1: last.ab_b,
    ext_min: ext.length ? Math.min(...ext) : undefined,
    ext_max: ext.length ? Math.max(...ext) : undefined,
    ext_mean: ext.length ? ext.reduce((x, y) => x + y, 0) / ext.length : undefined,
    kernel_mean: after.length ? after.reduce((x, s) => x + s.kernel_a, 0) / after.length : undefined,
    compactions_b: last.compactions_b,
    churned: field(totals, 'created'),
    churn_rate: field(totals, 'rate'),
    churn_failed: field(totals, 'failed'),
    churn_behind: field(totals, 'behind'),
  };
  for (const k of Object.keys(fields))
    if (typeof fields[k] === 'number' && Number.isNaN(fields[k])) fields[k] = undefined;
  if (failed) fail(failed, fields);
  if (!totals) fail(`the loader printed no totals (exit ${exited}): ${loaderErr.trim().slice(0, 300)}`, fields);
  if (after.length < 2)
    fail(
      `fewer than 2 samples after the warm-up (${after.length}): make --duration longer or --interval shorter`,
      fields,
    );
  out(fields);
}

try {
  if (sub === 'churn') await churn();
  else if (sub === 'run') await run();
  else fail(`unknown subcommand ${sub ?? '(none)'}: churn, run`);
} catch (e) {
  fail((e as Error).message);
}
