// connect: how many whole TCP connections per second one client and one
// server get through on loopback: socket + connect, accept + close on the
// server, EOF + close on the client. C vs sockfd (blocking calls) vs net.
// The server closes first, so TIME_WAIT stays on its side and the client's
// ephemeral ports are never exhausted.
import net from 'node:net';
import * as posix from '../lib/posix.js';
import { bySize, measureCase, pythonNotes, pythonPeerCommand, withPython, pairRun, type BenchContext, type Benchmark } from './harness/harness.js';
import type { RunOutput } from './harness/model.js';
import { announcePort, connectLoopback, intArg, listenAnnounced, nowNs, printResult, recvAll } from './harness/peer-io.js';

const NAME = 'connect';
/** C, sockfd, net and, where python3 exists, Python's socket module (decided when a run starts, not at import). */
const implsHere = (): string[] => withPython(['C', 'sockfd', 'net'], 'Python');


function sockfdServer(args: readonly string[]): void {
  const count = intArg(args, 0, 'COUNT');
  const listener = listenAnnounced();
  // accept(fd, NULL, NULL), as the C server calls it: no peer address is built.
  // One small function a connection: V8 optimizes a called function after a few thousand
  // calls, but a loop only by on-stack replacement, which this loop of blocking calls reached
  // only after ~13,000 iterations (--trace-opt): the bench's runs ended first, with acceptFd
  // never optimized (each accept took the fast call's slow callback).
  const acceptAndClose = (): void => posix.close(posix.acceptFd(listener));
  for (let i = 0; i < count; i++) acceptAndClose();
  posix.close(listener);
}

function sockfdClient(args: readonly string[]): void {
  const port = intArg(args, 0, 'PORT');
  const count = intArg(args, 1, 'COUNT');
  const warmup = intArg(args, 2, 'WARMUP');
  const byte = Buffer.alloc(1);
  const once = (): void => {
    const fd = connectLoopback(port);
    if (recvAll(fd, byte)) throw new Error('server sent data instead of closing');
    posix.close(fd);
  };
  for (let i = 0; i < warmup; i++) once();
  const start = nowNs();
  for (let i = 0; i < count; i++) once();
  printResult({ ops: count, bytes: 0, ns: Math.round(nowNs() - start) });
}

function netServer(args: readonly string[]): Promise<void> {
  const count = intArg(args, 0, 'COUNT');
  return new Promise((resolve, reject) => {
    let accepted = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined); // the client may see our close first; nothing to report
      socket.destroy();
      if (++accepted === count) server.close(() => resolve());
    });
    server.on('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 511 }, () => announcePort((server.address() as net.AddressInfo).port));
  });
}

function netClient(args: readonly string[]): Promise<void> {
  const port = intArg(args, 0, 'PORT');
  const count = intArg(args, 1, 'COUNT');
  const warmup = intArg(args, 2, 'WARMUP');
  // One connection at a time, as the other clients: connect, wait for EOF, close.
  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('data', () => reject(new Error('server sent data instead of closing')));
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
    });
  return (async () => {
    for (let i = 0; i < warmup; i++) await once();
    const start = nowNs();
    for (let i = 0; i < count; i++) await once();
    printResult({ ops: count, bytes: 0, ns: Math.round(nowNs() - start) });
  })();
}

async function run(context: BenchContext) {
  const count = bySize(context, { full: 5_000, quick: 1_000, smoke: 50 });
  // Long enough that a Node peer's per-connection code is compiled before the timed part, as in
  // pingpong (--trace-opt, Node 20: the client's `once` is optimized after 1,000-1,500 connections,
  // the server's acceptAndClose after 1,500-2,000). With 500, V8 compiled them inside the timed
  // part, on the same CPU when pinned, and ran the first ~1,000 timed connections unoptimized.
  const warmup = bySize(context, { full: 2_500, quick: 100, smoke: 5 });
  const runs = bySize(context, { full: 5, quick: 2, smoke: 1 });
  const runOnce = (impl: string, warm: boolean): Promise<RunOutput> => {
    const n = warm ? warmup : count;
    if (impl === 'C') return pairRun(context, context.c(NAME, 'server', n + warmup), (port) => context.c(NAME, 'client', port, n, warmup));
    if (impl === 'Python')
      return pairRun(context, pythonPeerCommand('connect-server', [n + warmup]), (port) => pythonPeerCommand('connect-client', [port, n, warmup]));
    return pairRun(context, context.node(NAME, `${impl}-server`, [n + warmup]), (port) => context.node(NAME, `${impl}-client`, [port, n, warmup]));
  };
  const result = await measureCase(context, { name: 'connect + accept + close', kind: 'rate', impls: implsHere(), target: { subject: 'sockfd', reference: 'C', ratio: 0.9 }, control: 'C' }, { runs, runOnce, warmupRun: !context.quick });
  return {
    title: 'connect: whole TCP connections per second on loopback, one at a time',
    description:
      'The client connects, waits for EOF and closes; the server accepts and closes at once (so TIME_WAIT stays on the server ' +
      'side). One connection at a time, so the rate is 1 / (the life of one connection). C, sockfd (blocking calls) and Node net ' +
      `each run both ends; each run starts with ${warmup} untimed connections (the same code, so that a Node peer's compiled code is the one measured).`,
    parameters: { connectionsPerRun: count, warmupConnections: warmup, runs },
    cases: [result],
    notes: pythonNotes(),
  };
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: 'connect + accept + close, one connection at a time: connections/s, C vs sockfd vs net',
  cPrograms: [NAME],
  peers: { 'sockfd-server': sockfdServer, 'sockfd-client': sockfdClient, 'net-server': netServer, 'net-client': netClient },
  run,
};
