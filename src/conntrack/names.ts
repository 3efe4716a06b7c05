// Name tables as libnetfilter_conntrack 1.0.9 (what conntrack-tools 1.4.7 links) prints them.
// Verified against the installed library and `conntrack -L` on a 6.18 kernel: out-of-range
// states print as NONE, unnamed protocols and families as "unknown".

/** Layer-4 names the library knows; every other number prints as "unknown". */
const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  47: 'gre',
  58: 'icmpv6',
  132: 'sctp',
  136: 'udplite',
};

/** Index = kernel state number (enum tcp_conntrack); 9 is the kernel's SYN_SENT2 (a.k.a. LISTEN). */
export const TCP_STATES: readonly string[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

export const SCTP_STATES: readonly string[] = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
];

export const DCCP_STATES: readonly string[] = [
  'NONE',
  'REQUEST',
  'RESPOND',
  'PARTOPEN',
  'OPEN',
  'CLOSEREQ',
  'CLOSING',
  'TIMEWAIT',
  'IGNORE',
  'INVALID',
];

export function protoName(num: number): string {
  return PROTO_NAMES[num] ?? 'unknown';
}

/**
 * What the library prints of a tuple's layer 4, by protocol: ports (TCP 6, UDP 17, UDP-Lite 136,
 * SCTP 132, DCCP 33), GRE's (47) keys, ICMP's (1) and ICMPv6's (58) type, code and id (text
 * only; the XML printer has no ICMP fields), or nothing.
 */
export type L4Print = 'ports' | 'gre-keys' | 'icmp' | 'none';

export function l4Print(proto: number | undefined): L4Print {
  switch (proto) {
    case 6:
    case 17:
    case 136:
    case 132:
    case 33:
      return 'ports';
    case 47:
      return 'gre-keys';
    case 1:
    case 58:
      return 'icmp';
    default:
      return 'none';
  }
}

/** A GRE key as the library prints it: 16 bits, unpadded lowercase hex with 0x. */
export function greKeyHex(key: number | undefined): string {
  return '0x' + ((key ?? 0) & 0xffff).toString(16);
}

export function l3protoName(family: number): string {
  return family === 2 ? 'ipv4' : family === 10 ? 'ipv6' : 'unknown';
}

export function tcpStateName(n: number): string {
  return TCP_STATES[n] ?? 'NONE';
}

export function sctpStateName(n: number): string {
  return SCTP_STATES[n] ?? 'NONE';
}

export function dccpStateName(n: number): string {
  return DCCP_STATES[n] ?? 'NONE';
}

/** Reverse lookups for command-line parsing; -1 when unknown. */
export function protoNumber(name: string): number {
  for (const k in PROTO_NAMES) if (PROTO_NAMES[k] === name) return Number(k);
  return -1;
}

export function tcpStateNumber(name: string): number {
  return TCP_STATES.indexOf(name);
}

export function sctpStateNumber(name: string): number {
  return SCTP_STATES.indexOf(name);
}

export function dccpStateNumber(name: string): number {
  return DCCP_STATES.indexOf(name);
}

/** Expectation flag bits (NF_CT_EXPECT_*) in the order the library prints them. */
export const EXPECT_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [1, 'PERMANENT'],
  [2, 'INACTIVE'],
  [4, 'USERSPACE'],
];

/**
 * Parses /etc/xtables/connlabel.conf into names indexed by bit, with the library's rules:
 * lines starting with '#' are comments, the bit is a C integer (decimal, 0x hex, 0 octal)
 * below 1024, the first line for a bit or a name wins, and names are limited to
 * [A-Za-z0-9 -] after trimming blanks.
 */
export function parseConnlabelConf(text: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  const seenNames = new Set<string>();
  for (const line of text.split('\n')) {
    if (line[0] === '#') continue;
    const m = /^[ \t\f\r\v]*[+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/s.exec(line);
    if (!m) continue;
    const bit = parseInt(
      m[1]!,
      m[1]!.length > 1 && m[1]![0] === '0' ? (m[1]![1] === 'x' || m[1]![1] === 'X' ? 16 : 8) : 10,
    );
    if (!(bit < 1024) || out[bit] !== undefined) continue;
    const name = m[2]!.replace(/^[ \t\f\r\v]+|[ \t\f\r\v]+$/g, '');
    if (name === '' || !/^[A-Za-z0-9 -]+$/.test(name) || seenNames.has(name)) continue;
    seenNames.add(name);
    out[bit] = name;
  }
  return out;
}
