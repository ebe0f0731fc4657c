// Files relative to an open directory fd (openat(2) and its kin), so that a
// program can keep working inside the directory it opened: a path swapped
// for a symbolic link afterwards cannot redirect it, and its messages never
// need to name the full path. AT_FDCWD stands for the current directory.
import { binding } from './native.js';

/** struct stat, numbers in bytes and milliseconds. `mode & S_IFMT` is the type. */
export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** struct statvfs: free space is bavail * frsize bytes (for an unprivileged writer). */
export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  /** ST_RDONLY, ST_NOSUID, ... */
  flag: number;
  namemax: number;
}

interface FsAtBinding {
  openat(dirfd: number, path: string, flags?: number, mode?: number): number;
  mkdirat(dirfd: number, path: string, mode?: number): void;
  unlinkat(dirfd: number, path: string, flags?: number): void;
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags?: number): void;
  fstatat(dirfd: number, path: string, flags?: number): Stat;
  fstat(fd: number): Stat;
  fstatvfs(fd: number): StatVfs;
}

const native = binding as unknown as FsAtBinding;

/** openat(2): opens `path` relative to the directory `dirfd` (default flags O_RDONLY, mode 0o666 before the umask). */
export const openat: (dirfd: number, path: string, flags?: number, mode?: number) => number = native.openat;
/** mkdirat(2) (default mode 0o777 before the umask). */
export const mkdirat: (dirfd: number, path: string, mode?: number) => void = native.mkdirat;
/** unlinkat(2): removes a file, or an empty directory with AT_REMOVEDIR. */
export const unlinkat: (dirfd: number, path: string, flags?: number) => void = native.unlinkat;
/**
 * renameat(2), or renameat2(2) when `flags` is RENAME_NOREPLACE or
 * RENAME_EXCHANGE. A symbolic link at `newpath` is replaced itself, never followed.
 */
export const renameat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags?: number) => void = native.renameat;
/** fstatat(2); AT_SYMLINK_NOFOLLOW describes a link itself, AT_EMPTY_PATH with '' describes `dirfd`. */
export const fstatat: (dirfd: number, path: string, flags?: number) => Stat = native.fstatat;
/** fstat(2) */
export const fstat: (fd: number) => Stat = native.fstat;
/** fstatvfs(3): the file system that holds `fd`. */
export const fstatvfs: (fd: number) => StatVfs = native.fstatvfs;
