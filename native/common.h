// Shared helpers for every native concern: registration, errno errors,
// argument validation and the EINTR policy. Each .cc file registers its own
// exports with SOCKFD_REGISTER, so adding a concern never edits another file.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sockfd {

// ---- registration ---------------------------------------------------------
using InitFn = void (*)(Napi::Env env, Napi::Object exports);
struct Registrar {
  Registrar(const char* name, InitFn fn);
};
void InitAll(Napi::Env env, Napi::Object exports);
#define SOCKFD_REGISTER(name, fn) \
  static ::sockfd::Registrar sockfd_registrar_##name(#name, fn)

// The shared `constants` object of the exports, created by whichever concern
// registers first; every concern adds the constants of its own headers.
Napi::Object ConstantsObject(Napi::Env env, Napi::Object exports);

// ---- errors ---------------------------------------------------------------
// An Error whose message reads like perror ("bind: Address already in use")
// and which carries code ('EADDRINUSE'), errno (positive, as in C) and syscall.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);
// Name of an errno value ("EADDRINUSE"), or "E<number>" when unknown.
std::string ErrnoName(int err);
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);

// ---- arguments ------------------------------------------------------------
// Every argument is validated before any system call: wrong types throw
// TypeError, out-of-range values RangeError. `name` appears in the message.
int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name = "fd");
int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name,
               int64_t min, int64_t max);
// Like ArgInt, but undefined (or a missing argument) yields `fallback`.
int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t index, const char* name,
                 int64_t min, int64_t max, int64_t fallback);
bool IsMissing(const Napi::CallbackInfo& info, size_t index);
std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name);

// A byte range inside a JS value. For strings, `owned` holds the UTF-8 copy;
// data() is computed on use so that moving a Bytes never leaves it dangling.
struct Bytes {
  uint8_t* base = nullptr;
  size_t start = 0;
  size_t length = 0;
  bool isOwned = false;
  std::string owned;
  uint8_t* data() {
    return (isOwned ? reinterpret_cast<uint8_t*>(owned.data()) : base) + start;
  }
};
enum class StringPolicy { Refuse, AcceptUtf8 };
// Reads a Buffer, any TypedArray, DataView or ArrayBuffer (byteOffset and
// byteLength honoured) or, when allowed, a string. Optional offset/length
// arguments at offsetIndex and offsetIndex+1 narrow the range; they are
// checked against the view's length (RangeError).
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name,
               StringPolicy strings, size_t offsetIndex);
// A buffer to receive into: as ArgBytes, but a zero-length range is a
// RangeError (its 0 result would read as end of stream).
Bytes ArgReceiveBuffer(const Napi::CallbackInfo& info, size_t index, size_t offsetIndex, const char* syscall);
// send/recv flags (MSG_*), 0 when omitted.
int ArgFlags(const Napi::CallbackInfo& info, size_t index);
// A byte count as a JS number.
inline Napi::Value Count(Napi::Env env, ssize_t n) { return Napi::Number::New(env, static_cast<double>(n)); }
// The same for a value that is not a call argument (arrays of buffers).
Bytes ValueBytes(Napi::Env env, napi_value value, const char* name, StringPolicy strings);

// ---- EINTR ----------------------------------------------------------------
// Runs the JS handlers of signals that arrived (installed through signal()).
// Throws the handler's exception as a C++ Napi::Error. Defined in signals.cc.
void RunPendingSignalHandlers(Napi::Env env);
// Whether blocking calls resume after EINTR (default) or report it.
bool RestartAfterSignal();

// After a call failed with EINTR: runs the JS handlers of the signals that
// arrived, then returns so the caller can resume, or throws `syscall: EINTR`
// when the process asked for that with setRestartAfterSignal(false).
inline void HandleInterruption(Napi::Env env, const char* syscall) {
  RunPendingSignalHandlers(env);
  if (!RestartAfterSignal()) ThrowErrno(env, syscall, EINTR);
}

// Runs a system call that may block. On EINTR the JS handlers of the signals
// that arrived run first, then the call resumes (or throws EINTR when the
// process asked for that with setRestartAfterSignal(false)). Any other
// failure throws the perror-style error. Never spins: EINTR only comes back
// when a signal really arrived.
template <typename Call>
auto Blocking(Napi::Env env, const char* syscall, Call&& call) -> decltype(call()) {
  for (;;) {
    auto result = call();
    if (result != -1) return result;
    int err = errno;
    if (err != EINTR) ThrowErrno(env, syscall, err);
    HandleInterruption(env, syscall);
  }
}

// Calls that never block: EINTR is impossible or handled by the kernel.
template <typename Call>
auto Checked(Napi::Env env, const char* syscall, Call&& call) -> decltype(call()) {
  auto result = call();
  if (result == -1) ThrowErrno(env, syscall, errno);
  return result;
}

}  // namespace sockfd
