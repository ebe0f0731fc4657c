// setsockopt / getsockopt. Integers and booleans as numbers; SO_LINGER as
// { onoff, linger }; SO_RCVTIMEO/SO_SNDTIMEO as milliseconds; TCP_INFO
// decoded into named fields; any option as raw bytes when a buffer is given.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmath>
#include <cstring>

#include "common.h"

namespace sockfd {
namespace {

bool IsTimeout(int level, int name) { return level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO); }
bool IsLinger(int level, int name) { return level == SOL_SOCKET && name == SO_LINGER; }
bool IsText(int level, int name) {
  return (level == IPPROTO_TCP && name == TCP_CONGESTION) || (level == SOL_SOCKET && name == SO_BINDTODEVICE);
}

// An int field of an option object, or a boolean as 0/1. Read once.
int IntField(Napi::Env env, Napi::Object object, const char* key) {
  Napi::Value value = object.Get(key);
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? 1 : 0;
  if (value.IsUndefined()) ThrowTypeError(env, std::string("value.") + key + " must be an integer");
  return static_cast<int>(ToInteger(env, value, "value", key, INT32_MIN, INT32_MAX));
}

// setsockopt(fd, level, name, value)
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int level = static_cast<int>(ArgInt(info, 1, "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "name", 0, INT32_MAX));
  if (info.Length() < 4) ThrowTypeError(env, "missing argument: value");
  Napi::Value value = info[3];
  auto set = [&](const void* data, socklen_t length) {
    Checked(env, "setsockopt", [&] { return ::setsockopt(fd, level, name, data, length); });
    return env.Undefined();
  };
  if (IsLinger(level, name) && value.IsObject() && !value.IsTypedArray() && !value.IsBuffer()) {
    Napi::Object object = value.As<Napi::Object>();
    linger option{IntField(env, object, "onoff"), IntField(env, object, "linger")};
    return set(&option, sizeof option);
  }
  if (IsTimeout(level, name) && value.IsNumber()) {
    double ms = value.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(ms) || ms < 0 || ms > 1e12) ThrowRangeError(env, "timeout must be 0..1e12 milliseconds (0 = none)");
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(std::fmod(ms, 1000.0) * 1000)};
    return set(&tv, sizeof tv);
  }
  if (value.IsBoolean()) {
    int flag = value.As<Napi::Boolean>().Value() ? 1 : 0;
    return set(&flag, sizeof flag);
  }
  if (value.IsNumber()) {
    int number = static_cast<int>(ArgInt(info, 3, "value", INT32_MIN, INT32_MAX));
    return set(&number, sizeof number);
  }
  if (value.IsString() && IsText(level, name)) {
    std::string text = value.As<Napi::String>().Utf8Value();
    return set(text.data(), static_cast<socklen_t>(text.size()));
  }
  Bytes raw = ValueBytes(env, value, "value", StringPolicy::Refuse);
  CheckCount(env, "setsockopt: value", raw.length, INT32_MAX);
  return set(raw.Acquire("setsockopt"), static_cast<socklen_t>(raw.length));
}

const char* TcpStateName(uint8_t state) {
  switch (state) {
    case TCP_ESTABLISHED: return "ESTABLISHED";
    case TCP_SYN_SENT: return "SYN_SENT";
    case TCP_SYN_RECV: return "SYN_RECV";
    case TCP_FIN_WAIT1: return "FIN_WAIT1";
    case TCP_FIN_WAIT2: return "FIN_WAIT2";
    case TCP_TIME_WAIT: return "TIME_WAIT";
    case TCP_CLOSE: return "CLOSE";
    case TCP_CLOSE_WAIT: return "CLOSE_WAIT";
    case TCP_LAST_ACK: return "LAST_ACK";
    case TCP_LISTEN: return "LISTEN";
    case TCP_CLOSING: return "CLOSING";
    default: return "UNKNOWN";
  }
}

Napi::Object DecodeTcpInfo(Napi::Env env, const tcp_info& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", t.tcpi_state);
  o.Set("stateName", TcpStateName(t.tcpi_state));
  o.Set("caState", t.tcpi_ca_state);
  o.Set("retransmits", t.tcpi_retransmits);
  o.Set("probes", t.tcpi_probes);
  o.Set("backoff", t.tcpi_backoff);
  o.Set("options", t.tcpi_options);
  o.Set("sndWscale", t.tcpi_snd_wscale);
  o.Set("rcvWscale", t.tcpi_rcv_wscale);
  o.Set("rto", t.tcpi_rto);
  o.Set("ato", t.tcpi_ato);
  o.Set("sndMss", t.tcpi_snd_mss);
  o.Set("rcvMss", t.tcpi_rcv_mss);
  o.Set("unacked", t.tcpi_unacked);
  o.Set("sacked", t.tcpi_sacked);
  o.Set("lost", t.tcpi_lost);
  o.Set("retrans", t.tcpi_retrans);
  o.Set("fackets", t.tcpi_fackets);
  o.Set("lastDataSent", t.tcpi_last_data_sent);
  o.Set("lastAckSent", t.tcpi_last_ack_sent);
  o.Set("lastDataRecv", t.tcpi_last_data_recv);
  o.Set("lastAckRecv", t.tcpi_last_ack_recv);
  o.Set("pmtu", t.tcpi_pmtu);
  o.Set("rcvSsthresh", t.tcpi_rcv_ssthresh);
  o.Set("rtt", t.tcpi_rtt);
  o.Set("rttvar", t.tcpi_rttvar);
  o.Set("sndSsthresh", t.tcpi_snd_ssthresh);
  o.Set("sndCwnd", t.tcpi_snd_cwnd);
  o.Set("advmss", t.tcpi_advmss);
  o.Set("reordering", t.tcpi_reordering);
  o.Set("rcvRtt", t.tcpi_rcv_rtt);
  o.Set("rcvSpace", t.tcpi_rcv_space);
  o.Set("totalRetrans", t.tcpi_total_retrans);
  return o;
}

// getsockopt(fd, level, name) -> decoded value
// getsockopt(fd, level, name, buffer) -> byte count written into buffer (raw)
Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int level = static_cast<int>(ArgInt(info, 1, "level", 0, INT32_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "name", 0, INT32_MAX));
  auto get = [&](void* data, socklen_t& length) {
    Checked(env, "getsockopt", [&] { return ::getsockopt(fd, level, name, data, &length); });
  };
  if (!IsMissing(info, 3)) {
    Bytes raw = ArgBytes(info, 3, "buffer", StringPolicy::Refuse, 4);
    CheckCount(env, "getsockopt: buffer", raw.length, INT32_MAX);
    socklen_t length = static_cast<socklen_t>(raw.length);
    get(raw.Acquire("getsockopt"), length);
    return Napi::Number::New(env, length);
  }
  if (IsLinger(level, name)) {
    linger option{};
    socklen_t length = sizeof option;
    get(&option, length);
    Napi::Object result = Napi::Object::New(env);
    result.Set("onoff", option.l_onoff);
    result.Set("linger", option.l_linger);
    return result;
  }
  if (IsTimeout(level, name)) {
    timeval tv{};
    socklen_t length = sizeof tv;
    get(&tv, length);
    return Napi::Number::New(env, static_cast<double>(tv.tv_sec) * 1000 + static_cast<double>(tv.tv_usec) / 1000);
  }
  if (level == IPPROTO_TCP && name == TCP_INFO) {
    tcp_info t{};
    socklen_t length = sizeof t;
    get(&t, length);
    return DecodeTcpInfo(env, t);
  }
  if (level == SOL_SOCKET && name == SO_PEERCRED) {
    ucred cred{};
    socklen_t length = sizeof cred;
    get(&cred, length);
    Napi::Object result = Napi::Object::New(env);
    result.Set("pid", cred.pid);
    result.Set("uid", cred.uid);
    result.Set("gid", cred.gid);
    return result;
  }
  if (IsText(level, name)) {
    char text[64] = {0};
    socklen_t length = sizeof text - 1;
    get(text, length);
    return Napi::String::New(env, text, strnlen(text, length));
  }
  int value = 0;
  socklen_t length = sizeof value;
  get(&value, length);
  return Napi::Number::New(env, value);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt, "getsockopt"));
}

}  // namespace
SOCKFD_REGISTER(sockopt, Init);
}  // namespace sockfd
