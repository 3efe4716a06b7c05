// Errors the addon throws to JavaScript.
//
// Error conventions, for the whole addon:
// - Hot-path calls (send, recv, recvMany, wait, sendMany, setThreadScheduler, execv, sdNotify) never
//   throw for a failed system call: they return -errno as a number, so a loop over them stays cheap and
//   an overrun (-ENOBUFS) or an empty queue (-EAGAIN) is an ordinary value.
// - Setup calls (new NlSocket, bind, setInt/getInt, watch, ignorePorts, setsockopt*/getsockopt*,
//   peerUid) throw ThrowErrno's Error: message "syscall: strerror", with .errno (positive),
//   .syscall and .code (the errno's name, e.g. "EPERM").
// - A wrong argument (type or range) throws a TypeError or RangeError naming the call.
// All of them run on the JavaScript thread that called in; none keeps state between calls.
#ifndef CTSYNC_NATIVE_JS_ERROR_H_
#define CTSYNC_NATIVE_JS_ERROR_H_

#include <napi.h>

namespace ctsync {

// Throws (as a pending JavaScript exception) the Error described above for errno `err` from
// `syscall`; returns undefined for the caller to return.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_JS_ERROR_H_
