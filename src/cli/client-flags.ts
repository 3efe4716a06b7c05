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
      choices: ['network', 'cache', 'runtime', 'link', 'rsqueue', 'process', 'queue', 'ct', 'expect', 'multicast'],
    },
  },
  { key: 'internal', short: 'i', long: 'internal', arg: ctOrExpect, help: 'dump the internal cache' },
  { key: 'external', short: 'e', long: 'external', arg: ctOrExpect, help: 'dump the external cache' },
];

/** A sub-argument as conntrackd matches it: by unique prefix (`-f e` = external). Undefined if none or several match. */
export function matchChoice(value: string, choices: readonly string[]): string | undefined {
  if (value === '') return undefined;
  const hit = choices.filter((c) => c.startsWith(value.toLowerCase()));
  return hit.length === 1 ? hit[0] : undefined;
}
