// The process: its scheduling, its image, and who is at the other end of the control socket.
//
// setThreadScheduler(policy, priority[, tid]): sched_setscheduler for one thread, the caller or
// the thread tid of this process (conntrackd's `Scheduler` clause for the main thread; the
// commit workers' idle warm-up). threadId(): the calling thread's kernel id. execv(path, argv):
// the daemon restarts itself with other V8 flags under the same pid. peerUid(fd): the uid of a
// control socket client (SO_PEERCRED), to refuse non-root clients.
//
// Threads: execv replaces the whole process, worker threads included, and is called before the
// daemon has started any. Fds: peerUid reads the fd of a UNIX socket node:net owns and keeps
// nothing. execv keeps fds 0-2 open across the exec (it clears their FD_CLOEXEC, which Node
// sets, and restores it if the exec fails); every other fd keeps its own flag.
// Errors: as in js-error.h. setThreadScheduler and execv return -errno (0 for success from
// setThreadScheduler; execv does not return when it succeeds); peerUid throws.
#ifndef CTSYNC_NATIVE_PROCESS_H_
#define CTSYNC_NATIVE_PROCESS_H_

#include <napi.h>

namespace ctsync {

// Adds setThreadScheduler, threadId, execv and peerUid to `exports`.
void RegisterProcess(Napi::Env env, Napi::Object exports);

}  // namespace ctsync

#endif  // CTSYNC_NATIVE_PROCESS_H_
