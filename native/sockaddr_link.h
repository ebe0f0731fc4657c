// The address families beyond inet/inet6/unix, kept apart from sockaddr.cc:
//   { family: 'AF_PACKET',  protocol?, ifindex? | ifname?, hatype?, pkttype?, address?: 'aa:bb:..' | bytes }
//   { family: 'AF_NETLINK', pid?, groups? }
// and the IPv6 scope id given as an interface name ('lo', or 'fe80::1%eth0').
#pragma once

#include <sys/socket.h>

#include "common.h"

namespace sockfd {

struct SockAddr;

// Fill `out` from a JS object of that family (TypeError/RangeError on bad fields).
void FillPacket(Napi::Env env, Napi::Object object, const char* name, SockAddr& out);
void FillNetlink(Napi::Env env, Napi::Object object, const char* name, SockAddr& out);
// The JS object back; `length` as the kernel returned it.
Napi::Object PacketFromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length);
Napi::Object NetlinkFromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length);

// A hardware address given as 'aa:bb:cc:dd:ee:ff' (':' or '-') or as bytes, at most 8; its length.
size_t HardwareAddressOf(Napi::Env env, Napi::Value address, const char* name, unsigned char (&out)[8]);

// IPv6 scopeId: undefined (0), an interface index, or an interface name.
uint32_t ScopeIdOf(Napi::Env env, Napi::Value value, const char* name);
// 'fe80::1%lo' -> text 'fe80::1' and the scope of 'lo' (a name or a number);
// returns false (text unchanged) when there is no '%'.
bool SplitScope(Napi::Env env, std::string& text, uint32_t& scope, const char* name);
// if_nametoindex() that throws `if_nametoindex(eth9): No such device`.
uint32_t InterfaceIndex(Napi::Env env, const std::string& ifname);

}  // namespace sockfd
