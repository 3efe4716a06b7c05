// The process: see process.h.
#include "process.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "js-error.h"

namespace ctsync {

namespace {

// peerUid(fd): uid of the process at the other end of a UNIX socket (SO_PEERCRED), so the
// control socket can refuse non-root clients with a clear message.
Napi::Value PeerUid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
  return Napi::Number::New(env, cred.uid);
}

// setThreadScheduler(policy, priority[, tid]): sched_setscheduler(2) for one thread: the calling
// thread (on Linux a pid of 0 names the calling thread, not the process), or the thread `tid` of
// this process. The main thread takes conntrackd's `Scheduler` clause for itself; the commit
// workers warm up at SCHED_IDLE and return to SCHED_OTHER, or are returned to it by the main
// thread when a commit waits for them. Node's other threads keep their policy; making them all
// real-time livelocked a 2-CPU machine. Returns 0 or -errno.
Napi::Value SetThreadScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber() ||
      (info.Length() > 2 && !info[2].IsNumber())) {
    Napi::TypeError::New(env, "setThreadScheduler(policy, priority[, tid])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct sched_param param {};
  param.sched_priority = info[1].As<Napi::Number>().Int32Value();
  pid_t tid = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 0;
  if (sched_setscheduler(tid, info[0].As<Napi::Number>().Int32Value(), &param) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
}

// threadId(): the calling thread's kernel id (gettid(2)), for setThreadScheduler from another
// thread.
Napi::Value ThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

// execv(path, [argv0, ...]): replaces the process image, keeping the pid (Node 20 has no
// process.execve). For the daemon to restart itself with different V8 flags before it has
// opened anything: a service manager keeps tracking the same pid. Returns -errno on failure;
// on success it does not return.
// Node marks stdin, stdout and stderr close-on-exec: the new image would find them closed and
// put /dev/null there, and a start-up error would go nowhere. They are kept open across the
// exec (and marked again if it fails).
Napi::Value Execv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "execv(path, argv)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < arr.Length(); i++) args.push_back(arr.Get(i).ToString().Utf8Value());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int stdioFlags[3];
  for (int fd = 0; fd < 3; fd++) {
    stdioFlags[fd] = fcntl(fd, F_GETFD);
    if (stdioFlags[fd] >= 0) fcntl(fd, F_SETFD, stdioFlags[fd] & ~FD_CLOEXEC);
  }
  execv(path.c_str(), argv.data());
  int err = errno;
  for (int fd = 0; fd < 3; fd++)
    if (stdioFlags[fd] >= 0) fcntl(fd, F_SETFD, stdioFlags[fd]);
  return Napi::Number::New(env, -err);
}

}  // namespace

void RegisterProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreadScheduler", Napi::Function::New(env, SetThreadScheduler));
  exports.Set("threadId", Napi::Function::New(env, ThreadId));
  exports.Set("execv", Napi::Function::New(env, Execv));
  exports.Set("peerUid", Napi::Function::New(env, PeerUid));
}

}  // namespace ctsync
