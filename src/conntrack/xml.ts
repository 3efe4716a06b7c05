// conntrackd's XML (`conntrackd -i -x`, `-e -x`, `-i expect -x`, `-e expect -x`): one `<flow>` per
// line, as libnetfilter_conntrack 1.0.9's XML printer writes a cached object (nfct_snprintf and
// nfexp_snprintf with NFCT_O_XML and no flags). Learnt from conntrackd 1.4.7's own output, kept
// in test/fixtures/conntrackd-output/xml-*.txt (tools/golden/capture-conntrackd-xml.ts) and held
// to it by test/unit/conntrack/xml.test.ts and test/integration/cli/xml.test.ts.
//
// The printer writes what the object holds and nothing else, so a cache must hand over exactly
// what conntrackd's cache would hold: no timeout (conntrackd unsets it before printing), no use
// count and no counters (it drops those from kernel entries), no reply tuple for an entry that
// came over the wire. Like the library, nothing is escaped.

import type { Entry, Expect, Tuple } from './entry.js';
import { greKeyHex, l3protoName, l4Print, protoName, tcpStateName } from './names.js';
import { IPS } from '../netlink/constants.js';

/** `<layer4>`'s content: ports for the protocols that have them, GRE keys in hex, nothing else. */
function l4Xml(t: Tuple): string {
  switch (l4Print(t.proto)) {
    case 'ports':
      return '<sport>' + (t.sport ?? 0) + '</sport><dport>' + (t.dport ?? 0) + '</dport>';
    case 'gre-keys':
      return '<srckey>' + greKeyHex(t.sport) + '</srckey><dstkey>' + greKeyHex(t.dport) + '</dstkey>';
    default:
      return '';
  }
}

/** Addresses print for IPv4 and IPv6 only; the tags are there in any case. */
function addrXml(family: number, src: string | undefined, dst: string | undefined): string {
  const known = family === 2 || family === 10;
  return '<src>' + (known ? (src ?? '') : '') + '</src><dst>' + (known ? (dst ?? '') : '') + '</dst>';
}

/**
 * One direction. An object without that tuple (an external entry has no reply) still gets its
 * `<meta>`, with family and protocol 0: the library prints both directions unconditionally.
 */
function directionXml(direction: 'original' | 'reply', family: number, t: Tuple | undefined): string {
  const f = t === undefined ? 0 : family;
  const p = t === undefined ? 0 : t.proto;
  let s =
    '<meta direction="' +
    direction +
    '"><layer3 protonum="' +
    f +
    '" protoname="' +
    l3protoName(f) +
    '">' +
    addrXml(f, t?.src, t?.dst) +
    '</layer3><layer4 protonum="' +
    p +
    '" protoname="' +
    protoName(p) +
    '">' +
    (t === undefined ? '' : l4Xml(t)) +
    '</layer4>';
  if (t?.zone !== undefined) s += '<zone>' + t.zone + '</zone>';
  return s + '</meta>';
}

/**
 * The library's XML printer names SCTP and DCCP states from its TCP table (SCTP's ESTABLISHED,
 * state 4, prints as FIN_WAIT; the text printer has the right tables): conntrackd shows that.
 */
function stateXml(e: Entry): string {
  if (e.tcp?.state !== undefined) return '<state>' + tcpStateName(e.tcp.state) + '</state>';
  if (e.sctp?.state !== undefined) return '<state>' + tcpStateName(e.sctp.state) + '</state>';
  if (e.dccp?.state !== undefined) return '<state>' + tcpStateName(e.dccp.state) + '</state>';
  return '';
}

/** The direction-independent part; absent when the object has none of its fields. */
function independentXml(e: Entry): string {
  let s = stateXml(e);
  if (e.timeout !== undefined) s += '<timeout>' + e.timeout + '</timeout>';
  if (e.mark !== undefined) s += '<mark>' + e.mark + '</mark>';
  if (e.secmark !== undefined) s += '<secmark>' + e.secmark + '</secmark>';
  if (e.zone !== undefined) s += '<zone>' + e.zone + '</zone>';
  if (e.use !== undefined) s += '<use>' + e.use + '</use>';
  if (e.id !== undefined) s += '<id>' + e.id + '</id>';
  if (e.status !== undefined) {
    if (e.status & IPS.ASSURED) s += '<assured/>';
    if ((e.status & IPS.SEEN_REPLY) === 0) s += '<unreplied/>';
  }
  return s === '' ? '' : '<meta direction="independent">' + s + '</meta>';
}

/** One conntrack object as the library's XML printer writes it (no newline). */
export function formatEntryXml(e: Entry): string {
  return (
    '<flow>' +
    directionXml('original', e.family, e.orig) +
    directionXml('reply', e.family, e.reply) +
    independentXml(e) +
    (e.helper !== undefined ? '<helper>' + e.helper + '</helper>' : '') +
    '</flow>'
  );
}

/** What the kernel says of a flow that a cache holds only in part: its id and its two tuples. */
export interface KernelFlow {
  id?: number;
  orig: Tuple;
  reply?: Tuple;
}

/**
 * One line of `conntrackd -i -x` / `-e -x` for a cached entry: what conntrackd's cache holds of
 * it. For the internal cache, `kernel` is the kernel's own view of the flow: conntrackd caches the
 * kernel's whole message, with its id and every tuple field (GRE keys, UDP-Lite ports, tuple
 * zones), where the sync attributes carry only some. The external cache has no reply tuple.
 */
export function formatCacheEntryXml(e: Entry, external: boolean, kernel?: KernelFlow): string {
  return formatEntryXml({
    ...e,
    orig: kernel?.orig ?? e.orig,
    reply: external ? undefined : (kernel?.reply ?? e.reply),
    timeout: undefined,
    use: undefined,
    id: kernel?.id,
    countersOrig: undefined,
    countersReply: undefined,
    timestampStart: undefined,
    timestampStop: undefined,
  });
}

const EXPECT_FLAG_TAGS: readonly (readonly [number, string])[] = [
  [1, '<permanent/>'],
  [2, '<inactive/>'],
  [4, '<userspace/>'],
];

/** The three tuples of an expectation, one layer at a time. */
function expectLayersXml(x: Expect): string {
  const f = x.family;
  const p = x.tuple.proto;
  const l3 = (t: Tuple): string => addrXml(f, t.src, t.dst);
  const l4 = (t: Tuple): string => l4Xml({ ...t, proto: p });
  return (
    '<layer3 protonum="' +
    f +
    '" protoname="' +
    l3protoName(f) +
    '"><expected>' +
    l3(x.tuple) +
    '</expected><mask>' +
    l3(x.mask) +
    '</mask><master>' +
    l3(x.master) +
    '</master></layer3><layer4 protonum="' +
    p +
    '" protoname="' +
    protoName(p) +
    '"><expected>' +
    l4(x.tuple) +
    '</expected><mask>' +
    l4(x.mask) +
    '</mask><master>' +
    l4(x.master) +
    '</master></layer4>'
  );
}

/** One expectation as the library's XML printer writes it (no newline). */
export function formatExpectXml(x: Expect): string {
  let meta = '';
  if (x.timeout !== undefined) meta += '<timeout>' + x.timeout + '</timeout>';
  if (x.helper !== undefined) meta += '<helper-name>' + x.helper + '</helper-name>';
  if (x.zone !== undefined) meta += '<zone>' + x.zone + '</zone>';
  if (x.class !== undefined) meta += '<class>' + x.class + '</class>';
  const flags = x.flags ?? 0;
  for (const [bit, tag] of EXPECT_FLAG_TAGS) if (flags & bit) meta += tag;
  return '<flow>' + expectLayersXml(x) + '<meta>' + meta + '</meta></flow>';
}

/** One line of `conntrackd -i expect -x` / `-e expect -x`: the cached expectation without its timeout. */
export function formatCacheExpectXml(x: Expect): string {
  return formatExpectXml({ ...x, timeout: undefined, id: undefined });
}
