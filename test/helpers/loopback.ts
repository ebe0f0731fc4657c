// Small fixtures for tests of the raw API: a listening socket on an
// ephemeral loopback port and a connected pair over it, plus an fd census.
import { readdirSync } from 'node:fs';
import * as posix from '../../lib/posix.js';

/** The fds this process holds right now (from /proc/self/fd). */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}

/** A TCP socket listening on 127.0.0.1 at a port the kernel chose. */
export function listener(backlog = 16): { fd: number; port: number } {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
  posix.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
  posix.listen(fd, backlog);
  const address = posix.getsockname(fd);
  if (address.family !== 'AF_INET') throw new Error('expected an AF_INET address');
  return { fd, port: address.port };
}

/** listener + a client connected to it + the accepted side. */
export function tcpPair(): { listenFd: number; port: number; client: number; server: number } {
  const { fd: listenFd, port } = listener();
  const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
  posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
  const { fd: server } = posix.accept(listenFd);
  return { listenFd, port, client, server };
}

export function closeAll(...fds: number[]): void {
  for (const fd of fds) posix.close(fd);
}
