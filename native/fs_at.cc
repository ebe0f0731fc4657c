// Files relative to an open directory: openat, mkdirat, unlinkat, renameat,
// fstatat/fstat, fstatvfs. A server that works by directory fd keeps working
// in the directory it opened even when the path is swapped for a symbolic
// link mid-upload, and names in its messages never need the full path.
//
// Arguments: every one is a number or a string, checked before the call
// (IsNumber/IsString: no getter, valueOf or proxy can run); the names are
// copied into std::string first, so nothing can change under the syscall.
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>

#include "common.h"

namespace sockfd {
namespace {

// A directory fd: an open fd (0..INT32_MAX) or AT_FDCWD.
int ArgDirFd(const Napi::CallbackInfo& info, size_t index, const char* name) {
  int64_t fd = ArgInt(info, index, name, AT_FDCWD, INT32_MAX);
  if (fd < 0 && fd != AT_FDCWD)
    ThrowRangeError(info.Env(), std::string(name) + " must be an open fd or AT_FDCWD, got " + std::to_string(fd));
  return static_cast<int>(fd);
}

// A path relative to a directory fd: a string without NUL, shorter than PATH_MAX;
// empty only when `emptyAllowed` (AT_EMPTY_PATH).
std::string ArgPath(const Napi::CallbackInfo& info, size_t index, const char* name, bool emptyAllowed = false) {
  std::string path = ArgString(info, index, name);
  if (path.find('\0') != std::string::npos) ThrowTypeError(info.Env(), std::string(name) + " must not contain NUL");
  if (path.size() >= PATH_MAX)
    ThrowRangeError(info.Env(), std::string(name) + " is " + std::to_string(path.size()) + " bytes, PATH_MAX is " + std::to_string(PATH_MAX));
  if (path.empty() && !emptyAllowed) ThrowRangeError(info.Env(), std::string(name) + " must not be empty");
  return path;
}

Napi::Object StatObject(Napi::Env env, const struct stat& st) {
  Napi::Object result = Napi::Object::New(env);
  auto number = [&](const char* key, double value) { result.Set(key, Napi::Number::New(env, value)); };
  number("dev", static_cast<double>(st.st_dev));
  number("ino", static_cast<double>(st.st_ino));
  number("mode", static_cast<double>(st.st_mode));
  number("nlink", static_cast<double>(st.st_nlink));
  number("uid", static_cast<double>(st.st_uid));
  number("gid", static_cast<double>(st.st_gid));
  number("rdev", static_cast<double>(st.st_rdev));
  number("size", static_cast<double>(st.st_size));
  number("blksize", static_cast<double>(st.st_blksize));
  number("blocks", static_cast<double>(st.st_blocks));
  auto ms = [](const timespec& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6; };
  number("atimeMs", ms(st.st_atim));
  number("mtimeMs", ms(st.st_mtim));
  number("ctimeMs", ms(st.st_ctim));
  return result;
}

// openat(dirfd, path, flags = O_RDONLY, mode = 0o666) -> fd. Blocking: a FIFO's open waits for its peer.
Napi::Value OpenAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgDirFd(info, 0, "dirfd");
  std::string path = ArgPath(info, 1, "path");
  int flags = static_cast<int>(ArgIntOr(info, 2, "flags", INT32_MIN, INT32_MAX, O_RDONLY));
  mode_t mode = static_cast<mode_t>(ArgIntOr(info, 3, "mode", 0, 07777, 0666));
  // After signal handlers ran, the directory fd must still be the directory it was (Blocking's check).
  auto call = [&] { return ::openat(dirfd, path.c_str(), flags, mode); };
  int fd = dirfd >= 0 ? Blocking(info.Env(), "openat", {dirfd}, call) : Blocking(info.Env(), "openat", call);
  return Napi::Number::New(info.Env(), fd);
}

// mkdirat(dirfd, path, mode = 0o777)
Napi::Value MkdirAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgDirFd(info, 0, "dirfd");
  std::string path = ArgPath(info, 1, "path");
  mode_t mode = static_cast<mode_t>(ArgIntOr(info, 2, "mode", 0, 07777, 0777));
  Checked(info.Env(), "mkdirat", [&] { return ::mkdirat(dirfd, path.c_str(), mode); });
  return info.Env().Undefined();
}

// unlinkat(dirfd, path, flags = 0); flags: 0 or AT_REMOVEDIR.
Napi::Value UnlinkAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgDirFd(info, 0, "dirfd");
  std::string path = ArgPath(info, 1, "path");
  int flags = static_cast<int>(ArgIntOr(info, 2, "flags", 0, INT32_MAX, 0));
  if ((flags & ~AT_REMOVEDIR) != 0) ThrowRangeError(info.Env(), "unlinkat: flags must be 0 or AT_REMOVEDIR");
  Checked(info.Env(), "unlinkat", [&] { return ::unlinkat(dirfd, path.c_str(), flags); });
  return info.Env().Undefined();
}

// renameat(olddirfd, oldpath, newdirfd, newpath, flags = 0); flags: RENAME_NOREPLACE, RENAME_EXCHANGE
// (renameat2). Replaces a symbolic link at newpath itself, never what it points to.
Napi::Value RenameAt(const Napi::CallbackInfo& info) {
  int oldDirFd = ArgDirFd(info, 0, "olddirfd");
  std::string oldPath = ArgPath(info, 1, "oldpath");
  int newDirFd = ArgDirFd(info, 2, "newdirfd");
  std::string newPath = ArgPath(info, 3, "newpath");
  int flags = static_cast<int>(ArgIntOr(info, 4, "flags", 0, INT32_MAX, 0));
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
    ThrowRangeError(info.Env(), "renameat: flags must be 0, RENAME_NOREPLACE or RENAME_EXCHANGE");
  if (flags == 0) {
    Checked(info.Env(), "renameat", [&] { return ::renameat(oldDirFd, oldPath.c_str(), newDirFd, newPath.c_str()); });
  } else {
    Checked(info.Env(), "renameat2",
            [&] { return ::renameat2(oldDirFd, oldPath.c_str(), newDirFd, newPath.c_str(), static_cast<unsigned>(flags)); });
  }
  return info.Env().Undefined();
}

// fstatat(dirfd, path, flags = 0) -> stat; flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.
Napi::Value FstatAt(const Napi::CallbackInfo& info) {
  int dirfd = ArgDirFd(info, 0, "dirfd");
  int flags = static_cast<int>(ArgIntOr(info, 2, "flags", 0, INT32_MAX, 0));
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) != 0)
    ThrowRangeError(info.Env(), "fstatat: flags must be a combination of AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH");
  std::string path = ArgPath(info, 1, "path", (flags & AT_EMPTY_PATH) != 0);
  struct stat st {};
  Checked(info.Env(), "fstatat", [&] { return ::fstatat(dirfd, path.c_str(), &st, flags); });
  return StatObject(info.Env(), st);
}

// fstat(fd) -> stat
Napi::Value Fstat(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  struct stat st {};
  Checked(info.Env(), "fstat", [&] { return ::fstat(fd, &st); });
  return StatObject(info.Env(), st);
}

// fstatvfs(fd) -> { bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax }
Napi::Value Fstatvfs(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  struct statvfs st {};
  Blocking(info.Env(), "fstatvfs", {fd}, [&] { return ::fstatvfs(fd, &st); });
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  auto number = [&](const char* key, double value) { result.Set(key, Napi::Number::New(env, value)); };
  number("bsize", static_cast<double>(st.f_bsize));
  number("frsize", static_cast<double>(st.f_frsize));
  number("blocks", static_cast<double>(st.f_blocks));
  number("bfree", static_cast<double>(st.f_bfree));
  number("bavail", static_cast<double>(st.f_bavail));
  number("files", static_cast<double>(st.f_files));
  number("ffree", static_cast<double>(st.f_ffree));
  number("favail", static_cast<double>(st.f_favail));
  number("flag", static_cast<double>(st.f_flag));
  number("namemax", static_cast<double>(st.f_namemax));
  return result;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openat", Napi::Function::New(env, OpenAt, "openat"));
  exports.Set("mkdirat", Napi::Function::New(env, MkdirAt, "mkdirat"));
  exports.Set("unlinkat", Napi::Function::New(env, UnlinkAt, "unlinkat"));
  exports.Set("renameat", Napi::Function::New(env, RenameAt, "renameat"));
  exports.Set("fstatat", Napi::Function::New(env, FstatAt, "fstatat"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("fstatvfs", Napi::Function::New(env, Fstatvfs, "fstatvfs"));
  Napi::Object constants = ConstantsObject(env, exports);
  SOCKFD_CONSTANT(AT_FDCWD); SOCKFD_CONSTANT(AT_REMOVEDIR); SOCKFD_CONSTANT(AT_SYMLINK_NOFOLLOW); SOCKFD_CONSTANT(AT_EMPTY_PATH);
  SOCKFD_CONSTANT(RENAME_NOREPLACE); SOCKFD_CONSTANT(RENAME_EXCHANGE);
  SOCKFD_CONSTANT(S_IFMT); SOCKFD_CONSTANT(S_IFREG); SOCKFD_CONSTANT(S_IFDIR); SOCKFD_CONSTANT(S_IFLNK); SOCKFD_CONSTANT(S_IFIFO); SOCKFD_CONSTANT(S_IFSOCK); SOCKFD_CONSTANT(S_IFCHR); SOCKFD_CONSTANT(S_IFBLK);
  SOCKFD_CONSTANT(ST_RDONLY);
}

}  // namespace
SOCKFD_REGISTER(fs_at, Init);
}  // namespace sockfd
