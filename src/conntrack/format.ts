// Text output identical to `conntrack -L` / `conntrack -E` / `conntrack -L expect` of
// conntrack-tools 1.4.7 with libnetfilter_conntrack 1.0.9 (layout rules checked against the real
// tool and library; see test/unit/conntrack/format.test.ts for the captured lines).
//
// A field is printed when the Entry has it, mirroring the library printing exactly the
// attributes the kernel sent; deciding what the kernel would have sent (e.g. no `use=` in
// events, no `zone=` for zone 0) is the decoder's job.
//
// Hot path (100k+ entries per listing): plain string concatenation, no regexes, no arrays.

import { endianness } from 'node:os';
import { IPS } from '../netlink/constants.js';
import type { Entry, EventType, Expect, Tuple } from './entry.js';
import {
  EXPECT_FLAG_NAMES,
  dccpStateName,
  greKeyHex,
  l3protoName,
  l4Print,
  protoName,
  sctpStateName,
  tcpStateName,
} from './names.js';

export {
  protoName,
  l3protoName,
  tcpStateName,
  sctpStateName,
  dccpStateName,
  protoNumber,
  tcpStateNumber,
  sctpStateNumber,
  dccpStateNumber,
  parseConnlabelConf,
  TCP_STATES,
  SCTP_STATES,
  DCCP_STATES,
  EXPECT_FLAG_NAMES,
} from './names.js';

export interface FormatOptions {
  /** `-o extended`: prefix the layer-3 name and number (`ipv4     2 `). */
  extended?: boolean;
  /** `-o id`: append `id=` (when the entry has one). */
  id?: boolean;
  /** `-o ktimestamp`: append `[start=...]` / `[stop=...]` (ctime(3) in the local time zone). */
  ktimestamp?: boolean;
  /**
   * Label names by bit (see parseConnlabelConf). conntrack only loads the map for `-o labels`
   * (or label options), so without a map `labels` are not printed at all, like plain `-L`.
   */
  labelMap?: readonly (string | undefined)[];
  /** Unix seconds for `delta-time` of entries without a stop timestamp; defaults to the clock. */
  now?: number;
}

export interface EventFormatOptions extends FormatOptions {
  /** Netlink port id of the process that caused the event (nlmsg_pid); 0/absent = kernel. */
  portid?: number;
  /** Name of that process, when conntrack could resolve it. */
  progname?: string;
  /** `-o timestamp`: the receive time, printed as `[sec.usec]<TAB>` before the line. */
  time?: { sec: number; usec: number };
}

const IPS_SEEN_REPLY = IPS.SEEN_REPLY;
const IPS_ASSURED = IPS.ASSURED;
const IPS_OFFLOAD = IPS.OFFLOAD;
const IPS_HW_OFFLOAD = IPS.HW_OFFLOAD;

// "%-8s %u " for every protocol number, precomputed: the prefix of every line.
const PROTO_PREFIX: string[] = [];
for (let i = 0; i < 256; i++) PROTO_PREFIX.push(protoName(i).padEnd(8) + ' ' + i + ' ');

function protoPrefix(num: number): string {
  return PROTO_PREFIX[num] ?? protoName(num).padEnd(8) + ' ' + num + ' ';
}

function l3Prefix(family: number): string {
  return l3protoName(family).padEnd(8) + ' ' + family + ' ';
}

/** Address fields: printed only for AF_INET/AF_INET6, as the library does. */
function addrPart(family: number, t: Tuple, srcTag: string, dstTag: string): string {
  if (family !== 2 && family !== 10) return '';
  return srcTag + t.src + ' ' + dstTag + t.dst + ' ';
}

/** Layer-4 fields of a tuple, chosen by that tuple's protocol number. */
function l4Part(t: Tuple): string {
  switch (l4Print(t.proto)) {
    case 'ports':
      return 'sport=' + (t.sport ?? 0) + ' dport=' + (t.dport ?? 0) + ' ';
    case 'gre-keys':
      return 'srckey=' + greKeyHex(t.sport) + ' dstkey=' + greKeyHex(t.dport) + ' ';
    case 'icmp':
      return 'type=' + (t.icmpType ?? 0) + ' code=' + (t.icmpCode ?? 0) + ' id=' + (t.icmpId ?? 0) + ' ';
    default:
      return '';
  }
}

/** Whole seconds of a nanosecond decimal string (exact: no float rounding near 2^63). */
function nsToSec(ns: string): number {
  return ns.length > 9 ? Number(ns.slice(0, ns.length - 9)) : 0;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

/** ctime(3) without the newline: `Thu Nov 26 06:55:20 2026`, local time zone. */
export function ctime(sec: number): string {
  const d = new Date(sec * 1000);
  const day = d.getDate();
  return (
    DAYS[d.getDay()] +
    ' ' +
    MONTHS[d.getMonth()] +
    (day < 10 ? '  ' : ' ') +
    day +
    ' ' +
    pad2(d.getHours()) +
    ':' +
    pad2(d.getMinutes()) +
    ':' +
    pad2(d.getSeconds()) +
    ' ' +
    d.getFullYear()
  );
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The `labels=` field. Entry.labels holds the kernel's host-order u32 words as hex; bit i lives
 * in word i/32. The library prints named set bits in bit order; with none named the '=' is
 * overwritten, leaving a bare `labels`.
 */
function labelsPart(hex: string, map: readonly (string | undefined)[]): string {
  let names = '';
  const nbits = (hex.length >> 1) * 8;
  for (let bit = 0; bit < nbits; bit++) {
    const byte = LITTLE_ENDIAN ? bit >> 3 : ((bit >> 5) << 2) + (3 - ((bit >> 3) & 3));
    const v = parseInt(hex.substr(byte * 2, 2), 16);
    if ((v & (1 << (bit & 7))) === 0) continue;
    const name = map[bit];
    if (name === undefined || name === '') continue;
    names += names === '' ? name : ',' + name;
  }
  return names === '' ? 'labels ' : 'labels=' + names + ' ';
}

function deltaPart(e: Entry, now: number | undefined): string {
  const start = nsToSec(e.timestampStart!);
  const stopNs = e.timestampStop;
  // A zero or missing stop means "still alive": the library measures up to time(NULL).
  const stop = stopNs !== undefined && stopNs !== '0' ? nsToSec(stopNs) : (now ?? Math.floor(Date.now() / 1000));
  const delta = stop - start;
  // Printed as %llu of a signed time_t: a negative delta wraps.
  return 'delta-time=' + (delta >= 0 ? delta : (2n ** 64n + BigInt(delta)).toString()) + ' ';
}

function body(e: Entry, o: FormatOptions | undefined): string {
  const family = e.family;
  let s = o !== undefined && o.extended ? l3Prefix(family) : '';
  s += protoPrefix(e.orig.proto);
  if (e.timeout !== undefined) s += e.timeout + ' ';
  if (e.tcp !== undefined && e.tcp.state !== undefined) s += tcpStateName(e.tcp.state) + ' ';
  if (e.sctp !== undefined && e.sctp.state !== undefined) s += sctpStateName(e.sctp.state) + ' ';
  if (e.dccp !== undefined && e.dccp.state !== undefined) s += dccpStateName(e.dccp.state) + ' ';
  s += addrPart(family, e.orig, 'src=', 'dst=') + l4Part(e.orig);
  if (e.orig.zone !== undefined) s += 'zone-orig=' + e.orig.zone + ' ';
  const co = e.countersOrig;
  if (co !== undefined) s += 'packets=' + co.packets + ' bytes=' + co.bytes + ' ';
  const status = e.status;
  if (status !== undefined && (status & IPS_SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  const r = e.reply;
  if (r !== undefined) {
    s += addrPart(family, r, 'src=', 'dst=') + l4Part(r);
    if (r.zone !== undefined) s += 'zone-reply=' + r.zone + ' ';
  }
  const cr = e.countersReply;
  if (cr !== undefined) s += 'packets=' + cr.packets + ' bytes=' + cr.bytes + ' ';
  if (status !== undefined) {
    // Only one of these is printed: offload hides ASSURED.
    if (status & IPS_HW_OFFLOAD) s += '[HW_OFFLOAD] ';
    else if (status & IPS_OFFLOAD) s += '[OFFLOAD] ';
    else if (status & IPS_ASSURED) s += '[ASSURED] ';
  }
  if (e.mark !== undefined) s += 'mark=' + e.mark + ' ';
  if (e.secmark !== undefined) s += 'secmark=' + e.secmark + ' ';
  if (e.secctx !== undefined) s += 'secctx=' + e.secctx + ' ';
  if (e.zone !== undefined) s += 'zone=' + e.zone + ' ';
  if (e.timestampStart !== undefined) s += deltaPart(e, o?.now);
  if (o !== undefined && o.ktimestamp) {
    if (e.timestampStart !== undefined) s += '[start=' + ctime(nsToSec(e.timestampStart)) + '] ';
    if (e.timestampStop !== undefined) s += '[stop=' + ctime(nsToSec(e.timestampStop)) + '] ';
  }
  if (e.helper !== undefined) s += 'helper=' + e.helper + ' ';
  if (e.use !== undefined) s += 'use=' + e.use + ' ';
  if (o !== undefined && o.id && e.id !== undefined) s += 'id=' + e.id + ' ';
  if (e.labels !== undefined && o !== undefined && o.labelMap !== undefined) s += labelsPart(e.labels, o.labelMap);
  // Every field ends in a blank; the library drops the last one.
  return s.slice(0, s.length - 1);
}

/** One `conntrack -L` line (no newline). */
export function formatEntry(e: Entry, opts?: FormatOptions): string {
  return body(e, opts);
}

/** "%9s " of the event tag, as libnetfilter_conntrack prints it. */
export function eventTag(type: EventType): string {
  return type === 'NEW' ? '    [NEW] ' : type === 'UPDATE' ? ' [UPDATE] ' : '[DESTROY] ';
}

function timePrefix(t: { sec: number; usec: number }): string {
  // "[%-.8ld.%-.6ld]\t": the precision zero-pads to 8 and 6 digits.
  return '[' + String(t.sec).padStart(8, '0') + '.' + String(t.usec).padStart(6, '0') + ']\t';
}

function userspaceSuffix(o: EventFormatOptions | undefined): string {
  if (o === undefined || !o.portid) return '';
  return ' [USERSPACE] portid=' + o.portid + (o.progname !== undefined ? ' progname=' + o.progname : '');
}

/** One `conntrack -E` line (no newline). */
export function formatEvent(type: EventType, e: Entry, opts?: EventFormatOptions): string {
  const pre = opts !== undefined && opts.time !== undefined ? timePrefix(opts.time) : '';
  return pre + eventTag(type) + body(e, opts) + userspaceSuffix(opts);
}

function expectBody(x: Expect): string {
  const family = x.family;
  let s = '';
  if (x.timeout !== undefined) s += x.timeout + ' ';
  s += 'proto=' + x.tuple.proto + ' ';
  s += addrPart(family, x.tuple, 'src=', 'dst=') + l4Part(x.tuple);
  s += addrPart(family, x.mask, 'mask-src=', 'mask-dst=') + l4Part(x.mask);
  s += addrPart(family, x.master, 'master-src=', 'master-dst=') + l4Part(x.master);
  if (x.zone !== undefined) s += 'zone=' + x.zone + ' ';
  const flags = x.flags;
  if (flags) {
    let names = '';
    for (const [bit, name] of EXPECT_FLAG_NAMES) if (flags & bit) names += names === '' ? name : ',' + name;
    // The separating blank follows any non-zero flags word, even one with no named bit.
    s += names + ' ';
  }
  if (x.class !== undefined) s += 'class=' + x.class + ' ';
  if (x.helper !== undefined) s += 'helper=' + x.helper;
  // Only one trailing blank is dropped (the library checks the last character).
  return s.length > 0 && s[s.length - 1] === ' ' ? s.slice(0, s.length - 1) : s;
}

/** One `conntrack -L expect` line (no newline). NAT tuple/dir and fn are not printed by 1.0.9. */
export function formatExpect(x: Expect): string {
  return expectBody(x);
}

/** One `conntrack -E expect` line (no newline). */
export function formatExpectEvent(type: EventType, x: Expect): string {
  return eventTag(type) + expectBody(x);
}

/** conntrackd's cache timer column (Mode ALARM's external caches), before `[active since]`. */
function expiresText(expiresInSeconds: number | undefined): string {
  return expiresInSeconds === undefined ? '' : ' [expires in ' + expiresInSeconds + 's]';
}

/**
 * One line of `conntrackd -i` / `-e`: the library layout without the timeout and use columns
 * (conntrackd hides the cached timeout), the reply tuple only for the internal cache, then
 * `[expires in Ns]` where entries expire (Mode ALARM's external cache) and `[active since Ns]`.
 */
export function formatCacheEntry(
  e: Entry,
  activeSeconds: number,
  external: boolean,
  expiresInSeconds?: number,
): string {
  const shown: Entry = {
    ...e,
    timeout: undefined,
    use: undefined,
    id: undefined,
    countersOrig: undefined,
    countersReply: undefined,
    timestampStart: undefined,
    timestampStop: undefined,
  };
  if (external) shown.reply = undefined;
  return formatEntry(shown) + expiresText(expiresInSeconds) + ' [active since ' + activeSeconds + 's]';
}

/**
 * One line of `conntrackd -i expect` / `-e expect`: the `conntrack -L expect` layout without the
 * timeout, then `[expires in Ns]` where entries expire and `[active since Ns]`.
 */
export function formatCacheExpect(x: Expect, activeSeconds: number, expiresInSeconds?: number): string {
  return (
    expectBody({ ...x, timeout: undefined }) + expiresText(expiresInSeconds) + ' [active since ' + activeSeconds + 's]'
  );
}
