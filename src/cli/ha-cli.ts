// `ctsync notify|promote|demote|status|health`: the failover layer and health of a running daemon. The requests
// are in client-requests.ts (the fast path of main.ts sends them too).
import { Command } from 'commander';
import { healthRequest, notifyRequest, statusRequest, transitionRequest } from './client-requests.js';

export function haCommands(program: Command): Command[] {
  const notify = new Command('notify')
    .description(
      'keepalived notify script: ctsync -C FILE notify TYPE NAME STATE [PRIORITY] (the 4 arguments keepalived appends)',
    )
    .argument('<args...>', 'INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP|DELETED [PRIORITY]')
    .option('--json', 'print the decision as JSON')
    .action((args: string[], opts: { json?: boolean }) => notifyRequest(program.opts(), args, opts));

  const transition = (name: 'promote' | 'demote'): Command =>
    new Command(name)
      .description(
        name === 'promote'
          ? 'make this node the active one: commit, resync, bulk send'
          : 'make this node the backup: request a resync, schedule a purge',
      )
      .option('--force', 'run the transition even if the node already has that role')
      .option('--json', 'print the outcome as JSON')
      .action((opts: { force?: boolean; json?: boolean }) => transitionRequest(program.opts(), name, opts));

  const status = new Command('status')
    .description('role, last transition, caches and link of the running daemon')
    .option('--json', 'everything, as JSON')
    .action((opts: { json?: boolean }) => statusRequest(program.opts(), opts));

  const health = new Command('health')
    .description(
      "the running daemon's findings, one a line; exits 0 ok, 1 degraded, 2 failed (or no answer). --sync: exits 1 while the external cache is incomplete (keepalived track_script)",
    )
    .option('--json', 'the findings and the sync state, as JSON')
    .option('--sync', 'only whether this node may become the master: 0 yes, 1 not yet (unsynced)')
    .action((opts: { json?: boolean; sync?: boolean }) => healthRequest(program.opts(), opts));

  return [notify, transition('promote'), transition('demote'), status, health];
}
