// What the name lookups share (netdb.cc, nameinfo.cc): a hostent as the JS
// object gethostbyname/gethostbyaddr return, and the perror-style EAI_* error.
#pragma once

#include <netdb.h>

#include "common.h"

namespace sockfd {

// { h_name, h_aliases, h_addrtype, h_length, h_addr_list (addresses as text) }
Napi::Value FromHostEnt(Napi::Env env, const hostent& entry);

// An EAI_* failure of `syscall`: "getaddrinfo: Name or service not known" with
// code 'EAI_NONAME', errno the EAI value; EAI_SYSTEM throws the errno error.
[[noreturn]] void ThrowGai(Napi::Env env, const char* syscall, int rc);

}  // namespace sockfd
