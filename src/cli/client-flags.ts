// The command line's options for the conntrackd-style requests (-c -f -F -R -B -n -t -k -s -i
// -e), defined once for commander (daemon-cli.ts) and the fast path (client-argv.ts). Imports
// nothing: `ctsync --version` loads this and little else.
export const VERSION = '0.1.0';

export const DEFAULT_CONFIGS = ['/etc/ctsync/ctsync.json', '/etc/conntrackd/conntrackd.conf'];

export interface DaemonCliOptions {
  config?: string;
  daemon?: boolean;
  commit?: string | true;
  flush?: string | true;
  flushKernel?: string | true;
  resyncKernel?: string | true;
  bulk?: boolean;
  requestResync?: boolean;
  purge?: boolean;
  kill?: boolean;
  stats?: string | true;
  internal?: string | true;
  external?: string | true;
  xml?: boolean;
  json?: boolean;
  logLevel?: 'error' | 'warn' | 'info' | 'verbose' | 'debug';
  logFormat?: 'text' | 'json';
  backgroundChild?: boolean;
}

/** A conntrackd-style request flag: its option key, letters, and sub-argument if it takes one. */
export interface ClientFlag {
  key: ClientFlagKey;
  short: string;
  long: string;
  /** The optional sub-argument: its placeholder in the help, and the values it takes. */
  arg?: { placeholder: string; choices: readonly string[] };
  help: string;
}

export type ClientFlagKey =
  | 'commit'
  | 'flush'
  | 'flushKernel'
  | 'resyncKernel'
  | 'bulk'
  | 'requestResync'
  | 'purge'
  | 'kill'
  | 'stats'
  | 'internal'
  | 'external';

const CT_EXPECT = ['ct', 'expect'] as const;
const ctOrExpect = { placeholder: 'ct|expect', choices: CT_EXPECT };

/** The request flags, in the order of the help. */
export const CLIENT_FLAGS: readonly ClientFlag[] = [
  {
    key: 'commit',
    short: 'c',
    long: 'commit',
    arg: ctOrExpect,
    help: 'commit the external cache into the kernel table',
  },
  {
    key: 'flush',
    short: 'f',
    long: 'flush',
    arg: { placeholder: 'internal|external', choices: ['internal', 'external'] },
    help: 'flush the internal and/or external cache',
  },
  {
    key: 'flushKernel',
    short: 'F',
    long: 'flush-kernel',
    arg: ctOrExpect,
    help: 'flush the kernel table (entries the Filter ignores are kept)',
  },
  {
    key: 'resyncKernel',
    short: 'R',
    long: 'resync-kernel',
    arg: ctOrExpect,
    help: 're-read the kernel table into the internal cache',
  },
  { key: 'bulk', short: 'B', long: 'bulk', help: 'send the whole internal cache to the peer' },
  { key: 'requestResync', short: 'n', long: 'request-resync', help: 'ask the peer for its whole internal cache' },
  { key: 'purge', short: 't', long: 'purge', help: 'flush the kernel table after PurgeTimeout seconds' },
  { key: 'kill', short: 'k', long: 'kill', help: 'stop the daemon' },
  {
    key: 'stats',
    short: 's',
    long: 'stats',
    help: 'statistics: network, cache, runtime, link, rsqueue, process, queue, ct, expect',
    arg: {
      placeholder: 'section',
      // conntrackd's order, which decides an abbreviation: `-s c` is cache, `-s r` runtime
      choices: ['network', 'cache', 'runtime', 'multicast', 'link', 'rsqueue', 'process', 'queue', 'ct', 'expect'],
    },
  },
  { key: 'internal', short: 'i', long: 'internal', arg: ctOrExpect, help: 'dump the internal cache' },
  { key: 'external', short: 'e', long: 'external', arg: ctOrExpect, help: 'dump the external cache' },
];

/**
 * A sub-argument as conntrackd matches it: the first choice, in its order, that the word begins
 * (`-f e` = external, `-s c` = cache before ct, `-s r` = runtime before rsqueue; an empty word
 * is the first choice, as its strncmp of length 0 has it). Unlike conntrackd, case is ignored.
 * Undefined if none matches.
 */
export function matchChoice(value: string, choices: readonly string[]): string | undefined {
  const word = value.toLowerCase();
  return choices.find((c) => c.startsWith(word));
}

/** `-v`: conntrackd's version line, with ctsync's name, version and licence. */
export const VERSION_LINE = `ctsync, connection tracking sync daemon v${VERSION}. Licensed under MIT.\n`;

/** Whether -x goes with this request: conntrackd's XML is a form of -i and -e only, and not JSON. */
export function xmlFits(action: ClientFlagKey, opts: DaemonCliOptions): boolean {
  return (action === 'internal' || action === 'external') && !opts.json;
}
