// What every V8 fast API call of sockfd_node shares (fast_calls.cc: send, recv,
// read, write, socket, close; fast_socket_calls.cc: connect, accept, shutdown,
// setsockopt): the fast-call types of the V8s they are built for, the checks
// made at load that the running V8 is that V8 and encodes the types as
// declared, the registration of a function with its fast and slow callbacks,
// and the call counters of the tests.
//
// The contract of every fast function (see fast_calls.cc's head): no JS, no
// allocation, no exception; one system call; an int32 result that is the
// call's result (>= 0), -errno, or kFallback (no system call made: the N-API
// function does the call). Numbers come as doubles so that the C side sees the
// exact value and refuses what the N-API path would refuse.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <string>

#include "node_addon.h"

// The V8s fast calls are built for, exactly (the V8 of each Node major's pinned headers:
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
namespace fast_api {

v8::Local<v8::String> Text(v8::Isolate* isolate, const std::string& text);

// Empty when fast calls may be used in this process; else why not (another V8
// than the headers', encodings that differ, SOCKFD_FAST_CALLS=0, or headers of
// a V8 no fast call is built for). `running` gets the running V8's version
// where fast calls are built (empty otherwise).
std::string Unavailable(std::string* running);
// Registers one set's functions on `target` (called only where fast calls may be used here).
using AddSet = void (*)(v8::Local<v8::Object> target, v8::Local<v8::Context> context);
// exports[property] = { available, reason? (when not), v8 (the running V8, where fast
// calls are built), FALLBACK, counts() and the set's functions (`add`, where they may be
// used) }: every set of fast functions is exported so (test/fuzz finds them by `available`).
// Pass SOCKFD_FAST_SET(add): `add` exists only where fast calls are built.
void ExportSet(v8::Local<v8::Object> exports, v8::Local<v8::Context> context, const char* property, AddSet add);
#ifdef SOCKFD_FAST_CALLS
#define SOCKFD_FAST_SET(add) (add)
#else
#define SOCKFD_FAST_SET(add) nullptr
#endif

#ifdef SOCKFD_FAST_CALLS

// Returned when the fast path does not take the arguments (no system call made).
constexpr int32_t kFallback = INT32_MIN;

// Call counters for the tests (which path ran), kept only when SOCKFD_FAST_CALLS_COUNT=1
// at load: `counting` is written once per process, by the first StartCounting
// (an Init, before any fast function exists); read-only afterwards.
extern bool counting;
extern std::atomic<uint64_t> fastCount;  // relaxed: a statistic; workers may call concurrently
extern std::atomic<uint64_t> slowCount;
void StartCounting();
inline void CountFast() {
  if (counting) fastCount.fetch_add(1, std::memory_order_relaxed);
}
inline void CountSlow() {
  if (counting) slowCount.fetch_add(1, std::memory_order_relaxed);
}
// counts() -> { fast, slow }
void Counts(const v8::FunctionCallbackInfo<v8::Value>& info);

inline bool IntegerIn(double value, double max, int* out) {
  // NaN fails both comparisons; the cast is only made on an exact integer in range.
  if (!(value >= 0 && value <= max)) return false;
  int integer = static_cast<int>(value);
  if (static_cast<double>(integer) != value) return false;
  *out = integer;
  return true;
}

// The encodings fast functions use, each checked against V8's own at load (VerifyEncodings).
inline constexpr v8::CTypeInfo kInt32Type(v8::CTypeInfo::Type::kInt32);
inline constexpr v8::CTypeInfo kReceiverType(v8::CTypeInfo::Type::kV8Value);
inline constexpr v8::CTypeInfo kDoubleType(v8::CTypeInfo::Type::kFloat64);
// A Uint8Array argument: a FastApiTypedArray<uint8_t> on 11.3 and 12.4, a Local<Value> on 13.6.
#if SOCKFD_FAST_CALLS < 130
inline constexpr v8::CTypeInfo kViewType(v8::CTypeInfo::Type::kUint8, v8::CTypeInfo::SequenceType::kIsTypedArray);
#else
inline constexpr v8::CTypeInfo kViewType(v8::CTypeInfo::Type::kV8Value);
#endif

// Adds `name`, whose fast function has the C signature `signature` (count
// entries, the receiver first) and whose slow callback takes `length` arguments.
// `info` and `function` must live as long as the library (V8 keeps pointers).
void AddFunction(v8::Local<v8::Object> target, v8::Local<v8::Context> context, const char* name, v8::FunctionCallback slow,
                 int length, const v8::CFunction* function);

#endif  // SOCKFD_FAST_CALLS

}  // namespace fast_api
}  // namespace sockfd_node
