// The turn lock: see turn-lock.h.
#include "turn-lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

namespace ctsync {

namespace {

// The lock word: element 0 of the Int32Array argument.
int32_t* TurnWord(const Napi::CallbackInfo& info) {
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

long Futex(int32_t* word, int op, int32_t value) {
  return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, value, nullptr, nullptr, 0);
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long a thread waiting for its turn spins before it sleeps: longer than a batch's sendmsg.
constexpr long kTurnSpinNs = 5 * 1000 * 1000;

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

}  // namespace

void RegisterTurnLock(Napi::Env env, Napi::Object exports) {
  exports.Set("turnAcquire", Napi::Function::New(env, TurnAcquire));
  exports.Set("turnRelease", Napi::Function::New(env, TurnRelease));
}

}  // namespace ctsync
