#!/usr/bin/env node
// Measuring side of tools/bench/bench-sync.sh: talks to the daemons' UNIX control sockets directly
// (no client process per poll, so polling every 20 ms costs the daemon one small request and
// costs the benchmark nothing), times replication and resync, and reads the kernel's entry count
// of a namespace from /proc/PID/net/stat/nf_conntrack.
// The socket protocols of both daemons: bench-sync-lib.ts.
//
// Subcommands (all print one line of key=value pairs on stdout; exit 0 on success, 2 on failure
// with error="..." in the line):
//   stats     --sock S --proto P
//   wait      --sock S --proto P --cache internal|external --eq N [--timeout S]
//   replicate --primary-sock S --primary-proto P --primary-pid PID
//             --backup-sock S --backup-proto P --count N [--interval MS] [--timeout S] [--stall S]
//             -- LOADER-COMMAND...
//             [--stall S]: fails when no count (kernel, primary, backup) moved for S seconds
//             (default 45: longer than the 30 s NetlinkOverrunResync delay after an overrun).
//             Starts the loader, then polls: the primary's kernel count (1 ms until the first
//             entry appears, then every interval), the primary's internal cache and the
//             backup's external cache (every interval). Times are seconds since the loader was
//             spawned: kernel_first, kernel_full, loader_exit, primary_full, backup_full;
//             latency = backup_full - kernel_first (from the first inserted flow to the backup
//             holding all of them).
//   resync    --sock S --proto P --count N [--interval MS] [--timeout S]
//             Flushes the external cache (-f external), waits until it is empty, then requests a
//             resync (-n) and polls until the external cache holds N entries again.
//             resync = seconds from sending -n to the full count.
//   action    --sock S --proto P --do flush-external|request-resync|kill
//   overruns  --sock S: kernel event overruns and kernel resyncs so far (the "netlink overrun:"
//             line of `-s runtime`, asked with conntrackd's protocol, which ctsync speaks too)
//   dump-stats --sock S --proto P
//             Prints the daemon's full statistics (conntrackd: the `-s` text; ctsync: the
//             `-s --json` counters) as they are, for failure reports.

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  action,
  cdRequest,
  commandLine,
  counts,
  fail,
  jsonRequest,
  kernelCount,
  out,
  sleep,
  type Action,
  type Proto,
} from './bench-sync-lib.js';

const {
  sub,
  values: o,
  command: loaderCmd,
} = commandLine({
  sock: { type: 'string' },
  proto: { type: 'string' },
  cache: { type: 'string', default: 'external' },
  eq: { type: 'string' },
  timeout: { type: 'string', default: '120' },
  interval: { type: 'string', default: '20' },
  stall: { type: 'string', default: '45' },
  count: { type: 'string' },
  do: { type: 'string' },
  'primary-sock': { type: 'string' },
  'primary-proto': { type: 'string' },
  'primary-pid': { type: 'string' },
  'backup-sock': { type: 'string' },
  'backup-proto': { type: 'string' },
});
type Option = keyof typeof o;
/** The value of a string option the subcommand needs. */
const need = (k: Option): string => {
  const v = o[k];
  if (typeof v !== 'string') fail(`${sub}: --${k} is required`);
  return v;
};
const oneOf = <T extends string>(k: Option, allowed: readonly T[]): T => {
  const v = need(k);
  if (!(allowed as readonly string[]).includes(v))
    fail(`${sub}: --${k} must be one of ${allowed.join(', ')}, not ${v}`);
  return v as T;
};
const proto = (k: Option): Proto => oneOf(k, ['ctsync', 'conntrackd'] as const);
const timeoutMs = Number(o.timeout) * 1000;
const interval = Number(o.interval);

try {
  switch (sub) {
    case 'stats': {
      out(await counts(need('sock'), proto('proto')));
      break;
    }
    case 'overruns': {
      // conntrackd's `-s runtime` "netlink overrun:" line (ctsync prints the same line)
      const text = await cdRequest(need('sock'), 30);
      const m = /netlink overrun:\s+(\d+)/.exec(text);
      const k = /resync with kernel table:\s+(\d+)/.exec(text);
      out({ overruns: m ? Number(m[1]) : 'unknown', kernel_resyncs: k ? Number(k[1]) : 'unknown' });
      break;
    }
    case 'dump-stats': {
      if (proto('proto') === 'conntrackd') process.stdout.write(await cdRequest(need('sock'), 21));
      else
        process.stdout.write(
          JSON.stringify(((await jsonRequest(need('sock'), { cmd: 'stats' })) as { counters: unknown }).counters) +
            '\n',
        );
      break;
    }
    case 'action': {
      await action(need('sock'), proto('proto'), oneOf<Action>('do', ['flush-external', 'request-resync', 'kill']));
      out({ ok: 1 });
      break;
    }
    case 'wait': {
      const want = Number(o.eq);
      const cache = oneOf('cache', ['internal', 'external'] as const);
      const t0 = performance.now();
      let last: { internal?: number; external?: number; lastError?: string } = {};
      for (;;) {
        try {
          last = await counts(need('sock'), proto('proto'));
          if (last[cache] === want) break;
        } catch (e) {
          last = { lastError: (e as Error).message };
        }
        if (performance.now() - t0 > timeoutMs)
          fail(`${cache} cache did not reach ${want} within ${o.timeout} s`, last);
        await sleep(interval);
      }
      out({ ...last, waited: (performance.now() - t0) / 1000 });
      break;
    }
    case 'replicate': {
      const n = Number(o.count);
      const pid = Number(o['primary-pid']);
      const stallMs = Number(o.stall) * 1000;
      if (loaderCmd.length === 0) throw new Error('replicate: no loader command after --');
      const r = { kernel: 0, primary: 0, backup: 0 };
      const t: {
        kernel_first?: number;
        kernel_full?: number;
        loader_exit?: number;
        primary_full?: number;
        backup_full?: number;
      } = {};
      let loaderErr = '';
      let loaderCode: number | string | undefined;
      let failed: string | undefined;
      const t0 = performance.now();
      const since = () => (performance.now() - t0) / 1000;
      const loader = spawn(loaderCmd[0]!, loaderCmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      loader.stderr.on('data', (d: Buffer) => (loaderErr += d.toString()));
      loader.on('exit', (code, sig) => {
        t.loader_exit = since();
        loaderCode = code ?? sig ?? undefined;
        if (code !== 0) failed = `loader exited with ${code ?? sig}: ${loaderErr.trim().slice(0, 300)}`;
      });
      const deadline = () => performance.now() - t0 > timeoutMs;
      // kernel count: 1 ms until the first entry is in, then every interval
      const kernelLoop = (async () => {
        while (t.kernel_full === undefined && !failed && !deadline()) {
          r.kernel = kernelCount(pid);
          if (r.kernel > 0 && t.kernel_first === undefined) t.kernel_first = since();
          if (r.kernel >= n) t.kernel_full = since();
          else await sleep(t.kernel_first === undefined ? 1 : interval);
        }
      })();
      let lastChange = performance.now();
      let lastSig = '';
      while (t.backup_full === undefined && !failed) {
        const tick = performance.now();
        const [p, b] = await Promise.all([
          t.primary_full === undefined ? counts(need('primary-sock'), proto('primary-proto')) : undefined,
          counts(need('backup-sock'), proto('backup-proto')),
        ]);
        if (p) {
          r.primary = p.internal;
          if (p.internal >= n) t.primary_full = since();
        }
        r.backup = b.external;
        if (b.external >= n) {
          t.backup_full = since();
          // the primary's answer of this round may predate the backup's: it held every flow the
          // backup got from it by now at the latest
          if (t.primary_full === undefined) t.primary_full = t.backup_full;
          break;
        }
        // progress anywhere (kernel, primary, backup) restarts the stall clock
        const sig = `${r.kernel}/${r.primary}/${b.external}`;
        if (sig !== lastSig) {
          lastSig = sig;
          lastChange = performance.now();
        }
        if (deadline()) failed = `backup's external cache did not reach ${n} within ${o.timeout} s`;
        else if (performance.now() - lastChange > stallMs)
          failed = `no progress for ${o.stall} s (kernel ${r.kernel}, primary internal ${r.primary}, backup external ${b.external})`;
        else await sleep(Math.max(0, interval - (performance.now() - tick)));
      }
      await kernelLoop;
      // the loader finishes soon after the kernel is full
      for (let i = 0; i < 300 && t.loader_exit === undefined; i++) await sleep(10);
      const fields = {
        ...t,
        latency:
          t.backup_full !== undefined && t.kernel_first !== undefined ? t.backup_full - t.kernel_first : undefined,
        kernel: r.kernel,
        primary: r.primary,
        backup: r.backup,
        loader_code: loaderCode,
      };
      if (failed) {
        if (t.loader_exit === undefined) loader.kill('SIGKILL');
        fail(failed, fields);
      }
      out(fields);
      break;
    }
    case 'resync': {
      const n = Number(o.count);
      const sock = need('sock');
      const p = proto('proto');
      await action(sock, p, 'flush-external');
      const tf = performance.now();
      let c = await counts(sock, p);
      while (c.external !== 0) {
        if (performance.now() - tf > 10000) fail(`external cache not empty 10 s after -f external (${c.external})`);
        await sleep(5);
        c = await counts(sock, p);
      }
      const flush = (performance.now() - tf) / 1000;
      await sleep(200);
      const t0 = performance.now();
      await action(sock, p, 'request-resync');
      const ack = (performance.now() - t0) / 1000;
      for (;;) {
        const tick = performance.now();
        c = await counts(sock, p);
        if (c.external >= n) break;
        if (performance.now() - t0 > timeoutMs)
          fail(`external cache did not reach ${n} within ${o.timeout} s after -n`, { external: c.external, flush });
        await sleep(Math.max(0, interval - (performance.now() - tick)));
      }
      out({ resync: (performance.now() - t0) / 1000, flush, request_ack: ack, external: c.external });
      break;
    }
    default:
      throw new Error(`unknown subcommand ${sub ?? '(none)'}: stats, wait, replicate, resync, action`);
  }
} catch (e) {
  fail((e as Error).message);
}
