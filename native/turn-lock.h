// The turn lock: one commit worker at a time sends a batch into the kernel
// (src/netlink/kernel-turn.ts explains why taking turns per batch keeps the kernel busy).
//
// turnAcquire(word) blocks the calling thread until it holds the lock; turnRelease(word) lets the
// next thread in. The word is element 0 of an Int32Array over a SharedArrayBuffer that every
// thread taking turns shares: 0 free, 1 held, 2 held with waiters (the classic futex mutex). A
// waiting thread spins for a few milliseconds (about one batch's sendmsg) and then sleeps on the
// futex. In native code rather than with Atomics.wait: a JavaScript wait path never taken during
// a warm-up deoptimizes its caller the first time a thread has to wait, mid-commit.
//
// Threads: turnAcquire blocks, so it is for worker threads only, never the main thread. A thread
// releases only a lock it holds. The futex is private (FUTEX_PRIVATE_FLAG): all threads of one
// process. Fds: none. Errors: none from the lock itself (futex returns, e.g. EAGAIN when the word
// changed before the wait, only mean "look again"); a word that is not a non-empty Int32Array
// throws a TypeError or RangeError.
#ifndef CTSYNC_NATIVE_TURN_LOCK_H_
#define CTSYNC_NATIVE_TURN_LOCK_H_

#include <napi.h>

namespace ctsync {

// Adds turnAcquire and turnRelease to `exports`.
void RegisterTurnLock(Napi::Env env, Napi::Object exports);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_TURN_LOCK_H_
