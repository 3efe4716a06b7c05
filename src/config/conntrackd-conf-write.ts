// ctsync config → conntrackd.conf text, for the interop harness (start a real conntrackd with the
// same settings) and for `ctsync config convert --to conntrackd`.
//
// Every resolved setting is written explicitly, so conntrackd and ctsync run with the same values
// even where their defaults differ (StartupResync, NetlinkBufferSizeMaxGrowth, UNIX Path). The one
// thing conntrackd.conf cannot say is "do not change the scheduler": without `Scheduler`, conntrackd
// switches to SCHED_RR priority 99 (a comment in the output says so).
// parseConntrackdConf(toConntrackdConf(c)) gives back `c` after withDefaults().
// Values conntrackd's scanner cannot read (an interface named "ae0" is read as an IPv6 address,
// paths with spaces, protocols without an /etc/protocols name, …) throw an Error.
import { classifyWord } from './conntrackd-conf.js';
import { DEFAULTS, type Channel, type CtsyncConfig } from './model.js';
import type { HelperConfig } from './helpers.js';
import { protocolNames } from './protocols.js';
import { authenticationConfLines } from './auth-section.js';

function fail(what: string, value: unknown, why: string): never {
  throw new Error(`cannot write ${what} ${JSON.stringify(value)} to conntrackd.conf: ${why}`);
}

function name(what: string, v: string): string {
  const cls = classifyWord(v);
  if (cls !== 'string')
    fail(
      what,
      v,
      cls === 'ip'
        ? 'conntrackd would read it as an IPv6 address'
        : cls === 'keyword'
          ? 'it is a conntrackd.conf keyword'
          : cls === 'bool'
            ? 'conntrackd would read it as a boolean'
            : cls === 'mode'
              ? 'conntrackd would read it as a sync mode'
              : 'conntrackd names are a letter followed by letters, digits, ".", "-" or "_"',
    );
  return v;
}

function path(what: string, v: string): string {
  if (!v.startsWith('/') || /[\s"#{}]/.test(v))
    fail(what, v, 'conntrackd paths start with "/" and contain no spaces, quotes, "#" or braces');
  return v;
}

function ip(what: string, v: string): string {
  if (classifyWord(v) !== 'ip') fail(what, v, "conntrackd's scanner cannot read this form of address");
  return v;
}

const onOff = (b: boolean) => (b ? 'on' : 'off');

function channel(c: Channel, out: string[]): void {
  const head = c.kind === 'udp' ? 'UDP' : c.kind === 'tcp' ? 'TCP' : 'Multicast';
  out.push(`\t${head}${c.default ? ' Default' : ''} {`);
  if (c.kind === 'udp' || c.kind === 'tcp') {
    if (c.ipv4Address !== undefined) out.push(`\t\tIPv4_address ${ip('ipv4Address', c.ipv4Address)}`);
    if (c.ipv6Address !== undefined) out.push(`\t\tIPv6_address ${ip('ipv6Address', c.ipv6Address)}`);
    const v6 = c.destination.includes(':');
    out.push(`\t\tIPv${v6 ? 6 : 4}_Destination_Address ${ip('destination', c.destination)}`);
    out.push(`\t\tPort ${c.port}`);
  } else {
    // IPv6 group before Interface: conntrackd 1.4.7 only applies Interface to an IPv6 group set before it.
    out.push(`\t\tIPv${c.group.includes(':') ? 6 : 4}_address ${ip('group', c.group)}`);
    out.push(`\t\tGroup ${c.port}`);
    if (c.ipv4Interface !== undefined) out.push(`\t\tIPv4_interface ${ip('ipv4Interface', c.ipv4Interface)}`);
  }
  out.push(`\t\tInterface ${name('interface', c.interface)}`);
  if (c.sndSocketBuffer !== undefined) out.push(`\t\tSndSocketBuffer ${c.sndSocketBuffer}`);
  if (c.rcvSocketBuffer !== undefined) out.push(`\t\tRcvSocketBuffer ${c.rcvSocketBuffer}`);
  out.push(`\t\tChecksum ${onOff(c.checksum)}`);
  if (c.kind === 'tcp' && c.errorQueueLength !== undefined) out.push(`\t\tErrorQueueLength ${c.errorQueueLength}`);
  out.push('\t}');
}

function protocolWord(num: number): string {
  if (num === 6) return 'TCP';
  if (num === 17) return 'UDP';
  const word = protocolNames(num).find((n) => classifyWord(n) === 'string');
  if (word === undefined) fail('protocol', num, 'it has no /etc/protocols name that conntrackd can read');
  return word;
}

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function toConntrackdConf(config: CtsyncConfig): string {
  const s = config.sync;
  const g = config.general;
  const out: string[] = [
    '# Written by ctsync from its configuration; read by conntrackd 1.4.7 and ctsync alike.',
    'Sync {',
    `\tMode ${s.mode.toUpperCase()} {`,
  ];
  if (s.mode === 'ftfw') {
    out.push(`\t\tResendQueueSize ${s.resendQueueSize}`);
    out.push(`\t\tACKWindowSize ${s.ackWindowSize}`);
  }
  if (s.mode === 'alarm') {
    out.push(`\t\tRefreshTime ${s.refreshTime ?? DEFAULTS.sync.refreshTime}`);
    out.push(`\t\tCacheTimeout ${s.cacheTimeout ?? DEFAULTS.sync.cacheTimeout}`);
  }
  if (s.commitTimeout !== undefined) out.push(`\t\tCommitTimeout ${s.commitTimeout}`);
  out.push(`\t\tPurgeTimeout ${s.purgeTimeout}`);
  // conntrackd refuses these two in Mode ALARM
  if (s.mode !== 'alarm') {
    out.push(`\t\tDisableExternalCache ${onOff(s.disableExternalCache)}`);
    out.push(`\t\tStartupResync ${onOff(s.startupResync)}`);
  }
  out.push('\t}');
  for (const c of s.channels) channel(c, out);
  out.push('\tOptions {');
  out.push(`\t\tTCPWindowTracking ${onOff(s.options.tcpWindowTracking)}`);
  const exp = s.options.expectationSync;
  if (Array.isArray(exp)) {
    if (exp.length === 0) fail('expectationSync', exp, 'an empty list means "all helpers" to conntrackd');
    out.push(`\t\tExpectationSync {`, ...exp.map((h) => `\t\t\t${name('helper name', h)}`), '\t\t}');
  } else out.push(`\t\tExpectationSync ${onOff(exp)}`);
  out.push('\t}');
  if (s.authentication) out.push(...authenticationConfLines(s.authentication));
  out.push('}');

  out.push('General {');
  out.push(`\tSystemd ${onOff(g.systemd)}`);
  out.push(`\tHashSize ${g.hashSize}`);
  out.push(`\tHashLimit ${g.hashLimit}`);
  out.push(`\tLogFile ${g.logFile === false ? 'off' : path('logFile', g.logFile)}`);
  out.push(`\tSyslog ${g.syslog === false ? 'off' : g.syslog}`);
  out.push(`\tLockFile ${path('lockFile', g.lockFile)}`);
  out.push('\tUNIX {', `\t\tPath ${path('unix.path', g.unix.path)}`);
  if (g.unix.backlog !== undefined) out.push(`\t\tBacklog ${g.unix.backlog}`);
  out.push('\t}');
  if (g.netlinkBufferSize !== undefined) out.push(`\tNetlinkBufferSize ${g.netlinkBufferSize}`);
  out.push(`\tNetlinkBufferSizeMaxGrowth ${g.netlinkBufferSizeMaxGrowth}`);
  out.push(`\tNetlinkOverrunResync ${g.netlinkOverrunResync === false ? 'off' : g.netlinkOverrunResync}`);
  out.push(`\tNetlinkEventsReliable ${onOff(g.netlinkEventsReliable)}`);
  if (g.pollSecs !== undefined) out.push(`\tPollSecs ${g.pollSecs}`);
  out.push(`\tEventIterationLimit ${g.eventIterationLimit}`);
  if (g.scheduler)
    out.push(
      '\tScheduler {',
      `\t\tType ${g.scheduler.type.toUpperCase()}`,
      `\t\tPriority ${g.scheduler.priority}`,
      '\t}',
    );
  else
    out.push(
      '\t# No Scheduler: ctsync leaves the scheduling policy alone; conntrackd switches to SCHED_RR priority 99.',
    );
  const f = g.filter;
  if (f.protocol || f.address || f.state || f.from !== 'userspace') {
    out.push(`\tFilter From ${f.from === 'userspace' ? 'Userspace' : 'Kernelspace'} {`);
    const mode = (m: string) => (m === 'accept' ? 'Accept' : 'Ignore');
    if (f.protocol)
      out.push(
        `\t\tProtocol ${mode(f.protocol.mode)} {`,
        ...f.protocol.protocols.map((p) => `\t\t\t${protocolWord(p)}`),
        '\t\t}',
      );
    if (f.address) {
      out.push(`\t\tAddress ${mode(f.address.mode)} {`);
      for (const a of f.address.ipv4) out.push(`\t\t\tIPv4_address ${ip('filter address', a)}`);
      for (const a of f.address.ipv6) out.push(`\t\t\tIPv6_address ${ip('filter address', a)}`);
      out.push('\t\t}');
    }
    if (f.state) {
      out.push(`\t\tState ${mode(f.state.mode)} {`);
      if (f.state.tcpStates.length > 0) out.push(`\t\t\t${f.state.tcpStates.join(' ')} for TCP`);
      out.push('\t\t}');
    }
    out.push('\t}');
  }
  out.push('}');
  if (config.helpers) out.push(...helperSection(config.helpers));
  if (
    config.ha !== undefined ||
    config.hooks !== undefined ||
    config.log !== undefined ||
    config.metrics !== undefined ||
    config.health !== undefined
  ) {
    out.push(
      '# ctsync-only sections (ha, hooks, log, metrics, health) have no conntrackd.conf equivalent and are not written.',
    );
  }
  return `${out.join('\n')}\n`;
}

/** conntrackd's `Helper` section (validated values: names and numbers need no checks here). */
function helperSection(helpers: readonly HelperConfig[]): string[] {
  const out = ['Helper {'];
  for (const h of helpers) {
    out.push(`\tType ${h.name} ${h.family} ${h.protocol} {`, `\t\tQueueNum ${h.queueNum}`);
    if (h.queueLen !== undefined) out.push(`\t\tQueueLen ${h.queueLen}`);
    if (h.policy)
      out.push(
        `\t\tPolicy ${h.name} {`,
        `\t\t\tExpectMax ${h.policy.expectMax}`,
        `\t\t\tExpectTimeout ${h.policy.expectTimeout}`,
        '\t\t}',
      );
    out.push('\t}');
  }
  out.push('}');
  return out;
}
