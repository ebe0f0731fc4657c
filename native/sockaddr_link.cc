// AF_PACKET (sockaddr_ll) and AF_NETLINK (sockaddr_nl) addresses, and IPv6
// scope ids by interface name. ToSockAddr/FromSockAddr (sockaddr.cc) dispatch here.
#include "sockaddr_link.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/if.h>

#include <cmath>
#include <cstring>

#include "sockaddr.h"

namespace sockfd {
namespace {

// An optional integer field min..max (the shared validator); undefined gives `fallback`.
int64_t Field(Napi::Env env, Napi::Object object, const char* key, const char* name, int64_t min, int64_t max,
              int64_t fallback = 0) {
  return FieldInt(env, object, name, key, min, max, fallback);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 'aa:bb:cc:dd:ee:ff' (1..8 bytes, ':' or '-' between) -> bytes; false when malformed.
bool ParseHardwareAddress(const std::string& text, unsigned char* out, size_t room, size_t& length) {
  length = 0;
  size_t i = 0;
  if (text.empty()) return true;
  for (;;) {
    if (length == room || i + 2 > text.size()) return false;
    int high = HexDigit(text[i]), low = HexDigit(text[i + 1]);
    if (high < 0 || low < 0) return false;
    out[length++] = static_cast<unsigned char>(high << 4 | low);
    i += 2;
    if (i == text.size()) return true;
    if (text[i] != ':' && text[i] != '-') return false;
    ++i;
  }
}

}  // namespace

uint32_t InterfaceIndex(Napi::Env env, const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IF_NAMESIZE || ifname.find('\0') != std::string::npos)
    ThrowRangeError(env, "interface name must be 1.." + std::to_string(IF_NAMESIZE - 1) + " bytes without NUL: '" + ifname + "'");
  unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0) {
    std::string syscall = "if_nametoindex(" + ifname + ")";
    ThrowErrno(env, syscall.c_str(), errno);
  }
  return index;
}

uint32_t ScopeIdOf(Napi::Env env, Napi::Value value, const char* name) {
  if (value.IsUndefined()) return 0;
  if (value.IsString()) return InterfaceIndex(env, value.As<Napi::String>().Utf8Value());
  if (!value.IsNumber() && !value.IsBigInt())
    ThrowTypeError(env, std::string(name) + ".scopeId must be an interface index or name");
  return static_cast<uint32_t>(ToInteger(env, value, name, "scopeId", 0, UINT32_MAX));
}

bool SplitScope(Napi::Env env, std::string& text, uint32_t& scope, const char* name) {
  size_t percent = text.find('%');
  if (percent == std::string::npos) return false;
  std::string zone = text.substr(percent + 1);
  text.resize(percent);
  if (zone.empty()) ThrowTypeError(env, std::string(name) + ".address has an empty zone after '%'");
  bool numeric = zone.size() <= 10 && zone.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    unsigned long long value = std::stoull(zone);
    if (value > 4294967295ULL) ThrowRangeError(env, std::string(name) + ".address zone is out of range");
    scope = static_cast<uint32_t>(value);
  } else {
    scope = InterfaceIndex(env, zone);
  }
  return true;
}

size_t HardwareAddressOf(Napi::Env env, Napi::Value address, const char* name, unsigned char (&out)[8]) {
  size_t length = 0;
  if (address.IsUndefined()) return 0;
  if (address.IsString()) {
    std::string text = address.As<Napi::String>().Utf8Value();
    if (!ParseHardwareAddress(text, out, sizeof out, length))
      ThrowTypeError(env, std::string(name) + ".address must be a hardware address like 'aa:bb:cc:dd:ee:ff' (at most 8 bytes), got '" + text + "'");
    return length;
  }
  Bytes bytes = ValueBytes(env, address, (std::string(name) + ".address").c_str(), StringPolicy::Refuse);
  if (bytes.length > sizeof out) ThrowRangeError(env, std::string(name) + ".address has more than 8 bytes");
  length = bytes.length;
  if (length > 0) std::memcpy(out, bytes.Acquire("address"), length);  // copied at once: nothing ran JS since ValueBytes
  return length;
}

void FillPacket(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  // Read every field (getters may run JS) before writing the struct.
  int64_t protocol = Field(env, object, "protocol", name, 0, 0xFFFF);
  int64_t hatype = Field(env, object, "hatype", name, 0, 0xFFFF);
  int64_t pkttype = Field(env, object, "pkttype", name, 0, 0xFF);
  int64_t ifindex = Field(env, object, "ifindex", name, 0, INT32_MAX);
  Napi::Value ifname = object.Get("ifname");
  if (!ifname.IsUndefined()) {
    if (!ifname.IsString()) ThrowTypeError(env, std::string(name) + ".ifname must be a string");
    int64_t byName = InterfaceIndex(env, ifname.As<Napi::String>().Utf8Value());
    if (ifindex != 0 && ifindex != byName)
      ThrowTypeError(env, std::string(name) + ".ifindex and .ifname name different interfaces");
    ifindex = byName;
  }
  unsigned char hardware[8];
  size_t halen = HardwareAddressOf(env, object.Get("address"), name, hardware);
  auto* sll = reinterpret_cast<sockaddr_ll*>(&out.storage);
  sll->sll_family = AF_PACKET;
  sll->sll_protocol = htons(static_cast<uint16_t>(protocol));
  sll->sll_ifindex = static_cast<int>(ifindex);
  sll->sll_hatype = static_cast<unsigned short>(hatype);
  sll->sll_pkttype = static_cast<unsigned char>(pkttype);
  sll->sll_halen = static_cast<unsigned char>(halen);
  std::memcpy(sll->sll_addr, hardware, halen);
  out.length = sizeof(sockaddr_ll);
}

void FillNetlink(Napi::Env env, Napi::Object object, const char* name, SockAddr& out) {
  int64_t pid = Field(env, object, "pid", name, 0, UINT32_MAX);
  int64_t groups = Field(env, object, "groups", name, 0, UINT32_MAX);
  auto* snl = reinterpret_cast<sockaddr_nl*>(&out.storage);
  snl->nl_family = AF_NETLINK;
  snl->nl_pid = static_cast<uint32_t>(pid);
  snl->nl_groups = static_cast<uint32_t>(groups);
  out.length = sizeof(sockaddr_nl);
}

Napi::Object PacketFromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length) {
  sockaddr_ll sll{};
  std::memcpy(&sll, &storage, std::min<size_t>(length, sizeof sll));
  Napi::Object object = Napi::Object::New(env);
  object.Set("family", "AF_PACKET");
  object.Set("protocol", ntohs(sll.sll_protocol));
  object.Set("ifindex", sll.sll_ifindex);
  object.Set("hatype", sll.sll_hatype);
  object.Set("pkttype", sll.sll_pkttype);
  // Only the bytes the kernel filled in count (sll_addr holds 8, halen may say more for some types).
  size_t filled = length > offsetof(sockaddr_ll, sll_addr) ? length - offsetof(sockaddr_ll, sll_addr) : 0;
  size_t halen = std::min<size_t>({sll.sll_halen, sizeof sll.sll_addr, filled});
  std::string text;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < halen; ++i) {
    if (i) text += ':';
    text += hex[sll.sll_addr[i] >> 4];
    text += hex[sll.sll_addr[i] & 15];
  }
  object.Set("address", text);
  return object;
}

Napi::Object NetlinkFromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length) {
  sockaddr_nl snl{};
  std::memcpy(&snl, &storage, std::min<size_t>(length, sizeof snl));
  Napi::Object object = Napi::Object::New(env);
  object.Set("family", "AF_NETLINK");
  object.Set("pid", snl.nl_pid);
  object.Set("groups", snl.nl_groups);
  return object;
}

}  // namespace sockfd
