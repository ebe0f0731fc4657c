// What lib/fast-io.ts needs from the core when a V8 fast call (native/node/
// fast_calls.cc) returned -errno instead of a byte count: the same Error the
// N-API path throws (a fast call may not allocate). EINTR is not handled
// here: the call goes on in io.cc's <syscall>Interrupted entries, which run
// the signal handlers and revalidate exactly as Blocking() does.
#include "common.h"

namespace sockfd {
namespace {

// The syscall names fast calls make; anything else is a caller's bug (TypeError).
const char* KnownSyscall(const std::string& name) {
  for (const char* known : {"send", "recv", "read", "write", "socket", "close", "connect", "accept", "accept4", "shutdown",
                            "setsockopt", "clock_gettime"})
    if (name == known) return known;
  return nullptr;
}

// errnoError(syscall, errno) -> the perror-style Error of ErrnoError (not thrown).
Napi::Value ErrnoErrorValue(const Napi::CallbackInfo& info) {
  const char* syscall = KnownSyscall(ArgString(info, 0, "syscall"));
  if (syscall == nullptr) ThrowTypeError(info.Env(), "syscall must be one of send, recv, read, write, socket, close, connect, accept, accept4, shutdown, setsockopt, clock_gettime");
  int err = static_cast<int>(ArgInt(info, 1, "errno", 1, 4095));
  return ErrnoError(info.Env(), syscall, err).Value();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("errnoError", Napi::Function::New(env, ErrnoErrorValue, "errnoError"));
}

}  // namespace
SOCKFD_REGISTER(fast_fallback, Init);
}  // namespace sockfd
