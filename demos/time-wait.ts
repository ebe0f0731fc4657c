// The four-way close section: the server closes first, so its side of the
// connection ends in TIME_WAIT (2MSL); restarting the server on the port then
// fails with "bind: Address already in use" unless SO_REUSEADDR is set.
// Server and client run in this one process, in the tutorial's order.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { socketTable, socketsOfConnection } from './support/socket-table.js';
import { C_FAILURE, parseTwinArgs, perror, portArgument, print, serverUsage, sleep, twinHelp, type TwinOption } from './support/tutorial-io.js';

const options: Record<string, TwinOption> = {
  reuseaddr: { kind: 'flag', description: 'setsockopt(SO_REUSEADDR) before bind(), in both runs of the server' },
  'wait-ms': { description: 'how long to wait for the closed connection to reach TIME_WAIT', defaultValue: 2000 },
};

/** socket, (SO_REUSEADDR,) bind(INADDR_ANY:port): the fd, or null after perror("bind"). */
function bindServer(port: number, reuseAddr: boolean): number | null {
  const listenfd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  if (reuseAddr) posix.setsockopt(listenfd, posix.SOL_SOCKET, posix.SO_REUSEADDR, 1); // 一定要放在bind()之前
  try {
    posix.bind(listenfd, { family: 'AF_INET', address: posix.htonl(posix.INADDR_ANY), port });
  } catch (error) {
    perror('bind', error);
    posix.close(listenfd);
    return null;
  }
  return listenfd;
}

export const demo: Demo = {
  name: 'time-wait',
  programs: [],
  summary: 'server closes first: TIME_WAIT, restart fails with bind: Address already in use; --reuseaddr binds',
  usage: twinHelp(
    "The four-way close section, in one process: the server binds the port (INADDR_ANY),\nlistens, accepts a client (printing 客户端已连接。) and closes first; the client then sees\nEOF and closes. The side that closed first, the server's, is left in TIME_WAIT (2MSL:\n60 s on Linux): its line from /proc/net/tcp is shown. Then the server is started again\non the port: bind: Address already in use. With --reuseaddr both runs set SO_REUSEADDR\nbefore bind() and the restart binds. (On Linux the old connection's socket must have\nhad SO_REUSEADDR too: setting it only on the new one is not enough, measured here.)\nExit status: that of the restarted server, 255 when its bind() fails.",
    serverUsage('time-wait'),
    options,
  ),
  async run(argv) {
    const { positionals, numbers, flags } = parseTwinArgs(argv, options);
    if (positionals.length !== 1) {
      print(serverUsage('time-wait'));
      return C_FAILURE;
    }
    const reuseAddr = flags['reuseaddr']!;
    const listenfd = bindServer(portArgument(positionals[0]!), reuseAddr);
    if (listenfd === null) return C_FAILURE;
    posix.listen(listenfd, 5);
    const local = posix.getsockname(listenfd);
    const port = local.family === 'AF_INET' ? local.port : 0;

    const sockfd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0); // the client
    posix.connect(sockfd, { family: 'AF_INET', address: '127.0.0.1', port });
    // The client's own port: the table shows this connection's lines only, not those
    // of another process's connection that Linux gave the same port number.
    const mine = posix.getsockname(sockfd);
    const clientPort = mine.family === 'AF_INET' ? mine.port : 0;
    const clientfd = posix.accept(listenfd).fd;
    print('客户端已连接。\n');
    posix.close(listenfd); // 复现服务端主动断开连接的情况
    posix.close(clientfd);

    // The client reads the server's FIN (recv() returns 0) and closes its end.
    const buffer = Buffer.alloc(16);
    while (posix.recv(sockfd, buffer) > 0);
    posix.close(sockfd);

    const deadline = Date.now() + numbers['wait-ms']!;
    let entries = socketsOfConnection(port, clientPort);
    while (!entries.some((e) => e.state === 'TIME_WAIT' && e.localPort === port) && Date.now() < deadline) {
      await sleep(10);
      entries = socketsOfConnection(port, clientPort);
    }
    print(`服务端先close()，主动断开的一方进入TIME_WAIT（2MSL）：\n${socketTable(entries)}\n`);

    print(`重新启动服务端${reuseAddr ? '（SO_REUSEADDR）' : ''}，bind()端口${port}：\n`);
    const again = bindServer(port, reuseAddr);
    if (again === null) return C_FAILURE;
    print('bind()成功。\n');
    posix.close(again);
    return 0;
  },
};
