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
// is looked up in /proc; one that blocks the signal with the question
// pending owes no answer this time, and is remembered (not asked again)
// once it was seen so in two censuses: any thread blocks signals for a
// moment now and then (glibc's pthread_create does; a thread running our
// handler blocks the probe signal), and a Worker remembered so would never
// be asked again. An answer that comes anyway still counts. The V8
// platform's workers, seen parked by an earlier fork, are not asked either
// (remembered the same way), nor any thread made before them (see Ask).
// The questions go out first (ask()); fork() reads the maps and waits for
// its parked workers while the threads answer, and collect() sleeps (futex)
// until an answer wakes it.
// Cost: one signal per remaining thread (4 in a plain Node: libuv's pool;
// the platform's delayed-task thread only at the first fork), each a
// wake-up of that thread.
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

#include "../wipe_on_fork.h"
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

// A slot's answer, tagged with its round: (round << 2) | answer.
enum Answer : unsigned { kNone = 0, kNoIsolate = 1, kIsolate = 2 };

struct ThreadId {
  pid_t tid;
  ino_t ino;
};

// Everything a census writes, asked and answered, at every fork: in memory
// the child does not share (wipe_on_fork.h), so that neither the main
// thread nor the answering threads fault on it after each fork. A child
// finds it zero: no census in progress (`asked` false), round 0.
struct CensusState {
  // What protects what: `answers`, `round`, `answered` and `handlersRunning`
  // are written by the probe handler on any thread and read by the main
  // thread: lock-free atomics only. A slot leaves kNone of its round once, by
  // compare-exchange, so a late answer to an earlier census can never
  // overwrite a slot of the current one.
  std::atomic<unsigned> answers[kMaxThreads];
  std::atomic<unsigned> round;
  // Counts answers; the main thread sleeps on it (futex) and every answer wakes it.
  std::atomic<unsigned> answered;
  // Handlers running now, on any thread. While one runs, its thread blocks the
  // probe signal, and a question of the next census waits there pending: it
  // looks like a thread that blocks the signal, and must not be excused so
  // (an answer's futex wake-up can preempt the answering thread for
  // milliseconds on a busy machine: seen with a Worker).
  std::atomic<int> handlersRunning;
  // The census in progress: main thread only.
  bool asked;  // ask() ran and collect() has not yet
  CensusStatus askStatus;
  ThreadId threads[kMaxThreads];  // asked, in the order sent
  int askedCount;
  unsigned askedRound;
  long long askedAt;
  bool parkedNow[kMaxThreads];  // see NoteParkedThreads
  bool excused[kMaxThreads];    // need not answer (Collect)
  alignas(8) char entries[4096];  // /proc/self/task, one getdents64 at a time
};
sockfd::WipeOnFork<CensusState> censusState;
static_assert(std::atomic<unsigned>::is_always_lock_free && sizeof(std::atomic<unsigned>) == sizeof(int),
              "the handler needs lock-free atomics, and the futex a plain 32-bit word");

unsigned RoundBits(unsigned value) { return value & ((1u << kRoundBits) - 1); }
unsigned Tagged(unsigned roundBits, Answer answer) { return (roundBits << 2) | answer; }

int* FutexWord(std::atomic<unsigned>* word) { return reinterpret_cast<int*>(word); }

void OnProbe(int, siginfo_t* info, void*) {
  CensusState* state = censusState.Peek();  // set before the first question was sent
  if (state == nullptr) return;
  state->handlersRunning.fetch_add(1);
  int savedErrno = errno;
  // Only our own rt_tgsigqueueinfo (SI_QUEUE from this process) is a question.
  if (info->si_code == SI_QUEUE && info->si_pid == ::getpid()) {
    unsigned token = static_cast<unsigned>(info->si_value.sival_int);
    unsigned index = token & (kMaxThreads - 1);
    unsigned roundBits = token >> kIndexBits;
    unsigned expected = Tagged(roundBits, kNone);
    Answer answer = v8::Isolate::TryGetCurrent() != nullptr ? kIsolate : kNoIsolate;
    if (state->answers[index].compare_exchange_strong(expected, Tagged(roundBits, answer))) {
      state->answered.fetch_add(1);
      ::syscall(SYS_futex, FutexWord(&state->answered), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }
  errno = savedErrno;
  state->handlersRunning.fetch_sub(1);
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

// What thread `tid` does with `sig`, from its status: kBlocked only if it
// blocks it (SigBlk) with the question still pending (SigPnd); blocked but
// no longer pending, it is running our handler: its answer is coming.
enum class Mask { kOpen, kBlocked, kGone };
bool SignalIn(const char* status, const char* field, int sig) {
  const char* line = std::strstr(status, field);
  if (line == nullptr) return false;
  unsigned long long set = std::strtoull(line + std::strlen(field), nullptr, 16);
  return ((set >> (sig - 1)) & 1) != 0;
}
Mask ProbeMask(pid_t tid, int sig) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
  char status[4096];
  if (!ReadSmallFile(path, status, sizeof status)) return Mask::kGone;
  return SignalIn(status, "\nSigBlk:", sig) && SignalIn(status, "\nSigPnd:", sig) ? Mask::kBlocked : Mask::kOpen;
}

long long NowNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

// Threads named by tid and the inode of their /proc/self/task entry: a new
// thread that reuses the tid gets a new inode (and a thread whose entry the
// kernel made anew is just asked again). A small ring each: the oldest is
// forgotten first (it is then just asked again). Main thread only.
constexpr int kRemembered = 64;
struct ThreadRing {
  ThreadId threads[kRemembered] = {};
  int next = 0;
  bool Has(ThreadId thread) const {
    for (const ThreadId& known : threads)
      if (known.tid == thread.tid && known.ino == thread.ino && known.tid != 0) return true;
    return false;
  }
  void Add(ThreadId thread) {
    if (Has(thread)) return;
    threads[next] = thread;
    next = (next + 1) % kRemembered;
  }
};
// Seen blocking the question in two censuses (Node's inspector signal thread
// blocks every signal for its whole life): each fork() need not wait for it
// to not answer, nor read its status (~0.1 ms a read).
ThreadRing blockingThreads;
ThreadRing seenBlockingOnce;
// V8 platform workers: seen parked by a fork's worker parking
// (parked_threads.h), which only the platform's own worker threads run.
// They never run JavaScript; asked, each would be woken for nothing.
ThreadRing platformWorkers;

void SeenBlocking(ThreadId thread) {
  if (seenBlockingOnce.Has(thread)) blockingThreads.Add(thread);
  else seenBlockingOnce.Add(thread);
}

// The threads parked by this fork (V8 platform workers) among those asked:
// their answers do not count (asked before they parked, one may have been
// running a V8 task with an isolate current: seen on Node 24), and they
// become known platform workers, by the identity this census saw them under
// (all of them exist from Node's start: the thread the readdir listed under
// that tid is the one parked now).
void NoteParkedThreads(CensusState& s) {
  pid_t parked[kRemembered];
  int count = ParkedThreadIds(parked, kRemembered);
  for (int i = 0; i < s.askedCount; ++i) {
    s.parkedNow[i] = false;
    for (int p = 0; p < count && !s.parkedNow[i]; ++p) s.parkedNow[i] = s.threads[i].tid == parked[p];
    if (s.parkedNow[i]) platformWorkers.Add(s.threads[i]);
  }
}

unsigned AnswerOf(const CensusState& s, int index) {
  unsigned value = s.answers[index].load();
  return (value >> 2) == s.askedRound ? (value & 3u) : static_cast<unsigned>(kNone);
}

CensusStatus Ask() noexcept {
  CensusState& s = *censusState.Get();
  s.asked = true;
  s.askedCount = 0;
  s.askedAt = NowNs();
  if (!InstallProbe()) return s.askStatus = CensusStatus::kNoProbe;
  int sig = sockfd::JsThreadProbeSignal();
  pid_t pid = ::getpid();
  uid_t uid = ::getuid();
  pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  s.askedRound = RoundBits(s.round.fetch_add(1) + 1);
  // Listed with getdents64 into the census's own buffer: opendir would
  // malloc and free its 32 KiB buffer at every fork (fresh copy-on-write
  // faults of the heap pages each time, as every page the parent writes
  // after a fork).
  int tasks = ::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tasks < 0) return s.askStatus = CensusStatus::kNoTaskList;
  s.askStatus = CensusStatus::kCounted;
  // The threads to ask, in the order /proc lists them; those before the
  // last known platform worker are dropped before anything is sent.
  int preceding = 0;  // how many of them precede the last platform worker listed so far
  for (bool more = true; more;) {
    ssize_t n = ::getdents64(tasks, s.entries, sizeof s.entries);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s.askStatus = CensusStatus::kNoTaskList;  // a list cut short would leave threads unasked
    if (n <= 0) break;
    for (size_t offset = 0; offset < static_cast<size_t>(n);) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(s.entries + offset);
      offset += entry->d_reclen;
      char* end = nullptr;
      long tid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || tid == self) continue;
      ThreadId thread{static_cast<pid_t>(tid), static_cast<ino_t>(entry->d_ino)};
      if (platformWorkers.Has(thread)) {
        preceding = s.askedCount;
        continue;
      }
      // Cannot be asked, or need not be: not a Worker (see the top).
      if (blockingThreads.Has(thread)) continue;
      if (s.askedCount == kMaxThreads) {
        s.askStatus = CensusStatus::kTooManyThreads;
        more = false;
        break;
      }
      s.threads[s.askedCount++] = thread;
    }
  }
  ::close(tasks);
  if (s.askStatus != CensusStatus::kCounted) {
    s.askedCount = 0;
    return s.askStatus;
  }
  // /proc lists a process's threads in the order they were made (the kernel
  // appends each new one to the thread group's list). Node's platform makes
  // all its workers, and waits until they run, before any JavaScript can
  // run; a Worker's thread needs that platform, so it is made later. So a
  // thread listed before a platform worker (known by its tid and inode, see
  // ThreadRing) was made before any JavaScript ran, and runs none: in plain
  // Node that is the platform's delayed-task thread, asked otherwise at
  // every fork (a wake-up of it each time, on the other CPU).
  if (preceding > 0) {
    for (int i = preceding; i < s.askedCount; ++i) s.threads[i - preceding] = s.threads[i];
    s.askedCount -= preceding;
  }
  int sent = 0;
  for (int i = 0; i < s.askedCount; ++i) {
    int index = sent;
    s.answers[index].store(Tagged(s.askedRound, kNone));
    siginfo_t question{};
    question.si_signo = sig;
    question.si_code = SI_QUEUE;
    question.si_pid = pid;
    question.si_uid = uid;
    question.si_value.sival_int = static_cast<int>((s.askedRound << kIndexBits) | static_cast<unsigned>(index));
    // ESRCH: ended meanwhile. Any other failure (EAGAIN, a full queue): silent below.
    if (::syscall(SYS_rt_tgsigqueueinfo, pid, s.threads[i].tid, sig, &question) != 0 && errno == ESRCH) continue;
    s.threads[sent++] = s.threads[i];
  }
  s.askedCount = sent;
  return s.askStatus;
}

// Sleeps until an answer comes after `seen` was read, or until `until` (ns).
void SleepForAnswers(CensusState& s, unsigned seen, long long until) {
  long long left = until - NowNs();
  if (left <= 0) return;
  timespec timeout{static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
  ::syscall(SYS_futex, FutexWord(&s.answered), FUTEX_WAIT_PRIVATE, static_cast<int>(seen), &timeout, nullptr, 0);
}

JsThreadCensus Collect(int timeoutMs) noexcept {
  CensusState& s = *censusState.Get();
  JsThreadCensus census{s.asked ? s.askStatus : CensusStatus::kNoProbe, 0, 0, 0};
  if (!s.asked || s.askStatus != CensusStatus::kCounted) return census;
  s.asked = false;  // one collect() per ask()
  int sig = sockfd::JsThreadProbeSignal();
  // Wait (bounded) for the answers. 1 ms after the questions a thread still
  // silent is looked at once: one that blocks the question, or has ended,
  // is not waited for (its answer still counts if it comes).
  bool* excused = s.excused;
  NoteParkedThreads(s);
  for (int i = 0; i < s.askedCount; ++i) excused[i] = s.parkedNow[i];  // need not answer (see NoteParkedThreads)
  long long lookAt = s.askedAt + 1000000LL;
  long long deadline = s.askedAt + static_cast<long long>(timeoutMs) * 1000000LL;
  bool looked = false;
  for (;;) {
    unsigned seen = s.answered.load();
    int missing = 0;
    for (int i = 0; i < s.askedCount; ++i)
      if (!excused[i] && AnswerOf(s, i) == kNone) ++missing;
    if (missing == 0) break;
    long long now = NowNs();
    if (now > deadline) break;
    if (!looked && now >= lookAt) {
      if (s.handlersRunning.load() > 0) {  // a blocked mask could be our own handler's: look again later
        lookAt = now + 1000000LL;
        continue;
      }
      looked = true;
      for (int i = 0; i < s.askedCount; ++i) {
        if (excused[i] || AnswerOf(s, i) != kNone) continue;
        Mask mask = ProbeMask(s.threads[i].tid, sig);
        excused[i] = mask != Mask::kOpen;
        if (mask == Mask::kBlocked) SeenBlocking(s.threads[i]);
      }
      continue;
    }
    SleepForAnswers(s, seen, looked ? deadline : lookAt);
  }
  for (int i = 0; i < s.askedCount; ++i) {
    if (s.parkedNow[i]) continue;  // a platform worker, not a Worker, whatever it answered
    unsigned answer = AnswerOf(s, i);
    if (answer == kIsolate) {
      ++census.jsThreads;
    } else if (answer == kNone && !excused[i] && ProbeMask(s.threads[i].tid, sig) != Mask::kGone) {
      if (census.silent++ == 0) census.silentTid = s.threads[i].tid;  // blocking or not: it was not excused in time
    }
  }
  if (census.silent > 0) census.status = CensusStatus::kUnanswered;
  return census;
}

const sockfd::JsThreads table = {sockfd::kJsThreadsMagic, sockfd::kJsThreadsVersion, Ask, Collect};

}  // namespace
}  // namespace sockfd_node

extern "C" __attribute__((visibility("default"))) const sockfd::JsThreads* sockfd_js_threads_v1() {
  return &sockfd_node::table;
}
