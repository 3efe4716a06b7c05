// Errors the addon throws to JavaScript: see js-error.h.
#include "js-error.h"

#include <cstring>
#include <string>

namespace ctsync {

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("code", Napi::String::New(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace ctsync
