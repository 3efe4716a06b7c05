// IP protocol names for `Filter { Protocol … }`.
//
// conntrackd resolves each name with getprotobyname(3), i.e. the system's /etc/protocols, exact
// and case-sensitive on the official name or an alias ('tcp' and 'TCP' work, 'Tcp' does not; there
// is no 'icmpv6', it is 'ipv6-icmp' / 'IPv6-ICMP'). A name it cannot find is only a warning there
// and the entry is dropped, which silently changes what the filter lets through; ctsync refuses it.
// The table is embedded (Debian netbase 6.4, IANA numbers, protocols > 255 left out because
// conntrack's L4 protocol is 8 bits) so that the result does not depend on the host.

const TABLE: ReadonlyArray<readonly [number, readonly string[]]> = [
  [0, ['ip', 'IP']],
  [0, ['hopopt', 'HOPOPT']],
  [1, ['icmp', 'ICMP']],
  [2, ['igmp', 'IGMP']],
  [3, ['ggp', 'GGP']],
  [4, ['ipencap', 'IP-ENCAP']],
  [5, ['st', 'ST']],
  [6, ['tcp', 'TCP']],
  [8, ['egp', 'EGP']],
  [9, ['igp', 'IGP']],
  [12, ['pup', 'PUP']],
  [17, ['udp', 'UDP']],
  [20, ['hmp', 'HMP']],
  [22, ['xns-idp', 'XNS-IDP']],
  [27, ['rdp', 'RDP']],
  [29, ['iso-tp4', 'ISO-TP4']],
  [33, ['dccp', 'DCCP']],
  [36, ['xtp', 'XTP']],
  [37, ['ddp', 'DDP']],
  [38, ['idpr-cmtp', 'IDPR-CMTP']],
  [41, ['ipv6', 'IPv6']],
  [43, ['ipv6-route', 'IPv6-Route']],
  [44, ['ipv6-frag', 'IPv6-Frag']],
  [45, ['idrp', 'IDRP']],
  [46, ['rsvp', 'RSVP']],
  [47, ['gre', 'GRE']],
  [50, ['esp', 'IPSEC-ESP']],
  [51, ['ah', 'IPSEC-AH']],
  [57, ['skip', 'SKIP']],
  [58, ['ipv6-icmp', 'IPv6-ICMP']],
  [59, ['ipv6-nonxt', 'IPv6-NoNxt']],
  [60, ['ipv6-opts', 'IPv6-Opts']],
  [73, ['rspf', 'RSPF', 'CPHB']],
  [81, ['vmtp', 'VMTP']],
  [88, ['eigrp', 'EIGRP']],
  [89, ['ospf', 'OSPFIGP']],
  [93, ['ax.25', 'AX.25']],
  [94, ['ipip', 'IPIP']],
  [97, ['etherip', 'ETHERIP']],
  [98, ['encap', 'ENCAP']],
  [103, ['pim', 'PIM']],
  [108, ['ipcomp', 'IPCOMP']],
  [112, ['vrrp', 'VRRP']],
  [115, ['l2tp', 'L2TP']],
  [124, ['isis', 'ISIS']],
  [132, ['sctp', 'SCTP']],
  [133, ['fc', 'FC']],
  [135, ['mobility-header', 'Mobility-Header']],
  [136, ['udplite', 'UDPLite']],
  [137, ['mpls-in-ip', 'MPLS-in-IP']],
  [138, ['manet']],
  [139, ['hip', 'HIP']],
  [140, ['shim6', 'Shim6']],
  [141, ['wesp', 'WESP']],
  [142, ['rohc', 'ROHC']],
  [143, ['ethernet', 'Ethernet']],
];

const BY_NAME = new Map<string, number>();
const BY_NUMBER = new Map<number, readonly string[]>();
for (const [num, names] of TABLE) {
  for (const n of names) if (!BY_NAME.has(n)) BY_NAME.set(n, num);
  if (!BY_NUMBER.has(num)) BY_NUMBER.set(num, names);
}

/** All names and aliases, for suggestions. */
export const PROTOCOL_NAMES: readonly string[] = [...BY_NAME.keys()];

/** Like getprotobyname(3) on netbase's /etc/protocols: exact, case-sensitive. */
export function protocolByName(name: string): number | undefined {
  return BY_NAME.get(name);
}

/** Case-insensitive lookup (for the JSON config, where nothing needs to match conntrackd's rules). */
export function protocolByNameLoose(name: string): number | undefined {
  const exact = BY_NAME.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [n, num] of BY_NAME) if (n.toLowerCase() === lower) return num;
  return undefined;
}

/** Official name first, then aliases; empty if /etc/protocols has no name for the number. */
export function protocolNames(num: number): readonly string[] {
  return BY_NUMBER.get(num) ?? [];
}
