// Conversion between JS address objects and sockaddr_storage.
//   { family: 'AF_INET',  address: '127.0.0.1' | s_addr number, port }
//   { family: 'AF_INET6', address: '::1', port, flowinfo?, scopeId? }
//   { family: 'AF_UNIX',  path }   ('\0name' is an abstract name, '' unnamed)
#pragma once

#include <sys/socket.h>

#include "common.h"

namespace sockfd {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// Validates and converts; throws TypeError/RangeError on bad input.
SockAddr ToSockAddr(Napi::Env env, Napi::Value value, const char* name = "address");
SockAddr ArgSockAddr(const Napi::CallbackInfo& info, size_t index, const char* name = "address");
// The same shape back; unknown families come back as { family: number }.
Napi::Value FromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length);

}  // namespace sockfd
