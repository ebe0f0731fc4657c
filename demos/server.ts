// demo2: the tutorial's first server. bind INADDR_ANY, listen(5), accept one
// client, answer "ok" to every message until the client goes away.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { acceptClient, listenSocket, serverReplies } from './support/exchange.js';
import { C_FAILURE, parseTwinArgs, type ParsedArgs, portArgument, print, serverUsage, twinHelp, type TwinOption } from './support/tutorial-io.js';

/** demo2 and demo6: serve one client on `address` (s_addr or text). */
export function runOneClientServer(name: string, argv: string[], options: Record<string, TwinOption>, bindAddress: (parsed: ParsedArgs) => string | number): number {
  const parsed = parseTwinArgs(argv, options);
  if (parsed.positionals.length !== 1) {
    print(serverUsage(name));
    return C_FAILURE;
  }
  const listenfd = listenSocket(bindAddress(parsed), portArgument(parsed.positionals[0]!));
  if (listenfd === null) return C_FAILURE;
  const clientfd = acceptClient(listenfd); // 第4步：受理客户端的连接请求。
  if (clientfd === null) return C_FAILURE;
  print('客户端已连接。\n');
  serverReplies(clientfd); // 第5步：与客户端通信。
  posix.close(listenfd); // 第6步：关闭socket，释放资源。
  posix.close(clientfd);
  return 0;
}

export const demo: Demo = {
  name: 'server',
  programs: ['demo2'],
  summary: 'demo2: bind INADDR_ANY, listen, accept one client, reply ok to each message',
  usage: twinHelp(
    'demo2, the tutorial\'s first server: socket(), bind() to INADDR_ANY and the port,\nlisten(5), accept() one client, then recv()/send("ok") until the client closes (iret=0).',
    serverUsage('server'),
    {},
  ),
  run: (argv) => runOneClientServer('server', argv, {}, () => posix.htonl(posix.INADDR_ANY)),
};
