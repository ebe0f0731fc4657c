// demo5: the client with inet_addr() instead of gethostbyname(). A dotted IP
// works; a host name becomes INADDR_NONE (255.255.255.255) and connect() fails.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { clientRounds, tcpSocket } from './support/exchange.js';
import { C_FAILURE, clientUsage, parseTwinArgs, perror, portArgument, print, sleepOption, twinHelp } from './support/tutorial-io.js';

const options = sleepOption;

const usageLines = (): string => clientUsage('inet-addr', '192.168.101.138');

export const demo: Demo = {
  name: 'inet-addr',
  programs: ['demo5'],
  summary: 'demo5: the client with inet_addr(): an IP works, a host name fails (INADDR_NONE)',
  usage: twinHelp(
    'demo5: servaddr.sin_addr.s_addr = inet_addr(argv[1]), then connect() and ten rounds.\ninet_addr() only reads dotted IPs: a host name gives INADDR_NONE (255.255.255.255)\nand connect() fails, where gethostbyname() (demo1) would have resolved it.',
    usageLines(),
    options,
  ),
  async run(argv) {
    const { positionals, numbers } = parseTwinArgs(argv, options);
    if (positionals.length !== 2) {
      print(usageLines());
      return C_FAILURE;
    }
    const [ip, port] = positionals as [string, string];
    const sockfd = tcpSocket();
    if (sockfd === null) return C_FAILURE;
    // 指定服务端的IP地址方法2：只能用IP，不能用域名和主机名。
    const s_addr = posix.inet_addr(ip);
    try {
      posix.connect(sockfd, { family: 'AF_INET', address: s_addr, port: portArgument(port) });
    } catch (error) {
      perror('connect', error);
      posix.close(sockfd);
      return C_FAILURE;
    }
    await clientRounds(sockfd, 10, numbers['sleep-ms']!);
    posix.close(sockfd);
    return 0;
  },
};
