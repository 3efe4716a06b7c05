// The service manager's notification socket: see sd-notify.h.
#include "sd-notify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ctsync {

namespace {

// Fills `addr` from $NOTIFY_SOCKET's value; returns the address length, or -errno.
int NotifyAddress(const std::string& address, struct sockaddr_un* addr) {
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@')) return -EINVAL;
  // a path needs its terminating NUL inside sun_path; an abstract name does not
  size_t room = sizeof(addr->sun_path) - (address[0] == '/' ? 1 : 0);
  if (address.size() > room) return -ENAMETOOLONG;
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, address.data(), address.size());
  if (address[0] == '@') addr->sun_path[0] = '\0';
  // an abstract name is exactly its bytes (no trailing NUL counted), a path its bytes and the NUL
  return static_cast<int>(offsetof(struct sockaddr_un, sun_path) + address.size() + (address[0] == '/' ? 1 : 0));
}

// sdNotify(address, message): 0 or -errno.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "sdNotify(address, message)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string address = info[0].As<Napi::String>().Utf8Value();
  std::string message = info[1].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  int addrLen = NotifyAddress(address, &addr);
  if (addrLen < 0) return Napi::Number::New(env, addrLen);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  ssize_t sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr),
                        static_cast<socklen_t>(addrLen));
  int err = sent < 0 ? errno : 0;
  close(fd);
  return Napi::Number::New(env, -err);
}

}  // namespace

void RegisterSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
}

}  // namespace ctsync
