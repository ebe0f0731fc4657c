// Data transfer: send, recv, sendto, recvfrom, read, write, writev,
// sendfile, splice, and the non-blocking attempts of the async calls beside
// them (tryRecv, trySend, tryRecvfrom, trySendto). recv/read fill the caller's buffer and return the byte
// count (0 at EOF), so a hot loop allocates nothing.
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <utility>
#include <vector>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

// How a call starts. Fresh: the system call is made first. AfterInterruption:
// its first attempt - a V8 fast call of lib/fast-io.ts, which may not run JS
// - already failed with EINTR, so the call goes on exactly as Blocking() does
// after an EINTR: the signal handlers run, the fd is checked, the buffer is
// acquired again (a detached or shrunk one is an Error), the call resumes.
// No JS ran between that attempt and this call, so the arguments validate as
// they did for it.
enum class Start { Fresh, AfterInterruption };

template <Start start, typename Call>
Napi::Value Transfer(Napi::Env env, const char* syscall, int fd, Call&& call) {
  if (start == Start::AfterInterruption) HandleInterruption(env, syscall, {fd});
  return Count(env, Blocking(env, syscall, {fd}, std::forward<Call>(call)));
}

// send(fd, data, flags?, offset?, length?)
template <Start start>
Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data", StringPolicy::AcceptUtf8, 3);
  int flags = ArgFlags(info, 2);
  return Transfer<start>(info.Env(), "send", fd, [&] { return ::send(fd, data.Acquire("send"), data.length, flags); });
}

// recv(fd, buffer, flags?, offset?, length?)
template <Start start>
Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes buffer = ArgReceiveBuffer(info, 1, 3, "recv");
  int flags = ArgFlags(info, 2);
  return Transfer<start>(info.Env(), "recv", fd, [&] { return ::recv(fd, buffer.Acquire("recv"), buffer.length, flags); });
}

// write(fd, data, offset?, length?)
template <Start start>
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data", StringPolicy::AcceptUtf8, 2);
  return Transfer<start>(info.Env(), "write", fd, [&] { return ::write(fd, data.Acquire("write"), data.length); });
}

// read(fd, buffer, offset?, length?)
template <Start start>
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes buffer = ArgReceiveBuffer(info, 1, 2, "read");
  return Transfer<start>(info.Env(), "read", fd, [&] { return ::read(fd, buffer.Acquire("read"), buffer.length); });
}

// sendto(fd, data, flags, address, offset?, length?)
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data", StringPolicy::AcceptUtf8, 4);
  int flags = ArgFlags(info, 2);
  SockAddr address = ArgSockAddr(info, 3);  // its getters may run JS: before the pointer
  return Count(info.Env(), Blocking(info.Env(), "sendto", {fd}, [&] {
    return ::sendto(fd, data.Acquire("sendto"), data.length, flags, address.get(), address.length);
  }));
}

// recvfrom(fd, buffer, flags?, offset?, length?) -> { bytes, address }
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes buffer = ArgReceiveBuffer(info, 1, 3, "recvfrom");
  int flags = ArgFlags(info, 2);
  SockAddr peer;
  ssize_t n = Blocking(info.Env(), "recvfrom", {fd}, [&] {
    peer.length = sizeof peer.storage;
    return ::recvfrom(fd, buffer.Acquire("recvfrom"), buffer.length, flags, peer.get(), &peer.length);
  });
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("bytes", Count(info.Env(), n));
  result.Set("address", FromSockAddr(info.Env(), peer.storage, peer.length));
  return result;
}

// writev(fd, chunks[]) -> bytes written
Napi::Value Writev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2 || !info[1].IsArray()) ThrowTypeError(env, "chunks must be an array of buffers or strings");
  Napi::Array array = info[1].As<Napi::Array>();
  uint32_t count = array.Length();  // read once: a proxy's length trap runs here
  if (count > IOV_MAX) ThrowRangeError(env, "writev takes at most " + std::to_string(IOV_MAX) + " chunks");
  // Every element first (each Get may run a getter that detaches an earlier
  // chunk), then every pointer, inside the call.
  std::vector<Bytes> chunks;
  chunks.reserve(count);
  for (uint32_t i = 0; i < count; ++i) chunks.push_back(ValueBytes(env, array.Get(i), "chunk", StringPolicy::AcceptUtf8));
  std::vector<iovec> vectors(count);
  return Count(env, Blocking(env, "writev", {fd}, [&] {
    for (uint32_t i = 0; i < count; ++i) vectors[i] = {chunks[i].Acquire("writev"), chunks[i].length};
    return ::writev(fd, vectors.data(), static_cast<int>(count));
  }));
}

// Optional file offset: null/undefined means "use and move the fd's own offset".
bool ArgOffset(const Napi::CallbackInfo& info, size_t index, const char* name, off_t& offset) {
  if (IsMissing(info, index) || info[index].IsNull()) return false;
  offset = static_cast<off_t>(ArgInt(info, index, name, 0, INT64_MAX));
  return true;
}

// sendfile(outFd, inFd, offset | null, count) -> bytes sent
Napi::Value SendFile(const Napi::CallbackInfo& info) {
  int outFd = ArgFd(info, 0, "outFd");
  int inFd = ArgFd(info, 1, "inFd");
  off_t offset = 0;
  bool hasOffset = ArgOffset(info, 2, "offset", offset);
  size_t count = static_cast<size_t>(ArgInt(info, 3, "count", 0, INT64_MAX));
  return Count(info.Env(), Blocking(info.Env(), "sendfile", {outFd, inFd}, [&] {
    return ::sendfile(outFd, inFd, hasOffset ? &offset : nullptr, count);
  }));
}

// splice(inFd, inOffset | null, outFd, outOffset | null, length, flags?) -> bytes moved
Napi::Value Splice(const Napi::CallbackInfo& info) {
  int inFd = ArgFd(info, 0, "inFd");
  off_t inOffset = 0, outOffset = 0;
  bool hasIn = ArgOffset(info, 1, "inOffset", inOffset);
  int outFd = ArgFd(info, 2, "outFd");
  bool hasOut = ArgOffset(info, 3, "outOffset", outOffset);
  size_t length = static_cast<size_t>(ArgInt(info, 4, "length", 0, INT64_MAX));
  unsigned flags = static_cast<unsigned>(ArgIntOr(info, 5, "flags", 0, UINT32_MAX, 0));
  return Count(info.Env(), Blocking(info.Env(), "splice", {inFd, outFd}, [&] {
    return ::splice(inFd, hasIn ? &inOffset : nullptr, outFd, hasOut ? &outOffset : nullptr, length, flags);
  }));
}

// ---- the attempts of the async calls (lib/async.ts): one non-blocking call, -EAGAIN when it would block

// tryRecv(fd, buffer, flags?, offset?, length?) -> bytes | -EAGAIN
Napi::Value TryRecv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes buffer = ArgReceiveBuffer(info, 1, 3, "recv");
  int flags = ArgFlags(info, 2) | MSG_DONTWAIT;
  return Count(info.Env(), Attempt(info.Env(), fd, "recv", [&] { return ::recv(fd, buffer.Acquire("recv"), buffer.length, flags); }));
}

// trySend(fd, data, flags?, offset?, length?) -> bytes | -EAGAIN. MSG_NOSIGNAL:
// a closed peer is an EPIPE error, never a signal.
Napi::Value TrySend(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data", StringPolicy::AcceptUtf8, 3);
  int flags = ArgFlags(info, 2) | MSG_DONTWAIT | MSG_NOSIGNAL;
  return Count(info.Env(), Attempt(info.Env(), fd, "send", [&] { return ::send(fd, data.Acquire("send"), data.length, flags); }));
}

// tryRecvfrom(fd, buffer, flags?, offset?, length?) -> { bytes, address } | -EAGAIN
Napi::Value TryRecvFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Bytes buffer = ArgReceiveBuffer(info, 1, 3, "recvfrom");
  int flags = ArgFlags(info, 2) | MSG_DONTWAIT;
  SockAddr peer;
  ssize_t n = Attempt(env, fd, "recvfrom", [&] {
    peer.length = sizeof peer.storage;
    return ::recvfrom(fd, buffer.Acquire("recvfrom"), buffer.length, flags, peer.get(), &peer.length);
  });
  if (n < 0) return Count(env, n);
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Count(env, n));
  result.Set("address", FromSockAddr(env, peer.storage, peer.length));
  return result;
}

// trySendto(fd, data, flags, address, offset?, length?) -> bytes | -EAGAIN
Napi::Value TrySendTo(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data", StringPolicy::AcceptUtf8, 4);
  int flags = ArgFlags(info, 2) | MSG_DONTWAIT | MSG_NOSIGNAL;
  SockAddr address = ArgSockAddr(info, 3);
  return Count(info.Env(), Attempt(info.Env(), fd, "sendto", [&] {
    return ::sendto(fd, data.Acquire("sendto"), data.length, flags, address.get(), address.length);
  }));
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("send", Napi::Function::New(env, Send<Start::Fresh>, "send"));
  exports.Set("recv", Napi::Function::New(env, Recv<Start::Fresh>, "recv"));
  exports.Set("write", Napi::Function::New(env, Write<Start::Fresh>, "write"));
  exports.Set("read", Napi::Function::New(env, Read<Start::Fresh>, "read"));
  // The same calls after their fast attempt failed with EINTR (lib/fast-io.ts): internal.
  exports.Set("sendInterrupted", Napi::Function::New(env, Send<Start::AfterInterruption>, "sendInterrupted"));
  exports.Set("recvInterrupted", Napi::Function::New(env, Recv<Start::AfterInterruption>, "recvInterrupted"));
  exports.Set("writeInterrupted", Napi::Function::New(env, Write<Start::AfterInterruption>, "writeInterrupted"));
  exports.Set("readInterrupted", Napi::Function::New(env, Read<Start::AfterInterruption>, "readInterrupted"));
  exports.Set("sendto", Napi::Function::New(env, SendTo, "sendto"));
  exports.Set("recvfrom", Napi::Function::New(env, RecvFrom, "recvfrom"));
  exports.Set("writev", Napi::Function::New(env, Writev, "writev"));
  exports.Set("sendfile", Napi::Function::New(env, SendFile, "sendfile"));
  exports.Set("splice", Napi::Function::New(env, Splice, "splice"));
  exports.Set("tryRecv", Napi::Function::New(env, TryRecv, "tryRecv"));
  exports.Set("trySend", Napi::Function::New(env, TrySend, "trySend"));
  exports.Set("tryRecvfrom", Napi::Function::New(env, TryRecvFrom, "tryRecvfrom"));
  exports.Set("trySendto", Napi::Function::New(env, TrySendTo, "trySendto"));
  Napi::Object constants = ConstantsObject(env, exports);
  constants.Set("SPLICE_F_MOVE", SPLICE_F_MOVE);
  constants.Set("SPLICE_F_NONBLOCK", SPLICE_F_NONBLOCK);
  constants.Set("SPLICE_F_MORE", SPLICE_F_MORE);
  constants.Set("IOV_MAX", IOV_MAX);
}

}  // namespace
SOCKFD_REGISTER(io, Init);
}  // namespace sockfd
