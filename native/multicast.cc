// Multicast membership structs, encoded from the headers' own layouts so that
// setsockopt() can take them as bytes: ip_mreqn (IP_ADD/DROP_MEMBERSHIP,
// IP_MULTICAST_IF), ip_mreq_source (IP_ADD/DROP_SOURCE_MEMBERSHIP) and
// ipv6_mreq (IPV6_JOIN/LEAVE_GROUP). Plus the constants they need.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmath>

#include "common.h"
#include "sockaddr_link.h"

namespace sockfd {
namespace {

Napi::Object ArgObject(const Napi::CallbackInfo& info, const char* name) {
  if (info.Length() < 1 || !info[0].IsObject()) ThrowTypeError(info.Env(), std::string(name) + " takes an object");
  return info[0].As<Napi::Object>();
}

void Address(Napi::Env env, Napi::Object object, const char* key, const char* name, int af, void* out, bool required) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined() && !required) return;  // zero: INADDR_ANY
  if (!value.IsString()) ThrowTypeError(env, std::string(name) + "." + key + " must be an address string");
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos || inet_pton(af, text.c_str(), out) != 1)
    ThrowTypeError(env, std::string(name) + "." + key + " is not an IPv" + (af == AF_INET ? "4" : "6") + " address: '" + text + "'");
}

// ifindex: a number or an interface name; 0 lets the kernel choose.
uint32_t Interface(Napi::Env env, Napi::Object object, const char* name) {
  Napi::Value value = object.Get("ifindex");
  if (value.IsUndefined()) return 0;
  if (value.IsString()) return InterfaceIndex(env, value.As<Napi::String>().Utf8Value());
  if (!value.IsNumber() && !value.IsBigInt())
    ThrowTypeError(env, std::string(name) + ".ifindex must be an index or an interface name");
  return static_cast<uint32_t>(ToInteger(env, value, name, "ifindex", 0, INT32_MAX));
}

template <typename T>
Napi::Value AsBuffer(Napi::Env env, const T& value) {
  return Napi::Buffer<unsigned char>::Copy(env, reinterpret_cast<const unsigned char*>(&value), sizeof value);
}

// ip_mreqn({ multiaddr, address?, ifindex? }) -> Buffer
Napi::Value IpMreqn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object object = ArgObject(info, "ip_mreqn");
  ip_mreqn request{};
  Address(env, object, "multiaddr", "ip_mreqn", AF_INET, &request.imr_multiaddr, false);
  Address(env, object, "address", "ip_mreqn", AF_INET, &request.imr_address, false);
  request.imr_ifindex = static_cast<int>(Interface(env, object, "ip_mreqn"));
  return AsBuffer(env, request);
}

// ip_mreq_source({ multiaddr, interface?, sourceaddr }) -> Buffer
Napi::Value IpMreqSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object object = ArgObject(info, "ip_mreq_source");
  ip_mreq_source request{};
  Address(env, object, "multiaddr", "ip_mreq_source", AF_INET, &request.imr_multiaddr, true);
  Address(env, object, "interface", "ip_mreq_source", AF_INET, &request.imr_interface, false);
  Address(env, object, "sourceaddr", "ip_mreq_source", AF_INET, &request.imr_sourceaddr, true);
  return AsBuffer(env, request);
}

// ipv6_mreq({ multiaddr, ifindex? }) -> Buffer
Napi::Value Ipv6Mreq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object object = ArgObject(info, "ipv6_mreq");
  ipv6_mreq request{};
  Address(env, object, "multiaddr", "ipv6_mreq", AF_INET6, &request.ipv6mr_multiaddr, true);
  request.ipv6mr_interface = Interface(env, object, "ipv6_mreq");
  return AsBuffer(env, request);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ip_mreqn", Napi::Function::New(env, IpMreqn, "ip_mreqn"));
  exports.Set("ip_mreq_source", Napi::Function::New(env, IpMreqSource, "ip_mreq_source"));
  exports.Set("ipv6_mreq", Napi::Function::New(env, Ipv6Mreq, "ipv6_mreq"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(IP_DROP_MEMBERSHIP); SOCKFD_CONSTANT(IP_MULTICAST_IF); SOCKFD_CONSTANT(IP_MULTICAST_ALL); SOCKFD_CONSTANT(IP_ADD_SOURCE_MEMBERSHIP);
  SOCKFD_CONSTANT(IP_DROP_SOURCE_MEMBERSHIP); SOCKFD_CONSTANT(IP_BLOCK_SOURCE); SOCKFD_CONSTANT(IP_UNBLOCK_SOURCE);
  SOCKFD_CONSTANT(IPV6_JOIN_GROUP); SOCKFD_CONSTANT(IPV6_LEAVE_GROUP); SOCKFD_CONSTANT(IPV6_ADD_MEMBERSHIP); SOCKFD_CONSTANT(IPV6_DROP_MEMBERSHIP);
  SOCKFD_CONSTANT(IPV6_MULTICAST_IF); SOCKFD_CONSTANT(IPV6_MULTICAST_LOOP);
  SOCKFD_CONSTANT(MCAST_JOIN_GROUP); SOCKFD_CONSTANT(MCAST_LEAVE_GROUP); SOCKFD_CONSTANT(MCAST_JOIN_SOURCE_GROUP); SOCKFD_CONSTANT(MCAST_LEAVE_SOURCE_GROUP);
  SOCKFD_CONSTANT(IP_DEFAULT_MULTICAST_TTL); SOCKFD_CONSTANT(IP_DEFAULT_MULTICAST_LOOP);
  constants.Set("INADDR_ALLHOSTS_GROUP", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_ALLHOSTS_GROUP))));
  constants.Set("INADDR_UNSPEC_GROUP", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(INADDR_UNSPEC_GROUP))));
}

}  // namespace
SOCKFD_REGISTER(multicast, Init);
}  // namespace sockfd
