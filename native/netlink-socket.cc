// The netlink socket: see netlink-socket.h.
#include "netlink-socket.h"

#include <linux/filter.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "js-error.h"
#include "loopback.h"

namespace ctsync {

namespace {

class NlSocket : public Napi::ObjectWrap<NlSocket> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "NlSocket",
        {
            InstanceMethod("bind", &NlSocket::Bind),
            InstanceMethod("setInt", &NlSocket::SetInt),
            InstanceMethod("getInt", &NlSocket::GetInt),
            InstanceMethod("send", &NlSocket::Send),
            InstanceMethod("recv", &NlSocket::Recv),
            InstanceMethod("recvMany", &NlSocket::RecvMany),
            InstanceMethod("wait", &NlSocket::Wait),
            InstanceMethod("watch", &NlSocket::Watch),
            InstanceMethod("unwatch", &NlSocket::Unwatch),
            InstanceMethod("ref", &NlSocket::RefHandle),
            InstanceMethod("unref", &NlSocket::UnrefHandle),
            InstanceMethod("close", &NlSocket::Close),
            InstanceMethod("ignorePorts", &NlSocket::IgnorePorts),
            InstanceMethod("loopback", &NlSocket::Loopback),
            InstanceAccessor("fd", &NlSocket::Fd, nullptr),
        });
    exports.Set("NlSocket", cls);
  }

  // NlSocket(protocol): a new netlink socket. NlSocket(0, fd): wraps a datagram socket someone
  // else owns (node:dgram's UDP socket, for batched receives): close() then leaves the fd open.
  explicit NlSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NlSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "NlSocket(protocol: number[, fd: number])").ThrowAsJavaScriptException();
      return;
    }
    if (info.Length() > 1 && info[1].IsNumber()) {
      fd_ = info[1].As<Napi::Number>().Int32Value();
      owned_ = false;
      return;
    }
    int protocol = info[0].As<Napi::Number>().Int32Value();
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd_ < 0) ThrowErrno(env, errno, "socket");
  }

  ~NlSocket() override { CloseFd(); }

 private:
  int fd_ = -1;
  bool owned_ = true;
  uv_poll_t* poll_ = nullptr;
  bool referenced_ = true;
  Napi::FunctionReference on_readable_;
  std::unique_ptr<Napi::AsyncContext> async_;
  // Set by loopback(): from then on send() reaches no kernel and recv() reads its answers.
  std::unique_ptr<LoopbackKernel> loopback_;
  uint32_t port_id_ = 0;
  // recvMany's message headers, kept between calls (no allocation on the hot path)
  std::vector<mmsghdr> mmsg_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> names_;

  bool CheckOpen(Napi::Env env) {
    if (fd_ >= 0) return true;
    Napi::Error::New(env, "netlink socket is closed").ThrowAsJavaScriptException();
    return false;
  }

  static bool GetBytes(const Napi::Value& v, uint8_t** data, size_t* len) {
    if (!v.IsTypedArray()) return false;
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_uint8_array) return false;
    Napi::Uint8Array u8 = v.As<Napi::Uint8Array>();
    *data = u8.Data();
    *len = u8.ByteLength();
    return true;
  }

  // bind(groups) -> port id assigned by the kernel
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    uint32_t groups = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 0;
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = groups;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) return ThrowErrno(env, errno, "bind");
    socklen_t alen = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &alen) < 0) return ThrowErrno(env, errno, "getsockname");
    port_id_ = addr.nl_pid;
    return Napi::Number::New(env, addr.nl_pid);
  }

  Napi::Value SetInt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int name = info[1].As<Napi::Number>().Int32Value();
    int value = info[2].As<Napi::Number>().Int32Value();
    if (setsockopt(fd_, level, name, &value, sizeof(value)) < 0) return ThrowErrno(env, errno, "setsockopt");
    return env.Undefined();
  }

  Napi::Value GetInt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int name = info[1].As<Napi::Number>().Int32Value();
    int value = 0;
    socklen_t len = sizeof(value);
    if (getsockopt(fd_, level, name, &value, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
    return Napi::Number::New(env, value);
  }

  // send(bytes[, length]) -> bytes sent, or -errno. Destination is always the kernel (port 0).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    uint8_t* data;
    size_t len;
    if (!GetBytes(info[0], &data, &len)) {
      Napi::TypeError::New(env, "send(Uint8Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() > 1 && info[1].IsNumber()) {
      size_t want = info[1].As<Napi::Number>().Uint32Value();
      if (want < len) len = want;
    }
    if (loopback_) {
      loopback_->Consume(data, len, port_id_);
      return Napi::Number::New(env, static_cast<double>(len));
    }
    sockaddr_nl dst{};
    dst.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = sendto(fd_, data, len, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
    } while (n < 0 && errno == EINTR);
    return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
  }

  // recv(buffer) -> datagram length (may exceed buffer length: truncated), or -errno
  // (-EAGAIN: nothing queued; -ENOBUFS: the kernel dropped messages for this socket).
  Napi::Value Recv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    uint8_t* data;
    size_t len;
    if (!GetBytes(info[0], &data, &len)) {
      Napi::TypeError::New(env, "recv(Uint8Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (loopback_) return Napi::Number::New(env, loopback_->Deliver(data, len));
    ssize_t n;
    do {
      n = recv(fd_, data, len, MSG_TRUNC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
  }

  // recvMany(buffer, slotSize, lengths: Int32Array[, max]) -> number of datagrams read (>= 1), or
  // -errno (-EAGAIN: nothing queued; -ENOBUFS: the kernel dropped messages for this socket).
  // One recvmmsg(2) call reads up to min(max, lengths.length, buffer.length / slotSize, 1024)
  // datagrams, datagram i into buffer[i * slotSize, (i + 1) * slotSize); lengths[i] is its full
  // length, greater than slotSize when it was truncated (MSG_TRUNC, as recv() reports it).
  // An error met after some datagrams were read is kept by the kernel (sk_err) and returned by
  // the next call, so an overrun is never lost.
  Napi::Value RecvMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    uint8_t* data;
    size_t len;
    if (!GetBytes(info[0], &data, &len) || !info[1].IsNumber() || !info[2].IsTypedArray() ||
        info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      Napi::TypeError::New(env, "recvMany(Uint8Array, slotSize, Int32Array[, max[, from: Uint8Array]])").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // from: 20 bytes per datagram, the sender (UDP): family (4 or 6) at 0, port (BE) at 2, address at 4..
    uint8_t* from = nullptr;
    size_t fromLen = 0;
    if (info.Length() > 4 && !info[4].IsUndefined() && !GetBytes(info[4], &from, &fromLen)) {
      Napi::TypeError::New(env, "recvMany: from must be a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Int32Array lengths = info[2].As<Napi::Int32Array>();
    int64_t slot = info[1].As<Napi::Number>().Int64Value();
    if (slot <= 0 || slot > INT32_MAX) {
      Napi::RangeError::New(env, "recvMany: bad slot size").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    size_t n = len / static_cast<size_t>(slot);
    if (lengths.ElementLength() < n) n = lengths.ElementLength();
    if (info.Length() > 3 && info[3].IsNumber()) {
      int64_t max = info[3].As<Napi::Number>().Int64Value();
      if (max < static_cast<int64_t>(n)) n = max < 1 ? 1 : static_cast<size_t>(max);
    }
    if (n > 1024) n = 1024;  // UIO_MAXIOV: the kernel's limit per call
    if (from && fromLen / 20 < n) n = fromLen / 20;
    if (n == 0) {
      Napi::RangeError::New(env, "recvMany: buffer smaller than one slot").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (loopback_) {
      // the queued answers, one per slot (as recv() gives them)
      size_t i = 0;
      for (; i < n && loopback_->HasReply(); i++) {
        lengths.Data()[i] = loopback_->Deliver(data + i * static_cast<size_t>(slot), static_cast<size_t>(slot));
      }
      return Napi::Number::New(env, i == 0 ? -EAGAIN : static_cast<double>(i));
    }
    if (mmsg_.size() < n) {
      mmsg_.resize(n);
      iov_.resize(n);
    }
    if (from && names_.size() < n) names_.resize(n);
    for (size_t i = 0; i < n; i++) {
      iov_[i].iov_base = data + i * static_cast<size_t>(slot);
      iov_[i].iov_len = static_cast<size_t>(slot);
      msghdr& h = mmsg_[i].msg_hdr;
      h.msg_name = from ? &names_[i] : nullptr;
      h.msg_namelen = from ? sizeof(sockaddr_storage) : 0;
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = nullptr;
      h.msg_controllen = 0;
      h.msg_flags = 0;
      mmsg_[i].msg_len = 0;
    }
    int r;
    do {
      // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit (netlink)
      r = recvmmsg(fd_, mmsg_.data(), static_cast<unsigned int>(n), MSG_DONTWAIT | MSG_TRUNC, nullptr);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Napi::Number::New(env, -errno);
    int32_t* out = lengths.Data();
    for (int i = 0; i < r; i++) {
      uint32_t got = mmsg_[i].msg_len;
      // a protocol that ignores MSG_TRUNC in the flags still sets it in msg_flags
      if ((mmsg_[i].msg_hdr.msg_flags & MSG_TRUNC) && got <= static_cast<uint32_t>(slot)) got = static_cast<uint32_t>(slot) + 1;
      out[i] = got > INT32_MAX ? INT32_MAX : static_cast<int32_t>(got);
      if (!from) continue;
      uint8_t* f = from + i * 20;
      memset(f, 0, 20);
      const sockaddr_storage& a = names_[i];
      if (a.ss_family == AF_INET) {
        f[0] = 4;
        memcpy(f + 2, &reinterpret_cast<const sockaddr_in*>(&a)->sin_port, 2);
        memcpy(f + 4, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, 4);
      } else if (a.ss_family == AF_INET6) {
        f[0] = 6;
        memcpy(f + 2, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port, 2);
        memcpy(f + 4, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, 16);
      }
    }
    return Napi::Number::New(env, r);
  }

  // wait(timeoutMs) -> 1 readable, 0 timed out, -errno. Blocks the thread: for CLI tools only.
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    int timeout = info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : -1;
    pollfd p{fd_, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, timeout);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Napi::Number::New(env, -errno);
    return Napi::Number::New(env, r > 0 ? 1 : 0);
  }

  // watch(cb): call cb() from the event loop whenever the socket is readable. The callback drains
  // the socket with recv() / recvMany() (level-triggered: what it leaves is reported again).
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    if (!info[0].IsFunction()) {
      Napi::TypeError::New(env, "watch(callback)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    on_readable_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!async_) async_ = std::make_unique<Napi::AsyncContext>(env, "ctsync:netlink");
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      int err = uv_poll_init(loop, poll_, fd_);
      if (err < 0) {
        delete poll_;
        poll_ = nullptr;
        return ThrowErrno(env, -err, "uv_poll_init");
      }
      poll_->data = this;
      Ref();  // keep the JS object alive while libuv holds a pointer to us
    }
    int err = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (err < 0) return ThrowErrno(env, -err, "uv_poll_start");
    if (!referenced_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return env.Undefined();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    NlSocket* self = static_cast<NlSocket*>(handle->data);
    if (self->on_readable_.IsEmpty()) return;
    // libuv stops a poll handle that reports POLLERR, and a netlink socket reports POLLERR after
    // an overrun (sk_err = ENOBUFS). Re-arm it: recv() in the callback returns -ENOBUFS once,
    // which clears the error, and the socket keeps delivering.
    if (status < 0) uv_poll_start(handle, UV_READABLE, OnPoll);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->on_readable_.MakeCallback(self->Value(), {}, *self->async_);
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    StopPoll();
    return info.Env().Undefined();
  }

  void StopPoll() {
    if (!poll_) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    on_readable_.Reset();
    Unref();
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    referenced_ = true;
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    referenced_ = false;
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  void CloseFd() {
    if (fd_ >= 0) {
      if (owned_) ::close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPoll();
    CloseFd();
    return info.Env().Undefined();
  }

  // loopback([errorEvery]): from now on nothing is sent to the kernel (see loopback.h). For
  // warming up the JavaScript that drives the socket on the very objects it will use for real.
  // Called again, it changes errorEvery and keeps the replies queued and the counts.
  Napi::Value Loopback(const Napi::CallbackInfo& info) {
    uint32_t error_every = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    if (loopback_) {
      loopback_->SetErrorEvery(error_every);
    } else {
      loopback_ = std::make_unique<LoopbackKernel>(error_every);
    }
    return info.Env().Undefined();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  // ignorePorts([portId...]): a classic BPF filter that drops, in the kernel, every message whose
  // nlmsg_pid is one of these port ids: the events our own commit sockets cause. A commit of a
  // million entries then costs the event socket nothing (conntrackd overruns it instead).
  // An empty list removes the filter.
  Napi::Value IgnorePorts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Array ports = info[0].As<Napi::Array>();
    uint32_t n = ports.Length();
    if (n == 0) {
      int dummy = 0;
      setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy));
      return env.Undefined();
    }
    if (n > 200) {
      Napi::RangeError::New(env, "ignorePorts: at most 200 ports").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::vector<sock_filter> prog;
    // A = 32-bit load at offset 12 (nlmsg_pid), read big-endian by BPF: compare byte-swapped
    prog.push_back(sock_filter{BPF_LD | BPF_W | BPF_ABS, 0, 0, 12});
    for (uint32_t i = 0; i < n; i++) {
      uint32_t pid = ports.Get(i).As<Napi::Number>().Uint32Value();
      uint32_t k = __builtin_bswap32(pid);
      // jump to the final "drop" if equal: it sits (n - i) instructions further on
      prog.push_back(sock_filter{BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint8_t>(n - i), 0, k});
    }
    prog.push_back(sock_filter{BPF_RET | BPF_K, 0, 0, 0xffffffff});
    prog.push_back(sock_filter{BPF_RET | BPF_K, 0, 0, 0});
    sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
    if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0) return ThrowErrno(env, errno, "setsockopt(SO_ATTACH_FILTER)");
    return env.Undefined();
  }
};

}  // namespace

void RegisterNetlinkSocket(Napi::Env env, Napi::Object exports) { NlSocket::Init(env, exports); }

}  // namespace ctsync
