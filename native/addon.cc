// Module entry point: every concern registered itself with SOCKFD_REGISTER.
// Context-aware (NODE_API_MODULE), so the addon loads in worker_threads too.
#include "common.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sockfd::InitAll(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(sockfd, Init)
