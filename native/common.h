// Shared helpers for every native concern: registration, errno errors,
// argument validation and the EINTR policy. Each .cc file registers its own
// exports with SOCKFD_REGISTER, so adding a concern never edits another file.
#pragma once

#include "async_poll.h"  // FdGeneration, for Attempt

// A Worker can be terminated while a native call builds or throws an Error:
// N-API then refuses to throw, and node-addon-api (throwing again from inside
// its own catch, in a noexcept wrapper) would call std::terminate and kill the
// whole process. With SWALLOW_UNTHROWABLE_EXCEPTIONS an exception that cannot
// be thrown because the environment is terminating is dropped: only that
// worker ends, as its termination asked. CPP_EXCEPTIONS_ALL turns any other
// C++ exception (std::bad_alloc, ...) that reaches a callback into a JS Error
// instead of std::terminate. Defined here and in the build files; every file
// must see the same napi.h.
#if defined(SRC_NAPI_H_) && !defined(NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS)
#error "include common.h before napi.h: the addon needs NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
#endif
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#ifndef NODE_ADDON_API_CPP_EXCEPTIONS_ALL
#define NODE_ADDON_API_CPP_EXCEPTIONS_ALL
#endif
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

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

// The one constants macro: SOCKFD_CONSTANT(AF_INET) adds the system header's
// value under its own name to the Napi::Object `constants` in scope (from
// ConstantsObject). Values come from the headers at build time, never typed in.
#define SOCKFD_CONSTANT(name) constants.Set(#name, Napi::Number::New(constants.Env(), static_cast<double>(name)))

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
// JS can run inside any native call: a getter or proxy trap on an argument, a
// valueOf, a signal handler during a blocking call. The rule every native
// follows:
//   1. convert every argument first (numbers, strings, address and option
//      objects, arrays); a Bytes only records the view and the range;
//   2. take raw pointers LAST, with Bytes::Acquire() inside the system call's
//      lambda, so nothing that can run JS lies between the pointer and the
//      call, and a call resumed after signal handlers acquires again.
// Wrong types throw TypeError, out-of-range values RangeError; `name` appears
// in the message. None of these helpers coerces (no valueOf/toString): they
// run no JS themselves.

// The one integer validator, for arguments and object fields alike: a number
// that is an integer in [min, max], or a bigint in range. NaN, +-Infinity and
// fractions are TypeErrors, finite integers out of range RangeErrors, all
// checked in double arithmetic BEFORE any cast. `field` (optional) names a
// property: "address.port".
int64_t ToInteger(Napi::Env env, napi_value value, const char* name, const char* field, int64_t min,
                  int64_t max);
// The hot path of ToInteger, one N-API call: true (and `out`) for a number
// that is an integer in [min, max]; false for anything else (undefined, a
// bigint, a wrong value), which the caller hands to ToInteger for the error.
inline bool IntegerInRange(napi_env env, napi_value value, int64_t min, int64_t max, int64_t& out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) return false;
  // [-2^63, 2^63) holds every int64: the cast is defined only inside it (NaN fails every comparison).
  if (!(number >= -9223372036854775808.0 && number < 9223372036854775808.0) || std::trunc(number) != number)
    return false;
  int64_t integer = static_cast<int64_t>(number);
  if (integer < min || integer > max) return false;
  out = integer;
  return true;
}
inline bool IsUndefinedValue(napi_env env, napi_value value) {
  napi_valuetype type = napi_object;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_undefined;
}
// An integer property of an options object, read once (a getter runs here,
// before any pointer is taken). undefined gives `fallback`.
int64_t FieldInt(Napi::Env env, Napi::Object object, const char* name, const char* key, int64_t min,
                 int64_t max, int64_t fallback);
// The same, where undefined is a TypeError.
int64_t RequiredFieldInt(Napi::Env env, Napi::Object object, const char* name, const char* key, int64_t min,
                         int64_t max);

// An integer argument in [min, max]. Inline: the hot path (a number in
// range) is one N-API call; everything else, errors included, is ToInteger's.
int64_t ArgIntChecked(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
inline int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  int64_t value = 0;
  if (index < info.Length() && IntegerInRange(info.Env(), info[index], min, max, value)) return value;
  return ArgIntChecked(info, index, name, min, max);
}
inline int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name = "fd") {
  return static_cast<int>(ArgInt(info, index, name, 0, INT32_MAX));
}
// Like ArgInt, but undefined (or a missing argument) yields `fallback`.
int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t index, const char* name,
                 int64_t min, int64_t max, int64_t fallback);
bool IsMissing(const Napi::CallbackInfo& info, size_t index);
std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name);

// Every count that sizes an allocation is checked against a bound first
// (RangeError), so no std::bad_alloc or length_error can reach N-API.
void CheckCount(Napi::Env env, const char* name, uint64_t count, uint64_t max);

// A validated byte range of a JS value (Buffer, TypedArray, DataView,
// ArrayBuffer, or a string copied as UTF-8). It holds the value, not its
// memory: Acquire() reads the view again and returns the pointer, right
// before the system call. A view that was detached, or resized so that the
// range no longer fits, since validation (by a getter of a later argument, or
// by a signal handler while the call waited) is an Error (code
// ERR_BUFFER_DETACHED / ERR_BUFFER_RESIZED), never a dangling pointer.
class Bytes {
 public:
  size_t length = 0;  // of the range, fixed at validation

  // The range's first byte, valid until JS runs again. Acquire in the call's lambda.
  uint8_t* Acquire(const char* syscall);

  // For ValueBytes / ArgBytes. `nameIsLiteral`: `name` outlives the Bytes
  // (a string literal) and is kept by pointer; otherwise it is copied.
  static Bytes Of(Napi::Env env, napi_value value, const char* name, bool acceptStrings, bool nameIsLiteral);
  void Narrow(size_t start, size_t length) {
    start_ = start;
    this->length = length;
  }
  size_t ViewLength() const { return viewLength_; }

 private:
  enum class Kind { TypedArray, DataView, ArrayBuffer, String };
  napi_env env_ = nullptr;
  napi_value value_ = nullptr;
  const char* name_ = "";  // a literal, or nameCopy_'s text (read through Name())
  std::string nameCopy_;    // callers of ValueBytes may pass a temporary's c_str()
  const char* Name() const { return nameCopy_.empty() ? name_ : nameCopy_.c_str(); }
  Kind kind_ = Kind::String;
  size_t start_ = 0;
  size_t viewLength_ = 0;
  std::string owned_;  // a string's UTF-8 copy: stable, no JS involved
};
enum class StringPolicy { Refuse, AcceptUtf8 };
// Reads a Buffer, any TypedArray, DataView or ArrayBuffer (byteOffset and
// byteLength honoured) or, when allowed, a string. Optional offset/length
// arguments at offsetIndex and offsetIndex+1 narrow the range; they are
// checked against the view's length (RangeError). `name`: a string literal
// (kept by pointer for the error message; ValueBytes copies its name).
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
// Runs the JS handlers of signals that arrived (installed through signal()),
// and says whether any had. Throws the handler's exception as a C++
// Napi::Error. Defined in signals.cc.
bool RunPendingSignalHandlers(Napi::Env env);
// Whether blocking calls resume after EINTR (default) or report it.
bool RestartAfterSignal(bool signalArrived);

// After a call failed with EINTR: runs the JS handlers of the signals that
// arrived, then returns so the caller can resume, or throws `syscall: EINTR`
// when the process asked for that with setRestartAfterSignal(false).
inline void HandleInterruption(Napi::Env env, const char* syscall) {
  bool signalArrived = RunPendingSignalHandlers(env);
  if (!RestartAfterSignal(signalArrived)) ThrowErrno(env, syscall, EINTR);
}

// The open files behind the fds a call acts on, taken when the call was
// interrupted (no JS ran since it was made). After the signal handlers ran,
// Check() throws `syscall: ...` with code EBADF when a handler closed an fd,
// or closed it and opened something else under its number: a resumed call
// must act on the file it was given. Costs nothing unless a signal arrived.
class OpenFiles {
 public:
  OpenFiles(std::initializer_list<int> fds);
  void Check(Napi::Env env, const char* syscall) const;

 private:
  struct Identity {
    int fd;
    bool open;
    uint64_t device, inode;
  };
  Identity files_[2];
  size_t count_ = 0;
};

// HandleInterruption, then the check that `fds` still name the same files.
inline void HandleInterruption(Napi::Env env, const char* syscall, std::initializer_list<int> fds) {
  OpenFiles files(fds);
  HandleInterruption(env, syscall);
  files.Check(env, syscall);
}

// Runs a system call that may block on the fds `fds` (at most two). On EINTR
// the JS handlers of the signals that arrived run first, the fds are checked
// (OpenFiles), then the call resumes - its lambda acquires its buffers again
// (Bytes::Acquire), so a buffer a handler detached or shrank is an Error, not
// a kernel write into freed memory. setRestartAfterSignal(false) reports EINTR
// instead. Any other failure throws the perror-style error. Never spins:
// EINTR only comes back when a signal really arrived.
template <typename Call>
auto Blocking(Napi::Env env, const char* syscall, std::initializer_list<int> fds, Call&& call)
    -> decltype(call()) {
  for (;;) {
    auto result = call();
    if (result != -1) return result;
    int err = errno;
    if (err != EINTR) ThrowErrno(env, syscall, err);
    HandleInterruption(env, syscall, fds);
  }
}
// For calls that act on no fd (open, waitpid).
template <typename Call>
auto Blocking(Napi::Env env, const char* syscall, Call&& call) -> decltype(call()) {
  return Blocking(env, syscall, {}, std::forward<Call>(call));
}

// The non-blocking twin of Blocking, for the async calls' attempts (tryRecv,
// trySend, tryAccept, ...) that sit beside their blocking twins.
// One non-blocking call: the result, or -EAGAIN when it would block. EINTR
// runs the JS signal handlers and tries again (as Blocking does) - unless a
// handler closed the fd: then the number may be another socket's already.
// Any other failure throws.
template <typename Call>
auto Attempt(Napi::Env env, int fd, const char* syscall, Call&& call) -> decltype(call()) {
  for (;;) {
    auto result = call();
    if (result != -1) return result;
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return -EAGAIN;
    if (err != EINTR) ThrowErrno(env, syscall, err);
    uint32_t generation = FdGeneration(fd);
    HandleInterruption(env, syscall);
    if (FdGeneration(fd) != generation) {
      Napi::Error error = ErrnoError(env, syscall, EBADF);
      error.Value().Set("message", std::string(syscall) + ": fd " + std::to_string(fd) +
                                       " was closed by a signal handler during the call (Bad file descriptor)");
      error.Value().Set("fd", fd);
      throw error;
    }
  }
}

// accept and connect have no per-call "don't wait" flag: their attempts put
// the fd in non-blocking mode (as net does) before the call.
void MakeNonBlocking(Napi::Env env, int fd, const char* syscall);

// Calls that never block: EINTR is impossible or handled by the kernel.
template <typename Call>
auto Checked(Napi::Env env, const char* syscall, Call&& call) -> decltype(call()) {
  auto result = call();
  if (result == -1) ThrowErrno(env, syscall, errno);
  return result;
}

}  // namespace sockfd
