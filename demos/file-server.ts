// demo12: the tutorial's file upload server. The same arguments and lines
// (客户端已连接(ip)。, 文件信息结构体name(size)。, 接收文件内容成功。/失败。, the
// exit lines on SIGTERM) and the same "ok" replies, but served by the robust
// server of lib/transfer: a name must be a single plain file name, the file
// is written to a temporary file and renamed only when complete, short reads
// are never counted as data, idle clients are dropped. One fork per client,
// as the C, once its header has arrived (an idle client costs no process).
// On SIGTERM/SIGINT it stops its own children only, at once, as the C's
// kill(0, SIGTERM) would (which reaches its whole process group).
import { resolve } from 'node:path';
import { getpid } from '../lib/process.js';
import { serveFiles } from '../lib/transfer/server.js';
import type { Demo } from './support/demo.js';
import { C_FAILURE, STRERROR_SUCCESS, perror, perrorText, portArgument, print, serverUsage, twinHelp } from './support/tutorial-io.js';

function usageLines(name: string): string {
  return serverUsage(name, '通讯端口 文件存放的目录', '5005 /tmp');
}

export async function runFileServer(name: string, argv: string[]): Promise<number> {
  if (argv.length !== 2) {
    print(usageLines(name));
    return C_FAILURE;
  }
  const [port, dir] = argv as [string, string];
  try {
    await serveFiles({
      port: portArgument(port),
      dir: resolve(dir),
      backlog: 5,
      graceMs: 0, // as the C: a stop signal ends the uploads in progress at once
      events: {
        connected: (peer) => print(`客户端已连接(${'address' in peer ? peer.address : ''})。\n`),
        header: (header) => print(`文件信息结构体${header.name}(${header.size})。\n`),
        finished: (record) => {
          if (record.format === null) perrorText('recv()', STRERROR_SUCCESS); // no header: the C's recv() returned 0
          else print(record.outcome === 'stored' ? '接收文件内容成功。\n' : '接收文件内容失败。\n');
        },
        childStopping: (sig) => print(`子进程${getpid()}退出，sig=${sig}\n`),
        stopping: (sig) => print(`父进程退出，sig=${sig}\n`),
      },
    });
    return 0;
  } catch (error) {
    perror('initserver()', error);
    return C_FAILURE;
  }
}

export const demo: Demo = {
  name: 'file-server',
  programs: ['demo12'],
  summary: 'demo12: fork per client, receive struct st_fileinfo + content into a directory',
  usage: twinHelp(
    "demo12, the tutorial's file upload server: one forked child per client receives\n" +
      'struct st_fileinfo, answers "ok", receives the content into <dir>/<name>, answers "ok".\n' +
      'Here on the robust server of sockfd recv-files: plain names only, temporary file then\n' +
      'rename, idle clients dropped; it also accepts the extended format of sockfd send-file.',
    usageLines('file-server'),
    {},
  ),
  run: (argv) => runFileServer('file-server', argv),
};
