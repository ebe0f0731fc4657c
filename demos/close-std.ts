// The fd section's close(0)/close(1)/close(2) experiments: close the chosen
// standard fds, then `cin >> ii; cout << ...; cerr << ...` shows what still
// works, and open("data.txt") takes the lowest free fd (0 once 0 is closed).
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { createDataFile, writeDataLine } from './file-write.js';
import { C_FAILURE, parseTwinArgs, print, printError, sleep, twinHelp, type TwinOption } from './support/tutorial-io.js';
import { UsageError } from '../tools/usage-error.js';

const options: Record<string, TwinOption> = {
  'hold-ms': { description: 'stay alive this long at the end so /proc/<pid>/fd can be read (the C sleep(100))', defaultValue: 0 },
};

const MAX_INPUT = 4096;

/** `cin >> ii` on fd 0: skip blanks, read an integer; 0 when fd 0 is closed, at EOF, or on junk (C++11). */
export function readIntFromStdin(): number {
  const chunk = Buffer.alloc(256);
  let text = '';
  for (;;) {
    const token = /^\s*([+-]?\d+)(\s|$)/.exec(text);
    if (token && token[2] !== '') break; // a number followed by a blank: done
    if (/^\s*[^\s+\-\d]/.test(text) || text.length > MAX_INPUT) return 0;
    let n: number;
    try {
      n = posix.read(0, chunk);
    } catch {
      return 0; // EBADF once fd 0 is closed: the stream just fails
    }
    if (n === 0) break;
    text += chunk.toString('utf8', 0, n);
  }
  const match = /^\s*([+-]?\d+)/.exec(text);
  if (!match) return 0;
  const value = Number(match[1]);
  return Math.max(-2147483648, Math.min(2147483647, value)); // C++ clamps on overflow
}

export const demo: Demo = {
  name: 'close-std',
  programs: [],
  summary: 'close fd 0, 1 and/or 2, show what still prints, and that open() takes the lowest free fd',
  usage: twinHelp(
    "The fd section's experiments: close the standard fds given (0 = stdin, 1 = stdout,\n2 = stderr), then `cin >> ii` (0 when stdin is closed), print \"cout ii = N\" on fd 1\nand \"cerr ii = N\" on fd 2 (lost when closed), then open(\"data.txt\") gets the lowest\nfree fd: 0 when 0 was closed. With 1 closed and 0 open, that fd is 1; printf's line\nis flushed at exit, after close(fd), so it is lost, as in C. With --hold-ms, look at\n/proc/<pid>/fd (or `sockfd fds <pid>`) meanwhile.",
    'usage: sockfd demo close-std [0] [1] [2] [--hold-ms N]',
    options,
  ),
  async run(argv) {
    const { positionals, numbers } = parseTwinArgs(argv, options);
    const chosen = new Set<number>();
    for (const text of positionals) {
      if (!/^[012]$/.test(text)) throw new UsageError(`only 0, 1 and 2 can be closed, got '${text}'`);
      chosen.add(Number(text));
    }
    for (const fd of [...chosen].sort()) posix.close(fd);
    const ii = readIntFromStdin();
    print(`cout ii = ${ii}\n`);
    printError(`cerr ii = ${ii}\n`);
    const fd = createDataFile();
    if (fd === null) return C_FAILURE;
    // printf() is buffered when fd 1 is not a terminal (or closed): C writes the
    // line at exit, after close(fd), so with fd 1 closed it is lost, not put in data.txt.
    const fdLine = `文件描述符fd=${fd}\n`;
    const deferred = chosen.has(1);
    if (!deferred) print(fdLine);
    if (!writeDataLine(fd)) return C_FAILURE;
    await sleep(numbers['hold-ms']!);
    posix.close(fd);
    if (deferred) print(fdLine);
    return 0;
  },
};
