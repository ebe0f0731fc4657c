// What lib/fast-io.ts needs from the core when a V8 fast call (native/node/
// fast_calls.cc) returned -errno instead of a byte count: the same Error the
// N-API path throws, and the same EINTR policy. A fast call can do neither
// itself (it may not allocate or run JS).
#include "common.h"

namespace sockfd {
namespace {

// The syscall names fast calls make; anything else is a caller's bug (TypeError).
const char* KnownSyscall(const std::string& name) {
  for (const char* known : {"send", "recv", "read", "write"})
    if (name == known) return known;
  return nullptr;
}

// errnoError(syscall, errno) -> the perror-style Error of ErrnoError (not thrown).
Napi::Value ErrnoErrorValue(const Napi::CallbackInfo& info) {
  const char* syscall = KnownSyscall(ArgString(info, 0, "syscall"));
  if (syscall == nullptr) ThrowTypeError(info.Env(), "syscall must be one of send, recv, read, write");
  int err = static_cast<int>(ArgInt(info, 1, "errno", 1, 4095));
  return ErrnoError(info.Env(), syscall, err).Value();
}

// interrupted(syscall): after EINTR, runs the JS handlers of the signals that
// arrived, then returns (the caller calls again), or throws `syscall: EINTR`
// when the process asked for that with setRestartAfterSignal(false).
Napi::Value Interrupted(const Napi::CallbackInfo& info) {
  const char* syscall = KnownSyscall(ArgString(info, 0, "syscall"));
  if (syscall == nullptr) ThrowTypeError(info.Env(), "syscall must be one of send, recv, read, write");
  HandleInterruption(info.Env(), syscall);
  return info.Env().Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("errnoError", Napi::Function::New(env, ErrnoErrorValue, "errnoError"));
  exports.Set("interrupted", Napi::Function::New(env, Interrupted, "interrupted"));
}

}  // namespace
SOCKFD_REGISTER(fast_fallback, Init);
}  // namespace sockfd
