// The sync channel's UDP sockets: batched sends, and the socket options node:dgram does not offer.
//
// sendMany(fd, buffer, lengths, start, count): up to 1024 datagrams with one sendmmsg(2) on the
// channel's connected tx socket. setsockoptInt / setsockoptString / getsockoptInt: SO_NO_CHECK
// (`Checksum off`), SO_BINDTODEVICE, SO_RCVBUFFORCE / SO_SNDBUFFORCE on those sockets. Batched
// receives on the rx socket go through NlSocket(0, fd).recvMany (netlink-socket.h), which shares
// the netlink socket's recvmmsg(2) code and also reports each datagram's sender.
//
// Fds: none is owned here. Every call takes the fd of a socket node:dgram owns (or any fd the
// caller owns) and neither closes it nor keeps it after the call returns.
// Threads: any JavaScript thread; sendMany keeps its message headers per thread (thread_local),
// so the hot path allocates nothing once warm.
// Errors: as in js-error.h. sendMany returns -errno; the socket-option calls throw.
#ifndef CTSYNC_NATIVE_UDP_BATCH_H_
#define CTSYNC_NATIVE_UDP_BATCH_H_

#include <napi.h>

namespace ctsync {

// Adds sendMany, setsockoptInt, setsockoptString and getsockoptInt to `exports`.
void RegisterUdpBatch(Napi::Env env, Napi::Object exports);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_UDP_BATCH_H_
