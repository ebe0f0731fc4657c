// The TCP buffer section: demo1 plus getsockopt(SO_SNDBUF/SO_RCVBUF) after
// connect(), printing send bufsize=N and recv bufsize=M.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { runHostClient } from './client.js';
import { clientUsage, print, sleepOption, twinHelp } from './support/tutorial-io.js';

export const demo: Demo = {
  name: 'bufsize',
  programs: [],
  summary: 'demo1 plus getsockopt SO_SNDBUF/SO_RCVBUF of the connected socket',
  usage: twinHelp(
    'The TCP buffer section: demo1 with getsockopt(SO_SNDBUF) and getsockopt(SO_RCVBUF) after\nconnect(), printing send bufsize=N / recv bufsize=M (Linux reports twice the\nbytes it counts as payload: the rest is its bookkeeping), then the three rounds.',
    clientUsage('bufsize', '192.168.101.139'),
    sleepOption,
  ),
  run: (argv) =>
    runHostClient('bufsize', argv, 3, (sockfd) => {
      print(`send bufsize=${posix.getsockopt(sockfd, posix.SOL_SOCKET, posix.SO_SNDBUF) as number}\n`);
      print(`recv bufsize=${posix.getsockopt(sockfd, posix.SOL_SOCKET, posix.SO_RCVBUF) as number}\n`);
    }),
};
