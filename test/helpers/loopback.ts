// The test kit's sockets: a listening socket on an ephemeral loopback port,
// connected pairs over it (as fds, as Sockets, as TcpServer/TcpClient), a
// client connected to a port, a free port for programs that cannot take
// port 0, an HTTP GET over loopback, and an fd census.
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, expect } from 'vitest';
import { watcherStats } from '../../lib/async.js';
import { asyncSetFd } from '../../lib/async-waits.js';
import * as posix from '../../lib/posix.js';
import { Socket } from '../../lib/socket.js';
import { TcpClient, type TcpClientOptions } from '../../lib/tcp-client.js';
import { TcpServer, type TcpServerOptions } from '../../lib/tcp-server.js';
import type { TcpConnection } from '../../lib/tcp-connection.js';

/** The fds this process holds right now (from /proc/self/fd). */
export function openFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The fds a census counts: all of /proc/self/fd but the async calls' own
 * epoll set (lib/async-waits.ts), which the first wait makes and the
 * environment keeps, as libuv keeps its own.
 */
export function censusFds(): number[] {
  const set = asyncSetFd();
  return openFds().filter((fd) => fd !== set);
}

/**
 * The fd census of a suite: after all its tests this process holds exactly
 * the fds it held before them (censusFds), and with `watchers` no
 * poll watcher of the async calls is left either. Returns the census, whose
 * `before` a test may compare with censusFds() mid-way.
 */
export function expectNoLeaks(options: { watchers?: boolean } = {}): { readonly before: number[] } {
  const census = { before: [] as number[] };
  beforeAll(() => {
    census.before = censusFds();
  });
  afterAll(() => {
    expect(censusFds()).toEqual(census.before);
    if (options.watchers) expect(watcherStats()).toEqual({ watchers: 0, active: 0, waiters: 0 });
  });
  return census;
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

/** listener + a client connected to it + the accepted side, as (blocking) fds. */
export function tcpPair(): { listenFd: number; port: number; client: number; server: number } {
  const { fd: listenFd, port } = listener();
  const client = connectLoopback(port);
  const { fd: server } = posix.accept(listenFd);
  return { listenFd, port, client, server };
}

/** The same over owned Sockets: the listening one, the client and the accepted server side. */
export function socketPair(): { listening: Socket; client: Socket; server: Socket } {
  const listening = Socket.tcp().bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
  const client = Socket.tcp().connect(listening.localAddress as posix.InetAddress);
  const { socket: server } = listening.accept();
  return { listening, client, server };
}

/** The same made by the async calls (connectAsync/acceptAsync): both ends non-blocking and already watched by the loop. */
export async function asyncSocketPair(): Promise<{ client: Socket; server: Socket }> {
  using listening = Socket.tcp().bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
  const client = Socket.tcp();
  const [, accepted] = await Promise.all([client.connectAsync(listening.localAddress as posix.InetAddress), listening.acceptAsync()]);
  return { client, server: accepted.socket };
}

/** The same with the tutorial's classes: a TcpServer on 127.0.0.1, a connected TcpClient, the accepted connection. */
export function tcpClassPair(serverOptions: TcpServerOptions = {}, clientOptions: TcpClientOptions = {}): { server: TcpServer; client: TcpClient; connection: TcpConnection } {
  const server = new TcpServer({ bindAddress: '127.0.0.1', ...serverOptions }).initServer(0);
  const client = new TcpClient(clientOptions).connect('127.0.0.1', server.port);
  const connection = server.accept();
  return { server, client, connection };
}

/** A blocking, close-on-exec client socket connected to 127.0.0.1:port (closed again when connect fails). */
export function connectLoopback(port: number): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_CLOEXEC, 0);
  try {
    posix.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
    return fd;
  } catch (error) {
    posix.close(fd);
    throw error;
  }
}

/**
 * A TCP port that was free a moment ago, for programs that cannot take port 0
 * (the C demo12, servers on INADDR_ANY): bound on 0.0.0.0 port 0, read, closed.
 */
export function freePort(): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_CLOEXEC, 0);
  try {
    posix.bind(fd, { family: 'AF_INET', address: '0.0.0.0', port: 0 });
    const address = posix.getsockname(fd);
    if (address.family !== 'AF_INET') throw new Error('expected an AF_INET address');
    return address.port;
  } finally {
    posix.close(fd);
  }
}

export function closeAll(...fds: number[]): void {
  for (const fd of fds) posix.close(fd);
}

/** The body of `GET path` from 127.0.0.1:`port` (node:http, a fresh connection, no agent). */
export function httpGet(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}
