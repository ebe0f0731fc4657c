// `sockfd demo pass-fd`: a zero-downtime restart by fd passing. A server
// process serves on a port; a new version starts, receives the LISTENING
// socket from the old one over a Unix socket (sendmsg with SCM_RIGHTS), starts
// accepting, and the old one stops accepting, finishes its connections and
// exits. The listening socket itself never closes, so no connection attempt
// is refused: the kernel keeps queueing them in its backlog throughout.
// The same module is the server: the demo forks this file with SERVER_FLAG.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../tools/usage-error.js';
import { Socket } from '../lib/socket.js';
import { AF_INET, AF_INET6, AF_UNIX, ECONNREFUSED, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from '../lib/constants.js';
import { isSyscallError } from '../lib/errors.js';
import { formatAddress, type AddressInput } from '../lib/sockaddr.js';
import type { Demo } from './support/demo.js';
import { intOption } from './support/int-option.js';

const SERVER_FLAG = '--pass-fd-server';
const thisFile = fileURLToPath(import.meta.url);
const STARTUP_MS = 15_000;

const usage = `usage: sockfd demo pass-fd [--host IP] [--port P] [--connections N] [--concurrency C] [--json]

Zero-downtime restart by passing the listening socket. Version 1 of a server
listens and answers every connection with "served by vN pid P". On SIGHUP (or,
with --connections, half-way) the demo starts version N+1, which connects to
the running version over a Unix socket and receives its listening socket with
sendmsg/SCM_RIGHTS. The new version starts accepting; the old one stops,
finishes the connections it has and exits. The socket never closes, so no
connection attempt is refused.

  --host IP          address to listen on (default 127.0.0.1)
  --port P           port (default 0: the kernel picks one, printed at start)
  --connections N    be the client too: open N connections (C at a time), hand
                     over after N/2, and report how many each version served
                     and how many were refused (0). Without it, serve until
                     Ctrl-C; send SIGHUP to hand over:  kill -HUP <demo pid>
  --concurrency C    connections at a time with --connections (default 4)
  --json             with --connections, print the report as JSON`;

// ---- the server (old and new versions alike) ----------------------------------------

interface ServerMessage {
  ready?: { pid: number; generation: number; fd: number; address: string; port: number; inheritedFrom: number | null };
  exited?: { pid: number; generation: number; served: number };
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

/** The abstract Unix name where the running version waits for its successor. */
function controlAddress(name: string): AddressInput {
  return { family: 'AF_UNIX', path: `\0${name}` };
}

async function runServer(generation: number, control: string, host: string, port: number): Promise<void> {
  let listener: Socket;
  let inheritedFrom: number | null = null;
  if (generation === 1) {
    listener = Socket.tcp(host.includes(':') ? 'AF_INET6' : 'AF_INET');
    listener.reuseAddr = true;
    listener.bind(host.includes(':') ? { family: 'AF_INET6', address: host, port } : { family: 'AF_INET', address: host, port });
    listener.listen(511);
  } else {
    // The hand-over: connect to the running version and receive its listening socket.
    const channel = Socket.create(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    await channel.connectAsync(controlAddress(control), { timeout: STARTUP_MS });
    const text = Buffer.alloc(32);
    const { fds, bytes } = await channel.recvFdsAsync(text, 1, { timeout: STARTUP_MS });
    if (fds.length !== 1) throw new Error('pass-fd: the old version sent no socket');
    listener = new Socket(fds[0]!);
    inheritedFrom = Number(text.toString('utf8', 0, bytes));
    await serve(listener, generation, control, inheritedFrom, channel);
    return;
  }
  await serve(listener, generation, control, inheritedFrom, null);
}

async function serve(listener: Socket, generation: number, control: string, inheritedFrom: number | null, predecessor: Socket | null): Promise<void> {
  listener.nonBlocking = true;
  const stopAccepting = new AbortController();
  let served = 0;
  const inFlight = new Set<Promise<void>>();
  const accepting = (async () => {
    for (;;) {
      let connection: Socket;
      try {
        ({ socket: connection } = await listener.acceptAsync({ signal: stopAccepting.signal }));
      } catch (error) {
        if (stopAccepting.signal.aborted) return;
        throw error;
      }
      const answer = (async () => {
        try {
          await connection.sendAllAsync(`served by v${generation} pid ${process.pid}\n`, { timeout: 5000 });
          served++;
        } catch {
          // the client went away: nothing to finish
        } finally {
          connection.close();
        }
      })();
      inFlight.add(answer);
      void answer.finally(() => inFlight.delete(answer));
    }
  })();

  // Tell the predecessor we accept now; it lets go of the control name, then we take it.
  if (predecessor !== null) {
    await predecessor.sendAllAsync('accepting');
    const done = Buffer.alloc(16);
    await predecessor.recvAsync(done, { timeout: STARTUP_MS }); // 'released', or EOF when it exited
    predecessor.close();
  }
  const handOver = Socket.create(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
  handOver.bind(controlAddress(control));
  handOver.listen(1);
  const local = listener.localAddress;
  send({
    ready: { pid: process.pid, generation, fd: listener.fd, address: formatAddress(local), port: 'port' in local ? local.port : 0, inheritedFrom },
  });

  const finish = async (): Promise<void> => {
    stopAccepting.abort();
    await accepting;
    listener.close(); // our copy only: the successor holds the socket
    await Promise.all(inFlight);
    send({ exited: { pid: process.pid, generation, served } });
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message === 'stop') void finish();
  });
  process.on('disconnect', () => void finish());

  // Wait for a successor, give it the listening socket, let it start, then go.
  const { socket: successor } = await handOver.acceptAsync();
  await successor.sendFdsAsync(String(process.pid), [listener]);
  const reply = Buffer.alloc(16);
  await successor.recvAsync(reply, { timeout: STARTUP_MS }); // 'accepting'
  stopAccepting.abort();
  await accepting;
  listener.close();
  handOver.close(); // frees the control name for the successor
  await successor.sendAllAsync('released');
  successor.close();
  await Promise.all(inFlight);
  send({ exited: { pid: process.pid, generation, served } });
  process.exit(0);
}

// ---- the demo ---------------------------------------------------------------------

interface Options {
  host: string;
  port: number;
  connections: number | undefined;
  concurrency: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        connections: { type: 'string' },
        concurrency: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  return {
    host: values.host ?? '127.0.0.1',
    port: intOption(values.port, '--port', 0, 65535) ?? 0,
    connections: intOption(values.connections, '--connections', 2, 1_000_000),
    concurrency: intOption(values.concurrency, '--concurrency', 1, 256) ?? 4,
    json: values.json ?? false,
  };
}

interface Version {
  child: ChildProcess;
  ready: NonNullable<ServerMessage['ready']>;
  exited: Promise<NonNullable<ServerMessage['exited']>>;
}

/** Forks version `generation` and resolves once it accepts on the (possibly inherited) socket. */
async function startVersion(generation: number, control: string, host: string, port: number): Promise<Version> {
  const child = fork(thisFile, [SERVER_FLAG, String(generation), control, host, String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let resolveExit!: (value: NonNullable<ServerMessage['exited']>) => void;
  const exited = new Promise<NonNullable<ServerMessage['exited']>>((resolve) => (resolveExit = resolve));
  const ready = new Promise<NonNullable<ServerMessage['ready']>>((resolve, reject) => {
    child.on('message', (message: ServerMessage) => {
      if (message.ready) resolve(message.ready);
      if (message.exited) resolveExit(message.exited);
    });
    child.once('exit', (code) => {
      reject(new Error(`server v${generation} (pid ${child.pid}) exited with code ${code}`));
      resolveExit({ pid: child.pid ?? 0, generation, served: -1 });
    });
  });
  const timer = setTimeout(() => child.kill(), STARTUP_MS);
  try {
    return { child, ready: await ready, exited };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function stopVersion(version: Version): Promise<void> {
  const { child } = version;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send('stop');
  else child.kill('SIGTERM');
  await exited;
}

function describeReady(ready: Version['ready']): string {
  const how = ready.inheritedFrom === null ? `listening on ${ready.address}` : `received the listening socket from pid ${ready.inheritedFrom} over SCM_RIGHTS`;
  return `v${ready.generation} (pid ${ready.pid}) ${how} as fd ${ready.fd}, accepting\n`;
}

/** What the hammering client saw. */
interface Tally {
  connections: number;
  refused: number;
  otherErrors: number;
  servedBy: Record<string, number>;
}

/** One connection: connect, read the answer to EOF, close. */
async function oneConnection(host: string, port: number, tally: Tally): Promise<void> {
  const socket = Socket.create(host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
  try {
    await socket.connectAsync(host.includes(':') ? { family: 'AF_INET6', address: host, port } : { family: 'AF_INET', address: host, port }, { timeout: 10_000 });
    const chunks: Buffer[] = [];
    for (let reads = 0; reads < 100; reads++) {
      const buffer = Buffer.alloc(128);
      const n = await socket.recvAsync(buffer, { timeout: 10_000 });
      if (n === 0) break;
      chunks.push(buffer.subarray(0, n));
    }
    const answer = Buffer.concat(chunks).toString();
    const version = /served by (v\d+)/.exec(answer)?.[1] ?? 'unknown';
    tally.servedBy[version] = (tally.servedBy[version] ?? 0) + 1;
  } catch (error) {
    if (isSyscallError(error, 'ECONNREFUSED') || (error as { errno?: number }).errno === ECONNREFUSED) tally.refused++;
    else tally.otherErrors++;
  } finally {
    tally.connections++;
    socket.close();
  }
}

/**
 * `count / 2` connections, then the hand-over starts while the client keeps
 * connecting; once it is complete, `count / 2` more. `duringHandOver` counts
 * the connections made while it ran.
 */
async function hammer(host: string, port: number, count: number, concurrency: number, handOver: () => Promise<void>): Promise<Tally & { duringHandOver: number }> {
  const tally: Tally = { connections: 0, refused: 0, otherErrors: 0, servedBy: {} };
  let budget = Math.floor(count / 2);
  let phase: 'before' | 'during' | 'after' = 'before';
  let duringHandOver = 0;
  let handedOver: Promise<void> | undefined;
  let started = 0;
  const startHandOver = () => {
    phase = 'during';
    handedOver = handOver().finally(() => {
      phase = 'after';
      budget = started + (count - Math.floor(count / 2));
    });
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        if (phase === 'before' && started >= budget) startHandOver();
        if (phase === 'after' && started >= budget) break;
        if (phase === 'during') duringHandOver++;
        started++;
        await oneConnection(host, port, tally);
      }
    }),
  );
  await handedOver;
  return { ...tally, duringHandOver };
}

async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const control = `sockfd-pass-fd-${process.pid}`;
  const print = (text: string) => {
    if (!options.json) process.stdout.write(text);
  };
  let current = await startVersion(1, control, options.host, options.port);
  const port = current.ready.port;
  print(describeReady(current.ready));
  const versions: Version[] = [current];

  /** Starts the next version; resolves when it accepts and the old one has exited. */
  const handOver = async (): Promise<void> => {
    const old = current;
    const next = await startVersion(old.ready.generation + 1, control, options.host, port);
    versions.push(next);
    current = next;
    print(describeReady(next.ready));
    const exited = await old.exited;
    print(`v${exited.generation} (pid ${exited.pid}) stopped accepting, finished its ${exited.served} connections and exited\n`);
  };

  if (options.connections !== undefined) {
    print(`client: ${options.concurrency} connections at a time; hand-over after ${Math.floor(options.connections / 2)}, then ${options.connections - Math.floor(options.connections / 2)} more\n`);
    let tally: Awaited<ReturnType<typeof hammer>>;
    try {
      tally = await hammer(options.host, port, options.connections, options.concurrency, handOver);
    } finally {
      await stopVersion(current);
    }
    const report = { port, versions: versions.map((v) => ({ generation: v.ready.generation, pid: v.ready.pid, inheritedFrom: v.ready.inheritedFrom })), ...tally };
    if (options.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const served = Object.entries(tally.servedBy).map(([version, n]) => `${version}: ${n}`).join(', ');
      print(`${tally.connections} connections (${tally.duringHandOver} during the hand-over): served by ${served}; refused ${tally.refused}, other errors ${tally.otherErrors}\n`);
    }
    return tally.refused === 0 && tally.otherErrors === 0 ? 0 : 1;
  }

  print(`serving on port ${port}; hand over with  kill -HUP ${process.pid}  ; stop with Ctrl-C\n`);
  let handing: Promise<void> | undefined;
  process.on('SIGHUP', () => {
    handing = (handing ?? Promise.resolve()).then(handOver).catch((error: Error) => {
      process.stderr.write(`hand-over failed: ${error.message}\n`);
    });
  });
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  print(`${signal}: stopping\n`);
  await handing;
  await stopVersion(current);
  return 0;
}

export const demo: Demo = {
  name: 'pass-fd',
  programs: [],
  summary: 'zero-downtime restart: the new version receives the listening socket over SCM_RIGHTS',
  usage,
  run,
};

if (process.argv[1] === thisFile && process.argv[2] === SERVER_FLAG) {
  runServer(Number(process.argv[3]), process.argv[4]!, process.argv[5]!, Number(process.argv[6])).catch((error: Error) => {
    process.stderr.write(`pass-fd server: ${error.message}\n`);
    process.exit(1);
  });
}
