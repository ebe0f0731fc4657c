// clock_gettime(2) as a V8 fast API call, for clocks read inside timed loops
// (the benchmarks' peers: a C peer reads its clock in ~35 instructions, Node's
// cheapest clock, perf_hooks' performance.now(), costs ~130). The N-API twin
// and the CLOCK_* constants are native/clock.cc; lib/clock.ts is the JS side.
//
// clock_gettime(clockId, into: Float64Array) writes into[0] = seconds and
// into[1] = nanoseconds (both exact integers in a double) and answers 0,
// -errno, or kFallback: an argument the fast path does not take (a clockId
// that is not an int, a view too short, not aligned or still inside the V8
// heap on V8 13), no system call made; lib/clock.ts then calls the N-API
// function, which validates and throws as always. No JS, no allocation, no
// exception (v8_fast_api.h). clock_gettime itself never blocks and is not a
// cancellation point (glibc reads the vDSO).
//
// Never against another V8: the same checks as fast_calls.cc (Unavailable).
#include <errno.h>
#include <time.h>

#include <climits>
#include <cstring>

#include "v8_fast_api.h"

namespace sockfd_node {
namespace {
using namespace fast_api;

#ifdef SOCKFD_FAST_CALLS

// The call, into `out` (room for two doubles, any alignment). A clockId is any
// int (dynamic clocks are negative); NaN fails both comparisons and the cast is
// made only of a value known to lie inside int.
inline int32_t ClockCall(double clockId, uint8_t* out) {
  if (!(clockId >= INT_MIN && clockId <= INT_MAX)) return kFallback;
  int id = static_cast<int>(clockId);
  if (static_cast<double>(id) != clockId || out == nullptr) return kFallback;
  struct timespec now;
  if (::clock_gettime(static_cast<clockid_t>(id), &now) != 0) return -errno;
  const double parts[2] = {static_cast<double>(now.tv_sec), static_cast<double>(now.tv_nsec)};
  std::memcpy(out, parts, sizeof parts);
  return 0;
}

#if SOCKFD_FAST_CALLS < 130
// V8 11/12 pass a Float64Array as its elements (on or off the V8 heap: no GC
// can move them during the call) and their count.
int32_t FastClock(v8::Local<v8::Value> receiver, double clockId, const v8::FastApiTypedArray<double>& into) {
  CountFast();
  double* elements = nullptr;
  if (into.length() < 2 || !into.getStorageIfAligned(&elements)) return kFallback;
  return ClockCall(clockId, reinterpret_cast<uint8_t*>(elements));
}
const v8::CTypeInfo kFloat64ViewType(v8::CTypeInfo::Type::kFloat64, v8::CTypeInfo::SequenceType::kIsTypedArray);
#else
// V8 13 passes a Local<Value>: type-checked first. A view whose elements still
// live inside the V8 heap (HasBuffer false: small arrays) would be copied by
// GetContents, useless to write into: that one goes the N-API way once, which
// moves it off the heap. Otherwise GetContents (allocation-free) gives the
// view's own memory, and its size bounds the write.
int32_t FastClock(v8::Local<v8::Value> receiver, double clockId, v8::Local<v8::Value> into) {
  CountFast();
  if (!into->IsFloat64Array()) return kFallback;
  v8::Local<v8::Float64Array> view = into.As<v8::Float64Array>();
  if (!view->HasBuffer() || view->ByteLength() < 2 * sizeof(double)) return kFallback;
  uint8_t storage[2 * sizeof(double)];
  v8::MemorySpan<uint8_t> contents = view->GetContents(v8::MemorySpan<uint8_t>(storage, sizeof storage));
  if (contents.size() < 2 * sizeof(double) || contents.data() == storage) return kFallback;
  return ClockCall(clockId, contents.data());
}
const v8::CTypeInfo kFloat64ViewType(v8::CTypeInfo::Type::kV8Value);
#endif

// The same from unoptimized code, through V8's API (type checks and reads of
// the view only, no JS). Buffer() gives a view still inside the V8 heap its
// own backing store (an allocation, which a slow callback may make); the
// pointer is taken after it.
void SlowClock(const v8::FunctionCallbackInfo<v8::Value>& info) {
  CountSlow();
  int32_t result = kFallback;
  if (info.Length() == 2 && info[0]->IsNumber() && info[1]->IsFloat64Array()) {
    v8::Local<v8::Float64Array> view = info[1].As<v8::Float64Array>();
    uint8_t* base = static_cast<uint8_t*>(view->Buffer()->Data());
    if (base != nullptr && view->ByteLength() >= 2 * sizeof(double))
      result = ClockCall(info[0].As<v8::Number>()->Value(), base + view->ByteOffset());
  }
  info.GetReturnValue().Set(result);
}

// int32 (receiver, double clockId, Float64Array into)
const v8::CTypeInfo kClockSignature[] = {kReceiverType, kDoubleType, kFloat64ViewType};

void AddClock(v8::Local<v8::Object> target, v8::Local<v8::Context> context) {
  static const v8::CFunctionInfo info(kInt32Type, sizeof kClockSignature / sizeof kClockSignature[0], kClockSignature);
  static const v8::CFunction function(reinterpret_cast<const void*>(&FastClock), &info);
  AddFunction(target, context, "clock_gettime", SlowClock, 2, &function);
}

#endif  // SOCKFD_FAST_CALLS

// exports.fastClock = { available, reason?, v8, clock_gettime, FALLBACK, counts() }
void Init(v8::Local<v8::Object> exports, v8::Local<v8::Context> context) {
  ExportSet(exports, context, "fastClock", SOCKFD_FAST_SET(AddClock));
}

}  // namespace
SOCKFD_NODE_REGISTER(fast_clock, Init);
}  // namespace sockfd_node
