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
// `family`, when given, is the value of value.family that the caller already
// read (lib/posix.ts reads it to pick connectInet): it is not read again.
SockAddr ToSockAddr(Napi::Env env, Napi::Value value, const char* name = "address", napi_value family = nullptr);
// An AF_INET address from its fields' values (read once, by the caller):
// undefined port = 0, undefined address = INADDR_ANY, as in the object form.
void InetFromFields(Napi::Env env, napi_value port, napi_value address, const char* name, SockAddr& out);
SockAddr ArgSockAddr(const Napi::CallbackInfo& info, size_t index, const char* name = "address");
// The same shape back; unknown families come back as { family: number }.
Napi::Value FromSockAddr(Napi::Env env, const sockaddr_storage& storage, socklen_t length);

}  // namespace sockfd
