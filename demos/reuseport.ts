// `sockfd demo reuseport`: N worker processes, each with a listening socket of
// its own bound with SO_REUSEPORT to one port, each served by Node's http
// module (toNetServer: listen({ fd })). No primary process accepts and passes
// connections on, as node:cluster does: the kernel spreads them over the
// workers' sockets by a hash of each connection's addresses and ports.
// The same module is the worker: the demo forks this file with WORKER_FLAG.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../tools/usage-error.js';
import { Socket } from '../lib/socket.js';
import { toNetServer } from '../lib/net-handoff.js';
import type { AddressInput } from '../lib/sockaddr.js';
import type { Demo } from './support/demo.js';
import { intOption } from './support/int-option.js';

const WORKER_FLAG = '--reuseport-worker';
const thisFile = fileURLToPath(import.meta.url);
const STARTUP_MS = 15_000;

const usage = `usage: sockfd demo reuseport [--workers N] [--host IP] [--port P] [--requests M]

Starts N worker processes (default 4). Each makes its own TCP socket, sets
SO_REUSEPORT, binds it to the same IP and port, listens, and hands it to Node's
http module (toNetServer). Every response names the worker that served it.
The kernel, not a primary process, decides which worker gets each connection.

  --workers N    worker processes (1..64, default 4)
  --host IP      address to bind (default 127.0.0.1; an IPv6 literal works too)
  --port P       port (default 0: the kernel picks one, printed at start)
  --requests M   send M requests, one connection each, print how many each
                 worker served, then stop. Without it, serve until Ctrl-C:
                 try  curl http://127.0.0.1:PORT/  a few times.`;

// ---- the worker ------------------------------------------------------------------

function address(host: string, port: number): AddressInput {
  return host.includes(':') ? { family: 'AF_INET6', address: host, port } : { family: 'AF_INET', address: host, port };
}

/** A listening socket of this process's own on the shared port. */
function reusePortListener(host: string, port: number, listen: boolean): Socket {
  const socket = Socket.tcp(host.includes(':') ? 'AF_INET6' : 'AF_INET');
  try {
    socket.reusePort = true; // before bind(): every socket of the group must set it
    socket.bind(address(host, port));
    if (listen) socket.listen(511);
    return socket;
  } catch (error) {
    socket.close();
    throw error;
  }
}

function runWorker(host: string, port: number): void {
  const server = toNetServer(
    reusePortListener(host, port, true),
    http.createServer((_request, response) => {
      response.setHeader('content-type', 'text/plain');
      response.end(`served by worker ${process.pid}\n`);
    }),
  );
  server.once('listening', () => process.send?.({ listening: process.pid }));
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('message', (message) => {
    if (message === 'stop') stop();
  });
  process.on('disconnect', stop); // the demo ended without telling us
  // The demo stops us with SIGTERM; a terminal's Ctrl+C reaches the whole process group, us too.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---- the demo --------------------------------------------------------------------

interface Options {
  workers: number;
  host: string;
  port: number;
  requests: number | undefined;
}

function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { workers: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, requests: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  const host = values.host ?? '127.0.0.1';
  if (isIP(host) === 0) throw new UsageError(`--host takes an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got '${host}'`);
  return {
    workers: intOption(values.workers, '--workers', 1, 64) ?? 4,
    host,
    port: intOption(values.port, '--port', 0, 65535) ?? 0,
    requests: intOption(values.requests, '--requests', 1, 100_000),
  };
}

/** Forks a worker (added to `children` at once, so that a stop reaches it) and resolves once its server listens. */
async function startWorker(host: string, port: number, children: ChildProcess[]): Promise<ChildProcess> {
  const child = fork(thisFile, [WORKER_FLAG, host, String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // A worker that already died (Ctrl+C reached it first) makes IPC writes fail with EPIPE: its exit is what counts.
  child.on('error', () => {});
  children.push(child);
  const listening = new Promise<void>((resolve, reject) => {
    child.on('message', (message) => {
      if (typeof message === 'object' && message !== null && 'listening' in message) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker ${child.pid} exited with code ${code} before listening`)));
  });
  const timer = setTimeout(() => child.kill(), STARTUP_MS);
  try {
    await listening;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

async function stopWorkers(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM'); // a signal, not an IPC message: no write to a channel that may be closing
      await exited;
    }),
  );
}

/** One GET on a new connection; resolves to the pid in the answer. */
function ask(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path: '/', agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const match = /worker (\d+)/.exec(body);
        if (match) resolve(Number(match[1]));
        else reject(new Error(`unexpected answer: ${JSON.stringify(body)}`));
      });
    });
    request.on('error', reject);
  });
}

async function sendRequests(host: string, port: number, count: number, pids: readonly number[]): Promise<void> {
  const served = new Map<number, number>(pids.map((pid) => [pid, 0]));
  const concurrency = 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const pid = await ask(host, port);
        served.set(pid, (served.get(pid) ?? 0) + 1);
      }
    }),
  );
  process.stdout.write(`\n${count} requests, a new connection each:\n  worker pid  requests  share\n`);
  for (const [pid, n] of served)
    process.stdout.write(`  ${String(pid).padStart(10)}  ${String(n).padStart(8)}  ${((100 * n) / count).toFixed(1).padStart(4)}%\n`);
  const busy = [...served.values()].filter((n) => n > 0).length;
  process.stdout.write(`${busy} of ${pids.length} workers served connections; the kernel chose, by a hash of each connection's ports.\n`);
}

/** 128 + the signal's number: the exit status a shell shows for a program its signal ended. */
function exitStatusOf(signal: 'SIGINT' | 'SIGTERM'): number {
  return 128 + osConstants.signals[signal];
}

async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const { host, workers } = options;
  // Listening from the start: a signal during start-up stops the workers started so far.
  const stop: { signal: 'SIGINT' | 'SIGTERM' | null } = { signal: null };
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (name: 'SIGINT' | 'SIGTERM') => () => {
    stop.signal ??= name;
    wake();
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const children: ChildProcess[] = [];
  try {
    // With port 0, a bound (not listening) SO_REUSEPORT socket reserves a port for the workers.
    const reservation = reusePortListener(host, options.port, false);
    const local = reservation.localAddress;
    const port = 'port' in local ? local.port : options.port;
    try {
      const starting = Promise.all(Array.from({ length: workers }, () => startWorker(host, port, children)));
      // A worker that a Ctrl+C ended while it started is no failure: the stop is under way.
      await Promise.race([starting.catch((error: unknown) => (stop.signal === null ? Promise.reject(error) : undefined)), stopped]);
    } finally {
      reservation.close();
    }
    if (stop.signal === null) {
      const pids = children.map((child) => child.pid!);
      const url = host.includes(':') ? `http://[${host}]:${port}/` : `http://${host}:${port}/`;
      process.stdout.write(`${workers} workers listening on ${url} (pids ${pids.join(' ')}), each with its own SO_REUSEPORT socket\n`);
      if (options.requests !== undefined) {
        await Promise.race([sendRequests(host, port, options.requests, pids), stopped]);
      } else {
        process.stdout.write('serving until SIGINT or SIGTERM\n');
        await stopped;
      }
    }
    if (stop.signal !== null) process.stdout.write(`${stop.signal}: stopping the workers\n`);
  } finally {
    await stopWorkers(children);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return stop.signal === null ? 0 : exitStatusOf(stop.signal);
}

export const demo: Demo = {
  name: 'reuseport',
  programs: [],
  summary: 'N worker processes, each with its own SO_REUSEPORT socket on one port, served by node:http',
  usage,
  run,
};

if (process.argv[1] === thisFile && process.argv[2] === WORKER_FLAG) runWorker(process.argv[3]!, Number(process.argv[4]));
