// The per-Node-ABI addon `sockfd_node` (binding.gyp): what N-API cannot do and
// so needs node.h and V8's C++ API, whose layout changes with every Node
// major. It is built per NODE_MODULE_VERSION and loaded lazily by
// lib/native.ts (nodeAddon()); the N-API core never depends on it being there.
// Each .cc file here adds its exports with SOCKFD_NODE_REGISTER.
//
// Rules of this directory: no static object may run node or V8 code while the
// library is being loaded (a build for another Node must fail to load with
// Node's version error, never crash in a constructor), and no C++ exception
// may leave an exported function (V8 does not catch them).
#pragma once

#include <node.h>
#include <v8.h>

namespace sockfd_node {

using InitFn = void (*)(v8::Local<v8::Object> exports, v8::Local<v8::Context> context);
struct Registrar {
  Registrar(const char* name, InitFn fn) noexcept;
};
#define SOCKFD_NODE_REGISTER(name, fn) \
  static ::sockfd_node::Registrar sockfd_node_registrar_##name(#name, fn)

// exports[name] = a JS function calling `callback`.
void SetFunction(v8::Local<v8::Object> exports, v8::Local<v8::Context> context, const char* name,
                 v8::FunctionCallback callback);

}  // namespace sockfd_node
