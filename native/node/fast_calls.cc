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
// headers (below), and checked at load against the running V8: its version
// string, and the type encodings V8 itself built for Node's own fast calls.
// Any mismatch, or another V8, and the addon exports
// `fastCalls.available = false` with the reason; the N-API path then does
// everything.
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "node_addon.h"

// The V8s this file knows, exactly (the V8 of each Node major's pinned headers:
// scripts/prebuild-nodes.mjs). None of their Node headers ship
// v8-fast-api-calls.h, so the few types used are declared here, per V8, and
// checked at load against the running V8 (SameV8, VerifyEncodings). The layouts
// were read from each node binary (its CFunctionInfo constructor and Node's own
// fast functions): CTypeInfo is {type, sequence, flags} bytes; CFunctionInfo is
// {return, arg_count, args} on 11.3 and {return, int64 representation,
// arg_count, args} on 12.4 and 13.6; FastApiTypedArray is {length, data} on
// 11.3 and 12.4; V8 13 has no typed-array argument (a Local<Value> and
// ArrayBufferView::GetContents instead).
#if !__has_include(<v8-fast-api-calls.h>)
#if V8_MAJOR_VERSION == 11 && V8_MINOR_VERSION == 3 && V8_BUILD_NUMBER == 244
#define SOCKFD_FAST_CALLS 113
#elif V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION == 4 && V8_BUILD_NUMBER == 254
#define SOCKFD_FAST_CALLS 124
#elif V8_MAJOR_VERSION == 13 && V8_MINOR_VERSION == 6 && V8_BUILD_NUMBER == 233
#define SOCKFD_FAST_CALLS 136
#endif
#endif

#ifdef SOCKFD_FAST_CALLS
// ---- the fast-call types of these V8s (their v8-fast-api-calls.h) ----------
// Layouts and enum values must be V8's: CFunctionInfo's constructor and the
// optimizing compiler read them. Verified at load (VerifyEncodings).
namespace v8 {
class CTypeInfo {
 public:
  enum class Type : uint8_t {
    kVoid, kBool, kUint8, kInt32, kUint32, kInt64, kUint64, kFloat32, kFloat64,
    kPointer, kV8Value, kSeqOneByteString, kApiObject, kAny,
  };
#if SOCKFD_FAST_CALLS < 130
  enum class SequenceType : uint8_t { kScalar, kIsSequence, kIsTypedArray, kIsArrayBuffer };
#else
  enum class SequenceType : uint8_t { kScalar, kIsSequence, kIsArrayBuffer };
#endif
  enum class Flags : uint8_t { kNone = 0 };
  explicit constexpr CTypeInfo(Type type, SequenceType sequence = SequenceType::kScalar, Flags flags = Flags::kNone)
      : type_(type), sequence_type_(sequence), flags_(flags) {}
  constexpr bool operator==(const CTypeInfo& other) const {
    return type_ == other.type_ && sequence_type_ == other.sequence_type_ && flags_ == other.flags_;
  }

 private:
  Type type_;
  SequenceType sequence_type_;
  Flags flags_;
};

#if SOCKFD_FAST_CALLS < 130
struct FastApiTypedArrayBase {
 public:
  size_t length() const { return length_; }

 protected:
  size_t length_ = 0;
};

template <typename T>
struct FastApiTypedArray : public FastApiTypedArrayBase {
 public:
  bool getStorageIfAligned(T** elements) const {
    if (reinterpret_cast<uintptr_t>(data_) % alignof(T) != 0) return false;
    *elements = reinterpret_cast<T*>(data_);
    return true;
  }

 private:
  void* data_;  // the view's first byte (byteOffset applied)
};
#endif

class V8_EXPORT CFunctionInfo {
 public:
#if SOCKFD_FAST_CALLS == 113
  CFunctionInfo(const CTypeInfo& return_info, unsigned int arg_count, const CTypeInfo* arg_info);
#else
  enum class Int64Representation : uint8_t { kNumber = 0, kBigInt = 1 };
  CFunctionInfo(const CTypeInfo& return_info, unsigned int arg_count, const CTypeInfo* arg_info,
                Int64Representation repr = Int64Representation::kNumber);
#endif
  const CTypeInfo& ReturnInfo() const { return return_info_; }
  const CTypeInfo& ArgumentInfo(unsigned int index) const;
  // All arguments, a trailing FastApiCallbackOptions& included (V8's own
  // ArgumentCount() leaves that one out).
  unsigned int RawArgumentCount() const { return arg_count_; }

 private:
  const CTypeInfo return_info_;
#if SOCKFD_FAST_CALLS != 113
  const Int64Representation repr_;
#endif
  const unsigned int arg_count_;
  const CTypeInfo* arg_info_;
};

class V8_EXPORT CFunction {
 public:
  constexpr CFunction() : address_(nullptr), type_info_(nullptr) {}
  CFunction(const void* address, const CFunctionInfo* type_info);
  const CFunctionInfo* GetTypeInfo() const { return type_info_; }

 private:
  const void* address_;
  const CFunctionInfo* type_info_;
};
}  // namespace v8
#endif

namespace sockfd_node {
namespace {

v8::Local<v8::String> Text(v8::Isolate* isolate, const std::string& text) {
  return v8::String::NewFromUtf8(isolate, text.c_str()).ToLocalChecked();
}

#ifdef SOCKFD_FAST_CALLS

// Returned when the fast path does not take the arguments (no system call made).
constexpr int32_t kFallback = INT32_MIN;

// Call counters for the tests (which path ran), kept only when SOCKFD_FAST_CALLS_COUNT=1
// at load: `counting` is written once, in Init, before any fast function exists.
bool counting = false;
std::atomic<uint64_t> fastCount{0};  // relaxed: a statistic; workers may call concurrently
std::atomic<uint64_t> slowCount{0};

inline bool IntegerIn(double value, double max, int* out) {
  // NaN fails both comparisons; the cast is only made on an exact integer in range.
  if (!(value >= 0 && value <= max)) return false;
  int integer = static_cast<int>(value);
  if (static_cast<double>(integer) != value) return false;
  *out = integer;
  return true;
}

enum class Op { Send, Recv, Write, Read };

// The one system call of each function; -errno on failure.
// (Views longer than 2^53 do not exist; the double comparisons below are exact.)
template <Op op>
inline int32_t Call(double fd, uint8_t* view, size_t viewLength, double flags, double offset, double count) {
  int descriptor, flagBits = 0;
  if (!IntegerIn(fd, INT32_MAX, &descriptor)) return kFallback;
  if (!IntegerIn(flags, INT32_MAX, &flagBits)) return kFallback;
  if (op == Op::Write || op == Op::Read) flagBits = 0;
  double size = static_cast<double>(viewLength);
  if (!(offset >= 0 && offset <= size) || offset != static_cast<double>(static_cast<uint64_t>(offset))) return kFallback;
  double length = count == -1 ? size - offset : count;
  if (!(length >= 0 && length <= size - offset) || length != static_cast<double>(static_cast<uint64_t>(length))) return kFallback;
  // Empty ranges and huge ones go the N-API way: a 0-byte recv reads as EOF (a
  // RangeError there), a gone (detached) buffer has length 0, and the result
  // must fit an int32.
  if (view == nullptr || length == 0 || length > static_cast<double>(INT32_MAX)) return kFallback;
  uint8_t* bytes = view + static_cast<size_t>(offset);
  ssize_t n;
  switch (op) {
    case Op::Send: n = ::send(descriptor, bytes, static_cast<size_t>(length), flagBits); break;
    case Op::Recv: n = ::recv(descriptor, bytes, static_cast<size_t>(length), flagBits); break;
    case Op::Write: n = ::write(descriptor, bytes, static_cast<size_t>(length)); break;
    case Op::Read: n = ::read(descriptor, bytes, static_cast<size_t>(length)); break;
  }
  return n >= 0 ? static_cast<int32_t>(n) : -errno;
}

#if SOCKFD_FAST_CALLS < 130
// The view as V8 11/12 pass it: its bytes (on or off the V8 heap: no GC can
// move them during the call) and its length.
using FastView = const v8::FastApiTypedArray<uint8_t>&;

template <Op op>
int32_t Fast(v8::Local<v8::Value> receiver, double fd, FastView data, double flags, double offset, double length) {
  if (counting) fastCount.fetch_add(1, std::memory_order_relaxed);
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
  if (counting) fastCount.fetch_add(1, std::memory_order_relaxed);
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
// type checks and reads of the view only. Buffer() gives a small view that
// still lives inside the V8 heap its own backing store (an allocation, which a
// slow callback may make; the pointer is taken after it).
template <Op op>
void Slow(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (counting) slowCount.fetch_add(1, std::memory_order_relaxed);
  int32_t result = kFallback;
  if (info.Length() == 5 && info[0]->IsNumber() && info[1]->IsUint8Array() && info[2]->IsNumber() && info[3]->IsNumber() &&
      info[4]->IsNumber()) {
    v8::Local<v8::Uint8Array> view = info[1].As<v8::Uint8Array>();
    uint8_t* base = static_cast<uint8_t*>(view->Buffer()->Data());
    if (base != nullptr)
      result = Call<op>(info[0].As<v8::Number>()->Value(), base + view->ByteOffset(), view->ByteLength(),
                        info[2].As<v8::Number>()->Value(), info[3].As<v8::Number>()->Value(),
                        info[4].As<v8::Number>()->Value());
  }
  info.GetReturnValue().Set(result);
}

// The C signature every fast function has:
// int32 (receiver, double fd, Uint8Array, double flags, double offset, double length).
const v8::CTypeInfo kSignature[] = {
    v8::CTypeInfo(v8::CTypeInfo::Type::kV8Value),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
#if SOCKFD_FAST_CALLS < 130
    v8::CTypeInfo(v8::CTypeInfo::Type::kUint8, v8::CTypeInfo::SequenceType::kIsTypedArray),
#else
    v8::CTypeInfo(v8::CTypeInfo::Type::kV8Value),
#endif
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
};
const v8::CTypeInfo kReturn(v8::CTypeInfo::Type::kInt32);

// The type encodings of the running V8, read from the CFunctionInfo objects V8
// built for Node's own fast calls (function-local statics that node exports).
// Each must already be built (a guard byte) and must encode what ours use -
// int32 results, the receiver, the view argument, doubles - as ours do:
//   11.3, 12.4: int32 (Local<Value>, const FastApiTypedArray<uint8_t>&, uint32, int64, bool)
//   13.6:       int32 (Local<Value>, Local<Value>, Local<Value>, FastApiCallbackOptions&)
//   and a double argument: double (Local<Value>, double) on 11.3 and 13.6,
//   double (Local<Value>, Local<Value>, double) on 12.4.
struct Probe {
  const char* guard;
  const char* instance;
  unsigned int arguments;  // all of them (RawArgumentCount)
  unsigned int at;         // the index of the argument compared with ours
};
#define SOCKFD_PROBE(name, tail) "_ZGVZN2v88internal28CFunctionBuilderWithFunctionI" name tail, "_ZZN2v88internal28CFunctionBuilderWithFunctionI" name tail
#if SOCKFD_FAST_CALLS == 113
#define SOCKFD_BUILD "EE5BuildEvE8instance"
#else
#define SOCKFD_BUILD "EE5BuildILNS_13CFunctionInfo19Int64RepresentationE0EEEDavE8instance"
#endif
const Probe kWithView = {
#if SOCKFD_FAST_CALLS < 130
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIiJEEEJNS2_INS_5LocalINS_5ValueEEEJEEENS2_IRKNS_17FastApiTypedArrayIhEEJEEENS2_IjJEEENS2_IlJEEENS2_IbJEEE", SOCKFD_BUILD),
    5, 1};
#else
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIiJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES7_S7_NS2_IRNS_22FastApiCallbackOptionsEJEEE", SOCKFD_BUILD),
    4, 1};
#endif
const Probe kWithDouble = {
#if SOCKFD_FAST_CALLS == 124
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIdJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES7_S3_", SOCKFD_BUILD), 3, 2};
#else
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIdJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES3_", SOCKFD_BUILD), 2, 1};
#endif
#undef SOCKFD_PROBE
#undef SOCKFD_BUILD

// V8's CFunctionInfo of `probe`, or nullptr with the reason.
const v8::CFunctionInfo* Built(const Probe& probe, const char** why) {
  auto* guard = static_cast<const volatile unsigned char*>(dlsym(RTLD_DEFAULT, probe.guard));
  auto* instance = static_cast<const v8::CFunctionInfo*>(dlsym(RTLD_DEFAULT, probe.instance));
  if (guard == nullptr || instance == nullptr) *why = "cannot find V8's own fast-call type information in this node binary";
  else if (*guard == 0) *why = "V8's own fast-call type information is not built yet in this process";
  else return instance;
  return nullptr;
}

const char* VerifyEncodings() {
  const char* why = nullptr;
  const v8::CFunctionInfo* withView = Built(kWithView, &why);
  const v8::CFunctionInfo* withDouble = Built(kWithDouble, &why);
  if (withView == nullptr || withDouble == nullptr) return why;
  if (withView->RawArgumentCount() != kWithView.arguments || withDouble->RawArgumentCount() != kWithDouble.arguments)
    return "V8's fast-call type information has another layout";
  if (!(withView->ReturnInfo() == kReturn)) return "V8 encodes int32 differently";
  if (!(withView->ArgumentInfo(0) == kSignature[0])) return "V8 encodes the receiver differently";
  if (!(withView->ArgumentInfo(kWithView.at) == kSignature[2])) return "V8 encodes the view argument differently";
  if (!(withDouble->ArgumentInfo(kWithDouble.at) == kSignature[1])) return "V8 encodes a double differently";
  return nullptr;
}

// The running V8 is exactly the one of the headers ("11.3.244.8" or "11.3.244.8-node.N").
bool SameV8(std::string* running) {
  *running = v8::V8::GetVersion();
  std::string built = std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." +
                      std::to_string(V8_BUILD_NUMBER) + "." + std::to_string(V8_PATCH_LEVEL);
  return running->compare(0, built.size(), built) == 0 && (running->size() == built.size() || (*running)[built.size()] == '-');
}

// Adds `name`, whose fast function has the C signature `signature` (count
// entries, the receiver first) and whose slow callback takes `length` arguments.
// `info` and `function` must live as long as the library (V8 keeps pointers).
void AddFunction(v8::Local<v8::Object> target, v8::Local<v8::Context> context, const char* name, v8::FunctionCallback slow,
                 int length, const v8::CFunction* function) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::FunctionTemplate> tmpl =
      v8::FunctionTemplate::New(isolate, slow, v8::Local<v8::Value>(), v8::Local<v8::Signature>(), length,
                                v8::ConstructorBehavior::kThrow, v8::SideEffectType::kHasSideEffect, function);
  v8::Local<v8::Function> fn = tmpl->GetFunction(context).ToLocalChecked();
  fn->SetName(Text(isolate, name));
  target->Set(context, Text(isolate, name), fn).Check();
}

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
  if (counting) fastCount.fetch_add(1, std::memory_order_relaxed);
  return SocketCall(domain, type, protocol);
}
void SlowSocket(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (counting) slowCount.fetch_add(1, std::memory_order_relaxed);
  int32_t result = kFallback;
  if (info.Length() == 3 && info[0]->IsNumber() && info[1]->IsNumber() && info[2]->IsNumber())
    result = SocketCall(info[0].As<v8::Number>()->Value(), info[1].As<v8::Number>()->Value(), info[2].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}
const v8::CTypeInfo kSocketSignature[] = {
    v8::CTypeInfo(v8::CTypeInfo::Type::kV8Value),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
};

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
  if (counting) fastCount.fetch_add(1, std::memory_order_relaxed);
  return CloseCall(fd);
}
void SlowClose(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (counting) slowCount.fetch_add(1, std::memory_order_relaxed);
  int32_t result = kFallback;
  if (info.Length() == 1 && info[0]->IsNumber()) result = CloseCall(info[0].As<v8::Number>()->Value());
  info.GetReturnValue().Set(result);
}
const v8::CTypeInfo kCloseSignature[] = {
    v8::CTypeInfo(v8::CTypeInfo::Type::kV8Value),
    v8::CTypeInfo(v8::CTypeInfo::Type::kFloat64),
};

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

void Counts(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> result = v8::Object::New(isolate);
  result->Set(context, Text(isolate, "fast"), v8::Number::New(isolate, static_cast<double>(fastCount.load()))).Check();
  result->Set(context, Text(isolate, "slow"), v8::Number::New(isolate, static_cast<double>(slowCount.load()))).Check();
  info.GetReturnValue().Set(result);
}
#endif  // SOCKFD_FAST_CALLS

// exports.fastCalls = { available, reason?, v8, send, recv, write, read, socket, close?, FALLBACK, counts() }
void Init(v8::Local<v8::Object> exports, v8::Local<v8::Context> context) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> target = v8::Object::New(isolate);
  std::string reason;
#ifdef SOCKFD_FAST_CALLS
  std::string running;
  const char* mismatch = nullptr;
  if (!SameV8(&running))
    reason = "built for V8 " + std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." +
             std::to_string(V8_BUILD_NUMBER) + "." + std::to_string(V8_PATCH_LEVEL) + ", running " + running;
  else if ((mismatch = VerifyEncodings()) != nullptr) reason = mismatch;
  const char* disabled = getenv("SOCKFD_FAST_CALLS");
  if (reason.empty() && disabled != nullptr && strcmp(disabled, "0") == 0) reason = "disabled by SOCKFD_FAST_CALLS=0";
  if (reason.empty()) {
    const char* count = getenv("SOCKFD_FAST_CALLS_COUNT");
    if (count != nullptr && strcmp(count, "1") == 0) counting = true;
    AddTransfer<Op::Send>(target, context, "send");
    AddTransfer<Op::Recv>(target, context, "recv");
    AddTransfer<Op::Write>(target, context, "write");
    AddTransfer<Op::Read>(target, context, "read");
    AddSocketAndClose(target, context);
    target->Set(context, Text(isolate, "FALLBACK"), v8::Integer::New(isolate, kFallback)).Check();
    target->Set(context, Text(isolate, "counts"),
                v8::FunctionTemplate::New(isolate, Counts)->GetFunction(context).ToLocalChecked())
        .Check();
  }
  target->Set(context, Text(isolate, "v8"), Text(isolate, running)).Check();
#else
  reason = "fast calls are built only against V8 11.3.244 (Node 20), 12.4.254 (Node 22) and 13.6.233 (Node 24); these headers are V8 " +
           std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." + std::to_string(V8_BUILD_NUMBER);
#endif
  target->Set(context, Text(isolate, "available"), v8::Boolean::New(isolate, reason.empty())).Check();
  if (!reason.empty()) target->Set(context, Text(isolate, "reason"), Text(isolate, reason)).Check();
  exports->Set(context, Text(isolate, "fastCalls"), target).Check();
}

}  // namespace
SOCKFD_NODE_REGISTER(fast_calls, Init);
}  // namespace sockfd_node
