// The peer channel in production: sync/channel.ts (UDP unicast or multicast, batched I/O).
import { SyncChannel, type ChannelOptions, type ChannelStats } from '../../sync/channel.js';
import type { PeerChannel, PeerChannelHandlers } from '../ports/peer-channel.js';

export class UdpPeerChannel implements PeerChannel {
  private readonly channel: SyncChannel;

  /** Throws when the link cannot be used as configured (no such interface, no destination). */
  constructor(opts: ChannelOptions) {
    this.channel = new SyncChannel(opts);
  }

  get description(): string {
    return this.channel.description;
  }

  get maxDatagram(): number {
    return this.channel.maxDatagram;
  }

  get opts(): ChannelOptions {
    return this.channel.opts;
  }

  get stats(): ChannelStats {
    return this.channel.stats;
  }

  /** The port our datagrams leave from (after open()). */
  get localPort(): number {
    return this.channel.localPort;
  }

  /** The address our datagrams leave from, as the peer sees it (after open()). */
  get sourceAddress(): string {
    return this.channel.sourceAddress;
  }

  async open(h: PeerChannelHandlers): Promise<void> {
    await this.channel.open();
    this.channel.on('datagram', h.datagram);
    this.channel.on('error', h.error);
  }

  send(data: Uint8Array): void {
    this.channel.send(data);
  }

  flush(): void {
    this.channel.flush();
  }

  close(): void {
    this.channel.close();
  }
}
