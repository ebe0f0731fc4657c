// Signals delivered to JS, also while the main thread is blocked in a system
// call. signal() installs a real sigaction handler WITHOUT SA_RESTART: it only
// records the signal and wakes the event loop (uv_async_send is
// async-signal-safe). A blocking call of this addon then sees EINTR and runs
// the JS handlers itself (Blocking() in common.h); when JS is not blocked the
// loop wakes up and runs them. libuv's own signal handling (process.on('SIGx'))
// uses SA_RESTART, which is why a blocked accept() never lets it run.
// A signal that arrives while JS runs (not blocked) can be followed by a
// blocking call before the loop gets to run its handler; so until it has
// been handled, a timer keeps interrupting the main thread with a signal of
// our own (SIGRTMAX), and the blocked call sees EINTR.
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "common.h"

namespace sockfd {
namespace {

// Written by the handler, read by the main thread: lock-free atomics only.
std::atomic<bool> pendingSignals[NSIG];
std::atomic<uv_async_t*> wakeup{nullptr};
std::atomic<bool> restartAfterSignal{true};

// The JS side (lib/process.ts) registers one dispatcher: dispatch(signal).
// Everything here belongs to the main thread's environment.
struct Delivery {
  napi_env env = nullptr;
  Napi::FunctionReference dispatcher;
  std::unique_ptr<Napi::AsyncContext> context;
  uv_async_t* async = nullptr;
  bool running[NSIG] = {};  // a handler on the stack keeps its signal pending (the kernel's mask, in JS)
};
Delivery* delivery = nullptr;

// The nudge: a POSIX timer aimed at the main thread (SIGEV_THREAD_ID).
int NudgeSignal() { return SIGRTMAX; }
timer_t nudgeTimer;
std::atomic<bool> nudgeArmed{false};
bool nudgeTimerValid = false;

void OnNudge(int) {}  // exists only to make a blocked call return EINTR

void SetNudge(bool on) {
  if (!nudgeTimerValid) return;
  itimerspec when{};
  if (on) {
    when.it_value.tv_nsec = 1000000;      // 1 ms after the signal,
    when.it_interval.tv_nsec = 10000000;  // then every 10 ms until it is handled
  }
  timer_settime(nudgeTimer, 0, &when, nullptr);  // async-signal-safe
  nudgeArmed.store(on);
}

void CreateNudgeTimer() {
  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = NudgeSignal();
  event._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
  nudgeTimerValid = timer_create(CLOCK_MONOTONIC, &event, &nudgeTimer) == 0;
  nudgeArmed.store(false);
}

bool OnMainThread() { return ::syscall(SYS_gettid) == ::getpid(); }

void OnSignal(int sig) {
  int savedErrno = errno;
  pid_t pid = ::getpid();
  if (::syscall(SYS_gettid) != pid) {
    // A V8 or libuv thread caught it; the main thread is the one that may be
    // blocked in accept()/recv(), so it has to be interrupted.
    ::syscall(SYS_tgkill, pid, pid, sig);
  } else {
    pendingSignals[sig].store(true);
    if (uv_async_t* async = wakeup.load()) uv_async_send(async);
    if (!nudgeArmed.load()) SetNudge(true);
  }
  errno = savedErrno;
}

bool AnyPending(bool includingRunning = false) {
  for (int sig = 1; sig < NSIG; ++sig)
    if (pendingSignals[sig].load() && (includingRunning || !delivery->running[sig])) return true;
  return false;
}

// Runs the handler of each pending signal once. `viaLoop`: called from the
// event loop (MakeCallback, so nextTicks and promises run afterwards) rather
// than from inside a blocking call (a plain call whose exception propagates
// to the blocked call's caller).
void Deliver(Napi::Env env, bool viaLoop) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (delivery->running[sig] || !pendingSignals[sig].exchange(false)) continue;
    delivery->running[sig] = true;
    try {
      Napi::Value number = Napi::Number::New(env, sig);
      if (viaLoop)
        delivery->dispatcher.MakeCallback(env.Global(), {number}, *delivery->context);
      else
        delivery->dispatcher.Call({number});
    } catch (...) {
      delivery->running[sig] = false;
      if (AnyPending()) uv_async_send(delivery->async);  // the others are not lost
      throw;
    }
    delivery->running[sig] = false;
  }
  if (nudgeArmed.load() && !AnyPending(true)) SetNudge(false);
}

void OnWakeup(uv_async_t* async) {
  if (delivery == nullptr || delivery->dispatcher.IsEmpty()) return;
  Napi::Env env(delivery->env);
  Napi::HandleScope scope(env);
  try {
    Deliver(env, true);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());  // as an uncaught exception of the handler
  }
}

void Cleanup(void*) {
  wakeup.store(nullptr);
  SetNudge(false);
  if (delivery == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(delivery->async),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  delete delivery;
  delivery = nullptr;
}

// A forked child: timers are not inherited and the main thread's id changed;
// signals pending in the parent are not the child's (as in C).
void AfterForkInChild() {
  for (auto& pending : pendingSignals) pending.store(false);
  CreateNudgeTimer();
}

void EnsureDelivery(Napi::Env env) {
  if (delivery != nullptr) {
    if (delivery->env != static_cast<napi_env>(env))
      throw Napi::Error::New(env, "signal: handlers belong to the main thread's environment");
    return;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "signal: no event loop");
  auto owned = std::make_unique<Delivery>();
  owned->env = env;
  owned->context = std::make_unique<Napi::AsyncContext>(env, "sockfd:signal");
  owned->async = new uv_async_t();
  int rc = uv_async_init(loop, owned->async, OnWakeup);
  if (rc != 0) {
    delete owned->async;
    throw Napi::Error::New(env, std::string("signal: uv_async_init: ") + uv_strerror(rc));
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(owned->async));  // never keeps the process alive
  struct sigaction nudge {};
  sigemptyset(&nudge.sa_mask);
  nudge.sa_flags = 0;  // no SA_RESTART
  nudge.sa_handler = OnNudge;
  Checked(env, "sigaction", [&] { return ::sigaction(NudgeSignal(), &nudge, nullptr); });
  CreateNudgeTimer();
  pthread_atfork(nullptr, nullptr, AfterForkInChild);
  delivery = owned.release();
  wakeup.store(delivery->async);
  napi_add_env_cleanup_hook(env, Cleanup, nullptr);
}

// Signals whose handling this process cannot give away, and why (docs/process.md).
const char* RefusalReason(int sig) {
  if (sig == SIGKILL || sig == SIGSTOP) return "the kernel never lets SIGKILL or SIGSTOP be caught or ignored";
  if (sig == SIGSEGV || sig == SIGBUS)
    return "V8 and Node need it (WebAssembly out-of-bounds traps, crash reports); ignoring a fault loops or kills";
  if (sig == SIGFPE || sig == SIGILL) return "a hardware fault cannot be ignored or resumed from JS";
  if (sig == SIGPROF) return "V8's CPU profiler (--prof, --cpu-prof, inspector) samples with it";
  if (sig >= 32 && sig < SIGRTMIN) return "glibc reserves it for its threads (cancellation, setxid)";
  if (sig == NudgeSignal()) return "sockfd uses SIGRTMAX to interrupt blocking calls while a handled signal waits for its handler";
  return nullptr;
}

enum Disposition { kDefault = 0, kIgnore = 1, kHandler = 2, kOther = 3 };

// signalAction(signal, disposition) -> previous disposition
// (0 default, 1 ignore, 2 our handler, 3 someone else's handler, e.g. libuv's).
Napi::Value SignalAction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sig = static_cast<int>(ArgInt(info, 0, "signal", 1, SIGRTMAX));
  int disposition = static_cast<int>(ArgInt(info, 1, "disposition", kDefault, kHandler));
  if (const char* reason = RefusalReason(sig)) {
    Napi::Error error = ErrnoError(env, "signal", EINVAL);
    const char* name = sigabbrev_np(sig);
    error.Value().Set("message", std::string("signal: Invalid argument: ") + (name ? "SIG" + std::string(name) : std::to_string(sig)) +
                                     " is refused: " + reason);
    throw error;
  }
  if (!OnMainThread()) throw Napi::Error::New(env, "signal: only the main thread may install signal handlers");
  if (disposition == kHandler) EnsureDelivery(env);
  struct sigaction action {};
  struct sigaction previous {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking calls must see EINTR
  action.sa_handler = disposition == kHandler ? OnSignal : disposition == kIgnore ? SIG_IGN : SIG_DFL;
  if (disposition != kHandler) pendingSignals[sig].store(false);
  Checked(env, "sigaction", [&] { return ::sigaction(sig, &action, &previous); });
  int before = kOther;
  if (!(previous.sa_flags & SA_SIGINFO)) {
    if (previous.sa_handler == SIG_DFL) before = kDefault;
    else if (previous.sa_handler == SIG_IGN) before = kIgnore;
    else if (previous.sa_handler == OnSignal) before = kHandler;
  }
  return Napi::Number::New(env, before);
}

// setSignalDispatcher(fn): fn(signal) runs the JS handler of that signal.
Napi::Value SetSignalDispatcher(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "dispatcher must be a function");
  if (!OnMainThread()) throw Napi::Error::New(env, "signal: only the main thread may install signal handlers");
  EnsureDelivery(env);
  delivery->dispatcher = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value SetRestartAfterSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowTypeError(env, "restart must be a boolean");
  restartAfterSignal.store(info[0].As<Napi::Boolean>().Value());
  return env.Undefined();
}

Napi::Value GetRestartAfterSignal(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), restartAfterSignal.load());
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("signalAction", Napi::Function::New(env, SignalAction, "signalAction"));
  exports.Set("setSignalDispatcher", Napi::Function::New(env, SetSignalDispatcher, "setSignalDispatcher"));
  exports.Set("setRestartAfterSignal", Napi::Function::New(env, SetRestartAfterSignal, "setRestartAfterSignal"));
  exports.Set("getRestartAfterSignal", Napi::Function::New(env, GetRestartAfterSignal, "getRestartAfterSignal"));
}

}  // namespace

// Whether the EINTR that Blocking() just saw came with a signal of signal():
// only then does setRestartAfterSignal(false) report it. A nudge that fires
// as its signal was being handled, or a stop/continue, just resumes the call.
static thread_local bool signalArrived = false;  // per thread: worker_threads block too

void RunPendingSignalHandlers(Napi::Env env) {
  signalArrived = false;
  if (delivery == nullptr || delivery->env != static_cast<napi_env>(env) || delivery->dispatcher.IsEmpty()) return;
  signalArrived = AnyPending(true);
  Deliver(env, false);
}

bool RestartAfterSignal() {
  bool arrived = signalArrived;
  signalArrived = false;
  return restartAfterSignal.load() || !arrived;
}

SOCKFD_REGISTER(signals, Init);
}  // namespace sockfd
