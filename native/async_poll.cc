// Non-blocking sockets on Node's event loop: the native half of lib/async.ts.
//
// Readiness comes from a Readiness (native/readiness.cc) that lib/async.ts
// makes for each Node environment (the main thread, each worker): one epoll
// set on that environment's own loop (napi_get_uv_event_loop), every ready fd
// of a loop turn delivered in ONE JS call. The waits and their promises live
// in JS. What is left here is what JS cannot do alone:
//
// - Keeping the loop alive while calls wait. lib/async.ts unreferences its
//   Readiness (an fd nobody waits on stays in the set between two waits, and
//   must not keep the process alive); instead one uv_check_t per environment,
//   the keeper, is referenced while calls wait. The count of waiting calls is
//   shared with JS in an Int32Array: JS references the keeper on the first
//   wait, and the keeper's check callback - after every poll phase, so after
//   the Readiness batch and all its promise reactions - unreferences it when
//   nothing waits any more. A recv/send loop that waits again at once costs
//   no call here.
// - close(2) through sockfd (close, dup2 onto the fd, a hand-off to net):
//   ReleaseWatcherBeforeClose calls lib/async.ts (the function given to
//   asyncCore) for an fd it registered (asyncWatch). JS takes the fd out of
//   the epoll set BEFORE its number is free (another process or a dup may
//   share the file: a stale registration would go on reporting it) and
//   rejects its waits with EBADF.
// - Generations: every close through sockfd moves the fd number's generation
//   on. lib/async.ts reads it before a call first suspends and checks it after
//   every resume, so a call never acts on a number that was closed meanwhile,
//   even when it was not a registered waiter (the setImmediate yield, a
//   readiness already delivered), whichever thread closed it. The numbers
//   below kGenerationTable are read from JS straight out of a table
//   (asyncGenerations: a Uint32Array over it), without a call.
// - fork(): in the child the registrations are forgotten (the epoll set is
//   the parent's too: the child must never change it) and the keeper lets go;
//   lib/async.ts's fork epoch leaves the parent's calls pending there.
// - The environment's end (worker exit or terminate, process exit): an async
//   cleanup hook closes the keeper; pending promises are abandoned.
//
// The attempts the async calls make between waits (tryRecv, trySend, ...,
// tryAccept, tryConnect) live beside their blocking twins in io.cc,
// socket_calls.cc and msg.cc, on Attempt() (common.h).
#include "async_poll.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common.h"

namespace sockfd {
namespace {

// The Int32Array shared with lib/async.ts (the same indices there).
constexpr int kWaiting = 0;     // calls waiting in this environment (written by JS)
constexpr int kReferenced = 1;  // whether the keeper holds the loop (written here)
constexpr int kInBatch = 2;     // set by JS when it dispatches a batch; cleared by the keeper's check
constexpr int kSharedLength = 3;

// One environment's native half of the async calls.
struct Core {
  napi_env env = nullptr;
  uv_check_t keeper;
  int32_t* shared = nullptr;      // the Int32Array's memory (an ArrayBuffer made here that only lib/async.ts sees)
  napi_ref sharedRef = nullptr;
  napi_ref onClosed = nullptr;    // (fd, why) => void, lib/async.ts
  std::unordered_set<int> known;  // fds JS registered (asyncWatch), not closed through sockfd since
  napi_async_cleanup_hook_handle cleanup = nullptr;
  Core* next = nullptr;
};

// An environment lives on one thread for its whole life, so the cores of a
// thread (in practice one) need no lock.
thread_local Core* threadCores = nullptr;

// fd number -> times closed through sockfd. fd numbers belong to the process
// and any thread may close one. Below kGenerationTable: a table of atomics
// (zero pages cost no memory until a number is closed), which every
// environment's JS also reads, as a Uint32Array over it: a 32-bit aligned
// load, read only when a call suspends or resumes. Above: a map protected by
// generationsMutex, bounded by the fd limit, read through asyncGeneration.
constexpr int kGenerationTable = 1 << 16;
std::atomic<uint32_t> generationTable[kGenerationTable];
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free,
              "JS reads the table as a Uint32Array");
std::mutex generationsMutex;
std::unordered_map<int, uint32_t> generations;

void NextGeneration(int fd) {
  if (fd < kGenerationTable) {
    generationTable[fd].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> lock(generationsMutex);
  ++generations[fd];
}

Core* FindCore(napi_env env) {
  for (Core* c = threadCores; c != nullptr; c = c->next)
    if (c->env == env) return c;
  return nullptr;
}

void Unlink(Core* core) {
  for (Core** link = &threadCores; *link != nullptr; link = &(*link)->next) {
    if (*link == core) {
      *link = core->next;
      return;
    }
  }
}

void SetReferenced(Core* c, bool on) {
  if ((c->shared[kReferenced] != 0) == on) return;
  if (on)
    uv_ref(reinterpret_cast<uv_handle_t*>(&c->keeper));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(&c->keeper));
  c->shared[kReferenced] = on ? 1 : 0;
}

// After every poll phase: the batch and its promise reactions have run, and
// whatever waits again has said so. A libuv callback: nothing in it can throw.
void OnCheck(uv_check_t* handle) {
  Core* c = static_cast<Core*>(handle->data);
  c->shared[kInBatch] = 0;
  SetReferenced(c, c->shared[kWaiting] > 0);
}

void FreeCore(uv_handle_t* handle) {
  Core* c = static_cast<Core*>(handle->data);
  napi_async_cleanup_hook_handle cleanup = c->cleanup;
  delete c;
  if (cleanup != nullptr) napi_remove_async_cleanup_hook(cleanup);  // Node may now finish tearing the environment down
}

void DropReferences(Core* c) {
  if (c->onClosed != nullptr) napi_delete_reference(c->env, c->onClosed);
  if (c->sharedRef != nullptr) napi_delete_reference(c->env, c->sharedRef);
  c->onClosed = c->sharedRef = nullptr;
}

// The environment is ending: no JS runs any more; pending promises are abandoned.
void TearDown(napi_async_cleanup_hook_handle, void* data) {
  Core* c = static_cast<Core*>(data);
  Unlink(c);
  DropReferences(c);
  c->known.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&c->keeper), FreeCore);
}

Core& CoreOf(Napi::Env env) {
  if (Core* found = FindCore(env)) return *found;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "sockfd: this environment has no event loop");
  Napi::ArrayBuffer memory = Napi::ArrayBuffer::New(env, kSharedLength * sizeof(int32_t));
  Napi::Int32Array shared = Napi::Int32Array::New(env, kSharedLength, memory, 0);
  auto* c = new Core{};
  c->env = env;
  c->shared = static_cast<int32_t*>(memory.Data());
  for (int i = 0; i < kSharedLength; ++i) c->shared[i] = 0;
  if (uv_check_init(loop, &c->keeper) != 0) {
    delete c;
    throw Napi::Error::New(env, "sockfd: cannot make the event-loop keeper of this environment");
  }
  c->keeper.data = c;
  uv_check_start(&c->keeper, OnCheck);  // cannot fail: the callback is given
  uv_unref(reinterpret_cast<uv_handle_t*>(&c->keeper));
  if (napi_create_reference(env, shared, 1, &c->sharedRef) != napi_ok ||
      napi_add_async_cleanup_hook(env, TearDown, c, &c->cleanup) != napi_ok) {
    DropReferences(c);
    c->cleanup = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->keeper), FreeCore);
    throw Napi::Error::New(env, "sockfd: cannot register the async calls of this environment");
  }
  c->next = threadCores;
  threadCores = c;
  return *c;
}

// asyncCore(onClosed) -> Int32Array [waiting, referenced, inBatch]. lib/async.ts
// calls it for the set of each fork epoch: the registrations of an older one are forgotten.
Napi::Value AttachCore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowTypeError(env, "onClosed must be a function");
  Core& c = CoreOf(env);
  napi_ref onClosed;
  if (napi_create_reference(env, info[0], 1, &onClosed) != napi_ok) throw Napi::Error::New(env, "sockfd: cannot keep onClosed");
  if (c.onClosed != nullptr) napi_delete_reference(env, c.onClosed);
  c.onClosed = onClosed;
  c.known.clear();
  c.shared[kWaiting] = 0;
  SetReferenced(&c, false);
  napi_value shared;
  napi_get_reference_value(env, c.sharedRef, &shared);
  return Napi::Value(env, shared);
}

// asyncWatch(fd): JS registered fd in its set; a close through sockfd must tell it first.
Napi::Value Watch(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Checked(info.Env(), "poll", [&] { return ::fcntl(fd, F_GETFD); });  // an open fd only: a close must come to forget it
  CoreOf(info.Env()).known.insert(fd);
  return info.Env().Undefined();
}

// asyncKeepAlive(on): the first wait holds the loop (the keeper's check lets it go).
Napi::Value KeepAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowTypeError(env, "on must be a boolean");
  SetReferenced(&CoreOf(env), info[0].As<Napi::Boolean>().Value());
  return env.Undefined();
}

void Release(napi_env env, int fd, const char* why) {
  NextGeneration(fd);
  Core* c = FindCore(env);
  if (c == nullptr || c->known.erase(fd) == 0 || c->onClosed == nullptr) return;
  // lib/async.ts's own function (it runs no user code) deletes the
  // registration and rejects the waits. An exception it might leave stays
  // pending: the caller's call throws it, after the fd was closed as asked.
  napi_value callback, receiver, args[2], result;
  if (napi_get_reference_value(env, c->onClosed, &callback) != napi_ok || callback == nullptr ||
      napi_get_global(env, &receiver) != napi_ok || napi_create_int32(env, fd, &args[0]) != napi_ok ||
      napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &args[1]) != napi_ok)
    return;
  napi_call_function(env, receiver, callback, 2, args, &result);
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

// asyncGenerations() -> Uint32Array over the table (fds below its length), or
// undefined where this Node refuses external ArrayBuffers (asyncGeneration then).
// Made once per environment: the memory is static, nothing to free.
Napi::Value Generations(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_value buffer, array;
  if (napi_create_external_arraybuffer(env, static_cast<void*>(generationTable), sizeof generationTable, nullptr, nullptr,
                                       &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, kGenerationTable, buffer, 0, &array) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return info.Env().Undefined();
  }
  return Napi::Value(env, array);
}

// asyncStats() -> { watchers, active, waiters } as this half sees them: fds
// registered and not closed since, whether the keeper holds the loop, the
// waiting calls JS counted (the fuzzer's leak check; lib/async.ts's
// watcherStats() counts its own).
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = FindCore(env);
  Napi::Object result = Napi::Object::New(env);
  result.Set("watchers", static_cast<double>(c == nullptr ? 0 : c->known.size()));
  result.Set("active", static_cast<double>(c == nullptr ? 0 : c->shared[kReferenced]));
  result.Set("waiters", static_cast<double>(c == nullptr ? 0 : c->shared[kWaiting]));
  return result;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("asyncCore", Napi::Function::New(env, AttachCore, "asyncCore"));
  exports.Set("asyncWatch", Napi::Function::New(env, Watch, "asyncWatch"));
  exports.Set("asyncKeepAlive", Napi::Function::New(env, KeepAlive, "asyncKeepAlive"));
  exports.Set("asyncRelease", Napi::Function::New(env, ReleaseForHandOff, "asyncRelease"));
  exports.Set("asyncGeneration", Napi::Function::New(env, Generation, "asyncGeneration"));
  exports.Set("asyncGenerations", Napi::Function::New(env, Generations, "asyncGenerations"));
  exports.Set("asyncStats", Napi::Function::New(env, Stats, "asyncStats"));
  // Events as lib/async.ts waits for them: epoll's bits (its set is a native/readiness.cc Readiness).
  Napi::Object events = Napi::Object::New(env);
  events.Set("readable", static_cast<double>(EPOLLIN));
  events.Set("writable", static_cast<double>(EPOLLOUT));
  events.Set("failed", static_cast<double>(EPOLLERR | EPOLLHUP));
  exports.Set("asyncEvents", events);
}

}  // namespace

void ReleaseWatcherBeforeClose(napi_env env, int fd) { Release(env, fd, "closed"); }

uint32_t FdGeneration(int fd) {
  if (fd < kGenerationTable) return generationTable[fd].load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(generationsMutex);
  auto found = generations.find(fd);
  return found == generations.end() ? 0 : found->second;
}

// The close of sockfd_node's V8 fast call (native/node/fast_calls.cc, which
// may run no JS and make no N-API call): close() as the N-API close does it -
// the generation moves on first - when no environment of this thread has the
// fd registered (so there is nothing for lib/async.ts to release and no wait
// to reject). Answers 0, -errno, or INT_MIN when nothing was done (a
// registration: the N-API close must release it; or no memory for the
// generation entry). Found by name with dlsym, so it stays extern "C"; the _v1
// changes with its contract.
extern "C" __attribute__((visibility("default"))) int sockfd_close_unwatched_v1(int fd) noexcept {
  for (Core* c = threadCores; c != nullptr; c = c->next)
    if (c->known.count(fd) != 0) return INT_MIN;
  try {
    NextGeneration(fd);
  } catch (...) {  // std::bad_alloc from the map, or a mutex error: let the N-API close report it
    return INT_MIN;
  }
  if (::close(fd) == -1 && errno != EINTR) return -errno;  // as close(): never retried after EINTR
  return 0;
}

void ForgetWatchersAfterFork() {
  for (Core* c = threadCores; c != nullptr; c = c->next) {
    c->known.clear();  // the parent's registrations: closing them here must not touch the shared set
    c->shared[kWaiting] = 0;  // the parent's waits are never settled here and keep nothing alive
    SetReferenced(c, false);
  }
}

SOCKFD_REGISTER(async_poll, Init);
}  // namespace sockfd
