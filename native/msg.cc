// sendmsg/recvmsg with scatter/gather and control messages, readv, and the
// batch calls recvmmsg/sendmmsg - blocking, and as try-calls (MSG_DONTWAIT,
// -EAGAIN instead of waiting) for the async forms in lib/msg-async.ts.
//
// Order inside every call (TEAM native rules): all arguments are converted
// first - address objects, control messages (encoded into owned memory),
// the list of buffers (each element read once) - and only then are the raw
// pointers of the buffers taken, in the system call's loop, so they are
// taken again after signal handlers ran on EINTR.
// Received fds (SCM_RIGHTS) are owned by a guard from the moment recvmsg
// returns until the JS array that holds them exists: nothing can leak them.
#include <time.h>

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"
#include "sockaddr.h"

namespace sockfd {
namespace {

// Bounds, checked before anything is allocated (RangeError).
constexpr size_t kMaxControl = 64 * 1024;          // one message's control buffer
constexpr size_t kMaxBatchControl = 4 * 1024 * 1024;  // all control buffers of a recvmmsg
constexpr unsigned kMaxMessages = UIO_MAXIOV;      // messages in one recvmmsg/sendmmsg (the kernel's own cap)
constexpr size_t kMaxBatchVectors = 64 * 1024;     // iovecs over all messages of a batch
constexpr size_t kMaxFdsPerMessage = 253;          // SCM_MAX_FD of the kernel (not in the uapi headers)

// ---- buffers ------------------------------------------------------------------

// The buffers of one message: validated once (Collect, which may run JS),
// their pointers taken in Acquire (which runs none).
class IoList {
 public:
  // `list` is one buffer or an array of them (at most IOV_MAX). Sending also accepts strings (UTF-8).
  void Collect(Napi::Env env, Napi::Value list, const char* name, bool sending) {
    StringPolicy strings = sending ? StringPolicy::AcceptUtf8 : StringPolicy::Refuse;
    if (list.IsArray()) {
      Napi::Array array = list.As<Napi::Array>();
      uint32_t count = array.Length();
      if (count > IOV_MAX)
        ThrowRangeError(env, std::string(name) + " has " + std::to_string(count) + " buffers; at most IOV_MAX (" + std::to_string(IOV_MAX) + ")");
      values_.reserve(count);
      for (uint32_t i = 0; i < count; ++i) values_.push_back(array.Get(i));  // getters/proxies run here
    } else {
      values_.push_back(list);
    }
    bytes_.reserve(values_.size());
    for (Napi::Value value : values_) bytes_.push_back(ValueBytes(env, value, name, strings));  // runs no JS
    iov_.resize(values_.size());
  }

  // Raw pointers, right before the call; a view that changed since Collect is an Error (Bytes::Acquire).
  void Acquire(Napi::Env env, const char* syscall, const char* name) {
    for (size_t i = 0; i < bytes_.size(); ++i) iov_[i] = {bytes_[i].Acquire(syscall), bytes_[i].length};
  }

  iovec* vectors() { return iov_.data(); }
  size_t count() const { return iov_.size(); }

 private:
  std::vector<Napi::Value> values_;
  std::vector<Bytes> bytes_;
  std::vector<iovec> iov_;
};

// ---- control messages out --------------------------------------------------------

struct ControlItem {
  int level;
  int type;
  std::vector<unsigned char> data;
};

int64_t ObjectInt(Napi::Env env, Napi::Object object, const char* key, const char* name, int64_t min, int64_t max,
                  int64_t fallback) {
  return FieldInt(env, object, name, key, min, max, fallback);  // the shared validator (common.h)
}

template <typename T>
std::vector<unsigned char> AsBytes(const T& value) {
  const auto* p = reinterpret_cast<const unsigned char*>(&value);
  return std::vector<unsigned char>(p, p + sizeof value);
}

void ParseAddressField(Napi::Env env, Napi::Object object, const char* key, const char* name, int af, void* out) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return;  // zero: the wildcard
  if (!value.IsString()) ThrowTypeError(env, std::string(name) + "." + key + " must be an address string");
  std::string text = value.As<Napi::String>().Utf8Value();
  if (inet_pton(af, text.c_str(), out) != 1)
    ThrowTypeError(env, std::string(name) + "." + key + " is not an IPv" + (af == AF_INET ? "4" : "6") + " address: '" + text + "'");
}

// One control message object -> level, type and payload. Typed by `type` name, raw by numbers.
ControlItem EncodeOne(Napi::Env env, Napi::Value value, size_t index) {
  std::string name = "control[" + std::to_string(index) + "]";
  if (!value.IsObject()) ThrowTypeError(env, name + " must be a control message object");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Value type = object.Get("type");
  if (type.IsNumber()) {  // raw { level, type, data }
    int level = static_cast<int>(ObjectInt(env, object, "level", name.c_str(), INT32_MIN, INT32_MAX, 0));
    int rawType = static_cast<int>(ObjectInt(env, object, "type", name.c_str(), INT32_MIN, INT32_MAX, 0));
    Napi::Value data = object.Get("data");
    ControlItem item{level, rawType, {}};
    if (!data.IsUndefined()) {
      Bytes bytes = ValueBytes(env, data, (name + ".data").c_str(), StringPolicy::Refuse);
      if (bytes.length > kMaxControl) ThrowRangeError(env, name + ".data is larger than " + std::to_string(kMaxControl) + " bytes");
      const uint8_t* start = bytes.Acquire("sendmsg");
      item.data.assign(start, start + bytes.length);  // copied at once: no JS in between
    }
    return item;
  }
  if (!type.IsString()) ThrowTypeError(env, name + ".type must be a control message name ('SCM_RIGHTS', ...) or a number");
  std::string kind = type.As<Napi::String>().Utf8Value();
  const char* n = name.c_str();
  if (kind == "SCM_RIGHTS") {
    Napi::Value fds = object.Get("fds");
    if (!fds.IsArray()) ThrowTypeError(env, name + ".fds must be an array of fds");
    Napi::Array array = fds.As<Napi::Array>();
    uint32_t count = array.Length();
    if (count == 0 || count > kMaxFdsPerMessage)
      ThrowRangeError(env, name + ".fds must hold 1.." + std::to_string(kMaxFdsPerMessage) + " fds (SCM_MAX_FD)");
    std::vector<int> list;
    list.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      std::string fdName = name + ".fds[" + std::to_string(i) + "]";
      list.push_back(static_cast<int>(ToInteger(env, array.Get(i), fdName.c_str(), nullptr, 0, INT32_MAX)));
    }
    ControlItem item{SOL_SOCKET, SCM_RIGHTS, {}};
    item.data.resize(list.size() * sizeof(int));
    std::memcpy(item.data.data(), list.data(), item.data.size());
    return item;
  }
  if (kind == "SCM_CREDENTIALS") {
    ucred credentials{};
    credentials.pid = static_cast<pid_t>(ObjectInt(env, object, "pid", n, 0, INT32_MAX, getpid()));
    credentials.uid = static_cast<uid_t>(ObjectInt(env, object, "uid", n, 0, UINT32_MAX, getuid()));
    credentials.gid = static_cast<gid_t>(ObjectInt(env, object, "gid", n, 0, UINT32_MAX, getgid()));
    return {SOL_SOCKET, SCM_CREDENTIALS, AsBytes(credentials)};
  }
  if (kind == "IP_PKTINFO") {
    in_pktinfo info{};
    info.ipi_ifindex = static_cast<int>(ObjectInt(env, object, "ifindex", n, 0, INT32_MAX, 0));
    ParseAddressField(env, object, "specDst", n, AF_INET, &info.ipi_spec_dst);
    ParseAddressField(env, object, "addr", n, AF_INET, &info.ipi_addr);
    return {IPPROTO_IP, IP_PKTINFO, AsBytes(info)};
  }
  if (kind == "IPV6_PKTINFO") {
    in6_pktinfo info{};
    info.ipi6_ifindex = static_cast<unsigned>(ObjectInt(env, object, "ifindex", n, 0, UINT32_MAX, 0));
    ParseAddressField(env, object, "addr", n, AF_INET6, &info.ipi6_addr);
    return {IPPROTO_IPV6, IPV6_PKTINFO, AsBytes(info)};
  }
  struct IntMessage {
    const char* name;
    int level, type;
    int64_t min, max;
  };
  static const IntMessage ints[] = {
      {"IP_TOS", IPPROTO_IP, IP_TOS, 0, 255},
      {"IP_TTL", IPPROTO_IP, IP_TTL, 1, 255},
      {"IPV6_HOPLIMIT", IPPROTO_IPV6, IPV6_HOPLIMIT, -1, 255},
      {"IPV6_TCLASS", IPPROTO_IPV6, IPV6_TCLASS, -1, 255},
  };
  for (const IntMessage& m : ints) {
    if (kind != m.name) continue;
    Napi::Value v = object.Get("value");
    if (v.IsUndefined()) ThrowTypeError(env, name + ".value is required for " + kind);
    int value = static_cast<int>(ObjectInt(env, object, "value", n, m.min, m.max, 0));
    return {m.level, m.type, AsBytes(value)};
  }
  ThrowTypeError(env, name + ".type '" + kind +
                          "' cannot be sent; use SCM_RIGHTS, SCM_CREDENTIALS, IP_PKTINFO, IPV6_PKTINFO, IP_TOS, IP_TTL, "
                          "IPV6_HOPLIMIT, IPV6_TCLASS or a raw { level, type: number, data }");
}

// Encoded control messages (msg_control), aligned for cmsghdr.
class Control {
 public:
  void Encode(Napi::Env env, Napi::Value list) {
    if (list.IsUndefined() || list.IsNull()) return;
    if (!list.IsArray()) ThrowTypeError(env, "control must be an array of control messages");
    Napi::Array array = list.As<Napi::Array>();
    uint32_t count = array.Length();
    if (count > kMaxControl / CMSG_SPACE(0)) ThrowRangeError(env, "control has too many messages");
    std::vector<ControlItem> items;
    size_t total = 0;
    for (uint32_t i = 0; i < count; ++i) {
      items.push_back(EncodeOne(env, array.Get(i), i));
      total += CMSG_SPACE(items.back().data.size());
      if (total > kMaxControl) ThrowRangeError(env, "control messages exceed " + std::to_string(kMaxControl) + " bytes");
    }
    storage_.assign((total + sizeof(cmsghdr) - 1) / sizeof(cmsghdr), cmsghdr{});
    length_ = total;
    auto* at = reinterpret_cast<unsigned char*>(storage_.data());
    for (const ControlItem& item : items) {
      auto* header = reinterpret_cast<cmsghdr*>(at);
      header->cmsg_level = item.level;
      header->cmsg_type = item.type;
      header->cmsg_len = CMSG_LEN(item.data.size());
      if (!item.data.empty()) std::memcpy(CMSG_DATA(header), item.data.data(), item.data.size());
      at += CMSG_SPACE(item.data.size());
    }
  }
  void* data() { return length_ ? storage_.data() : nullptr; }
  size_t length() const { return length_; }

 private:
  std::vector<cmsghdr> storage_;  // cmsghdr-typed, so the buffer is aligned for it
  size_t length_ = 0;
};

// ---- control messages in ---------------------------------------------------------

// The fds of SCM_RIGHTS messages from the moment the kernel installed them
// until JS holds them: closed if anything throws in between.
class ReceivedFds {
 public:
  ReceivedFds() = default;
  ReceivedFds(const ReceivedFds&) = delete;
  ReceivedFds& operator=(const ReceivedFds&) = delete;
  ~ReceivedFds() {
    for (int fd : fds_) ::close(fd);
  }
  void Add(int fd) { fds_.push_back(fd); }
  void Release() { fds_.clear(); }

 private:
  std::vector<int> fds_;
};

// The payload bytes a cmsg really holds inside the received control buffer.
size_t PayloadLength(const cmsghdr* header, const unsigned char* end) {
  const unsigned char* data = CMSG_DATA(header);
  size_t declared = header->cmsg_len >= CMSG_LEN(0) ? header->cmsg_len - CMSG_LEN(0) : 0;
  size_t room = data <= end ? static_cast<size_t>(end - data) : 0;
  return declared < room ? declared : room;
}

// Walks the cmsgs of a received message.
template <typename Visit>
void ForEachCmsg(msghdr& message, Visit&& visit) {
  const unsigned char* end = static_cast<unsigned char*>(message.msg_control) + message.msg_controllen;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header))
    visit(header, static_cast<const unsigned char*>(CMSG_DATA(header)), PayloadLength(header, end));
}

// Takes ownership of every received fd before any JS object is made.
void OwnReceivedFds(msghdr& message, ReceivedFds& owned) {
  ForEachCmsg(message, [&](cmsghdr* header, const unsigned char* data, size_t length) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) return;
    for (size_t i = 0; i + sizeof(int) <= length; i += sizeof(int)) {
      int fd;
      std::memcpy(&fd, data + i, sizeof fd);
      owned.Add(fd);
    }
  });
}

template <typename T>
bool Read(const unsigned char* data, size_t length, T& out) {
  if (length < sizeof(T)) return false;
  std::memcpy(&out, data, sizeof(T));
  return true;
}

std::string Text(int af, const void* address) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(af, address, text, sizeof text);
  return text;
}

Napi::Object Message(Napi::Env env, int level, const char* type) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("level", level);
  object.Set("type", type);
  return object;
}

Napi::Object Timespec(Napi::Env env, int64_t sec, int64_t fraction, const char* unit) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("sec", static_cast<double>(sec));
  object.Set(unit, static_cast<double>(fraction));
  return object;
}

const char* OriginName(uint8_t origin) {
  switch (origin) {
    case SO_EE_ORIGIN_NONE: return "SO_EE_ORIGIN_NONE";
    case SO_EE_ORIGIN_LOCAL: return "SO_EE_ORIGIN_LOCAL";
    case SO_EE_ORIGIN_ICMP: return "SO_EE_ORIGIN_ICMP";
    case SO_EE_ORIGIN_ICMP6: return "SO_EE_ORIGIN_ICMP6";
    case SO_EE_ORIGIN_TXSTATUS: return "SO_EE_ORIGIN_TXSTATUS";
    case SO_EE_ORIGIN_ZEROCOPY: return "SO_EE_ORIGIN_ZEROCOPY";
    case SO_EE_ORIGIN_TXTIME: return "SO_EE_ORIGIN_TXTIME";
    default: return "unknown";
  }
}

// struct sock_extended_err and the offender address after it.
Napi::Object ExtendedError(Napi::Env env, int level, const char* type, const unsigned char* data, size_t length) {
  Napi::Object object = Message(env, level, type);
  sock_extended_err ee{};
  if (!Read(data, length, ee)) return object;
  object.Set("errno", ee.ee_errno);
  object.Set("code", ee.ee_errno ? Napi::Value(Napi::String::New(env, ErrnoName(ee.ee_errno))) : env.Null());
  object.Set("origin", ee.ee_origin);
  object.Set("originName", OriginName(ee.ee_origin));
  object.Set("eeType", ee.ee_type);
  object.Set("eeCode", ee.ee_code);
  object.Set("info", ee.ee_info);
  object.Set("data", ee.ee_data);
  if (ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY) {  // sends ee_info..ee_data completed; COPIED: the kernel copied after all
    Napi::Object zerocopy = Napi::Object::New(env);
    zerocopy.Set("first", ee.ee_info);
    zerocopy.Set("last", ee.ee_data);
    zerocopy.Set("copied", (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) != 0);
    object.Set("zerocopy", zerocopy);
  }
  size_t offenderLength = length - sizeof ee;
  Napi::Value offender = env.Null();
  if (offenderLength >= sizeof(sa_family_t)) {
    sockaddr_storage storage{};
    size_t copy = offenderLength < sizeof storage ? offenderLength : sizeof storage;
    std::memcpy(&storage, data + sizeof ee, copy);
    if (storage.ss_family != AF_UNSPEC) offender = FromSockAddr(env, storage, static_cast<socklen_t>(copy));
  }
  object.Set("offender", offender);
  return object;
}

Napi::Object IntMessageOf(Napi::Env env, int level, const char* type, const unsigned char* data, size_t length) {
  Napi::Object object = Message(env, level, type);
  int value = 0;
  if (length >= sizeof(int)) std::memcpy(&value, data, sizeof value);
  else if (length >= 1) value = data[0];  // IP_TOS arrives as one byte
  object.Set("value", value);
  return object;
}

Napi::Value DecodeOne(Napi::Env env, const cmsghdr* header, const unsigned char* data, size_t length) {
  int level = header->cmsg_level, type = header->cmsg_type;
  if (level == SOL_SOCKET) {
    if (type == SCM_RIGHTS) {
      Napi::Object object = Message(env, level, "SCM_RIGHTS");
      Napi::Array fds = Napi::Array::New(env);
      uint32_t n = 0;
      for (size_t i = 0; i + sizeof(int) <= length; i += sizeof(int)) {
        int fd;
        std::memcpy(&fd, data + i, sizeof fd);
        fds.Set(n++, fd);
      }
      object.Set("fds", fds);
      return object;
    }
    ucred credentials;
    if (type == SCM_CREDENTIALS && Read(data, length, credentials)) {
      Napi::Object object = Message(env, level, "SCM_CREDENTIALS");
      object.Set("pid", credentials.pid);
      object.Set("uid", credentials.uid);
      object.Set("gid", credentials.gid);
      return object;
    }
    timeval tv;
    if ((type == SO_TIMESTAMP_OLD || type == SO_TIMESTAMP_NEW) && Read(data, length, tv)) {
      Napi::Object object = Message(env, level, "SO_TIMESTAMP");
      object.Set("sec", static_cast<double>(tv.tv_sec));
      object.Set("usec", static_cast<double>(tv.tv_usec));
      return object;
    }
    timespec ts;
    if ((type == SO_TIMESTAMPNS_OLD || type == SO_TIMESTAMPNS_NEW) && Read(data, length, ts)) {
      Napi::Object object = Message(env, level, "SO_TIMESTAMPNS");
      object.Set("sec", static_cast<double>(ts.tv_sec));
      object.Set("nsec", static_cast<double>(ts.tv_nsec));
      return object;
    }
    timespec three[3];
    if ((type == SO_TIMESTAMPING_OLD || type == SO_TIMESTAMPING_NEW) && Read(data, length, three)) {
      Napi::Object object = Message(env, level, "SO_TIMESTAMPING");
      object.Set("software", Timespec(env, three[0].tv_sec, three[0].tv_nsec, "nsec"));
      object.Set("hardware", Timespec(env, three[2].tv_sec, three[2].tv_nsec, "nsec"));
      return object;
    }
    uint32_t drops;
    if (type == SO_RXQ_OVFL && Read(data, length, drops)) {
      Napi::Object object = Message(env, level, "SO_RXQ_OVFL");
      object.Set("value", drops);
      return object;
    }
  } else if (level == IPPROTO_IP) {
    in_pktinfo info;
    if (type == IP_PKTINFO && Read(data, length, info)) {
      Napi::Object object = Message(env, level, "IP_PKTINFO");
      object.Set("ifindex", info.ipi_ifindex);
      object.Set("specDst", Text(AF_INET, &info.ipi_spec_dst));
      object.Set("addr", Text(AF_INET, &info.ipi_addr));
      return object;
    }
    if (type == IP_TOS && length >= 1) return IntMessageOf(env, level, "IP_TOS", data, 1);
    if (type == IP_TTL && length >= sizeof(int)) return IntMessageOf(env, level, "IP_TTL", data, length);
    if (type == IP_RECVERR) return ExtendedError(env, level, "IP_RECVERR", data, length);
    sockaddr_in original;
    if (type == IP_ORIGDSTADDR && Read(data, length, original)) {
      Napi::Object object = Message(env, level, "IP_ORIGDSTADDR");
      sockaddr_storage storage{};
      std::memcpy(&storage, &original, sizeof original);
      object.Set("address", FromSockAddr(env, storage, sizeof original));
      return object;
    }
  } else if (level == SOL_PACKET) {
    tpacket_auxdata aux;
    if (type == PACKET_AUXDATA && Read(data, length, aux)) {  // AF_PACKET: the frame's status and sizes
      Napi::Object object = Message(env, level, "PACKET_AUXDATA");
      object.Set("status", aux.tp_status);
      object.Set("len", aux.tp_len);
      object.Set("snaplen", aux.tp_snaplen);
      object.Set("mac", aux.tp_mac);
      object.Set("net", aux.tp_net);
      object.Set("vlanTci", aux.tp_vlan_tci);
      object.Set("vlanTpid", aux.tp_vlan_tpid);
      return object;
    }
  } else if (level == IPPROTO_IPV6) {
    in6_pktinfo info;
    if (type == IPV6_PKTINFO && Read(data, length, info)) {
      Napi::Object object = Message(env, level, "IPV6_PKTINFO");
      object.Set("addr", Text(AF_INET6, &info.ipi6_addr));
      object.Set("ifindex", info.ipi6_ifindex);
      return object;
    }
    if (type == IPV6_HOPLIMIT && length >= sizeof(int)) return IntMessageOf(env, level, "IPV6_HOPLIMIT", data, length);
    if (type == IPV6_TCLASS && length >= sizeof(int)) return IntMessageOf(env, level, "IPV6_TCLASS", data, length);
    if (type == IPV6_RECVERR) return ExtendedError(env, level, "IPV6_RECVERR", data, length);
  }
  Napi::Object object = Napi::Object::New(env);  // anything else: raw
  object.Set("level", level);
  object.Set("type", type);
  object.Set("data", Napi::Buffer<unsigned char>::Copy(env, data, length));
  return object;
}

Napi::Array DecodeControl(Napi::Env env, msghdr& message) {
  Napi::Array list = Napi::Array::New(env);
  uint32_t n = 0;
  if (message.msg_controllen == 0) return list;
  ForEachCmsg(message, [&](cmsghdr* header, const unsigned char* data, size_t length) {
    list.Set(n++, DecodeOne(env, header, data, length));
  });
  return list;
}

// A receive buffer for control messages, aligned for cmsghdr.
class ControlBuffer {
 public:
  void Allocate(size_t length) { storage_.assign((length + sizeof(cmsghdr) - 1) / sizeof(cmsghdr), cmsghdr{}); length_ = length; }
  void* data() { return length_ ? storage_.data() : nullptr; }
  size_t length() const { return length_; }

 private:
  std::vector<cmsghdr> storage_;
  size_t length_ = 0;
};

size_t ArgControlLength(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<size_t>(ArgIntOr(info, index, "controlLength", 0, kMaxControl, 0));
}

// ---- the calls ----------------------------------------------------------------------

// One call that loops on EINTR (handlers run, then pointers are taken again);
// `attempt`: would-block returns -EAGAIN instead of waiting.
template <typename Prepare, typename Call>
ssize_t Run(Napi::Env env, const char* syscall, int fd, bool attempt, Prepare&& prepare, Call&& call) {
  for (;;) {
    prepare();  // takes the raw pointers: nothing between here and the call runs JS
    ssize_t result = call();
    if (result != -1) return result;
    int err = errno;
    if (attempt && (err == EAGAIN || err == EWOULDBLOCK)) return -EAGAIN;
    if (err != EINTR) ThrowErrno(env, syscall, err);
    HandleInterruption(env, syscall, {fd});  // and fd is still the file it was
  }
}

// sendmsg(fd, buffers, control?, flags?, address?) -> bytes sent
Napi::Value SendMsgImpl(const Napi::CallbackInfo& info, bool attempt) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2) ThrowTypeError(env, "missing argument: buffers");
  int flags = ArgFlags(info, 3) | (attempt ? MSG_DONTWAIT | MSG_NOSIGNAL : 0);
  bool hasAddress = !IsMissing(info, 4) && !info[4].IsNull();
  SockAddr address;
  if (hasAddress) address = ArgSockAddr(info, 4);
  Control control;
  control.Encode(env, info.Length() > 2 ? info[2] : env.Undefined());
  IoList buffers;
  buffers.Collect(env, info[1], "buffers", true);
  msghdr message{};
  ssize_t n = Run(
      env, "sendmsg", fd, attempt,
      [&] {
        buffers.Acquire(env, "sendmsg", "buffers");
        message.msg_name = hasAddress ? address.get() : nullptr;
        message.msg_namelen = hasAddress ? address.length : 0;
        message.msg_iov = buffers.vectors();
        message.msg_iovlen = buffers.count();
        message.msg_control = control.data();
        message.msg_controllen = control.length();
      },
      [&] { return ::sendmsg(fd, &message, flags); });
  return Count(env, n);
}

Napi::Object ReceivedMessage(Napi::Env env, ssize_t bytes, msghdr& message, const SockAddr& peer) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Count(env, bytes));
  result.Set("flags", message.msg_flags);
  result.Set("address", FromSockAddr(env, peer.storage, message.msg_namelen));
  result.Set("control", DecodeControl(env, message));
  return result;
}

// recvmsg(fd, buffers, controlLength?, flags?) -> { bytes, flags, address, control }
Napi::Value RecvMsgImpl(const Napi::CallbackInfo& info, bool attempt) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2) ThrowTypeError(env, "missing argument: buffers");
  size_t controlLength = ArgControlLength(info, 2);
  int flags = ArgFlags(info, 3) | (attempt ? MSG_DONTWAIT : 0);
  IoList buffers;
  buffers.Collect(env, info[1], "buffers", false);
  ControlBuffer control;
  control.Allocate(controlLength);
  SockAddr peer;
  msghdr message{};
  ssize_t n = Run(
      env, "recvmsg", fd, attempt,
      [&] {
        buffers.Acquire(env, "recvmsg", "buffers");
        message = msghdr{};
        message.msg_name = peer.get();
        message.msg_namelen = sizeof peer.storage;
        message.msg_iov = buffers.vectors();
        message.msg_iovlen = buffers.count();
        message.msg_control = control.data();
        message.msg_controllen = control.length();
      },
      [&] { return ::recvmsg(fd, &message, flags); });
  if (n < 0) return Count(env, n);
  ReceivedFds owned;
  OwnReceivedFds(message, owned);
  Napi::Object result = ReceivedMessage(env, n, message, peer);
  owned.Release();  // JS holds them now
  return result;
}

// readv(fd, buffers) -> bytes read, 0 at EOF
Napi::Value Readv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2) ThrowTypeError(env, "missing argument: buffers");
  IoList buffers;
  buffers.Collect(env, info[1], "buffers", false);
  ssize_t n = Run(
      env, "readv", fd, false, [&] { buffers.Acquire(env, "readv", "buffers"); },
      [&] { return ::readv(fd, buffers.vectors(), static_cast<int>(buffers.count())); });
  return Count(env, n);
}

// One message of a sendmmsg batch: Data | Data[] | { buffers, address?, control? }.
struct OutMessage {
  IoList buffers;
  Control control;
  SockAddr address;
  bool hasAddress = false;
};

bool IsPlainData(Napi::Value value) {
  return value.IsArray() || value.IsString() || value.IsTypedArray() || value.IsArrayBuffer() || value.IsDataView();
}

// sendmmsg(fd, messages, flags?) -> messages sent
Napi::Value SendMmsgImpl(const Napi::CallbackInfo& info, bool attempt) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2 || !info[1].IsArray()) ThrowTypeError(env, "messages must be an array");
  int flags = ArgFlags(info, 2) | (attempt ? MSG_DONTWAIT | MSG_NOSIGNAL : 0);
  Napi::Array array = info[1].As<Napi::Array>();
  uint32_t count = array.Length();
  if (count == 0 || count > kMaxMessages)
    ThrowRangeError(env, "sendmmsg takes 1.." + std::to_string(kMaxMessages) + " messages (UIO_MAXIOV)");
  std::vector<Napi::Value> values;
  values.reserve(count);
  for (uint32_t i = 0; i < count; ++i) values.push_back(array.Get(i));
  std::vector<OutMessage> messages(count);
  size_t vectors = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = "messages[" + std::to_string(i) + "]";
    OutMessage& out = messages[i];
    if (IsPlainData(values[i])) {
      out.buffers.Collect(env, values[i], name.c_str(), true);
    } else {
      if (!values[i].IsObject()) ThrowTypeError(env, name + " must be data or { buffers, address?, control? }");
      Napi::Object object = values[i].As<Napi::Object>();
      Napi::Value address = object.Get("address");
      if (!address.IsUndefined() && !address.IsNull()) {
        out.address = ToSockAddr(env, address, (name + ".address").c_str());
        out.hasAddress = true;
      }
      out.control.Encode(env, object.Get("control"));
      Napi::Value buffers = object.Get("buffers");
      if (buffers.IsUndefined()) ThrowTypeError(env, name + ".buffers is required");
      out.buffers.Collect(env, buffers, (name + ".buffers").c_str(), true);
    }
    vectors += out.buffers.count();
    if (vectors > kMaxBatchVectors) ThrowRangeError(env, "sendmmsg: more than " + std::to_string(kMaxBatchVectors) + " buffers in one batch");
  }
  std::vector<mmsghdr> headers(count);
  ssize_t sent = Run(
      env, "sendmmsg", fd, attempt,
      [&] {
        for (uint32_t i = 0; i < count; ++i) {
          OutMessage& out = messages[i];
          out.buffers.Acquire(env, "sendmmsg", "buffers");
          msghdr& message = headers[i].msg_hdr;
          message = msghdr{};
          message.msg_name = out.hasAddress ? out.address.get() : nullptr;
          message.msg_namelen = out.hasAddress ? out.address.length : 0;
          message.msg_iov = out.buffers.vectors();
          message.msg_iovlen = out.buffers.count();
          message.msg_control = out.control.data();
          message.msg_controllen = out.control.length();
          headers[i].msg_len = 0;
        }
      },
      [&] { return static_cast<ssize_t>(::sendmmsg(fd, headers.data(), count, flags)); });
  return Count(env, sent);
}

// recvmmsg(fd, buffers, flags?, controlLength?) -> [{ bytes, flags, address, control }]
// Each element of `buffers` is one message's buffer (or array of buffers).
// Blocking without MSG_WAITFORONE waits for all of them, as in C.
Napi::Value RecvMmsgImpl(const Napi::CallbackInfo& info, bool attempt) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2 || !info[1].IsArray()) ThrowTypeError(env, "buffers must be an array (one entry per message)");
  int flags = ArgFlags(info, 2) | (attempt ? MSG_DONTWAIT : 0);
  size_t controlLength = ArgControlLength(info, 3);
  Napi::Array array = info[1].As<Napi::Array>();
  uint32_t count = array.Length();
  if (count == 0 || count > kMaxMessages)
    ThrowRangeError(env, "recvmmsg takes 1.." + std::to_string(kMaxMessages) + " messages (UIO_MAXIOV)");
  if (controlLength * count > kMaxBatchControl)
    ThrowRangeError(env, "recvmmsg: controlLength x messages exceeds " + std::to_string(kMaxBatchControl) + " bytes");
  std::vector<Napi::Value> values;
  values.reserve(count);
  for (uint32_t i = 0; i < count; ++i) values.push_back(array.Get(i));
  std::vector<IoList> lists(count);
  size_t vectors = 0;
  for (uint32_t i = 0; i < count; ++i) {
    lists[i].Collect(env, values[i], ("buffers[" + std::to_string(i) + "]").c_str(), false);
    vectors += lists[i].count();
    if (vectors > kMaxBatchVectors) ThrowRangeError(env, "recvmmsg: more than " + std::to_string(kMaxBatchVectors) + " buffers in one batch");
  }
  std::vector<ControlBuffer> controls(count);
  for (ControlBuffer& control : controls) control.Allocate(controlLength);
  std::vector<SockAddr> peers(count);
  std::vector<mmsghdr> headers(count);
  ssize_t received = Run(
      env, "recvmmsg", fd, attempt,
      [&] {
        for (uint32_t i = 0; i < count; ++i) {
          lists[i].Acquire(env, "recvmmsg", "buffers");
          msghdr& message = headers[i].msg_hdr;
          message = msghdr{};
          message.msg_name = peers[i].get();
          message.msg_namelen = sizeof peers[i].storage;
          message.msg_iov = lists[i].vectors();
          message.msg_iovlen = lists[i].count();
          message.msg_control = controls[i].data();
          message.msg_controllen = controls[i].length();
          headers[i].msg_len = 0;
        }
      },
      [&] { return static_cast<ssize_t>(::recvmmsg(fd, headers.data(), count, flags, nullptr)); });
  if (received < 0) return Count(env, received);
  ReceivedFds owned;
  for (ssize_t i = 0; i < received; ++i) OwnReceivedFds(headers[i].msg_hdr, owned);
  Napi::Array result = Napi::Array::New(env);
  for (ssize_t i = 0; i < received; ++i)
    result.Set(static_cast<uint32_t>(i), ReceivedMessage(env, headers[i].msg_len, headers[i].msg_hdr, peers[i]));
  owned.Release();
  return result;
}

// CMSG_SPACE(n) / CMSG_LEN(n): the sizes C computes for a control buffer.
Napi::Value CmsgSpace(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CMSG_SPACE(ArgInt(info, 0, "length", 0, kMaxControl))));
}
Napi::Value CmsgLen(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CMSG_LEN(ArgInt(info, 0, "length", 0, kMaxControl))));
}

Napi::Value SendMsg(const Napi::CallbackInfo& info) { return SendMsgImpl(info, false); }
Napi::Value TrySendMsg(const Napi::CallbackInfo& info) { return SendMsgImpl(info, true); }
Napi::Value RecvMsg(const Napi::CallbackInfo& info) { return RecvMsgImpl(info, false); }
Napi::Value TryRecvMsg(const Napi::CallbackInfo& info) { return RecvMsgImpl(info, true); }
Napi::Value SendMmsg(const Napi::CallbackInfo& info) { return SendMmsgImpl(info, false); }
Napi::Value TrySendMmsg(const Napi::CallbackInfo& info) { return SendMmsgImpl(info, true); }
Napi::Value RecvMmsg(const Napi::CallbackInfo& info) { return RecvMmsgImpl(info, false); }
Napi::Value TryRecvMmsg(const Napi::CallbackInfo& info) { return RecvMmsgImpl(info, true); }


void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sendmsg", Napi::Function::New(env, SendMsg, "sendmsg"));
  exports.Set("recvmsg", Napi::Function::New(env, RecvMsg, "recvmsg"));
  exports.Set("readv", Napi::Function::New(env, Readv, "readv"));
  exports.Set("sendmmsg", Napi::Function::New(env, SendMmsg, "sendmmsg"));
  exports.Set("recvmmsg", Napi::Function::New(env, RecvMmsg, "recvmmsg"));
  exports.Set("trySendmsg", Napi::Function::New(env, TrySendMsg, "trySendmsg"));
  exports.Set("tryRecvmsg", Napi::Function::New(env, TryRecvMsg, "tryRecvmsg"));
  exports.Set("trySendmmsg", Napi::Function::New(env, TrySendMmsg, "trySendmmsg"));
  exports.Set("tryRecvmmsg", Napi::Function::New(env, TryRecvMmsg, "tryRecvmmsg"));
  exports.Set("CMSG_SPACE", Napi::Function::New(env, CmsgSpace, "CMSG_SPACE"));
  exports.Set("CMSG_LEN", Napi::Function::New(env, CmsgLen, "CMSG_LEN"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(SCM_RIGHTS); SOCKFD_CONSTANT(SCM_CREDENTIALS); SOCKFD_CONSTANT(SCM_TIMESTAMP); SOCKFD_CONSTANT(SCM_TIMESTAMPNS); SOCKFD_CONSTANT(SCM_TIMESTAMPING);
  SOCKFD_CONSTANT(SO_TIMESTAMPNS); SOCKFD_CONSTANT(SO_TIMESTAMPING); SOCKFD_CONSTANT(SO_RXQ_OVFL); SOCKFD_CONSTANT(SO_SELECT_ERR_QUEUE);
  SOCKFD_CONSTANT(SO_TIMESTAMP_OLD); SOCKFD_CONSTANT(SO_TIMESTAMPNS_OLD); SOCKFD_CONSTANT(SO_TIMESTAMPING_OLD);
  SOCKFD_CONSTANT(SO_TIMESTAMP_NEW); SOCKFD_CONSTANT(SO_TIMESTAMPNS_NEW); SOCKFD_CONSTANT(SO_TIMESTAMPING_NEW);
  SOCKFD_CONSTANT(MSG_CMSG_CLOEXEC); SOCKFD_CONSTANT(MSG_WAITFORONE); SOCKFD_CONSTANT(MSG_FASTOPEN); SOCKFD_CONSTANT(MSG_BATCH);
  SOCKFD_CONSTANT(UIO_MAXIOV);
  SOCKFD_CONSTANT(IP_PKTINFO); SOCKFD_CONSTANT(IP_RECVTOS); SOCKFD_CONSTANT(IP_RECVTTL); SOCKFD_CONSTANT(IP_RECVOPTS); SOCKFD_CONSTANT(IP_RETOPTS); SOCKFD_CONSTANT(IP_RECVORIGDSTADDR);
  SOCKFD_CONSTANT(IP_ORIGDSTADDR); SOCKFD_CONSTANT(IP_PMTUDISC_DONT); SOCKFD_CONSTANT(IP_PMTUDISC_WANT); SOCKFD_CONSTANT(IP_PMTUDISC_DO); SOCKFD_CONSTANT(IP_PMTUDISC_PROBE);
  SOCKFD_CONSTANT(IP_MTU); SOCKFD_CONSTANT(IP_OPTIONS); SOCKFD_CONSTANT(IP_HDRINCL);
  SOCKFD_CONSTANT(IPV6_RECVPKTINFO); SOCKFD_CONSTANT(IPV6_PKTINFO); SOCKFD_CONSTANT(IPV6_RECVHOPLIMIT); SOCKFD_CONSTANT(IPV6_HOPLIMIT); SOCKFD_CONSTANT(IPV6_RECVTCLASS);
  SOCKFD_CONSTANT(IPV6_TCLASS); SOCKFD_CONSTANT(IPV6_RECVERR); SOCKFD_CONSTANT(IPV6_MTU_DISCOVER); SOCKFD_CONSTANT(IPV6_MTU);
  SOCKFD_CONSTANT(SO_EE_ORIGIN_NONE); SOCKFD_CONSTANT(SO_EE_ORIGIN_LOCAL); SOCKFD_CONSTANT(SO_EE_ORIGIN_ICMP); SOCKFD_CONSTANT(SO_EE_ORIGIN_ICMP6);
  SOCKFD_CONSTANT(SO_EE_ORIGIN_TXSTATUS); SOCKFD_CONSTANT(SO_EE_ORIGIN_ZEROCOPY); SOCKFD_CONSTANT(SO_EE_ORIGIN_TXTIME); SOCKFD_CONSTANT(SO_EE_CODE_ZEROCOPY_COPIED);
  SOCKFD_CONSTANT(SOF_TIMESTAMPING_TX_HARDWARE); SOCKFD_CONSTANT(SOF_TIMESTAMPING_TX_SOFTWARE); SOCKFD_CONSTANT(SOF_TIMESTAMPING_RX_HARDWARE);
  SOCKFD_CONSTANT(SOF_TIMESTAMPING_RX_SOFTWARE); SOCKFD_CONSTANT(SOF_TIMESTAMPING_SOFTWARE); SOCKFD_CONSTANT(SOF_TIMESTAMPING_RAW_HARDWARE);
  SOCKFD_CONSTANT(SOF_TIMESTAMPING_OPT_ID); SOCKFD_CONSTANT(SOF_TIMESTAMPING_TX_SCHED); SOCKFD_CONSTANT(SOF_TIMESTAMPING_TX_ACK);
  SOCKFD_CONSTANT(SOF_TIMESTAMPING_OPT_TSONLY);
  SOCKFD_CONSTANT(TCP_FASTOPEN_CONNECT); SOCKFD_CONSTANT(TCP_FASTOPEN_NO_COOKIE); SOCKFD_CONSTANT(TCP_FASTOPEN_KEY); SOCKFD_CONSTANT(TCP_ZEROCOPY_RECEIVE);
  SOCKFD_CONSTANT(TCPI_OPT_TIMESTAMPS); SOCKFD_CONSTANT(TCPI_OPT_SACK); SOCKFD_CONSTANT(TCPI_OPT_WSCALE); SOCKFD_CONSTANT(TCPI_OPT_ECN); SOCKFD_CONSTANT(TCPI_OPT_SYN_DATA);
}


}  // namespace
SOCKFD_REGISTER(msg, Init);
}  // namespace sockfd
