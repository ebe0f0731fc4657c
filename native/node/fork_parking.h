// The contract between the per-ABI addon (native/node/fork_parking.cc, which
// can reach Node's V8 platform) and the N-API core's fork() (native/fork.cc,
// which cannot). lib/process.ts passes the core the path of the sockfd_node
// that Node loaded (after Node's own ABI check); the core looks the library up
// among the loaded ones (dlopen RTLD_NOLOAD: never loads anything) and calls
// its kForkParkingSymbol for this table. No pointer ever travels through JS.
// Plain C types only: both addons include this file, and only this one, from
// each other's side.
#pragma once

#include <cstdint>

namespace sockfd {

enum class ParkResult : int {
  kParked = 0,       // every worker thread waits in our task: fork now, then release() or abandon()
  kBusy = 1,         // they did not all become idle in time; nothing is parked any more
  kNoPlatform = 2,   // Node's platform is not reachable from this thread
};

struct ForkParking {
  std::uint32_t magic;    // kForkParkingMagic: the External really is this table
  std::uint32_t version;  // kForkParkingVersion: the layout below
  // Main thread only, inside the native fork() call. post() hands every
  // worker a blocking task and returns at once (false: Node's platform is
  // not reachable from this thread), so that the caller can do other work
  // while they wake; wait() then waits until they are all parked.
  bool (*post)() noexcept;
  ParkResult (*wait)(int timeoutMs) noexcept;
  // In the parent after fork(2) (or when it failed): lets the parked workers go
  // (one wakes the next: the caller wakes one thread, not all of them).
  void (*release)() noexcept;
  // In the child: the parked threads do not exist there; forget them without
  // touching their condition variable (glibc can block on one whose waiters vanished).
  void (*abandon)() noexcept;
};

// extern "C" const ForkParking* sockfd_fork_parking_v1(void) in sockfd_node.
constexpr const char* kForkParkingSymbol = "sockfd_fork_parking_v1";
constexpr std::uint32_t kForkParkingMagic = 0x70666b73;  // "skfp"
constexpr std::uint32_t kForkParkingVersion = 2;

}  // namespace sockfd
