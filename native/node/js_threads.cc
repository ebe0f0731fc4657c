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
// is looked up in /proc and, if it blocks the signal, remembered. Cost: one
// signal per thread (~12 in a plain Node), about 0.1 ms in all.
#include <dirent.h>
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

namespace sockfd_node {
namespace {

using sockfd::CensusStatus;
using sockfd::JsThreadCensus;

constexpr int kMaxThreads = 4096;  // fits the token's index bits
constexpr int kIndexBits = 12;
static_assert((1 << kIndexBits) == kMaxThreads, "the token's index must address every slot");

enum Answer : unsigned char { kNone = 0, kNoIsolate = 1, kIsolate = 2 };

// What protects what: `answers` and `round` are written by the probe handler
// on any thread and read by the main thread: lock-free atomics only. The
// handler writes only the slot its token names, and only when the token's
// round is the current one, so a late answer to an earlier census is dropped.
std::atomic<unsigned char> answers[kMaxThreads];
std::atomic<unsigned> round{0};

unsigned RoundBits(unsigned value) { return value & ((1u << (31 - kIndexBits)) - 1); }

void OnProbe(int, siginfo_t* info, void*) {
  int savedErrno = errno;
  // Only our own rt_tgsigqueueinfo (SI_QUEUE from this process) is a question.
  if (info->si_code == SI_QUEUE && info->si_pid == ::getpid()) {
    unsigned token = static_cast<unsigned>(info->si_value.sival_int);
    unsigned index = token & (kMaxThreads - 1);
    if ((token >> kIndexBits) == RoundBits(round.load()))
      answers[index].store(v8::Isolate::TryGetCurrent() != nullptr ? kIsolate : kNoIsolate);
  }
  errno = savedErrno;
}

// Installs the handler once, for good (an answer may come after count()
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

ThreadId asked[kMaxThreads];  // the threads of the census in progress (main thread only)

JsThreadCensus Count(int timeoutMs) noexcept {
  JsThreadCensus census{CensusStatus::kCounted, 0, 0, 0};
  if (!InstallProbe()) {
    census.status = CensusStatus::kNoProbe;
    return census;
  }
  int sig = sockfd::JsThreadProbeSignal();
  pid_t pid = ::getpid();
  pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  unsigned current = RoundBits(round.fetch_add(1) + 1);
  // opendir allocates (fork() already reads /proc/self/maps the same way).
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    census.status = CensusStatus::kNoTaskList;
    return census;
  }
  int count = 0;
  while (dirent* entry = ::readdir(tasks)) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || tid == self) continue;
    ThreadId thread{static_cast<pid_t>(tid), entry->d_ino};
    if (KnownToBlock(thread)) continue;  // cannot be asked (and is not a Worker: see the top)
    if (count == kMaxThreads) {
      census.status = CensusStatus::kTooManyThreads;
      break;
    }
    answers[count].store(kNone);
    asked[count] = thread;
    siginfo_t question{};
    question.si_signo = sig;
    question.si_code = SI_QUEUE;
    question.si_pid = pid;
    question.si_uid = ::getuid();
    question.si_value.sival_int = static_cast<int>((current << kIndexBits) | static_cast<unsigned>(count));
    // ESRCH: ended meanwhile. Any other failure (EAGAIN, a full queue): silent below.
    if (::syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &question) != 0 && errno == ESRCH) continue;
    ++count;
  }
  ::closedir(tasks);
  if (census.status != CensusStatus::kCounted) return census;
  // Wait (bounded) for the answers. After 1 ms a thread still silent is
  // looked at once: one that blocks the signal (remembered), or has ended,
  // owes no answer.
  bool settled[kMaxThreads] = {};
  long long start = NowNs();
  long long deadline = start + static_cast<long long>(timeoutMs) * 1000000LL;
  bool looked = false;
  for (;;) {
    int waiting = 0;
    for (int i = 0; i < count; ++i)
      if (!settled[i] && answers[i].load() == kNone) ++waiting;
    if (waiting == 0) break;
    long long now = NowNs();
    if (now > deadline) break;
    if (!looked && now - start > 1000000LL) {
      looked = true;
      for (int i = 0; i < count; ++i) {
        if (settled[i] || answers[i].load() != kNone) continue;
        Mask mask = ProbeMask(asked[i].tid, sig);
        if (mask == Mask::kBlocked) RememberBlocking(asked[i]);
        settled[i] = mask != Mask::kOpen;
      }
      continue;
    }
    timespec pause{0, 20000};  // 20 us
    ::nanosleep(&pause, nullptr);
  }
  for (int i = 0; i < count; ++i) {
    unsigned char answer = answers[i].load();
    if (answer == kIsolate) {
      ++census.jsThreads;
    } else if (answer == kNone && !settled[i] && ProbeMask(asked[i].tid, sig) == Mask::kOpen) {
      if (census.silent++ == 0) census.silentTid = asked[i].tid;
    }
  }
  if (census.silent > 0) census.status = CensusStatus::kUnanswered;
  return census;
}

const sockfd::JsThreads table = {sockfd::kJsThreadsMagic, sockfd::kJsThreadsVersion, Count};

}  // namespace
}  // namespace sockfd_node

extern "C" __attribute__((visibility("default"))) const sockfd::JsThreads* sockfd_js_threads_v1() {
  return &sockfd_node::table;
}
