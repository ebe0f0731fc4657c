// The test kit's sockets: a listening socket on an ephemeral loopback port,
// connected pairs over it (as fds, as Sockets, as TcpServer/TcpClient), a
// client connected to a port, a free port for programs that cannot take
// port 0, an HTTP GET over loopback, and an fd census.
import { readdirSync, readlinkSync } from 'node:fs';
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
 * One census reading: every fd of /proc/self/fd but the async calls' own
 * epoll set (lib/async-waits.ts, which the first wait makes and the
 * environment keeps, as libuv keeps its own), each with what it is: the
 * readlink of /proc/self/fd/N (`socket:[inode]`, `anon_inode:[eventpoll]`,
 * `pipe:[inode]`, a path). An fd listed but gone by its readlink was closed
 * meanwhile, so it is not open: the listing's own directory fd always is one
 * (the lowest free number, so counting it made a census depend on any fd
 * below it).
 */
export function readFds(): Map<number, string> {
  const set = asyncSetFd();
  const reading = new Map<number, string>();
  for (const fd of openFds()) {
    if (fd === set) continue;
    try {
      reading.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed since the listing
    }
  }
  return reading;
}

/** The fds a census counts (readFds), as numbers. */
export function censusFds(): number[] {
  return [...readFds().keys()];
}

/** A census: its reading, how many readings it took, and whether they had stopped changing within the bound. */
export interface Census {
  fds: Map<number, string>;
  readings: number;
  stable: boolean;
}

/** Whether two readings hold the same fds, each naming the same thing. */
export const sameReading = (a: ReadonlyMap<number, string>, b: ReadonlyMap<number, string>): boolean =>
  a.size === b.size && [...a].every(([fd, what]) => b.get(fd) === what);

/**
 * A census taken once the readings, `gapMs` apart, have agreed on every fd and
 * what it is for `quietMs` (bounded: after `boundMs` the last reading, marked
 * not stable). Something that opens and closes an fd at that moment cannot
 * put it into a suite's start or end census: a Worker still starting or
 * tearing down, or Node 22/24 reading NODE_EXTRA_CA_CERTS on a thread of its
 * own once `tls` is loaded (/etc/ssl/certs/ca-certificates.crt here, held up
 * to ~40 ms at load 10: last session's "fd 23 open at start"). An fd left
 * open stays in every reading, so no leak is missed. SOCKFD_CENSUS_TRACE=1
 * prints each pair of readings that disagreed.
 */
export async function stableCensus(options: { gapMs?: number; quietMs?: number; boundMs?: number } = {}): Promise<Census> {
  const { gapMs = 25, quietMs = 100, boundMs = 3000 } = options;
  const started = performance.now();
  let previous = readFds();
  let since = started; // when the readings last changed
  for (let readings = 2; ; readings++) {
    await new Promise((resolve) => setTimeout(resolve, gapMs));
    const current = readFds();
    const now = performance.now();
    if (!sameReading(previous, current)) {
      if (process.env.SOCKFD_CENSUS_TRACE) process.stderr.write(`fd census: readings differ: ${describeCensusChange(previous, current, { before: 'one reading', after: 'the next' }).join('; ')}\n`);
      since = now;
    } else if (now - since >= quietMs) return { fds: current, readings, stable: true };
    if (now - started > boundMs) return { fds: current, readings, stable: false };
    previous = current;
  }
}

/** Each fd that differs between two readings, named as the reading that saw it had it. */
export function describeCensusChange(before: Map<number, string>, after: Map<number, string>, at = { before: 'start', after: 'end' }): string[] {
  const lines: string[] = [];
  const fds = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => a - b);
  for (const fd of fds) {
    const was = before.get(fd);
    const is = after.get(fd);
    if (was === is) continue;
    if (is === undefined) lines.push(`fd ${fd} (${was}) open at ${at.before}, closed at ${at.after}`);
    else if (was === undefined) lines.push(`fd ${fd} (${is}) open at ${at.after}, not at ${at.before}`);
    else lines.push(`fd ${fd} was ${was} at ${at.before}, is ${is} at ${at.after}`);
  }
  return lines;
}

/**
 * Fails naming every fd whose number is open in one census and not in the
 * other, with what it was at the census that saw it (an fd number that stays
 * open but now names another file is reported alongside, not failed on).
 * `opened`: fds the end census must hold besides the start's (ones a test was
 * just given and still holds), and no others.
 */
export function expectSameFds(start: Census, end: Census, opened: readonly number[] = []): void {
  const describe = (c: Census) => `${c.fds.size} fds, ${c.stable ? `stable after ${c.readings} readings` : `readings still changing after ${c.readings}`}`;
  const expected = [...new Set([...start.fds.keys(), ...opened])].sort((a, b) => a - b);
  const message = `fd census (start: ${describe(start)}; end: ${describe(end)}${opened.length > 0 ? `; opened since: ${opened.join(', ')}` : ''}):\n  ${describeCensusChange(start.fds, end.fds).join('\n  ')}`;
  expect([...end.fds.keys()], message).toEqual(expected);
}

/**
 * Mid-test: a census taken now (stableCensus) holds exactly `start`'s fds plus
 * `opened`, or the test fails naming every fd that differs. A transient fd of
 * another thread (Node 22/24's NODE_EXTRA_CA_CERTS read) is waited out; an fd
 * left open is not.
 */
export async function expectCensusNow(start: Census, opened: readonly number[] = []): Promise<void> {
  expectSameFds(start, await stableCensus(), opened);
}

/**
 * The fd census of a suite: after all its tests this process holds exactly
 * the fds it held before them (stableCensus at both ends; a failure names each
 * fd that differs), and with `watchers` no poll watcher of the async calls is
 * left either. Returns the census: a test may check mid-way with
 * `await census.expectUnchanged()`; `before` holds the start's fd numbers.
 */
export function expectNoLeaks(options: { watchers?: boolean } = {}): {
  readonly before: number[];
  readonly start: Census;
  expectUnchanged(): Promise<void>;
} {
  const census = {
    before: [] as number[],
    start: { fds: new Map<number, string>(), readings: 0, stable: false } as Census,
    async expectUnchanged() {
      expectSameFds(census.start, await stableCensus());
    },
  };
  beforeAll(async () => {
    census.start = await stableCensus();
    census.before = [...census.start.fds.keys()];
  });
  afterAll(async () => {
    await census.expectUnchanged();
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
