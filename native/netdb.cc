// Byte order and address text: htons/htonl/ntohs/ntohl, inet_addr,
// inet_aton, inet_ntoa, inet_pton, inet_ntop, gethostbyname, gethostbyaddr,
// getaddrinfo, getnameinfo.
// The real C library functions, so results are this host's.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

Napi::Value Unsigned(Napi::Env env, uint32_t value) { return Napi::Number::New(env, static_cast<double>(value)); }

Napi::Value Htons(const Napi::CallbackInfo& info) {
  return Unsigned(info.Env(), htons(static_cast<uint16_t>(ArgInt(info, 0, "hostshort", 0, 0xFFFF))));
}
Napi::Value Ntohs(const Napi::CallbackInfo& info) {
  return Unsigned(info.Env(), ntohs(static_cast<uint16_t>(ArgInt(info, 0, "netshort", 0, 0xFFFF))));
}
Napi::Value Htonl(const Napi::CallbackInfo& info) {
  return Unsigned(info.Env(), htonl(static_cast<uint32_t>(ArgInt(info, 0, "hostlong", 0, 0xFFFFFFFF))));
}
Napi::Value Ntohl(const Napi::CallbackInfo& info) {
  return Unsigned(info.Env(), ntohl(static_cast<uint32_t>(ArgInt(info, 0, "netlong", 0, 0xFFFFFFFF))));
}

std::string ArgText(const Napi::CallbackInfo& info, size_t index, const char* name) {
  std::string text = ArgString(info, index, name);
  if (text.find('\0') != std::string::npos) ThrowTypeError(info.Env(), std::string(name) + " must not contain NUL");
  return text;
}

// inet_addr(cp) -> s_addr in network byte order; INADDR_NONE when cp is not an address.
Napi::Value InetAddr(const Napi::CallbackInfo& info) {
  return Unsigned(info.Env(), inet_addr(ArgText(info, 0, "cp").c_str()));
}

// inet_aton(cp) -> s_addr, or null where C returns 0.
Napi::Value InetAton(const Napi::CallbackInfo& info) {
  in_addr address{};
  if (inet_aton(ArgText(info, 0, "cp").c_str(), &address) == 0) return info.Env().Null();
  return Unsigned(info.Env(), address.s_addr);
}

// inet_ntoa(s_addr) -> dotted text.
Napi::Value InetNtoa(const Napi::CallbackInfo& info) {
  in_addr address{static_cast<in_addr_t>(ArgInt(info, 0, "in", 0, 0xFFFFFFFF))};
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address, text, sizeof text);  // inet_ntoa's static buffer is not thread-safe
  return Napi::String::New(info.Env(), text);
}

int ArgFamily(const Napi::CallbackInfo& info, const char* syscall) {
  int af = static_cast<int>(ArgInt(info, 0, "af", 0, INT32_MAX));
  if (af != AF_INET && af != AF_INET6) ThrowErrno(info.Env(), syscall, EAFNOSUPPORT);
  return af;
}

// inet_pton(af, src) -> Buffer of 4 or 16 bytes (network order), or null where C returns 0.
Napi::Value InetPton(const Napi::CallbackInfo& info) {
  int af = ArgFamily(info, "inet_pton");
  std::string text = ArgText(info, 1, "src");
  unsigned char out[sizeof(in6_addr)];
  if (inet_pton(af, text.c_str(), out) != 1) return info.Env().Null();
  return Napi::Buffer<unsigned char>::Copy(info.Env(), out, af == AF_INET ? 4 : 16);
}

// inet_ntop(af, bytes) -> text
Napi::Value InetNtop(const Napi::CallbackInfo& info) {
  int af = ArgFamily(info, "inet_ntop");
  Bytes bytes = ArgBytes(info, 1, "src", StringPolicy::Refuse, 2);
  size_t need = af == AF_INET ? 4 : 16;
  if (bytes.length != need)
    ThrowRangeError(info.Env(), "inet_ntop: src must be " + std::to_string(need) + " bytes, got " + std::to_string(bytes.length));
  char text[INET6_ADDRSTRLEN];
  Checked(info.Env(), "inet_ntop", [&] { return inet_ntop(af, bytes.Acquire("inet_ntop"), text, sizeof text) == nullptr ? -1 : 0; });
  return Napi::String::New(info.Env(), text);
}

// Runs a reentrant *_r lookup, growing the caller's scratch buffer on ERANGE
// (bounded: 1 KiB x 4^7 = 16 MiB at most). The result points into the
// caller's hostent and scratch, alive until it has been converted.
template <typename Lookup>
const hostent* WithScratch(std::vector<char>& scratch, Lookup&& lookup) {
  scratch.assign(1024, 0);
  hostent* result = nullptr;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (lookup(scratch, result) != ERANGE) break;
    scratch.resize(scratch.size() * 4);
  }
  return result;
}

// A hostent as { h_name, h_aliases, h_addrtype, h_length, h_addr_list (as text) }, null for NULL.
Napi::Value HostEntValue(Napi::Env env, const hostent* entry) {
  if (entry == nullptr) return env.Null();
  Napi::Object host = Napi::Object::New(env);
  host.Set("h_name", entry->h_name ? entry->h_name : "");
  Napi::Array aliases = Napi::Array::New(env);
  for (uint32_t i = 0; entry->h_aliases && entry->h_aliases[i]; ++i) aliases.Set(i, entry->h_aliases[i]);
  host.Set("h_aliases", aliases);
  host.Set("h_addrtype", entry->h_addrtype);
  host.Set("h_length", entry->h_length);
  Napi::Array addresses = Napi::Array::New(env);
  char text[INET6_ADDRSTRLEN];
  for (uint32_t i = 0; entry->h_addr_list && entry->h_addr_list[i]; ++i) {
    inet_ntop(entry->h_addrtype, entry->h_addr_list[i], text, sizeof text);
    addresses.Set(i, text);
  }
  host.Set("h_addr_list", addresses);
  return host;
}

// gethostbyname(name) -> { h_name, h_aliases, h_addrtype, h_length, h_addr_list } or null,
// where h_addr_list holds the addresses as text. Uses the reentrant variant.
Napi::Value GetHostByName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgText(info, 0, "name");
  hostent entry{};
  int herr = 0;
  std::vector<char> scratch;
  return HostEntValue(env, WithScratch(scratch, [&](std::vector<char>& buffer, hostent*& result) {
    return gethostbyname_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result, &herr);
  }));
}

// gethostbyaddr(address, af = AF_INET) -> hostent | null, the address given as text.
Napi::Value GetHostByAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text = ArgText(info, 0, "address");
  int af = static_cast<int>(ArgIntOr(info, 1, "af", 0, INT32_MAX, AF_INET));
  if (af != AF_INET && af != AF_INET6) ThrowErrno(env, "gethostbyaddr", EAFNOSUPPORT);
  unsigned char raw[sizeof(in6_addr)];
  if (inet_pton(af, text.c_str(), raw) != 1)
    ThrowTypeError(env, "gethostbyaddr: address is not an IPv" + std::string(af == AF_INET ? "4" : "6") + " address: '" + text + "'");
  hostent entry{};
  int herr = 0;
  std::vector<char> scratch;
  return HostEntValue(env, WithScratch(scratch, [&](std::vector<char>& buffer, hostent*& result) {
    return gethostbyaddr_r(raw, af == AF_INET ? 4 : 16, af, &entry, buffer.data(), buffer.size(), &result, &herr);
  }));
}

const char* GaiName(int code) {
#define N(x) case x: return #x;
  switch (code) {
    N(EAI_AGAIN) N(EAI_BADFLAGS) N(EAI_FAIL) N(EAI_FAMILY) N(EAI_MEMORY) N(EAI_NONAME)
    N(EAI_SERVICE) N(EAI_SOCKTYPE) N(EAI_SYSTEM) N(EAI_OVERFLOW) N(EAI_NODATA) N(EAI_ADDRFAMILY)
    default: return "EAI_UNKNOWN";
  }
#undef N
}

// An EAI_* failure: `getaddrinfo: Name or service not known`, code 'EAI_NONAME', errno the EAI value.
[[noreturn]] void ThrowGai(Napi::Env env, const char* syscall, int rc) {
  if (rc == EAI_SYSTEM) ThrowErrno(env, syscall, errno);
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + gai_strerror(rc));
  error.Value().Set("code", GaiName(rc));
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

int HintField(Napi::Env env, Napi::Object hints, const char* key) {
  return static_cast<int>(FieldInt(env, hints, "hints", key, 0, INT32_MAX, 0));
}

// Owns the list getaddrinfo returns: freed on every path, throws included.
struct FreeAddrInfo {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, FreeAddrInfo>;

// getaddrinfo(node | null, service | null, hints?) -> [{ family, socktype, protocol, address, canonname? }]
Napi::Value GetAddrInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string node, service;
  bool hasNode = !IsMissing(info, 0) && !info[0].IsNull();
  bool hasService = !IsMissing(info, 1) && !info[1].IsNull();
  if (hasNode) node = ArgText(info, 0, "node");
  if (hasService) {
    if (info[1].IsNumber()) service = std::to_string(ArgInt(info, 1, "service", 0, 65535));
    else service = ArgText(info, 1, "service");
  }
  if (!hasNode && !hasService) ThrowTypeError(env, "getaddrinfo needs a node or a service");
  addrinfo hints{};
  if (!IsMissing(info, 2)) {
    if (!info[2].IsObject()) ThrowTypeError(env, "hints must be an object");
    Napi::Object object = info[2].As<Napi::Object>();
    hints.ai_family = HintField(env, object, "family");
    hints.ai_socktype = HintField(env, object, "socktype");
    hints.ai_protocol = HintField(env, object, "protocol");
    hints.ai_flags = HintField(env, object, "flags");
  }
  addrinfo* head = nullptr;
  int rc = getaddrinfo(hasNode ? node.c_str() : nullptr, hasService ? service.c_str() : nullptr, &hints, &head);
  AddrInfoList list(rc == 0 ? head : nullptr);
  if (rc != 0) ThrowGai(env, "getaddrinfo", rc);
  Napi::Array results = Napi::Array::New(env);
  uint32_t i = 0;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("family", ai->ai_family);
    entry.Set("socktype", ai->ai_socktype);
    entry.Set("protocol", ai->ai_protocol);
    sockaddr_storage storage{};
    std::memcpy(&storage, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof storage));
    entry.Set("address", FromSockAddr(env, storage, ai->ai_addrlen));
    if (ai->ai_canonname) entry.Set("canonname", ai->ai_canonname);
    results.Set(i++, entry);
  }
  return results;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("htons", Napi::Function::New(env, Htons, "htons"));
  exports.Set("htonl", Napi::Function::New(env, Htonl, "htonl"));
  exports.Set("ntohs", Napi::Function::New(env, Ntohs, "ntohs"));
  exports.Set("ntohl", Napi::Function::New(env, Ntohl, "ntohl"));
  exports.Set("inet_addr", Napi::Function::New(env, InetAddr, "inet_addr"));
  exports.Set("inet_aton", Napi::Function::New(env, InetAton, "inet_aton"));
  exports.Set("inet_ntoa", Napi::Function::New(env, InetNtoa, "inet_ntoa"));
  exports.Set("inet_pton", Napi::Function::New(env, InetPton, "inet_pton"));
  exports.Set("inet_ntop", Napi::Function::New(env, InetNtop, "inet_ntop"));
  exports.Set("gethostbyname", Napi::Function::New(env, GetHostByName, "gethostbyname"));
  exports.Set("getaddrinfo", Napi::Function::New(env, GetAddrInfo, "getaddrinfo"));
  exports.Set("getnameinfo", Napi::Function::New(env, GetNameInfo, "getnameinfo"));
  exports.Set("gethostbyaddr", Napi::Function::New(env, GetHostByAddr, "gethostbyaddr"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(AI_PASSIVE); SOCKFD_CONSTANT(AI_CANONNAME); SOCKFD_CONSTANT(AI_NUMERICHOST); SOCKFD_CONSTANT(AI_NUMERICSERV); SOCKFD_CONSTANT(AI_ADDRCONFIG); SOCKFD_CONSTANT(AI_V4MAPPED); SOCKFD_CONSTANT(AI_ALL);
  SOCKFD_CONSTANT(EAI_AGAIN); SOCKFD_CONSTANT(EAI_BADFLAGS); SOCKFD_CONSTANT(EAI_FAIL); SOCKFD_CONSTANT(EAI_FAMILY); SOCKFD_CONSTANT(EAI_MEMORY); SOCKFD_CONSTANT(EAI_NONAME); SOCKFD_CONSTANT(EAI_SERVICE);
  SOCKFD_CONSTANT(EAI_SOCKTYPE); SOCKFD_CONSTANT(EAI_SYSTEM); SOCKFD_CONSTANT(EAI_OVERFLOW);
  SOCKFD_CONSTANT(NI_NUMERICHOST); SOCKFD_CONSTANT(NI_NUMERICSERV); SOCKFD_CONSTANT(NI_NOFQDN); SOCKFD_CONSTANT(NI_NAMEREQD); SOCKFD_CONSTANT(NI_DGRAM); SOCKFD_CONSTANT(NI_MAXHOST); SOCKFD_CONSTANT(NI_MAXSERV);
}

}  // namespace
SOCKFD_REGISTER(netdb, Init);
}  // namespace sockfd
