// demo3: open(2) data.txt (created, truncated), print the fd, write one line.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { C_FAILURE, parseTwinArgs, perror, print, twinHelp } from './support/tutorial-io.js';

export const DATA_FILE = 'data.txt';
export const DATA_LINE = '我是一只傻傻鸟。\n';
/** The tutorial calls open() without a mode; 0666 (less the umask) is what a careful C program would pass. */
export const DATA_MODE = 0o666;

/** open("data.txt", O_CREAT|O_RDWR|O_TRUNC) with perror("open(data.txt)"); null on failure. */
export function createDataFile(): number | null {
  try {
    return posix.open(DATA_FILE, posix.O_CREAT | posix.O_RDWR | posix.O_TRUNC, DATA_MODE);
  } catch (error) {
    perror(`open(${DATA_FILE})`, error);
    return null;
  }
}

/** write(fd, "我是一只傻傻鸟。\n") with perror("write()"). */
export function writeDataLine(fd: number): boolean {
  try {
    posix.write(fd, DATA_LINE);
    return true;
  } catch (error) {
    perror('write()', error);
    return false;
  }
}

export const demo: Demo = {
  name: 'file-write',
  programs: ['demo3'],
  summary: 'demo3: open(2) data.txt, print 文件描述符fd=N, write 我是一只傻傻鸟。',
  usage: twinHelp(
    'demo3: fd = open("data.txt", O_CREAT|O_RDWR|O_TRUNC) in the current directory, print\nthe fd the kernel gave (the lowest free one), write "我是一只傻傻鸟。\\n", close.\n(Node itself holds fds 0..20 or so, so the number is higher than the C program\'s 3.)',
    'usage: sockfd demo file-write',
    {},
  ),
  run(argv) {
    parseTwinArgs(argv, {});
    const fd = createDataFile();
    if (fd === null) return C_FAILURE;
    print(`文件描述符fd=${fd}\n`);
    if (!writeDataLine(fd)) return C_FAILURE;
    posix.close(fd);
    return 0;
  },
};
