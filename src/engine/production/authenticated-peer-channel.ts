// The peer channel with authentication (docs/ftfw-protocol.md §13): signs (with `Encrypt on`:
// seals) what it sends and checks what it receives, around the UDP channel. What passes reaches the engine without its trailer;
// what fails is counted by reason (the stats' "auth" rows) and logged, rate-limited by the logger.
// The daemon always builds it, so that a reload can turn authentication on, change it or turn it
// off (docs/ftfw-protocol.md §13.9); while it is off, datagrams pass through both ways untouched.
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
import type { AuthState } from '../../config/auth-reload-plan.js';

export class AuthenticatedPeerChannel implements PeerChannel {
  private verifier?: DatagramVerifier;
  /** Opens sealed datagrams (in every mode) and applies `Encrypt` to plain ones. */
  private gate?: DatagramGate;
  private signer?: DatagramSigner;
  /** With `Encrypt on`: seals instead of signing. */
  private sealer?: DatagramSealer;
  private isOpen = false;

  /** `auth` undefined: authentication off (the channel passes everything through, signs nothing). */
  constructor(
    private readonly inner: UdpPeerChannel,
    private auth: AuthConfig | undefined,
    private keys: ReadonlyMap<number, Buffer>,
    private readonly log: Pick<Logger, 'warn'>,
    /** Wall-clock ms, for this start's epoch. */
    private readonly now: () => number = Date.now,
  ) {
    if (auth) {
      this.verifier = new DatagramVerifier(auth.mode, keys);
      this.gate = new DatagramGate(this.verifier, keys, auth.encrypt);
    }
  }

  get description(): string {
    const a = this.auth;
    if (!a) return this.inner.description;
    return `${this.inner.description}, ${a.encrypt ? 'encrypted' : 'authenticated'} (${a.mode}, key ${a.activeKey})`;
  }

  /**
   * Room for the trailer (or the sealed header and tag, as many bytes) is kept in every datagram
   * while authentication is on.
   */
  get maxDatagram(): number {
    const overhead = Math.max(DatagramSigner.overhead, DatagramSealer.overhead);
    return this.auth ? this.inner.maxDatagram - overhead : this.inner.maxDatagram;
  }

  get opts(): PeerChannel['opts'] {
    return this.inner.opts;
  }

  get stats(): ChannelStats {
    return this.inner.stats;
  }

  get authCounters(): AuthCounters | undefined {
    return this.auth ? this.verifier?.counters : undefined;
  }

  /** The settings and keys in force (a reload compares the re-read ones with them). */
  get authentication(): AuthState {
    return { auth: this.auth, keys: this.keys };
  }

  /**
   * New settings and keys at once (a reload: config/auth-reload-plan.ts has checked them). The
   * signer keeps its epoch and counter, the verifier its replay state and counters; the first
   * time authentication is on, a signer starts with a new epoch.
   */
  reconfigure(auth: AuthConfig | undefined, keys: ReadonlyMap<number, Buffer>): void {
    if (auth) {
      // first: newSender throws when the source address is not known, and nothing has changed
      if (!this.signer && !this.sealer && this.isOpen) this.newSender(auth, keys);
      else (this.sealer ?? this.signer)?.setActiveKey(auth.activeKey, keys.get(auth.activeKey)!);
      if (this.verifier) this.verifier.reconfigure(auth.mode, keys);
      else this.verifier = new DatagramVerifier(auth.mode, keys);
      if (this.gate) this.gate.reconfigure(keys, auth.encrypt);
      else this.gate = new DatagramGate(this.verifier, keys, auth.encrypt);
    }
    this.auth = auth;
    this.keys = keys;
  }

  async open(h: PeerChannelHandlers): Promise<void> {
    await this.inner.open({
      datagram: (data, from, port) => this.receive(data, from ?? '', port ?? 0, h),
      error: h.error,
    });
    this.isOpen = true;
    if (this.auth) this.newSender(this.auth, this.keys);
  }

  /** A signer (or sealer) with this start's epoch, from the address and port the peer sees. */
  private newSender(auth: AuthConfig, keys: ReadonlyMap<number, Buffer>): void {
    const sender = senderPseudoHeader(sourceAddressOf(this.inner), this.inner.localPort);
    const epoch = startEpoch(this.now(), randomInt(0x10000));
    const key = keys.get(auth.activeKey)!;
    if (auth.encrypt) this.sealer = new DatagramSealer(auth.activeKey, key, epoch, sender);
    else this.signer = new DatagramSigner(auth.activeKey, key, epoch, sender);
  }

  private receive(data: Buffer, from: string, port: number, h: PeerChannelHandlers): void {
    const auth = this.auth;
    if (!auth) return h.datagram(data, from, port);
    const v = this.gate!.receive(data, from, port);
    if (!v.pass) {
      this.log.warn(`sync authentication: dropped a datagram from ${from}:${port}: ${v.reason} (${v.why})`);
      return;
    }
    if (v.reason !== undefined)
      this.log.warn(
        `sync authentication (${auth.mode}): accepted a datagram from ${from}:${port} that fails: ${v.reason} (${v.why})`,
      );
    h.datagram(v.data, from, port);
  }

  send(data: Uint8Array): void {
    if (!this.isOpen) throw new Error('sync channel is not open');
    if (!this.auth) this.inner.send(data);
    else if (this.sealer) this.inner.send(this.sealer.seal(data));
    else this.inner.send(this.signer!.sign(data));
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
