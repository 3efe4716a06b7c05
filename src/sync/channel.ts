// Sync transport: UDP unicast or multicast datagrams to/from the peer (I/O only; what is inside a
// datagram is wire.ts's business). Safer than conntrackd 1.4.7: the receive socket is bound to
// the configured address and interface, and datagrams from anyone but the configured peer are
// counted and dropped.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { nativeAddon } from '../native.js';

const SOL_SOCKET = 1;
const SO_NO_CHECK = 11;
const SO_BINDTODEVICE = 25;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const DEFAULT_RCVBUF = 8 * 1024 * 1024;

export interface ChannelOptions {
  kind: 'udp' | 'multicast';
  /** Local address to bind (udp) or the interface address to join on (multicast, IPv4). */
  localAddress: string;
  /** udp: the peer's address. */
  destination?: string;
  /** multicast: the group address. */
  group?: string;
  port: number;
  /** Network interface: bound with SO_BINDTODEVICE, its MTU sizes datagrams. */
  interface: string;
  sndSocketBuffer?: number;
  /** Receive buffer (SO_RCVBUFFORCE); default 8 MiB. */
  rcvSocketBuffer?: number;
  /** false = UDP checksum 0 (SO_NO_CHECK), like conntrackd's `Checksum off`. */
  checksum?: boolean;
}

export interface ChannelStats {
  bytesSent: number;
  packetsSent: number;
  bytesReceived: number;
  packetsReceived: number;
  sendErrors: number;
  receiveErrors: number;
  /** Datagrams from an address that is not our peer: dropped unread. */
  foreign: number;
}

export interface ChannelEvents {
  datagram: [data: Buffer, from: string];
  error: [err: Error];
}

/** The link's MTU from sysfs (conntrackd asks SIOCGIFMTU): datagrams are sized from it. */
export function interfaceMtu(name: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
  } catch {
    throw new Error(`interface '${name}' does not exist (needed for its MTU)`);
  }
}

export class SyncChannel extends EventEmitter<ChannelEvents> {
  readonly stats: ChannelStats = { bytesSent: 0, packetsSent: 0, bytesReceived: 0, packetsReceived: 0, sendErrors: 0, receiveErrors: 0, foreign: 0 };
  /** Largest datagram payload: MTU minus IP and UDP headers, as conntrackd reserves. */
  readonly maxDatagram: number;
  private readonly v6: boolean;
  private rx?: dgram.Socket;
  private tx?: dgram.Socket;
  private readonly target: string;

  constructor(readonly opts: ChannelOptions) {
    super();
    this.v6 = (opts.kind === 'udp' ? opts.destination ?? opts.localAddress : opts.group ?? '').includes(':');
    this.maxDatagram = interfaceMtu(opts.interface) - (this.v6 ? 48 : 28);
    const target = opts.kind === 'udp' ? opts.destination : opts.group;
    if (!target) throw new Error(`${opts.kind} channel on ${opts.interface}: no ${opts.kind === 'udp' ? 'destination address' : 'group'} configured`);
    this.target = target;
  }

  get description(): string {
    return `${this.opts.kind} ${this.opts.localAddress} -> ${this.target}:${this.opts.port} on ${this.opts.interface}`;
  }

  async open(): Promise<void> {
    const type = this.v6 ? 'udp6' : 'udp4';
    const o = this.opts;
    const rx = dgram.createSocket({ type, reuseAddr: true });
    const tx = dgram.createSocket({ type });
    this.rx = rx;
    this.tx = tx;
    rx.on('error', (err) => {
      this.stats.receiveErrors++;
      this.emit('error', err);
    });
    tx.on('error', (err) => {
      this.stats.sendErrors++;
      this.emit('error', err);
    });
    rx.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    const bindAddress = o.kind === 'udp' ? o.localAddress : o.group!;
    await new Promise<void>((resolve, reject) => {
      rx.once('error', reject);
      rx.bind(o.port, bindAddress, () => {
        rx.off('error', reject);
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      tx.once('error', reject);
      tx.bind(0, o.kind === 'udp' ? o.localAddress : undefined, () => {
        tx.off('error', reject);
        resolve();
      });
    });
    const native = nativeAddon();
    const rxFd = fdOf(rx);
    const txFd = fdOf(tx);
    native.setsockoptString(rxFd, SOL_SOCKET, SO_BINDTODEVICE, o.interface);
    native.setsockoptString(txFd, SOL_SOCKET, SO_BINDTODEVICE, o.interface);
    // A burst from the peer (a bulk of 100k entries is ~7000 datagrams) must not overflow the
    // receive queue: unlike conntrackd we do not leave it at the small system default.
    native.setsockoptInt(rxFd, SOL_SOCKET, SO_RCVBUFFORCE, o.rcvSocketBuffer ?? DEFAULT_RCVBUF);
    if (o.sndSocketBuffer) native.setsockoptInt(txFd, SOL_SOCKET, SO_SNDBUFFORCE, o.sndSocketBuffer);
    if (o.checksum === false) native.setsockoptInt(txFd, SOL_SOCKET, SO_NO_CHECK, 1);
    // one destination: connect once, so each send skips the address lookup
    await new Promise<void>((resolve, reject) => {
      tx.once('error', reject);
      tx.connect(o.port, this.target, () => {
        tx.off('error', reject);
        resolve();
      });
    });
    if (o.kind === 'multicast') {
      rx.addMembership(o.group!, this.v6 ? undefined : o.localAddress);
      tx.setMulticastInterface(this.v6 ? `::%${o.interface}` : o.localAddress);
      tx.setMulticastLoopback(false);
      tx.setMulticastTTL(1);
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // unicast: only the configured peer; multicast: anyone on the group but ourselves
    const ok = this.opts.kind === 'udp' ? rinfo.address === this.target : rinfo.address !== this.opts.localAddress;
    if (!ok) {
      this.stats.foreign++;
      return;
    }
    this.stats.packetsReceived++;
    this.stats.bytesReceived += msg.length;
    this.emit('datagram', msg, rinfo.address);
  }

  /** Sends one datagram (already packed to at most maxDatagram bytes). */
  send(data: Uint8Array): void {
    if (!this.tx) throw new Error('sync channel is not open');
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    this.tx.send(data, (err) => {
      if (err) {
        this.stats.sendErrors++;
        this.stats.packetsSent--;
        this.stats.bytesSent -= data.length;
      }
    });
  }

  close(): void {
    this.rx?.close();
    this.tx?.close();
    this.rx = this.tx = undefined;
  }
}

/**
 * The fd of a bound dgram socket. Node keeps the handle in a symbol-keyed state object (the old
 * `_handle` accessor still works but prints a deprecation warning).
 */
function fdOf(sock: dgram.Socket): number {
  const state = Object.getOwnPropertySymbols(sock)
    .map((sym) => (sock as unknown as Record<symbol, { handle?: { fd?: number } }>)[sym])
    .find((v) => v && typeof v === 'object' && 'handle' in v);
  const fd = state?.handle?.fd;
  if (fd === undefined || fd < 0) throw new Error('cannot reach the UDP socket descriptor');
  return fd;
}
