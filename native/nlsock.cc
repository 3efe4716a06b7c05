// Minimal netlink socket for ctsync.
//
// Why our own addon instead of the `netlink` npm package: we need SO_RCVBUFFORCE/SO_SNDBUFFORCE
// (event buffers far above rmem_max), SOL_NETLINK options (NO_ENOBUFS, CAP_ACK, EXT_ACK,
// BROADCAST_ERROR), ENOBUFS reported as a return value instead of an 'error' event that can take the
// process down, and zero-allocation receive into a caller-owned buffer for fast dumps and commits.
// Everything protocol-related lives in TypeScript; this file only moves bytes.
//
// Error convention on the hot path (send/recv/wait): a negative return value is -errno.
// Setup calls (constructor, bind, setsockopt) throw an Error with .errno and .syscall.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <cstring>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <array>
#include <deque>
#include <vector>

namespace {

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("code", Napi::String::New(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

class NlSocket : public Napi::ObjectWrap<NlSocket> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
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
    return exports;
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
  // Loopback mode (warm-up only): send() reaches no kernel; recv() returns what the kernel would
  // answer a batch: an error per failed request, then the ACK of the message that asked for one.
  // With loopback_errors_ = n, every n-th conntrack create fails with EEXIST and every n-th
  // create-or-update (no NLM_F_EXCL) with EBUSY, so that a warm-up runs the code a commit runs
  // for entries the table already has.
  bool loopback_ = false;
  uint32_t loopback_errors_ = 0;
  uint32_t loopback_creates_ = 0;
  uint32_t loopback_updates_ = 0;
  std::deque<std::array<uint8_t, sizeof(nlmsghdr) + sizeof(nlmsgerr)>> loopback_replies_;
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
    if (loopback_) return LoopbackSend(env, data, len);
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
    if (loopback_) return LoopbackRecv(env, data, len);
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
    // from: 20 bytes per datagram, the sender (UDP): family (4 or 6) at 0, address at 4..
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
      for (; i < n && !loopback_replies_.empty(); i++) {
        Napi::Value got = LoopbackRecv(env, data + i * static_cast<size_t>(slot), static_cast<size_t>(slot));
        lengths.Data()[i] = got.As<Napi::Number>().Int32Value();
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
        memcpy(f + 4, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, 4);
      } else if (a.ss_family == AF_INET6) {
        f[0] = 6;
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

  // loopback([errorEvery]): from now on nothing is sent to the kernel (see loopback_). For
  // warming up the JavaScript that drives the socket on the very objects it will use for real.
  Napi::Value Loopback(const Napi::CallbackInfo& info) {
    loopback_ = true;
    loopback_errors_ = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    return info.Env().Undefined();
  }

  // Queues an NLMSG_ERROR (error 0: an ACK) echoing the request's header, capped: no payload.
  void LoopbackReply(const nlmsghdr& req, int error) {
    std::array<uint8_t, sizeof(nlmsghdr) + sizeof(nlmsgerr)> msg{};
    nlmsghdr h{};
    h.nlmsg_len = msg.size();
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_flags = NLM_F_CAPPED;
    h.nlmsg_seq = req.nlmsg_seq;
    h.nlmsg_pid = port_id_;  // as the kernel addresses its replies
    nlmsgerr e{};
    e.error = -error;
    e.msg = req;
    e.msg.nlmsg_len = sizeof(nlmsghdr);
    memcpy(msg.data(), &h, sizeof(h));
    memcpy(msg.data() + sizeof(h), &e, sizeof(e));
    loopback_replies_.push_back(msg);
  }

  Napi::Value LoopbackSend(Napi::Env env, const uint8_t* data, size_t len) {
    constexpr uint16_t kCtNew = (1 << 8) | 0;  // NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW
    size_t off = 0;
    while (off + sizeof(nlmsghdr) <= len) {
      nlmsghdr h;
      memcpy(&h, data + off, sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) break;
      if (loopback_errors_ > 0 && h.nlmsg_type == kCtNew) {
        if (h.nlmsg_flags & NLM_F_EXCL) {
          if (++loopback_creates_ % loopback_errors_ == 0) LoopbackReply(h, EEXIST);
        } else if (++loopback_updates_ % loopback_errors_ == 0) {
          LoopbackReply(h, EBUSY);
        }
      }
      if (h.nlmsg_flags & NLM_F_ACK) LoopbackReply(h, 0);
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
    return Napi::Number::New(env, static_cast<double>(len));
  }

  Napi::Value LoopbackRecv(Napi::Env env, uint8_t* data, size_t len) {
    if (loopback_replies_.empty()) return Napi::Number::New(env, -EAGAIN);
    const auto& msg = loopback_replies_.front();
    memcpy(data, msg.data(), len < msg.size() ? len : msg.size());
    loopback_replies_.pop_front();
    return Napi::Number::New(env, static_cast<double>(sizeof(nlmsghdr) + sizeof(nlmsgerr)));
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

// setsockoptInt(fd, level, name, value): socket options Node's dgram does not offer (SO_NO_CHECK
// for `Checksum off`, SO_BINDTODEVICE, SO_RCVBUFFORCE) on the fd of a dgram socket.
Napi::Value SetSockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int value = info[3].As<Napi::Number>().Int32Value();
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

// sendMany(fd, buffer, lengths: Int32Array, start, count) -> datagrams sent (>= 1), or -errno.
// For a connected datagram socket (the sync channel's tx socket): datagram i is the next
// lengths[i] bytes of buffer, packed back to back from offset 0; sends datagrams
// start .. start + count - 1 with one sendmmsg(2) (MSG_DONTWAIT). Fewer than count sent means
// the next one failed: call again from there to learn why (-EAGAIN / -ENOBUFS: the send buffer
// or device queue is full; anything else: that datagram is refused).
Napi::Value SendMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[3].IsNumber() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "sendMany(fd, Uint8Array, Int32Array, start, count)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  uint8_t* data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  size_t len = ta.ByteLength();
  Napi::Int32Array lengths = info[2].As<Napi::Int32Array>();
  int64_t start = info[3].As<Napi::Number>().Int64Value();
  int64_t count = info[4].As<Napi::Number>().Int64Value();
  size_t total = lengths.ElementLength();
  if (start < 0 || count < 0 || static_cast<size_t>(start) + static_cast<size_t>(count) > total) {
    Napi::RangeError::New(env, "sendMany: start/count out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (count > 1024) count = 1024;  // UIO_MAXIOV
  if (count == 0) return Napi::Number::New(env, 0);
  const int32_t* l = lengths.Data();
  size_t off = 0;
  for (int64_t i = 0; i < start; i++) off += static_cast<size_t>(l[i]);
  static thread_local std::vector<mmsghdr> msgs;
  static thread_local std::vector<iovec> iov;
  if (msgs.size() < static_cast<size_t>(count)) {
    msgs.resize(count);
    iov.resize(count);
  }
  for (int64_t i = 0; i < count; i++) {
    int32_t dl = l[start + i];
    if (dl < 0 || off + static_cast<size_t>(dl) > len) {
      Napi::RangeError::New(env, "sendMany: lengths exceed the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    iov[i].iov_base = data + off;
    iov[i].iov_len = static_cast<size_t>(dl);
    off += static_cast<size_t>(dl);
    msghdr& h = msgs[i].msg_hdr;
    memset(&h, 0, sizeof(h));
    h.msg_iov = &iov[i];
    h.msg_iovlen = 1;
    msgs[i].msg_len = 0;
  }
  int r;
  do {
    r = sendmmsg(fd, msgs.data(), static_cast<unsigned int>(count), MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? -errno : r);
}

// setsockoptString(fd, level, name, value): e.g. SO_BINDTODEVICE with an interface name.
Napi::Value SetSockoptString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  std::string value = info[3].As<Napi::String>().Utf8Value();
  if (setsockopt(fd, level, name, value.c_str(), value.size() + 1) < 0) return ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

Napi::Value GetSockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
  return Napi::Number::New(env, value);
}

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

// setThreadScheduler(policy, priority): sched_setscheduler(2) for the calling thread only (on
// Linux a pid of 0 names the calling thread, not the process): conntrackd's `Scheduler`
// clause for the thread that runs the event and sync loop. Node's other threads keep their
// policy; making them all real-time livelocked a 2-CPU machine. Returns 0 or -errno.
Napi::Value SetThreadScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "setThreadScheduler(policy, priority)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct sched_param param {};
  param.sched_priority = info[1].As<Napi::Number>().Int32Value();
  if (sched_setscheduler(0, info[0].As<Napi::Number>().Int32Value(), &param) != 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
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

// A lock word shared by threads (an Int32Array over a SharedArrayBuffer): 0 free, 1 held, 2 held
// with waiters (the classic futex mutex). In native code rather than with Atomics.wait: a
// JavaScript wait path never taken during a warm-up deoptimizes its caller the first time a
// thread has to wait, mid-commit.
static int32_t* TurnWord(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(info.Env(), "turn word: Int32Array expected").ThrowAsJavaScriptException();
    return nullptr;
  }
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  if (a.ElementLength() < 1) {
    Napi::RangeError::New(info.Env(), "turn word: empty Int32Array").ThrowAsJavaScriptException();
    return nullptr;
  }
  return a.Data();
}

static long Futex(int32_t* word, int op, int32_t value) {
  return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, value, nullptr, nullptr, 0);
}

static inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long a thread waiting for its turn spins before it sleeps: longer than a batch's sendmsg.
static constexpr long kTurnSpinNs = 5 * 1000 * 1000;

// turnAcquire(word): blocks the calling thread until it holds the word.
Napi::Value TurnAcquire(const Napi::CallbackInfo& info) {
  int32_t* w = TurnWord(info);
  if (!w) return info.Env().Undefined();
  int32_t c = 0;
  if (__atomic_compare_exchange_n(w, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return info.Env().Undefined();
  // Spin first: the holder is in one sendmsg of a few milliseconds, and this thread has nothing
  // else to do. Sleeping on the futex instead costs a wake-up per turn, and a halted virtual CPU
  // wakes slowly (seen: 0.2 ms per turn, 5-10% of a commit with the kernel idle meanwhile).
  timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t i = 1;; i++) {
    c = __atomic_load_n(w, __ATOMIC_RELAXED);
    if (c == 0) {
      if (__atomic_compare_exchange_n(w, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return info.Env().Undefined();
    }
    CpuRelax();
    if ((i & 63) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > kTurnSpinNs) break;
    }
  }
  if (c != 2) c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    Futex(w, FUTEX_WAIT, 2);
    c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
  }
  return info.Env().Undefined();
}

// turnRelease(word): lets the next thread in (wakes one waiter, if any).
Napi::Value TurnRelease(const Napi::CallbackInfo& info) {
  int32_t* w = TurnWord(info);
  if (!w) return info.Env().Undefined();
  if (__atomic_fetch_sub(w, 1, __ATOMIC_RELEASE) != 1) {
    __atomic_store_n(w, 0, __ATOMIC_RELEASE);
    Futex(w, FUTEX_WAKE, 1);
  }
  return info.Env().Undefined();
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("turnAcquire", Napi::Function::New(env, TurnAcquire));
  exports.Set("turnRelease", Napi::Function::New(env, TurnRelease));
  exports.Set("peerUid", Napi::Function::New(env, PeerUid));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetSockoptInt));
  exports.Set("setsockoptString", Napi::Function::New(env, SetSockoptString));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetSockoptInt));
  exports.Set("sendMany", Napi::Function::New(env, SendMany));
  exports.Set("setThreadScheduler", Napi::Function::New(env, SetThreadScheduler));
  exports.Set("execv", Napi::Function::New(env, Execv));
  return NlSocket::Init(env, exports);
}

}  // namespace

NODE_API_MODULE(nlsock, InitAll)
