// demo8: the server through the tutorial's ctcpserver class, here TcpServer.
import { TcpServer } from '../lib/tcp-server.js';
import type { Demo } from './support/demo.js';
import { C_FAILURE, STRERROR_SUCCESS, parseTwinArgs, perror, perrorText, portArgument, print, serverUsage, twinHelp } from './support/tutorial-io.js';

/** The loop of demo8 and of demo10's child: recv(buffer,1024), 接收：, send("ok"), 发送：ok. */
export function classServerReplies(tcpserver: TcpServer, errnoTextAtEof: string): void {
  for (;;) {
    let buffer: Buffer | null;
    try {
      buffer = tcpserver.recv(1024);
    } catch (error) {
      perror('recv()', error);
      break;
    }
    if (buffer === null) {
      perrorText('recv()', errnoTextAtEof); // recv() returned 0 and left errno as it was
      break;
    }
    print('接收：', buffer, '\n');
    try {
      tcpserver.send('ok');
    } catch (error) {
      perror('send', error);
      break;
    }
    print('发送：ok\n');
  }
}

const usageLines = (): string => serverUsage('class-server');

export const demo: Demo = {
  name: 'class-server',
  programs: ['demo8'],
  summary: 'demo8: the server through TcpServer (ctcpserver), prints 客户端已连接(ip)。',
  usage: twinHelp(
    "demo8: the server through the tutorial's ctcpserver class, here TcpServer:\ninitServer(port), accept(), clientIp(), then recv(buffer, 1024) / send(\"ok\") until the\nclient closes (recv(): Success: recv() returned 0 and errno was still 0).",
    usageLines(),
    {},
  ),
  run(argv) {
    const { positionals } = parseTwinArgs(argv, {});
    if (positionals.length !== 1) {
      print(usageLines());
      return C_FAILURE;
    }
    using tcpserver = new TcpServer({ backlog: 5 });
    try {
      tcpserver.initServer(portArgument(positionals[0]!));
    } catch (error) {
      perror('initserver()', error);
      return C_FAILURE;
    }
    try {
      tcpserver.accept();
    } catch (error) {
      perror('accept()', error);
      return C_FAILURE;
    }
    print(`客户端已连接(${tcpserver.clientIp()})。\n`);
    classServerReplies(tcpserver, STRERROR_SUCCESS);
    return 0;
  },
};
