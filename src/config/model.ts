// ctsync's configuration model.
//
// Two shapes of the same thing:
//  - CtsyncConfigInput: what a person writes (the native JSON file, or what the conntrackd.conf
//    reader produces): everything that has a default may be left out.
//  - CtsyncConfig: the resolved configuration the daemon runs with, made by withDefaults(). Every
//    defaulted field is present; fields whose absence means something ("not set") stay optional and
//    are then absent, never `undefined`-valued.
//
// It covers what conntrackd.conf can express for `Mode FTFW` and `Mode NOTRACK` with UDP,
// Multicast or TCP channels. Refused (a ConfigError, never silently ignored): Mode ALARM,
// the Stats section, PollSecs (unsupported.ts). The Helper section is read (`helpers`); the daemon
// says at start that it does not run those helpers. Keys are camelCase; conntrackd.conf option
// names are given in the comments.
//
// Defaults are conntrackd 1.4.7's, except three where conntrackd's behaviour is dangerous or
// surprising (each marked "ctsync default" below):
//   general.unix.path                   conntrackd has no default (binds an unreachable socket)
//   general.scheduler                   conntrackd switches to SCHED_RR priority 99 by default
//   general.netlinkBufferSizeMaxGrowth  conntrackd ignores NetlinkBufferSize unless it is <= this

import { protocolByNameLoose } from './protocols.js';
import type { HaConfigInput, HooksConfigInput } from '../ha/config.js';
import { resolveAuth, type AuthConfig, type AuthConfigInput } from './auth-section.js';
import type { HelperConfig } from './helpers.js';
import type { MetricsConfig } from '../metrics/config.js';
import type { HealthConfigInput } from '../health/config.js';

export type SyslogFacility =
  'daemon' | 'local0' | 'local1' | 'local2' | 'local3' | 'local4' | 'local5' | 'local6' | 'local7';
export const SYSLOG_FACILITIES: readonly SyslogFacility[] = [
  'daemon',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];

export type FilterMode = 'accept' | 'ignore';

/** `log`: ctsync-only (conntrackd has no verbose mode). */
export interface LogConfig {
  level?: 'error' | 'warn' | 'info' | 'verbose' | 'debug';
}

/** `schedules`: periodic jobs (node-cron expressions). */
export interface SchedulesConfig {
  /** Compare the internal cache with the kernel table, fix and report differences. */
  consistencyCheck?: string;
  /** Write a statistics snapshot to the log. */
  statsLog?: string;
}

/** TCP states a `State` filter can name (conntrackd keywords; `CLOSED` is read as `CLOSE`, `LISTEN` is the kernel's SYN_SENT2). */
export type TcpFilterState =
  'SYN_SENT' | 'SYN_RECV' | 'ESTABLISHED' | 'FIN_WAIT' | 'CLOSE_WAIT' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSE' | 'LISTEN';
export const TCP_FILTER_STATES: readonly TcpFilterState[] = [
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'LISTEN',
];

// ------------------------------------------------------------------------------------ resolved

/** `UDP [Default] { … }`: unicast to one peer. */
export interface UdpChannel {
  kind: 'udp';
  /** `Default`: the link used first (else the first channel). */
  default: boolean;
  /** `IPv4_address` / `IPv6_address`: local address to bind (at most one; none: the wildcard address, as conntrackd). */
  ipv4Address?: string;
  ipv6Address?: string;
  /** `IPv4_Destination_Address` / `IPv6_Destination_Address`: the peer; same family as the local address. */
  destination: string;
  /** `Port`: UDP port, local and remote (3780 by convention). */
  port: number;
  /** `Interface`: required (MTU, ifindex, IPv6 scope, link monitoring). */
  interface: string;
  /** `SndSocketBuffer` / `RcvSocketBuffer`: SO_SNDBUFFORCE / SO_RCVBUFFORCE; system default if absent. */
  sndSocketBuffer?: number;
  rcvSocketBuffer?: number;
  /** `Checksum`: false sets SO_NO_CHECK (UDP checksum 0). */
  checksum: boolean;
}

/** `Multicast [Default] { … }`. */
export interface MulticastChannel {
  kind: 'multicast';
  default: boolean;
  /** `IPv4_address` / `IPv6_address` in a Multicast block: the multicast group address (e.g. 225.0.0.50). */
  group: string;
  /** conntrackd's `Group` — despite its name, the UDP port (3780 by convention). */
  port: number;
  /** `IPv4_interface`: local IPv4 address for IP_MULTICAST_IF and the membership; IPv4 groups only. */
  ipv4Interface?: string;
  interface: string;
  sndSocketBuffer?: number;
  rcvSocketBuffer?: number;
  checksum: boolean;
}

/**
 * `TCP [Default] { … }`: a UDP block's keys, with conntrackd's roles: each node listens on its own
 * address (the wildcard one when none is given) and connects to the destination (two connections,
 * one per direction), on `Port`. SndSocketBuffer applies to the connection to the peer,
 * RcvSocketBuffer to the listening socket; `checksum` is always true (TCP carries its own).
 */
export interface TcpChannel extends Omit<UdpChannel, 'kind'> {
  kind: 'tcp';
  /** `ErrorQueueLength`: buffers kept while the connection to the peer is down (default 128). */
  errorQueueLength?: number;
}

export type Channel = UdpChannel | MulticastChannel | TcpChannel;

export interface SyncOptions {
  /** `TCPWindowTracking`: keep window tracking on committed entries (else BE_LIBERAL is forced). */
  tcpWindowTracking: boolean;
  /** `ExpectationSync`: false, true (all helpers) or helper names (case-insensitive prefixes). */
  expectationSync: boolean | string[];
}

/** conntrackd's sync modes that ctsync implements. */
export type SyncMode = 'ftfw' | 'notrack' | 'alarm';

export interface SyncConfig {
  /**
   * `Mode FTFW` (reliable, the default), `Mode NOTRACK` (best effort, no sequence tracking) or
   * `Mode ALARM` (best effort, every entry sent again each RefreshTime, the peer's entries expire).
   */
  mode: SyncMode;
  /** `RefreshTime` (s), Mode ALARM only: every internal entry is sent again at least this often. */
  refreshTime?: number;
  /** `CacheTimeout` (s), Mode ALARM only: an external entry not refreshed for this long is dropped. */
  cacheTimeout?: number;
  /** `ResendQueueSize`: objects kept until acknowledged. */
  resendQueueSize: number;
  /** `ACKWindowSize`: messages between window ACKs. */
  ackWindowSize: number;
  /** `CommitTimeout`: fixed timeout (s) for committed entries; absent = estimate from cached timeout. */
  commitTimeout?: number;
  /** `PurgeTimeout`: delay (s) of the kernel-table flush scheduled by `-t`. */
  purgeTimeout: number;
  /** `DisableExternalCache`: inject received entries straight into the kernel. */
  disableExternalCache: boolean;
  /** `StartupResync`: ask the peer for a full resync at start. */
  startupResync: boolean;
  /** 1 to 4 links, all of the same kind; one is active at a time. */
  channels: Channel[];
  options: SyncOptions;
  /** `Authentication { … }` (ctsync only): signed datagrams; absent = off, today's wire. */
  authentication?: AuthConfig;
}

export interface FilterConfig {
  /** `Filter From Userspace|Kernelspace`. */
  from: 'userspace' | 'kernelspace';
  /** `Protocol Accept|Ignore { tcp udp … }`: IP protocol numbers. */
  protocol?: { mode: FilterMode; protocols: number[] };
  /** `Address Accept|Ignore { IPv4_address a[/n] … IPv6_address a[/n] … }`. */
  address?: { mode: FilterMode; ipv4: string[]; ipv6: string[] };
  /** `State Accept|Ignore { … for TCP }`. */
  state?: { mode: FilterMode; tcpStates: TcpFilterState[] };
}

export interface SchedulerConfig {
  /** `Type RR|FIFO`. */
  type: 'rr' | 'fifo';
  /** `Priority`: 1..99 (0 is refused by the kernel for RT policies). */
  priority: number;
}

export interface GeneralConfig {
  /** `Systemd`: sd_notify readiness + watchdog when NOTIFY_SOCKET is set (Debian builds default on). */
  systemd: boolean;
  /** `HashSize`: buckets per cache. */
  hashSize: number;
  /** `HashLimit`: max objects per cache. */
  hashLimit: number;
  /** `LogFile`: false or a path (`on` = /var/log/conntrackd.log). */
  logFile: false | string;
  /** `Syslog`: false or a facility (`on` = daemon). */
  syslog: false | SyslogFacility;
  /** `LockFile`. */
  lockFile: string;
  /** `UNIX { Path; Backlog }`: the control socket. */
  unix: { path: string; backlog?: number };
  /** `NetlinkBufferSize`: initial event-socket receive buffer; system default if absent. */
  netlinkBufferSize?: number;
  /** `NetlinkBufferSizeMaxGrowth`: the buffer doubles on overrun while it stays <= this. */
  netlinkBufferSizeMaxGrowth: number;
  /** `NetlinkOverrunResync`: false or seconds before the dump+purge after an overrun. */
  netlinkOverrunResync: false | number;
  /** `NetlinkEventsReliable`. */
  netlinkEventsReliable: boolean;
  /** `PollSecs`: polling mode (no event socket), dump+purge every N s. */
  pollSecs?: number;
  /** `EventIterationLimit`: events handled per readiness before other work. */
  eventIterationLimit: number;
  /** `Scheduler { Type; Priority }`; absent = leave the scheduling policy alone. */
  scheduler?: SchedulerConfig;
  filter: FilterConfig;
}

export interface CtsyncConfig {
  sync: SyncConfig;
  general: GeneralConfig;
  // ctsync-only sections, typed by their owners later; accepted and passed through as-is.
  ha?: HaConfigInput;
  hooks?: HooksConfigInput;
  log?: LogConfig;
  schedules?: SchedulesConfig;
  metrics?: MetricsConfig;
  /** `ctsync health` thresholds, the cache audit, the track file (health/config.ts); defaults when absent. */
  health?: HealthConfigInput;
  /** conntrackd's `Helper` section: user-space helpers (see helpers.ts); absent when none. */
  helpers?: HelperConfig[];
}

// --------------------------------------------------------------------------------------- input

type Opt<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type UdpChannelInput = Opt<UdpChannel, 'default' | 'checksum'>;
export type MulticastChannelInput = Opt<MulticastChannel, 'default' | 'checksum'>;
export type TcpChannelInput = Opt<TcpChannel, 'default' | 'checksum'>;
export type ChannelInput = UdpChannelInput | MulticastChannelInput | TcpChannelInput;

export interface FilterConfigInput {
  from?: 'userspace' | 'kernelspace';
  /** Numbers or /etc/protocols names (any case) in JSON; the conntrackd.conf reader gives numbers. */
  protocol?: { mode: FilterMode; protocols: Array<number | string> };
  address?: { mode: FilterMode; ipv4?: string[]; ipv6?: string[] };
  state?: { mode: FilterMode; tcpStates: TcpFilterState[] };
}

export interface CtsyncConfigInput {
  $schema?: string;
  sync: {
    mode?: SyncMode;
    refreshTime?: number;
    cacheTimeout?: number;
    resendQueueSize?: number;
    ackWindowSize?: number;
    commitTimeout?: number;
    purgeTimeout?: number;
    disableExternalCache?: boolean;
    startupResync?: boolean;
    channels: ChannelInput[];
    options?: Partial<SyncOptions>;
    authentication?: AuthConfigInput;
  };
  general?: {
    systemd?: boolean;
    hashSize?: number;
    hashLimit?: number;
    /** true = /var/log/conntrackd.log */
    logFile?: boolean | string;
    /** true = daemon */
    syslog?: boolean | SyslogFacility;
    lockFile?: string;
    unix?: { path?: string; backlog?: number };
    netlinkBufferSize?: number;
    netlinkBufferSizeMaxGrowth?: number;
    /** true = 30 s */
    netlinkOverrunResync?: boolean | number;
    netlinkEventsReliable?: boolean;
    pollSecs?: number;
    eventIterationLimit?: number;
    scheduler?: SchedulerConfig;
    filter?: FilterConfigInput;
  };
  ha?: HaConfigInput;
  hooks?: HooksConfigInput;
  log?: LogConfig;
  schedules?: SchedulesConfig;
  metrics?: MetricsConfig;
  health?: HealthConfigInput;
  helpers?: HelperConfig[];
}

// ------------------------------------------------------------------------------------ defaults

export const DEFAULT_LOG_FILE = '/var/log/conntrackd.log';
export const DEFAULT_SYSLOG_FACILITY: SyslogFacility = 'daemon';
export const DEFAULT_OVERRUN_RESYNC_SECS = 30;

export const DEFAULTS = {
  sync: {
    mode: 'ftfw' as SyncMode,
    // conntrackd's defaults for Mode ALARM
    refreshTime: 60,
    cacheTimeout: 180,
    resendQueueSize: 131072,
    ackWindowSize: 300,
    purgeTimeout: 60,
    disableExternalCache: false,
    // conntrackd's default (its man page: off). A ctsync peer sends a restarted node its cache
    // anyway (docs/conntrackd-compat.md §3.4); with a conntrackd peer, turn it on.
    startupResync: false,
    channel: { default: false, checksum: true },
    options: { tcpWindowTracking: false, expectationSync: false },
  },
  general: {
    // conntrackd: on when built with systemd, which Debian's package is (its unit is Type=notify).
    systemd: true,
    hashSize: 65536,
    hashLimit: 262144,
    logFile: false as const,
    syslog: false as const,
    lockFile: '/var/lock/conntrackd.lock',
    // ctsync default: conntrackd has none; without `UNIX { Path }` it binds an anonymous socket no
    // client can reach. This is the path every shipped example and primary-backup.sh setup uses.
    unixPath: '/var/run/conntrackd.ctl',
    // conntrackd: 0. ctsync default: at least netlinkBufferSize (see withDefaults), because
    // conntrackd silently ignores a NetlinkBufferSize larger than NetlinkBufferSizeMaxGrowth.
    netlinkBufferSizeMaxGrowth: 0,
    netlinkOverrunResync: DEFAULT_OVERRUN_RESYNC_SECS,
    netlinkEventsReliable: false,
    eventIterationLimit: 100,
    // ctsync default: no scheduler change. conntrackd switches itself to SCHED_RR at priority 99
    // unless told otherwise; a busy real-time event loop can starve the rest of the gateway
    // (including keepalived). Set `scheduler` to opt in.
    filterFrom: 'userspace' as const,
  },
};

/**
 * The resolved configuration: defaults filled in, `true` shorthands expanded, protocol names
 * resolved to numbers. Expects an input that passed validateConfig (unknown protocol names throw).
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function withDefaults(input: CtsyncConfigInput): CtsyncConfig {
  const s = input.sync;
  const g = input.general ?? {};
  const D = DEFAULTS;

  const channels: Channel[] = s.channels.map((c) => {
    const out: Record<string, unknown> = { kind: c.kind, default: c.default ?? D.sync.channel.default };
    if (c.kind === 'udp' || c.kind === 'tcp') {
      if (c.ipv4Address !== undefined) out.ipv4Address = c.ipv4Address;
      if (c.ipv6Address !== undefined) out.ipv6Address = c.ipv6Address;
      out.destination = c.destination;
      out.port = c.port;
      if (c.kind === 'tcp' && c.errorQueueLength !== undefined) out.errorQueueLength = c.errorQueueLength;
    } else {
      out.group = c.group;
      out.port = c.port;
      if (c.ipv4Interface !== undefined) out.ipv4Interface = c.ipv4Interface;
    }
    out.interface = c.interface;
    if (c.sndSocketBuffer !== undefined) out.sndSocketBuffer = c.sndSocketBuffer;
    if (c.rcvSocketBuffer !== undefined) out.rcvSocketBuffer = c.rcvSocketBuffer;
    out.checksum = c.checksum ?? D.sync.channel.checksum;
    return out as unknown as Channel;
  });

  const expectationSync = s.options?.expectationSync ?? D.sync.options.expectationSync;
  const sync: SyncConfig = {
    mode: s.mode ?? D.sync.mode,
    resendQueueSize: s.resendQueueSize ?? D.sync.resendQueueSize,
    ackWindowSize: s.ackWindowSize ?? D.sync.ackWindowSize,
    purgeTimeout: s.purgeTimeout ?? D.sync.purgeTimeout,
    disableExternalCache: s.disableExternalCache ?? D.sync.disableExternalCache,
    startupResync: s.startupResync ?? D.sync.startupResync,
    channels,
    options: {
      tcpWindowTracking: s.options?.tcpWindowTracking ?? D.sync.options.tcpWindowTracking,
      expectationSync: Array.isArray(expectationSync) ? [...expectationSync] : expectationSync,
    },
  };
  if (s.commitTimeout !== undefined) sync.commitTimeout = s.commitTimeout;
  if (sync.mode === 'alarm') {
    sync.refreshTime = s.refreshTime ?? D.sync.refreshTime;
    sync.cacheTimeout = s.cacheTimeout ?? D.sync.cacheTimeout;
  }
  if (s.authentication !== undefined) sync.authentication = resolveAuth(s.authentication);

  const logFile = g.logFile === true ? DEFAULT_LOG_FILE : (g.logFile ?? D.general.logFile);
  const syslog = g.syslog === true ? DEFAULT_SYSLOG_FACILITY : (g.syslog ?? D.general.syslog);
  const overrun =
    g.netlinkOverrunResync === true
      ? DEFAULT_OVERRUN_RESYNC_SECS
      : (g.netlinkOverrunResync ?? D.general.netlinkOverrunResync);

  const filter: FilterConfig = { from: g.filter?.from ?? D.general.filterFrom };
  const f = g.filter;
  if (f?.protocol) {
    filter.protocol = {
      mode: f.protocol.mode,
      protocols: f.protocol.protocols.map((p) => {
        if (typeof p === 'number') return p;
        const n = protocolByNameLoose(p);
        if (n === undefined) throw new Error(`unknown protocol name '${p}' (validate the configuration first)`);
        return n;
      }),
    };
  }
  if (f?.address)
    filter.address = { mode: f.address.mode, ipv4: [...(f.address.ipv4 ?? [])], ipv6: [...(f.address.ipv6 ?? [])] };
  if (f?.state) filter.state = { mode: f.state.mode, tcpStates: [...f.state.tcpStates] };

  const unix: GeneralConfig['unix'] = { path: g.unix?.path ?? D.general.unixPath };
  if (g.unix?.backlog !== undefined) unix.backlog = g.unix.backlog;

  const general: GeneralConfig = {
    systemd: g.systemd ?? D.general.systemd,
    hashSize: g.hashSize ?? D.general.hashSize,
    hashLimit: g.hashLimit ?? D.general.hashLimit,
    logFile,
    syslog,
    lockFile: g.lockFile ?? D.general.lockFile,
    unix,
    // ctsync default (see DEFAULTS): the configured initial size is always honoured.
    netlinkBufferSizeMaxGrowth: Math.max(
      g.netlinkBufferSizeMaxGrowth ?? D.general.netlinkBufferSizeMaxGrowth,
      g.netlinkBufferSize ?? 0,
    ),
    netlinkOverrunResync: overrun,
    netlinkEventsReliable: g.netlinkEventsReliable ?? D.general.netlinkEventsReliable,
    eventIterationLimit: g.eventIterationLimit ?? D.general.eventIterationLimit,
    filter,
  };
  if (g.netlinkBufferSize !== undefined) general.netlinkBufferSize = g.netlinkBufferSize;
  if (g.pollSecs !== undefined) general.pollSecs = g.pollSecs;
  if (g.scheduler !== undefined) general.scheduler = { type: g.scheduler.type, priority: g.scheduler.priority };

  const out: CtsyncConfig = { sync, general };
  if (input.helpers?.length)
    out.helpers = input.helpers.map((h) => (h.policy ? { ...h, policy: { ...h.policy } } : { ...h }));
  if (input.ha !== undefined) out.ha = input.ha;
  if (input.hooks !== undefined) out.hooks = input.hooks;
  if (input.log !== undefined) out.log = input.log;
  if (input.schedules !== undefined) out.schedules = input.schedules;
  if (input.metrics !== undefined) out.metrics = input.metrics;
  if (input.health !== undefined) out.health = input.health;
  return out;
}

/** The channel used first: the one marked default (the last one, if several), else the first. */
export function defaultChannelIndex(channels: readonly Channel[]): number {
  for (let i = channels.length - 1; i >= 0; i--) if (channels[i]!.default) return i;
  return 0;
}
