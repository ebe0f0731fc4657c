// Registration, errno errors and argument validation shared by every concern.
#include "common.h"

#include <fcntl.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace sockfd {

namespace {
struct Registration {
  const char* name;
  InitFn fn;
};
std::vector<Registration>& Registrations() {
  static std::vector<Registration> list;  // built before main by static Registrars
  return list;
}
}  // namespace

Registrar::Registrar(const char* name, InitFn fn) { Registrations().push_back({name, fn}); }

void InitAll(Napi::Env env, Napi::Object exports) {
  for (const Registration& r : Registrations()) r.fn(env, exports);
}

Napi::Object ConstantsObject(Napi::Env env, Napi::Object exports) {
  if (exports.Has("constants")) return exports.Get("constants").As<Napi::Object>();
  Napi::Object constants = Napi::Object::New(env);
  exports.Set("constants", constants);
  return constants;
}

// ---- errors ---------------------------------------------------------------
std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32: names from the headers
  if (name != nullptr) return name;
  return "E" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  char text[256];
  const char* description = strerror_r(err, text, sizeof text);  // GNU variant
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + description);
  Napi::Object object = error.Value();
  object.Set("code", ErrnoName(err));
  object.Set("errno", err);
  object.Set("syscall", syscall);
  return error;
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) { throw ErrnoError(env, syscall, err); }
void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}
void ThrowRangeError(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

// ---- numbers --------------------------------------------------------------
namespace {

// "port", "address.port"
std::string Label(const char* name, const char* field) {
  return field == nullptr ? std::string(name) : std::string(name) + "." + field;
}

// A double as a person would write it: integers exactly, others as %g.
std::string NumberText(double number) {
  if (std::isnan(number)) return "NaN";
  if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
  char text[32];
  if (std::fabs(number) < 9007199254740992.0 && std::trunc(number) == number)
    std::snprintf(text, sizeof text, "%.0f", number);
  else
    std::snprintf(text, sizeof text, "%.17g", number);
  return text;
}

[[noreturn]] void OutOfRange(Napi::Env env, const char* name, const char* field, int64_t min, int64_t max,
                             const std::string& got) {
  ThrowRangeError(env, Label(name, field) + " is out of range (" + std::to_string(min) + ".." +
                           std::to_string(max) + "), got " + got);
}

}  // namespace

int64_t ToInteger(Napi::Env env, napi_value value, const char* name, const char* field, int64_t min,
                  int64_t max) {
  double number;
  // Hot path: one call for an ordinary number; anything else takes the slow path.
  if (napi_get_value_double(env, value, &number) == napi_ok) {
    // [-2^63, 2^63) holds every int64 and nothing beyond: the cast below is
    // defined only inside it (NaN fails every comparison).
    if (number >= -9223372036854775808.0 && number < 9223372036854775808.0 && std::trunc(number) == number) {
      int64_t integer = static_cast<int64_t>(number);
      if (integer >= min && integer <= max) return integer;
      OutOfRange(env, name, field, min, max, NumberText(number));
    }
    if (!std::isfinite(number) || std::trunc(number) != number)
      ThrowTypeError(env, Label(name, field) + " must be an integer, got " + NumberText(number));
    OutOfRange(env, name, field, min, max, NumberText(number));  // |number| >= 2^63
  }
  napi_valuetype type = napi_undefined;
  napi_typeof(env, value, &type);
  if (type == napi_bigint) {
    int64_t result = 0;
    bool lossless = false;
    napi_get_value_bigint_int64(env, value, &result, &lossless);
    if (!lossless) OutOfRange(env, name, field, min, max, "a bigint beyond 64 bits");
    if (result < min || result > max) OutOfRange(env, name, field, min, max, std::to_string(result) + "n");
    return result;
  }
  ThrowTypeError(env, Label(name, field) + " must be an integer");
}

int64_t FieldInt(Napi::Env env, Napi::Object object, const char* name, const char* key, int64_t min,
                 int64_t max, int64_t fallback) {
  Napi::Value value = object.Get(key);
  int64_t integer;
  if (IntegerInRange(env, value, min, max, integer)) return integer;
  if (value.IsUndefined()) return fallback;
  return ToInteger(env, value, name, key, min, max);
}

int64_t RequiredFieldInt(Napi::Env env, Napi::Object object, const char* name, const char* key, int64_t min,
                         int64_t max) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) ThrowTypeError(env, Label(name, key) + " must be an integer, got undefined");
  return ToInteger(env, value, name, key, min, max);
}

void CheckCount(Napi::Env env, const char* name, uint64_t count, uint64_t max) {
  if (count > max)
    ThrowRangeError(env, std::string(name) + " is too long: " + std::to_string(count) + " (at most " +
                             std::to_string(max) + ")");
}

// ---- arguments ------------------------------------------------------------
bool IsMissing(const Napi::CallbackInfo& info, size_t index) {
  return index >= info.Length() || info[index].IsUndefined();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
               int64_t max) {
  Napi::Env env = info.Env();
  if (index >= info.Length()) ThrowTypeError(env, std::string("missing argument: ") + name);
  return ToInteger(env, info[index], name, nullptr, min, max);
}

// The number first (one N-API call for the common case), undefined second.
int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
                 int64_t max, int64_t fallback) {
  if (index >= info.Length()) return fallback;
  napi_value value = info[index];
  int64_t integer;
  if (IntegerInRange(info.Env(), value, min, max, integer)) return integer;
  if (IsUndefinedValue(info.Env(), value)) return fallback;
  return ToInteger(info.Env(), value, name, nullptr, min, max);
}

int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return static_cast<int>(ArgInt(info, index, name, 0, INT32_MAX));
}

std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsString())
    ThrowTypeError(info.Env(), std::string(name) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

// ---- bytes ------------------------------------------------------------------
namespace {

size_t ElementWidth(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 1;
  }
}

bool IsDetached(napi_env env, napi_value buffer) {
  bool detached = false;
  return buffer != nullptr && napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached;
}

}  // namespace

// Validation looks at the view's type and length only; no pointer is taken
// (for a TypedArray that avoids materialising its buffer, too).
Bytes Bytes::Of(Napi::Env env, napi_value value, const char* name, bool acceptStrings) {
  Bytes bytes;
  bytes.env_ = env;
  bytes.value_ = value;
  bytes.name_ = name;
  napi_typedarray_type elementType;
  size_t elements;
  // Buffer is a Uint8Array: the hot path is one call, which fails (without
  // throwing) for anything that is not a TypedArray.
  if (napi_get_typedarray_info(env, value, &elementType, &elements, nullptr, nullptr, nullptr) == napi_ok) {
    bytes.kind_ = Kind::TypedArray;
    bytes.viewLength_ = elements * ElementWidth(elementType);
  } else if (bool is = false; napi_is_dataview(env, value, &is) == napi_ok && is) {
    bytes.kind_ = Kind::DataView;
    napi_get_dataview_info(env, value, &bytes.viewLength_, nullptr, nullptr, nullptr);
  } else if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    bytes.kind_ = Kind::ArrayBuffer;
    void* data;
    napi_get_arraybuffer_info(env, value, &data, &bytes.viewLength_);
  } else {
    napi_valuetype type = napi_undefined;
    napi_typeof(env, value, &type);
    if (type != napi_string || !acceptStrings)
      ThrowTypeError(env, std::string(name) +
                              (acceptStrings ? " must be a Buffer, TypedArray, DataView, ArrayBuffer or string"
                                             : " must be a Buffer, TypedArray, DataView or ArrayBuffer"));
    bytes.kind_ = Kind::String;
    bytes.owned_ = Napi::String(env, value).Utf8Value();  // a primitive: no JS runs
    bytes.viewLength_ = bytes.owned_.size();
  }
  bytes.length = bytes.viewLength_;
  return bytes;
}

uint8_t* Bytes::Acquire(const char* syscall) {
  if (kind_ == Kind::String) return reinterpret_cast<uint8_t*>(owned_.data()) + start_;
  void* data = nullptr;
  size_t now = 0;
  napi_value buffer = nullptr;
  napi_status status = napi_generic_failure;
  switch (kind_) {
    case Kind::TypedArray: {
      napi_typedarray_type elementType;
      size_t elements = 0;
      status = napi_get_typedarray_info(env_, value_, &elementType, &elements, &data, &buffer, nullptr);
      now = elements * ElementWidth(elementType);
      break;
    }
    case Kind::DataView:
      status = napi_get_dataview_info(env_, value_, &now, &data, &buffer, nullptr);
      break;
    case Kind::ArrayBuffer:
      buffer = value_;
      status = napi_get_arraybuffer_info(env_, value_, &data, &now);
      break;
    case Kind::String:
      break;
  }
  // The range must still lie inside the view. An empty range needs no memory.
  if (status == napi_ok && start_ <= now && length <= now - start_ && (data != nullptr || length == 0))
    return static_cast<uint8_t*>(data) + start_;
  Napi::Env env(env_);
  bool detached = status != napi_ok || IsDetached(env_, buffer) || data == nullptr;
  Napi::Error error = Napi::Error::New(
      env, std::string(syscall) + ": " + name_ +
               (detached ? " was detached" : " was resized and no longer holds the range") +
               " while the call ran (by a getter, a proxy or a signal handler); nothing was done with it");
  error.Value().Set("code", detached ? "ERR_BUFFER_DETACHED" : "ERR_BUFFER_RESIZED");
  error.Value().Set("syscall", syscall);
  throw error;
}

Bytes ValueBytes(Napi::Env env, napi_value value, const char* name, StringPolicy strings) {
  return Bytes::Of(env, value, name, strings == StringPolicy::AcceptUtf8);
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name, StringPolicy strings,
               size_t offsetIndex) {
  Napi::Env env = info.Env();
  if (index >= info.Length()) ThrowTypeError(env, std::string("missing argument: ") + name);
  Bytes bytes = ValueBytes(env, info[index], name, strings);
  int64_t total = static_cast<int64_t>(bytes.ViewLength());
  int64_t offset = ArgIntOr(info, offsetIndex, "offset", 0, total, 0);
  int64_t length = ArgIntOr(info, offsetIndex + 1, "length", 0, total - offset, total - offset);
  bytes.Narrow(static_cast<size_t>(offset), static_cast<size_t>(length));
  return bytes;
}

Bytes ArgReceiveBuffer(const Napi::CallbackInfo& info, size_t index, size_t offsetIndex, const char* syscall) {
  Bytes bytes = ArgBytes(info, index, "buffer", StringPolicy::Refuse, offsetIndex);
  if (bytes.length == 0)
    ThrowRangeError(info.Env(), std::string(syscall) +
                                    ": the buffer has no room; a 0 result would be indistinguishable from EOF");
  return bytes;
}

int ArgFlags(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<int>(ArgIntOr(info, index, "flags", 0, INT32_MAX, 0));
}

// ---- EINTR ------------------------------------------------------------------
OpenFiles::OpenFiles(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (count_ == sizeof files_ / sizeof files_[0]) break;
    struct stat st {};
    bool open = ::fstat(fd, &st) == 0;
    files_[count_++] = {fd, open, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  }
}

void OpenFiles::Check(Napi::Env env, const char* syscall) const {
  for (size_t i = 0; i < count_; ++i) {
    const Identity& before = files_[i];
    if (!before.open) continue;  // the call itself reports what was wrong with it
    struct stat st {};
    bool open = ::fstat(before.fd, &st) == 0;
    if (open && static_cast<uint64_t>(st.st_dev) == before.device && static_cast<uint64_t>(st.st_ino) == before.inode)
      continue;
    Napi::Error error = ErrnoError(env, syscall, EBADF);
    error.Value().Set("message", std::string(syscall) + ": fd " + std::to_string(before.fd) +
                                     (open ? " was closed and reused for another file" : " was closed") +
                                     " by a signal handler while the call waited (Bad file descriptor)");
    error.Value().Set("fd", before.fd);
    throw error;
  }
}

void MakeNonBlocking(Napi::Env env, int fd, const char* syscall) {
  int flags = Checked(env, syscall, [&] { return ::fcntl(fd, F_GETFL); });
  if ((flags & O_NONBLOCK) == 0) Checked(env, syscall, [&] { return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK); });
}

}  // namespace sockfd
