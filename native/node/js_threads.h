// The contract between the per-ABI addon (native/node/js_threads.cc, which can
// ask V8 whether a thread runs JavaScript) and the N-API core's fork()
// (native/fork.cc, which refuses while another thread does). Found like the
// worker parking (fork_parking.h): the core looks the loaded sockfd_node up
// (dlopen RTLD_NOLOAD) and calls its kJsThreadsSymbol for this table.
// Plain C types only: both addons include this file.
#pragma once

#include <signal.h>

#include <cstdint>

namespace sockfd {

enum class CensusStatus : int {
  kCounted = 0,      // every other thread answered (or cannot be asked: it blocks the probe signal)
  kUnanswered = 1,   // `silent` threads did not answer in time (stopped, or in an uninterruptible wait)
  kNoProbe = 2,      // the probe signal has a handler that is not sockfd's: nothing could be asked
  kNoTaskList = 3,   // /proc/self/task could not be read
  kTooManyThreads = 4,
};

struct JsThreadCensus {
  CensusStatus status;
  int jsThreads;  // threads other than the caller on which a V8 isolate is current (Workers)
  int silent;     // threads that did not answer in time (kUnanswered)
  int silentTid;  // one of them, for the message
};

struct JsThreads {
  std::uint32_t magic;    // kJsThreadsMagic
  std::uint32_t version;  // kJsThreadsVersion: the layout below
  // Main thread only, in this order. ask() sends the questions and returns
  // at once (kCounted: asked; else why nothing could be asked); the threads
  // answer while the caller does other work. collect() waits for the
  // answers, up to timeoutMs after ask(), and counts; called once the
  // platform's workers are parked (fork_parking.h), whose answers it leaves
  // out. Neither allocates (the census's state is kept for the process, in
  // memory a forked child does not share: native/wipe_on_fork.h).
  CensusStatus (*ask)() noexcept;
  JsThreadCensus (*collect)(int timeoutMs) noexcept;
};

// extern "C" const JsThreads* sockfd_js_threads_v1(void) in sockfd_node.
constexpr const char* kJsThreadsSymbol = "sockfd_js_threads_v1";
constexpr std::uint32_t kJsThreadsMagic = 0x6a736b73;  // "skjs"
constexpr std::uint32_t kJsThreadsVersion = 2;

// The signal that asks (sockfd's own, like the nudge's SIGRTMAX: signal() refuses it).
inline int JsThreadProbeSignal() { return SIGRTMAX - 1; }

}  // namespace sockfd
