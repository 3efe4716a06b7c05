// The netlink socket (I/O only). Wraps our N-API addon (native/netlink-socket.h); see there for why it is
// not the `netlink` npm package. Nothing here knows about conntrack.
import os from 'node:os';
import { NativeSocket, nativeAddon } from '../native.js';
import {
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_BROADCAST_ERROR,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_NETFILTER,
  NETLINK_NO_ENOBUFS,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
} from './constants.js';

export const errno = os.constants.errno;

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno))
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
// aliases sharing a number: print the name the netfilter sources use
ERRNO_NAMES.set(errno.EOPNOTSUPP, 'EOPNOTSUPP');
ERRNO_NAMES.set(errno.EAGAIN, 'EAGAIN');

export function errnoName(code: number): string {
  return ERRNO_NAMES.get(code) ?? `errno ${code}`;
}

/** An error from a netlink system call or an NLMSG_ERROR reply, with errno and a readable reason. */
export class NetlinkError extends Error {
  constructor(
    readonly errno: number,
    readonly operation: string,
    detail?: string,
  ) {
    super(`${operation}: ${errnoName(errno)} (${describeErrno(errno)})${detail ? `: ${detail}` : ''}`);
    this.name = 'NetlinkError';
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

export function describeErrno(code: number): string {
  switch (code) {
    case errno.EEXIST:
      return 'entry already exists';
    case errno.ENOENT:
      return 'no such entry';
    case errno.EBUSY:
      return 'entry busy or status change not allowed';
    case errno.EINVAL:
      return 'invalid request';
    case errno.EPERM:
      return 'operation not permitted';
    case errno.EOPNOTSUPP:
      return 'not supported (unknown helper, or NAT/master on update)';
    case errno.ENOBUFS:
      return 'socket receive buffer overrun: events were lost';
    case errno.ENOMEM:
      return 'out of memory (or table full)';
    case errno.EAGAIN:
      return 'try again';
    case errno.EMSGSIZE:
      return 'message too long';
    case errno.EAFNOSUPPORT:
      return 'address family not supported';
    case errno.EPROTONOSUPPORT:
      return 'protocol not supported (module not loaded?)';
    case errno.ERANGE:
      return 'a value out of range (e.g. a TCP state the kernel does not know)';
    default:
      return `errno ${code}`;
  }
}

export interface SocketOptions {
  /** Multicast groups to join (group numbers, e.g. NFNLGRP_CONNTRACK_NEW). */
  groups?: number[];
  /** Receive buffer in bytes; set with SO_RCVBUFFORCE (root) so it may exceed rmem_max. */
  rcvbuf?: number;
  sndbuf?: number;
  /** Suppress ENOBUFS reports (only for sockets where losing messages is acceptable). */
  noEnobufs?: boolean;
  /**
   * NETLINK_BROADCAST_ERROR: a multicast message the kernel cannot deliver to this socket fails
   * the sender (ctnetlink then keeps the event as missed and delivers it again later).
   */
  broadcastError?: boolean;
  /**
   * Nothing reaches the kernel: every batch is answered with success (the ACK its fence asked
   * for). For warming up code on the same kind of socket it will drive for real.
   */
  loopback?: boolean;
  /**
   * In loopback mode, every n-th conntrack create (NLM_F_EXCL) fails with EEXIST and every n-th
   * create-or-update with EBUSY: a warm-up then also runs the code for entries the table has.
   */
  loopbackErrors?: number;
}

/**
 * A NETLINK_NETFILTER socket. Non-blocking; `recv()` returns -errno instead of throwing so hot
 * loops stay cheap. Error replies are capped (NETLINK_CAP_ACK) so a batch of thousands of
 * failing requests costs 36 bytes per error, not a copy of each request.
 */
export class NetlinkSocket {
  private readonly native: NativeSocket;
  readonly portId: number;
  private closed = false;

  constructor(opts: SocketOptions = {}) {
    this.native = new (nativeAddon().NlSocket)(NETLINK_NETFILTER);
    try {
      if (opts.rcvbuf) this.setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, opts.rcvbuf);
      if (opts.sndbuf) this.setBuffer(SO_SNDBUFFORCE, SO_SNDBUF, opts.sndbuf);
      this.trySetNetlink(NETLINK_CAP_ACK, 1);
      this.trySetNetlink(NETLINK_EXT_ACK, 1);
      if (opts.noEnobufs) this.native.setInt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
      if (opts.broadcastError) this.native.setInt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1);
      this.portId = this.native.bind(0);
      for (const g of opts.groups ?? []) this.setMembership(g, true);
      if (opts.loopback) this.native.loopback(opts.loopbackErrors ?? 0);
    } catch (err) {
      this.native.close();
      throw err;
    }
  }

  private setBuffer(force: number, plain: number, size: number): void {
    try {
      this.native.setInt(SOL_SOCKET, force, size);
    } catch {
      // Without CAP_NET_ADMIN the FORCE variant fails; fall back to the rmem_max-capped one.
      this.native.setInt(SOL_SOCKET, plain, size);
    }
  }

  private trySetNetlink(opt: number, v: number): void {
    try {
      this.native.setInt(SOL_NETLINK, opt, v);
    } catch {
      /* older kernels: replies are just larger */
    }
  }

  /** Leaves (or joins again) a multicast group: the kernel builds no event for a group nobody is in. */
  setMembership(group: number, member: boolean): void {
    this.native.setInt(SOL_NETLINK, member ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, group);
  }

  /** A SOL_NETLINK option's value (getsockopt), e.g. NETLINK_NO_ENOBUFS. */
  netlinkOption(opt: number): number {
    return this.native.getInt(SOL_NETLINK, opt);
  }

  get receiveBufferSize(): number {
    return this.native.getInt(SOL_SOCKET, SO_RCVBUF);
  }

  setReceiveBufferSize(size: number): void {
    this.setBuffer(SO_RCVBUFFORCE, SO_RCVBUF, size);
  }

  /** Sends bytes to the kernel; throws NetlinkError. */
  send(data: Uint8Array, what = 'send'): void {
    const n = this.native.send(data);
    if (n < 0) throw new NetlinkError(-n, what);
  }

  /** Receives one datagram: length, possibly > buf.length when truncated, or -errno. */
  recv(buf: Uint8Array): number {
    return this.native.recv(buf);
  }

  /**
   * Receives up to `max` (default: as many as fit) datagrams with one recvmmsg(2): datagram i
   * lands in buf[i * slotSize, (i + 1) * slotSize) and its length in lengths[i], greater than
   * slotSize when it was truncated. Returns the count (>= 1) or -errno, like recv():
   * -EAGAIN when nothing is queued, -ENOBUFS for an overrun (an overrun met after some datagrams
   * were read is returned by the next call). At most 1024 datagrams per call.
   */
  recvMany(buf: Uint8Array, slotSize: number, lengths: Int32Array, max?: number): number {
    return this.native.recvMany(buf, slotSize, lengths, max);
  }

  /** Blocks until readable or timeout (ms): for CLI tools, never in the daemon. */
  waitReadable(timeoutMs: number): boolean {
    const r = this.native.wait(timeoutMs);
    if (r < 0) throw new NetlinkError(-r, 'poll');
    return r > 0;
  }

  /** Calls cb from the event loop whenever the socket becomes readable (drain with recv). */
  onReadable(cb: () => void): void {
    this.native.watch(cb);
  }

  stopReading(): void {
    this.native.unwatch();
  }

  ref(): void {
    this.native.ref();
  }

  unref(): void {
    this.native.unref();
  }

  /** Drops, in the kernel, messages caused by these netlink port ids (our own requests). */
  ignorePorts(ports: number[]): void {
    this.native.ignorePorts(ports);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}
