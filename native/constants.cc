// Constants compiled in from the system headers: the values are the
// preprocessor's, never typed by hand. Exported as `constants`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common.h"

namespace sockfd {
namespace {

#define C(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)))

void SocketConstants(Napi::Env env, Napi::Object constants) {
  C(AF_UNSPEC); C(AF_INET); C(AF_INET6); C(AF_UNIX); C(AF_LOCAL); C(AF_PACKET); C(AF_NETLINK);
  C(PF_UNSPEC); C(PF_INET); C(PF_INET6); C(PF_UNIX); C(PF_LOCAL); C(PF_PACKET); C(PF_IPX); C(PF_NETLINK);
  C(SOCK_STREAM); C(SOCK_DGRAM); C(SOCK_RAW); C(SOCK_SEQPACKET); C(SOCK_RDM);
  C(SOCK_NONBLOCK); C(SOCK_CLOEXEC);
  C(IPPROTO_IP); C(IPPROTO_IPV6); C(IPPROTO_TCP); C(IPPROTO_UDP); C(IPPROTO_ICMP); C(IPPROTO_ICMPV6); C(IPPROTO_RAW);
  C(SOL_SOCKET); C(SOL_TCP); C(SOL_UDP); C(SOL_IP); C(SOL_IPV6);
  C(SOMAXCONN);
  C(SO_DEBUG); C(SO_REUSEADDR); C(SO_REUSEPORT); C(SO_TYPE); C(SO_ERROR); C(SO_DONTROUTE);
  C(SO_BROADCAST); C(SO_SNDBUF); C(SO_RCVBUF); C(SO_SNDBUFFORCE); C(SO_RCVBUFFORCE);
  C(SO_KEEPALIVE); C(SO_OOBINLINE); C(SO_LINGER); C(SO_RCVLOWAT); C(SO_SNDLOWAT);
  C(SO_RCVTIMEO); C(SO_SNDTIMEO); C(SO_ACCEPTCONN); C(SO_PROTOCOL); C(SO_DOMAIN);
  C(SO_PRIORITY); C(SO_MARK); C(SO_BINDTODEVICE); C(SO_PEERCRED); C(SO_PASSCRED);
  C(SO_TIMESTAMP); C(SO_BUSY_POLL); C(SO_INCOMING_CPU); C(SO_ZEROCOPY);
  C(TCP_NODELAY); C(TCP_MAXSEG); C(TCP_CORK); C(TCP_KEEPIDLE); C(TCP_KEEPINTVL); C(TCP_KEEPCNT);
  C(TCP_SYNCNT); C(TCP_LINGER2); C(TCP_DEFER_ACCEPT); C(TCP_WINDOW_CLAMP); C(TCP_INFO);
  C(TCP_QUICKACK); C(TCP_CONGESTION); C(TCP_USER_TIMEOUT); C(TCP_FASTOPEN); C(TCP_NOTSENT_LOWAT);
  C(TCP_ESTABLISHED); C(TCP_SYN_SENT); C(TCP_SYN_RECV); C(TCP_FIN_WAIT1); C(TCP_FIN_WAIT2);
  C(TCP_TIME_WAIT); C(TCP_CLOSE); C(TCP_CLOSE_WAIT); C(TCP_LAST_ACK); C(TCP_LISTEN); C(TCP_CLOSING);
  C(IP_TOS); C(IP_TTL); C(IP_MULTICAST_TTL); C(IP_MULTICAST_LOOP); C(IP_ADD_MEMBERSHIP);
  C(IP_RECVERR); C(IP_MTU_DISCOVER); C(IP_FREEBIND); C(IP_TRANSPARENT);
  C(IPV6_V6ONLY); C(IPV6_UNICAST_HOPS); C(IPV6_MULTICAST_HOPS);
  C(MSG_OOB); C(MSG_PEEK); C(MSG_DONTROUTE); C(MSG_DONTWAIT); C(MSG_WAITALL); C(MSG_NOSIGNAL);
  C(MSG_MORE); C(MSG_TRUNC); C(MSG_CTRUNC); C(MSG_EOR); C(MSG_CONFIRM); C(MSG_ERRQUEUE); C(MSG_ZEROCOPY);
  C(SHUT_RD); C(SHUT_WR); C(SHUT_RDWR);
  constants.Set("INADDR_ANY", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_ANY))));
  constants.Set("INADDR_NONE", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_NONE))));
  constants.Set("INADDR_LOOPBACK", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_LOOPBACK))));
  constants.Set("INADDR_BROADCAST", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_BROADCAST))));
  C(INET_ADDRSTRLEN); C(INET6_ADDRSTRLEN);
}

void FileConstants(Napi::Env env, Napi::Object constants) {
  C(O_RDONLY); C(O_WRONLY); C(O_RDWR); C(O_CREAT); C(O_EXCL); C(O_TRUNC); C(O_APPEND);
  C(O_NONBLOCK); C(O_CLOEXEC); C(O_NOFOLLOW); C(O_DIRECTORY); C(O_SYNC); C(O_DSYNC);
  C(O_NOCTTY); C(O_TMPFILE); C(O_PATH); C(O_NOATIME);
  C(F_DUPFD); C(F_DUPFD_CLOEXEC); C(F_GETFD); C(F_SETFD); C(F_GETFL); C(F_SETFL);
  C(F_GETPIPE_SZ); C(F_SETPIPE_SZ); C(FD_CLOEXEC);
  C(POLLIN); C(POLLPRI); C(POLLOUT); C(POLLERR); C(POLLHUP); C(POLLNVAL); C(POLLRDHUP);
  C(POLLRDNORM); C(POLLWRNORM);
  C(STDIN_FILENO); C(STDOUT_FILENO); C(STDERR_FILENO);
}

// Every errno value the C library names, under its name (EADDRINUSE, ...).
void ErrnoConstants(Napi::Env env, Napi::Object constants) {
  for (int err = 1; err < 4096; ++err) {
    const char* name = strerrorname_np(err);
    if (name != nullptr && !constants.Has(name)) constants.Set(name, Napi::Number::New(env, err));
  }
}

#undef C

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = ConstantsObject(env, exports);
  SocketConstants(env, constants);
  FileConstants(env, constants);
  ErrnoConstants(env, constants);
}

}  // namespace
SOCKFD_REGISTER(constants, Init);
}  // namespace sockfd
