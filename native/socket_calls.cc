// Socket life cycle: socket, socketpair, bind, listen, accept, accept4,
// connect, shutdown, getsockname, getpeername. One system call per call; the
// async calls' attempts (tryAccept, tryConnect, connectResult) beside them.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain = static_cast<int>(ArgInt(info, 0, "domain", 0, INT32_MAX));
  int type = static_cast<int>(ArgInt(info, 1, "type", 0, INT32_MAX));
  int protocol = static_cast<int>(ArgIntOr(info, 2, "protocol", 0, INT32_MAX, 0));
  int fd = Checked(info.Env(), "socket", [&] { return ::socket(domain, type, protocol); });
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int domain = static_cast<int>(ArgInt(info, 0, "domain", 0, INT32_MAX));
  int type = static_cast<int>(ArgInt(info, 1, "type", 0, INT32_MAX));
  int protocol = static_cast<int>(ArgIntOr(info, 2, "protocol", 0, INT32_MAX, 0));
  int fds[2];
  Checked(info.Env(), "socketpair", [&] { return ::socketpair(domain, type, protocol, fds); });
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  SockAddr address = ArgSockAddr(info, 1);
  Checked(info.Env(), "bind", [&] { return ::bind(fd, address.get(), address.length); });
  return info.Env().Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int backlog = static_cast<int>(ArgIntOr(info, 1, "backlog", INT32_MIN, INT32_MAX, SOMAXCONN));
  Checked(info.Env(), "listen", [&] { return ::listen(fd, backlog); });
  return info.Env().Undefined();
}

// { fd, address } of an accepted connection. Should building it throw (a
// Worker terminating, no memory), the new fd is closed: nobody could see it.
Napi::Value Accepted(Napi::Env env, int client, const SockAddr& peer) {
  try {
    Napi::Object result = Napi::Object::New(env);
    result.Set("fd", client);
    result.Set("address", FromSockAddr(env, peer.storage, peer.length));
    return result;
  } catch (...) {
    ::close(client);
    throw;
  }
}

Napi::Value AcceptWith(const Napi::CallbackInfo& info, const char* syscall, int flags) {
  int fd = ArgFd(info, 0);
  SockAddr peer;
  int client = Blocking(info.Env(), syscall, {fd}, [&] {
    peer.length = sizeof peer.storage;
    return ::accept4(fd, peer.get(), &peer.length, flags);
  });
  return Accepted(info.Env(), client, peer);
}

Napi::Value Accept(const Napi::CallbackInfo& info) { return AcceptWith(info, "accept", 0); }

Napi::Value Accept4(const Napi::CallbackInfo& info) {
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT32_MAX, 0));
  return AcceptWith(info, "accept4", flags);
}

// acceptPeer(fd, flags, peer) -> fd | { fd, address }: accept (accept4 when
// flags is not undefined) for lib/posix.ts. An AF_INET peer's sockaddr_in is
// copied into `peer` (at least 16 bytes) and only the fd returned: JS builds
// the address object from those bytes far cheaper than N-API can (one
// napi_set_named_property is ~1.9k instructions). Any other family comes back
// as accept's { fd, address }. The pointer is taken after the call, when no
// JS (signal handlers) can run any more; should that fail, the fd is closed.
Napi::Value AcceptPeer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  bool withFlags = !IsMissing(info, 1);
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT32_MAX, 0));
  Bytes out = ArgBytes(info, 2, "peer", StringPolicy::Refuse, 3);
  if (out.length < sizeof(sockaddr_in)) ThrowRangeError(env, "peer must hold at least " + std::to_string(sizeof(sockaddr_in)) + " bytes");
  const char* syscall = withFlags ? "accept4" : "accept";
  SockAddr peer;
  int client = Blocking(env, syscall, {fd}, [&] {
    peer.length = sizeof peer.storage;
    return ::accept4(fd, peer.get(), &peer.length, flags);
  });
  if (peer.length != sizeof(sockaddr_in) || peer.storage.ss_family != AF_INET) return Accepted(env, client, peer);
  try {
    std::memcpy(out.Acquire(syscall), &peer.storage, sizeof(sockaddr_in));
  } catch (...) {
    ::close(client);
    throw;
  }
  return Napi::Number::New(env, client);
}

// How a call starts (as io.cc's). Fresh: the system call is made first.
// AfterInterruption: its first attempt, a V8 fast call of lib/fast-socket.ts
// (which may not run JS), already failed with EINTR; the call goes on exactly
// as after an EINTR here: the signal handlers run, the fd is checked, the call
// resumes. No JS ran between that attempt and this call, so the arguments
// validate as they did for it.
enum class Start { Fresh, AfterInterruption };

// acceptFd(fd, flags?) -> the new fd alone: accept(fd, NULL, NULL) as C
// servers call it (accept4 when flags are given). No address object is built.
template <Start start>
Napi::Value AcceptFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  bool withFlags = !IsMissing(info, 1);
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT32_MAX, 0));
  const char* syscall = withFlags ? "accept4" : "accept";
  if (start == Start::AfterInterruption) HandleInterruption(info.Env(), syscall, {fd});
  int client = Blocking(info.Env(), syscall, {fd}, [&] { return ::accept4(fd, nullptr, nullptr, flags); });
  return Napi::Number::New(info.Env(), client);
}

// connect(2) cannot simply be restarted after EINTR: the handshake goes on in
// the kernel. So after running the signal handlers we wait for writability
// and read SO_ERROR, which is what a restarted connect would have reported.
Napi::Value ConnectAfterInterruption(Napi::Env env, int fd) {
  HandleInterruption(env, "connect", {fd});
  pollfd entry{fd, POLLOUT, 0};
  Blocking(env, "connect", {fd}, [&] { return ::poll(&entry, 1, -1); });
  int soError = 0;
  socklen_t length = sizeof soError;
  Checked(env, "connect", [&] { return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length); });
  if (soError != 0) ThrowErrno(env, "connect", soError);
  return env.Undefined();
}

Napi::Value ConnectTo(Napi::Env env, int fd, const SockAddr& address) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0) return env.Undefined();
  int err = errno;
  if (err != EINTR) ThrowErrno(env, "connect", err);
  return ConnectAfterInterruption(env, fd);
}

// connectInterrupted(fd): a fast connect (lib/fast-socket.ts) failed with
// EINTR; the handshake goes on as after ConnectTo's EINTR.
Napi::Value ConnectInterrupted(const Napi::CallbackInfo& info) { return ConnectAfterInterruption(info.Env(), ArgFd(info, 0)); }

// connect(fd, address, family?): `family` is address.family when lib/posix.ts
// already read it (not read again).
Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  if (info.Length() < 2) ThrowTypeError(info.Env(), "missing argument: address");
  // The address's getters may run JS: before the call.
  SockAddr address = ToSockAddr(info.Env(), info[1], "address", info.Length() > 2 ? static_cast<napi_value>(info[2]) : nullptr);
  return ConnectTo(info.Env(), fd, address);
}

// connectInet(fd, port, address): connect() to { family: 'AF_INET', port,
// address } whose fields lib/posix.ts read (JS reads them far cheaper than
// N-API can); only primitives reach native code, validated as the object's.
Napi::Value ConnectInet(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  SockAddr address;
  InetFromFields(info.Env(), info[1], info[2], "address", address);  // a missing argument is undefined
  return ConnectTo(info.Env(), fd, address);
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int how = static_cast<int>(ArgInt(info, 1, "how", 0, 2));
  Checked(info.Env(), "shutdown", [&] { return ::shutdown(fd, how); });
  return info.Env().Undefined();
}

template <int (*Call)(int, sockaddr*, socklen_t*)>
Napi::Value NameOf(const Napi::CallbackInfo& info, const char* syscall) {
  int fd = ArgFd(info, 0);
  SockAddr address;
  address.length = sizeof address.storage;
  Checked(info.Env(), syscall, [&] { return Call(fd, address.get(), &address.length); });
  return FromSockAddr(info.Env(), address.storage, address.length);
}

Napi::Value GetSockName(const Napi::CallbackInfo& info) { return NameOf<::getsockname>(info, "getsockname"); }
Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return NameOf<::getpeername>(info, "getpeername"); }

// ---- the attempts of the async calls (lib/async.ts) -------------------------------

// tryAccept(fd, flags, peer?) -> { fd, address } | fd | -EAGAIN. A connection
// reset while it waited in the queue (ECONNABORTED) is skipped: the next one
// is tried. With `peer` (at least 16 bytes), an AF_INET peer's sockaddr_in is
// copied there and only the fd returned, as acceptPeer does for accept: JS
// (lib/async.ts) builds the address object far cheaper than N-API can. The
// pointer is taken after the call, when no JS (signal handlers) can run any
// more; should that fail, the fd is closed.
Napi::Value TryAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT32_MAX, 0));
  bool withPeer = !IsMissing(info, 2);
  Bytes out;
  if (withPeer) {
    out = ArgBytes(info, 2, "peer", StringPolicy::Refuse, 3);
    if (out.length < sizeof(sockaddr_in)) ThrowRangeError(env, "peer must hold at least " + std::to_string(sizeof(sockaddr_in)) + " bytes");
  }
  MakeNonBlocking(env, fd, "accept4");
  SockAddr peer;
  int client;
  for (;;) {
    client = Attempt(env, fd, "accept4", [&] {
      peer.length = sizeof peer.storage;
      int accepted = ::accept4(fd, peer.get(), &peer.length, flags);
      return accepted == -1 && errno == ECONNABORTED ? -2 : accepted;
    });
    if (client != -2) break;
  }
  if (client < 0) return Napi::Number::New(env, client);
  if (!withPeer || peer.length != sizeof(sockaddr_in) || peer.storage.ss_family != AF_INET) return Accepted(env, client, peer);
  try {
    std::memcpy(out.Acquire("accept4"), &peer.storage, sizeof(sockaddr_in));
  } catch (...) {
    ::close(client);
    throw;
  }
  return Napi::Number::New(env, client);
}

// tryConnect(fd, address) -> 0 | -EINPROGRESS. The handshake goes on in the
// kernel; writability then SO_ERROR (connectResult) tell how it ended.
Napi::Value TryConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  SockAddr address = ArgSockAddr(info, 1);
  MakeNonBlocking(env, fd, "connect");
  if (::connect(fd, address.get(), address.length) == 0) return Napi::Number::New(env, 0);
  int err = errno;
  // EINTR on a non-blocking connect: the handshake continues, as for EINPROGRESS.
  if (err == EINPROGRESS || err == EINTR || err == EALREADY) return Napi::Number::New(env, -EINPROGRESS);
  ThrowErrno(env, "connect", err);
}

// connectResult(fd): after writability, throws what connect() would have
// reported (ECONNREFUSED, ETIMEDOUT, ...), read from SO_ERROR.
Napi::Value ConnectResult(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int soError = 0;
  socklen_t length = sizeof soError;
  Checked(env, "getsockopt", [&] { return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length); });
  if (soError != 0) ThrowErrno(env, "connect", soError);
  return env.Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("accept4", Napi::Function::New(env, Accept4, "accept4"));
  exports.Set("acceptFd", Napi::Function::New(env, AcceptFd<Start::Fresh>, "acceptFd"));
  // The same calls after their fast attempt failed with EINTR (lib/fast-socket.ts): internal.
  exports.Set("acceptFdInterrupted", Napi::Function::New(env, AcceptFd<Start::AfterInterruption>, "acceptFdInterrupted"));
  exports.Set("connectInterrupted", Napi::Function::New(env, ConnectInterrupted, "connectInterrupted"));
  exports.Set("acceptPeer", Napi::Function::New(env, AcceptPeer, "acceptPeer"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("connectInet", Napi::Function::New(env, ConnectInet, "connectInet"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("getsockname", Napi::Function::New(env, GetSockName, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName, "getpeername"));
  exports.Set("tryAccept", Napi::Function::New(env, TryAccept, "tryAccept"));
  exports.Set("tryConnect", Napi::Function::New(env, TryConnect, "tryConnect"));
  exports.Set("connectResult", Napi::Function::New(env, ConnectResult, "connectResult"));
}

}  // namespace
SOCKFD_REGISTER(socket_calls, Init);
}  // namespace sockfd
