// A batched readiness set on Node's event loop: the cheap way to drive many
// sockets from JS (lib/readiness.ts).
//
// One Readiness is one epoll instance, watched by one uv_poll_t on the epoll
// fd, on the loop of the environment that made it (napi_get_uv_event_loop;
// workers get their own). When the epoll fd is readable, one epoll_wait(0)
// collects every ready fd of this loop turn into two Int32Arrays shared with
// JS (fds, and events | generation), and ONE JS call dispatches them all:
// no promise, no allocation, no per-fd N-API call. lib/async-style promises
// are built on top in JS.
//
// Stale events: epoll reports an fd number, and a number can be reused after
// close(). Each watch gets a generation (a counter, kept in the event's
// data); the JS side dispatches an event only to the handler of the same
// generation, so a handler never sees the events of an older file that had
// the same number (say, one a forked child still holds open).
//
// Lifetime: close() (or the environment's cleanup hook, or the finalizer of a
// Readiness never closed) stops and closes the uv handle and the epoll fd;
// the memory goes in its close callback. The uv handle is referenced only while at
// least one fd is watched, so a Readiness alone does not keep the process alive.
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>

#include "common.h"

namespace sockfd {
namespace {

// Events as JS sees them (lib/readiness.ts): the epoll bits.
constexpr uint32_t kWatchable = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET | EPOLLONESHOT;
constexpr int kMaxBatch = 1024;  // ready fds per epoll_wait; more wait for the next turn (level-triggered)

struct State {
  uv_poll_t handle;
  napi_env env = nullptr;
  int epfd = -1;
  size_t watched = 0;          // fds added and not yet deleted (the handle runs while > 0)
  bool closing = false;        // uv_close called; OnClosed frees us
  bool started = false;
  napi_ref dispatch = nullptr;  // the JS function (count) => void
  napi_ref fdsRef = nullptr;    // Int32Array(kMaxBatch): ready fds
  napi_ref eventsRef = nullptr; // Int32Array(kMaxBatch * 2): events, generation
  int32_t* fds = nullptr;       // their memory (ArrayBuffers made here: never detached by us)
  int32_t* events = nullptr;
  napi_async_context context = nullptr;
  State** owner = nullptr;      // the wrapper's pointer to us, cleared when we shut
};

void OnClosed(uv_handle_t* handle) {
  State* s = static_cast<State*>(handle->data);
  if (s->epfd >= 0) ::close(s->epfd);
  delete s;
}

void DeleteRefs(State* s) {
  napi_env env = s->env;
  if (s->dispatch) napi_delete_reference(env, s->dispatch);
  if (s->fdsRef) napi_delete_reference(env, s->fdsRef);
  if (s->eventsRef) napi_delete_reference(env, s->eventsRef);
  if (s->context) napi_async_destroy(env, s->context);
  s->dispatch = s->fdsRef = s->eventsRef = nullptr;
  s->context = nullptr;
}

// Stops and closes; the epoll fd and the state go in OnClosed.
void Shut(State* s) {
  if (s->closing) return;
  s->closing = true;
  if (s->owner != nullptr) *s->owner = nullptr;
  uv_poll_stop(&s->handle);
  DeleteRefs(s);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->handle), OnClosed);
  // libuv lets the fd go at uv_close: close() gives the epoll fd back at once.
  ::close(s->epfd);
  s->epfd = -1;
}

void OnCleanup(void* data) { Shut(static_cast<State*>(data)); }

void OnReady(uv_poll_t* handle, int status, int) {
  State* s = static_cast<State*>(handle->data);
  if (s->closing) return;
  epoll_event ready[kMaxBatch];
  int n = epoll_wait(s->epfd, ready, kMaxBatch, 0);
  if (n <= 0) return;  // EINTR or nothing (another turn took it): nothing to dispatch
  for (int i = 0; i < n; ++i) {
    s->fds[i] = static_cast<int32_t>(ready[i].data.u64 & 0xffffffffu);
    s->events[2 * i] = static_cast<int32_t>(ready[i].events);
    s->events[2 * i + 1] = static_cast<int32_t>(ready[i].data.u64 >> 32);
  }
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value dispatch, receiver, count, result;
  if (napi_get_reference_value(env, s->dispatch, &dispatch) == napi_ok && dispatch != nullptr &&
      napi_get_global(env, &receiver) == napi_ok && napi_create_int32(env, n, &count) == napi_ok) {
    // make_callback: an exception becomes the process's uncaught exception (as
    // in any event handler); the callback scope's end runs the microtasks.
    napi_status st = napi_make_callback(env, s->context, receiver, dispatch, 1, &count, &result);
    if (st == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

// Runs the uv handle while something is watched, so an idle Readiness lets the process exit.
void UpdateRunning(Napi::Env env, State* s) {
  bool want = s->watched > 0;
  if (want == s->started) return;
  int err = want ? uv_poll_start(&s->handle, UV_READABLE, OnReady) : uv_poll_stop(&s->handle);
  if (err != 0) ThrowErrno(env, "uv_poll_start", -err);
  s->started = want;
}

class Readiness : public Napi::ObjectWrap<Readiness> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Readiness",
                       {InstanceMethod<&Readiness::Control>("control"), InstanceMethod<&Readiness::Close>("close"),
                        InstanceMethod<&Readiness::Unref>("unref"),
                        InstanceAccessor<&Readiness::Fds>("fds"), InstanceAccessor<&Readiness::Events>("events"),
                        InstanceAccessor<&Readiness::Fd>("fd"),
                        StaticValue("BATCH", Napi::Number::New(env, kMaxBatch))});
  }

  // new Readiness(dispatch: (count) => void)
  explicit Readiness(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Readiness>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "dispatch must be a function");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
      ThrowTypeError(env, "this environment has no event loop");
    int epfd = Checked(env, "epoll_create1", [] { return ::epoll_create1(EPOLL_CLOEXEC); });
    state_ = new State{};
    state_->env = env;
    state_->epfd = epfd;
    int err = uv_poll_init(loop, &state_->handle, epfd);
    if (err != 0) {
      ::close(epfd);
      delete state_;
      state_ = nullptr;
      ThrowErrno(env, "uv_poll_init", -err);
    }
    state_->handle.data = state_;
    state_->owner = &state_;
    Napi::ArrayBuffer fdsBuffer = Napi::ArrayBuffer::New(env, kMaxBatch * sizeof(int32_t));
    Napi::ArrayBuffer eventsBuffer = Napi::ArrayBuffer::New(env, 2 * kMaxBatch * sizeof(int32_t));
    Napi::Int32Array fds = Napi::Int32Array::New(env, kMaxBatch, fdsBuffer, 0);
    Napi::Int32Array events = Napi::Int32Array::New(env, 2 * kMaxBatch, eventsBuffer, 0);
    state_->fds = static_cast<int32_t*>(fdsBuffer.Data());
    state_->events = static_cast<int32_t*>(eventsBuffer.Data());
    napi_create_reference(env, info[0], 1, &state_->dispatch);
    napi_create_reference(env, fds, 1, &state_->fdsRef);
    napi_create_reference(env, events, 1, &state_->eventsRef);
    napi_value name;
    napi_create_string_utf8(env, "sockfd.readiness", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, nullptr, name, &state_->context);
    napi_add_env_cleanup_hook(env, OnCleanup, state_);
  }

  ~Readiness() override {
    // Collected without close(): close now (finalizers run on the JS thread).
    if (state_ != nullptr) Finish();
  }

 private:
  State* Live(Napi::Env env) {
    if (state_ == nullptr) ThrowErrno(env, "epoll_ctl", EBADF);
    return state_;
  }

  void Finish() {
    State* s = state_;
    napi_remove_env_cleanup_hook(s->env, OnCleanup, s);
    Shut(s);  // clears state_
  }

  // control(op: 0 add | 1 modify | 2 delete, fd, events, generation)
  Napi::Value Control(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int op = static_cast<int>(ArgInt(info, 0, "op", 0, 2));
    int fd = ArgFd(info, 1);
    uint32_t events = static_cast<uint32_t>(ArgInt(info, 2, "events", 0, UINT32_MAX));
    uint32_t generation = static_cast<uint32_t>(ArgInt(info, 3, "generation", 0, INT32_MAX));
    if ((events & ~kWatchable) != 0) ThrowRangeError(env, "events must be READABLE/WRITABLE/... bits of lib/readiness.ts");
    State* s = Live(env);
    epoll_event event{};
    event.events = events;
    event.data.u64 = (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
    static const int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
    Checked(env, "epoll_ctl", [&] { return ::epoll_ctl(s->epfd, ops[op], fd, &event); });
    if (op == 0) s->watched++;
    if (op == 2 && s->watched > 0) s->watched--;
    UpdateRunning(env, s);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (state_ != nullptr) Finish();
    return info.Env().Undefined();
  }

  // unref(): the set no longer keeps the loop alive, even while it watches
  // (lib/async.ts holds the loop itself, while calls wait: async_poll.cc).
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&Live(info.Env())->handle));
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info, bool events) {
    State* s = Live(info.Env());
    napi_value value;
    napi_get_reference_value(info.Env(), events ? s->eventsRef : s->fdsRef, &value);
    return Napi::Value(info.Env(), value);
  }
  Napi::Value Fds(const Napi::CallbackInfo& info) { return Ref(info, false); }
  // The epoll fd (-1 once closed): lib/async-waits.ts tells fd censuses which one is its set.
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_ == nullptr ? -1 : state_->epfd);
  }
  Napi::Value Events(const Napi::CallbackInfo& info) { return Ref(info, true); }

  State* state_ = nullptr;
};

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Readiness", Readiness::Define(env));
  Napi::Object constants = ConstantsObject(env, exports);
  constants.Set("EPOLLIN", static_cast<double>(EPOLLIN));
  constants.Set("EPOLLOUT", static_cast<double>(EPOLLOUT));
  constants.Set("EPOLLRDHUP", static_cast<double>(EPOLLRDHUP));
  constants.Set("EPOLLPRI", static_cast<double>(EPOLLPRI));
  constants.Set("EPOLLERR", static_cast<double>(EPOLLERR));
  constants.Set("EPOLLHUP", static_cast<double>(EPOLLHUP));
  constants.Set("EPOLLET", static_cast<double>(EPOLLET));
  constants.Set("EPOLLONESHOT", static_cast<double>(EPOLLONESHOT));
}

}  // namespace
SOCKFD_REGISTER(readiness, Init);
}  // namespace sockfd
