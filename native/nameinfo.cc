// Address to name: getnameinfo (NI_* flags) and gethostbyaddr, the C
// library's own lookups (/etc/hosts, DNS, /etc/services), blocking as in C.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <vector>

#include "common.h"
#include "name_lookup.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

// getnameinfo(address, flags?) -> { host, service }
Napi::Value GetNameInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SockAddr address = ArgSockAddr(info, 0);
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT32_MAX, 0));
  char host[NI_MAXHOST], service[NI_MAXSERV];
  int rc = getnameinfo(address.get(), address.length, host, sizeof host, service, sizeof service, flags);
  if (rc != 0) ThrowGai(env, "getnameinfo", rc);
  Napi::Object result = Napi::Object::New(env);
  result.Set("host", host);
  result.Set("service", service);
  return result;
}

// gethostbyaddr(address, af = AF_INET) -> hostent | null, the address as text.
Napi::Value GetHostByAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text = ArgString(info, 0, "address");
  int af = static_cast<int>(ArgIntOr(info, 1, "af", 0, INT32_MAX, AF_INET));
  if (af != AF_INET && af != AF_INET6) ThrowErrno(env, "gethostbyaddr", EAFNOSUPPORT);
  unsigned char raw[sizeof(in6_addr)];
  if (text.find('\0') != std::string::npos || inet_pton(af, text.c_str(), raw) != 1)
    ThrowTypeError(env, "gethostbyaddr: address is not an IPv" + std::string(af == AF_INET ? "4" : "6") + " address: '" + text + "'");
  hostent entry{};
  hostent* result = nullptr;
  int herr = 0;
  std::vector<char> scratch(1024);
  for (int attempt = 0; attempt < 8; ++attempt) {  // at most 64 MiB of scratch
    int rc = gethostbyaddr_r(raw, af == AF_INET ? 4 : 16, af, &entry, scratch.data(), scratch.size(), &result, &herr);
    if (rc != ERANGE) break;
    scratch.resize(scratch.size() * 4);
  }
  if (result == nullptr) return env.Null();
  return FromHostEnt(env, entry);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getnameinfo", Napi::Function::New(env, GetNameInfo, "getnameinfo"));
  exports.Set("gethostbyaddr", Napi::Function::New(env, GetHostByAddr, "gethostbyaddr"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(NI_NUMERICHOST); SOCKFD_CONSTANT(NI_NUMERICSERV); SOCKFD_CONSTANT(NI_NOFQDN); SOCKFD_CONSTANT(NI_NAMEREQD); SOCKFD_CONSTANT(NI_DGRAM); SOCKFD_CONSTANT(NI_MAXHOST); SOCKFD_CONSTANT(NI_MAXSERV);
}

}  // namespace
SOCKFD_REGISTER(nameinfo, Init);
}  // namespace sockfd
