// V8 fast API calls for the hot, int-and-buffer-only calls: send, recv, read,
// write, and socket and close (further down). An N-API call with sockfd's argument decoding costs ~40 ns over a JS
// loop; a call that optimized code makes straight into a C function
// (v8::CFunction) costs a few. That difference is most of sockfd's gap to C on
// small messages (docs/benchmarks.md).
//
// What a fast call may do: no JS, no allocation, no exception. So each
// function here does one system call and returns an int32:
//   n >= 0          the call's result (bytes);
//   -errno          the call failed with errno (lib/fast-io.ts throws the same
//                   perror-style Error as the N-API path; EINTR goes on in
//                   the N-API <syscall>Interrupted, as Blocking() would);
//   kFallback       not done: an argument the fast path does not take (a
//                   non-integer fd, a range outside the view, an empty or huge
//                   range...). No system call was made; lib/fast-io.ts then
//                   calls the N-API function, which validates and throws
//                   exactly as before.
// Every function takes (fd, Uint8Array, flags, offset, length), numbers as
// doubles so that the C side sees the exact value (an int32 parameter would
// let V8 truncate 1.5 to 1 before we could refuse it); length -1 means "to the
// end of the view" (the JS wrapper passes it for a missing length; read/write
// get flags 0). V8 calls Fast<op> from optimized code when the arguments have
// those types; everything else, and all unoptimized code, reaches Slow<op>,
// which does the same through V8's API (no JS can run there: type checks and
// reads of the view only).
//
// Built per Node ABI (binding.gyp's sockfd_node), for exactly the V8 of the
// headers (v8_fast_api.h), and checked at load against the running V8: its version
// string, and the type encodings V8 itself built for Node's own fast calls.
// Any mismatch, or another V8, and the addon exports
// `fastCalls.available = false` with the reason; the N-API path then does
// everything.
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "raw_syscall.h"
#include "v8_fast_api.h"

namespace sockfd_node {
namespace {
using namespace fast_api;

#ifdef SOCKFD_FAST_CALLS

enum class Op { Send, Recv, Write, Read };

// The one system call of each function (Transfer); -errno on failure (Call):
// raw_syscall.h's SystemCall, without glibc's cancellation bracket.
template <Op op>
inline long Transfer(int descriptor, uint8_t* bytes, size_t count, int flags) {
#ifdef SOCKFD_RAW_SYSCALLS
  long fd = descriptor, buffer = reinterpret_cast<long>(bytes), size = static_cast<long>(count), bits = flags;
  switch (op) {
    case Op::Send: return SystemCall(SYS_sendto, fd, buffer, size, bits);
    case Op::Recv: return SystemCall(SYS_recvfrom, fd, buffer, size, bits);
    case Op::Write: return SystemCall(SYS_write, fd, buffer, size);
    case Op::Read: return SystemCall(SYS_read, fd, buffer, size);
  }
  return -EINVAL;
#else
  ssize_t n = -1;
  switch (op) {
    case Op::Send: n = ::send(descriptor, bytes, count, flags); break;
    case Op::Recv: n = ::recv(descriptor, bytes, count, flags); break;
    case Op::Write: n = ::write(descriptor, bytes, count); break;
    case Op::Read: n = ::read(descriptor, bytes, count); break;
  }
  return n >= 0 ? n : -errno;
#endif
}

// Exact integers from doubles, refusing everything else before any cast. On
// x86-64, cvttsd2si is defined for every input: NaN and values outside the
// target type give the "integer indefinite" (INT_MIN, INT64_MIN), which never
// converts back to the same double unless the input was that very minimum,
// which the sign test refuses. So one truncation, one conversion back and one
// compare do what IntegerIn's four comparisons do. Elsewhere the portable
// form: range first, then the cast.
#if defined(__x86_64__) && defined(__SSE2__)
inline bool NonNegativeInt32(double value, int32_t* out) {
  int32_t integer = _mm_cvttsd_si32(_mm_set_sd(value));
  *out = integer;
  return static_cast<double>(integer) == value && integer >= 0;
}
inline bool NonNegativeInt64(double value, int64_t* out) {
  int64_t integer = _mm_cvttsd_si64(_mm_set_sd(value));
  *out = integer;
  return static_cast<double>(integer) == value && integer >= 0;
}
#else
inline bool NonNegativeInt32(double value, int32_t* out) {
  int integer = 0;
  bool ok = IntegerIn(value, INT32_MAX, &integer);
  *out = integer;
  return ok;
}
inline bool NonNegativeInt64(double value, int64_t* out) {
  // 2^53 bounds every view's length and keeps the cast exact.
  if (!(value >= 0 && value <= 9007199254740992.0)) return false;
  int64_t integer = static_cast<int64_t>(value);
  *out = integer;
  return static_cast<double>(integer) == value;
}
#endif

// The checks take every double as it came and refuse (kFallback) anything that
// is not an exact integer in range: fd and flags in [0, INT32_MAX] (-0 is 0),
// offset in [0, the view's length], length (-1: to the end) in
// [1, min(INT32_MAX, what the view has after offset)].
template <Op op>
inline int32_t Call(double fd, uint8_t* view, size_t viewLength, double flags, double offset, double count) {
  int32_t descriptor, flagBits;
  if (!NonNegativeInt32(fd, &descriptor) || !NonNegativeInt32(flags, &flagBits)) return kFallback;
  if (op == Op::Write || op == Op::Read) flagBits = 0;
  int64_t start;
  if (!NonNegativeInt64(offset, &start) || static_cast<uint64_t>(start) > viewLength) return kFallback;
  uint64_t room = viewLength - static_cast<uint64_t>(start);
  // Empty ranges and huge ones go the N-API way: a 0-byte recv reads as EOF (a
  // RangeError there), a gone (detached) buffer has length 0, and the result
  // must fit an int32.
  uint64_t length;
  if (count == -1) {
    length = room;
  } else {
    int32_t asked;
    if (!NonNegativeInt32(count, &asked)) return kFallback;
    length = static_cast<uint64_t>(asked);
  }
  if (length == 0 || length > room || length > static_cast<uint64_t>(INT32_MAX) || view == nullptr) return kFallback;
  // n is at most `length` (<= INT32_MAX) or -errno (>= -4095): an int32 either way.
  return static_cast<int32_t>(Transfer<op>(descriptor, view + start, static_cast<size_t>(length), flagBits));
}

#if SOCKFD_FAST_CALLS < 130
// The view as V8 11/12 pass it: its bytes (on or off the V8 heap: no GC can
// move them during the call) and its length.
using FastView = const v8::FastApiTypedArray<uint8_t>&;

template <Op op>
int32_t Fast(v8::Local<v8::Value> receiver, double fd, FastView data, double flags, double offset, double length) {
  CountFast();
  uint8_t* bytes = nullptr;
  if (!data.getStorageIfAligned(&bytes)) return kFallback;  // always aligned for uint8_t
  return Call<op>(fd, bytes, data.length(), flags, offset, length);
}
#else
// V8 13 passes the view as a Local<Value>: any value reaches here, so it is
// type-checked first. GetContents reads the bytes without allocating
// (DisallowGarbageCollection inside): a view of an off-heap store gives its
// memory; a small on-heap one (at most typed_array_max_size_in_heap bytes,
// 64 by default) is copied into `storage` - fine to send from, useless to
// receive into (that goes the N-API way once, which moves it off the heap).
// HasBuffer/ByteLength, also allocation-free, keep GetContents from ever
// CHECK-failing on a storage too small, and bound the range by the view's
// current length (a resizable buffer may have shrunk).
using FastView = v8::Local<v8::Value>;

template <Op op>
int32_t Fast(v8::Local<v8::Value> receiver, double fd, FastView data, double flags, double offset, double length) {
  CountFast();
  if (!data->IsUint8Array()) return kFallback;
  v8::Local<v8::Uint8Array> view = data.As<v8::Uint8Array>();
  uint8_t storage[256];
  size_t viewLength = view->ByteLength();
  if (!view->HasBuffer() && ((op == Op::Recv || op == Op::Read) || viewLength > sizeof storage)) return kFallback;
  v8::MemorySpan<uint8_t> contents = view->GetContents(v8::MemorySpan<uint8_t>(storage, sizeof storage));
  if (contents.size() < viewLength) viewLength = contents.size();
  return Call<op>(fd, contents.data(), viewLength, flags, offset, length);
}
#endif

// The same from unoptimized code, through V8's API. Nothing here runs JS:
// type checks, reads of the view and, for a small on-heap view, stores of
// integers into its elements.
//
// A view with a buffer of its own gives its memory. A small one that still
// lives inside the V8 heap (new Uint8Array(n), Buffer.alloc(n): n <= 64 by
// default) is not given one: Buffer() would allocate a backing store and an
// ArrayBuffer for it, and move it off the heap for good (~12-15 page faults
// in a fresh fork() child that uses its parent's Buffer.alloc(1), malloc's and
// V8's first writes; docs/process.md). Instead (OnHeap):
// - a send/write copies the view's bytes (CopyContents) into a stack buffer
//   and sends from there;
// - a recv/read receives into a stack buffer that holds a copy of the view,
//   and stores the received range back into the view's elements right after
//   the system call, with nothing in between that could run JS. An element
//   store of an integer into a typed array, in bounds, calls no setter and
//   asks no prototype; an on-heap view cannot be detached or resized (both
//   need its ArrayBuffer, which it does not have yet). Only the range the
//   call was given is stored (MSG_TRUNC can answer more than it wrote); it
//   started as the view's own bytes, so a call that writes fewer (a stream's
//   MSG_TRUNC discards) leaves the view as it was.
// EINTR (nothing received) goes on in the N-API <syscall>Interrupted as
// before, which re-acquires the view. A view bigger than the stack buffer
// (--typed-array-max-size-in-heap raised) is given its buffer as before.
// So is a view received into on V8 13: its fast call cannot receive into an
// on-heap view (it answers FALLBACK, see Fast above), so a view left on the
// heap here would send the caller's first optimized receive to N-API and
// deoptimize it; given its buffer now, later fast calls take it.
constexpr size_t kOnHeapCopy = 256;
#if SOCKFD_FAST_CALLS < 130
constexpr bool kFastReceivesOnHeap = true;
#else
constexpr bool kFastReceivesOnHeap = false;
#endif

template <Op op>
int32_t OnHeap(const v8::FunctionCallbackInfo<v8::Value>& info, v8::Local<v8::Uint8Array> view, size_t viewLength,
               double fd, double flags, double offset, double count) {
  uint8_t bytes[kOnHeapCopy];
  size_t copied = view->CopyContents(bytes, viewLength);
  int32_t result = Call<op>(fd, bytes, copied, flags, offset, count);
  if (op == Op::Send || op == Op::Write || result <= 0) return result;
  // Call answered n > 0, so offset and count passed its checks: exact integers in range.
  size_t start = static_cast<size_t>(offset);
  size_t asked = count == -1 ? copied - start : static_cast<size_t>(count);
  size_t stored = static_cast<size_t>(result) < asked ? static_cast<size_t>(result) : asked;
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  for (size_t i = start; i < start + stored; i++) {
    v8::Maybe<bool> set = view->Set(context, static_cast<uint32_t>(i), v8::Integer::NewFromUnsigned(isolate, bytes[i]));
    if (set.IsNothing()) return result;  // not reached for an in-bounds integer store; the pending exception is thrown
  }
  return result;
}

template <Op op>
void Slow(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 5 && info[0]->IsNumber() && info[1]->IsUint8Array() && info[2]->IsNumber() && info[3]->IsNumber() &&
      info[4]->IsNumber()) {
    v8::Local<v8::Uint8Array> view = info[1].As<v8::Uint8Array>();
    double fd = info[0].As<v8::Number>()->Value(), flags = info[2].As<v8::Number>()->Value();
    double offset = info[3].As<v8::Number>()->Value(), count = info[4].As<v8::Number>()->Value();
    size_t viewLength = view->ByteLength();
    bool receive = op == Op::Recv || op == Op::Read;
    if (!view->HasBuffer() && viewLength <= kOnHeapCopy && (kFastReceivesOnHeap || !receive)) {
      result = OnHeap<op>(info, view, viewLength, fd, flags, offset, count);
    } else {
      uint8_t* base = static_cast<uint8_t*>(view->Buffer()->Data());
      if (base != nullptr) result = Call<op>(fd, base + view->ByteOffset(), view->ByteLength(), flags, offset, count);
    }
  }
  info.GetReturnValue().Set(result);
}

// The C signature every fast function has:
// int32 (receiver, double fd, Uint8Array, double flags, double offset, double length).
const v8::CTypeInfo kSignature[] = {kReceiverType, kDoubleType, kViewType, kDoubleType, kDoubleType, kDoubleType};
const v8::CTypeInfo kReturn = kInt32Type;

template <Op op>
void AddTransfer(v8::Local<v8::Object> target, v8::Local<v8::Context> context, const char* name) {
  // One CFunctionInfo per function, built on first use (thread-safe static init).
  static const v8::CFunctionInfo info(kReturn, sizeof kSignature / sizeof kSignature[0], kSignature);
  static const v8::CFunction function(reinterpret_cast<const void*>(&Fast<op>), &info);
  AddFunction(target, context, name, Slow<op>, 5, &function);
}

// ---- socket() and close() -----------------------------------------------------
// socket(domain, type, protocol): int arguments only, no bookkeeping: one
// system call, the fd or -errno (kFallback for a number the N-API socket()
// must refuse with its TypeError/RangeError).
inline int32_t SocketCall(double domain, double type, double protocol) {
  int d, t, p;
  if (!IntegerIn(domain, INT32_MAX, &d) || !IntegerIn(type, INT32_MAX, &t) || !IntegerIn(protocol, INT32_MAX, &p))
    return kFallback;
  int fd = ::socket(d, t, p);
  return fd >= 0 ? fd : -errno;
}
int32_t FastSocket(v8::Local<v8::Value> receiver, double domain, double type, double protocol) {
  CountFast();
  return SocketCall(domain, type, protocol);
}
void SlowSocket(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 3 && info[0]->IsNumber() && info[1]->IsNumber() && info[2]->IsNumber())
    result = SocketCall(info[0].As<v8::Number>()->Value(), info[1].As<v8::Number>()->Value(), info[2].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}
const v8::CTypeInfo kSocketSignature[] = {kReceiverType, kDoubleType, kDoubleType, kDoubleType};

// close(fd) must move the fd's generation on and release its event-loop
// watcher first (lib/async.ts's lifetimes, native/async_poll.cc), which live in
// the N-API core: the core's sockfd_close_unwatched_v1 does the close when
// this thread watches nothing on the fd, else answers kFallback and the N-API
// close does it all. Found once among the loaded objects; with none, or more
// than one (two copies of sockfd in one process), there is no fast close.
using CloseUnwatched = int (*)(int);
CloseUnwatched FindCoreClose() {
  struct Search {
    CloseUnwatched found = nullptr;
    int count = 0;
  } search;
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        if (object->dlpi_name == nullptr || object->dlpi_name[0] == '\0') return 0;
        void* library = dlopen(object->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
        if (library == nullptr) return 0;
        if (void* symbol = dlsym(library, "sockfd_close_unwatched_v1")) {
          s->found = reinterpret_cast<CloseUnwatched>(symbol);
          s->count++;
        }
        dlclose(library);  // RTLD_NOLOAD took a reference; the object stays loaded
        return 0;
      },
      &search);
  return search.count == 1 ? search.found : nullptr;
}
// Set before the close function is added (Init, under the static's lock), read-only after.
CloseUnwatched coreClose = nullptr;

inline int32_t CloseCall(double fd) {
  int descriptor;
  if (!IntegerIn(fd, INT32_MAX, &descriptor)) return kFallback;
  return coreClose(descriptor);
}
int32_t FastClose(v8::Local<v8::Value> receiver, double fd) {
  CountFast();
  return CloseCall(fd);
}
void SlowClose(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 1 && info[0]->IsNumber()) result = CloseCall(info[0].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}
const v8::CTypeInfo kCloseSignature[] = {kReceiverType, kDoubleType};

void AddSocketAndClose(v8::Local<v8::Object> target, v8::Local<v8::Context> context) {
  static const v8::CFunctionInfo socketInfo(kReturn, 4, kSocketSignature);
  static const v8::CFunction socketFunction(reinterpret_cast<const void*>(&FastSocket), &socketInfo);
  AddFunction(target, context, "socket", SlowSocket, 3, &socketFunction);
  static const CloseUnwatched found = (coreClose = FindCoreClose());
  if (found == nullptr) return;
  static const v8::CFunctionInfo closeInfo(kReturn, 2, kCloseSignature);
  static const v8::CFunction closeFunction(reinterpret_cast<const void*>(&FastClose), &closeInfo);
  AddFunction(target, context, "close", SlowClose, 1, &closeFunction);
}

// send, recv, write, read, socket, close (when the core's close is found).
void AddFastCalls(v8::Local<v8::Object> target, v8::Local<v8::Context> context) {
  AddTransfer<Op::Send>(target, context, "send");
  AddTransfer<Op::Recv>(target, context, "recv");
  AddTransfer<Op::Write>(target, context, "write");
  AddTransfer<Op::Read>(target, context, "read");
  AddSocketAndClose(target, context);
}

#endif  // SOCKFD_FAST_CALLS

// exports.fastCalls = { available, reason?, v8, send, recv, write, read, socket, close?, FALLBACK, counts() }
void Init(v8::Local<v8::Object> exports, v8::Local<v8::Context> context) {
  ExportSet(exports, context, "fastCalls", SOCKFD_FAST_SET(AddFastCalls));
}

}  // namespace
SOCKFD_NODE_REGISTER(fast_calls, Init);
}  // namespace sockfd_node
