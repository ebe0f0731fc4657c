// demo6: the server that binds INADDR_ANY (every interface's IP serves), or
// with --bind one address given as text through inet_addr(), the tutorial's
// commented-out "method 1".
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { runOneClientServer } from './server.js';
import { serverUsage, twinHelp, type TwinOption } from './support/tutorial-io.js';

const options: Record<string, TwinOption> = {
  bind: { kind: 'text', description: "bind this IP (inet_addr) instead of INADDR_ANY: the tutorial's method 1" },
};

export const demo: Demo = {
  name: 'any-addr',
  programs: ['demo6'],
  summary: 'demo6: a server on INADDR_ANY (every IP of the host) or, with --bind, on one address',
  usage: twinHelp(
    'demo6: servaddr.sin_addr.s_addr = htonl(INADDR_ANY), so clients reach the server through\nany IP of the host (127.0.0.1, the LAN address, ...). With --bind IP it uses\ninet_addr(IP) instead and only that address answers.',
    serverUsage('any-addr'),
    options,
  ),
  run: (argv) =>
    runOneClientServer('any-addr', argv, options, (parsed) => {
      const ip = parsed.strings['bind'];
      return ip === undefined ? posix.htonl(posix.INADDR_ANY) : posix.inet_addr(ip);
    }),
};
