// Sync transport over TCP, with conntrackd 1.4.7's roles: each node listens on its own address
// (the messages it receives come in on the connection it accepts) and connects to the peer's
// address (the messages it sends go out on that one): two connections, one per direction. The
// byte stream is cut into messages by stream-framer.ts. A lost connection is dialled again every
// second; what is sent meanwhile waits in a queue of ErrorQueueLength buffers (the oldest dropped
// when it is full, as conntrackd does), and goes out first once connected. Safer than conntrackd:
// a connection from anyone but the configured peer is closed unread.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { nativeAddon } from '../native.js';
import { interfaceMtu, needsScope, newChannelStats, type ChannelStats } from './channel.js';
import { StreamFramer, StreamFramingError } from './stream-framer.js';
import { TCP_RESERVE } from './wire.js';

const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
/** Between two connection attempts (conntrackd: at most one connect() a second). */
export const RECONNECT_DELAY_MS = 1000;
/**
 * A connection attempt not answered by then is given up and made again: a SYN lost while the
 * link was down is otherwise retried by the kernel after ever longer pauses.
 */
export const CONNECT_TIMEOUT_MS = 3000;
/** conntrackd's default ErrorQueueLength. */
export const DEFAULT_ERROR_QUEUE_LENGTH = 128;

export interface TcpChannelOptions {
  kind: 'tcp';
  /** The address to listen on (IPv4_address / IPv6_address), and to connect from. */
  localAddress: string;
  /** The peer's address (IPv4_Destination_Address / IPv6_Destination_Address). */
  destination: string;
  port: number;
  /** Its MTU sizes the buffers; its index scopes a link-local IPv6 address. */
  interface: string;
  sndSocketBuffer?: number;
  rcvSocketBuffer?: number;
  /** Buffers kept while the connection to the peer is down (ErrorQueueLength). */
  errorQueueLength?: number;
}

/** The channel's counters, with the state of both connections (`-s` prints them). */
export interface TcpChannelStats extends ChannelStats {
  /** The connection we accepted from the peer is up (conntrackd's `server=connected`). */
  serverConnected: boolean;
  /** Our connection to the peer is up (`client=connected`). */
  clientConnected: boolean;
  /** Buffers dropped from the full queue while the connection to the peer was down. */
  errorQueueDropped: number;
  /** Connections to the peer established (the first one included). */
  connects: number;
}

export interface TcpChannelEvents {
  /** One or more whole messages, back to back; valid during the event only. */
  datagram: [data: Buffer, from: string, port: number];
  error: [err: Error];
}

const hostPort = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

/** The descriptor under a node:net socket or server (its handle's `fd`). */
function fdOf(s: net.Socket | net.Server): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** An IPv4-mapped IPv6 address as the IPv4 address it is (accept() on a dual-stack socket). */
const unmapped = (a: string | undefined): string =>
  a?.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : (a ?? '');

export class TcpSyncChannel extends EventEmitter<TcpChannelEvents> {
  readonly stats: TcpChannelStats = {
    ...newChannelStats(),
    serverConnected: false,
    clientConnected: false,
    errorQueueDropped: 0,
    connects: 0,
  };
  /** Largest buffer the sender packs: MTU minus what conntrackd reserves for IP and TCP headers. */
  readonly maxDatagram: number;
  private server?: net.Server;
  /** The connection accepted from the peer (we read it). */
  private inbound?: net.Socket;
  /** Our connection to the peer (we write it); set while connecting too. */
  private outbound?: net.Socket;
  private readonly framer = new StreamFramer();
  /** What send() was given while the connection to the peer was down, oldest first. */
  private readonly waiting: Buffer[] = [];
  private readonly queueLength: number;
  private redial?: NodeJS.Timeout;
  private closed = false;
  /** An outage is reported once, not once per failed attempt. */
  private outageReported = false;

  constructor(readonly opts: TcpChannelOptions) {
    super();
    this.maxDatagram = interfaceMtu(opts.interface) - TCP_RESERVE;
    this.queueLength = opts.errorQueueLength ?? DEFAULT_ERROR_QUEUE_LENGTH;
  }

  get description(): string {
    const o = this.opts;
    return `tcp ${hostPort(o.localAddress, o.port)} <-> ${hostPort(o.destination, o.port)} on ${o.interface}`;
  }

  /** Buffers waiting for the connection to the peer. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Listens; resolves once the port is bound (the connection to the peer is dialled meanwhile). */
  async open(): Promise<void> {
    const o = this.opts;
    const server = net.createServer((sock) => this.accepted(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(this.listenError(err)));
      server.listen({ host: this.scoped(o.localAddress), port: o.port, backlog: 1 }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.emit('error', err));
        resolve();
      });
    });
    if (o.rcvSocketBuffer) nativeAddon().setsockoptInt(fdOf(server), SOL_SOCKET, SO_RCVBUFFORCE, o.rcvSocketBuffer);
    this.dial();
  }

  /** `address` with the zone of Interface when it is link-local IPv6 (the kernel needs a scope). */
  private scoped(address: string): string {
    return needsScope(address) ? `${address}%${this.opts.interface}` : address;
  }

  private listenError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    const setting = this.opts.localAddress.includes(':') ? 'IPv6_address' : 'IPv4_address';
    const check = code === 'EADDRINUSE' ? 'Port' : code === 'EADDRNOTAVAIL' ? setting : `${setting} and Port`;
    return new Error(
      `sync channel: cannot listen on ${hostPort(this.opts.localAddress, this.opts.port)} (${code}; check ${check} in Sync > TCP)`,
    );
  }

  /** The peer connects to us: its connection replaces an earlier one (it restarted); anyone else is refused. */
  private accepted(sock: net.Socket): void {
    if (this.closed || unmapped(sock.remoteAddress) !== unmapped(this.opts.destination)) {
      this.stats.foreign++;
      sock.destroy();
      return;
    }
    this.inbound?.destroy();
    this.framer.reset();
    this.inbound = sock;
    this.stats.serverConnected = true;
    sock.setKeepAlive(true);
    sock.setNoDelay(true);
    const from = unmapped(sock.remoteAddress);
    const port = sock.remotePort ?? 0;
    sock.on('data', (chunk: Buffer) => this.received(sock, chunk, from, port));
    sock.on('error', () => this.stats.receiveErrors++);
    sock.on('close', () => {
      if (this.inbound !== sock) return;
      this.inbound = undefined;
      this.stats.serverConnected = false;
      this.framer.reset();
    });
  }

  private received(sock: net.Socket, chunk: Buffer, from: string, port: number): void {
    if (this.inbound !== sock) return;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += chunk.length;
    try {
      this.framer.push(chunk, (messages) =>
        this.emit('datagram', Buffer.from(messages.buffer, messages.byteOffset, messages.length), from, port),
      );
    } catch (err) {
      if (!(err instanceof StreamFramingError)) throw err;
      // the boundaries are lost: reset, and the peer dials again (FT-FW recovers what was lost)
      this.stats.receiveErrors++;
      this.inbound = undefined;
      this.stats.serverConnected = false;
      sock.resetAndDestroy();
      this.emit('error', err as Error);
    }
  }

  /** Connects to the peer; on failure or loss, again after RECONNECT_DELAY_MS. */
  private dial(): void {
    if (this.closed || this.outbound) return;
    const o = this.opts;
    const sock = net.connect({
      host: this.scoped(o.destination),
      port: o.port,
      localAddress: o.localAddress,
      noDelay: true,
      keepAlive: true,
    });
    this.outbound = sock;
    const giveUp = setTimeout(() => sock.destroy(), CONNECT_TIMEOUT_MS);
    sock.on('connect', () => {
      clearTimeout(giveUp);
      this.stats.clientConnected = true;
      this.stats.connects++;
      this.outageReported = false;
      if (o.sndSocketBuffer) nativeAddon().setsockoptInt(fdOf(sock), SOL_SOCKET, SO_SNDBUFFORCE, o.sndSocketBuffer);
      // what waited goes first, in order
      for (const b of this.waiting.splice(0)) this.write(sock, b);
    });
    sock.on('error', (err) => {
      this.stats.sendErrors++;
      if (this.outageReported || this.closed) return;
      this.outageReported = true;
      this.emit('error', new Error(`connection to ${hostPort(o.destination, o.port)}: ${err.message}`, { cause: err }));
    });
    sock.on('close', () => {
      clearTimeout(giveUp);
      if (this.outbound !== sock) return;
      this.outbound = undefined;
      this.stats.clientConnected = false;
      if (!this.closed) this.redial = setTimeout(() => this.dial(), RECONNECT_DELAY_MS);
    });
  }

  private write(sock: net.Socket, data: Buffer): void {
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    sock.write(data);
  }

  /** Sends one buffer of whole messages (copied: the caller may reuse it at once). */
  send(data: Uint8Array): void {
    const copy = Buffer.from(data);
    const sock = this.outbound;
    if (sock && this.stats.clientConnected && !sock.destroyed) {
      this.write(sock, copy);
      return;
    }
    this.waiting.push(copy);
    if (this.waiting.length > this.queueLength) {
      this.waiting.shift();
      this.stats.errorQueueDropped++;
    }
  }

  /** Writes go to the kernel as send() is called; nothing is held here. */
  flush(): void {}

  close(): void {
    this.closed = true;
    clearTimeout(this.redial);
    // what is written still goes out; the process does not wait for it
    this.outbound?.end();
    this.outbound?.unref();
    this.inbound?.destroy();
    this.server?.close();
    this.outbound = this.inbound = this.server = undefined;
    this.stats.clientConnected = this.stats.serverConnected = false;
  }
}
