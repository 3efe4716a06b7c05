// Loader and types of our N-API addon (native/, built as build/Release/nlsock.node; native/addon.cc
// lists its parts): the netlink socket, batched UDP sends and the socket options Node's dgram does
// not expose, the process calls, the commit workers' turn lock, and the service manager's
// notification socket.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export interface NativeSocket {
  bind(groups: number): number;
  setInt(level: number, name: number, value: number): void;
  getInt(level: number, name: number): number;
  send(buf: Uint8Array, length?: number): number;
  recv(buf: Uint8Array): number;
  /** `from` (UDP): 20 bytes per datagram, family 4|6 at 0, the sender's port (BE) at 2 and address from 4. */
  recvMany(buf: Uint8Array, slotSize: number, lengths: Int32Array, max?: number, from?: Uint8Array): number;
  wait(timeoutMs: number): number;
  watch(cb: () => void): void;
  unwatch(): void;
  ref(): void;
  unref(): void;
  close(): void;
  ignorePorts(ports: number[]): void;
  /**
   * From now on send() reaches no kernel; recv() gives the replies the kernel would: the ACK of a
   * message that asked for one, and (errorEvery n) EEXIST for every n-th conntrack create and
   * EBUSY for every n-th create-or-update.
   */
  loopback(errorEvery?: number): void;
  readonly fd: number;
}

/** Scheduling policies of sched_setscheduler(2), for setThreadScheduler. */
export const enum SchedPolicy {
  OTHER = 0,
  FIFO = 1,
  RR = 2,
  IDLE = 5,
}

export interface NativeAddon {
  /** A new netlink socket; with `fd`, a wrapper of someone else's datagram socket (close() leaves it open). */
  NlSocket: new (protocol: number, fd?: number) => NativeSocket;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  setsockoptString(fd: number, level: number, name: number, value: string): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  peerUid(fd: number): number;
  /** sendmmsg(2) on a connected datagram socket: see native/udp-batch.cc. Datagrams sent, or -errno. */
  sendMany(fd: number, buf: Uint8Array, lengths: Int32Array, start: number, count: number): number;
  /**
   * sched_setscheduler(2) for the calling thread, or for thread `tid` of this process
   * (SCHED_OTHER 0, FIFO 1, RR 2, IDLE 5): 0 or -errno.
   */
  setThreadScheduler(policy: number, priority: number, tid?: number): number;
  /** gettid(2): the calling thread's kernel id. */
  threadId(): number;
  /** Blocks the calling thread until it holds the lock word (0 free; see native/turn-lock.h). */
  turnAcquire(word: Int32Array): void;
  turnRelease(word: Int32Array): void;
  /** execv(2): replaces the process image (same pid); returns -errno only if that failed. */
  execv(path: string, argv: string[]): number;
  /** One datagram to $NOTIFY_SOCKET (a path or an `@` abstract name): 0 or -errno (native/sd-notify.h). */
  sdNotify(address: string, message: string): number;
}

let addon: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src -> repo root; also src/ under a TS loader
  for (const up of ['../..', '..']) {
    const candidate = path.resolve(here, up, 'build/Release/nlsock.node');
    if (fs.existsSync(candidate)) {
      addon = createRequire(import.meta.url)(candidate) as NativeAddon;
      return addon;
    }
  }
  throw new Error('native addon build/Release/nlsock.node not found: run `npm run build`');
}
