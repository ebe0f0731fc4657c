// File descriptors as such: open, close, pipe, dup, dup2, fcntl, poll.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "async_poll.h"
#include "common.h"

namespace sockfd {
namespace {

// open(path, flags, mode = 0o666)
Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  if (path.find('\0') != std::string::npos) ThrowTypeError(info.Env(), "path must not contain NUL");
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", INT32_MIN, INT32_MAX, O_RDONLY));
  mode_t mode = static_cast<mode_t>(ArgIntOr(info, 2, "mode", 0, 07777, 0666));
  std::string syscall = "open(" + path + ")";  // perror("open(data.txt)") as in the tutorial
  int fd = Blocking(info.Env(), syscall.c_str(), [&] { return ::open(path.c_str(), flags, mode); });
  return Napi::Number::New(info.Env(), fd);
}

// close(fd). Never retried: on Linux the fd is released even when close
// reports EINTR, and a retry could close an fd another thread just opened.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  ReleaseWatcherBeforeClose(info.Env(), fd);  // libuv must forget the fd before its number is free
  if (::close(fd) == -1 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

// pipe2(flags = 0) -> [readFd, writeFd]; splice() needs a pipe on one side.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int flags = static_cast<int>(ArgIntOr(info, 0, "flags", 0, INT32_MAX, 0));
  int fds[2];
  Checked(info.Env(), "pipe", [&] { return ::pipe2(fds, flags); });
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  return Napi::Number::New(info.Env(), Checked(info.Env(), "dup", [&] { return ::dup(fd); }));
}

Napi::Value Dup2(const Napi::CallbackInfo& info) {
  int oldFd = ArgFd(info, 0, "oldfd");
  int newFd = ArgFd(info, 1, "newfd");
  if (newFd != oldFd) ReleaseWatcherBeforeClose(info.Env(), newFd);  // dup2 closes newfd
  return Napi::Number::New(info.Env(), Blocking(info.Env(), "dup2", {oldFd}, [&] { return ::dup2(oldFd, newFd); }));
}

// fcntl(fd, cmd, arg?) for the integer-argument commands.
Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int cmd = static_cast<int>(ArgInt(info, 1, "cmd", 0, INT32_MAX));
  switch (cmd) {
    case F_GETFD: case F_GETFL: case F_GETPIPE_SZ:
      return Napi::Number::New(info.Env(), Checked(info.Env(), "fcntl", [&] { return ::fcntl(fd, cmd); }));
    case F_SETFD: case F_SETFL: case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETPIPE_SZ: {
      int arg = static_cast<int>(ArgInt(info, 2, "arg", INT32_MIN, INT32_MAX));
      return Napi::Number::New(info.Env(), Checked(info.Env(), "fcntl", [&] { return ::fcntl(fd, cmd, arg); }));
    }
    default:
      ThrowRangeError(info.Env(), "fcntl: cmd " + std::to_string(cmd) +
                                      " is not supported (F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ)");
  }
}

// poll's nfds is bounded as the kernel bounds it (EINVAL above RLIMIT_NOFILE),
// and by a fixed cap, before anything is allocated.
constexpr uint64_t kMaxPollEntries = 1u << 20;

uint64_t PollLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMaxPollEntries;
  return std::min<uint64_t>(limit.rlim_cur, kMaxPollEntries);
}

// poll(entries: { fd, events }[], timeoutMs = -1) -> ready count; sets entry.revents.
// After EINTR the handlers run and the wait resumes with the time that is left.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) ThrowTypeError(env, "fds must be an array of { fd, events }");
  Napi::Array array = info[0].As<Napi::Array>();
  int timeout = static_cast<int>(ArgIntOr(info, 1, "timeout", -1, INT32_MAX, -1));
  uint32_t count = array.Length();
  CheckCount(env, "poll: fds", count, PollLimit());
  std::vector<pollfd> entries(count);
  std::vector<Napi::Object> objects;
  objects.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value item = array.Get(i);
    std::string name = "fds[" + std::to_string(i) + "]";
    if (!item.IsObject()) ThrowTypeError(env, name + " must be { fd, events }");
    Napi::Object object = item.As<Napi::Object>();
    // A negative fd is allowed, as in C: poll ignores the entry.
    entries[i].fd = static_cast<int>(RequiredFieldInt(env, object, name.c_str(), "fd", INT32_MIN, INT32_MAX));
    entries[i].events = static_cast<short>(RequiredFieldInt(env, object, name.c_str(), "events", 0, 0xFFFF));
    objects.push_back(object);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout < 0 ? 0 : timeout);
  int ready;
  for (;;) {
    ready = ::poll(entries.data(), count, timeout);
    if (ready != -1) break;
    if (errno != EINTR) ThrowErrno(env, "poll", errno);
    HandleInterruption(env, "poll");  // a closed fd is C's POLLNVAL: nothing to check
    if (timeout > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      timeout = left > 0 ? static_cast<int>(left) : 0;
    }
  }
  // Setters on the entries may run JS now: nothing native is held any more.
  for (uint32_t i = 0; i < count; ++i) objects[i].Set("revents", entries[i].revents);
  return Napi::Number::New(env, ready);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("dup2", Napi::Function::New(env, Dup2, "dup2"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("poll", Napi::Function::New(env, Poll, "poll"));
}

}  // namespace
SOCKFD_REGISTER(fd, Init);
}  // namespace sockfd
