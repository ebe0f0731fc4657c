// Readiness watchers (one uv_poll_t per fd) on the event loop of each Node
// environment; see async_poll.cc. Declared here so that the calls that end an
// fd (close, dup2 onto a watched fd) can release its watcher first.
#pragma once

#include <node_api.h>

#include <cstdint>

namespace sockfd {

// Stops and closes the poll watcher of `fd` in this environment (libuv must
// forget the fd before close(2) releases the number) and rejects the waits
// pending on it with EBADF. Does nothing when the fd is not watched.
// Also moves the fd's generation on (FdGeneration), so that an async call
// that resumes later sees the fd is not the one it started on.
void ReleaseWatcherBeforeClose(napi_env env, int fd);

// How many times `fd` was closed (or handed over) through sockfd, in any
// thread of the process. A call that records it before running JS (a wait, a
// signal handler) and finds another value afterwards must not touch the
// number: it may be another socket now.
uint32_t FdGeneration(int fd);

// In a forked child, right after uv_loop_fork: closes every poll handle of
// this thread (the child's only one) and drops their waits unsettled, so that
// the parent's pending calls neither run nor keep the child's loop alive.
void ForgetWatchersAfterFork();

}  // namespace sockfd
