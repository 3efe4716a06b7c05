// The fast path of the command line: recognizes the plain forms of the client commands (one
// conntrackd-style request flag, notify, promote, demote, status, health, --version) without commander,
// so a keepalived script's call starts in little more than node's own start-up. Whatever it does
// not recognize exactly (errors, help, the daemon, `ct`, `config`, unusual spellings) is left to
// the full command line (program.ts), which then behaves as it always did: this parser only
// takes argument lists that commander would read the same way (test/unit/cli/client-argv.test.ts
// holds the two equal).
import {
  CLIENT_FLAGS,
  matchChoice,
  xmlFits,
  type ClientFlag,
  type ClientFlagKey,
  type DaemonCliOptions,
} from './client-flags.js';
import type { HealthOptions } from './client-requests.js';

export type ClientCall =
  | { kind: 'version' }
  | { kind: 'request'; action: ClientFlagKey; opts: DaemonCliOptions }
  | { kind: 'notify'; program: DaemonCliOptions; args: string[]; opts: { json?: boolean } }
  | {
      kind: 'transition';
      program: DaemonCliOptions;
      name: 'promote' | 'demote';
      opts: { force?: boolean; json?: boolean };
    }
  | { kind: 'status'; program: DaemonCliOptions; opts: { json?: boolean } }
  | { kind: 'health'; program: DaemonCliOptions; opts: HealthOptions };

const FLAG_BY_NAME = new Map<string, ClientFlag>();
for (const f of CLIENT_FLAGS) {
  FLAG_BY_NAME.set(`-${f.short}`, f);
  FLAG_BY_NAME.set(`--${f.long}`, f);
}

/** What commander takes for an option rather than a value. */
const looksLikeOption = (arg: string): boolean => arg.length > 1 && arg[0] === '-';

/** `--name=value` split, or undefined. */
function longWithValue(arg: string): [string, string] | undefined {
  const eq = arg.indexOf('=');
  return arg.startsWith('--') && eq > 2 ? [arg.slice(0, eq), arg.slice(eq + 1)] : undefined;
}

/**
 * The client call `args` (process.argv without node and the script) asks for, or undefined to
 * leave it to the full command line.
 */
export function parseClientArgv(args: readonly string[]): ClientCall | undefined {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) return { kind: 'version' };
  const opts: DaemonCliOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = longWithValue(arg) ?? [arg, undefined];
    if (name === '-C' || name === '--config') {
      // `-C FILE`, `--config FILE`, `--config=FILE`
      const value = inline ?? args[++i];
      if (
        opts.config !== undefined ||
        value === undefined ||
        value === '' ||
        (inline === undefined && looksLikeOption(value))
      )
        return undefined;
      opts.config = value;
      continue;
    }
    if (arg === '--json') {
      if (opts.json) return undefined;
      opts.json = true;
      continue;
    }
    if (arg === '-x' || arg === '--xml') {
      if (opts.xml) return undefined;
      opts.xml = true;
      continue;
    }
    const flag = FLAG_BY_NAME.get(name);
    if (flag) {
      // once only; `--name=value` only for a flag that takes a value
      if (opts[flag.key] !== undefined || (inline !== undefined && !flag.arg)) return undefined;
      let value: string | true = true;
      const given =
        inline ?? (flag.arg && i + 1 < args.length && !looksLikeOption(args[i + 1]) ? args[++i] : undefined);
      if (given !== undefined) {
        const hit = matchChoice(given, flag.arg!.choices);
        if (hit === undefined) return undefined;
        value = hit;
      }
      (opts as Record<string, unknown>)[flag.key] = value;
      continue;
    }
    // a subcommand: only -C may come before it
    if (arg === 'notify' || arg === 'promote' || arg === 'demote' || arg === 'status' || arg === 'health') {
      if (Object.keys(opts).some((k) => k !== 'config')) return undefined;
      return subcommand(arg, opts, args.slice(i + 1));
    }
    return undefined;
  }
  const given = CLIENT_FLAGS.filter((f) => opts[f.key] !== undefined);
  // none: the daemon itself; several: an error
  if (given.length !== 1 || (opts.xml && !xmlFits(given[0].key, opts))) return undefined;
  return { kind: 'request', action: given[0].key, opts };
}

const SUBCOMMAND_FLAGS: Record<string, string[]> = {
  notify: ['--json'],
  status: ['--json'],
  promote: ['--json', '--force'],
  demote: ['--json', '--force'],
  health: ['--json', '--sync'],
};

function subcommand(
  name: 'notify' | 'promote' | 'demote' | 'status' | 'health',
  program: DaemonCliOptions,
  rest: string[],
): ClientCall | undefined {
  const allowed = SUBCOMMAND_FLAGS[name]!;
  const opts: { json?: boolean; force?: boolean; sync?: boolean } = {};
  const operands: string[] = [];
  for (const arg of rest) {
    const flag = arg.slice(2) as 'json' | 'force' | 'sync';
    if (!looksLikeOption(arg)) operands.push(arg);
    else if (allowed.includes(arg) && !opts[flag]) opts[flag] = true;
    else return undefined;
  }
  if (name === 'notify') return operands.length > 0 ? { kind: 'notify', program, args: operands, opts } : undefined;
  if (operands.length > 0) return undefined;
  if (name === 'status') return { kind: 'status', program, opts };
  if (name === 'health') return { kind: 'health', program, opts };
  return { kind: 'transition', program, name, opts };
}
