// demo1: the tutorial's first client. gethostbyname() the server, connect,
// three request/reply rounds, close.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { clientRounds, tcpSocket } from './support/exchange.js';
import { C_FAILURE, clientUsage, parseTwinArgs, perror, portArgument, print, sleepOption, twinHelp } from './support/tutorial-io.js';

const options = sleepOption;

/** demo1 and its variants: connect through gethostbyname, then `rounds` exchanges. */
export async function runHostClient(name: string, argv: string[], rounds: number, extra?: (fd: number) => void): Promise<number> {
  const { positionals, numbers } = parseTwinArgs(argv, options);
  if (positionals.length !== 2) {
    print(clientUsage(name, '192.168.101.139'));
    return C_FAILURE;
  }
  const [host, port] = positionals as [string, string];
  const sockfd = tcpSocket(); // 第1步：创建客户端的socket。
  if (sockfd === null) return C_FAILURE;
  const h = posix.gethostbyname(host); // 第2步：向服务器发起连接请求。
  const address = h?.h_addr_list[0];
  if (address === undefined) {
    print('gethostbyname failed.\n\n');
    posix.close(sockfd);
    return C_FAILURE;
  }
  try {
    posix.connect(sockfd, { family: 'AF_INET', address, port: portArgument(port) });
  } catch (error) {
    perror('connect', error);
    posix.close(sockfd);
    return C_FAILURE;
  }
  extra?.(sockfd);
  await clientRounds(sockfd, rounds, numbers['sleep-ms']!); // 第3步：与服务端通讯。
  posix.close(sockfd); // 第4步：关闭socket，释放资源。
  return 0;
}

export const demo: Demo = {
  name: 'client',
  programs: ['demo1'],
  summary: 'demo1: connect via gethostbyname, 3 request/reply rounds (发送：/接收：)',
  usage: twinHelp(
    'demo1, the tutorial\'s first client: gethostbyname(), connect(), then three rounds of\nsend "这是第N个超级女生，编号00N。" / recv the reply, one second apart.',
    clientUsage('client', '192.168.101.139'),
    options,
  ),
  run: (argv) => runHostClient('client', argv, 3),
};
