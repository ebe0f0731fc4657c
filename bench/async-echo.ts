// `sockfd bench async-echo`: an echo server on Node's event loop serving 100
// concurrent clients, each sending a small request and waiting for its echo,
// again and again. Requests per second and the round-trip distribution (p99)
// of sockfd's promise API (lib/async.ts) against Node's net, interleaved.
//
// Two cases: both ends written with the same API (what a program built on it
// gets), and the server alone (the same net client load against each server).
import { once } from 'node:events';
import net from 'node:net';
import * as posix from '../lib/posix.js';
import { acceptAsync, connectAsync, recvAsync, recvExactlyAsync, sendAllMaybeAsync, type AsyncIoOptions } from '../lib/async.js';
import { READABLE, Readiness, recvNonBlocking, sendNonBlocking } from '../lib/readiness.js';
import { bySize, measureCase, measuredSpec, pairRun, pythonNotes, pythonPeerCommand, withPython, type BenchContext, type Benchmark } from './harness/harness.js';
import { CaseRecorder, type CaseResult, type RunOutput } from './harness/model.js';
import { announcePort, intArg, nowNs, printResult } from './harness/peer-io.js';

const CLIENTS = 100;
const MESSAGE = 64;
const HOST = '127.0.0.1';

// ---- servers -----------------------------------------------------------------------
// Each serves `clients` connections and ends when all of them have closed.

/** A non-blocking listening TCP socket on HOST and the port the kernel chose. */
function listener(): { listenFd: number; port: number } {
  const listenFd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_NONBLOCK);
  posix.bind(listenFd, { family: 'AF_INET', address: HOST, port: 0 });
  posix.listen(listenFd, posix.SOMAXCONN);
  const address = posix.getsockname(listenFd);
  if (address.family !== 'AF_INET') throw new Error('getsockname: not an IPv4 address');
  return { listenFd, port: address.port };
}

/**
 * The promise-API server. Its recvs are wait-first (`{ waitFirst: true }`,
 * what docs/async.md advises for a request/response server: its next recv
 * comes before the client can have sent the next request), or try-first,
 * the library's default, with a second argument 'try-first'. Its replies go
 * out with sendAllMaybeAsync: the count at once, a promise only when the
 * socket is full (docs/async.md, "One await less a reply").
 */
async function sockfdServer(args: readonly string[]): Promise<void> {
  const clients = intArg(args, 0, 'clients');
  const order = args[1] ?? 'wait-first';
  if (order !== 'wait-first' && order !== 'try-first') throw new Error(`sockfd-server: the recv order is wait-first or try-first, got ${order}`);
  const recvOptions = order === 'wait-first' ? { waitFirst: true } : undefined;
  const { listenFd, port } = listener();
  announcePort(port);
  const sessions: Promise<void>[] = [];
  for (let i = 0; i < clients; i++) {
    const { fd } = await acceptAsync(listenFd);
    posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY, 1);
    sessions.push(echo(fd, recvOptions));
  }
  posix.close(listenFd);
  await Promise.all(sessions);
}

async function echo(fd: number, recvOptions: AsyncIoOptions | undefined): Promise<void> {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      const n = await recvAsync(fd, buffer, recvOptions);
      if (n === 0) return;
      // The echo is taken at once (a count) unless the socket is full (a promise): no await a reply.
      const sent = sendAllMaybeAsync(fd, buffer, { length: n });
      if (typeof sent !== 'number') await sent;
    }
  } finally {
    posix.close(fd);
  }
}

/** The same server on the batched readiness interface: one JS call per loop turn for every ready fd. */
function sockfdReadinessServer(args: readonly string[]): Promise<void> {
  const clients = intArg(args, 0, 'clients');
  const { listenFd, port } = listener();
  const readiness = new Readiness();
  const buffer = Buffer.allocUnsafe(64 * 1024); // one for all: every handler runs to completion
  let accepted = 0;
  let closed = 0;
  return new Promise((resolve, reject) => {
    const echo = (_events: number, fd: number): void => {
      const n = recvNonBlocking(fd, buffer);
      if (n === -posix.EAGAIN) return;
      if (n === 0) {
        readiness.unwatch(fd);
        posix.close(fd);
        if (++closed === clients) {
          readiness.close();
          resolve();
        }
        return;
      }
      // A small echo fits the socket buffer; wait (bounded) only in the rare short write.
      for (let sent = 0; sent < n; ) {
        const m = sendNonBlocking(fd, buffer, 0, sent, n - sent);
        if (m === -posix.EAGAIN) posix.poll([{ fd, events: posix.POLLOUT }], 1000);
        else sent += m;
      }
    };
    readiness.watch(listenFd, READABLE, () => {
      try {
        for (;;) {
          let fd: number;
          try {
            fd = posix.accept4(listenFd, posix.SOCK_NONBLOCK | posix.SOCK_CLOEXEC).fd;
          } catch (error) {
            if ((error as { code?: string }).code === 'EAGAIN') return;
            throw error;
          }
          posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY, 1);
          readiness.watch(fd, READABLE, echo);
          if (++accepted === clients) {
            readiness.unwatch(listenFd);
            posix.close(listenFd);
            return;
          }
        }
      } catch (error) {
        reject(error);
      }
    });
    announcePort(port);
  });
}

async function netServer(args: readonly string[]): Promise<void> {
  const clients = intArg(args, 0, 'clients');
  let closed = 0;
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('close', () => {
      if (++closed === clients) server.close();
    });
  });
  server.listen(0, HOST, () => announcePort((server.address() as net.AddressInfo).port));
  await once(server, 'close');
}

// ---- clients -----------------------------------------------------------------------
// Each opens `clients` connections, then every connection does `rounds`
// request/echo round trips of `size` bytes; prints ops, ns and every round trip.

function clientArgs(args: readonly string[]): { port: number; clients: number; rounds: number; size: number } {
  return {
    port: intArg(args, 0, 'port'),
    clients: intArg(args, 1, 'clients'),
    rounds: intArg(args, 2, 'rounds'),
    size: intArg(args, 3, 'size'),
  };
}

function report(clients: number, rounds: number, elapsedNs: number, samples: Float64Array): void {
  printResult({ ops: clients * rounds, ns: elapsedNs, samples_ns: Array.from(samples, Math.round) });
}

async function sockfdClient(args: readonly string[]): Promise<void> {
  const { port, clients, rounds, size } = clientArgs(args);
  const fds = await Promise.all(
    Array.from({ length: clients }, async () => {
      const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_NONBLOCK);
      posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY, 1);
      await connectAsync(fd, { family: 'AF_INET', address: HOST, port });
      return fd;
    }),
  );
  const samples = new Float64Array(clients * rounds);
  const start = nowNs();
  await Promise.all(
    fds.map(async (fd, client) => {
      const request = Buffer.alloc(size, client);
      const reply = Buffer.allocUnsafe(size);
      for (let round = 0; round < rounds; round++) {
        const sent = nowNs();
        const taken = sendAllMaybeAsync(fd, request);
        if (typeof taken !== 'number') await taken;
        await recvExactlyAsync(fd, reply, { waitFirst: true }); // the echo cannot be there yet
        samples[client * rounds + round] = nowNs() - sent;
      }
      posix.close(fd);
    }),
  );
  report(clients, rounds, nowNs() - start, samples);
}

/** One net connection's round trips, written the way net is meant to be used: events. */
function netRounds(socket: net.Socket, rounds: number, size: number, samples: Float64Array, first: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = Buffer.alloc(size, first);
    let pending = size;
    let round = 0;
    let sent = nowNs();
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      pending -= chunk.length;
      if (pending > 0) return;
      samples[first + round] = nowNs() - sent;
      pending = size;
      if (++round === rounds) {
        socket.end(resolve);
        return;
      }
      sent = nowNs();
      socket.write(request);
    });
    socket.write(request);
  });
}

async function netClient(args: readonly string[]): Promise<void> {
  const { port, clients, rounds, size } = clientArgs(args);
  const sockets = await Promise.all(
    Array.from({ length: clients }, async () => {
      const socket = net.connect({ host: HOST, port, noDelay: true });
      await once(socket, 'connect');
      return socket;
    }),
  );
  const samples = new Float64Array(clients * rounds);
  const start = nowNs();
  await Promise.all(sockets.map((socket, client) => netRounds(socket, rounds, size, samples, client * rounds)));
  report(clients, rounds, nowNs() - start, samples);
}

// ---- the benchmark ---------------------------------------------------------------

/** What one implementation runs: its server (with arguments after the client count), and its client (or the shared C load generator). */
type Role = { server: 'C' | 'python' | string; serverArgs?: readonly string[]; client: 'C' | string };

interface Variant {
  name: string;
  note: string;
  /** The implementations in table order (Python only where python3 exists). */
  impls(): string[];
  /** Which client drives which server for each implementation. */
  roles: Record<string, Role>;
  /** The reference of the main target. */
  target: { reference: string; ratio: number };
}

const C_EPOLL = 'C epoll';
const READINESS = 'sockfd readiness';
const TRY_FIRST = 'sockfd try-first';
const PYTHON = 'Python asyncio';

const bothEnds: Variant = {
  name: `echo, ${CLIENTS} clients, both ends`,
  impls: () => [C_EPOLL, 'sockfd', 'net'],
  roles: {
    [C_EPOLL]: { server: 'C', client: 'C' },
    sockfd: { server: 'sockfd-server', client: 'sockfd-client' },
    net: { server: 'net-server', client: 'net-client' },
  },
  target: { reference: 'net', ratio: 1 },
  note: 'client and server written with the API compared (C: epoll; sockfd: async/await; net: data events)',
};
const serverOnly: Variant = {
  name: `echo, ${CLIENTS} clients, server only`,
  impls: () => withPython([C_EPOLL, 'sockfd', TRY_FIRST, READINESS, 'net'], PYTHON),
  roles: {
    [C_EPOLL]: { server: 'C', client: 'C' },
    sockfd: { server: 'sockfd-server', client: 'C' },
    [TRY_FIRST]: { server: 'sockfd-server', serverArgs: ['try-first'], client: 'C' },
    [READINESS]: { server: 'sockfd-readiness-server', client: 'C' },
    net: { server: 'net-server', client: 'C' },
    [PYTHON]: { server: 'python', client: 'C' },
  },
  target: { reference: C_EPOLL, ratio: 0.85 },
  note: 'one C epoll client (the same load) against every server',
};

/** Runs one variant: every run gives a rate (requests/s) and round trips (latency), so two cases come out. */
async function measureVariant(context: BenchContext, variant: Variant, rounds: number, runs: number): Promise<CaseResult[]> {
  const impls = variant.impls();
  const alsoSubjects = [TRY_FIRST, READINESS].filter((impl) => impls.includes(impl));
  const targets = [{ subject: 'sockfd', ...variant.target }];
  if (variant.target.reference !== 'net') targets.push({ subject: 'sockfd', reference: 'net', ratio: 1 });
  if (impls.includes(READINESS)) targets.push({ subject: READINESS, reference: C_EPOLL, ratio: variant.target.ratio });
  // The rate case as this run measures it (with --control the C epoll server runs twice a round, an A/A row;
  // with --only-targets only what its targets and control need); the latency case records the same runs.
  const rateSpec = measuredSpec(context, { name: `${variant.name}: requests/s`, kind: 'rate', impls, targets, note: variant.note, alsoSubjects, control: C_EPOLL });
  const { targets: _rateTargets, ...latencyFields } = rateSpec;
  const latency = new CaseRecorder({ ...latencyFields, name: `${variant.name}: round trip`, kind: 'latency' });
  const rate = await measureCase(
    context,
    rateSpec,
    {
      runs,
      warmupRun: !context.quick,
      async runOnce(impl, warmup, recordedAs): Promise<RunOutput> {
        const role = variant.roles[impl];
        if (role === undefined) throw new Error(`async-echo: no roles for ${impl}`);
        const perClient = warmup ? Math.max(1, rounds >> 2) : rounds;
        const server =
          role.server === 'C'
            ? context.c('echo', 'server', CLIENTS)
            : role.server === 'python'
              ? pythonPeerCommand('echo-server', [CLIENTS])
              : context.node('async-echo', role.server, [CLIENTS, ...(role.serverArgs ?? [])]);
        const client = (port: number) =>
          role.client === 'C' ? context.c('echo', 'client', port, CLIENTS, perClient, MESSAGE) : context.node('async-echo', role.client, [port, CLIENTS, perClient, MESSAGE]);
        const output = await pairRun(context, server, client);
        if (!warmup) latency.add(recordedAs, output);
        return output;
      },
    },
  );
  return [rate, latency.result()];
}

export const benchmark: Benchmark = {
  name: 'async-echo',
  summary: `echo on the event loop, ${CLIENTS} concurrent clients: requests/s and p99, sockfd promise API vs a C epoll server vs net vs Python asyncio`,
  cPrograms: ['echo'],
  peers: {
    'sockfd-server': sockfdServer,
    'sockfd-readiness-server': sockfdReadinessServer,
    'net-server': netServer,
    'sockfd-client': sockfdClient,
    'net-client': netClient,
  },
  async run(context) {
    const rounds = bySize(context, { full: 500, quick: 50, smoke: 5 });
    const runs = bySize(context, { full: 4, quick: 2, smoke: 1 });
    const cases: CaseResult[] = [];
    for (const variant of [bothEnds, serverOnly]) cases.push(...(await measureVariant(context, variant, rounds, runs)));
    return {
      title: `Echo on the event loop: ${CLIENTS} concurrent clients`,
      description:
        `${CLIENTS} connections over loopback, each sending a ${MESSAGE}-byte request and waiting for its echo, ` +
        `${rounds} times, all at once, with TCP_NODELAY. sockfd's server recvs wait-first ({ waitFirst: true }: readiness, then recv, as ` +
        "libuv's streams read; docs/async.md advises it for a request/response server, whose next recv comes before the next request can have); " +
        "\"sockfd try-first\" is the same server with the library's default order (each recv tried at once, a wait only on EAGAIN). " +
        "sockfd's replies (and its client's requests) go out with sendAllMaybeAsync, sendAllAsync without its promise when the kernel takes " +
        'every byte at once (a count; a promise to await only when the socket is full), so each request costs one await, not two; ' +
        "sockfd's client awaits each echo wait-first. " +
        'The waits are on its readiness set (lib/async-waits.ts: one Readiness per thread, every ready fd of a loop turn resolved in one JS call); net reads through libuv streams; the C limit is one thread on ' +
        'epoll (bench/c/echo.c); Python uses asyncio streams. Server and client run in separate processes; ' +
        '"server only" drives every server with the same C epoll client; "sockfd readiness" is the server on the ' +
        'batched readiness interface (lib/readiness.ts: every ready fd of a loop turn in one JS call, handlers using the ' +
        'non-throwing fast calls). requests/s is over the whole run, the round trip is per request (p99 under load). ' +
        'Targets: sockfd at least 0.85x the C epoll server, and not below net.',
      parameters: { clients: CLIENTS, message: MESSAGE, roundsPerClient: rounds, runs },
      cases,
      notes: pythonNotes(),
    };
  },
};
