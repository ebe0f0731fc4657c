// Inside sockfd_node only (not part of the contract with the core): the
// thread ids of the platform workers parked by the fork in progress
// (fork_parking.cc), which the JS-thread census (js_threads.cc) then knows
// to be V8 platform workers, threads that never run JavaScript.
#pragma once

#include <sys/types.h>

namespace sockfd_node {

// Copies up to `capacity` ids of the threads parked now into `tids`; returns
// how many. 0 when nothing is parked. Main thread only.
int ParkedThreadIds(pid_t* tids, int capacity) noexcept;

}  // namespace sockfd_node
