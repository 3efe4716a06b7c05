#!/usr/bin/env node
// The failover lab (issue 5): two gateways in network namespaces, keepalived moving two VIPs between
// them, ctsync keeping their conntrack tables in sync, long-lived TCP connections and a UDP flow
// from a client to a server through the VIPs. The active gateway fails, the backup takes over, the
// connections survive; then the same without sync, where they die.
//
//   node dist/tools/lab/run.js [options]     (as root; build first: npm run build)
//
// See --help and docs/lab.md.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { runExperiment, type ExperimentResult, type FailureKind, type Lab, type LabOptions } from './lab.js';
import { comparison, experimentSummary } from './report.js';
import type { HaMode } from './configs.js';

const HELP = `usage: node dist/tools/lab/run.js [options]      (root; needs keepalived, nft, flock; build first)

Failover lab: client -- [gwA | gwB] -- server in network namespaces; keepalived (VRRP) moves the
VIPs, ctsync syncs the conntrack tables; the active gateway fails with live TCP connections.
Then the control experiment: the same failover without conntrack sync.

  --connections N      long-lived TCP connections (default 4)
  --flows N            extra synthetic flows loaded into gwA's table before the failover and
                       replicated to gwB (e.g. 100000; default 0)
  --failure KIND       keepalived: stop keepalived on gwA (SIGTERM), failback = start it again
                       link: take gwA's links down, failback = bring them up (default keepalived)
  --no-failback        do not bring gwA back
  --no-control         skip the control experiment (no sync)
  --control-only       run only the control experiment
  --ha MODE            native: keepalived's notify FIFO read by ctsync itself, transitions run
                       in the daemon (default). script: keepalived's notify script runs ctsync
                       -c/-f/-R/-B, -s/-t/-n (Debian's primary-backup.sh sequence)
  --on-demand          --ha native: commit on demand (NFQUEUE) while the promotion commits,
                       instead of the drop guard alone (ha.onDemand.enabled; default off)
  --advert-int S       VRRP advert interval in seconds, VRRPv3 (default 0.2)
  --preempt-delay S    keepalived preempt_delay on failback (default 3)
  --stall S            a connection silent this long counts as lost (default 8; 16 with
                       --flows 50000 or more)
  --hold S             steady traffic before the failure and after each recovery (default 2)
  --logs DIR           keep the generated files and logs in DIR (default: a temporary
                       directory, removed at the end unless something failed)
  --json FILE          write the results as JSON to FILE
  --keep               leave the lab (with ctsync) running afterwards for exploration; Ctrl-C
                       tears it down
  --metrics            ctsync serves Prometheus metrics on each gateway's sync address, port
                       9469, with the traffic guard and signed sync datagrams on (--ha native)
  -h, --help
`;

function fail(msg: string): never {
  process.stderr.write(`lab: ${msg}\n(run with --help for usage)\n`);
  process.exit(2);
}

// eslint-disable-next-line max-lines-per-function
function parse(): { base: Omit<LabOptions, 'sync' | 'prefix'>; control: boolean; main: boolean; json?: string } {
  let v;
  try {
    ({ values: v } = parseArgs({
      options: {
        connections: { type: 'string', default: '4' },
        flows: { type: 'string', default: '0' },
        failure: { type: 'string', default: 'keepalived' },
        'no-failback': { type: 'boolean', default: false },
        'no-control': { type: 'boolean', default: false },
        'control-only': { type: 'boolean', default: false },
        ha: { type: 'string', default: 'native' },
        'on-demand': { type: 'boolean', default: false },
        'advert-int': { type: 'string', default: '0.2' },
        'preempt-delay': { type: 'string', default: '3' },
        stall: { type: 'string' },
        hold: { type: 'string', default: '2' },
        logs: { type: 'string' },
        json: { type: 'string' },
        keep: { type: 'boolean', default: false },
        metrics: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (
    k: 'connections' | 'flows' | 'advert-int' | 'preempt-delay' | 'stall' | 'hold',
    min: number,
    max: number,
    int = false,
  ): number => {
    if (v[k] === undefined && k === 'stall') {
      // committing many flows takes seconds (replacing existing ones on failback even more), and TCP
      // retransmits at 6.2 s, 12.6 s... after the first loss: give big tables the next step
      return Number(v.flows) >= 50_000 ? 16 : 8;
    }
    const n = Number(v[k]);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n)))
      fail(`--${k} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}, got '${v[k]}'`);
    return n;
  };
  if (!['keepalived', 'link'].includes(v.failure!)) fail(`--failure must be keepalived or link, got '${v.failure}'`);
  if (!['script', 'native'].includes(v.ha!)) fail(`--ha must be script or native, got '${v.ha}'`);
  const advertInt = num('advert-int', 0.01, 40.95); // VRRPv3: up to 4095 centiseconds
  if (Math.round(advertInt * 100) !== advertInt * 100) fail('--advert-int: VRRPv3 counts in hundredths of a second');
  if (v['on-demand'] && v.ha !== 'native') fail('--on-demand needs --ha native (ctsync drives the promotion)');
  if (v['no-control'] && v['control-only']) fail('--no-control and --control-only exclude each other');
  if (v.metrics && v.ha !== 'native')
    fail('--metrics needs --ha native (the endpoint is set in the JSON configuration)');
  return {
    base: {
      connections: num('connections', 1, 1000, true),
      flows: num('flows', 0, 6_000_000, true),
      failure: v.failure as FailureKind,
      failback: !v['no-failback'],
      ha: v.ha as HaMode,
      onDemand: v['on-demand'] ?? false,
      advertInt,
      preemptDelay: num('preempt-delay', 0, 1000),
      stallMs: num('stall', 1, 600) * 1000,
      holdMs: num('hold', 0, 600) * 1000,
      statusEvery: 1000,
      dir: v.logs,
      keep: v.keep,
      metrics: v.metrics,
    },
    control: !v['no-control'],
    main: !v['control-only'],
    json: v.json,
  };
}

async function main(): Promise<void> {
  const { base, control, main: withSync, json } = parse();
  if (process.getuid?.() !== 0) fail('the lab needs root (network namespaces, keepalived, conntrack)');
  const missing = ['ip', 'keepalived', 'nft', 'flock'].filter(
    (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status !== 0,
  );
  if (missing.length)
    fail(`missing: ${missing.join(', ')} (Debian: apt-get install iproute2 keepalived nftables util-linux)`);
  const labs: Lab[] = [];
  // Ctrl-C / kill: tools/lib/netns.ts deletes every namespace (and so every process in them)
  // synchronously first; this removes the temporary directories and says so.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stdout.write(`\nlab: ${sig}: tearing down (namespaces, keepalived, ctsync, traffic)\n`);
      for (const lab of labs) if (!base.dir) fs.rmSync(lab.dir, { recursive: true, force: true });
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }

  const results: { sync?: ExperimentResult; control?: ExperimentResult } = {};
  let kept: Lab | undefined;
  const run = async (sync: boolean): Promise<ExperimentResult> => {
    const dir = base.dir ? `${base.dir}/${sync ? 'sync' : 'control'}` : undefined;
    const keep = sync && base.keep;
    process.stdout.write(
      `\n##### ${sync ? 'Failover WITH ctsync' : 'CONTROL: the same failover WITHOUT conntrack sync'} #####\n`,
    );
    const { result, lab } = await runExperiment(
      {
        ...base,
        failback: sync ? base.failback : false,
        sync,
        keep,
        prefix: sync ? 'lab' : 'labctl',
        dir,
        metrics: sync && base.metrics,
      },
      (l) => labs.push(l),
    );
    if (keep) kept = lab;
    process.stdout.write(experimentSummary(result) + '\n');
    return result;
  };
  try {
    if (withSync) results.sync = await run(true);
    if (control) results.control = await run(false);
  } catch (err) {
    process.stderr.write(`\nlab: FAILED: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(comparison(results.sync, results.control) + '\n');
  if (json) fs.writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  const ok = (results.sync?.expected ?? true) && (results.control?.expected ?? true);
  process.exitCode = ok ? 0 : 1;
  if (kept) {
    process.stdout.write('\n' + kept.describe() + '\n');
    setInterval(() => undefined, 1 << 30); // until Ctrl-C / SIGTERM (the handlers above tear down)
    await new Promise<void>(() => undefined);
  }
}

await main();
