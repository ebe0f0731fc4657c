// Network interfaces by name and index: if_nametoindex, if_indextoname,
// if_nameindex, getifaddrs, gethostname. The C library's own answers.
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <memory>

#include "common.h"
#include "sockaddr.h"
#include "sockaddr_link.h"

namespace sockfd {
namespace {

// if_nametoindex(ifname) -> index; throws `if_nametoindex(eth9): No such device` where C returns 0.
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "ifname");
  return Napi::Number::New(info.Env(), InterfaceIndex(info.Env(), name));
}

// if_indextoname(ifindex) -> name; throws ENXIO where C returns NULL.
Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  unsigned index = static_cast<unsigned>(ArgInt(info, 0, "ifindex", 1, UINT32_MAX));
  char name[IF_NAMESIZE];
  if (if_indextoname(index, name) == nullptr) ThrowErrno(info.Env(), "if_indextoname", errno);
  return Napi::String::New(info.Env(), name);
}

struct NameIndexFree {
  void operator()(struct if_nameindex* list) const { if_freenameindex(list); }
};

// if_nameindex() -> [{ index, name }]
Napi::Value IfNameIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<struct if_nameindex, NameIndexFree> list(::if_nameindex());
  if (!list) ThrowErrno(env, "if_nameindex", errno);
  Napi::Array result = Napi::Array::New(env);
  uint32_t n = 0;
  for (struct if_nameindex* entry = list.get(); entry->if_index != 0 || entry->if_name != nullptr; ++entry) {
    Napi::Object item = Napi::Object::New(env);
    item.Set("index", entry->if_index);
    item.Set("name", entry->if_name);
    result.Set(n++, item);
  }
  return result;
}

struct IfAddrsFree {
  void operator()(ifaddrs* list) const { freeifaddrs(list); }
};

// The sockaddr of an ifaddrs entry as a JS address, or null when absent.
Napi::Value AddressOf(Napi::Env env, const sockaddr* address) {
  if (address == nullptr) return env.Null();
  socklen_t length;
  switch (address->sa_family) {
    case AF_INET: length = sizeof(sockaddr_in); break;
    case AF_INET6: length = sizeof(sockaddr_in6); break;
    case AF_PACKET: length = sizeof(sockaddr_ll); break;
    default: length = sizeof(sa_family_t);
  }
  sockaddr_storage storage{};
  std::memcpy(&storage, address, length);
  return FromSockAddr(env, storage, length);
}

// getifaddrs() -> [{ name, index, flags, address, netmask, broadcast, destination }]
Napi::Value GetIfAddrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ifaddrs* raw = nullptr;
  Checked(env, "getifaddrs", [&] { return getifaddrs(&raw); });
  std::unique_ptr<ifaddrs, IfAddrsFree> list(raw);
  Napi::Array result = Napi::Array::New(env);
  uint32_t n = 0;
  for (ifaddrs* entry = raw; entry != nullptr; entry = entry->ifa_next) {
    Napi::Object item = Napi::Object::New(env);
    item.Set("name", entry->ifa_name);
    item.Set("index", if_nametoindex(entry->ifa_name));
    item.Set("flags", entry->ifa_flags);
    item.Set("address", AddressOf(env, entry->ifa_addr));
    item.Set("netmask", AddressOf(env, entry->ifa_netmask));
    // ifa_ifu is the broadcast address or the point-to-point peer, by IFF_BROADCAST / IFF_POINTOPOINT.
    bool broadcast = entry->ifa_flags & IFF_BROADCAST, pointopoint = entry->ifa_flags & IFF_POINTOPOINT;
    item.Set("broadcast", broadcast ? AddressOf(env, entry->ifa_broadaddr) : env.Null());
    item.Set("destination", pointopoint ? AddressOf(env, entry->ifa_dstaddr) : env.Null());
    result.Set(n++, item);
  }
  return result;
}

// gethostname() -> the kernel's host name (uname's nodename).
Napi::Value GetHostName(const Napi::CallbackInfo& info) {
  char name[HOST_NAME_MAX + 1] = {};
  Checked(info.Env(), "gethostname", [&] { return gethostname(name, sizeof name - 1); });
  return Napi::String::New(info.Env(), name);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("if_nametoindex", Napi::Function::New(env, IfNameToIndex, "if_nametoindex"));
  exports.Set("if_indextoname", Napi::Function::New(env, IfIndexToName, "if_indextoname"));
  exports.Set("if_nameindex", Napi::Function::New(env, IfNameIndex, "if_nameindex"));
  exports.Set("getifaddrs", Napi::Function::New(env, GetIfAddrs, "getifaddrs"));
  exports.Set("gethostname", Napi::Function::New(env, GetHostName, "gethostname"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(IF_NAMESIZE); SOCKFD_CONSTANT(IFNAMSIZ); SOCKFD_CONSTANT(HOST_NAME_MAX);
  SOCKFD_CONSTANT(IFF_UP); SOCKFD_CONSTANT(IFF_BROADCAST); SOCKFD_CONSTANT(IFF_DEBUG); SOCKFD_CONSTANT(IFF_LOOPBACK); SOCKFD_CONSTANT(IFF_POINTOPOINT); SOCKFD_CONSTANT(IFF_NOTRAILERS);
  SOCKFD_CONSTANT(IFF_RUNNING); SOCKFD_CONSTANT(IFF_NOARP); SOCKFD_CONSTANT(IFF_PROMISC); SOCKFD_CONSTANT(IFF_ALLMULTI); SOCKFD_CONSTANT(IFF_MASTER); SOCKFD_CONSTANT(IFF_SLAVE);
  SOCKFD_CONSTANT(IFF_MULTICAST); SOCKFD_CONSTANT(IFF_PORTSEL); SOCKFD_CONSTANT(IFF_AUTOMEDIA); SOCKFD_CONSTANT(IFF_DYNAMIC);
}

}  // namespace
SOCKFD_REGISTER(interfaces, Init);
}  // namespace sockfd
