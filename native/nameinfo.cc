// Address to name: getnameinfo (NI_* flags) and gethostbyaddr, the C
// library's own lookups (/etc/hosts, DNS, /etc/services), blocking as in C.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <vector>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

// An EAI_* failure: `getnameinfo: Name or service not known`, code 'EAI_NONAME'.
[[noreturn]] void ThrowGai(Napi::Env env, const char* syscall, int rc) {
  if (rc == EAI_SYSTEM) ThrowErrno(env, syscall, errno);
  const char* code = "EAI_UNKNOWN";
  switch (rc) {
#define N(x) case x: code = #x; break;
    N(EAI_AGAIN) N(EAI_BADFLAGS) N(EAI_FAIL) N(EAI_FAMILY) N(EAI_MEMORY) N(EAI_NONAME) N(EAI_OVERFLOW)
#undef N
  }
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + gai_strerror(rc));
  error.Value().Set("code", code);
  error.Value().Set("errno", rc);
  error.Value().Set("syscall", syscall);
  throw error;
}

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
  Napi::Object host = Napi::Object::New(env);
  host.Set("h_name", entry.h_name ? entry.h_name : "");
  Napi::Array aliases = Napi::Array::New(env);
  for (uint32_t i = 0; entry.h_aliases && entry.h_aliases[i]; ++i) aliases.Set(i, entry.h_aliases[i]);
  host.Set("h_aliases", aliases);
  host.Set("h_addrtype", entry.h_addrtype);
  host.Set("h_length", entry.h_length);
  Napi::Array addresses = Napi::Array::New(env);
  char address[INET6_ADDRSTRLEN];
  for (uint32_t i = 0; entry.h_addr_list && entry.h_addr_list[i]; ++i) {
    inet_ntop(entry.h_addrtype, entry.h_addr_list[i], address, sizeof address);
    addresses.Set(i, address);
  }
  host.Set("h_addr_list", addresses);
  return host;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getnameinfo", Napi::Function::New(env, GetNameInfo, "getnameinfo"));
  exports.Set("gethostbyaddr", Napi::Function::New(env, GetHostByAddr, "gethostbyaddr"));
  Napi::Object constants = ConstantsObject(env, exports);
#define C(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)))
  C(NI_NUMERICHOST); C(NI_NUMERICSERV); C(NI_NOFQDN); C(NI_NAMEREQD); C(NI_DGRAM); C(NI_MAXHOST); C(NI_MAXSERV);
#undef C
}

}  // namespace
SOCKFD_REGISTER(nameinfo, Init);
}  // namespace sockfd
