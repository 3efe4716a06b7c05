// The lab's network: five namespaces made with the namespace helper (tools/lib/netns.ts, which also
// guarantees they are deleted on exit, Ctrl-C and failure).
//
//                      client 192.0.2.10  (default via VIP 192.0.2.1)
//                            │
//              ┌── switch: bridge "brc" (client LAN 192.0.2.0/24) ──┐
//         lan0 │ 192.0.2.2                              192.0.2.3   │ lan0
//             gwA ──sync0── 203.0.113.0/24 (sync link) ──sync0── gwB
//         wan0 │ 198.51.100.2     .1                .2  198.51.100.3│ wan0
//              └── switch: bridge "brs" (server LAN 198.51.100.0/24)┘
//                            │
//                      server 198.51.100.10 (default via VIP 198.51.100.1)
//
// Both VIPs are held by keepalived on the active gateway. The gateways forward between the LANs
// through a strict stateful nftables firewall with nf_conntrack_tcp_loose=0, so a gateway that does
// not know a connection drops its packets (ct state invalid) instead of picking it up mid-stream.
// Only documentation addresses are used; nothing leaves the namespaces.
import { execa } from 'execa';
import { Netns } from '../lib/netns.js';

export const ADDR = {
  client: '192.0.2.10',
  server: '198.51.100.10',
  vipClient: '192.0.2.1',
  vipServer: '198.51.100.1',
  clientNet: '192.0.2.0/24',
  serverNet: '198.51.100.0/24',
  tcpPort: 7000,
  udpPort: 7001,
  syncPort: 3780,
  /** ctsync's Prometheus endpoint on the sync address (LabOptions.metrics). */
  metricsPort: 9469,
} as const;

export type GwName = 'gwA' | 'gwB';

export interface Gateway {
  name: GwName;
  ns: Netns;
  lanAddr: string;
  wanAddr: string;
  syncAddr: string;
  peerSyncAddr: string;
  priority: number;
  /** Interface names inside the gateway's namespace. */
  lanIf: 'lan0';
  wanIf: 'wan0';
  syncIf: 'sync0';
}

export interface Topology {
  sw: Netns;
  client: Netns;
  server: Netns;
  gwA: Gateway;
  gwB: Gateway;
  all: Netns[];
}

async function host(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`${r.command} failed: ${r.stderr.trim()}`);
}

async function inNs(ns: Netns, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await ns.exec(cmd, args, input === undefined ? {} : { input });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${ns.name} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A veth from `ifName` in `ns` to port `port` of bridge `bridge` in the switch namespace. */
async function plug(sw: Netns, bridge: string, port: string, ns: Netns, ifName: string, addr?: string): Promise<void> {
  await host('ip', ['link', 'add', ifName, 'netns', ns.name, 'type', 'veth', 'peer', 'name', port, 'netns', sw.name]);
  await inNs(sw, 'ip', ['link', 'set', port, 'master', bridge, 'up']);
  if (addr) await inNs(ns, 'ip', ['addr', 'add', addr, 'dev', ifName]);
  await inNs(ns, 'ip', ['link', 'set', ifName, 'up']);
}

/** The gateways' nftables ruleset. Named counters show what the firewall dropped and why. */
export function firewall(gw: Gateway): string {
  const { clientNet, serverNet, udpPort, syncPort, metricsPort } = ADDR;
  return `# ctsync failover lab: strict stateful firewall of ${gw.name}
table inet ctsync_lab {
  counter fwd_invalid { comment "forwarded packets of connections this gateway does not know" }
  counter fwd_new_tcp { comment "new TCP connections (SYN) accepted" }
  counter fwd_refused { comment "everything else the forward policy dropped" }

  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state invalid drop
    ct state established,related accept
    iifname { "${gw.lanIf}", "${gw.wanIf}" } ip protocol 112 accept comment "VRRP (keepalived)"
    iifname "${gw.syncIf}" ip saddr ${gw.peerSyncAddr} udp dport ${syncPort} accept comment "conntrack sync"
    iifname "${gw.syncIf}" ip saddr ${gw.peerSyncAddr} tcp dport ${metricsPort} accept comment "ctsync metrics (a Prometheus on the peer)"
    icmp type echo-request accept
  }

  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid counter name "fwd_invalid" drop
    ct state established,related accept
    iifname "${gw.lanIf}" oifname "${gw.wanIf}" ip saddr ${clientNet} ip daddr ${serverNet} tcp flags & (fin|syn|rst|ack) == syn ct state new counter name "fwd_new_tcp" accept
    iifname "${gw.lanIf}" oifname "${gw.wanIf}" ip saddr ${clientNet} ip daddr ${serverNet} udp dport ${udpPort} ct state new accept
    iifname "${gw.lanIf}" oifname "${gw.wanIf}" ip saddr ${clientNet} ip daddr ${serverNet} icmp type echo-request ct state new accept
    counter name "fwd_refused" comment "policy drop (e.g. a new TCP flow that is not a SYN, or from the server side)"
  }
}
`;
}

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export async function buildTopology(prefix: string): Promise<Topology> {
  const made: Netns[] = [];
  const make = async (role: string): Promise<Netns> => {
    const ns = await Netns.create(`${prefix}-${role}`);
    made.push(ns);
    return ns;
  };
  try {
    const sw = await make('switch');
    const client = await make('client');
    const server = await make('server');
    const gw = async (
      name: GwName,
      n: 2 | 3,
      syncAddr: string,
      peerSyncAddr: string,
      priority: number,
    ): Promise<Gateway> => ({
      name,
      ns: await make(name),
      lanAddr: `192.0.2.${n}`,
      wanAddr: `198.51.100.${n}`,
      syncAddr,
      peerSyncAddr,
      priority,
      lanIf: 'lan0',
      wanIf: 'wan0',
      syncIf: 'sync0',
    });
    const gwA = await gw('gwA', 2, '203.0.113.1', '203.0.113.2', 150);
    const gwB = await gw('gwB', 3, '203.0.113.2', '203.0.113.1', 100);

    // the switch: one bridge per LAN, no STP, no multicast snooping (VRRP adverts are multicast)
    for (const br of ['brc', 'brs']) {
      await inNs(sw, 'ip', ['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
      await inNs(sw, 'ip', ['link', 'set', br, 'up']);
    }
    await plug(sw, 'brc', 'c-client', client, 'eth0', `${ADDR.client}/24`);
    await plug(sw, 'brs', 's-server', server, 'eth0', `${ADDR.server}/24`);
    for (const g of [gwA, gwB]) {
      await plug(sw, 'brc', `c-${g.name}`, g.ns, g.lanIf, `${g.lanAddr}/24`);
      await plug(sw, 'brs', `s-${g.name}`, g.ns, g.wanIf, `${g.wanAddr}/24`);
    }
    // the dedicated sync link
    await host('ip', [
      'link',
      'add',
      'sync0',
      'netns',
      gwA.ns.name,
      'type',
      'veth',
      'peer',
      'name',
      'sync0',
      'netns',
      gwB.ns.name,
    ]);
    for (const g of [gwA, gwB]) {
      await inNs(g.ns, 'ip', ['addr', 'add', `${g.syncAddr}/24`, 'dev', g.syncIf]);
      await inNs(g.ns, 'ip', ['link', 'set', g.syncIf, 'up']);
    }
    await inNs(client, 'ip', ['route', 'add', 'default', 'via', ADDR.vipClient]);
    await inNs(server, 'ip', ['route', 'add', 'default', 'via', ADDR.vipServer]);

    for (const g of [gwA, gwB]) {
      // the ruleset uses conntrack, so the kernel tracks this namespace's traffic from now on
      await inNs(g.ns, 'nft', ['-f', '-'], firewall(g));
      await inNs(g.ns, 'sysctl', [
        '-qw',
        'net.ipv4.ip_forward=1',
        'net.netfilter.nf_conntrack_tcp_loose=0',
        'net.netfilter.nf_conntrack_tcp_be_liberal=0',
      ]);
    }
    return { sw, client, server, gwA, gwB, all: made };
  } catch (err) {
    await Promise.all(made.map((ns) => ns.destroy()));
    throw err;
  }
}

export async function destroyTopology(t: Topology): Promise<void> {
  await Promise.all(t.all.map((ns) => ns.destroy()));
}

/** The firewall's named counters (packets) in a gateway. */
export async function firewallCounters(gw: Gateway): Promise<Record<string, number>> {
  const r = await gw.ns.exec('nft', ['-j', 'list', 'counters', 'table', 'inet', 'ctsync_lab']);
  const out: Record<string, number> = {};
  if (r.exitCode !== 0) return out;
  try {
    const doc = JSON.parse(r.stdout) as { nftables: Array<{ counter?: { name: string; packets: number } }> };
    for (const item of doc.nftables) if (item.counter) out[item.counter.name] = item.counter.packets;
  } catch {
    // no counters then
  }
  return out;
}

/** Takes all of a gateway's links down (the LANs and the sync link), or brings them up (sync first). */
export async function setLinks(gw: Gateway, up: boolean): Promise<void> {
  const order = up ? [gw.syncIf, gw.lanIf, gw.wanIf] : [gw.lanIf, gw.wanIf, gw.syncIf];
  for (const ifName of order) await inNs(gw.ns, 'ip', ['link', 'set', ifName, up ? 'up' : 'down']);
}
