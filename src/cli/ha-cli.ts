// `ctsync notify|promote|demote|status`: the failover layer of a running daemon.
import { Command } from 'commander';
import { controlRequest } from '../control/client.js';
import { parseNotifyArgs, KeepalivedInputError } from '../ha/keepalived.js';
import { daemonSocket } from './daemon-cli.js';

interface HaStatusLike {
  role: string;
  since: number;
  wanted?: string;
  current?: { kind: string; to: string; step?: string };
  last?: { from: string; to: string; reason: { source: string; detail: string }; durationMs?: number; result?: string };
}

function printStatus(s: { pid: number; uptimeSeconds: number; ha?: HaStatusLike; internal: number; external: number; channel: string }): void {
  const ha = s.ha;
  const lines = [
    `role:      ${ha?.role ?? 'unknown'}${ha?.current ? ` (${ha.current.kind} to ${ha.current.to}${ha.current.step ? `, step ${ha.current.step}` : ''})` : ''}`,
    ...(ha ? [`since:     ${new Date(ha.since).toISOString()}`] : []),
    ...(ha?.last ? [`last:      ${ha.last.from} -> ${ha.last.to} (${ha.last.reason.source}: ${ha.last.reason.detail})${ha.last.durationMs !== undefined ? ` in ${ha.last.durationMs} ms` : ''}${ha.last.result ? `, ${ha.last.result}` : ''}`] : []),
    `caches:    internal ${s.internal}, external ${s.external}`,
    `sync:      ${s.channel}`,
    `daemon:    pid ${s.pid}, up ${s.uptimeSeconds} s`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function haCommands(program: Command): Command[] {
  const notify = new Command('notify')
    .description('keepalived notify script: ctsync -C FILE notify TYPE NAME STATE [PRIORITY] (the 4 arguments keepalived appends)')
    .argument('<args...>', 'INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP|DELETED [PRIORITY]')
    .option('--json', 'print the decision as JSON')
    .action(async (args: string[], opts: { json?: boolean }) => {
      // checked here first: bad arguments never reach the daemon
      try {
        parseNotifyArgs(args);
      } catch (err) {
        if (err instanceof KeepalivedInputError) throw new Error(`notify: ${err.message}`);
        throw err;
      }
      const r = await controlRequest(await daemonSocket(program.opts()), { cmd: 'notify', args: { argv: args } });
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
    });

  const transition = (name: 'promote' | 'demote'): Command => new Command(name)
    .description(name === 'promote' ? 'make this node the active one: commit, resync, bulk send' : 'make this node the backup: request a resync, schedule a purge')
    .option('--force', 'run the transition even if the node already has that role')
    .option('--json', 'print the outcome as JSON')
    .action(async (opts: { force?: boolean; json?: boolean }) => {
      const r = (await controlRequest(await daemonSocket(program.opts()), { cmd: name, args: { force: opts.force === true } })) as { outcome: { outcome: string; transition?: { durationMs?: number; result?: string } }; status: HaStatusLike };
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        const o = r.outcome;
        process.stdout.write(o.outcome === 'completed' ? `${name}: done in ${o.transition?.durationMs ?? '?'} ms (${o.transition?.result ?? 'ok'}), role ${r.status.role}\n` : `${name}: ${o.outcome}, role ${r.status.role}\n`);
      }
    });

  const status = new Command('status')
    .description('role, last transition, caches and link of the running daemon')
    .option('--json', 'everything, as JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = await controlRequest(await daemonSocket(program.opts()), { cmd: 'status' });
      if (opts.json) process.stdout.write(JSON.stringify(s) + '\n');
      else printStatus(s as Parameters<typeof printStatus>[0]);
    });

  return [notify, transition('promote'), transition('demote'), status];
}
