// The full command line, with commander: every subcommand, option checking and its error
// messages, help, and the daemon itself. main.ts comes here for whatever its fast path
// (client-argv.ts) does not take.
import { Command } from 'commander';
import { ctCommand } from './ct.js';
import { configCommand } from './config-cli.js';
import { keyCommand } from './key-cli.js';
import { haCommands } from './ha-cli.js';
import { addDaemonOptions, daemonCli, type DaemonCliOptions } from './daemon-cli.js';
import { VERSION_LINE } from './client-flags.js';
import { printError } from './output.js';

function program(): Command {
  const p = new Command('ctsync')
    .description('keeps the conntrack tables of an active/backup gateway pair in sync (conntrackd compatible)')
    .version(VERSION_LINE.trimEnd(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    // conntrackd-style flags go before a subcommand; a subcommand's own --json stays its own
    .enablePositionalOptions();
  addDaemonOptions(p);
  p.action((opts: DaemonCliOptions) => daemonCli(opts, process.argv));
  p.addCommand(ctCommand());
  p.addCommand(configCommand());
  p.addCommand(keyCommand());
  for (const c of haCommands(p)) p.addCommand(c);
  return p;
}

/** Runs the command line `argv` (process.argv: node, script, arguments). */
export async function runProgram(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    // by name: importing NetlinkError would load the netlink modules for every command
    if (
      err instanceof Error &&
      err.name === 'NetlinkError' &&
      (err as Error & { errno?: number }).errno === 1 /* EPERM */
    ) {
      printError(`${err.message}: ctsync needs root (CAP_NET_ADMIN) to talk to the conntrack table`);
    } else printError(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
