#!/usr/bin/env node
// ctsync command line. Without a subcommand it behaves like conntrackd (-C -d -c -f -F -R -B -n
// -t -k -s -i -e); `ctsync ct …` works on the kernel table directly. Subcommands are thin:
// parse, call, print.
import { Command } from 'commander';
import { ctCommand } from './ct.js';
import { configCommand } from './config-cli.js';
import { haCommands } from './ha-cli.js';
import { addDaemonOptions, daemonCli, type DaemonCliOptions } from './daemon-cli.js';
import { NetlinkError } from '../netlink/socket.js';
import { printError } from './output.js';

const program = new Command('ctsync')
  .description('keeps the conntrack tables of an active/backup gateway pair in sync (conntrackd compatible)')
  .version('0.1.0', '-v, --version')
  .showHelpAfterError('(run with --help for usage)')
  // conntrackd-style flags go before a subcommand; a subcommand's own --json stays its own
  .enablePositionalOptions();

addDaemonOptions(program);
program.action((opts: DaemonCliOptions) => daemonCli(opts, process.argv));
program.addCommand(ctCommand());
program.addCommand(configCommand());
for (const c of haCommands(program)) program.addCommand(c);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof NetlinkError && err.errno === 1 /* EPERM */) {
    printError(`${err.message}: ctsync needs root (CAP_NET_ADMIN) to talk to the conntrack table`);
  } else printError(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
