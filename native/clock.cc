// clock_gettime(2) and the CLOCK_* ids of <time.h>. A time is C's struct
// timespec, kept as two numbers (seconds, nanoseconds): both are integers far
// below 2^53, so nothing is lost, where one double of nanoseconds would round
// CLOCK_REALTIME (~1.8e18 ns) to 256 ns. The per-Node addon has the same call
// as a V8 fast call (native/node/fast_clock.cc); lib/clock.ts picks the path.
#include <time.h>

#include <climits>

#include "common.h"

namespace sockfd {
namespace {

// clock_gettime(clockId) -> { sec, nsec }
// clock_gettime(clockId, into: Float64Array) -> into, with into[0] = sec, into[1] = nsec
// clockId is any int: the dynamic clocks of clock_getcpuclockid() and of
// posix clock fds are negative. Both arguments are checked before the call
// (nothing here runs JS: type checks and reads of the view only).
Napi::Value ClockGettime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  clockid_t clock = static_cast<clockid_t>(ArgInt(info, 0, "clockId", INT32_MIN, INT32_MAX));
  bool into = !IsMissing(info, 1);
  if (into) {
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      ThrowTypeError(env, "into must be a Float64Array");
    size_t length = info[1].As<Napi::TypedArray>().ElementLength();
    if (length < 2) ThrowRangeError(env, "into must have room for 2 numbers (seconds, nanoseconds), has " + std::to_string(length));
  }
  struct timespec now;
  Checked(env, "clock_gettime", [&] { return ::clock_gettime(clock, &now); });
  double sec = static_cast<double>(now.tv_sec), nsec = static_cast<double>(now.tv_nsec);
  if (!into) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("sec", Napi::Number::New(env, sec));
    result.Set("nsec", Napi::Number::New(env, nsec));
    return result;
  }
  Napi::Float64Array array = info[1].As<Napi::Float64Array>();  // checked above; nothing since ran JS
  array[0] = sec;
  array[1] = nsec;
  return array;
}

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(CLOCK_REALTIME); SOCKFD_CONSTANT(CLOCK_MONOTONIC); SOCKFD_CONSTANT(CLOCK_PROCESS_CPUTIME_ID);
  SOCKFD_CONSTANT(CLOCK_THREAD_CPUTIME_ID); SOCKFD_CONSTANT(CLOCK_MONOTONIC_RAW); SOCKFD_CONSTANT(CLOCK_REALTIME_COARSE);
  SOCKFD_CONSTANT(CLOCK_MONOTONIC_COARSE); SOCKFD_CONSTANT(CLOCK_BOOTTIME); SOCKFD_CONSTANT(CLOCK_TAI);
  exports.Set("clock_gettime", Napi::Function::New(env, ClockGettime, "clock_gettime"));
}

}  // namespace
SOCKFD_REGISTER(clock, Init);
}  // namespace sockfd
