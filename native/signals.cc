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
#include "node/js_threads.h"

namespace sockfd {
namespace {

// What protects what:
// - pendingSignals, wakeup, restartAfterSignal, nudgeTimer, nudgeTimerValid,
//   nudgeArmed: written by the signal handler (which runs on the main thread,
//   interrupting it anywhere) or read by any thread: lock-free atomics only,
//   nothing else is async-signal-safe.
// - delivery and everything in it: the main thread's alone. It is created,
//   used and deleted only on the thread for which deliveryThread is true;
//   every other thread (worker_threads blocking in recv) checks that flag
//   first and never reads the pointer.
std::atomic<bool> pendingSignals[NSIG];
std::atomic<uv_async_t*> wakeup{nullptr};
std::atomic<bool> restartAfterSignal{true};

// An initialised uv_async_t can only be freed through uv_close, whose
// callback deletes it: owned by a unique_ptr from uv_async_init on, so a
// throw anywhere after it (sigaction, say) leaks nothing.
struct CloseAsync {
  void operator()(uv_async_t* async) const {
    uv_close(reinterpret_cast<uv_handle_t*>(async), [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  }
};
using AsyncHandle = std::unique_ptr<uv_async_t, CloseAsync>;

// The JS side (lib/process.ts) registers one dispatcher: dispatch(signal).
// Everything here belongs to the main thread's environment.
struct Delivery {
  napi_env env = nullptr;
  Napi::FunctionReference dispatcher;
  std::unique_ptr<Napi::AsyncContext> context;
  AsyncHandle async;
  bool running[NSIG] = {};  // a handler on the stack keeps its signal pending (the kernel's mask, in JS)
};
Delivery* delivery = nullptr;
thread_local bool deliveryThread = false;  // this thread owns `delivery` (the main thread, once created)

// The nudge: a POSIX timer aimed at the main thread (SIGEV_THREAD_ID). The
// handler reads the timer while the main thread may be re-creating it (in a
// forked child): valid is cleared first and set only once the new id is in.
int NudgeSignal() { return SIGRTMAX; }
std::atomic<timer_t> nudgeTimer{};
std::atomic<bool> nudgeTimerValid{false};
std::atomic<bool> nudgeArmed{false};

void OnNudge(int) {}  // exists only to make a blocked call return EINTR

void SetNudge(bool on) {
  if (!nudgeTimerValid.load()) return;
  itimerspec when{};
  if (on) {
    when.it_value.tv_nsec = 1000000;      // 1 ms after the signal,
    when.it_interval.tv_nsec = 10000000;  // then every 10 ms until it is handled
  }
  timer_settime(nudgeTimer.load(), 0, &when, nullptr);  // async-signal-safe
  nudgeArmed.store(on);
}

void CreateNudgeTimer() {
  nudgeTimerValid.store(false);
  nudgeArmed.store(false);
  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = NudgeSignal();
  event._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
  timer_t timer{};
  if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) return;
  nudgeTimer.store(timer);
  nudgeTimerValid.store(true);
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
  // Until none is pending: a signal that came while a handler ran, with a
  // number the scan had passed, runs now, not at the nudge 1-10 ms later.
  // (A handler that raises its own signal runs again, as in C.)
  do {
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
        if (AnyPending()) uv_async_send(delivery->async.get());  // the others are not lost
        throw;
      }
      delivery->running[sig] = false;
    }
  } while (AnyPending());
  // Disarm, then look again: a signal that arrived in between saw the nudge
  // armed and left it to us.
  if (nudgeArmed.load() && !AnyPending(true)) {
    SetNudge(false);
    if (AnyPending(true)) SetNudge(true);
  }
}

// A libuv callback: no exception may leave it.
void OnWakeup(uv_async_t* async) {
  if (delivery == nullptr || delivery->dispatcher.IsEmpty()) return;
  Napi::Env env(delivery->env);
  Napi::HandleScope scope(env);
  try {
    Deliver(env, true);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());  // as an uncaught exception of the handler
  } catch (...) {
    // std::bad_alloc and the like: the handlers stay pending, the next wakeup retries.
  }
}

void Cleanup(void*) {
  wakeup.store(nullptr);
  SetNudge(false);
  delete delivery;  // closes the async handle
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
  auto async = std::make_unique<uv_async_t>();
  int rc = uv_async_init(loop, async.get(), OnWakeup);
  if (rc != 0) throw Napi::Error::New(env, std::string("signal: uv_async_init: ") + uv_strerror(rc));
  owned->async = AsyncHandle(async.release());  // from now on only uv_close may free it
  uv_unref(reinterpret_cast<uv_handle_t*>(owned->async.get()));  // never keeps the process alive
  struct sigaction nudge {};
  sigemptyset(&nudge.sa_mask);
  nudge.sa_flags = 0;  // no SA_RESTART
  nudge.sa_handler = OnNudge;
  Checked(env, "sigaction", [&] { return ::sigaction(NudgeSignal(), &nudge, nullptr); });
  CreateNudgeTimer();
  static bool atforkInstalled = false;  // main thread only, like all of Delivery
  if (!atforkInstalled) atforkInstalled = pthread_atfork(nullptr, nullptr, AfterForkInChild) == 0;
  if (napi_add_env_cleanup_hook(env, Cleanup, nullptr) != napi_ok)
    throw Napi::Error::New(env, "signal: cannot register the environment's cleanup");
  delivery = owned.release();
  deliveryThread = true;
  wakeup.store(delivery->async.get());
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
  if (sig == JsThreadProbeSignal())
    return "sockfd's fork() uses SIGRTMAX-1 to ask each thread whether it runs JavaScript (a Worker's thread)";
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

// Returns whether the EINTR that Blocking() just saw came with a signal of
// signal(): only then does setRestartAfterSignal(false) report it. A nudge
// that fires as its signal was being handled, or a stop/continue, just
// resumes the call. The answer is returned, not kept: a handler may itself
// make a blocking call that is interrupted and handled (nested), and that
// must not decide for the outer call.
bool RunPendingSignalHandlers(Napi::Env env) {
  if (!deliveryThread) return false;  // a worker thread: `delivery` is not its to read
  if (delivery == nullptr || delivery->env != static_cast<napi_env>(env) || delivery->dispatcher.IsEmpty()) return false;
  bool arrived = AnyPending(true);
  Deliver(env, false);
  return arrived;
}

bool RestartAfterSignal(bool signalArrived) { return restartAfterSignal.load() || !signalArrived; }

SOCKFD_REGISTER(signals, Init);
}  // namespace sockfd
