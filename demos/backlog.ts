// The handshake section's listen() experiment: a server that listens with a
// small backlog and never accept()s, clients that connect anyway, and the
// kernel's table of states: backlog+1 connections complete the handshake and
// wait in the accept queue (ESTABLISHED); the others do not get in.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { until } from '../tools/until.js';
import { listenSocket } from './support/exchange.js';
import { countStates, socketTable, socketsOnPort } from './support/socket-table.js';
import { C_FAILURE, parseTwinArgs, portArgument, print, serverUsage, sleep, twinHelp, type TwinOption } from './support/tutorial-io.js';

const options: Record<string, TwinOption> = {
  backlog: { description: "listen()'s second argument (the tutorial's 3)", defaultValue: 3 },
  clients: { description: 'clients that connect (non-blocking connect()s from this process)', defaultValue: 8 },
  'settle-ms': { description: 'wait at most this long for the handshakes to settle before reading the table', defaultValue: 2000 },
  'hold-ms': { description: 'then stay alive this long so netstat/ss can look (the C sleeps 100000 s)', defaultValue: 100_000, sleep: true },
};

const describe = (counts: Map<string, number>): string =>
  counts.size === 0 ? '无' : [...counts].map(([state, n]) => `${state} ${n}个`).join('，');

export const demo: Demo = {
  name: 'backlog',
  programs: [],
  summary: 'listen(fd, 3), never accept, 8 clients connect: backlog+1 ESTABLISHED, the rest left out',
  usage: twinHelp(
    "The handshake section's experiment: bind the port on INADDR_ANY, listen(listenfd, 3), never\naccept(). Then clients connect (non-blocking connect()s from this process) and the\ntwin prints the kernel's table for the port (/proc/net/tcp, as netstat -na shows it):\nbacklog+1 connections have completed the three-way handshake and wait in the accept\nqueue (ESTABLISHED on the server side; the LISTEN line's Recv-Q counts them). The\nothers are left out: since Linux 4.10 the kernel drops their SYN while the queue is\nfull, so they wait in SYN_SENT on the client side (retrying), where the tutorial's\n3.10 kernel showed them half-open, SYN_RECV, on the server side. Then it stays alive\n(--hold-ms) so `netstat -na`, `ss -tan` or `sockfd netstat --port N` can look.",
    serverUsage('backlog'),
    options,
  ),
  async run(argv) {
    const { positionals, numbers } = parseTwinArgs(argv, options);
    if (positionals.length !== 1) {
      print(serverUsage('backlog'));
      return C_FAILURE;
    }
    const backlog = numbers['backlog']!;
    const listenfd = listenSocket(posix.htonl(posix.INADDR_ANY), portArgument(positionals[0]!), backlog);
    if (listenfd === null) return C_FAILURE;
    const local = posix.getsockname(listenfd);
    const port = local.family === 'AF_INET' ? local.port : 0;

    const clients: number[] = [];
    for (let i = 0; i < numbers['clients']!; i++) {
      const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_NONBLOCK, 0);
      clients.push(fd);
      try {
        posix.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
      } catch (error) {
        if (!posix.isSyscallError(error, 'EINPROGRESS')) throw error;
      }
    }
    // Read the table once the handshakes have settled (bounded): backlog+1 connections
    // established on both sides, the rest still trying (SYN_SENT). An older kernel
    // that keeps them half-open (SYN_RECV) never gets there: then the bound decides.
    const queued = Math.min(clients.length, backlog + 1);
    await until(() => {
      const now = socketsOnPort(port);
      const server = countStates(now, port, 'server');
      const client = countStates(now, port, 'client');
      return server.get('ESTABLISHED') === queued && client.get('ESTABLISHED') === queued && (client.get('SYN_SENT') ?? 0) === clients.length - queued;
    }, 'the handshakes to settle', numbers['settle-ms']!).catch(() => {});

    const entries = socketsOnPort(port);
    print(`listen(listenfd,${backlog})，从不accept()；${clients.length}个客户端connect()到端口${port}：\n`);
    print(socketTable(entries) + '\n\n');
    print(`服务端：${describe(countStates(entries, port, 'server'))}（已连接队列最多 backlog+1 = ${backlog + 1} 个）\n`);
    print(`客户端：${describe(countStates(entries, port, 'client'))}\n`);
    print(`（pid ${process.pid}，端口${port}；可在另一个终端运行 netstat -na 或 ss -tan 查看）\n`);

    await sleep(numbers['hold-ms']!);
    for (const fd of clients) posix.close(fd);
    posix.close(listenfd);
    return 0;
  },
};
