// demo11: the tutorial's file upload client. The same arguments (the size is
// given on the command line, as in the C), the same lines and the same bytes
// on the wire: struct st_fileinfo with the name exactly as typed, "ok", the
// content, "ok". What differs is underneath: whole sends and exact reads
// (lib/transfer), the content leaving through sendfile(2), bounded waits.
import { fstatSync } from 'node:fs';
import * as posix from '../lib/posix.js';
import { isSyscallError } from '../lib/errors.js';
import { DEFAULT_SEND_TIMEOUT_MS } from '../lib/transfer/sender.js';
import { recvFull, sendAll, untilReady } from '../lib/io.js';
import { TUTORIAL_HEADER_SIZE, TUTORIAL_NAME_FIELD, TUTORIAL_OK } from '../lib/transfer/protocol.js';
import type { Demo } from './support/demo.js';
import { C_FAILURE, STRERROR_SUCCESS, atoi, commandOf, perror, perrorText, portArgument, print, twinHelp } from './support/tutorial-io.js';

function usageLines(name: string): string {
  const command = commandOf(name);
  return `Using:${command} 服务端的IP 服务端的端口 文件名 文件大小\nExample:${command} 192.168.101.138 5005 aaa.txt 2424\n\n`;
}

/** memset + strcpy(fileinfo.filename, argv[3]) + fileinfo.filesize = atoi(argv[4]). */
function fileInfo(nameBytes: Buffer, size: number): Buffer {
  const header = Buffer.alloc(TUTORIAL_HEADER_SIZE);
  nameBytes.copy(header, 0, 0, Math.min(nameBytes.length, TUTORIAL_NAME_FIELD - 1)); // strcpy past 255 bytes would overflow the struct
  header.writeInt32LE(size, TUTORIAL_NAME_FIELD);
  return header;
}

/** recv(buffer, 2) then buffer == "ok"; null when the connection failed (errno text for perror). */
function receiveOk(fd: number): boolean | Error {
  const reply = Buffer.alloc(2);
  try {
    const n = recvFull(fd, reply, { idleTimeout: DEFAULT_SEND_TIMEOUT_MS });
    if (n === 0) return new Error(STRERROR_SUCCESS); // recv() returned 0: errno untouched
    return reply.subarray(0, n).equals(TUTORIAL_OK);
  } catch (error) {
    return error as Error;
  }
}

/**
 * The C's sendfile(): `filesize` bytes from the file, 4096 at a time, zeros
 * after the file's end (its buffer was memset). Here sendfile(2) moves what
 * the file has and the zeros follow with send(). A size of 0 fails as in C
 * (send of 0 bytes returns 0, which it counts as an error).
 */
function sendContent(fd: number, path: string, size: number): true | Error {
  let fileFd: number;
  try {
    fileFd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC);
  } catch (error) {
    print(`打开文件${path}失败。\n`);
    return error as Error;
  }
  try {
    if (size <= 0) return new Error(STRERROR_SUCCESS);
    const fromFile = Math.min(size, fstatSync(fileFd).size);
    for (let offset = 0; offset < fromFile; ) {
      const n = untilReady('sendfile', fd, posix.POLLOUT, { idleTimeout: DEFAULT_SEND_TIMEOUT_MS }, () => posix.sendfile(fd, fileFd, offset, fromFile - offset));
      if (n === 0 && offset < fromFile) break; // the file shrank: the rest goes out as zeros, as the C's memset buffer
      offset += n;
    }
    if (fromFile < size) sendAll(fd, Buffer.alloc(size - fromFile), { flags: posix.MSG_NOSIGNAL, idleTimeout: DEFAULT_SEND_TIMEOUT_MS });
    return true;
  } catch (error) {
    return error as Error;
  } finally {
    posix.close(fileFd);
  }
}

function errorText(error: Error): string {
  if (isSyscallError(error)) return error.message.slice(error.syscall.length + 2);
  return error.message;
}

export function runFileClient(name: string, argv: string[]): number {
  if (argv.length !== 4) {
    print(usageLines(name));
    return C_FAILURE;
  }
  const [host, port, file, sizeText] = argv as [string, string, string, string];
  const address = posix.gethostbyname(host)?.h_addr_list[0];
  if (address === undefined) {
    perrorText('connect()', STRERROR_SUCCESS);
    return C_FAILURE;
  }
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_CLOEXEC, 0);
  try {
    try {
      posix.connect(fd, { family: 'AF_INET', address, port: portArgument(port) });
    } catch (error) {
      perror('connect()', error);
      return C_FAILURE;
    }
    const nameBytes = Buffer.from(file);
    const size = atoi(sizeText);
    try {
      sendAll(fd, fileInfo(nameBytes, size), { flags: posix.MSG_NOSIGNAL, idleTimeout: DEFAULT_SEND_TIMEOUT_MS });
    } catch (error) {
      perror('send', error);
      return C_FAILURE;
    }
    print('发送文件信息的结构体', nameBytes.subarray(0, TUTORIAL_NAME_FIELD - 1), `(${size})。\n`);
    const first = receiveOk(fd);
    if (first instanceof Error) {
      perrorText('recv()', errorText(first));
      return C_FAILURE;
    }
    if (!first) {
      print('服务端没有回复ok。\n');
      return C_FAILURE;
    }
    const sent = sendContent(fd, file, size);
    if (sent instanceof Error) {
      perrorText('sendfile()', errorText(sent));
      return C_FAILURE;
    }
    const second = receiveOk(fd);
    if (second instanceof Error) {
      perrorText('recv()', errorText(second));
      return C_FAILURE;
    }
    if (!second) {
      print('发送文件内容失败。\n');
      return C_FAILURE;
    }
    print('发送文件内容成功。\n');
    return 0;
  } finally {
    posix.close(fd);
  }
}

export const demo: Demo = {
  name: 'file-client',
  programs: ['demo11'],
  summary: 'demo11: upload a file as struct st_fileinfo (name, int size), "ok", content, "ok"',
  usage: twinHelp(
    "demo11, the tutorial's file upload client: sends struct st_fileinfo { char filename[256];\n" +
      'int filesize; } (260 bytes, the name as typed, the size from the command line), waits\n' +
      'for "ok", sends the content (sendfile(2) here), waits for "ok". Its server is demo12\n' +
      '(sockfd demo file-server) or sockfd recv-files.',
    usageLines('file-client'),
    {},
  ),
  run: (argv) => runFileClient('file-client', argv),
};
