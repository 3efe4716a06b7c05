// The link to the peer as the engine sees it: datagrams out and in. Production:
// production/udp-peer-channel.ts (sync/channel.ts: UDP unicast or multicast) or
// production/tcp-peer-channel.ts (sync/tcp-channel.ts: a TCP stream); tests: a fake that
// captures what is sent and delivers what the test injects.
import type { ChannelStats } from '../../sync/channel.js';
import type { AuthCounters } from '../../sync/auth-verifier.js';

/** What the channel calls, as plain functions (no `this`). */
export interface PeerChannelHandlers {
  /** A datagram from the peer (`from`:`port`), on TCP a run of whole messages: `data` is valid during the call only. */
  datagram(data: Buffer, from?: string, port?: number): void;
  error(err: Error): void;
}

export interface PeerChannel {
  /** What the link is, for the log and status (e.g. `udp 192.0.2.1 -> 192.0.2.2:3780 on eth1`). */
  readonly description: string;
  /** The largest datagram payload the link carries. */
  readonly maxDatagram: number;
  /** Kind and interface, for the stats text. */
  readonly opts: { readonly kind: 'udp' | 'multicast' | 'tcp'; readonly interface: string };
  readonly stats: ChannelStats;
  /** Authentication's counters, when the link is authenticated (production/authenticated-peer-channel.ts). */
  readonly authCounters?: AuthCounters;
  /** Opens the link; rejects with the reason (address not here, port in use...). */
  open(handlers: PeerChannelHandlers): Promise<void>;
  /** Queues a datagram (copied); it goes out at flush() or on the next loop turn at the latest. */
  send(data: Uint8Array): void;
  flush(): void;
  close(): void;
}
