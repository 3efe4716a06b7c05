// The real ports of the sync engine, for the daemon: ctnetlink, the configured sync link, the
// commit worker pool and the system clock.
import type { CtsyncConfig, TcpChannel, UdpChannel } from '../../config/model.js';
import type { ChannelOptions } from '../../sync/channel.js';
import { CommitPool, type CommitPoolOptions } from '../commit-pool.js';
import { SchedPolicy } from '../../native.js';
import type { EnginePorts } from '../ports/index.js';
import type { PeerChannel } from '../ports/peer-channel.js';
import type { Logger } from '../../log.js';
import { loadAuthKeys } from '../../config/auth-section.js';
import { AuthenticatedPeerChannel } from './authenticated-peer-channel.js';
import { NetlinkKernel } from './netlink-kernel.js';
import { systemClock } from './system-clock.js';
import { UdpPeerChannel } from './udp-peer-channel.js';
import { TcpPeerChannel } from './tcp-peer-channel.js';
import type { TcpChannelOptions } from '../../sync/tcp-channel.js';

/** What a UDP and a TCP channel take alike from their block. */
function unicastOptions(ch: UdpChannel | TcpChannel) {
  return {
    // none given: the wildcard address of the destination's family, as conntrackd binds
    localAddress: ch.ipv4Address ?? ch.ipv6Address ?? (ch.destination.includes(':') ? '::' : '0.0.0.0'),
    destination: ch.destination,
    port: ch.port,
    interface: ch.interface,
    sndSocketBuffer: ch.sndSocketBuffer,
    rcvSocketBuffer: ch.rcvSocketBuffer,
  };
}

/** Channel options from the configured (first / default) link. */
export function channelOptions(cfg: CtsyncConfig): ChannelOptions | TcpChannelOptions {
  const ch = cfg.sync.channels.find((c) => c.default) ?? cfg.sync.channels[0];
  if (ch.kind === 'tcp') return { kind: 'tcp', ...unicastOptions(ch), errorQueueLength: ch.errorQueueLength };
  if (ch.kind === 'udp') return { kind: 'udp', ...unicastOptions(ch), checksum: ch.checksum };
  return {
    kind: 'multicast',
    localAddress: ch.ipv4Interface ?? '0.0.0.0',
    group: ch.group,
    port: ch.port,
    interface: ch.interface,
    sndSocketBuffer: ch.sndSocketBuffer,
    rcvSocketBuffer: ch.rcvSocketBuffer,
    checksum: ch.checksum,
  };
}

/**
 * Builds the production ports. Throws when the sync link cannot be used as configured (the
 * interface does not exist...); nothing is opened yet (SyncEngine.start() does that).
 */
/** The policy the daemon gives its main thread (`Scheduler`, daemon.ts's applyScheduler). */
function realTimeOf(config: CtsyncConfig): CommitPoolOptions['mainThreadRealTime'] {
  const s = config.general.scheduler;
  return s ? { policy: s.type === 'fifo' ? SchedPolicy.FIFO : SchedPolicy.RR, priority: s.priority } : undefined;
}

/**
 * The configured link: TCP as it is (config refuses Authentication with it); UDP and Multicast
 * inside the authenticated channel, built with authentication off too, so that a reload can turn
 * it on (docs/ftfw-protocol.md §13.9). Keys are read here.
 */
function peerChannel(config: CtsyncConfig, log: Pick<Logger, 'warn'>): PeerChannel {
  const opts = channelOptions(config);
  if (opts.kind === 'tcp') return new TcpPeerChannel(opts);
  const auth = config.sync.authentication;
  return new AuthenticatedPeerChannel(new UdpPeerChannel(opts), auth, auth ? loadAuthKeys(auth) : new Map(), log);
}

/** The production ports, and the channel's authentication, which a reload can change (none on TCP). */
export interface ProductionPorts extends EnginePorts {
  authentication?: AuthenticatedPeerChannel;
}

export function productionPorts(config: CtsyncConfig, log: Pick<Logger, 'warn'>): ProductionPorts {
  // the kernel port first, as before the ports: its socket exists before the channel is checked
  const kernel = new NetlinkKernel();
  try {
    const channel = peerChannel(config, log);
    return {
      kernel,
      channel,
      ...(channel instanceof AuthenticatedPeerChannel ? { authentication: channel } : {}),
      commitPool: new CommitPool({ mainThreadRealTime: realTimeOf(config) }),
      clock: systemClock,
    };
  } catch (err) {
    kernel.close();
    throw err;
  }
}
