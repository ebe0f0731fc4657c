// The shared part of sockfd_node's V8 fast calls (v8_fast_api.h): the checks
// made at load, registration, the tests' counters.
#include "v8_fast_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

namespace sockfd_node {
namespace fast_api {

v8::Local<v8::String> Text(v8::Isolate* isolate, const std::string& text) {
  return v8::String::NewFromUtf8(isolate, text.c_str()).ToLocalChecked();
}

#ifdef SOCKFD_FAST_CALLS

bool counting = false;
std::atomic<uint64_t> fastCount{0};
std::atomic<uint64_t> slowCount{0};

void StartCounting() {
  // Once per process, by the first Init (thread-safe static initialization):
  // a Worker's Init must not write `counting` while another thread's fast
  // functions read it.
  static const bool started = [] {
    const char* count = getenv("SOCKFD_FAST_CALLS_COUNT");
    if (count != nullptr && strcmp(count, "1") == 0) counting = true;
    return true;
  }();
  (void)started;
}

void Counts(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> result = v8::Object::New(isolate);
  result->Set(context, Text(isolate, "fast"), v8::Number::New(isolate, static_cast<double>(fastCount.load()))).Check();
  result->Set(context, Text(isolate, "slow"), v8::Number::New(isolate, static_cast<double>(slowCount.load()))).Check();
  info.GetReturnValue().Set(result);
}

namespace {

// The type encodings of the running V8, read from the CFunctionInfo objects V8
// built for Node's own fast calls (function-local statics that node exports).
// Each must already be built (a guard byte) and must encode what ours use -
// int32 results, the receiver, the view argument, doubles - as ours do:
//   11.3, 12.4: int32 (Local<Value>, const FastApiTypedArray<uint8_t>&, uint32, int64, bool)
//   13.6:       int32 (Local<Value>, Local<Value>, Local<Value>, FastApiCallbackOptions&)
//   and a double argument: double (Local<Value>, double) on 11.3 and 13.6,
//   double (Local<Value>, Local<Value>, double) on 12.4.
struct Probe {
  const char* guard;
  const char* instance;
  unsigned int arguments;  // all of them (RawArgumentCount)
  unsigned int at;         // the index of the argument compared with ours
};
#define SOCKFD_PROBE(name, tail) "_ZGVZN2v88internal28CFunctionBuilderWithFunctionI" name tail, "_ZZN2v88internal28CFunctionBuilderWithFunctionI" name tail
#if SOCKFD_FAST_CALLS == 113
#define SOCKFD_BUILD "EE5BuildEvE8instance"
#else
#define SOCKFD_BUILD "EE5BuildILNS_13CFunctionInfo19Int64RepresentationE0EEEDavE8instance"
#endif
const Probe kWithView = {
#if SOCKFD_FAST_CALLS < 130
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIiJEEEJNS2_INS_5LocalINS_5ValueEEEJEEENS2_IRKNS_17FastApiTypedArrayIhEEJEEENS2_IjJEEENS2_IlJEEENS2_IbJEEE", SOCKFD_BUILD),
    5, 1};
#else
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIiJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES7_S7_NS2_IRNS_22FastApiCallbackOptionsEJEEE", SOCKFD_BUILD),
    4, 1};
#endif
const Probe kWithDouble = {
#if SOCKFD_FAST_CALLS == 124
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIdJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES7_S3_", SOCKFD_BUILD), 3, 2};
#else
    SOCKFD_PROBE("NS_16CTypeInfoBuilderIdJEEEJNS2_INS_5LocalINS_5ValueEEEJEEES3_", SOCKFD_BUILD), 2, 1};
#endif
#undef SOCKFD_PROBE
#undef SOCKFD_BUILD

// V8's CFunctionInfo of `probe`, or nullptr with the reason.
const v8::CFunctionInfo* Built(const Probe& probe, const char** why) {
  auto* guard = static_cast<const volatile unsigned char*>(dlsym(RTLD_DEFAULT, probe.guard));
  auto* instance = static_cast<const v8::CFunctionInfo*>(dlsym(RTLD_DEFAULT, probe.instance));
  if (guard == nullptr || instance == nullptr) *why = "cannot find V8's own fast-call type information in this node binary";
  else if (*guard == 0) *why = "V8's own fast-call type information is not built yet in this process";
  else return instance;
  return nullptr;
}

const char* VerifyEncodings() {
  const char* why = nullptr;
  const v8::CFunctionInfo* withView = Built(kWithView, &why);
  const v8::CFunctionInfo* withDouble = Built(kWithDouble, &why);
  if (withView == nullptr || withDouble == nullptr) return why;
  if (withView->RawArgumentCount() != kWithView.arguments || withDouble->RawArgumentCount() != kWithDouble.arguments)
    return "V8's fast-call type information has another layout";
  if (!(withView->ReturnInfo() == kInt32Type)) return "V8 encodes int32 differently";
  if (!(withView->ArgumentInfo(0) == kReceiverType)) return "V8 encodes the receiver differently";
  if (!(withView->ArgumentInfo(kWithView.at) == kViewType)) return "V8 encodes the view argument differently";
  if (!(withDouble->ArgumentInfo(kWithDouble.at) == kDoubleType)) return "V8 encodes a double differently";
  return nullptr;
}

// The running V8 is exactly the one of the headers ("11.3.244.8" or "11.3.244.8-node.N").
bool SameV8(std::string* running) {
  *running = v8::V8::GetVersion();
  std::string built = std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." +
                      std::to_string(V8_BUILD_NUMBER) + "." + std::to_string(V8_PATCH_LEVEL);
  return running->compare(0, built.size(), built) == 0 && (running->size() == built.size() || (*running)[built.size()] == '-');
}

}  // namespace

void AddFunction(v8::Local<v8::Object> target, v8::Local<v8::Context> context, const char* name, v8::FunctionCallback slow,
                 int length, const v8::CFunction* function) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::FunctionTemplate> tmpl =
      v8::FunctionTemplate::New(isolate, slow, v8::Local<v8::Value>(), v8::Local<v8::Signature>(), length,
                                v8::ConstructorBehavior::kThrow, v8::SideEffectType::kHasSideEffect, function);
  v8::Local<v8::Function> fn = tmpl->GetFunction(context).ToLocalChecked();
  fn->SetName(Text(isolate, name));
  target->Set(context, Text(isolate, name), fn).Check();
}

#endif  // SOCKFD_FAST_CALLS

std::string Unavailable(std::string* running) {
  std::string reason;
#ifdef SOCKFD_FAST_CALLS
  const char* mismatch = nullptr;
  if (!SameV8(running))
    reason = "built for V8 " + std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." +
             std::to_string(V8_BUILD_NUMBER) + "." + std::to_string(V8_PATCH_LEVEL) + ", running " + *running;
  else if ((mismatch = VerifyEncodings()) != nullptr) reason = mismatch;
  const char* disabled = getenv("SOCKFD_FAST_CALLS");
  if (reason.empty() && disabled != nullptr && strcmp(disabled, "0") == 0) reason = "disabled by SOCKFD_FAST_CALLS=0";
#else
  reason = "fast calls are built only against V8 11.3.244 (Node 20), 12.4.254 (Node 22) and 13.6.233 (Node 24); these headers are V8 " +
           std::to_string(V8_MAJOR_VERSION) + "." + std::to_string(V8_MINOR_VERSION) + "." + std::to_string(V8_BUILD_NUMBER);
#endif
  return reason;
}

void ExportSet(v8::Local<v8::Object> exports, v8::Local<v8::Context> context, const char* property, AddSet add) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Object> target = v8::Object::New(isolate);
  std::string running;
  std::string reason = Unavailable(&running);
#ifdef SOCKFD_FAST_CALLS
  if (reason.empty()) {
    StartCounting();
    add(target, context);
    target->Set(context, Text(isolate, "FALLBACK"), v8::Integer::New(isolate, kFallback)).Check();
    target->Set(context, Text(isolate, "counts"),
                v8::FunctionTemplate::New(isolate, Counts)->GetFunction(context).ToLocalChecked())
        .Check();
  }
  target->Set(context, Text(isolate, "v8"), Text(isolate, running)).Check();
#else
  (void)add;
#endif
  target->Set(context, Text(isolate, "available"), v8::Boolean::New(isolate, reason.empty())).Check();
  if (!reason.empty()) target->Set(context, Text(isolate, "reason"), Text(isolate, reason)).Check();
  exports->Set(context, Text(isolate, property), target).Check();
}

}  // namespace fast_api
}  // namespace sockfd_node
