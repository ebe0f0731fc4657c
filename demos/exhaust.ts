// The socket() section's loop: create sockets until the process runs out of
// fds, printing `sockfd = N` for each, then perror("socket"): Too many open files.
import * as posix from '../lib/posix.js';
import { getrlimit, setrlimit } from '../lib/process.js';
import type { Demo } from './support/demo.js';
import { tcpSocket } from './support/exchange.js';
import { UsageError } from '../tools/usage-error.js';
import { C_FAILURE, clientUsage, parseTwinArgs, perror, print, twinHelp, type TwinOption } from './support/tutorial-io.js';

/** The tutorial machine's `ulimit -n`. */
const TUTORIAL_LIMIT = 1024;

const options: Record<string, TwinOption> = {
  limit: {
    kind: 'text',
    valueName: 'N',
    description: 'set RLIMIT_NOFILE (soft and hard) to N first; default: 1024 or the hard limit if lower',
  },
};

export const demo: Demo = {
  name: 'exhaust',
  programs: [],
  summary: 'socket() until "socket: Too many open files", printing each sockfd = N; --limit N',
  usage: twinHelp(
    "The socket() section's loop: sockfd = socket(AF_INET, SOCK_STREAM, 0) forever, printing\n\"sockfd = N\", until the open-files limit stops it with perror(\"socket\"):\n\"socket: Too many open files\". Node raises its soft limit to the hard one at start-up, so\nthe twin sets both: --limit N (or `ulimit -n N` in the shell, which lowers the hard limit\ntoo). The last fd is N-1. The two arguments of the C program are accepted and ignored.",
    `usage: sockfd demo exhaust [--limit N] [服务端的IP 服务端的端口]\n\nThe C program's usage:\n${clientUsage('exhaust', '192.168.101.139').trimEnd()}`,
    options,
  ),
  run(argv) {
    const { positionals, strings } = parseTwinArgs(argv, options);
    if (positionals.length !== 0 && positionals.length !== 2) {
      print(clientUsage('exhaust', '192.168.101.139'));
      return C_FAILURE;
    }
    const current = getrlimit(posix.RLIMIT_NOFILE);
    let limit = Math.min(TUTORIAL_LIMIT, current.hard);
    if (strings['limit'] !== undefined) {
      if (!/^\d+$/.test(strings['limit'])) throw new UsageError(`--limit takes a positive integer, got '${strings['limit']}'`);
      limit = Number(strings['limit']);
    }
    try {
      setrlimit(posix.RLIMIT_NOFILE, limit, limit);
    } catch (error) {
      perror('setrlimit', error);
      return C_FAILURE;
    }
    for (;;) {
      const sockfd = tcpSocket();
      if (sockfd === null) return C_FAILURE;
      print(`sockfd = ${sockfd}\n`);
    }
  },
};
