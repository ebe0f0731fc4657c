// ioctl(2) for the socket-buffer questions: how many bytes wait to be read
// (FIONREAD = SIOCINQ), wait in the send queue unacknowledged (SIOCOUTQ) or
// not even sent yet (SIOCOUTQNSD), whether the urgent mark is next
// (SIOCATMARK), and FIONBIO. Only requests whose argument is one int are
// accepted: any other request could write past it.
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "common.h"

namespace sockfd {
namespace {

// ioctl(fd, request, value?) -> the int the request returns (FIONBIO: value in, 0 back).
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  unsigned long request = static_cast<unsigned long>(ArgInt(info, 1, "request", 0, UINT32_MAX));
  int value = 0;
  switch (request) {
    case FIONREAD:  // == SIOCINQ
    case SIOCOUTQ:
    case SIOCOUTQNSD:
    case SIOCATMARK:
      if (!IsMissing(info, 2)) ThrowTypeError(env, "ioctl: this request takes no value");
      break;
    case FIONBIO:
      value = static_cast<int>(ArgInt(info, 2, "value", 0, 1));
      break;
    default:
      ThrowRangeError(env, "ioctl: request " + std::to_string(request) +
                               " is not one of FIONREAD/SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK, FIONBIO");
  }
  Checked(env, "ioctl", [&] { return ::ioctl(fd, request, &value); });
  return Napi::Number::New(env, request == FIONBIO ? 0 : value);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(FIONREAD); SOCKFD_CONSTANT(SIOCINQ); SOCKFD_CONSTANT(SIOCOUTQ); SOCKFD_CONSTANT(SIOCOUTQNSD); SOCKFD_CONSTANT(SIOCATMARK); SOCKFD_CONSTANT(FIONBIO);
}

}  // namespace
SOCKFD_REGISTER(ioctl, Init);
}  // namespace sockfd
