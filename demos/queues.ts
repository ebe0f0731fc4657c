// `sockfd demo queues`: the tutorial's TCP buffer question, "send()函数有可能会阻塞吗？"
// (can send() block?), answered with numbers. A connection over loopback whose
// receiver never reads: the sender writes until the kernel will take no more,
// and every row shows where the bytes are - SIOCOUTQ (the sender's queue, not
// yet acknowledged), SIOCOUTQNSD (not yet sent), SIOCINQ (the receiver's queue,
// not yet read) - next to SO_SNDBUF and SO_RCVBUF. Then a blocking send()
// waits (SO_SNDTIMEO ends the wait), and a read by the peer lets it go on.
import { parseArgs } from 'node:util';
import { UsageError } from '../tools/usage-error.js';
import { Socket } from '../lib/socket.js';
import { isSyscallError } from '../lib/errors.js';
import { poll } from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { intOption } from './support/int-option.js';

const usage = `usage: sockfd demo queues [--sndbuf BYTES] [--rcvbuf BYTES] [--chunk BYTES] [--json]

Can send() block? A TCP connection over 127.0.0.1 whose receiver never calls
recv(). The sender sends CHUNK bytes at a time (non-blocking) until the kernel
takes no more, printing where the bytes wait:

  SIOCOUTQ     bytes in the sender's queue the peer has not acknowledged
  SIOCOUTQNSD  of those, bytes not even sent yet
  SIOCINQ      bytes in the receiver's queue it has not read
  SO_SNDBUF / SO_RCVBUF  the two buffer sizes (Linux doubles what you set)

Then a blocking send() waits for room (SO_SNDTIMEO ends the wait after 300 ms),
and once the receiver reads, send() takes bytes again.

  --sndbuf BYTES   setsockopt(SO_SNDBUF) on the sender first (default: the kernel's)
  --rcvbuf BYTES   setsockopt(SO_RCVBUF) on the receiver first (default: the kernel's)
  --chunk BYTES    bytes per send() (default 16384)
  --json           print the measurements as JSON`;

interface Row {
  sent: number;
  outq: number;
  unsent: number;
  inq: number;
}

interface Report {
  sndbuf: number;
  rcvbuf: number;
  rows: Row[];
  /** Bytes accepted by send() before it returned EAGAIN. */
  blockedAfter: number;
  /** The queues once they settled: every byte is in one of them. */
  settled: Row;
  /** A blocking send() on the full socket: how long it waited before SO_SNDTIMEO ended it. */
  blockingWaitMs: number;
  blockingError: string;
  /** After the receiver read `readByPeer` bytes, a send() took this many. */
  readByPeer: number;
  resumed: number;
}

function measure(sender: Socket, receiver: Socket, sent: number): Row {
  return { sent, outq: sender.sendQueueBytes, unsent: sender.unsentBytes, inq: receiver.readableBytes };
}

function measureQueues(options: { sndbuf?: number; rcvbuf?: number; chunk: number }): Report {
  const listener = Socket.tcp();
  const sender = Socket.tcp();
  let receiver: Socket | undefined;
  try {
    listener.bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 });
    // Set before the handshake: the window scale is chosen then.
    if (options.rcvbuf !== undefined) listener.receiveBufferSize = options.rcvbuf;
    listener.listen(1);
    if (options.sndbuf !== undefined) sender.sendBufferSize = options.sndbuf;
    sender.connect(listener.localAddress as { family: 'AF_INET'; address: string; port: number });
    receiver = listener.accept().socket;
    const report: Report = {
      sndbuf: sender.sendBufferSize,
      rcvbuf: receiver.receiveBufferSize,
      rows: [],
      blockedAfter: 0,
      settled: { sent: 0, outq: 0, unsent: 0, inq: 0 },
      blockingWaitMs: 0,
      blockingError: '',
      readByPeer: 0,
      resumed: 0,
    };
    sender.nonBlocking = true;
    const chunk = Buffer.alloc(options.chunk, 0x61);
    let sent = 0;
    let nextRow = options.chunk;
    /** Non-blocking sends until EAGAIN; the bytes taken. */
    const fill = (): number => {
      let taken = 0;
      for (let calls = 0; calls < 1_000_000; calls++) {
        let n: number;
        try {
          n = sender.send(chunk);
        } catch (error) {
          if (isSyscallError(error, 'EAGAIN')) break;
          throw error;
        }
        sent += n;
        taken += n;
        if (sent >= nextRow) {
          report.rows.push(measure(sender, receiver!, sent));
          nextRow *= 2;
        }
      }
      return taken;
    };
    fill();
    report.blockedAfter = sent;
    // The last segments are acknowledged a moment later, which frees a little room: wait (bounded)
    // until the counts add up, and fill again, until send() takes nothing more.
    let settled = measure(sender, receiver, sent);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200 && settled.inq + settled.outq !== sent; i++) {
        poll([], 5);
        settled = measure(sender, receiver, sent);
      }
      if (fill() === 0) break;
      settled = measure(sender, receiver, sent);
    }
    report.blockedAfter = sent;
    report.settled = settled;
    report.rows.push(settled);
    // A blocking send() on the full socket waits; SO_SNDTIMEO bounds the wait.
    sender.nonBlocking = false;
    sender.sendTimeout = 300;
    const started = process.hrtime.bigint();
    try {
      sender.send(chunk);
      report.blockingError = 'none: it took bytes';
    } catch (error) {
      if (!isSyscallError(error, 'EAGAIN')) throw error;
      report.blockingError = (error as Error).message;
    }
    report.blockingWaitMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
    // The receiver reads: room again, send() goes on.
    const sink = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 1000 && report.readByPeer < settled.inq; i++) {
      const n = receiver.recv(sink);
      if (n === 0) break;
      report.readByPeer += n;
    }
    sender.nonBlocking = true;
    for (let i = 0; i < 200 && report.resumed === 0; i++) {
      try {
        report.resumed = sender.send(chunk);
      } catch (error) {
        if (!isSyscallError(error, 'EAGAIN')) throw error;
        poll([{ fd: sender.fd, events: 4 /* POLLOUT */ }], 10); // the window opens once the ACK is processed
      }
    }
    return report;
  } finally {
    receiver?.close();
    sender.close();
    listener.close();
  }
}

function print(report: Report): void {
  const w = (n: number | string, width: number) => String(n).padStart(width);
  const lines = [
    'send()函数有可能会阻塞吗？  Can send() block?  Yes - when the send buffer is full:',
    `a TCP connection over 127.0.0.1 whose receiver never calls recv(); SO_SNDBUF=${report.sndbuf}, SO_RCVBUF=${report.rcvbuf}`,
    '',
    `${w('sent by send()', 15)}  ${w('SIOCOUTQ', 9)}  ${w('SIOCOUTQNSD', 11)}  ${w('SIOCINQ (peer)', 14)}`,
    ...report.rows.map((r) => `${w(r.sent, 15)}  ${w(r.outq, 9)}  ${w(r.unsent, 11)}  ${w(r.inq, 14)}`),
    '',
    `send() took ${report.blockedAfter} bytes, then EAGAIN: a non-blocking socket says "would block" here.`,
    `They wait in two queues: ${report.settled.inq} bytes at the receiver (SIOCINQ) + ${report.settled.outq} unacknowledged at the sender (SIOCOUTQ) = ${report.settled.inq + report.settled.outq}.`,
    `A blocking send() waited ${report.blockingWaitMs} ms until SO_SNDTIMEO ended it: ${report.blockingError}.`,
    `After the receiver read ${report.readByPeer} bytes, send() took ${report.resumed} bytes again.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

function run(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { sndbuf: { type: 'string' }, rcvbuf: { type: 'string' }, chunk: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  const report = measureQueues({
    sndbuf: intOption(values.sndbuf, '--sndbuf', 1024, 64 * 1024 * 1024),
    rcvbuf: intOption(values.rcvbuf, '--rcvbuf', 1024, 64 * 1024 * 1024),
    chunk: intOption(values.chunk, '--chunk', 1, 16 * 1024 * 1024) ?? 16384,
  });
  if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
  else print(report);
  return 0;
}

export const demo: Demo = {
  name: 'queues',
  programs: [],
  summary: 'can send() block? fill a socket whose peer never reads: SIOCOUTQ, SIOCINQ and the buffer sizes',
  usage,
  run,
};
