// The peer channel over TCP in production: sync/tcp-channel.ts (conntrackd's two connections).
import { TcpSyncChannel, type TcpChannelOptions, type TcpChannelStats } from '../../sync/tcp-channel.js';
import type { PeerChannel, PeerChannelHandlers } from '../ports/peer-channel.js';

export class TcpPeerChannel implements PeerChannel {
  private readonly channel: TcpSyncChannel;

  /** Throws when the interface does not exist (its MTU sizes the buffers). */
  constructor(opts: TcpChannelOptions) {
    this.channel = new TcpSyncChannel(opts);
  }

  get description(): string {
    return this.channel.description;
  }

  get maxDatagram(): number {
    return this.channel.maxDatagram;
  }

  get opts(): TcpChannelOptions {
    return this.channel.opts;
  }

  get stats(): TcpChannelStats {
    return this.channel.stats;
  }

  async open(h: PeerChannelHandlers): Promise<void> {
    this.channel.on('datagram', h.datagram);
    this.channel.on('error', h.error);
    await this.channel.open();
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
