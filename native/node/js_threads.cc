// Which other threads of this process run JavaScript (Workers), whatever
// created them and whether or not they ever loaded sockfd: fork() refuses
// while one does (native/fork.cc says why). Node keeps no list of its Workers
// that an addon can read, and a Worker's thread looks like any other in /proc
// (same name, same signal mask as a libuv pool thread). What sets a JS thread
// apart is that a V8 isolate is current on it for its whole life (Node's
// Worker::Run holds an Isolate::Scope around its event loop; V8 makes the
// isolate current while it initialises and disposes it). So each thread of
// /proc/self/task is asked: a signal of sockfd's own (JsThreadProbeSignal,
// SA_RESTART, so no restartable call of the thread sees EINTR) runs a handler
// on that thread, which records whether v8::Isolate::TryGetCurrent() is set
// (a thread-local read: async-signal-safe). A thread that blocks the signal
// cannot answer and is not a Worker (a Worker inherits the mask of the JS
// thread that made it, which never blocks it): one still silent after 1 ms
// is looked up in /proc and, if it blocks the signal, remembered. The V8
// platform's workers, seen parked by an earlier fork, are not asked either
// (remembered the same way). The questions go out first (ask()); fork()
// reads /proc/self/maps and waits for its parked workers while the threads
// answer, and collect() sleeps (futex) until the last answer wakes it.
// Cost: one signal per remaining thread (5 in a plain Node: the platform's
// delayed-task thread, libuv's pool), each a wake-up of that thread.
#include <dirent.h>
#include <linux/futex.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "js_threads.h"
#include "node_addon.h"
#include "parked_threads.h"

namespace sockfd_node {
namespace {

using sockfd::CensusStatus;
using sockfd::JsThreadCensus;

constexpr int kMaxThreads = 4096;  // fits the token's index bits
constexpr int kIndexBits = 12;
static_assert((1 << kIndexBits) == kMaxThreads, "the token's index must address every slot");
constexpr int kRoundBits = 31 - kIndexBits;  // a token is a non-negative int: round, then index
constexpr unsigned kPendingBits = 13;        // `waiting` holds up to kMaxThreads pending answers
static_assert((1u << kPendingBits) > kMaxThreads && kRoundBits + kPendingBits <= 32, "waiting's fields must fit");

// A slot's state, tagged with its round: (round << 2) | state.
enum Answer : unsigned { kNone = 0, kNoIsolate = 1, kIsolate = 2, kSettled = 3 /* owes no answer: blocks the signal, or ended */ };

// What protects what: `answers`, `round` and `waiting` are written by the
// probe handler on any thread and by the main thread: lock-free atomics
// only. A slot leaves kNone of its round exactly once, by compare-exchange
// (an answer, or the main thread settling it), so a late answer to an
// earlier census can never overwrite a slot of the current one, and each
// slot gives back exactly one pending answer of `waiting`.
std::atomic<unsigned> answers[kMaxThreads];
std::atomic<unsigned> round{0};
// (round << kPendingBits) | answers still owed in that round; the main thread
// sleeps on it (futex) and the answer that brings it to 0 wakes it.
std::atomic<unsigned> waiting{0};
static_assert(std::atomic<unsigned>::is_always_lock_free && sizeof(std::atomic<unsigned>) == sizeof(unsigned),
              "the handler needs lock-free atomics, and the futex a plain 32-bit word");

unsigned RoundBits(unsigned value) { return value & ((1u << kRoundBits) - 1); }
unsigned Tagged(unsigned roundBits, Answer state) { return (roundBits << 2) | state; }

int* FutexWord(std::atomic<unsigned>* word) { return reinterpret_cast<int*>(word); }

// One owed answer of round `roundBits` less; wakes the main thread at 0.
void AnswerReceived(unsigned roundBits) {
  unsigned value = waiting.load();
  while ((value >> kPendingBits) == roundBits && (value & ((1u << kPendingBits) - 1)) != 0) {
    if (waiting.compare_exchange_weak(value, value - 1)) {
      if ((value & ((1u << kPendingBits) - 1)) == 1) ::syscall(SYS_futex, FutexWord(&waiting), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
      return;
    }
  }
}

// Slot `index` of round `roundBits` goes from kNone to `state`, if it still is kNone.
bool Settle(unsigned index, unsigned roundBits, Answer state) {
  unsigned expected = Tagged(roundBits, kNone);
  if (!answers[index].compare_exchange_strong(expected, Tagged(roundBits, state))) return false;
  AnswerReceived(roundBits);
  return true;
}

void OnProbe(int, siginfo_t* info, void*) {
  int savedErrno = errno;
  // Only our own rt_tgsigqueueinfo (SI_QUEUE from this process) is a question.
  if (info->si_code == SI_QUEUE && info->si_pid == ::getpid()) {
    unsigned token = static_cast<unsigned>(info->si_value.sival_int);
    unsigned index = token & (kMaxThreads - 1);
    Settle(index, token >> kIndexBits, v8::Isolate::TryGetCurrent() != nullptr ? kIsolate : kNoIsolate);
  }
  errno = savedErrno;
}

// Installs the handler once, for good (an answer may come after collect()
// gave up waiting: it must find the handler, never the default action, which
// kills). Refuses a signal someone else handles.
bool InstallProbe() {
  static bool installed = false;  // main thread only
  if (installed) return true;
  int sig = sockfd::JsThreadProbeSignal();
  struct sigaction previous {};
  if (::sigaction(sig, nullptr, &previous) != 0) return false;
  bool ours = (previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction == OnProbe;
  bool free = (previous.sa_flags & SA_SIGINFO) == 0 && (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN);
  if (!ours && !free) return false;
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  action.sa_sigaction = OnProbe;
  if (::sigaction(sig, &action, nullptr) != 0) return false;
  installed = true;
  return true;
}

// Reads a small /proc file into `buffer` (NUL-terminated); false if it is gone.
bool ReadSmallFile(const char* path, char* buffer, size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = ::read(fd, buffer + used, size - 1 - used);
    if (n > 0) used += static_cast<size_t>(n);
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fd);
  buffer[used] = '\0';
  return used > 0;
}

// Whether thread `tid` blocks `sig` (SigBlk of its status), or is gone.
enum class Mask { kOpen, kBlocked, kGone };
Mask ProbeMask(pid_t tid, int sig) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
  char status[4096];
  if (!ReadSmallFile(path, status, sizeof status)) return Mask::kGone;
  const char* line = std::strstr(status, "\nSigBlk:");
  if (line == nullptr) return Mask::kOpen;
  unsigned long long blocked = std::strtoull(line + 8, nullptr, 16);
  return (blocked >> (sig - 1)) & 1 ? Mask::kBlocked : Mask::kOpen;
}

long long NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

// Threads seen blocking the probe signal (Node's inspector signal thread
// blocks every signal, for its whole life), so each fork() does not wait for
// them to not answer, nor read their status (~0.1 ms a read). A thread is
// named by its tid and the inode of its /proc/self/task entry: a new thread
// that reuses the tid gets a new inode, and is asked. Main thread only.
struct ThreadId {
  pid_t tid;
  ino_t ino;
};
constexpr int kRememberedBlocked = 64;
ThreadId blockedThreads[kRememberedBlocked];
int blockedNext = 0;  // ring: the oldest is forgotten first (it is then just asked again)

bool KnownToBlock(ThreadId thread) {
  for (const ThreadId& known : blockedThreads)
    if (known.tid == thread.tid && known.ino == thread.ino) return true;
  return false;
}

void RememberBlocking(ThreadId thread) {
  blockedThreads[blockedNext] = thread;
  blockedNext = (blockedNext + 1) % kRememberedBlocked;
}

// Threads known to be V8 platform workers: seen parked by a fork's worker
// parking (parked_threads.h), which only the platform's own worker threads
// run. They never run JavaScript, so they are not asked (each question
// wakes a parked thread: a context switch for nothing). Named by tid and
// /proc inode like the blocking ones. Main thread only.
constexpr int kRememberedWorkers = 64;
ThreadId platformWorkers[kRememberedWorkers];
int platformWorkersKnown = 0;

bool KnownPlatformWorker(ThreadId thread) {
  for (int i = 0; i < platformWorkersKnown; ++i)
    if (platformWorkers[i].tid == thread.tid && platformWorkers[i].ino == thread.ino) return true;
  return false;
}

// The census in progress (main thread only).
ThreadId asked[kMaxThreads];
int askedCount = 0;
unsigned askedRound = 0;
long long askedAt = 0;
CensusStatus askStatus = CensusStatus::kNoProbe;  // until ask() ran

// The parked threads of this fork, by the identity this census saw them
// under (its /proc/self/task entry), become known platform workers. A parked
// thread is one the readdir listed, or a newer one (platform workers are all
// made when Node starts; a newer one is just asked again next time).
void RememberParkedThreads() {
  pid_t parked[kRememberedWorkers];
  int count = ParkedThreadIds(parked, kRememberedWorkers);
  for (int p = 0; p < count; ++p)
    for (int i = 0; i < askedCount && platformWorkersKnown < kRememberedWorkers; ++i)
      if (asked[i].tid == parked[p]) platformWorkers[platformWorkersKnown++] = asked[i];
}

CensusStatus Ask() noexcept {
  askedCount = 0;
  askedAt = NowNs();
  if (!InstallProbe()) return askStatus = CensusStatus::kNoProbe;
  int sig = sockfd::JsThreadProbeSignal();
  pid_t pid = ::getpid();
  uid_t uid = ::getuid();
  pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  askedRound = RoundBits(round.fetch_add(1) + 1);
  waiting.store(askedRound << kPendingBits);  // nothing owed yet
  // opendir allocates (fork() already reads /proc/self/maps the same way).
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return askStatus = CensusStatus::kNoTaskList;
  askStatus = CensusStatus::kCounted;
  while (dirent* entry = ::readdir(tasks)) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || tid == self) continue;
    ThreadId thread{static_cast<pid_t>(tid), entry->d_ino};
    // Cannot be asked, or need not be: neither is a Worker (see the top).
    if (KnownToBlock(thread) || KnownPlatformWorker(thread)) continue;
    if (askedCount == kMaxThreads) {
      askStatus = CensusStatus::kTooManyThreads;
      break;
    }
    int index = askedCount;
    answers[index].store(Tagged(askedRound, kNone));
    asked[index] = thread;
    waiting.fetch_add(1);  // owed from now on: the answer may come before the call below returns
    siginfo_t question{};
    question.si_signo = sig;
    question.si_code = SI_QUEUE;
    question.si_pid = pid;
    question.si_uid = uid;
    question.si_value.sival_int = static_cast<int>((askedRound << kIndexBits) | static_cast<unsigned>(index));
    ++askedCount;
    // ESRCH: ended meanwhile, owes nothing. Any other failure (EAGAIN, a
    // full queue): left owing, so silent unless collect() finds it blocks the signal.
    if (::syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &question) != 0 && errno == ESRCH) Settle(index, askedRound, kSettled);
  }
  ::closedir(tasks);
  return askStatus;
}

unsigned StateOf(int index) { return answers[index].load() & 3u; }

// Sleeps on `waiting` until the answer that brings it to 0, or `until` (ns).
void SleepForAnswers(long long until) {
  unsigned value = waiting.load();
  if ((value >> kPendingBits) != askedRound || (value & ((1u << kPendingBits) - 1)) == 0) return;
  long long left = until - NowNs();
  if (left <= 0) return;
  timespec timeout{static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
  ::syscall(SYS_futex, FutexWord(&waiting), FUTEX_WAIT_PRIVATE, static_cast<int>(value), &timeout, nullptr, 0);
}

JsThreadCensus Collect(int timeoutMs) noexcept {
  JsThreadCensus census{askStatus, 0, 0, 0};
  if (askStatus != CensusStatus::kCounted) return census;
  askStatus = CensusStatus::kNoProbe;  // one collect() per ask()
  int sig = sockfd::JsThreadProbeSignal();
  // Wait (bounded) for the answers. 1 ms after the questions a thread still
  // silent is looked at once: one that blocks the signal (remembered), or
  // has ended, owes no answer.
  long long lookAt = askedAt + 1000000LL;
  long long deadline = askedAt + static_cast<long long>(timeoutMs) * 1000000LL;
  bool looked = false;
  for (;;) {
    int missing = 0;
    for (int i = 0; i < askedCount; ++i)
      if (StateOf(i) == kNone) ++missing;
    if (missing == 0) break;
    long long now = NowNs();
    if (now > deadline) break;
    if (!looked && now >= lookAt) {
      looked = true;
      for (int i = 0; i < askedCount; ++i) {
        if (StateOf(i) != kNone) continue;
        Mask mask = ProbeMask(asked[i].tid, sig);
        if (mask == Mask::kOpen) continue;
        if (Settle(static_cast<unsigned>(i), askedRound, kSettled) && mask == Mask::kBlocked) RememberBlocking(asked[i]);
      }
      continue;
    }
    SleepForAnswers(looked ? deadline : lookAt);
  }
  for (int i = 0; i < askedCount; ++i) {
    unsigned state = StateOf(i);
    if (state == kIsolate) {
      ++census.jsThreads;
    } else if (state == kNone) {
      Mask mask = ProbeMask(asked[i].tid, sig);
      if (mask == Mask::kBlocked) RememberBlocking(asked[i]);
      if (mask == Mask::kOpen && census.silent++ == 0) census.silentTid = asked[i].tid;
    }
  }
  if (census.silent > 0) census.status = CensusStatus::kUnanswered;
  RememberParkedThreads();
  return census;
}

const sockfd::JsThreads table = {sockfd::kJsThreadsMagic, sockfd::kJsThreadsVersion, Ask, Collect};

}  // namespace
}  // namespace sockfd_node

extern "C" __attribute__((visibility("default"))) const sockfd::JsThreads* sockfd_js_threads_v1() {
  return &sockfd_node::table;
}
