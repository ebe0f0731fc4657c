// Signals delivered to JS during blocking calls. (Filled in by the process issue.)
#include "common.h"

namespace sockfd {

void RunPendingSignalHandlers(Napi::Env env) {}
bool RestartAfterSignal() { return true; }

}  // namespace sockfd
