// demo4: open(2) data.txt read-only, print the fd, read and print the text.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { DATA_FILE } from './file-write.js';
import { C_FAILURE, cString, parseTwinArgs, perror, print, twinHelp } from './support/tutorial-io.js';

export const demo: Demo = {
  name: 'file-read',
  programs: ['demo4'],
  summary: 'demo4: open(2) data.txt read-only, print 文件描述符fd=N and the text',
  usage: twinHelp(
    'demo4: fd = open("data.txt", O_RDONLY), print the fd, read() up to 1024 bytes and\nprint them (printf("%s"): up to the first NUL), close. Run file-write first.',
    'usage: sockfd demo file-read',
    {},
  ),
  run(argv) {
    parseTwinArgs(argv, {});
    let fd: number;
    try {
      fd = posix.open(DATA_FILE, posix.O_RDONLY);
    } catch (error) {
      perror(`open(${DATA_FILE})`, error);
      return C_FAILURE;
    }
    print(`文件描述符fd=${fd}\n`);
    const buffer = Buffer.alloc(1024);
    try {
      posix.read(fd, buffer);
    } catch (error) {
      perror('write()', error); // sic: the tutorial's demo4 says write() here
      return C_FAILURE;
    }
    print(cString(buffer));
    posix.close(fd);
    return 0;
  },
};
