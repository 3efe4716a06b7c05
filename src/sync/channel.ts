// Sync transport: UDP unicast or multicast datagrams to/from the peer (I/O only; what is inside a
// datagram is wire.ts's business). Safer than conntrackd 1.4.7: the receive socket is bound to
// the configured address and interface, and datagrams from anyone but the configured peer are
// counted and dropped.
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { nativeAddon, type NativeAddon, type NativeSocket } from '../native.js';
import { errnoName } from '../netlink/socket.js';

const SOL_SOCKET = 1;
const SO_NO_CHECK = 11;
const SO_BINDTODEVICE = 25;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const DEFAULT_RCVBUF = 8 * 1024 * 1024;
const { EAGAIN, ENOBUFS } = os.constants.errno;
/** Datagrams per sendmmsg(2), and per recvmmsg(2). */
const TX_BATCH = 64;
const RX_BATCH = 64;
/** recvmmsg calls per readable event before the loop gets a turn (fairness). */
const RX_ROUNDS = 16;
/** A receive slot holds the largest UDP payload (a peer's datagram may be larger than our MTU). */
const RX_SLOT = 65536;
/** Staging buffer bound: TX_BATCH datagrams of the MTU, but not more than this (loopback's MTU is 64 KiB). */
const TX_STAGE_MAX = 1024 * 1024;

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
  /** Datagrams (TCP: connections) from an address that is not our peer: dropped unread. */
  foreign: number;
  /** TCP only: the connection the peer opened to us is up (conntrackd's `server=connected`). */
  serverConnected?: boolean;
  /** TCP only: our connection to the peer is up (`client=connected`). */
  clientConnected?: boolean;
}

/** Every counter at zero (the TCP connection flags are the TCP channel's to add). */
export function newChannelStats(): ChannelStats {
  return {
    bytesSent: 0,
    packetsSent: 0,
    bytesReceived: 0,
    packetsReceived: 0,
    sendErrors: 0,
    receiveErrors: 0,
    foreign: 0,
  };
}

export interface ChannelEvents {
  /** `data` is valid only during the event (a view of the receive buffer): copy what you keep. */
  datagram: [data: Buffer, from: string, port: number];
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

/** An IPv6 address that means something only on one link: link-local unicast, link- or interface-scoped multicast. */
export function needsScope(address: string): boolean {
  return /^fe[89ab][0-9a-f]?:/i.test(address) || /^ff[0-9a-f][12]:/i.test(address);
}

/** What a failed bind means, by errno name. */
const BIND_ERRORS: Record<string, string> = {
  EADDRNOTAVAIL: 'the address is not on this machine',
  EADDRINUSE: 'another program uses this address and port',
  EACCES: 'permission denied',
};

const codeOf = (err: Error): string => (err as NodeJS.ErrnoException).code ?? err.message;
const hostPort = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

/**
 * One set-up step of a socket (bind, connect): resolves when `start` calls back; the socket's
 * 'error' meanwhile rejects, as `explain` puts it.
 */
function setUp(sock: dgram.Socket, start: (done: () => void) => void, explain: (err: Error) => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => reject(explain(err));
    sock.once('error', fail);
    start(() => {
      sock.off('error', fail);
      resolve();
    });
  });
}

export class SyncChannel extends EventEmitter<ChannelEvents> {
  readonly stats: ChannelStats = newChannelStats();
  /** Largest datagram payload: MTU minus IP and UDP headers, as conntrackd reserves. */
  readonly maxDatagram: number;
  private readonly v6: boolean;
  private rx?: dgram.Socket;
  private tx?: dgram.Socket;
  /** open() is done: socket errors are 'error' events from now on. */
  private opened = false;
  private readonly target: string;
  // Transmit batching: datagrams queued by send() are copied back to back into `stage` and go out
  // with one sendmmsg(2) per TX_BATCH, at flush() or at the latest on the next loop turn.
  private sendMany?: NativeAddon['sendMany'];
  private txFd = -1;
  private stage = Buffer.alloc(0);
  private stageLen = 0;
  private readonly stageLengths = new Int32Array(TX_BATCH);
  private staged = 0;
  private flushScheduled = false;
  /** Datagrams handed to node:dgram and not yet sent: while any, later ones follow them (order). */
  private deferred = 0;
  /** Datagrams sent through node:dgram because the socket buffer was full (EAGAIN/ENOBUFS). */
  deferredSends = 0;
  // Receive batching: recvmmsg(2) on node:dgram's socket (its own reading stopped), RX_BATCH
  // datagrams per call into one buffer: no Buffer, no event and no address string per datagram.
  private reader?: NativeSocket;
  private rxBuf = Buffer.alloc(0);
  private readonly rxLengths = new Int32Array(RX_BATCH);
  private readonly rxFrom = new Uint8Array(RX_BATCH * 20);
  /** The last sender seen (its `from` slot) and its address as text. */
  private readonly lastFrom = new Uint8Array(20);
  private lastFromAddr = '';

  /** Whether datagrams are received with recvmmsg(2) (else through node:dgram). */
  get receivesBatched(): boolean {
    return this.reader !== undefined;
  }

  /** Datagrams handed to node:dgram whose send has not completed yet. */
  get deferredPending(): number {
    return this.deferred;
  }

  constructor(readonly opts: ChannelOptions) {
    super();
    this.v6 = (opts.kind === 'udp' ? (opts.destination ?? opts.localAddress) : (opts.group ?? '')).includes(':');
    // the link's MTU, and never more than a UDP datagram can carry (loopback's MTU is 65536:
    // a 65508-byte payload makes a 65536-byte IPv4 packet, one more than its length field holds)
    this.maxDatagram = Math.min(interfaceMtu(opts.interface) - (this.v6 ? 48 : 28), this.v6 ? 65527 : 65507);
    const target = opts.kind === 'udp' ? opts.destination : opts.group;
    if (!target)
      throw new Error(
        `${opts.kind} channel on ${opts.interface}: no ${opts.kind === 'udp' ? 'destination address' : 'group'} configured`,
      );
    this.target = target;
  }

  /** The port our datagrams leave from (the send socket's, bound at open()). */
  get localPort(): number {
    if (!this.tx) throw new Error('sync channel is not open');
    return this.tx.address().port;
  }

  /**
   * The address our datagrams leave from, as the peer sees it: the send socket's own address
   * once open() has connected it. With a wildcard local address (Multicast without
   * IPv4_interface, UDP without IPv4_address) the kernel picks it at connect() by the route to
   * the peer or group through Interface (bound before), and keeps it for every later send.
   * Without a zone (the peer's view of an IPv6 link-local source has none).
   */
  get sourceAddress(): string {
    if (!this.tx) throw new Error('sync channel is not open');
    return this.tx.address().address.replace(/%.*$/, '');
  }

  get description(): string {
    return `${this.opts.kind} ${this.opts.localAddress} -> ${this.target}:${this.opts.port} on ${this.opts.interface}`;
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  async open(): Promise<void> {
    const type = this.v6 ? 'udp6' : 'udp4';
    const o = this.opts;
    const rx = dgram.createSocket({ type, reuseAddr: true });
    const tx = dgram.createSocket({ type });
    this.rx = rx;
    this.tx = tx;
    // A socket's errors are the channel's 'error' events once open() is done. Before, the error
    // of a set-up step fails open() (saying what to check in the config), and any other is only
    // counted: nobody listens to the channel yet, and an 'error' event nobody listens to would
    // take the process down.
    rx.on('error', (err) => {
      this.stats.receiveErrors++;
      if (this.opened) this.emit('error', err);
    });
    tx.on('error', (err) => {
      this.stats.sendErrors++;
      if (this.opened) this.emit('error', err);
    });
    rx.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    const bindAddress = this.scoped(o.kind === 'udp' ? o.localAddress : o.group!);
    await setUp(
      rx,
      (done) => rx.bind(o.port, bindAddress, done),
      (err) => this.bindError(err, bindAddress, o.port),
    );
    const txAddress = o.kind === 'udp' ? this.scoped(o.localAddress) : undefined;
    await setUp(
      tx,
      (done) => tx.bind(0, txAddress, done),
      (err) => this.bindError(err, txAddress ?? 'any address', 0),
    );
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
    await setUp(
      tx,
      (done) => tx.connect(o.port, this.scoped(this.target), done),
      (err) => new Error(`sync channel: cannot reach ${hostPort(this.target, o.port)} (${codeOf(err)})`),
    );
    if (o.kind === 'multicast') {
      try {
        // IPv6: joined on the index of Interface, as conntrackd does (an ff02:: group needs it)
        rx.addMembership(o.group!, this.v6 ? `::%${o.interface}` : o.localAddress);
      } catch (err) {
        const why =
          codeOf(err as Error) === 'EADDRNOTAVAIL'
            ? 'EADDRNOTAVAIL: the interface address is not on this machine'
            : codeOf(err as Error);
        throw new Error(
          `sync channel: cannot join the multicast group ${o.group} on ${o.localAddress} (${why}; check IPv4_interface and Group in Sync > Multicast)`,
          { cause: err },
        );
      }
      tx.setMulticastInterface(this.v6 ? `::%${o.interface}` : o.localAddress);
      tx.setMulticastLoopback(false);
      tx.setMulticastTTL(1);
    }
    this.opened = true;
    this.readBatched(rx, rxFd);
    // an addon built before sendMany existed: every datagram goes through node:dgram
    if (typeof native.sendMany === 'function') {
      this.sendMany = native.sendMany;
      this.txFd = txFd;
      this.stage = Buffer.allocUnsafe(Math.max(Math.min(TX_BATCH * this.maxDatagram, TX_STAGE_MAX), this.maxDatagram));
    }
  }

  /**
   * `address` with the zone of Interface when IPv6 needs one (link-local unicast fe80::/10,
   * interface- or link-local multicast ff01::/16, ff02::/16): the kernel refuses those without a
   * scope (EINVAL). conntrackd sets the same scope, the index of Interface, on both sides.
   */
  private scoped(address: string): string {
    return needsScope(address) ? `${address}%${this.opts.interface}` : address;
  }

  /** A bind that failed, as one line naming the address, the port and the setting to check. */
  private bindError(err: Error, address: string, port: number): Error {
    const code = codeOf(err);
    const section = this.opts.kind === 'udp' ? 'Sync > UDP' : 'Sync > Multicast';
    const addressSetting = this.opts.kind === 'udp' ? (this.v6 ? 'IPv6_address' : 'IPv4_address') : 'Group';
    const why = BIND_ERRORS[code];
    const check =
      code === 'EADDRNOTAVAIL' ? addressSetting : code === 'EADDRINUSE' ? 'Port' : `${addressSetting} and Port`;
    return new Error(
      `sync channel: cannot bind ${hostPort(address, port)} (${why ? `${code}: ${why}` : code}; check ${check} in ${section})`,
    );
  }

  /**
   * Takes the receive side over from node:dgram: its reading stopped, ours with recvmmsg(2) on the
   * same socket. Should node:dgram's handle lack recvStop (an internal), node:dgram goes on.
   */
  private readBatched(rx: dgram.Socket, fd: number): void {
    const handle = handleOf(rx);
    if (typeof handle?.recvStop !== 'function') return;
    const reader = new (nativeAddon().NlSocket)(0, fd);
    handle.recvStop();
    this.rxBuf = Buffer.allocUnsafe(RX_BATCH * RX_SLOT);
    this.reader = reader;
    reader.watch(() => this.drain());
  }

  /** Reads what is queued (up to RX_ROUNDS batches; the rest on the next loop turn). */
  private drain(): void {
    for (let round = 0; round < RX_ROUNDS && this.reader; round++) {
      const n = this.reader.recvMany(this.rxBuf, RX_SLOT, this.rxLengths, RX_BATCH, this.rxFrom);
      if (n === -EAGAIN || n === 0) return;
      if (n < 0) {
        this.stats.receiveErrors++;
        this.emit('error', Object.assign(new Error(`sync channel receive: ${errnoName(-n)}`), { errno: -n }));
        return;
      }
      for (let i = 0; i < n; i++) {
        const at = i * RX_SLOT;
        const from = i * 20;
        const port = (this.rxFrom[from + 2] << 8) | this.rxFrom[from + 3];
        this.onMessage(this.rxBuf.subarray(at, at + this.rxLengths[i]), this.sender(i), port);
      }
      if (n < RX_BATCH) return;
    }
  }

  /** The sender of datagram i of the last batch; formatted only when it is a new one. */
  private sender(i: number): string {
    const f = this.rxFrom;
    const at = i * 20;
    const last = this.lastFrom;
    let same = this.lastFromAddr !== '';
    for (let k = 0; k < 20 && same; k++) same = f[at + k] === last[k];
    if (!same) {
      last.set(f.subarray(at, at + 20));
      this.lastFromAddr = formatAddress(f, at);
    }
    return this.lastFromAddr;
  }

  /** `msg` is only valid during the call (a view of the receive buffer when batched). */
  private onMessage(msg: Buffer, from: string, port: number): void {
    // unicast: only the configured peer; multicast: anyone on the group but ourselves
    const ok = this.opts.kind === 'udp' ? from === this.target : from !== this.opts.localAddress;
    if (!ok) {
      this.stats.foreign++;
      return;
    }
    this.stats.packetsReceived++;
    this.stats.bytesReceived += msg.length;
    this.emit('datagram', msg, from, port);
  }

  /**
   * Sends one datagram (already packed to at most maxDatagram bytes). It is queued and goes out
   * with the others queued in this loop turn: at flush(), when TX_BATCH are queued, or at the
   * latest on the next turn (setImmediate). The caller's buffer may be reused right away.
   */
  send(data: Uint8Array): void {
    if (!this.tx) throw new Error('sync channel is not open');
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    // a full stage goes out first; what it could not send is left to node:dgram
    if (this.staged === TX_BATCH || this.stageLen + data.length > this.stage.length) this.flush();
    if (this.txFd < 0 || this.deferred > 0 || data.length > this.stage.length) {
      // no native path, or node:dgram still holds earlier datagrams: keep the order (a copy:
      // node:dgram may send it later)
      this.flush();
      this.sendDgram(Buffer.from(data));
      return;
    }
    this.stage.set(data, this.stageLen);
    this.stageLen += data.length;
    this.stageLengths[this.staged++] = data.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Sends what send() queued, now: one sendmmsg(2) per TX_BATCH datagrams. When the socket
   * buffer is full (EAGAIN, or ENOBUFS from the device queue) the rest goes through node:dgram,
   * which waits for room: nothing is dropped that a plain dgram.send would have sent. A
   * datagram the kernel refuses (e.g. ECONNREFUSED after an ICMP error) counts in sendErrors.
   */
  flush(): void {
    const n = this.staged;
    if (n === 0) return;
    const sendMany = this.sendMany!;
    const lengths = this.stageLengths;
    let i = 0;
    let off = 0;
    try {
      while (i < n) {
        const r = sendMany(this.txFd, this.stage, lengths, i, n - i);
        if (r > 0) {
          for (const end = i + r; i < end; i++) off += lengths[i];
          continue;
        }
        if (r === 0 || r === -EAGAIN || r === -ENOBUFS) {
          // copies: the stage is reused, node:dgram sends later
          for (; i < n; i++) {
            this.sendDgram(Buffer.from(this.stage.subarray(off, off + lengths[i])));
            off += lengths[i];
          }
          break;
        }
        this.failed(lengths[i]);
        off += lengths[i];
        i++;
      }
    } finally {
      this.staged = 0;
      this.stageLen = 0;
    }
  }

  private sendDgram(data: Uint8Array): void {
    this.deferred++;
    if (this.txFd >= 0) this.deferredSends++;
    this.tx!.send(data, (err) => {
      this.deferred--;
      if (err) this.failed(data.length);
    });
  }

  private failed(bytes: number): void {
    this.stats.sendErrors++;
    this.stats.packetsSent--;
    this.stats.bytesSent -= bytes;
  }

  close(): void {
    if (this.tx) this.flush();
    // our watcher first: node:dgram closes the descriptor
    this.reader?.close();
    this.reader = undefined;
    this.rx?.close();
    this.tx?.close();
    this.rx = this.tx = undefined;
    this.txFd = -1;
  }
}

/**
 * The fd of a bound dgram socket. Node keeps the handle in a symbol-keyed state object (the old
 * `_handle` accessor still works but prints a deprecation warning).
 */
function handleOf(sock: dgram.Socket): { fd?: number; recvStop?: () => number } | undefined {
  const state = Object.getOwnPropertySymbols(sock)
    .map((sym) => (sock as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => number } }>)[sym])
    .find((v) => v && typeof v === 'object' && 'handle' in v);
  return state?.handle;
}

export function fdOf(sock: dgram.Socket): number {
  const fd = handleOf(sock)?.fd;
  if (fd === undefined || fd < 0) throw new Error('cannot reach the UDP socket descriptor');
  return fd;
}

/** A sender's address from recvMany's `from` slot, as node:dgram writes it (canonical). */
function formatAddress(from: Uint8Array, at: number): string {
  if (from[at] === 4) return `${from[at + 4]}.${from[at + 5]}.${from[at + 6]}.${from[at + 7]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((from[at + 4 + 2 * i] << 8) | from[at + 5 + 2 * i]).toString(16));
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}
