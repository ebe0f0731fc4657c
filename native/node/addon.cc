// Entry point of the per-ABI addon `sockfd_node` (see node_addon.h). It is
// registered the node.h way (NODE_MODULE_CONTEXT_AWARE), not as N-API, on
// purpose: Node then refuses a build made for another Node with its own
// "compiled against a different Node.js version using NODE_MODULE_VERSION"
// error instead of running code whose struct layouts are wrong.
#include "node_addon.h"

#include <cstddef>

// The ABI this file is built for, as text that lib/native.ts reads from the
// file BEFORE it dlopen()s it: the addon is bound at load (-z now), so a build
// for another Node fails in the dynamic linker (an undefined V8 symbol) before
// Node's own NODE_MODULE_VERSION check could say which Node it is for.
#define SOCKFD_NODE_STRINGIFY_(x) #x
#define SOCKFD_NODE_STRINGIFY(x) SOCKFD_NODE_STRINGIFY_(x)
extern "C" __attribute__((used, visibility("default"))) const char sockfd_node_abi_marker[] =
    "sockfd_node-abi:NODE_MODULE_VERSION=" SOCKFD_NODE_STRINGIFY(NODE_MODULE_VERSION) ";";

namespace sockfd_node {
namespace {

struct Registration {
  const char* name;
  InitFn fn;
};
// Filled by static constructors while the library loads: a fixed array, so
// registering allocates nothing and cannot throw. Written only then, on the
// loading thread; read-only afterwards.
constexpr std::size_t kMaxRegistrations = 16;
Registration registrations[kMaxRegistrations];
std::size_t registrationCount = 0;
bool registrationOverflow = false;

v8::Local<v8::String> String(v8::Isolate* isolate, const char* text) {
  return v8::String::NewFromUtf8(isolate, text).ToLocalChecked();
}

void Initialize(v8::Local<v8::Object> exports, v8::Local<v8::Value> module, v8::Local<v8::Context> context,
                void* priv) {
  v8::Isolate* isolate = context->GetIsolate();
  if (registrationOverflow) {
    isolate->ThrowException(v8::Exception::Error(
        String(isolate, "sockfd_node: more concerns than kMaxRegistrations (native/node/addon.cc)")));
    return;
  }
  // What this build is for, so lib/native.ts can say so when it is the wrong one.
  v8::Local<v8::Object> built = v8::Object::New(isolate);
  built->Set(context, String(isolate, "nodeModuleVersion"), v8::Integer::New(isolate, NODE_MODULE_VERSION)).Check();
  built->Set(context, String(isolate, "nodeVersion"), String(isolate, NODE_VERSION_STRING)).Check();
  exports->Set(context, String(isolate, "builtFor"), built).Check();
  for (std::size_t i = 0; i < registrationCount; ++i) registrations[i].fn(exports, context);
}

}  // namespace

Registrar::Registrar(const char* name, InitFn fn) noexcept {
  if (registrationCount == kMaxRegistrations) {
    registrationOverflow = true;
    return;
  }
  registrations[registrationCount++] = {name, fn};
}

void SetFunction(v8::Local<v8::Object> exports, v8::Local<v8::Context> context, const char* name,
                 v8::FunctionCallback callback) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Function> function = v8::FunctionTemplate::New(isolate, callback)->GetFunction(context).ToLocalChecked();
  v8::Local<v8::String> key = String(isolate, name);
  function->SetName(key);
  exports->Set(context, key, function).Check();
}

}  // namespace sockfd_node

NODE_MODULE_CONTEXT_AWARE(NODE_GYP_MODULE_NAME, sockfd_node::Initialize)
