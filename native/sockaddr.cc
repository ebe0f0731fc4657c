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

// A field, read once (a getter or proxy trap runs here).
Napi::Value Field(Napi::Object object, const char* key) { return object.Get(key); }

// An integer field: a number in range costs one N-API call after the read;
// undefined gives `fallback`; anything else goes to ToInteger for its error.
int64_t IntField(Napi::Env env, Napi::Object object, const char* key, const char* name, const char* field, int64_t min,
                 int64_t max, int64_t fallback) {
  Napi::Value value = Field(object, key);
  int64_t integer;
  if (IntegerInRange(env, value, min, max, integer)) return integer;
  if (IsUndefinedValue(env, value)) return fallback;
  return ToInteger(env, value, name, field, min, max);
}

// A string value copied into a stack buffer, NUL-terminated, no allocation.
// True when the whole string fit: V8 copies whole characters only (at most 4
// bytes each), so a cut copy is at least N - 4 bytes long and anything
// shorter is complete. False for a longer string or a non-string.
template <size_t N>
bool SmallString(napi_env env, napi_value value, char (&buffer)[N], size_t& length) {
  static_assert(N > 8, "room for a whole character and the NUL");
  length = 0;
  return napi_get_value_string_utf8(env, value, buffer, N, &length) == napi_ok && length < N - 4;
}
// The same string whole, for error messages and the rare long forms (a primitive: no JS runs).
std::string WholeString(Napi::Value value) { return value.As<Napi::String>().Utf8Value(); }

enum class Family { Inet, Inet6, Unix, Packet, Netlink };

Family FamilyOf(Napi::Env env, Napi::Value family, const char* name) {
  char text[16];
  size_t length;
  if (SmallString(env, family, text, length) && std::strlen(text) == length) {
    if (std::strcmp(text, "AF_INET") == 0) return Family::Inet;
    if (std::strcmp(text, "AF_INET6") == 0) return Family::Inet6;
    if (std::strcmp(text, "AF_UNIX") == 0 || std::strcmp(text, "AF_LOCAL") == 0) return Family::Unix;
    if (std::strcmp(text, "AF_PACKET") == 0) return Family::Packet;
    if (std::strcmp(text, "AF_NETLINK") == 0) return Family::Netlink;
  }
  if (!family.IsString())
    ThrowTypeError(env, std::string(name) + ".family must be 'AF_INET', 'AF_INET6' or 'AF_UNIX'");
  ThrowTypeError(env, std::string(name) + ".family must be 'AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_PACKET' or 'AF_NETLINK', got '" +
                          WholeString(family) + "'");
}

// Every field is read once (a getter runs once) and validated by the shared
// integer validator before any cast.
uint16_t PortOf(Napi::Env env, Napi::Object object, const char* name) {
  return static_cast<uint16_t>(IntField(env, object, "port", name, "port", 0, 65535, 0));
}

}  // namespace

void InetFromFields(Napi::Env env, napi_value port, napi_value address, const char* name, SockAddr& out) {
  auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
  sin->sin_family = AF_INET;
  int64_t portNumber;
  if (!IntegerInRange(env, port, 0, 65535, portNumber))
    portNumber = IsUndefinedValue(env, port) ? 0 : ToInteger(env, port, name, "port", 0, 65535);
  sin->sin_port = htons(static_cast<uint16_t>(portNumber));
  out.length = sizeof(sockaddr_in);
  char text[64];
  size_t length;
  // The common shape first: a literal address as text, decoded on the stack.
  if (SmallString(env, address, text, length)) {
    // A NUL inside would cut the text short for inet_pton: not an address.
    if (std::strlen(text) == length && inet_pton(AF_INET, text, &sin->sin_addr) == 1) return;
    ThrowTypeError(env, std::string(name) + ".address is not an IPv4 address: '" + std::string(text, length) + "'");
  }
  napi_valuetype type = napi_undefined;
  napi_typeof(env, address, &type);
  if (type == napi_undefined) {
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (type == napi_string) {  // too long for any address
    ThrowTypeError(env, std::string(name) + ".address is not an IPv4 address: '" + WholeString(Napi::Value(env, address)) + "'");
  } else if (type == napi_number || type == napi_bigint) {  // s_addr as C holds it (network byte order), e.g. inet_addr()
    sin->sin_addr.s_addr = static_cast<in_addr_t>(ToInteger(env, address, name, "address", 0, UINT32_MAX));
  } else {
    ThrowTypeError(env, std::string(name) + ".address must be a string or an s_addr number");
  }
}

namespace {

// Both fields are read (once each, port first) before either is validated,
// as lib/posix.ts reads them for connectInet.
void FillInet(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  Napi::Value port = Field(object, "port");
  Napi::Value address = Field(object, "address");
  InetFromFields(env, port, address, name, out);
}

void FillInet6(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(PortOf(env, object, name));
  sin6->sin6_flowinfo =
      htonl(static_cast<uint32_t>(IntField(env, object, "flowinfo", name, "flowinfo", 0, UINT32_MAX, 0)));
  Napi::Value scopeId = Field(object, "scopeId");
  int64_t scope;
  sin6->sin6_scope_id = IntegerInRange(env, scopeId, 0, UINT32_MAX, scope)
                            ? static_cast<uint32_t>(scope)
                            : ScopeIdOf(env, scopeId, name);  // undefined, an interface name, or the error
  Napi::Value address = Field(object, "address");
  out.length = sizeof(sockaddr_in6);
  char text[64];
  size_t length;
  // A literal address without a zone: decoded on the stack.
  if (SmallString(env, address, text, length) && std::strlen(text) == length && std::strchr(text, '%') == nullptr) {
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) return;
    ThrowTypeError(env, std::string(name) + ".address is not an IPv6 address: '" + std::string(text, length) + "'");
  }
  if (address.IsUndefined()) {
    sin6->sin6_addr = in6addr_any;
  } else if (address.IsString()) {
    std::string whole = WholeString(address);
    uint32_t zone = 0;
    if (SplitScope(env, whole, zone, name)) sin6->sin6_scope_id = zone;  // 'fe80::1%lo'
    if (whole.find('\0') != std::string::npos || inet_pton(AF_INET6, whole.c_str(), &sin6->sin6_addr) != 1)
      ThrowTypeError(env, std::string(name) + ".address is not an IPv6 address: '" + whole + "'");
  } else {
    ThrowTypeError(env, std::string(name) + ".address must be a string");
  }
}

void FillUnix(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
  sun->sun_family = AF_UNIX;
  Napi::Value path = Field(object, "path");
  char text[sizeof(sun->sun_path) + 8];
  size_t length;
  std::string whole;  // only for a path longer than the stack copy (an error below)
  const char* bytes = text;
  if (!SmallString(env, path, text, length)) {
    if (!path.IsString()) ThrowTypeError(env, std::string(name) + ".path must be a string");
    whole = WholeString(path);
    bytes = whole.data();
    length = whole.size();
  }
  bool abstract = length > 0 && bytes[0] == '\0';
  if (!abstract && std::memchr(bytes, '\0', length) != nullptr)
    ThrowTypeError(env, std::string(name) + ".path must not contain NUL (only a leading one, for an abstract name)");
  // A pathname needs room for its terminating NUL; an abstract name does not.
  size_t room = sizeof(sun->sun_path) - (abstract ? 0 : 1);
  if (length > room)
    ThrowRangeError(env, std::string(name) + ".path is " + std::to_string(length) + " bytes; at most " +
                             std::to_string(room) + " fit in sockaddr_un");
  std::memcpy(sun->sun_path, bytes, length);
  out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (abstract ? 0 : 1));
  if (length == 0) out.length = sizeof(sa_family_t);  // unnamed (autobind)
}

// Dotted-quad text of an s_addr (glibc's inet_ntop formats it through
// sprintf, ten times the cost); `text` holds at least 16 bytes. The length.
size_t FormatInet(const in_addr& address, char* text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&address.s_addr);
  char* p = text;
  for (int i = 0; i < 4; ++i) {
    unsigned value = bytes[i];
    if (value >= 100) *p++ = static_cast<char>('0' + value / 100);
    if (value >= 10) *p++ = static_cast<char>('0' + value / 10 % 10);
    *p++ = static_cast<char>('0' + value % 10);
    if (i < 3) *p++ = '.';
  }
  *p = '\0';
  return static_cast<size_t>(p - text);
}

napi_value Number(napi_env env, uint32_t value) {
  napi_value result = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_uint32(env, value, &result), nullptr);
  return result;
}

napi_value Latin1(napi_env env, const char* text, size_t length) {
  napi_value result = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, text, length, &result), nullptr);
  return result;
}

}  // namespace

SockAddr ToSockAddr(Napi::Env env, Napi::Value value, const char* name, napi_value family) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, value, &type);
  if (type != napi_object && type != napi_function)
    ThrowTypeError(env, std::string(name) + " must be an address object like { family: 'AF_INET', address, port }");
  Napi::Object object = value.As<Napi::Object>();
  SockAddr out;
  switch (FamilyOf(env, family != nullptr ? Napi::Value(env, family) : Field(object, "family"), name)) {
    case Family::Inet: FillInet(env, object, name, out); break;
    case Family::Inet6: FillInet6(env, object, name, out); break;
    case Family::Unix: FillUnix(env, object, name, out); break;
    case Family::Packet: FillPacket(env, object, name, out); break;
    case Family::Netlink: FillNetlink(env, object, name, out); break;
  }
  return out;
}

SockAddr ArgSockAddr(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length()) ThrowTypeError(info.Env(), std::string("missing argument: ") + name);
  return ToSockAddr(info.Env(), info[index], name);
}

Napi::Value FromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length) {
  Napi::Object object = Napi::Object::New(env);
  if (length < sizeof(sa_family_t)) {
    object.Set("family", Latin1(env, "AF_UNSPEC", 9));
    return object;
  }
  char text[INET6_ADDRSTRLEN];
  switch (storage.ss_family) {
    case AF_INET: {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
      size_t textLength = FormatInet(sin->sin_addr, text);
      object.Set("family", Latin1(env, "AF_INET", 7));
      object.Set("address", Latin1(env, text, textLength));
      object.Set("port", Number(env, ntohs(sin->sin_port)));
      break;
    }
    case AF_INET6: {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
      object.Set("family", Latin1(env, "AF_INET6", 8));
      object.Set("address", Latin1(env, text, std::strlen(text)));
      object.Set("port", Number(env, ntohs(sin6->sin6_port)));
      object.Set("flowinfo", Number(env, ntohl(sin6->sin6_flowinfo)));
      object.Set("scopeId", Number(env, sin6->sin6_scope_id));
      break;
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(&storage);
      size_t pathLength = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      if (pathLength > sizeof(sun->sun_path)) pathLength = sizeof(sun->sun_path);
      // A pathname ends at its NUL; an abstract name ('\0' first) is all its bytes.
      if (pathLength > 0 && sun->sun_path[0] != '\0') pathLength = strnlen(sun->sun_path, pathLength);
      object.Set("family", Latin1(env, "AF_UNIX", 7));
      object.Set("path", Napi::String::New(env, sun->sun_path, pathLength));
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
