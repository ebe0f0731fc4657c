// Parking the V8 platform's worker threads around fork(2) (native/fork.cc
// explains why): a blocking task is posted to every worker of Node's platform;
// once all are parked in it (waiting on our own condition variable, not V8's)
// the core forks, and the parent releases them. Posting and waiting are two
// calls: the core reads /proc/self/maps and asks the other threads whether
// they run JavaScript while the workers wake up to park. Node's platform is reachable
// only through node.h, whose layout changes with every Node major: hence this
// per-ABI addon. The core finds the table of fork_parking.h through the C
// symbol sockfd_fork_parking_v1 of this library, once Node loaded it.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>

#include "../wipe_on_fork.h"
#include "fork_parking.h"
#include "node_addon.h"
#include "parked_threads.h"

namespace sockfd_node {
namespace {

constexpr int kMaxParked = 64;  // ids kept (the census only skips the threads it knows)

struct ParkingLot {
  std::mutex mutex;  // guards everything below
  std::condition_variable allParked;  // the main thread waits here for `parked == expected`
  std::condition_variable released;   // the parked workers wait here for `isReleased`
  int parked = 0;
  int expected = 0;
  int toPost = 0;  // tasks still to post (see ParkTask::Run)
  bool isReleased = false;
  pid_t tids[kMaxParked] = {};
  v8::Platform* platform = nullptr;  // Node's, which lives as long as the process
};

// The lots live in memory a forked child does not share (wipe_on_fork.h):
// the main thread writes the lot of a fork right after fork(2) (the
// release), and the parked workers before it; in memory shared with the
// child, each such page costs a page fault after every fork (a copy, while
// the child runs). A few slots, each for one lot and its shared_ptr control
// block (std::allocate_shared); when all are taken, the ordinary heap.
// Allocated on the main thread; freed by whichever thread drops the last
// reference (a worker, or the main thread): `taken` is a lock-free atomic.
// A child finds the pool zero (every slot free) and never uses a lot: it
// parks nothing (native/fork.cc), and what it inherited of a lot is zero
// bytes that none of its code reads.
struct LotPool {
  static constexpr std::size_t kSlot = 1024;
  static constexpr int kSlots = 8;
  std::atomic<unsigned> taken;  // bit i: slot i holds a lot
  alignas(64) unsigned char slots[kSlots][kSlot];
};
sockfd::WipeOnFork<LotPool> lotPool;

template <typename T>
struct LotAllocator {
  using value_type = T;
  LotAllocator() = default;
  template <typename U>
  LotAllocator(const LotAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    LotPool* pool = lotPool.Get();
    if (n * sizeof(T) <= LotPool::kSlot && alignof(T) <= 64) {
      unsigned taken = pool->taken.load();
      for (int i = 0; i < LotPool::kSlots; ++i) {
        unsigned bit = 1u << i;
        if ((taken & bit) == 0 && (pool->taken.fetch_or(bit) & bit) == 0) return reinterpret_cast<T*>(pool->slots[i]);
      }
    }
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* pointer, std::size_t) noexcept {
    LotPool* pool = lotPool.Peek();
    auto* bytes = reinterpret_cast<unsigned char*>(pointer);
    if (pool != nullptr && bytes >= pool->slots[0] && bytes < pool->slots[0] + sizeof pool->slots) {
      pool->taken.fetch_and(~(1u << ((bytes - pool->slots[0]) / LotPool::kSlot)));
      return;
    }
    ::operator delete(pointer);
  }
  template <typename U>
  bool operator==(const LotAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const LotAllocator<U>&) const noexcept { return false; }
};

class ParkTask : public v8::Task {
 public:
  explicit ParkTask(std::shared_ptr<ParkingLot> lot) : lot_(std::move(lot)) {}
  // Posts the next task, from whichever thread runs this (noexcept: nothing
  // may leave a V8 task). Failing, the chain stops, and Wait() times out.
  static void PostNext(const std::shared_ptr<ParkingLot>& lot) noexcept {
    try {
      lot->platform->CallOnWorkerThread(std::make_unique<ParkTask>(lot));
    } catch (...) {
    }
  }
  void Run() override {
    std::unique_lock<std::mutex> lock(lot_->mutex);
    if (lot_->isReleased) return;  // a late task (see Post) has nothing to do
    if (lot_->parked < kMaxParked) lot_->tids[lot_->parked] = static_cast<pid_t>(::syscall(SYS_gettid));
    // Only the last one wakes the main thread (each wake-up is a context switch for it).
    if (++lot_->parked == lot_->expected) lot_->allParked.notify_one();
    // The parking is passed on like the release: the main thread posts one
    // task, each parked worker posts the next, so the wake-ups happen off
    // the main thread's CPU (posted from there, each one preempted it).
    bool postNext = lot_->toPost > 0;
    if (postNext) --lot_->toPost;
    lock.unlock();
    if (postNext) PostNext(lot_);
    lock.lock();
    lot_->released.wait(lock, [&] { return lot_->isReleased; });
    lock.unlock();
    // Pass the release on: the thread that released the lot woke one worker,
    // each woken one wakes the next. Woken all at once, 4 workers on 2 vCPUs
    // preempted the releasing main thread inside its fork() call (0.1-7 ms);
    // so it wakes one, and the others are woken off its CPU.
    lot_->released.notify_one();
  }

 private:
  std::shared_ptr<ParkingLot> lot_;
};

// The lot of the last fork (the workers hold their own shared_ptr to it).
// Touched only by the main thread, inside a native fork() call. Kept after
// the release, until the next post(): written right after fork(2), this
// page too would cost the parent a fault (a copy).
std::shared_ptr<ParkingLot> current;

void Release() noexcept {
  if (!current) return;
  {
    std::lock_guard<std::mutex> lock(current->mutex);
    if (current->isReleased) return;  // released before (wait() gave up, or a second call)
    current->isReleased = true;
  }
  current->released.notify_one();  // the rest follow one by one (ParkTask::Run)
}

void Abandon() noexcept {
  // Leaked on purpose: never touched again in the child.
  if (current) new (std::nothrow) std::shared_ptr<ParkingLot>(std::move(current));
  current.reset();
}

v8::Platform* CurrentPlatform() {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return nullptr;
  node::Environment* environment = node::GetCurrentEnvironment(isolate->GetCurrentContext());
  return environment == nullptr ? nullptr : node::GetMultiIsolatePlatform(environment);
}

// Posts one blocking task per worker (the first here, the others from the
// workers, see ParkTask::Run). Node's NumberOfWorkerThreads() also counts
// its delayed-task scheduler thread, which runs no tasks: so one task more is
// posted than can park; it runs after the release and returns at once.
// false: no platform (nothing posted), or an allocation failed (whatever was
// posted is let go, and wait() then reports kBusy).
bool posted = false;  // main thread only: post() succeeded and wait() has not run

bool Post() noexcept {
  v8::Platform* platform = CurrentPlatform();
  if (platform == nullptr) return false;
  Release();  // nothing may be left from an earlier call
  current.reset();
  posted = false;
  try {
    auto lot = std::allocate_shared<ParkingLot>(LotAllocator<ParkingLot>());
    int count = platform->NumberOfWorkerThreads();
    lot->expected = count > 1 ? count - 1 : count;
    lot->toPost = count > 0 ? count - 1 : 0;
    lot->platform = platform;
    current = lot;
    if (count > 0) platform->CallOnWorkerThread(std::make_unique<ParkTask>(lot));
    posted = true;
  } catch (...) {  // an allocation failed: let go of whatever was posted
    Release();
  }
  return true;
}

// Waits until all but one of the posted tasks run (see Post).
sockfd::ParkResult Wait(int timeoutMs) noexcept {
  if (posted && current) {
    posted = false;
    std::unique_lock<std::mutex> lock(current->mutex);
    bool parked = current->allParked.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                                              [&] { return current->parked >= current->expected; });
    lock.unlock();
    if (parked) return sockfd::ParkResult::kParked;
  }
  Release();
  return sockfd::ParkResult::kBusy;
}

const sockfd::ForkParking table = {
    sockfd::kForkParkingMagic, sockfd::kForkParkingVersion, Post, Wait, Release, Abandon,
};

}  // namespace

int ParkedThreadIds(pid_t* tids, int capacity) noexcept {
  if (!current) return 0;
  std::lock_guard<std::mutex> lock(current->mutex);
  if (current->isReleased) return 0;
  int count = 0;
  for (int i = 0; i < current->parked && i < kMaxParked && count < capacity; ++i) tids[count++] = current->tids[i];
  return count;
}

}  // namespace sockfd_node

extern "C" __attribute__((visibility("default"))) const sockfd::ForkParking* sockfd_fork_parking_v1() {
  return &sockfd_node::table;
}
