// The directory-fd calls (native/fs_at.cc): they work relative to the opened
// directory, even after the directory's path was swapped for a link; wrong
// arguments are TypeError/RangeError before any call; failures read like perror.
import { mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { fstat, fstatat, fstatvfs, mkdirat, openat, renameat, unlinkat } from '../lib/fs-at.js';
import { removeDir, scratchDir } from './helpers/transfer.js';

let root: string;
let dirFd: number;

beforeAll(() => {
  root = scratchDir('fs-at');
  mkdirSync(join(root, 'dir'));
  dirFd = openat(posix.AT_FDCWD, join(root, 'dir'), posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC);
});

afterAll(() => {
  posix.close(dirFd);
  removeDir(root);
});

describe('openat and kin', () => {
  it('create, stat, rename and unlink relative to the directory fd, also after its path became a link elsewhere', () => {
    renameSync(join(root, 'dir'), join(root, 'moved'));
    mkdirSync(join(root, 'elsewhere'));
    symlinkSync(join(root, 'elsewhere'), join(root, 'dir'));
    const fd = openat(dirFd, 'a.tmp', posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600);
    posix.write(fd, Buffer.from('hello'));
    expect(fstat(fd).size).toBe(5);
    posix.close(fd);
    const stat = fstatat(dirFd, 'a.tmp', posix.AT_SYMLINK_NOFOLLOW);
    expect(stat.mode & posix.S_IFMT).toBe(posix.S_IFREG);
    expect(stat.ino).toBe(statSync(join(root, 'moved', 'a.tmp')).ino);
    renameat(dirFd, 'a.tmp', dirFd, 'a.txt');
    expect(readFileSync(join(root, 'moved', 'a.txt'), 'utf8')).toBe('hello');
    writeFileSync(join(root, 'moved', 'b.txt'), 'b');
    expect(() => renameat(dirFd, 'a.txt', dirFd, 'b.txt', posix.RENAME_NOREPLACE)).toThrow(
      expect.objectContaining({ code: 'EEXIST', syscall: 'renameat2', message: 'renameat2: File exists' }),
    );
    mkdirat(dirFd, 'sub', 0o700);
    expect(fstatat(dirFd, 'sub').mode & posix.S_IFMT).toBe(posix.S_IFDIR);
    unlinkat(dirFd, 'sub', posix.AT_REMOVEDIR);
    unlinkat(dirFd, 'a.txt');
    expect(() => fstatat(dirFd, 'a.txt')).toThrow(expect.objectContaining({ code: 'ENOENT', errno: posix.ENOENT, message: 'fstatat: No such file or directory' }));
    expect(fstatat(dirFd, '', posix.AT_EMPTY_PATH).mode & posix.S_IFMT).toBe(posix.S_IFDIR);
    const vfs = fstatvfs(dirFd);
    expect(vfs.frsize).toBeGreaterThan(0);
    expect(vfs.bavail).toBeGreaterThanOrEqual(0);
  });

  it('refuses wrong arguments before any call', () => {
    const loose = { openat, unlinkat, renameat, fstatat } as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => loose.openat!(dirFd, 42)).toThrow(TypeError);
    expect(() => loose.openat!(dirFd, 'a\0b')).toThrow(TypeError);
    expect(() => loose.openat!('3', 'x')).toThrow(TypeError);
    expect(() => loose.openat!(1.5, 'x')).toThrow(TypeError);
    expect(() => loose.openat!(-5, 'x')).toThrow(RangeError);
    expect(() => loose.openat!(dirFd, '')).toThrow(RangeError);
    expect(() => loose.openat!(dirFd, 'x'.repeat(5000))).toThrow(RangeError);
    expect(() => loose.unlinkat!(dirFd, 'x', 12345)).toThrow(RangeError);
    expect(() => loose.renameat!(dirFd, 'x', dirFd, 'y', posix.RENAME_NOREPLACE | posix.RENAME_EXCHANGE)).toThrow(RangeError);
    expect(() => loose.fstatat!(dirFd, 'x', 0x10000000)).toThrow(RangeError);
    expect(() => loose.fstatat!(dirFd, '')).toThrow(RangeError);
  });
});
