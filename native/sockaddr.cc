// JS address objects <-> sockaddr_storage, for every call that takes or
// returns an address (bind, connect, accept, sendto, recvfrom, get*name).
#include "sockaddr.h"
#include "sockaddr_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace sockfd {

namespace {

std::string FamilyName(Napi::Env env, Napi::Object object, const char* name) {
  Napi::Value family = object.Get("family");
  if (!family.IsString())
    ThrowTypeError(env, std::string(name) + ".family must be 'AF_INET', 'AF_INET6' or 'AF_UNIX'");
  return family.As<Napi::String>().Utf8Value();
}

// Every field is read once (a getter runs once) and validated by the shared
// ToInteger before any cast.
uint16_t PortOf(Napi::Env env, Napi::Object object, const char* name) {
  return static_cast<uint16_t>(FieldInt(env, object, name, "port", 0, 65535, 0));
}

uint32_t OptionalUint32(Napi::Env env, Napi::Object object, const char* key, const char* name) {
  return static_cast<uint32_t>(FieldInt(env, object, name, key, 0, UINT32_MAX, 0));
}

void FillInet(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(PortOf(env, object, name));
  Napi::Value address = object.Get("address");
  if (address.IsUndefined()) {
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (address.IsString()) {
    std::string text = address.As<Napi::String>().Utf8Value();
    if (inet_pton(AF_INET, text.c_str(), &sin->sin_addr) != 1)
      ThrowTypeError(env, std::string(name) + ".address is not an IPv4 address: '" + text + "'");
  } else if (address.IsNumber() || address.IsBigInt()) {  // s_addr as C holds it (network byte order), e.g. inet_addr()
    sin->sin_addr.s_addr = static_cast<in_addr_t>(ToInteger(env, address, name, "address", 0, UINT32_MAX));
  } else {
    ThrowTypeError(env, std::string(name) + ".address must be a string or an s_addr number");
  }
  out.length = sizeof(sockaddr_in);
}

void FillInet6(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(PortOf(env, object, name));
  sin6->sin6_flowinfo = htonl(OptionalUint32(env, object, "flowinfo", name));
  sin6->sin6_scope_id = ScopeIdOf(env, object.Get("scopeId"), name);  // an index or an interface name
  Napi::Value address = object.Get("address");
  if (address.IsUndefined()) {
    sin6->sin6_addr = in6addr_any;
  } else if (address.IsString()) {
    std::string text = address.As<Napi::String>().Utf8Value();
    uint32_t zone = 0;
    if (SplitScope(env, text, zone, name)) sin6->sin6_scope_id = zone;  // 'fe80::1%lo'
    if (inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) != 1)
      ThrowTypeError(env, std::string(name) + ".address is not an IPv6 address: '" + text + "'");
  } else {
    ThrowTypeError(env, std::string(name) + ".address must be a string");
  }
  out.length = sizeof(sockaddr_in6);
}

void FillUnix(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
  sun->sun_family = AF_UNIX;
  Napi::Value path = object.Get("path");
  if (!path.IsString()) ThrowTypeError(env, std::string(name) + ".path must be a string");
  std::string text = path.As<Napi::String>().Utf8Value();
  bool abstract = !text.empty() && text[0] == '\0';
  if (!abstract && text.find('\0') != std::string::npos)
    ThrowTypeError(env, std::string(name) + ".path must not contain NUL (only a leading one, for an abstract name)");
  // A pathname needs room for its terminating NUL; an abstract name does not.
  size_t room = sizeof(sun->sun_path) - (abstract ? 0 : 1);
  if (text.size() > room)
    ThrowRangeError(env, std::string(name) + ".path is " + std::to_string(text.size()) +
                             " bytes; at most " + std::to_string(room) + " fit in sockaddr_un");
  std::memcpy(sun->sun_path, text.data(), text.size());
  out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + text.size() + (abstract ? 0 : 1));
  if (text.empty()) out.length = sizeof(sa_family_t);  // unnamed (autobind)
}

}  // namespace

SockAddr ToSockAddr(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsObject() || value.IsNull())
    ThrowTypeError(env, std::string(name) + " must be an address object like { family: 'AF_INET', address, port }");
  Napi::Object object = value.As<Napi::Object>();
  std::string family = FamilyName(env, object, name);
  SockAddr out;
  if (family == "AF_INET") FillInet(env, object, name, out);
  else if (family == "AF_INET6") FillInet6(env, object, name, out);
  else if (family == "AF_UNIX" || family == "AF_LOCAL") FillUnix(env, object, name, out);
  else if (family == "AF_PACKET") FillPacket(env, object, name, out);
  else if (family == "AF_NETLINK") FillNetlink(env, object, name, out);
  else ThrowTypeError(env, std::string(name) + ".family must be 'AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_PACKET' or 'AF_NETLINK', got '" + family + "'");
  return out;
}

SockAddr ArgSockAddr(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length()) ThrowTypeError(info.Env(), std::string("missing argument: ") + name);
  return ToSockAddr(info.Env(), info[index], name);
}

Napi::Value FromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length) {
  Napi::Object object = Napi::Object::New(env);
  if (length < sizeof(sa_family_t)) {
    object.Set("family", "AF_UNSPEC");
    return object;
  }
  char text[INET6_ADDRSTRLEN];
  switch (storage.ss_family) {
    case AF_INET: {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
      object.Set("family", "AF_INET");
      object.Set("address", text);
      object.Set("port", ntohs(sin->sin_port));
      break;
    }
    case AF_INET6: {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
      object.Set("family", "AF_INET6");
      object.Set("address", text);
      object.Set("port", ntohs(sin6->sin6_port));
      object.Set("flowinfo", ntohl(sin6->sin6_flowinfo));
      object.Set("scopeId", sin6->sin6_scope_id);
      break;
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(&storage);
      size_t pathLength = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      if (pathLength > sizeof(sun->sun_path)) pathLength = sizeof(sun->sun_path);
      std::string path(sun->sun_path, pathLength);
      if (!path.empty() && path[0] != '\0') path = path.c_str();  // pathname: up to its NUL
      object.Set("family", "AF_UNIX");
      object.Set("path", path);
      break;
    }
    case AF_PACKET:
      return PacketFromSockAddr(env, storage, length);
    case AF_NETLINK:
      return NetlinkFromSockAddr(env, storage, length);
    default:
      object.Set("family", static_cast<double>(storage.ss_family));
  }
  return object;
}

}  // namespace sockfd
