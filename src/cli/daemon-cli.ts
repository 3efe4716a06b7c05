// The conntrackd-compatible command line: `ctsync -C FILE [-d]` runs the daemon, the other flags
// (-c -f -F -R -B -n -t -k -s -i -e) talk to a running daemon over its UNIX socket. Same flags
// and sub-arguments as conntrackd (sub-arguments match by prefix: `-s n` = `-s network`).
// The requests themselves are in client-requests.ts (the fast path of main.ts sends them too).
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CLIENT_FLAGS, DEFAULT_CONFIGS, matchChoice, xmlFits, type DaemonCliOptions } from './client-flags.js';
import { clientRequest, configPath, daemonSocket, loadConfigForCli, requestFlags } from './client-requests.js';

export { DEFAULT_CONFIGS, daemonSocket, type DaemonCliOptions };

/** Sub-argument parser: conntrackd matches by prefix (`-f e` = external). */
function oneOf(what: string, choices: readonly string[]) {
  return (v: string): string => {
    const hit = matchChoice(v, choices);
    if (hit === undefined) throw new InvalidArgumentError(`${what} must be one of ${choices.join(', ')}, got '${v}'`);
    return hit;
  };
}

export function addDaemonOptions(program: Command): void {
  program
    .option(
      '-C, --config <file>',
      `configuration: conntrackd.conf or ctsync JSON (default: ${DEFAULT_CONFIGS.join(' or ')})`,
    )
    .option('-d, --daemon', 'run the daemon in the background');
  for (const f of CLIENT_FLAGS) {
    if (f.arg)
      program.option(`-${f.short}, --${f.long} [${f.arg.placeholder}]`, f.help, oneOf(`-${f.short}`, f.arg.choices));
    else program.option(`-${f.short}, --${f.long}`, f.help);
  }
  program
    .option('-x, --xml', "XML output for -i/-e, conntrackd's format (one <flow> per line)")
    .option('--json', 'JSON output (JSON lines for -i/-e)')
    .addOption(new Option('--background-child').hideHelp())
    .option(
      '--log-level <level>',
      'daemon log level: error, warn, info, verbose, debug',
      oneOf('--log-level', ['error', 'warn', 'info', 'verbose', 'debug']),
    )
    .option(
      '--log-format <format>',
      'daemon log lines: text (default) or json (one object per line)',
      oneOf('--log-format', ['text', 'json']),
    );
}

export async function daemonCli(opts: DaemonCliOptions, argv: string[]): Promise<void> {
  const actions = requestFlags(opts);
  if (actions.length > 1)
    throw new InvalidArgumentError(
      `one request at a time: got ${actions.map((a) => `--${a.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`).join(', ')}`,
    );
  if (opts.xml && (actions.length === 0 || !xmlFits(actions[0], opts)))
    throw new InvalidArgumentError(
      opts.json ? '-x (XML) and --json: choose one output format' : '-x (XML) goes with -i or -e (a cache dump)',
    );
  const path = configPath(opts);
  if (actions.length === 0) {
    const { runDaemon, startInBackground } = await import('../daemon/daemon.js');
    if (opts.daemon) {
      const loaded = await loadConfigForCli(path); // config errors are reported here, not lost in a log
      const args = [
        argv[1],
        '-C',
        path,
        '--background-child',
        ...(opts.logLevel ? ['--log-level', opts.logLevel] : []),
        ...(opts.logFormat ? ['--log-format', opts.logFormat] : []),
      ];
      await startInBackground(args, loaded.config);
      return;
    }
    await runDaemon({
      configPath: path,
      console: true,
      logLevel: opts.logLevel,
      logFormat: opts.logFormat,
      background: opts.backgroundChild,
    });
    return;
  }
  await clientRequest(actions[0], opts, await daemonSocket(opts));
}
