// The request/reply loops the tutorial repeats in demo1, demo5, the buffer
// section's client (raw send/recv on an fd) and in demo2, demo6 (the server
// side). Written call for call as in C, so each twin stays short.
import * as posix from '../../lib/posix.js';
import { cString, perror, print, sleep } from './tutorial-io.js';

/** sprintf(buffer, "这是第%d个超级女生，编号%03d。", n, n) */
export function girl(n: number): string {
  return `这是第${n}个超级女生，编号${String(n).padStart(3, '0')}。`;
}

/** The C programs' `char buffer[1024]`. */
export const BUFFER_SIZE = 1024;

/** socket(AF_INET, SOCK_STREAM, 0) with perror("socket"); null on failure. */
export function tcpSocket(): number | null {
  try {
    return posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  } catch (error) {
    perror('socket', error);
    return null;
  }
}

/** `iret = recv(fd, buffer, sizeof(buffer), 0)` into a zeroed buffer: -1 on failure, as C sees it. */
function recvIret(fd: number, buffer: Buffer): number {
  buffer.fill(0);
  try {
    return posix.recv(fd, buffer);
  } catch {
    return -1;
  }
}

/**
 * The client loop: `rounds` times send a request, print 发送：, recv() into a
 * zeroed 1024-byte buffer, print 接收： up to the first NUL, sleep(1).
 */
export async function clientRounds(fd: number, rounds: number, sleepMs: number): Promise<void> {
  const buffer = Buffer.alloc(BUFFER_SIZE);
  for (let ii = 0; ii < rounds; ii++) {
    const request = Buffer.from(girl(ii + 1));
    try {
      posix.send(fd, request); // one send(2) of strlen(buffer) bytes, as in C
    } catch (error) {
      perror('send', error);
      break;
    }
    print('发送：', request, '\n');
    const iret = recvIret(fd, buffer);
    if (iret <= 0) {
      print(`iret=${iret}\n`);
      break;
    }
    print('接收：', cString(buffer), '\n');
    await sleep(sleepMs);
  }
}

/** The server loop: recv() a request, print 接收：, send "ok", print 发送：ok, until recv() <= 0. */
export function serverReplies(clientfd: number): void {
  const buffer = Buffer.alloc(BUFFER_SIZE);
  for (;;) {
    const iret = recvIret(clientfd, buffer);
    if (iret <= 0) {
      print(`iret=${iret}\n`);
      break;
    }
    print('接收：', cString(buffer), '\n');
    try {
      posix.send(clientfd, 'ok');
    } catch (error) {
      perror('send', error);
      break;
    }
    print('发送：ok\n');
  }
}

/** demo2/demo6's set-up: socket, bind(address, port), listen(5); perror and null on failure. */
export function listenSocket(address: string | number, port: number, backlog = 5): number | null {
  const listenfd = tcpSocket();
  if (listenfd === null) return null;
  try {
    posix.bind(listenfd, { family: 'AF_INET', address, port });
  } catch (error) {
    perror('bind', error);
    posix.close(listenfd);
    return null;
  }
  try {
    posix.listen(listenfd, backlog);
  } catch (error) {
    perror('listen', error);
    posix.close(listenfd);
    return null;
  }
  return listenfd;
}

/** accept(listenfd, 0, 0) with perror("accept"); null on failure (the listening fd is closed then). */
export function acceptClient(listenfd: number): number | null {
  try {
    return posix.accept(listenfd).fd;
  } catch (error) {
    perror('accept', error);
    posix.close(listenfd);
    return null;
  }
}
