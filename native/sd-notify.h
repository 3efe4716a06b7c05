// The service manager's notification socket (sd_notify(3)'s protocol, without libsystemd).
//
// sdNotify(address, message): sends `message` as one datagram to the AF_UNIX datagram socket at
// `address`, the value of $NOTIFY_SOCKET: a file system path (starting with '/') or an abstract
// name (starting with '@', which stands for the leading NUL byte). Node has no AF_UNIX datagram
// sockets, so the daemon's READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 go through here.
//
// Threads: any JavaScript thread; the daemon calls it from the main thread only, so systemd's
// NotifyAccess=main (the default of Type=notify) accepts what it sends. Fds: one socket per call,
// opened close-on-exec and closed before the call returns; nothing is kept between calls.
// The kernel attaches the sender's credentials when the receiver asks for them (SO_PASSCRED),
// which is how systemd learns the sending pid.
// Errors: as in js-error.h for a hot-path call: returns 0 or -errno, never throws for a failed
// system call (a watchdog ping that fails must not take the daemon down). -EINVAL for an
// address that is neither a path nor an abstract name, or an empty one; -ENAMETOOLONG for one
// longer than sockaddr_un holds. A wrong argument type throws a TypeError.
#ifndef CTSYNC_NATIVE_SD_NOTIFY_H_
#define CTSYNC_NATIVE_SD_NOTIFY_H_

#include <napi.h>

namespace ctsync {

// Adds sdNotify to `exports`.
void RegisterSdNotify(Napi::Env env, Napi::Object exports);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_SD_NOTIFY_H_
