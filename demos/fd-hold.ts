// The fd section's last demo3: open data.txt and a socket, print both fds,
// then stay alive (sleep(100)) so /proc/<pid>/fd can be read. The twin also
// lists its own fds with their targets, since Node holds many more than 0, 1, 2.
import * as posix from '../lib/posix.js';
import { listFds } from '../lib/procfs.js';
import { formatFds } from '../tools/socket-format.js';
import type { Demo } from './support/demo.js';
import { createDataFile, writeDataLine } from './file-write.js';
import { C_FAILURE, parseTwinArgs, print, sleep, twinHelp, type TwinOption } from './support/tutorial-io.js';

const options: Record<string, TwinOption> = {
  'hold-ms': { description: 'how long to stay alive for probing (the C sleep(100))', defaultValue: 100_000, sleep: true },
  quiet: { kind: 'flag', description: 'print only what the C program prints (no fd listing)' },
};

export const demo: Demo = {
  name: 'fd-hold',
  programs: [],
  summary: 'open a file and a socket, print their fds, list /proc/self/fd, stay alive for probing',
  usage: twinHelp(
    'The fd section\'s demo3: fd = open("data.txt", ...), sockfd = socket(AF_INET, SOCK_STREAM, 0),\nprint both (文件描述符fd=N, sockfd=M: the next lowest free fds), write the line, then\nsleep so that `ls -l /proc/<pid>/fd` or `sockfd fds <pid>` can be run from another\nterminal. Then it lists its own fds with their targets: a socket is socket:[inode].',
    'usage: sockfd demo fd-hold [--hold-ms N] [--quiet]',
    options,
  ),
  async run(argv) {
    const { numbers, flags } = parseTwinArgs(argv, options);
    const fd = createDataFile();
    if (fd === null) return C_FAILURE;
    print(`文件描述符fd=${fd}\n`);
    const sockfd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
    print(`sockfd=${sockfd}\n`);
    if (!writeDataLine(fd)) return C_FAILURE;
    if (!flags['quiet']) print(`\n/proc/${process.pid}/fd:\n${formatFds(listFds())}\n`);
    await sleep(numbers['hold-ms']!);
    posix.close(fd);
    return 0;
  },
};
