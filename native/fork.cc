// fork() that leaves a working Node in the child (Node 20, 22, 24; no flags needed).
// Four things break a plain fork(2) of a Node process, each handled here:
//  1. V8 marks its heap MADV_DONTFORK: the child would have no JS heap.
//     Before each fork every private mapping is madvise(MADV_DOFORK)ed, in
//     as few calls as the maps allow (section 1).
//  2. Only the forking thread exists in the child. A V8 platform worker that
//     was waiting on the task queue's condition variable leaves that variable
//     in a state where the child's first post to it hangs. Before the fork a
//     blocking task is posted to every worker of Node's platform; once all are
//     parked in it (waiting on our own variable, not V8's) the process forks
//     and the parent releases them. Node's platform is reachable only through
//     node.h, whose layout changes with every Node major, so the parking lives
//     in the per-ABI addon (native/node/fork_parking.cc); fork() finds its
//     table in the loaded library (native/node/fork_parking.h).
//  3. The child's event loop needs uv_loop_fork() (new epoll fd, new async
//     and signal pipes), and its exits must never reach Node's teardown; the
//     TS layer routes them to _exit; the loop running dry is watched from
//     here (section 3, below), started in the child by fork() itself.
//     The parent's async waits do not follow: the child's loop starts with
//     none of sockfd's poll watchers (ForgetWatchersAfterFork).
//  4. A Worker thread cannot be parked: its isolate may hold a process-wide
//     V8/cppgc lock (a major GC's atomic pause) at the moment of the fork, and
//     the child, where that thread does not exist, hangs in its first major
//     GC (38 of 100 children with a Worker running gc() in a loop). So fork()
//     refuses while Workers exist (ERR_FORK_WORKERS). lib/process.ts counts
//     the Workers it sees created; here every environment that loaded the
//     addon off the main thread is counted as well, and right before the
//     fork every thread is asked whether it runs JavaScript (a Worker made
//     before sockfd was loaded that never loads it: native/node/js_threads.cc).
// Only N-API and libuv (ABI-stable) here: this file is part of the core.
#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <uv.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "async_poll.h"
#include "common.h"
#include "node/fork_parking.h"
#include "node/js_threads.h"
#include "wipe_on_fork.h"

namespace sockfd {
namespace {

// ---- 1. MADV_DOFORK -----------------------------------------------------------
// Node builds V8 with v8_enable_private_mapping_fork_optimization: V8
// madvise(MADV_DONTFORK)s every mapping it makes, when it makes it. The heap
// grows by new mappings after any fork (new pages, every large object), so
// each fork must find them: the maps are read every time. Nothing read there
// tells a new mapping from an old one at the same addresses (V8 unmaps pages
// and the kernel reuses the range), so a record of what was advised could
// skip a new DONTFORK mapping, and the child would fault on the first access
// to it. Instead the advice goes out in few calls: one madvise per run of
// consecutive private mappings, holes between them included (madvise advises
// every mapped part of its range and then reports the holes with ENOMEM), not
// one per mapping (0.5 us each here; 1 200 mappings at a 200 MiB heap). Kept
// as they were: shared mappings (a run ends before one) and [vvar]/[vsyscall]
// (VM_IO or outside the VMAs: madvise refuses them). A run whose madvise fails
// otherwise (another VM_IO mapping in it) is advised mapping by mapping, each
// failure ignored, as every mapping always was.
// A byte buffer kept for the process's life: after every fork each page the
// parent writes first costs it a copy-on-write fault, and a string grown
// anew each time (reallocated as it doubles) wrote ~8 fresh heap pages per
// fork at a small heap. It grows by doubling, up to a limit. Main thread only.
class KeptBuffer {
 public:
  KeptBuffer(size_t first, size_t limit) : first_(first), limit_(limit) {}
  // Room for `more` bytes after the first `used`; false: over the limit, or no memory.
  bool Reserve(size_t used, size_t more) {
    if (capacity_ >= used && capacity_ - used >= more) return true;
    size_t capacity = capacity_ == 0 ? first_ : capacity_;
    while (capacity - used < more) {
      if (capacity > limit_ / 2) return false;
      capacity *= 2;
    }
    std::unique_ptr<char[]> grown(new (std::nothrow) char[capacity]);
    if (grown == nullptr) return false;
    if (used > 0) std::memcpy(grown.get(), bytes_.get(), used);
    bytes_ = std::move(grown);
    capacity_ = capacity;
    return true;
  }
  char* Bytes() const { return bytes_.get(); }

 private:
  size_t first_, limit_;
  std::unique_ptr<char[]> bytes_;
  size_t capacity_ = 0;
};

// What fork() writes at every call and a child never needs: in memory the
// child does not share (wipe_on_fork.h), so the parent's writes there cost
// it no fault after each fork. Main thread only.
struct ForkScratch {
  alignas(8) char entries[8192];  // /proc/self/map_files, one getdents64 at a time
  char addonPath[PATH_MAX];       // fork()'s addonPath argument, to look up (FoundBefore)
  std::int32_t pid;               // fork()'s answer, read by JS through forkPidCell() (ForkPidCell)
};
WipeOnFork<ForkScratch> forkScratch;

// The text of /proc/self/maps, NUL-terminated.
class MapsText {
 public:
  const char* Read() {
    used_ = 0;
    int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      for (;;) {
        if (!buffer_.Reserve(used_, kChunk + 1)) break;
        ssize_t n = ::read(fd, buffer_.Bytes() + used_, kChunk);
        if (n > 0) used_ += static_cast<size_t>(n);
        else if (n == 0 || errno != EINTR) break;
      }
      ::close(fd);
    }
    if (!buffer_.Reserve(used_, 1)) return "";
    buffer_.Bytes()[used_] = '\0';
    return buffer_.Bytes();
  }

 private:
  static constexpr size_t kChunk = 65536;
  // 20 million mappings' worth at most: never reached.
  KeptBuffer buffer_{4 * kChunk, size_t{1} << 30};
  size_t used_ = 0;
};
MapsText mapsText;  // main thread only (fork() refuses elsewhere)

// One line of /proc/self/maps: "start-end perms offset dev inode [path]".
struct Mapping {
  unsigned long long start = 0;
  unsigned long long stop = 0;
  bool isPrivate = false;  // perms[3] == 'p'
  bool special = false;    // [vvar], [vvar_vclock], [vsyscall], [uprobes] (VM_IO: madvise refuses them)
  const char* next = nullptr;  // the line after this one
};

bool ParseMapping(const char* cursor, Mapping* mapping) {
  if (*cursor == '\0') return false;
  char* end = nullptr;
  mapping->start = std::strtoull(cursor, &end, 16);
  mapping->stop = (*end == '-') ? std::strtoull(end + 1, &end, 16) : 0;
  mapping->isPrivate = end[0] == ' ' && end[1] != '\0' && end[2] != '\0' && end[3] != '\0' && end[4] == 'p';
  const char* newline = std::strchr(end, '\n');
  const char* lineEnd = newline != nullptr ? newline : end + std::strlen(end);
  const char* bracket = static_cast<const char*>(std::memchr(end, '[', static_cast<size_t>(lineEnd - end)));
  mapping->special = bracket != nullptr && (std::strncmp(bracket, "[vvar", 5) == 0 || std::strncmp(bracket, "[vsyscall]", 10) == 0 ||
                                         std::strncmp(bracket, "[uprobes]", 9) == 0);
  mapping->next = newline != nullptr ? newline + 1 : lineEnd;
  return true;
}

bool Advisable(const Mapping& mapping) {
  return mapping.isPrivate && !mapping.special && mapping.stop > mapping.start;
}

// The lines [from, to) one by one: the fallback for a run madvise refused.
void AdviseEach(const char* from, const char* to) {
  Mapping mapping;
  for (const char* cursor = from; cursor < to && ParseMapping(cursor, &mapping); cursor = mapping.next)
    if (Advisable(mapping))
      ::madvise(reinterpret_cast<void*>(mapping.start), static_cast<size_t>(mapping.stop - mapping.start), MADV_DOFORK);
}

void MarkPrivateMappingsForkable() {
  const char* maps = mapsText.Read();
  const char* runFirst = nullptr;  // the first line of the current run
  unsigned long long runStart = 0, runStop = 0;
  auto flush = [&](const char* runEnd) {
    if (runFirst == nullptr) return;
    int rc = ::madvise(reinterpret_cast<void*>(runStart), static_cast<size_t>(runStop - runStart), MADV_DOFORK);
    if (rc != 0 && errno != ENOMEM) AdviseEach(runFirst, runEnd);  // ENOMEM: the holes, after every mapped part was advised
    runFirst = nullptr;
  };
  Mapping mapping;
  const char* cursor = maps;
  for (; ParseMapping(cursor, &mapping); cursor = mapping.next) {
    if (!Advisable(mapping)) {
      flush(cursor);
      continue;
    }
    if (runFirst == nullptr) {
      runFirst = cursor;
      runStart = mapping.start;
    }
    runStop = mapping.stop;
  }
  flush(cursor);
}

// The advice in even fewer calls, planned before the workers are parked:
// the address space from 0 to the top, cut only around the mappings that
// must not be advised (shared ones, [vvar]...). Holes are included, so a
// mapping made after the maps were read is advised as well, wherever it
// lies, unless it lies where one of those mappings was: the threads that
// run while the maps are read (the platform's workers, before they park,
// libuv's pool) never unmap a shared mapping, and V8 makes private ones only.
// So the maps can be read while the workers wake up to park, and only the
// advice itself waits for them. Usually 2 madvise calls (below and above
// [vvar]). A span madvise refuses otherwise than for its holes (a VM_IO
// mapping made since) is done again the old way: the maps read again, now
// that the workers are parked.
class ForkableSpans {
 public:
  void Plan(const char* maps) {
    count_ = 0;
    complete_ = true;
    unsigned long long from = 0;  // the start of the span in progress
    unsigned long long top = kTop;
    Mapping mapping;
    for (const char* cursor = maps; ParseMapping(cursor, &mapping); cursor = mapping.next) {
      if (mapping.stop <= mapping.start) continue;
      if (Advisable(mapping)) {
        if (mapping.stop > top) top = mapping.stop;
        continue;
      }
      Add(from, mapping.start);
      if (mapping.stop > from) from = mapping.stop;
    }
    Add(from, top);
    top_ = top;
  }
  // false: done the old way instead (the plan no longer fits the maps).
  bool Advise() const {
    if (!complete_) {
      MarkPrivateMappingsForkable();
      return false;
    }
    for (int i = 0; i < count_ && spans_[i].start < top_; ++i) {
      unsigned long long stop = spans_[i].stop < top_ ? spans_[i].stop : top_;  // nothing to advise above the top ([vsyscall])
      int rc = ::madvise(reinterpret_cast<void*>(spans_[i].start), static_cast<size_t>(stop - spans_[i].start), MADV_DOFORK);
      if (rc != 0 && errno != ENOMEM) {  // ENOMEM: the holes, after every mapped part was advised
        MarkPrivateMappingsForkable();
        return false;
      }
    }
    return true;
  }

 private:
  // Above every user address on x86-64 and arm64 (57-bit), below [vsyscall]:
  // higher if a mapping to advise lies above it.
  static constexpr unsigned long long kTop = 1ULL << 57;
  static constexpr int kMaxSpans = 64;
  struct Span {
    unsigned long long start, stop;
  };
  void Add(unsigned long long start, unsigned long long stop) {
    if (stop <= start) return;
    if (count_ == kMaxSpans) {
      complete_ = false;  // so many shared mappings: the old way
      return;
    }
    spans_[count_++] = {start, stop};
  }
  Span spans_[kMaxSpans];
  int count_ = 0;
  bool complete_ = false;
  unsigned long long top_ = kTop;
};

// The names of /proc/self/map_files: "start-end" of every mapping that has a
// file behind it. Every mapping a span must leave out has one (a shared
// mapping has its file, /dev/zero's for anonymous shared memory, and so has
// a device's), except the fixed ones of the kernel ([vvar]: made at exec,
// never moved). So while these names stay the same, so do the ranges left
// out, and the plan of an earlier fork still holds. The kernel lists these
// names without the path of each file, which makes most of the cost of
// /proc/self/maps (here ~40% of it). Read with getdents64 into a buffer kept
// for the process (no allocation per fork).
class FileMappingNames {
 public:
  bool Read() {
    used_ = 0;
    return List([this](const char* name, size_t length) { return Append(name, length); });
  }
  bool Same(const FileMappingNames& other) const {
    return used_ == other.used_ && (used_ == 0 || std::memcmp(names_.Bytes(), other.names_.Bytes(), used_) == 0);
  }
  // Whether the kernel lists these names now, compared as they come: this
  // writes nothing but the scratch the listing goes through (the common case
  // of every fork, see ForkAdvice).
  bool StillListed() const {
    size_t matched = 0;
    bool listed = List([&](const char* name, size_t length) {
      if (length + 1 > used_ - matched || std::memcmp(names_.Bytes() + matched, name, length) != 0 ||
          names_.Bytes()[matched + length] != '\n')
        return false;
      matched += length + 1;
      return true;
    });
    return listed && matched == used_;
  }

 private:
  // Calls `each(name, length)` for every name ("." and ".." left out) until
  // it returns false. true: every name was listed and taken.
  template <typename Each>
  static bool List(Each each) {
    int fd = ::open("/proc/self/map_files", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    ForkScratch* scratch = forkScratch.Get();
    bool complete = false;
    for (bool more = true; more;) {
      ssize_t n = ::getdents64(fd, scratch->entries, sizeof scratch->entries);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        complete = n == 0;
        break;
      }
      for (size_t offset = 0; offset < static_cast<size_t>(n) && more;) {
        const auto* entry = reinterpret_cast<const struct dirent64*>(scratch->entries + offset);
        offset += entry->d_reclen;
        if (entry->d_name[0] == '.') continue;  // "." and ".."
        more = each(entry->d_name, std::strlen(entry->d_name));
      }
    }
    ::close(fd);
    return complete;
  }
  bool Append(const char* name, size_t length) {
    if (!names_.Reserve(used_, length + 1)) return false;
    std::memcpy(names_.Bytes() + used_, name, length);
    used_ += length;
    names_.Bytes()[used_++] = '\n';
    return true;
  }
  KeptBuffer names_{8192, size_t{64} << 20};  // ~2.5 million mappings at most: never reached
  size_t used_ = 0;
};

// What fork() does about MADV_DOFORK: Prepare() before the workers are
// parked (the plan: the maps read only when the file-backed mappings
// changed since the plan was made), Advise() after. Main thread only.
class ForkAdvice {
 public:
  void Prepare() {
    if (planned_ && planNames_.StillListed()) return;
    // The plan holds only if no file-backed mapping changed while the maps
    // were read: the names are read before and after, and must agree.
    bool before = now_.Read();
    spans_.Plan(mapsText.Read());
    planned_ = before && planNames_.Read() && now_.Same(planNames_);
  }
  void Advise() {
    if (!spans_.Advise()) planned_ = false;  // a new VM_IO mapping, say: plan again next time
  }

 private:
  ForkableSpans spans_;
  FileMappingNames planNames_;  // the names the plan was made with
  FileMappingNames now_;
  bool planned_ = false;
};
ForkAdvice forkAdvice;


// ---- 2. parking the platform's worker threads (native/node/fork_parking.cc) -------
// A symbol of the per-ABI addon at `path`, which Node must already have
// loaded: RTLD_NOLOAD finds a loaded library (by file identity) and never
// loads one, so a wrong path is an Error, not code run from some file.
// The symbols found so far, each with the path it was found at. Node never
// unloads an addon, so a symbol found once stays valid, and a fork need not
// dlopen again (which writes to the loader's state: fresh copy-on-write
// faults after each fork). Main thread only.
struct FoundSymbol {
  const char* name = nullptr;
  char path[PATH_MAX] = "";
  void* symbol = nullptr;
};
FoundSymbol foundSymbols[4];

void* FoundBefore(Napi::Env env, Napi::Value value, const char* name) {
  char* given = forkScratch.Get()->addonPath;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, given, PATH_MAX, &length) != napi_ok || length + 1 >= PATH_MAX)
    return nullptr;
  for (const FoundSymbol& found : foundSymbols)
    if (found.name != nullptr && std::strcmp(found.name, name) == 0 && std::strcmp(found.path, given) == 0) return found.symbol;
  return nullptr;
}

void Remember(const std::string& path, const char* name, void* symbol) {
  if (path.size() + 1 >= PATH_MAX || path.find('\0') != std::string::npos) return;
  for (FoundSymbol& found : foundSymbols) {
    if (found.name != nullptr && std::strcmp(found.name, name) != 0) continue;
    found.name = name;
    std::memcpy(found.path, path.c_str(), path.size() + 1);
    found.symbol = symbol;
    return;
  }
}

void* LoadedAddonSymbol(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsString()) ThrowTypeError(env, "fork(addonPath): addonPath must be the path of the loaded sockfd_node");
  if (void* symbol = FoundBefore(env, value, name)) return symbol;
  std::string path = value.As<Napi::String>().Utf8Value();
  void* library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (library == nullptr) throw Napi::Error::New(env, "fork: sockfd_node is not loaded from " + path);
  void* symbol = ::dlsym(library, name);
  ::dlclose(library);  // drops the reference RTLD_NOLOAD took; Node holds its own for good
  if (symbol == nullptr) throw Napi::Error::New(env, "fork: " + path + " has no " + name + " (npm rebuild sockfd)");
  Remember(path, name, symbol);
  return symbol;
}

const char* kOtherVersion = " is a sockfd_node of another sockfd version (npm rebuild sockfd)";

// The table a loaded sockfd_node's `symbol` returns, if it has this
// sockfd's layout (its magic and version): fork_parking.h, js_threads.h.
template <typename Table>
const Table* AddonTable(Napi::Env env, Napi::Value path, const char* symbol, std::uint32_t magic, std::uint32_t version) {
  const Table* table = reinterpret_cast<const Table* (*)()>(LoadedAddonSymbol(env, path, symbol))();
  if (table == nullptr || table->magic != magic || table->version != version)
    throw Napi::Error::New(env, "fork: " + path.As<Napi::String>().Utf8Value() + kOtherVersion);
  return table;
}

// Releases the parked workers on every way out of the parent's fork() call.
class ParkedWorkers {
 public:
  explicit ParkedWorkers(const ForkParking* table) : table_(table) {}
  ParkedWorkers(const ParkedWorkers&) = delete;
  ParkedWorkers& operator=(const ParkedWorkers&) = delete;
  ~ParkedWorkers() { Release(); }
  bool Post() {  // false: no platform reachable, nothing posted
    posted_ = table_->post();
    return posted_;
  }
  ParkResult Wait(int timeoutMs) {
    ParkResult result = table_->wait(timeoutMs);
    posted_ = result == ParkResult::kParked;  // else wait() let them go itself
    return result;
  }
  void Release() {
    if (posted_) table_->release();
    posted_ = false;
  }
  void Abandon() {  // in the child
    if (posted_) table_->abandon();
    posted_ = false;
  }

 private:
  const ForkParking* table_;
  bool posted_ = false;  // tasks posted (and maybe parked) that release() must let go
};

// A worker task may itself wait for the main thread (a background allocation
// asking for a GC, say): then parking cannot finish while we wait. fork()
// gives up, and lib/process.ts lets JS run (and V8 do what it waits for)
// before trying again.
constexpr int kParkTimeoutMs = 2000;

// In a forked child the platform's workers are gone (tasks posted to them
// never run), so there is nothing to park: its only thread is the caller.
bool inForkedChild = false;

// ---- 4. Workers ----------------------------------------------------------------
// Environments other than the main thread's that loaded the addon and have
// not been cleaned up. Atomic: workers start and end on their own threads.
std::atomic<int> workerEnvironments{0};

bool OnMainThread() { return ::syscall(SYS_gettid) == ::getpid(); }

void ForgetWorkerEnvironment(void*) { workerEnvironments.fetch_sub(1); }

// The Error fork() throws while Workers exist (lib/process.ts throws the same).
// `unseen`: found only by asking the threads, so say what they may be.
Napi::Error WorkersRunningError(Napi::Env env, int workers, bool unseen = false) {
  std::string count = std::to_string(workers) + (workers == 1 ? " Worker thread is" : " Worker threads are");
  if (unseen)
    count += std::string(" running that sockfd did not see created (") +
             (workers == 1 ? "a Worker" : "Workers") +
             " made before sockfd was loaded, or Node's thread for the module hooks of --import, --loader or "
             "module.register), and ";
  else
    count += " running; ";
  Napi::Error error = Napi::Error::New(
      env, "fork: " + count + "a child forked now could hang forever (a Worker's isolate may hold a "
           "process-wide V8 lock at the fork, and the child has no thread to release it). End the Workers "
           "(await worker.terminate()) before fork()" + (unseen ? "; module hooks end only with the process: run the "
           "program without them (compiled JavaScript)" : ""));
  error.Value().Set("code", "ERR_FORK_WORKERS");
  error.Value().Set("workers", workers);
  return error;
}

// Every thread that runs JavaScript, also Workers made before sockfd was
// loaded that never load it (native/node/js_threads.cc asks each thread).
constexpr int kCensusTimeoutMs = 500;

void RefuseWhileOtherThreadsRunJs(Napi::Env env, JsThreadCensus census) {
  if (census.jsThreads > 0) throw WorkersRunningError(env, census.jsThreads, true);
  const char* why = nullptr;
  switch (census.status) {
    case CensusStatus::kCounted: return;
    case CensusStatus::kUnanswered: break;
    case CensusStatus::kNoProbe: why = "its probe signal (SIGRTMAX-1) has a handler that is not sockfd's"; break;
    case CensusStatus::kNoTaskList: why = "/proc/self/task cannot be read"; break;
    case CensusStatus::kTooManyThreads: why = "the process has more threads than it can ask"; break;
  }
  if (why != nullptr) {
    Napi::Error error = Napi::Error::New(
        env, std::string("fork: cannot tell whether a Worker thread is running (") + why +
                 "), and a child forked while one runs could hang forever; nothing was forked");
    error.Value().Set("code", "ERR_FORK_WORKERS");
    throw error;
  }
  // Stopped, or in an uninterruptible wait: it may answer on a later try.
  Napi::Error error = Napi::Error::New(
      env, "fork: thread " + std::to_string(census.silentTid) + (census.silent > 1 ? " (and " + std::to_string(census.silent - 1) + " more)" : "") +
               " did not answer within " + std::to_string(kCensusTimeoutMs) +
               " ms whether it runs JavaScript (a Worker's thread would); nothing was forked");
  error.Value().Set("code", "ERR_FORK_WORKERS_BUSY");
  throw error;
}

// ---- 3. the child's event loop running dry ----------------------------------------
// In the child Node's own end of loop would wait forever for worker tasks
// (DrainTasks) that no thread will run. A referenced prepare handle keeps
// uv_run going; each iteration, before polling, it checks whether anything
// else is left. When nothing is: beforeExit(), and if that scheduled nothing,
// exit() (which emits 'exit' and calls _exit).
// The two functions are held from the parent's first fork() on, and the
// child only starts the handle, inside fork() (StartLoopEndWatch): set up by
// a JS call of its own in every child, the watch cost each child of a fork
// server ~20 page faults (the call, two global handles, an async context),
// although such a child ends by _exit and never lets its loop run dry. The
// async context is made only when the loop does run dry (OnPrepare).
struct LoopEnd {
  uv_prepare_t prepare;
  napi_env env = nullptr;
  Napi::FunctionReference beforeExit;
  Napi::FunctionReference exit;
  std::unique_ptr<Napi::AsyncContext> context;
  bool started = false;  // the handle runs in this process (a forked child, and its own children)
};
LoopEnd* loopEnd = nullptr;  // main thread only; lives until _exit

bool LoopAliveWithoutUs(uv_prepare_t* prepare) {
  uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(prepare);
  uv_unref(handle);
  bool alive = uv_loop_alive(prepare->loop) != 0;
  uv_ref(handle);
  return alive;
}

void OnPrepare(uv_prepare_t* prepare) {
  if (LoopAliveWithoutUs(prepare)) return;
  LoopEnd* end = loopEnd;
  Napi::Env env(end->env);
  Napi::HandleScope scope(env);
  try {
    if (!end->context) end->context = std::make_unique<Napi::AsyncContext>(env, "sockfd:fork");
    end->beforeExit.MakeCallback(env.Global(), {}, *end->context);
    if (LoopAliveWithoutUs(prepare)) return;
    end->exit.MakeCallback(env.Global(), {}, *end->context);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  } catch (const std::bad_alloc&) {
    napi_fatal_error("sockfd:fork", NAPI_AUTO_LENGTH, "out of memory at the end of a forked child's loop", NAPI_AUTO_LENGTH);
  }
}

// fork()'s beforeExit and exit arguments, kept for the children (in the
// parent: nothing runs them). Runs no JS.
void KeepLoopEndCallbacks(Napi::Env env, Napi::Value beforeExit, Napi::Value exit) {
  if (!beforeExit.IsFunction() || !exit.IsFunction())
    ThrowTypeError(env, "fork(addonPath, beforeExit, exit): beforeExit and exit must be functions");
  if (loopEnd == nullptr) {
    auto end = std::unique_ptr<LoopEnd>(new (std::nothrow) LoopEnd());
    if (end == nullptr) throw Napi::Error::New(env, "fork: out of memory");
    end->env = env;
    loopEnd = end.release();
  }
  if (loopEnd->beforeExit.IsEmpty() || !loopEnd->beforeExit.Value().StrictEquals(beforeExit))
    loopEnd->beforeExit = Napi::Persistent(beforeExit.As<Napi::Function>());
  if (loopEnd->exit.IsEmpty() || !loopEnd->exit.Value().StrictEquals(exit))
    loopEnd->exit = Napi::Persistent(exit.As<Napi::Function>());
}

// In the child, right after uv_loop_fork. A child of a child already runs
// the handle its parent started (uv_loop_fork keeps it). 0 or a libuv error.
int StartLoopEndWatch(uv_loop_t* loop) {
  if (loopEnd->started) return 0;
  int rc = uv_prepare_init(loop, &loopEnd->prepare);
  if (rc == 0) rc = uv_prepare_start(&loopEnd->prepare, OnPrepare);
  if (rc == 0) loopEnd->started = true;
  return rc;
}

// ---- the answer, without a JS value made after fork(2) ------------------------------
// Everything the parent writes between fork(2) and its return to JS is a
// page it shares with the child, and so a page fault there, mostly a copy
// (~4.5 us here) while the child still runs. Making the pid a JS number
// writes pages that V8's return path does not write otherwise (the handle's
// block, N-API's last-error record of the env): measured, ~1.5 faults after
// fork(2) a call. So the answer can go to an Int32Array over fork()'s
// wipe-on-fork scratch instead (written without a fault; a child finds it
// zero), and fork() then returns undefined.

// forkPidCell() -> Int32Array(1) over that memory; undefined off the main
// thread, or where this Node refuses external ArrayBuffers (fork() then
// returns the pid as a number). The memory lives until _exit: nothing to free.
Napi::Value ForkPidCell(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (!OnMainThread()) return info.Env().Undefined();
  napi_value buffer, array;
  if (napi_create_external_arraybuffer(env, static_cast<void*>(&forkScratch.Get()->pid), sizeof(std::int32_t), nullptr,
                                       nullptr, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, 1, buffer, 0, &array) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return info.Env().Undefined();
  }
  return Napi::Value(env, array);
}

// fork()'s optional pidCell argument: undefined (answer as a number), or the
// Int32Array forkPidCell() made (answer there). Reads no property: runs no JS.
std::int32_t* PidCellArgument(Napi::Env env, Napi::Value value) {
  if (value.IsUndefined()) return nullptr;
  std::int32_t* cell = &forkScratch.Get()->pid;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!value.IsTypedArray() ||
      napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || length != 1 || data != cell)
    ThrowTypeError(env, "fork(addonPath, beforeExit, exit, pidCell): pidCell must be the Int32Array of forkPidCell()");
  return cell;
}

// fork(addonPath, beforeExit, exit, pidCell?) -> child's pid in the parent,
// 0 in the child; with pidCell, undefined, and the pid in pidCell[0] (see
// above). In the child, beforeExit() and exit() run when its loop runs dry
// (section 3).
Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!OnMainThread()) throw Napi::Error::New(env, "fork: only the main thread can fork (not a worker_thread)");
  if (int workers = workerEnvironments.load(); workers > 0) throw WorkersRunningError(env, workers);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "fork: no event loop");
  ParkedWorkers workers(AddonTable<ForkParking>(env, info[0], kForkParkingSymbol, kForkParkingMagic, kForkParkingVersion));
  const JsThreads* jsThreads = AddonTable<JsThreads>(env, info[0], kJsThreadsSymbol, kJsThreadsMagic, kJsThreadsVersion);
  KeepLoopEndCallbacks(env, info[1], info[2]);
  std::int32_t* pidCell = PidCellArgument(env, info[3]);

  // Three things before fork(2), overlapped: the platform's workers wake up
  // to park, and the other threads answer whether they run JavaScript,
  // while this thread reads /proc/self/maps. Only then it waits for both
  // (the census counts no answer of a thread that is parked by then).
  if (!inForkedChild && !workers.Post())
    throw Napi::Error::New(env, "fork: Node's platform is not reachable from this thread");
  jsThreads->ask();
  forkAdvice.Prepare();
  ParkResult parked = inForkedChild ? ParkResult::kParked : workers.Wait(kParkTimeoutMs);
  if (parked != ParkResult::kParked) {
    Napi::Error error = Napi::Error::New(env, "fork: V8's worker threads did not become idle within 2 s; nothing was forked");
    error.Value().Set("code", "ERR_FORK_WORKERS_BUSY");
    throw error;
  }
  // Advised once the workers are parked: a V8 worker could otherwise add a
  // (DONTFORK) page to the heap between the advice and the fork, and the
  // child would lack it (ForkableSpans says why the maps may be read earlier).
  forkAdvice.Advise();
  RefuseWhileOtherThreadsRunJs(env, jsThreads->collect(kCensusTimeoutMs));
  // No signal handler may run between fork and uv_loop_fork in the child.
  // The synchronous faults stay deliverable: blocked, a fault kills the
  // process without V8's (or ASan's) handler ever seeing it.
  sigset_t all, previous;
  sigfillset(&all);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&all, fault);
  if (int rc = pthread_sigmask(SIG_SETMASK, &all, &previous); rc != 0) {
    workers.Release();
    ThrowErrno(env, "fork: pthread_sigmask", rc);
  }
  pid_t pid = ::fork();
  int err = errno;
  if (pid == 0) {
    inForkedChild = true;
    workers.Abandon();
    int rc = uv_loop_fork(loop);
    if (rc != 0) {
      // A child without a working loop cannot run JS safely, nor exit through Node.
      dprintf(STDERR_FILENO, "fork: uv_loop_fork in the child: %s\n", uv_strerror(rc));
      ::_exit(127);
    }
    ForgetWatchersAfterFork();  // the parent's waits stay the parent's
    if (int rc = StartLoopEndWatch(loop); rc != 0) {
      dprintf(STDERR_FILENO, "fork: watching the child's loop: %s\n", uv_strerror(rc));
      ::_exit(127);  // a child whose loop runs dry would hang in Node's teardown
    }
    if (int rc = pthread_sigmask(SIG_SETMASK, &previous, nullptr); rc != 0) {
      dprintf(STDERR_FILENO, "fork: pthread_sigmask in the child: %s\n", strerror(rc));
      ::_exit(127);  // a child with every signal blocked would never see SIGTERM
    }
    if (pidCell == nullptr) return Napi::Number::New(env, 0);
    // Zero already, unless the scratch is the static fallback: a child's
    // wipe-on-fork pages stay untouched (a read maps no page of its own).
    if (*pidCell != 0) *pidCell = 0;
    return Napi::Value();
  }
  workers.Release();
  if (int rc = pthread_sigmask(SIG_SETMASK, &previous, nullptr); rc != 0) ThrowErrno(env, "fork: pthread_sigmask", rc);
  if (pid < 0) ThrowErrno(env, "fork", err);
  if (pidCell == nullptr) return Napi::Number::New(env, pid);
  *pidCell = pid;
  return Napi::Value();  // undefined: no JS value made after fork(2)
}

void Init(Napi::Env env, Napi::Object exports) {
  if (!OnMainThread() && napi_add_env_cleanup_hook(env, ForgetWorkerEnvironment, nullptr) == napi_ok)
    workerEnvironments.fetch_add(1);
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("forkPidCell", Napi::Function::New(env, ForkPidCell, "forkPidCell"));
}

}  // namespace
SOCKFD_REGISTER(fork, Init);
}  // namespace sockfd
