// getrusage(2): the resource usage of the calling process (RUSAGE_SELF), of
// its children that have ended and been waited for (RUSAGE_CHILDREN), or of
// the calling thread (RUSAGE_THREAD), with every field of struct rusage, and
// the RUSAGE_* constants from the headers.
#include <sys/resource.h>
#include <sys/time.h>

#include <climits>

#include "common.h"

namespace sockfd {
namespace {

// A timeval as whole microseconds: exact in a double for 285 years of CPU time.
double Microseconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) * 1e6 + static_cast<double>(time.tv_usec);
}

// getrusage(who) -> { utime, stime, maxrss, ixrss, idrss, isrss, minflt, majflt, nswap,
//                     inblock, oublock, msgsnd, msgrcv, nsignals, nvcsw, nivcsw }
// (the fields of struct rusage without their ru_ prefix; utime and stime in microseconds).
Napi::Value GetRUsage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int who = static_cast<int>(ArgInt(info, 0, "who", INT_MIN, INT_MAX));  // an unknown one: EINVAL from the kernel
  rusage usage{};
  Checked(env, "getrusage", [&] { return ::getrusage(who, &usage); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("utime", Microseconds(usage.ru_utime));
  result.Set("stime", Microseconds(usage.ru_stime));
  auto field = [&](const char* name, long value) { result.Set(name, static_cast<double>(value)); };
  field("maxrss", usage.ru_maxrss);
  field("ixrss", usage.ru_ixrss);
  field("idrss", usage.ru_idrss);
  field("isrss", usage.ru_isrss);
  field("minflt", usage.ru_minflt);
  field("majflt", usage.ru_majflt);
  field("nswap", usage.ru_nswap);
  field("inblock", usage.ru_inblock);
  field("oublock", usage.ru_oublock);
  field("msgsnd", usage.ru_msgsnd);
  field("msgrcv", usage.ru_msgrcv);
  field("nsignals", usage.ru_nsignals);
  field("nvcsw", usage.ru_nvcsw);
  field("nivcsw", usage.ru_nivcsw);
  return result;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getrusage", Napi::Function::New(env, GetRUsage, "getrusage"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(RUSAGE_SELF);
  SOCKFD_CONSTANT(RUSAGE_CHILDREN);
  SOCKFD_CONSTANT(RUSAGE_THREAD);
}

}  // namespace
SOCKFD_REGISTER(rusage, Init);
}  // namespace sockfd
