// Process control: getpid, getppid, waitpid, kill, _exit, getrlimit,
// setrlimit, and the signal, wait and rlimit constants from the headers.
// fork() lives in fork.cc (it needs node.h); signal() in signals.cc.
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace sockfd {
namespace {

Napi::Value GetPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ::getpid()); }
Napi::Value GetPPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ::getppid()); }

// waitpid(pid, options?) -> { pid, status, exitCode, signal, coreDumped, stopped, continued }.
// With WNOHANG and no child ready: pid 0 and every field null/false.
Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = static_cast<pid_t>(ArgInt(info, 0, "pid", INT32_MIN, INT32_MAX));
  int options = static_cast<int>(ArgIntOr(info, 1, "options", 0, INT32_MAX, 0));
  int status = 0;
  pid_t child = Blocking(env, "waitpid", [&] { return ::waitpid(pid, &status, options); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", child);
  result.Set("status", status);
  bool ready = child > 0;
  result.Set("exitCode", ready && WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  Napi::Value signal = env.Null();
  if (ready && WIFSIGNALED(status)) signal = Napi::Number::New(env, WTERMSIG(status));
  if (ready && WIFSTOPPED(status)) signal = Napi::Number::New(env, WSTOPSIG(status));
  result.Set("signal", signal);
  result.Set("coreDumped", ready && WIFSIGNALED(status) && WCOREDUMP(status));
  result.Set("stopped", ready && WIFSTOPPED(status));
  result.Set("continued", ready && WIFCONTINUED(status));
  return result;
}

// kill(pid, sig): pid 0 is the caller's process group, -1 every process it may signal.
Napi::Value Kill(const Napi::CallbackInfo& info) {
  pid_t pid = static_cast<pid_t>(ArgInt(info, 0, "pid", INT32_MIN, INT32_MAX));
  int sig = static_cast<int>(ArgInt(info, 1, "signal", 0, SIGRTMAX));
  Checked(info.Env(), "kill", [&] { return ::kill(pid, sig); });
  return info.Env().Undefined();
}

// _exit(status): ends the process now. No 'exit' event, no flushing, no
// teardown: what a forked child needs (Node's teardown joins threads that do
// not exist there). The parent sees status & 0xff, as in C.
Napi::Value Exit(const Napi::CallbackInfo& info) {
  int status = static_cast<int>(ArgIntOr(info, 0, "status", INT32_MIN, INT32_MAX, 0));
  ::_exit(status);
}

// ---- rlimits ----------------------------------------------------------------
// A limit reaches JS as a number (Infinity for RLIM_INFINITY), or as a bigint
// when asked for ({ bigint: true }: exact above 2^53, RLIM_INFINITY as 2^64-1).
constexpr double kMaxSafeInteger = 9007199254740991.0;

Napi::Value LimitValue(Napi::Env env, rlim_t value, bool asBigInt) {
  if (asBigInt) return Napi::BigInt::New(env, static_cast<uint64_t>(value));
  if (value == RLIM_INFINITY) return Napi::Number::New(env, std::numeric_limits<double>::infinity());
  return Napi::Number::New(env, static_cast<double>(value));
}

int ArgResource(const Napi::CallbackInfo& info) {
  return static_cast<int>(ArgInt(info, 0, "resource", 0, RLIM_NLIMITS - 1));
}

// A number (a non-negative integer, or Infinity) or a bigint (0 .. 2^64-1).
rlim_t ArgLimit(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (value.IsBigInt()) {
    bool lossless = false;
    uint64_t limit = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowRangeError(env, std::string(name) + " is out of range (0n..2n**64n-1n)");
    return static_cast<rlim_t>(limit);
  }
  if (!value.IsNumber()) ThrowTypeError(env, std::string(name) + " must be a number, Infinity or a bigint");
  double number = value.As<Napi::Number>().DoubleValue();
  if (number == std::numeric_limits<double>::infinity()) return RLIM_INFINITY;
  if (!std::isfinite(number) || std::trunc(number) != number)
    ThrowTypeError(env, std::string(name) + " must be an integer or Infinity");
  if (number < 0 || number > kMaxSafeInteger)
    ThrowRangeError(env, std::string(name) + " is out of range (0..2^53-1 or Infinity; use a bigint above)");
  return static_cast<rlim_t>(number);
}

// getrlimit(resource, asBigInt?) -> { soft, hard }
Napi::Value GetRLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int resource = ArgResource(info);
  bool asBigInt = !IsMissing(info, 1) && info[1].ToBoolean().Value();
  rlimit limit{};
  Checked(env, "getrlimit", [&] { return ::getrlimit(resource, &limit); });
  Napi::Object result = Napi::Object::New(env);
  result.Set("soft", LimitValue(env, limit.rlim_cur, asBigInt));
  result.Set("hard", LimitValue(env, limit.rlim_max, asBigInt));
  return result;
}

// setrlimit(resource, soft, hard?): hard defaults to the current hard limit.
Napi::Value SetRLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int resource = ArgResource(info);
  if (IsMissing(info, 1)) ThrowTypeError(env, "missing argument: soft");
  rlimit limit{};
  limit.rlim_cur = ArgLimit(info, 1, "soft");
  if (IsMissing(info, 2)) {
    rlimit current{};
    Checked(env, "getrlimit", [&] { return ::getrlimit(resource, &current); });
    limit.rlim_max = current.rlim_max;
  } else {
    limit.rlim_max = ArgLimit(info, 2, "hard");
  }
  Checked(env, "setrlimit", [&] { return ::setrlimit(resource, &limit); });
  return env.Undefined();
}

// ---- constants ----------------------------------------------------------------

void ProcessConstants(Napi::Env env, Napi::Object constants) {
  SOCKFD_CONSTANT(SIGHUP); SOCKFD_CONSTANT(SIGINT); SOCKFD_CONSTANT(SIGQUIT); SOCKFD_CONSTANT(SIGILL); SOCKFD_CONSTANT(SIGTRAP); SOCKFD_CONSTANT(SIGABRT); SOCKFD_CONSTANT(SIGIOT); SOCKFD_CONSTANT(SIGBUS);
  SOCKFD_CONSTANT(SIGFPE); SOCKFD_CONSTANT(SIGKILL); SOCKFD_CONSTANT(SIGUSR1); SOCKFD_CONSTANT(SIGSEGV); SOCKFD_CONSTANT(SIGUSR2); SOCKFD_CONSTANT(SIGPIPE); SOCKFD_CONSTANT(SIGALRM); SOCKFD_CONSTANT(SIGTERM);
  SOCKFD_CONSTANT(SIGSTKFLT); SOCKFD_CONSTANT(SIGCHLD); SOCKFD_CONSTANT(SIGCONT); SOCKFD_CONSTANT(SIGSTOP); SOCKFD_CONSTANT(SIGTSTP); SOCKFD_CONSTANT(SIGTTIN); SOCKFD_CONSTANT(SIGTTOU); SOCKFD_CONSTANT(SIGURG);
  SOCKFD_CONSTANT(SIGXCPU); SOCKFD_CONSTANT(SIGXFSZ); SOCKFD_CONSTANT(SIGVTALRM); SOCKFD_CONSTANT(SIGPROF); SOCKFD_CONSTANT(SIGWINCH); SOCKFD_CONSTANT(SIGIO); SOCKFD_CONSTANT(SIGPOLL); SOCKFD_CONSTANT(SIGPWR);
  SOCKFD_CONSTANT(SIGSYS);
  SOCKFD_CONSTANT(SIGRTMIN); SOCKFD_CONSTANT(SIGRTMAX); SOCKFD_CONSTANT(NSIG);  // SIGRTMIN/SIGRTMAX: glibc's run-time values
  SOCKFD_CONSTANT(WNOHANG); SOCKFD_CONSTANT(WUNTRACED); SOCKFD_CONSTANT(WCONTINUED);
  SOCKFD_CONSTANT(RLIMIT_CPU); SOCKFD_CONSTANT(RLIMIT_FSIZE); SOCKFD_CONSTANT(RLIMIT_DATA); SOCKFD_CONSTANT(RLIMIT_STACK); SOCKFD_CONSTANT(RLIMIT_CORE); SOCKFD_CONSTANT(RLIMIT_RSS);
  SOCKFD_CONSTANT(RLIMIT_NPROC); SOCKFD_CONSTANT(RLIMIT_NOFILE); SOCKFD_CONSTANT(RLIMIT_MEMLOCK); SOCKFD_CONSTANT(RLIMIT_AS); SOCKFD_CONSTANT(RLIMIT_LOCKS);
  SOCKFD_CONSTANT(RLIMIT_SIGPENDING); SOCKFD_CONSTANT(RLIMIT_MSGQUEUE); SOCKFD_CONSTANT(RLIMIT_NICE); SOCKFD_CONSTANT(RLIMIT_RTPRIO); SOCKFD_CONSTANT(RLIMIT_RTTIME);
  SOCKFD_CONSTANT(RLIM_NLIMITS);
  // RLIM_INFINITY (2^64-1) has no exact double: JS sees it as Infinity.
  constants.Set("RLIM_INFINITY", Napi::Number::New(env, std::numeric_limits<double>::infinity()));
}


void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, GetPPid, "getppid"));
  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("_exit", Napi::Function::New(env, Exit, "_exit"));
  exports.Set("getrlimit", Napi::Function::New(env, GetRLimit, "getrlimit"));
  exports.Set("setrlimit", Napi::Function::New(env, SetRLimit, "setrlimit"));
  Napi::Object constants = ConstantsObject(env, exports);
  ProcessConstants(env, constants);
}

}  // namespace
SOCKFD_REGISTER(process, Init);
}  // namespace sockfd
