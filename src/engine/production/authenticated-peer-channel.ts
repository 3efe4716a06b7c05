// The peer channel with authentication (docs/ftfw-protocol.md §13): signs what it sends and checks
// what it receives, around the UDP channel. What passes reaches the engine without its trailer;
// what fails is counted by reason (the stats' "auth" rows) and logged, rate-limited by the logger.
import { randomInt } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { AuthConfig } from '../../config/auth-section.js';
import { senderPseudoHeader } from '../../sync/auth-trailer.js';
import { DatagramSigner, startEpoch } from '../../sync/auth-signer.js';
import { DatagramVerifier, type AuthCounters } from '../../sync/auth-verifier.js';
import { DatagramGate, DatagramSealer } from '../../sync/auth-sealer.js';
import type { ChannelStats } from '../../sync/channel.js';
import type { PeerChannel, PeerChannelHandlers } from '../ports/peer-channel.js';
import type { UdpPeerChannel } from './udp-peer-channel.js';

export class AuthenticatedPeerChannel implements PeerChannel {
  private readonly verifier: DatagramVerifier;
  /** Opens sealed datagrams (in every mode) and applies `Encrypt` to plain ones. */
  private readonly gate: DatagramGate;
  private signer?: DatagramSigner;
  /** With `Encrypt on`: seals instead of signing. */
  private sealer?: DatagramSealer;

  constructor(
    private readonly inner: UdpPeerChannel,
    private readonly auth: AuthConfig,
    private readonly keys: ReadonlyMap<number, Buffer>,
    private readonly log: Pick<Logger, 'warn'>,
    /** Wall-clock ms, for this start's epoch. */
    private readonly now: () => number = Date.now,
  ) {
    this.verifier = new DatagramVerifier(auth.mode, keys);
    this.gate = new DatagramGate(this.verifier, keys, auth.encrypt);
  }

  get description(): string {
    const how = this.auth.encrypt ? 'encrypted' : 'authenticated';
    return `${this.inner.description}, ${how} (${this.auth.mode}, key ${this.auth.activeKey})`;
  }

  /** Room for the trailer (or the sealed header and tag, as many bytes) is kept in every datagram. */
  get maxDatagram(): number {
    return this.inner.maxDatagram - Math.max(DatagramSigner.overhead, DatagramSealer.overhead);
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
    const sender = senderPseudoHeader(this.inner.opts.localAddress, this.inner.localPort);
    const epoch = startEpoch(this.now(), randomInt(0x10000));
    const key = this.keys.get(this.auth.activeKey)!;
    if (this.auth.encrypt) this.sealer = new DatagramSealer(this.auth.activeKey, key, epoch, sender);
    else this.signer = new DatagramSigner(this.auth.activeKey, key, epoch, sender);
  }

  private receive(data: Buffer, from: string, port: number, h: PeerChannelHandlers): void {
    const v = this.gate.receive(data, from, port);
    if (!v.pass) {
      this.log.warn(`sync authentication: dropped a datagram from ${from}:${port}: ${v.reason} (${v.why})`);
      return;
    }
    if (v.reason !== undefined)
      this.log.warn(
        `sync authentication (${this.auth.mode}): accepted a datagram from ${from}:${port} that fails: ${v.reason} (${v.why})`,
      );
    h.datagram(v.data, from, port);
  }

  send(data: Uint8Array): void {
    if (this.sealer) this.inner.send(this.sealer.seal(data));
    else if (this.signer) this.inner.send(this.signer.sign(data));
    else throw new Error('sync channel is not open');
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }
}
