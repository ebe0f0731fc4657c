// The native half of lib/async.ts (its event-loop keeper, the close hook and
// the fd generations); see async_poll.cc. Declared here so that the calls that
// end an fd (close, dup2 onto a watched fd) can release it first.
#pragma once

#include <node_api.h>

#include <cstdint>

namespace sockfd {

// Before close(2) of `fd` through sockfd: moves the fd's generation on
// (FdGeneration), so that an async call that resumes later sees the fd is not
// the one it started on, and - when lib/async.ts registered the fd in this
// environment - lets it take the fd out of its epoll set and reject the waits
// pending on it with EBADF. Runs lib/async.ts's own JS (no user code).
void ReleaseWatcherBeforeClose(napi_env env, int fd);

// How many times `fd` was closed (or handed over) through sockfd, in any
// thread of the process. A call that records it before running JS (a wait, a
// signal handler) and finds another value afterwards must not touch the
// number: it may be another socket now.
uint32_t FdGeneration(int fd);

// In a forked child, right after uv_loop_fork: forgets lib/async.ts's
// registrations of this thread (the child's only one) and lets the loop go,
// so that the parent's pending calls neither run nor keep the child alive.
void ForgetWatchersAfterFork();

}  // namespace sockfd
