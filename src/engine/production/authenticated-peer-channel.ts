// The peer channel with authentication (docs/ftfw-protocol.md §13): signs what it sends and checks
// what it receives, around the UDP channel. What passes reaches the engine without its trailer;
// what fails is counted by reason (the stats' "auth" rows) and logged, rate-limited by the logger.
import { randomInt } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { AuthConfig } from '../../config/auth-section.js';
import { senderPseudoHeader } from '../../sync/auth-trailer.js';
import { DatagramSigner, startEpoch } from '../../sync/auth-signer.js';
import { DatagramVerifier, type AuthCounters } from '../../sync/auth-verifier.js';
import type { ChannelStats } from '../../sync/channel.js';
import type { PeerChannel, PeerChannelHandlers } from '../ports/peer-channel.js';
import type { UdpPeerChannel } from './udp-peer-channel.js';

export class AuthenticatedPeerChannel implements PeerChannel {
  private readonly verifier: DatagramVerifier;
  private signer?: DatagramSigner;

  constructor(
    private readonly inner: UdpPeerChannel,
    private readonly auth: AuthConfig,
    private readonly keys: ReadonlyMap<number, Buffer>,
    private readonly log: Pick<Logger, 'warn'>,
    /** Wall-clock ms, for this start's epoch. */
    private readonly now: () => number = Date.now,
  ) {
    this.verifier = new DatagramVerifier(auth.mode, keys);
  }

  get description(): string {
    return `${this.inner.description}, authenticated (${this.auth.mode}, key ${this.auth.activeKey})`;
  }

  /** Room for the trailer is kept in every datagram. */
  get maxDatagram(): number {
    return this.inner.maxDatagram - DatagramSigner.overhead;
  }

  get opts(): PeerChannel['opts'] {
    return this.inner.opts;
  }

  get stats(): ChannelStats {
    return this.inner.stats;
  }

  get authCounters(): AuthCounters {
    return this.verifier.counters;
  }

  async open(h: PeerChannelHandlers): Promise<void> {
    await this.inner.open({
      datagram: (data, from, port) => this.receive(data, from ?? '', port ?? 0, h),
      error: h.error,
    });
    const sender = senderPseudoHeader(sourceAddressOf(this.inner), this.inner.localPort);
    const epoch = startEpoch(this.now(), randomInt(0x10000));
    this.signer = new DatagramSigner(this.auth.activeKey, this.keys.get(this.auth.activeKey)!, epoch, sender);
  }

  private receive(data: Buffer, from: string, port: number, h: PeerChannelHandlers): void {
    const v = this.verifier.verify(data, from, port);
    if (!v.pass) {
      this.log.warn(`sync authentication: dropped a datagram from ${from}:${port}: ${v.reason} (${v.why})`);
      return;
    }
    if (v.reason !== undefined)
      this.log.warn(
        `sync authentication (${this.auth.mode}): accepted a datagram from ${from}:${port} that fails: ${v.reason} (${v.why})`,
      );
    h.datagram(v.length === data.length ? data : data.subarray(0, v.length), from, port);
  }

  send(data: Uint8Array): void {
    if (!this.signer) throw new Error('sync channel is not open');
    this.inner.send(this.signer.sign(data));
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }
}

/**
 * The address the MAC's sender pseudo-header names (docs/ftfw-protocol.md §13.1): the source
 * address the peer's receive socket reports, which is the send socket's address after connect(),
 * not the configured local address (the wildcard 0.0.0.0 when IPv4_interface or IPv4_address is
 * not given). A send socket still on the wildcard (Interface had no address) cannot be signed
 * for: the start fails, naming the setting that fixes it.
 */
export function sourceAddressOf(channel: Pick<UdpPeerChannel, 'sourceAddress' | 'opts'>): string {
  const address = channel.sourceAddress;
  if (address !== '0.0.0.0' && address !== '::') return address;
  const setting =
    channel.opts.kind === 'multicast' ? 'IPv4_interface in Sync > Multicast' : 'IPv4_address in Sync > UDP';
  throw new Error(
    `sync authentication: the address our datagrams leave from on ${channel.opts.interface} is not known (the interface had no address when the channel opened); give ${setting}`,
  );
}
