// The entries a commit worker warms up on (see warmUp in commit-worker.ts). The optimizing
// compiler only knows the branches it has run: an attribute the warm-up never showed it (NAT,
// a helper, a zero SYNPROXY as every entry created over ctnetlink carries) deoptimizes the
// encoder at its first appearance, in the middle of the one commit a failover makes (seen:
// 10-20 ms of a 100k commit with the kernel idle). So the samples hold every wire attribute,
// in about the proportions a gateway's table has them: mostly plain TCP, UDP and ICMP.
import type { Entry } from '../conntrack/entry.js';
import { IPPROTO, IPS } from '../netlink/constants.js';

/** A sample and whether it is encoded as with TCPWindowTracking (window scale attributes). */
export interface WarmUpSample {
  entry: Entry;
  windowTracking: boolean;
}

const TCP = IPPROTO.TCP;
const UDP = IPPROTO.UDP;
const ICMP = IPPROTO.ICMP;
const ICMPV6 = IPPROTO.ICMPV6;
const SCTP = IPPROTO.SCTP;
const DCCP = IPPROTO.DCCP;
/** An established flow. */
const ASSURED = IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED;
const SNAT = IPS.SRC_NAT | IPS.SRC_NAT_DONE;
const DNAT = IPS.DST_NAT | IPS.DST_NAT_DONE;

/** The common flows: TCP twice as often as UDP and ICMP, one in four IPv6. */
function plain(i: number): Entry {
  const v6 = (i >> 2) % 4 === 3;
  const proto = [TCP, TCP, UDP, v6 ? ICMPV6 : ICMP][i % 4];
  const src = v6 ? `2001:db8::${i + 1}` : `192.0.2.${i + 1}`;
  const dst = v6 ? '2001:db8:1::1' : '198.51.100.1';
  const orig =
    proto === ICMP || proto === ICMPV6
      ? { src, dst, proto, icmpType: proto === ICMP ? 8 : 128, icmpCode: 0, icmpId: i }
      : { src, dst, proto, sport: 1024 + i, dport: 80 };
  return {
    family: v6 ? 10 : 2,
    orig,
    status: i % 2 ? 14 : 8,
    timeout: 300,
    // the kernel reports a mark always (mostly 0); synced entries may lack one
    mark: i % 3 === 0 ? undefined : i % 3 === 1 ? 0 : i,
    tcp: proto === TCP ? { state: 3, wscaleOrig: 7, wscaleReply: 7, flagsOrig: 0x23, flagsReply: 0x23 } : undefined,
    // entries created over ctnetlink carry an all-zero SYNPROXY extension
    synproxy: i % 5 === 0 ? { isn: 0, its: 0, tsoff: 0 } : undefined,
  };
}

/** One of each less common kind: NAT, helpers and RELATED flows, labels, zones, other protocols. */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
function rare(): Entry[] {
  const t = (src: string, dst: string, proto: number, sport: number, dport: number) => ({
    src,
    dst,
    proto,
    sport,
    dport,
  });
  return [
    // SNAT with a port change, DNAT with a port change (IPv4), and both without (IPv6)
    {
      family: 2,
      orig: t('192.0.2.200', '198.51.100.9', TCP, 40000, 443),
      reply: t('198.51.100.9', '203.0.113.1', TCP, 443, 61000),
      status: ASSURED | SNAT,
      timeout: 3600,
      mark: 0,
      tcp: { state: 3 },
    },
    {
      family: 2,
      orig: t('198.51.100.7', '203.0.113.5', TCP, 5555, 80),
      reply: t('192.0.2.20', '198.51.100.7', TCP, 8080, 5555),
      status: ASSURED | DNAT,
      timeout: 3600,
      mark: 0,
      tcp: { state: 3 },
    },
    {
      family: 10,
      orig: t('2001:db8::200', '2001:db8:1::9', UDP, 5353, 53),
      reply: t('2001:db8:1::9', '2001:db8:2::1', UDP, 53, 5353),
      status: ASSURED | SNAT,
      timeout: 30,
      mark: 0,
    },
    {
      family: 10,
      orig: t('2001:db8:3::7', '2001:db8:2::5', UDP, 4000, 500),
      reply: t('2001:db8::20', '2001:db8:3::7', UDP, 500, 4000),
      status: ASSURED | DNAT,
      timeout: 30,
      mark: 0,
    },
    // a helper, and a RELATED flow with its master tuple
    {
      family: 2,
      orig: t('192.0.2.201', '198.51.100.2', TCP, 40001, 21),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      helper: 'ftp',
      tcp: { state: 3 },
    },
    {
      family: 2,
      orig: t('198.51.100.2', '192.0.2.201', TCP, 20, 40100),
      master: t('192.0.2.201', '198.51.100.2', TCP, 40001, 21),
      status: ASSURED,
      timeout: 300,
      mark: 0,
      tcp: { state: 3 },
    },
    {
      family: 10,
      orig: t('2001:db8:1::2', '2001:db8::201', TCP, 20, 40101),
      master: t('2001:db8::201', '2001:db8:1::2', TCP, 40002, 21),
      status: ASSURED,
      timeout: 300,
      mark: 0,
      tcp: { state: 3 },
    },
    // labels, a zone, sequence adjustment, a non-zero SYNPROXY, TCP without a state
    {
      family: 2,
      orig: t('192.0.2.202', '198.51.100.3', TCP, 40003, 80),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      labels: '01000000000000000000000000000080',
      tcp: { state: 3 },
    },
    {
      family: 2,
      orig: t('192.0.2.203', '198.51.100.3', UDP, 40004, 53),
      status: ASSURED,
      timeout: 30,
      mark: 0,
      zone: 5,
    },
    {
      family: 2,
      orig: t('192.0.2.204', '198.51.100.4', TCP, 40005, 21),
      reply: t('198.51.100.4', '203.0.113.2', TCP, 21, 40005),
      status: ASSURED | SNAT | IPS.SEQ_ADJUST,
      timeout: 3600,
      mark: 0,
      helper: 'ftp',
      tcp: { state: 3 },
      seqAdjOrig: { correctionPos: 1000, offsetBefore: 0, offsetAfter: 2 },
      seqAdjReply: { correctionPos: 2000, offsetBefore: 0, offsetAfter: -2 >>> 0 },
    },
    {
      family: 2,
      orig: t('192.0.2.205', '198.51.100.5', TCP, 40006, 443),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      tcp: { state: 3 },
      synproxy: { isn: 1000, its: 2000, tsoff: 3 },
    },
    { family: 2, orig: t('192.0.2.206', '198.51.100.6', TCP, 40007, 80), status: 8, timeout: 120, mark: 0 },
    // SCTP and DCCP with their states
    {
      family: 2,
      orig: t('192.0.2.207', '198.51.100.7', SCTP, 40008, 2905),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      sctp: { state: 3, vtagOrig: 0x1234, vtagReply: 0x5678 },
    },
    {
      family: 10,
      orig: t('2001:db8::208', '2001:db8:1::8', SCTP, 40009, 2905),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      sctp: { state: 3 },
    },
    {
      family: 2,
      orig: t('192.0.2.209', '198.51.100.9', DCCP, 40010, 5004),
      status: ASSURED,
      timeout: 3600,
      mark: 0,
      dccp: { state: 4, role: 0 },
    },
  ];
}

/**
 * The warm-up's entries: the common mix (both TCP window tracking settings) with one of each rare
 * kind every eight entries.
 */
export function warmUpSamples(): WarmUpSample[] {
  const out: WarmUpSample[] = [];
  const kinds = rare();
  for (let i = 0; i < 64; i++) {
    out.push({ entry: plain(i), windowTracking: i % 8 < 4 });
    if (i % 4 === 3) out.push({ entry: kinds[(i >> 2) % kinds.length], windowTracking: i % 8 < 4 });
  }
  return out;
}
