// V8 fast API calls for a connection's life cycle: connect (to a sockaddr
// encoded once in JS, lib/sockaddr-bytes.ts), acceptFd, shutdown and setsockopt with
// an int value. Together with fast_calls.cc's socket and close they make the
// whole connect + accept + close of a client and a server fast calls
// (lib/fast-socket.ts is their JS side).
//
// The contract of every fast function (v8_fast_api.h): no JS, no allocation,
// no exception; one system call; an int32 that is the result (>= 0), -errno,
// or kFallback: an argument the fast path does not take (a non-integer fd, an
// option whose number means something else...), no system call made, and the
// N-API function then validates and throws exactly as before. An EINTR is
// handed back as -EINTR: lib/fast-socket.ts goes on in one N-API entry
// (connectInterrupted, acceptFdInterrupted) that runs the signal handlers and
// checks the fd as Blocking() does. Numbers come as doubles so that the C side
// sees the exact value (an int32 parameter would let V8 truncate 1.5 to 1).
//
// Never against another V8: the same checks as fast_calls.cc (Unavailable).
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>
#include <string>

#include "raw_syscall.h"
#include "v8_fast_api.h"

namespace sockfd_node {
namespace {
using namespace fast_api;

#ifdef SOCKFD_FAST_CALLS

// ---- connect(fd, sockaddr bytes) ----------------------------------------------
// The bytes are a whole sockaddr_in or sockaddr_in6 (exactly its size, its
// family field matching), as lib/sockaddr-bytes.ts encodes them: anything else is
// the N-API path's (kFallback). They are copied to the stack before the call
// (a view's bytes need not be aligned for sockaddr).
inline int32_t ConnectCall(double fd, const uint8_t* bytes, size_t length) {
  int descriptor;
  if (!IntegerIn(fd, INT32_MAX, &descriptor) || bytes == nullptr) return kFallback;
  sockaddr_storage address;
  if (length == sizeof(sockaddr_in) || length == sizeof(sockaddr_in6)) {
    std::memcpy(&address, bytes, length);
  } else {
    return kFallback;
  }
  sa_family_t family = address.ss_family;
  if (!((family == AF_INET && length == sizeof(sockaddr_in)) || (family == AF_INET6 && length == sizeof(sockaddr_in6))))
    return kFallback;
#ifdef SOCKFD_RAW_SYSCALLS
  // The system call without glibc's cancellation bracket (raw_syscall.h): 0 or -errno.
  return static_cast<int32_t>(SystemCall(SYS_connect, descriptor, reinterpret_cast<long>(&address), static_cast<long>(length)));
#else
  if (::connect(descriptor, reinterpret_cast<const sockaddr*>(&address), static_cast<socklen_t>(length)) == 0) return 0;
  return -errno;
#endif
}

#if SOCKFD_FAST_CALLS < 130
int32_t FastConnect(v8::Local<v8::Value> receiver, double fd, const v8::FastApiTypedArray<uint8_t>& address) {
  CountFast();
  uint8_t* bytes = nullptr;
  if (!address.getStorageIfAligned(&bytes)) return kFallback;  // always aligned for uint8_t
  return ConnectCall(fd, bytes, address.length());
}
#else
// V8 13: the view as a Local<Value> (fast_calls.cc's Fast<op> says why
// GetContents is allocation-free and cannot CHECK-fail with HasBuffer and
// ByteLength checked first). A sockaddr fits the stack storage even when the
// view is on the V8 heap.
int32_t FastConnect(v8::Local<v8::Value> receiver, double fd, v8::Local<v8::Value> address) {
  CountFast();
  if (!address->IsUint8Array()) return kFallback;
  v8::Local<v8::Uint8Array> view = address.As<v8::Uint8Array>();
  uint8_t storage[sizeof(sockaddr_in6)];
  size_t length = view->ByteLength();
  if (length > sizeof storage) return kFallback;
  v8::MemorySpan<uint8_t> contents = view->GetContents(v8::MemorySpan<uint8_t>(storage, sizeof storage));
  if (contents.size() < length) return kFallback;
  return ConnectCall(fd, contents.data(), length);
}
#endif

// From unoptimized code: type checks and reads of the view only (no JS).
void SlowConnect(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 2 && info[0]->IsNumber() && info[1]->IsUint8Array()) {
    v8::Local<v8::Uint8Array> view = info[1].As<v8::Uint8Array>();
    uint8_t storage[sizeof(sockaddr_in6)];
    size_t length = view->ByteLength();
    // CopyContents: no backing store is made for an on-heap view.
    if (length <= sizeof storage && view->CopyContents(storage, length) == length)
      result = ConnectCall(info[0].As<v8::Number>()->Value(), storage, length);
  }
  info.GetReturnValue().Set(result);
}

const v8::CTypeInfo kConnectSignature[] = {kReceiverType, kDoubleType, kViewType};

// ---- acceptFd(fd, flags) ----------------------------------------------------------
// accept4(fd, NULL, NULL, flags): no address, the new fd or -errno.
inline int32_t AcceptCall(double fd, double flags) {
  int descriptor, flagBits;
  if (!IntegerIn(fd, INT32_MAX, &descriptor) || !IntegerIn(flags, INT32_MAX, &flagBits)) return kFallback;
#ifdef SOCKFD_RAW_SYSCALLS
  // As connect: the plain system call (raw_syscall.h), the new fd or -errno.
  return static_cast<int32_t>(SystemCall(SYS_accept4, descriptor, 0, 0, flagBits));
#else
  int client = ::accept4(descriptor, nullptr, nullptr, flagBits);
  return client >= 0 ? client : -errno;
#endif
}
int32_t FastAcceptFd(v8::Local<v8::Value> receiver, double fd, double flags) {
  CountFast();
  return AcceptCall(fd, flags);
}
void SlowAcceptFd(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 2 && info[0]->IsNumber() && info[1]->IsNumber())
    result = AcceptCall(info[0].As<v8::Number>()->Value(), info[1].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}

// ---- shutdown(fd, how) ------------------------------------------------------------
// `how` 0..2 as the N-API shutdown takes it (SHUT_RD, SHUT_WR, SHUT_RDWR).
inline int32_t ShutdownCall(double fd, double how) {
  int descriptor, howValue;
  if (!IntegerIn(fd, INT32_MAX, &descriptor) || !IntegerIn(how, 2, &howValue)) return kFallback;
  return ::shutdown(descriptor, howValue) == 0 ? 0 : -errno;
}
int32_t FastShutdown(v8::Local<v8::Value> receiver, double fd, double how) {
  CountFast();
  return ShutdownCall(fd, how);
}
void SlowShutdown(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 2 && info[0]->IsNumber() && info[1]->IsNumber())
    result = ShutdownCall(info[0].As<v8::Number>()->Value(), info[1].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}

const v8::CTypeInfo kTwoNumbersSignature[] = {kReceiverType, kDoubleType, kDoubleType};

// ---- setsockopt(fd, level, name, int) -----------------------------------------
// An int option value, as the N-API setsockopt passes a number (a boolean is
// made 0/1 in JS). SO_RCVTIMEO/SO_SNDTIMEO take a number as milliseconds (a
// timeval): those are the N-API path's.
inline int32_t SetIntOptionCall(double fd, double level, double name, double value) {
  int descriptor, levelValue, nameValue;
  if (!IntegerIn(fd, INT32_MAX, &descriptor) || !IntegerIn(level, INT32_MAX, &levelValue) ||
      !IntegerIn(name, INT32_MAX, &nameValue))
    return kFallback;
  if (levelValue == SOL_SOCKET && (nameValue == SO_RCVTIMEO || nameValue == SO_SNDTIMEO)) return kFallback;
  // An int in [INT32_MIN, INT32_MAX], checked before the cast (NaN fails both comparisons).
  if (!(value >= INT32_MIN && value <= INT32_MAX)) return kFallback;
  int number = static_cast<int>(value);
  if (static_cast<double>(number) != value) return kFallback;
  return ::setsockopt(descriptor, levelValue, nameValue, &number, sizeof number) == 0 ? 0 : -errno;
}
int32_t FastSetIntOption(v8::Local<v8::Value> receiver, double fd, double level, double name, double value) {
  CountFast();
  return SetIntOptionCall(fd, level, name, value);
}
void SlowSetIntOption(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 4 && info[0]->IsNumber() && info[1]->IsNumber() && info[2]->IsNumber() && info[3]->IsNumber())
    result = SetIntOptionCall(info[0].As<v8::Number>()->Value(), info[1].As<v8::Number>()->Value(),
                              info[2].As<v8::Number>()->Value(), info[3].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}
const v8::CTypeInfo kSetIntOptionSignature[] = {kReceiverType, kDoubleType, kDoubleType, kDoubleType, kDoubleType};

void AddSocketCalls(v8::Local<v8::Object> target, v8::Local<v8::Context> context) {
  // One CFunctionInfo and CFunction per function, built on first use (thread-safe
  // static init), living as long as the library (V8 keeps pointers to them).
  static const v8::CFunctionInfo connectInfo(kInt32Type, 3, kConnectSignature);
  static const v8::CFunction connectFunction(reinterpret_cast<const void*>(&FastConnect), &connectInfo);
  AddFunction(target, context, "connect", SlowConnect, 2, &connectFunction);
  static const v8::CFunctionInfo acceptInfo(kInt32Type, 3, kTwoNumbersSignature);
  static const v8::CFunction acceptFunction(reinterpret_cast<const void*>(&FastAcceptFd), &acceptInfo);
  AddFunction(target, context, "acceptFd", SlowAcceptFd, 2, &acceptFunction);
  static const v8::CFunctionInfo shutdownInfo(kInt32Type, 3, kTwoNumbersSignature);
  static const v8::CFunction shutdownFunction(reinterpret_cast<const void*>(&FastShutdown), &shutdownInfo);
  AddFunction(target, context, "shutdown", SlowShutdown, 2, &shutdownFunction);
  static const v8::CFunctionInfo optionInfo(kInt32Type, 5, kSetIntOptionSignature);
  static const v8::CFunction optionFunction(reinterpret_cast<const void*>(&FastSetIntOption), &optionInfo);
  AddFunction(target, context, "setIntOption", SlowSetIntOption, 4, &optionFunction);
}

#endif  // SOCKFD_FAST_CALLS

// exports.fastSocketCalls = { available, reason?, v8, connect, acceptFd, shutdown, setIntOption, FALLBACK, counts() }
void Init(v8::Local<v8::Object> exports, v8::Local<v8::Context> context) {
  ExportSet(exports, context, "fastSocketCalls", SOCKFD_FAST_SET(AddSocketCalls));
}

}  // namespace
SOCKFD_NODE_REGISTER(fast_socket_calls, Init);
}  // namespace sockfd_node
