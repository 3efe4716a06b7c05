// The sync channel's UDP sockets: see udp-batch.h.
#include "udp-batch.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "js-error.h"

namespace ctsync {

namespace {

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
  // the datagrams before `start` only place the first one: checked as those after it are, so a
  // negative or oversized length cannot move the offset outside the buffer
  for (int64_t i = 0; i < start; i++) {
    if (l[i] < 0 || off + static_cast<size_t>(l[i]) > len) {
      Napi::RangeError::New(env, "sendMany: lengths exceed the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    off += static_cast<size_t>(l[i]);
  }
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

}  // namespace

void RegisterUdpBatch(Napi::Env env, Napi::Object exports) {
  exports.Set("setsockoptInt", Napi::Function::New(env, SetSockoptInt));
  exports.Set("setsockoptString", Napi::Function::New(env, SetSockoptString));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetSockoptInt));
  exports.Set("sendMany", Napi::Function::New(env, SendMany));
}

}  // namespace ctsync
