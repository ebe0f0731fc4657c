// Small programs the scenarios run on the lab's hosts where the tutorial's
// lesson needs its two ends on two machines and no twin splits that way
// (the nagle twin keeps its server in a worker thread; the backlog twin
// connects from its own process). `sockfd lab peer <kind> ...` runs one.
import { Socket } from '../../lib/socket.js';
import { isSyscallError } from '../../lib/errors.js';
import { UsageError } from '../usage-error.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function integer(text: string | undefined, what: string, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < min || value > max) throw new UsageError(`${what} must be ${min}..${max}, got '${text}'`);
  return value;
}

/** The Nagle section's server: each request is 8 bytes (two small writes), the reply "ok". */
function nagleServer(port: number): number {
  using listener = Socket.tcp();
  listener.reuseAddr = true;
  listener.bind({ family: 'AF_INET', port }).listen(5);
  process.stdout.write(`listening on ${port}\n`);
  using conn = listener.accept().socket;
  for (;;) {
    try {
      conn.recvExactly(8);
    } catch {
      return 0; // the client closed
    }
    conn.sendAll('ok');
  }
}

/** The Nagle section's client: per round a 4-byte header and a 4-byte body, then the reply. */
function nagleClient(host: string, port: number, rounds: number, noDelay: boolean): number {
  using sock = Socket.tcp();
  if (noDelay) sock.noDelay = true;
  sock.connect({ family: 'AF_INET', address: host, port });
  for (let round = 1; round <= rounds; round++) {
    const started = process.hrtime.bigint();
    sock.send(Buffer.from([0, 0, 0, 4]));
    sock.send(Buffer.from('body'));
    sock.recvExactly(2);
    process.stdout.write(`round ${round}: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms\n`);
  }
  return 0;
}

/** Connects `count` times without blocking (as the backlog lesson's background clients), holds, closes. */
async function connectMany(host: string, port: number, count: number, holdMs: number): Promise<number> {
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const sock = Socket.tcp();
      sockets.push(sock);
      sock.nonBlocking = true;
      try {
        sock.connect({ family: 'AF_INET', address: host, port });
      } catch (error) {
        if (!isSyscallError(error, 'EINPROGRESS')) throw error;
      }
    }
    process.stdout.write(`${count} connects started\n`);
    await pause(holdMs);
    return 0;
  } finally {
    for (const sock of sockets) sock.close();
  }
}

/** Connects (blocking) and then says nothing for `holdMs`: the handshake alone. */
async function holdConnect(host: string, port: number, holdMs: number): Promise<number> {
  using sock = Socket.tcp();
  try {
    sock.connect({ family: 'AF_INET', address: host, port });
  } catch (error) {
    process.stdout.write(`connect: ${(error as Error).message.replace(/^connect: /, '')}\n`);
    return 1;
  }
  process.stdout.write('connected\n');
  await pause(holdMs);
  return 0;
}

/** `sockfd lab peer <kind> args...` */
export async function runPeer(argv: string[]): Promise<number> {
  const [kind, ...args] = argv;
  switch (kind) {
    case 'nagle-server':
      return nagleServer(integer(args[0], 'port', 1, 65535));
    case 'nagle-client':
      return nagleClient(args[0] ?? '', integer(args[1], 'port', 1, 65535), integer(args[2], 'rounds', 1, 1000), args[3] === '--nodelay');
    case 'connect-many':
      return connectMany(args[0] ?? '', integer(args[1], 'port', 1, 65535), integer(args[2], 'count', 1, 100), integer(args[3], 'hold-ms', 0, 600_000));
    case 'hold-connect':
      return holdConnect(args[0] ?? '', integer(args[1], 'port', 1, 65535), integer(args[2], 'hold-ms', 0, 600_000));
    default:
      throw new UsageError(`unknown peer '${kind ?? ''}' (nagle-server, nagle-client, connect-many, hold-connect)`);
  }
}
