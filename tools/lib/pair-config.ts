// The conntrackd.conf of one node of a sync pair: two nodes joined by a veth pair, FT-FW over UDP
// unicast (or another Mode, or a TCP channel), read alike by conntrackd 1.4.7 and ctsync. Written here once for the integration tests
// (test/helpers/syncpair.ts), the benchmarks (tools/bench/, the shell ones through
// write-pair-conf.ts), the golden capture of sync messages and the lab, so that a change of
// format or of a default reaches all of them. Each caller adds only what it differs in.

export interface PairNodeConf {
  /** This node's sync address, the peer's, and the interface they are on (IPv4). */
  addr: string;
  peer: string;
  ifname: string;
  /** General > LogFile, LockFile and UNIX > Path. */
  log: string;
  lock: string;
  sock: string;
  /** Sync > UDP > Port (default 3780). */
  port?: number;
  /** Sync > Mode (default FTFW). */
  mode?: PairMode;
  /** Extra lines for the Sync > Mode block. */
  ftfw?: string[];
  /** The channel block (default UDP): TCP takes the same addresses, port and interface. */
  transport?: 'UDP' | 'TCP';
  /** Extra lines for the channel block (after the address, port, interface and checksum). */
  udp?: string[];
  /** Lines for a Sync > Options block (no block without them). */
  options?: string[];
  /** Extra lines for Sync, after the rest (e.g. an Authentication block; nested lines indented by the caller). */
  sync?: string[];
  /** General > HashSize (default 32768): what the caches are sized for at start. */
  hashSize?: number;
  /** General > HashLimit (default 262144). */
  hashLimit?: number;
  /** General > NetlinkBufferSize and NetlinkBufferSizeMaxGrowth (default 16 MiB and 64 MiB); null leaves both out. */
  netlinkBuffer?: { size: number; maxGrowth: number } | null;
  /** General > Scheduler { Type FIFO Priority 1 } (default true). */
  scheduler?: boolean;
  /** Extra lines for General, after the rest (nested blocks indented by the caller). */
  general?: string[];
  /** A comment for the first line (without '#'). */
  comment?: string;
}

/** The sync modes of conntrackd 1.4.7 (the `Mode` block's name). */
export type PairMode = 'FTFW' | 'NOTRACK' | 'ALARM';

/** The default sync port of the pair. */
export const PAIR_PORT = 3780;

const indent = (depth: number, lines: readonly string[]): string[] => lines.map((l) => `${'  '.repeat(depth)}${l}`);

/** The text of one node's conntrackd.conf. */
export function pairNodeConf(o: PairNodeConf): string {
  const netlink = o.netlinkBuffer === undefined ? { size: 16777216, maxGrowth: 67108864 } : o.netlinkBuffer;
  return [
    ...(o.comment === undefined ? [] : [`# ${o.comment}`]),
    'Sync {',
    `  Mode ${o.mode ?? 'FTFW'} {`,
    // the pair's nodes ask each other for their caches at start (SyncNode.settled waits for it);
    // Mode ALARM has no such request (conntrackd refuses the option there): refreshes catch up
    ...(o.mode === 'ALARM' ? [] : ['    StartupResync on']),
    ...indent(2, o.ftfw ?? []),
    '  }',
    `  ${o.transport ?? 'UDP'} Default {`,
    `    IPv4_address ${o.addr}`,
    `    IPv4_Destination_Address ${o.peer}`,
    `    Port ${o.port ?? PAIR_PORT}`,
    `    Interface ${o.ifname}`,
    '    Checksum on',
    ...indent(2, o.udp ?? []),
    '  }',
    ...(o.options ? ['  Options {', ...indent(2, o.options), '  }'] : []),
    ...indent(1, o.sync ?? []),
    '}',
    'General {',
    `  HashSize ${o.hashSize ?? 32768}`,
    `  HashLimit ${o.hashLimit ?? 262144}`,
    `  LogFile ${o.log}`,
    '  Syslog off',
    `  LockFile ${o.lock}`,
    `  UNIX { Path ${o.sock} }`,
    ...(netlink ? [`  NetlinkBufferSize ${netlink.size}`, `  NetlinkBufferSizeMaxGrowth ${netlink.maxGrowth}`] : []),
    ...(o.scheduler === false ? [] : ['  Scheduler { Type FIFO Priority 1 }']),
    ...indent(1, o.general ?? []),
    '}',
    '',
  ].join('\n');
}

/** The files of a node named by a stem: STEM.log, STEM.lock, STEM.sock. */
export function stemFiles(stem: string): { log: string; lock: string; sock: string } {
  return { log: `${stem}.log`, lock: `${stem}.lock`, sock: `${stem}.sock` };
}
