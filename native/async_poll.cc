// Non-blocking sockets on Node's event loop.
//
// Readiness: each Node environment (the main thread, each worker) gets a
// registry with at most one uv_poll_t per fd, on that environment's own loop
// (napi_get_uv_event_loop) - never uv_default_loop(), never a thread blocked
// in a system call. asyncWait(fd, events, id) returns a Promise of the ready
// events; the handle runs with the union of its waiters' events and stops when
// none is left. After a readiness callback the promise reactions run first
// (inside a callback scope) and only then is the handle's event set
// recomputed, so a recv/send loop that waits again at once costs no
// epoll_ctl. Lifetime: close(2) of a watched fd goes through
// ReleaseWatcherBeforeClose (uv_poll_stop + uv_close, waiters rejected with
// EBADF); memory is freed in the close callback; an async environment cleanup
// hook closes every handle when a worker or the process ends.
//
// Generations: every close through sockfd (close, dup2 onto the fd, a
// hand-off to net) moves the fd number's generation on. lib/async.ts reads it
// before a call first suspends and checks it after every resume, so a call
// never acts on a number that was closed meanwhile, even when it was not a
// registered waiter (the setImmediate yield, a readiness already delivered).
//
// The attempts the async calls make between waits (tryRecv, trySend, ...,
// tryAccept, tryConnect) live beside their blocking twins in io.cc,
// socket_calls.cc and msg.cc, on Attempt() (common.h); this file is the
// watcher registry only.
#include "async_poll.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <climits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

// Events as JS sees them: libuv's bits, plus one for a socket error (POLLERR,
// which libuv reports as a failed status and answers by stopping the handle).
constexpr int kReadable = UV_READABLE;
constexpr int kWritable = UV_WRITABLE;
constexpr int kFailed = 1 << 8;
static_assert((kFailed & (UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED)) == 0,
              "kFailed must not collide with a libuv event bit");

struct Registry;

struct Waiter {
  uint32_t id;
  int events;
  napi_deferred deferred;
};

struct Watcher {
  uv_poll_t handle;
  Registry* registry;
  int fd;
  int mask = 0;           // events the handle is started with (0: stopped)
  bool released = false;  // uv_close was called; the close callback frees us
  std::vector<Waiter> waiters;
};

struct Registry {
  napi_env env;
  uv_loop_t* loop;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  std::unordered_map<int, Watcher*> watchers;
  size_t closing = 0;  // uv_close'd handles whose close callback has not run yet
  bool tearingDown = false;
  Registry* next = nullptr;
};

// An environment lives on one thread for its whole life, so the registries of
// a thread (in practice one) need no lock.
thread_local Registry* threadRegistries = nullptr;

// fd number -> times closed through sockfd. fd numbers belong to the process
// and any thread may close one: protected by generationsMutex. One entry per
// number ever closed (bounded by the fd limit); read only when a call
// suspends or resumes, written at close.
std::mutex generationsMutex;
std::unordered_map<int, uint32_t> generations;

void NextGeneration(int fd) {
  std::lock_guard<std::mutex> lock(generationsMutex);
  ++generations[fd];
}

Registry* FindRegistry(napi_env env) {
  for (Registry* r = threadRegistries; r != nullptr; r = r->next)
    if (r->env == env) return r;
  return nullptr;
}

void Unlink(Registry* registry) {
  for (Registry** link = &threadRegistries; *link != nullptr; link = &(*link)->next) {
    if (*link == registry) {
      *link = registry->next;
      return;
    }
  }
}

void FinishTearDown(Registry* r) {
  napi_async_cleanup_hook_handle cleanup = r->cleanup;
  delete r;
  napi_remove_async_cleanup_hook(cleanup);  // Node may now finish tearing the environment down
}

void OnClosed(uv_handle_t* handle) {
  auto* watcher = static_cast<Watcher*>(handle->data);
  Registry* r = watcher->registry;
  delete watcher;
  --r->closing;
  if (r->tearingDown && r->closing == 0) FinishTearDown(r);
}

// Stops the handle and hands it to uv_close; libuv forgets the fd at once,
// the memory goes in OnClosed. The caller settles the waiters.
void CloseWatcher(Registry* r, Watcher* w) {
  w->released = true;
  w->mask = 0;
  ++r->closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), OnClosed);
}

// The environment is ending (worker exit or terminate, process exit): no JS
// can run any more, so pending promises are abandoned, and every handle is
// closed before Node checks that the loop is empty.
void TearDown(napi_async_cleanup_hook_handle handle, void* data) {
  auto* r = static_cast<Registry*>(data);
  r->tearingDown = true;
  Unlink(r);
  if (r->context != nullptr) napi_async_destroy(r->env, r->context);
  r->context = nullptr;
  for (auto& [fd, watcher] : r->watchers) {
    watcher->waiters.clear();
    CloseWatcher(r, watcher);
  }
  r->watchers.clear();
  if (r->closing == 0) FinishTearDown(r);
}

Registry& RegistryOf(Napi::Env env) {
  if (Registry* found = FindRegistry(env)) return *found;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "sockfd: this environment has no event loop");
  auto* r = new Registry{};
  r->env = env;
  r->loop = loop;
  napi_value name;
  napi_create_string_utf8(env, "sockfd.poll", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, nullptr, name, &r->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, TearDown, r, &r->cleanup) != napi_ok) {
    if (r->context != nullptr) napi_async_destroy(env, r->context);
    delete r;
    throw Napi::Error::New(env, "sockfd: cannot register the event-loop watchers of this environment");
  }
  r->next = threadRegistries;
  threadRegistries = r;
  return *r;
}

// Why a pending wait ended without readiness: an EBADF that names the fd.
napi_value WaitEndedError(napi_env env, int fd, const char* why) {
  Napi::Error error = ErrnoError(env, "poll", EBADF);
  Napi::Object object = error.Value();
  object.Set("message", "poll: fd " + std::to_string(fd) + " was " + why +
                            " while a wait on it was pending (Bad file descriptor)");
  object.Set("fd", fd);
  return error.Value();
}

// Rejects every waiter of `w` with `reason`; the list is emptied first so
// nothing reentrant can see a settled deferred.
void RejectAll(napi_env env, Watcher* w, napi_value reason) {
  std::vector<Waiter> waiters;
  waiters.swap(w->waiters);
  for (const Waiter& waiter : waiters) napi_reject_deferred(env, waiter.deferred, reason);
}

void OnReady(uv_poll_t* handle, int status, int events);

// Starts, changes or stops the handle to match what the waiters want.
// Returns 0 or a libuv error (UV_EEXIST: another handle on this loop owns the fd).
int UpdateMask(Watcher* w) {
  int wanted = 0;
  for (const Waiter& waiter : w->waiters) wanted |= waiter.events;
  if (wanted == w->mask) return 0;
  int err = wanted == 0 ? uv_poll_stop(&w->handle) : uv_poll_start(&w->handle, wanted, OnReady);
  w->mask = err == 0 ? wanted : 0;
  return err;
}

napi_value StartError(napi_env env, int fd, int uvError) {
  if (uvError == UV_EEXIST) {
    Napi::Error error = ErrnoError(env, "poll", EEXIST);
    error.Value().Set("message", "poll: fd " + std::to_string(fd) +
                                     " is already watched by another handle on this event loop "
                                     "(was it handed to net?) (File exists)");
    return error.Value();
  }
  return ErrnoError(env, "poll", -uvError).Value();
}

// Runs `body` where JS promise reactions can follow: inside a handle scope and
// a callback scope, whose end runs the microtasks and process.nextTick queue.
template <typename Body>
void InCallbackScope(Registry* r, Body&& body) {
  napi_env env = r->env;
  napi_handle_scope handles;
  if (napi_open_handle_scope(env, &handles) != napi_ok) return;
  napi_callback_scope scope;
  if (napi_open_callback_scope(env, nullptr, r->context, &scope) == napi_ok) {
    // A libuv callback: nothing may leave it. A Napi::Error only comes while
    // the environment is torn down (nothing is left to tell); std::bad_alloc
    // or any other exception leaves the unsettled waiters registered, to be
    // settled by the next readiness, a close or the environment's cleanup.
    try {
      body(env);
    } catch (...) {
    }
    napi_close_callback_scope(env, scope);
  }
  napi_close_handle_scope(env, handles);
}

// Readiness (or POLLERR). Settles the matching waiters in a callback scope,
// whose end runs their promise reactions; only then is the event set
// recomputed, so waits renewed by those reactions keep the handle running.
void OnReady(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<Watcher*>(handle->data);
  Registry* r = w->registry;
  if (w->released || r->tearingDown) return;
  // POLLERR: libuv stopped the handle; every waiter retries its call, which
  // reports the socket's error (ECONNREFUSED, ECONNRESET, ...).
  if (status < 0) w->mask = 0;
  int ready = status < 0 ? kFailed | kReadable | kWritable : events;
  InCallbackScope(r, [&](napi_env env) {
    napi_value value;
    napi_create_int32(env, ready, &value);
    std::vector<Waiter>& list = w->waiters;
    size_t kept = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if ((list[i].events & ready) != 0)
        napi_resolve_deferred(env, list[i].deferred, value);  // queues the reactions, runs no JS
      else
        list[kept++] = list[i];
    }
    list.resize(kept);
  });
  // The reactions have run: they may have waited again, or closed the fd.
  if (w->released || r->tearingDown) return;
  int err = UpdateMask(w);
  if (err != 0) InCallbackScope(r, [&](napi_env env) { RejectAll(env, w, StartError(env, w->fd, err)); });
}

// The fd's watcher, created on first use. uv_poll_init makes the fd
// non-blocking; the fd's own mode is restored, waiting must not change it.
Watcher* WatcherOf(Napi::Env env, Registry& r, int fd) {
  auto found = r.watchers.find(fd);
  if (found != r.watchers.end()) return found->second;
  int flags = Checked(env, "poll", [&] { return ::fcntl(fd, F_GETFL); });  // EBADF before libuv sees the fd
  auto* w = new Watcher{};
  w->registry = &r;
  w->fd = fd;
  int err = uv_poll_init(r.loop, &w->handle, fd);
  if (err != 0) {
    delete w;
    throw Napi::Error(env, StartError(env, fd, err));
  }
  w->handle.data = w;
  if ((flags & O_NONBLOCK) == 0) {
    int off = 0;
    ::ioctl(fd, FIONBIO, &off);
  }
  r.watchers.emplace(fd, w);
  return w;
}

// asyncWait(fd, events, id) -> Promise<events that are ready>
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int events = static_cast<int>(ArgInt(info, 1, "events", 1, kReadable | kWritable));
  uint32_t id = static_cast<uint32_t>(ArgInt(info, 2, "id", 0, UINT32_MAX));
  Registry& r = RegistryOf(env);
  Watcher* w = WatcherOf(env, r, fd);
  napi_deferred deferred;
  napi_value promise;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) throw Napi::Error::New(env, "sockfd: cannot create a promise");
  w->waiters.push_back({id, events, deferred});
  int err = UpdateMask(w);
  if (err != 0) {
    w->waiters.pop_back();
    napi_reject_deferred(env, deferred, StartError(env, fd, err));
  }
  return Napi::Value(env, promise);
}

// asyncCancel(fd, id, reason) -> whether a pending wait was rejected with `reason`
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  uint32_t id = static_cast<uint32_t>(ArgInt(info, 1, "id", 0, UINT32_MAX));
  if (info.Length() < 3) ThrowTypeError(env, "missing argument: reason");
  Registry* r = FindRegistry(env);
  if (r == nullptr) return Napi::Boolean::New(env, false);
  auto found = r->watchers.find(fd);
  if (found == r->watchers.end()) return Napi::Boolean::New(env, false);
  Watcher* w = found->second;
  for (size_t i = 0; i < w->waiters.size(); ++i) {
    if (w->waiters[i].id != id) continue;
    napi_deferred deferred = w->waiters[i].deferred;
    w->waiters.erase(w->waiters.begin() + static_cast<std::ptrdiff_t>(i));
    UpdateMask(w);  // stopping cannot fail; a narrower start cannot meet EEXIST
    napi_reject_deferred(env, deferred, info[2]);
    return Napi::Boolean::New(env, true);
  }
  return Napi::Boolean::New(env, false);
}

void Release(napi_env env, int fd, const char* why) {
  NextGeneration(fd);
  Registry* r = FindRegistry(env);
  if (r == nullptr) return;
  auto found = r->watchers.find(fd);
  if (found == r->watchers.end()) return;
  Watcher* w = found->second;
  r->watchers.erase(found);
  CloseWatcher(r, w);
  if (!w->waiters.empty()) RejectAll(env, w, WaitEndedError(env, fd, why));
}

// asyncRelease(fd): forget the fd before someone else (net) takes it over.
Napi::Value ReleaseForHandOff(const Napi::CallbackInfo& info) {
  Release(info.Env(), ArgFd(info, 0), "handed over");
  return info.Env().Undefined();
}

// asyncGeneration(fd) -> FdGeneration(fd)
Napi::Value Generation(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), FdGeneration(ArgFd(info, 0)));
}

// asyncStats() -> { watchers, active, waiters } of this environment (for tests and leaks).
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t watchers = 0, active = 0, waiters = 0;
  if (Registry* r = FindRegistry(env)) {
    for (const auto& [fd, w] : r->watchers) {
      ++watchers;
      if (w->mask != 0) ++active;
      waiters += w->waiters.size();
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("watchers", static_cast<double>(watchers));
  result.Set("active", static_cast<double>(active));
  result.Set("waiters", static_cast<double>(waiters));
  return result;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("asyncWait", Napi::Function::New(env, Wait, "asyncWait"));
  exports.Set("asyncCancel", Napi::Function::New(env, Cancel, "asyncCancel"));
  exports.Set("asyncRelease", Napi::Function::New(env, ReleaseForHandOff, "asyncRelease"));
  exports.Set("asyncGeneration", Napi::Function::New(env, Generation, "asyncGeneration"));
  exports.Set("asyncStats", Napi::Function::New(env, Stats, "asyncStats"));
  Napi::Object events = Napi::Object::New(env);
  events.Set("readable", kReadable);
  events.Set("writable", kWritable);
  events.Set("failed", kFailed);
  exports.Set("asyncEvents", events);
}

}  // namespace

void ReleaseWatcherBeforeClose(napi_env env, int fd) {
  if (threadRegistries == nullptr) {  // nothing was ever watched on this thread
    NextGeneration(fd);
    return;
  }
  Release(env, fd, "closed");
}

uint32_t FdGeneration(int fd) {
  std::lock_guard<std::mutex> lock(generationsMutex);
  auto found = generations.find(fd);
  return found == generations.end() ? 0 : found->second;
}

// The close of sockfd_node's V8 fast call (native/node/fast_calls.cc, which
// may run no JS and make no N-API call): close() as the N-API close does it -
// the generation moves on first - when no environment of this thread watches
// `fd` (so there is no watcher to release and no wait to reject). Answers 0,
// -errno, or INT_MIN when nothing was done (a watcher: the N-API close must
// release it; or no memory for the generation entry). Found by name with
// dlsym, so it stays extern "C"; the _v1 changes with its contract.
extern "C" __attribute__((visibility("default"))) int sockfd_close_unwatched_v1(int fd) noexcept {
  for (Registry* r = threadRegistries; r != nullptr; r = r->next)
    if (r->watchers.count(fd) != 0) return INT_MIN;
  try {
    NextGeneration(fd);
  } catch (...) {  // std::bad_alloc from the map, or a mutex error: let the N-API close report it
    return INT_MIN;
  }
  if (::close(fd) == -1 && errno != EINTR) return -errno;  // as close(): never retried after EINTR
  return 0;
}

void ForgetWatchersAfterFork() {
  for (Registry* r = threadRegistries; r != nullptr; r = r->next) {
    for (auto& [fd, watcher] : r->watchers) {
      watcher->waiters.clear();  // their deferreds are never settled: no parent continuation runs here
      CloseWatcher(r, watcher);
    }
    r->watchers.clear();
  }
}

SOCKFD_REGISTER(async_poll, Init);
}  // namespace sockfd
