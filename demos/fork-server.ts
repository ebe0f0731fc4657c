// demo10: the multi-process server. The parent accepts and forks one child
// per connection; the parent closes the client fd, the child the listening
// fd. SIGTERM/SIGINT make the parent print 父进程退出，sig=15, signal the whole
// process group and exit; each child prints 子进程<pid>退出，sig=15 and exits.
import * as posix from '../lib/posix.js';
import { fork, getpid, kill, signal } from '../lib/process.js';
import { TcpServer } from '../lib/tcp-server.js';
import type { Demo } from './support/demo.js';
import { classServerReplies } from './class-server.js';
import { C_FAILURE, STRERROR_EINVAL, parseTwinArgs, perror, portArgument, print, serverUsage, twinHelp } from './support/tutorial-io.js';

/** The C loop `for (ii=1; ii<=64; ii++) signal(ii, SIG_IGN)`; signals that cannot be ignored are skipped, as C's calls fail. */
const LAST_SIGNAL = 64;

const usageLines = (): string => serverUsage('fork-server');

export const demo: Demo = {
  name: 'fork-server',
  programs: ['demo10'],
  summary: 'demo10: fork per connection; SIGTERM/SIGINT shut parent and children down as in the C',
  usage: twinHelp(
    'demo10: ignores every signal (which also reaps children), catches SIGTERM and SIGINT,\nthen accept()s in a loop and fork()s a child per client. The parent closes the client\nfd and goes back to accept(); the child closes the listening fd and serves the client\nlike demo8 (ending with recv(): Invalid argument: the errno that signal(SIGKILL, SIG_IGN)\nleft behind). `kill <pid>` or Ctrl+C: the parent prints 父进程退出，sig=N and sends\nSIGTERM to its process group (kill(0, SIGTERM)); each child prints 子进程<pid>退出，sig=15.\nRun it in a process group of its own (a shell job is one), as the C program expects.',
    usageLines(),
    {},
  ),
  run(argv) {
    const { positionals } = parseTwinArgs(argv, {});
    if (positionals.length !== 1) {
      print(usageLines());
      return C_FAILURE;
    }
    const tcpserver = new TcpServer({ backlog: 5 });

    // 父进程的信号处理函数。
    const fathExit = (sig: number): void => {
      signal(posix.SIGINT, 'ignore'); // 防止信号处理函数在执行的过程中再次被信号中断。
      signal(posix.SIGTERM, 'ignore');
      print(`父进程退出，sig=${sig}\n`);
      kill(0, posix.SIGTERM); // 向全部的子进程发送15的信号，通知它们退出。
      tcpserver.closeListen();
      process.exit(0);
    };
    // 子进程的信号处理函数。
    const chldExit = (sig: number): void => {
      signal(posix.SIGINT, 'ignore');
      signal(posix.SIGTERM, 'ignore');
      print(`子进程${getpid()}退出，sig=${sig}\n`);
      tcpserver.closeClient();
      process.exit(0);
    };

    // 忽略全部的信号，不希望被打扰；顺便解决了僵尸进程的问题。
    for (let ii = 1; ii <= LAST_SIGNAL; ii++) {
      try {
        signal(ii, 'ignore');
      } catch {
        // SIGKILL, SIGSTOP and a few Node needs refuse, as signal() fails for some in C.
      }
    }
    signal(posix.SIGTERM, fathExit);
    signal(posix.SIGINT, fathExit);

    try {
      tcpserver.initServer(portArgument(positionals[0]!));
    } catch (error) {
      perror('initserver()', error);
      return C_FAILURE;
    }
    for (;;) {
      try {
        tcpserver.accept();
      } catch (error) {
        perror('accept()', error);
        return C_FAILURE;
      }
      let pid: number;
      try {
        pid = fork();
      } catch (error) {
        perror('fork()', error);
        return C_FAILURE;
      }
      if (pid > 0) {
        tcpserver.closeClient(); // 父进程关闭客户端连接的socket。
        continue; // 父进程返回到循环开始的位置，继续受理客户端的连接。
      }
      tcpserver.closeListen(); // 子进程关闭监听的socket。
      signal(posix.SIGTERM, chldExit); // 子进程的退出函数与父进程不一样。
      signal(posix.SIGINT, 'ignore'); // 子进程不需要捕获SIGINT信号。
      print(`客户端已连接(${tcpserver.clientIp()})。\n`);
      classServerReplies(tcpserver, STRERROR_EINVAL);
      tcpserver.closeClient();
      return 0; // 子进程一定要退出，否则又会回到accept()函数的位置。
    }
  },
};
