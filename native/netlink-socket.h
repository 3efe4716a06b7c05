// The netlink socket: class NlSocket, exported to JavaScript (src/netlink/socket.ts wraps it).
//
// Why our own addon instead of the `netlink` npm package: we need SO_RCVBUFFORCE/SO_SNDBUFFORCE
// (event buffers far above rmem_max), SOL_NETLINK options (NO_ENOBUFS, CAP_ACK, EXT_ACK,
// BROADCAST_ERROR), ENOBUFS reported as a return value instead of an 'error' event that can take
// the process down, and zero-allocation receive into a caller-owned buffer for fast dumps and
// commits. Everything protocol-related lives in TypeScript; this class only moves bytes.
//
// What it does: send() to the kernel, recv() and recvMany() (recvmmsg(2), up to 1024 datagrams a
// call into fixed slots of one caller-owned buffer), wait() (poll(2), blocking: CLI tools only),
// watch() (a libuv poll handle calling back when readable), multicast groups and other options
// through setInt(), ignorePorts() (a BPF filter dropping the events our own commit sockets cause),
// and loopback() (the fake kernel of loopback.h, for the commit warm-up).
//
// Threads: an NlSocket belongs to the JavaScript thread (main thread or commit worker) that made
// it; every method runs there, and watch() polls on that thread's event loop. No locks.
// Fds: NlSocket(protocol) opens a netlink socket (SOCK_CLOEXEC | SOCK_NONBLOCK) and owns it:
// close() or garbage collection closes it. NlSocket(0, fd) borrows a datagram socket someone else
// owns (node:dgram's UDP socket of the sync channel, for batched receives with the sender's
// address): close() stops the polling and forgets the fd without closing it, and the owner keeps
// the fd open while the wrapper is in use. After close() the fd is -1.
// Errors: as in js-error.h. send/recv/recvMany/wait return -errno (-EBADF once closed; -EAGAIN:
// nothing queued; -ENOBUFS: the kernel dropped messages for this socket, reported once). Setup
// calls throw, and on a closed socket throw "netlink socket is closed".
// Lifetime: while watch() is on, the socket holds a reference to its JavaScript object (libuv
// holds a pointer to it); unwatch() or close() lets it go.
#ifndef CTSYNC_NATIVE_NETLINK_SOCKET_H_
#define CTSYNC_NATIVE_NETLINK_SOCKET_H_

#include <napi.h>

namespace ctsync {

// Adds the NlSocket class to `exports`.
void RegisterNetlinkSocket(Napi::Env env, Napi::Object exports);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_NETLINK_SOCKET_H_
