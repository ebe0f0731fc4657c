// Registration, errno errors and argument validation shared by every concern.
#include "common.h"

#include <cmath>
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

// ---- arguments ------------------------------------------------------------
bool IsMissing(const Napi::CallbackInfo& info, size_t index) {
  return index >= info.Length() || info[index].IsUndefined();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
               int64_t max) {
  Napi::Env env = info.Env();
  if (index >= info.Length()) ThrowTypeError(env, std::string("missing argument: ") + name);
  napi_value value = info[index];
  double number;
  // Hot path: one call for an ordinary number; anything else takes the slow path.
  if (napi_get_value_double(env, value, &number) == napi_ok) {
    if (number >= static_cast<double>(min) && number <= static_cast<double>(max) && std::trunc(number) == number)
      return static_cast<int64_t>(number);
    if (!std::isfinite(number) || std::trunc(number) != number)
      ThrowTypeError(env, std::string(name) + " must be an integer, got " +
                              (std::isfinite(number) ? std::to_string(number) : "a non-finite number"));
    ThrowRangeError(env, std::string(name) + " is out of range (" + std::to_string(min) + ".." +
                             std::to_string(max) + "), got " + std::to_string(static_cast<int64_t>(number)));
  }
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_bigint) {
    int64_t result;
    bool lossless;
    napi_get_value_bigint_int64(env, value, &result, &lossless);
    if (!lossless || result < min || result > max)
      ThrowRangeError(env, std::string(name) + " is out of range (" + std::to_string(min) +
                               ".." + std::to_string(max) + ")");
    return result;
  }
  ThrowTypeError(env, std::string(name) + " must be an integer");
}

int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
                 int64_t max, int64_t fallback) {
  if (IsMissing(info, index)) return fallback;
  return ArgInt(info, index, name, min, max);
}

int ArgFd(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return static_cast<int>(ArgInt(info, index, name, 0, INT32_MAX));
}

std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsString())
    ThrowTypeError(info.Env(), std::string(name) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

Bytes ValueBytes(Napi::Env env, napi_value value, const char* name, StringPolicy strings) {
  Bytes bytes;
  napi_typedarray_type elementType;
  size_t elements;
  void* data;
  // Buffer is a Uint8Array: the hot path is one call, which fails (without
  // throwing) for anything that is not a TypedArray.
  if (napi_get_typedarray_info(env, value, &elementType, &elements, &data, nullptr, nullptr) == napi_ok) {
    size_t width = 1;
    switch (elementType) {
      case napi_int16_array: case napi_uint16_array: width = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: width = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: width = 8; break;
      default: width = 1;
    }
    bytes.base = static_cast<uint8_t*>(data);  // already adjusted by byteOffset
    bytes.length = elements * width;
    return bytes;
  }
  bool is = false;
  napi_is_dataview(env, value, &is);
  if (is) {
    size_t length;
    void* data;
    napi_get_dataview_info(env, value, &length, &data, nullptr, nullptr);
    bytes.base = static_cast<uint8_t*>(data);  // already adjusted by byteOffset
    bytes.length = length;
    return bytes;
  }
  napi_is_arraybuffer(env, value, &is);
  if (is) {
    void* data;
    size_t length;
    napi_get_arraybuffer_info(env, value, &data, &length);
    bytes.base = static_cast<uint8_t*>(data);
    bytes.length = length;
    return bytes;
  }
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_string && strings == StringPolicy::AcceptUtf8) {
    bytes.owned = Napi::String(env, value).Utf8Value();
    bytes.isOwned = true;
    bytes.length = bytes.owned.size();
    return bytes;
  }
  ThrowTypeError(env, std::string(name) +
                          (strings == StringPolicy::AcceptUtf8
                               ? " must be a Buffer, TypedArray, DataView, ArrayBuffer or string"
                               : " must be a Buffer, TypedArray, DataView or ArrayBuffer"));
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name, StringPolicy strings,
               size_t offsetIndex) {
  Napi::Env env = info.Env();
  if (index >= info.Length()) ThrowTypeError(env, std::string("missing argument: ") + name);
  Bytes bytes = ValueBytes(env, info[index], name, strings);
  size_t total = bytes.length;
  int64_t offset = ArgIntOr(info, offsetIndex, "offset", 0, static_cast<int64_t>(total), 0);
  int64_t length = ArgIntOr(info, offsetIndex + 1, "length", 0,
                            static_cast<int64_t>(total) - offset, static_cast<int64_t>(total) - offset);
  bytes.start = static_cast<size_t>(offset);
  bytes.length = static_cast<size_t>(length);
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

}  // namespace sockfd
