// Parking the V8 platform's worker threads around fork(2) (native/fork.cc
// explains why): a blocking task is posted to every worker of Node's platform;
// once all are parked in it (waiting on our own condition variable, not V8's)
// the core forks, and the parent releases them. Node's platform is reachable
// only through node.h, whose layout changes with every Node major: hence this
// per-ABI addon. The core finds the table of fork_parking.h through the C
// symbol sockfd_fork_parking_v1 of this library, once Node loaded it.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>

#include "fork_parking.h"
#include "node_addon.h"

namespace sockfd_node {
namespace {

struct ParkingLot {
  std::mutex mutex;  // guards parked and released
  std::condition_variable changed;
  int parked = 0;
  bool released = false;
};

class ParkTask : public v8::Task {
 public:
  explicit ParkTask(std::shared_ptr<ParkingLot> lot) : lot_(std::move(lot)) {}
  void Run() override {
    std::unique_lock<std::mutex> lock(lot_->mutex);
    if (lot_->released) return;  // a late task (see Park) has nothing to do
    ++lot_->parked;
    lot_->changed.notify_all();
    lot_->changed.wait(lock, [&] { return lot_->released; });
  }

 private:
  std::shared_ptr<ParkingLot> lot_;
};

// The lot of the fork in progress. Touched only by the main thread, inside one
// native fork() call (the workers hold their own shared_ptr to it).
std::shared_ptr<ParkingLot> current;

void Release() noexcept {
  if (!current) return;
  {
    std::lock_guard<std::mutex> lock(current->mutex);
    current->released = true;
  }
  current->changed.notify_all();
  current.reset();
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

// Posts one blocking task per worker and waits until all but one run it.
// Node's NumberOfWorkerThreads() also counts its delayed-task scheduler
// thread, which runs no tasks: so one task more is posted than can park; it
// runs after the release and returns at once.
sockfd::ParkResult Park(int timeoutMs) noexcept {
  v8::Platform* platform = CurrentPlatform();
  if (platform == nullptr) return sockfd::ParkResult::kNoPlatform;
  Release();  // nothing may be left from an earlier call
  try {
    current = std::make_shared<ParkingLot>();
    int posted = platform->NumberOfWorkerThreads();
    int expected = posted > 1 ? posted - 1 : posted;
    for (int i = 0; i < posted; ++i) platform->CallOnWorkerThread(std::make_unique<ParkTask>(current));
    std::unique_lock<std::mutex> lock(current->mutex);
    bool parked = current->changed.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                                            [&] { return current->parked >= expected; });
    lock.unlock();
    if (parked) return sockfd::ParkResult::kParked;
  } catch (...) {  // an allocation failed: let go of whatever was posted
  }
  Release();
  return sockfd::ParkResult::kBusy;
}

const sockfd::ForkParking table = {
    sockfd::kForkParkingMagic, sockfd::kForkParkingVersion, Park, Release, Abandon,
};

}  // namespace
}  // namespace sockfd_node

extern "C" __attribute__((visibility("default"))) const sockfd::ForkParking* sockfd_fork_parking_v1() {
  return &sockfd_node::table;
}
