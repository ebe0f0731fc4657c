// Readiness watchers (one uv_poll_t per fd) on the event loop of each Node
// environment; see async_poll.cc. Declared here so that the calls that end an
// fd (close, dup2 onto a watched fd) can release its watcher first.
#pragma once

#include <node_api.h>

namespace sockfd {

// Stops and closes the poll watcher of `fd` in this environment (libuv must
// forget the fd before close(2) releases the number) and rejects the waits
// pending on it with EBADF. Does nothing when the fd is not watched.
void ReleaseWatcherBeforeClose(napi_env env, int fd);

}  // namespace sockfd
