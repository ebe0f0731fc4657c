// throughput: bulk data over one loopback connection in chunks of 4 KiB,
// 64 KiB and 1 MiB, C vs sockfd (blocking send/recv, one reused buffer) vs
// Node net (write with back-pressure). The receiver replies one byte after
// EOF, so the sender's clock covers delivery. Before its clock starts the
// client sends an untimed warm-up in WARMUP_PASSES passes of the same sending
// code, each answered by the server with one byte, so that the timed window
// starts from an empty connection and, in the Node peers, from compiled code
// (no compiler threads or interpreted loop inside it).
import net from 'node:net';
import * as posix from '../lib/posix.js';
import { bySize, measureCase, pythonNotes, pythonPeerCommand, withPython, pairRun, sizeLabel, workWithin, type BenchContext, type Benchmark } from './harness/harness.js';
import { runMetric, type CaseResult, type RunOutput } from './harness/model.js';
import { announcePort, connectLoopback, intArg, listenAnnounced, nodeThreadsBesideMain, nowNs, printResult, recvAll, sendAll } from './harness/peer-io.js';

const NAME = 'throughput';
/**
 * C, sockfd, net and, where python3 exists, Python's socket module (decided when a run starts, not at import);
 * beyond --smoke also 'C+threads': the same C programs with a Node peer's thread count (the targets stay against C).
 */
const implsHere = (context: BenchContext): string[] => withPython(context.scale === 'smoke' ? ['C', 'sockfd', 'net'] : ['C', 'C+threads', 'sockfd', 'net'], 'Python');

const chunkSizes = [4 * 1024, 64 * 1024, 1024 * 1024];

/**
 * The warm-up is this many passes of WARMUP / WARMUP_PASSES bytes, each answered with one byte
 * (every implementation: bench/c/throughput.c and bench/python/peers.py use the same number).
 * More than one pass because V8 compiles a function that got hot during a call for its next call:
 * the timed call then starts in compiled code.
 */
const WARMUP_PASSES = 4;

/** The bytes of each warm-up pass (0: no warm-up). */
const warmupPass = (warmup: number): number => Math.floor(warmup / WARMUP_PASSES);

/** recv() into `buffer` until `limit` bytes came or the stream ended; the byte count. */
function receiveUpTo(fd: number, buffer: Buffer, limit: number): number {
  let got = 0;
  for (let n; got < limit && (n = posix.recv(fd, buffer)) > 0; ) got += n;
  return got;
}

function sockfdServer(args: readonly string[]): void {
  const chunk = intArg(args, 0, 'CHUNK');
  const total = intArg(args, 1, 'TOTAL');
  const pass = warmupPass(intArg(args, 2, 'WARMUP'));
  const listener = listenAnnounced();
  const { fd } = posix.accept(listener);
  const buffer = Buffer.allocUnsafe(chunk);
  const answer = Buffer.from('k');
  for (let i = 0; pass > 0 && i < WARMUP_PASSES; i++) {
    if (receiveUpTo(fd, buffer, pass) !== pass) throw new Error('the client closed during the warm-up');
    sendAll(fd, answer);
  }
  const received = receiveUpTo(fd, buffer, total);
  if (received !== total || posix.recv(fd, buffer) !== 0) throw new Error(`expected ${total} bytes and then the end of the stream, got ${received}`);
  sendAll(fd, answer);
  process.stderr.write(`received ${received} bytes\n`);
  posix.close(fd);
  posix.close(listener);
}

/** `bytes` in send() calls of at most buffer.length bytes; the number of calls. */
function sendChunks(fd: number, buffer: Buffer, bytes: number): number {
  let sends = 0;
  for (let left = bytes; left > 0; sends++) {
    const length = Math.min(left, buffer.length);
    sendAll(fd, buffer, { length });
    left -= length;
  }
  return sends;
}

function sockfdClient(args: readonly string[]): void {
  const port = intArg(args, 0, 'PORT');
  const total = intArg(args, 1, 'TOTAL');
  const chunk = intArg(args, 2, 'CHUNK');
  const pass = warmupPass(intArg(args, 3, 'WARMUP'));
  const buffer = Buffer.alloc(chunk, 'x');
  const answer = Buffer.alloc(1);
  const fd = connectLoopback(port);
  for (let i = 0; pass > 0 && i < WARMUP_PASSES; i++) {
    sendChunks(fd, buffer, pass);
    if (!recvAll(fd, answer)) throw new Error('server closed during the warm-up');
  }
  const start = nowNs();
  const sends = sendChunks(fd, buffer, total);
  posix.shutdown(fd, posix.SHUT_WR);
  if (!recvAll(fd, answer)) throw new Error('server closed without the final byte');
  const elapsed = nowNs() - start;
  posix.close(fd);
  printResult({ ops: sends, bytes: total, ns: Math.round(elapsed) });
}

function netServer(args: readonly string[]): Promise<void> {
  const total = intArg(args, 1, 'TOTAL');
  const pass = warmupPass(intArg(args, 2, 'WARMUP'));
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      server.close();
      let received = 0; // of the pass, then of the timed part
      let passes = 0; // warm-up passes answered
      socket.on('data', (data) => {
        received += data.length;
        // The client sends nothing after a pass before the answer, so a pass ends exactly on a boundary.
        if (passes < WARMUP_PASSES && pass > 0 && received === pass) {
          passes++;
          received = 0;
          socket.write('k');
        }
      });
      socket.on('end', () => {
        if (received !== total) return reject(new Error(`expected ${total} bytes, got ${received}`));
        process.stderr.write(`received ${received} bytes\n`);
        socket.end('k');
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => announcePort((server.address() as net.AddressInfo).port));
  });
}

function netClient(args: readonly string[]): Promise<void> {
  const port = intArg(args, 0, 'PORT');
  const total = intArg(args, 1, 'TOTAL');
  const chunk = intArg(args, 2, 'CHUNK');
  const pass = warmupPass(intArg(args, 3, 'WARMUP'));
  const buffer = Buffer.alloc(chunk, 'x');
  return new Promise((resolve, reject) => {
    let passes = pass > 0 ? WARMUP_PASSES : 0; // warm-up passes still to send
    let left = 0;
    let sends = 0;
    let timed = false;
    let start = 0;
    let answered = false;
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => next());
    // The next warm-up pass, or the timed part once every pass was answered.
    const next = (): void => {
      if (passes > 0) {
        passes--;
        left = pass;
      } else {
        left = total;
        sends = 0;
        timed = true;
        start = nowNs();
      }
      pump();
    };
    // Writes until the stream asks to wait; 'drain' resumes. The same buffer is
    // queued again and again: its content never changes, so that is safe. A
    // warm-up pass then waits for its answer; the timed part ends the stream.
    const pump = (): void => {
      while (left > 0) {
        const length = Math.min(left, chunk);
        left -= length;
        sends++;
        if (!socket.write(length === chunk ? buffer : buffer.subarray(0, length))) return void socket.once('drain', pump);
      }
      if (timed) socket.end();
    };
    socket.on('data', (data) => {
      for (let i = 0; i < data.length; i++) {
        if (!timed) next(); // a warm-up pass was answered
        else if (!answered) {
          answered = true;
          printResult({ ops: sends, bytes: total, ns: Math.round(nowNs() - start) });
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => (answered ? resolve() : reject(new Error('server closed without the final byte'))));
  });
}

async function run(context: BenchContext) {
  const total = bySize(context, { full: 1 << 30, quick: 32 << 20, smoke: 1 << 20 });
  const warmupTotal = bySize(context, { full: 64 << 20, quick: 8 << 20, smoke: 1 << 20 });
  // The untimed lead-in of every run, in chunks and at most so many bytes. V8 at 4 KiB and at 64 KiB had
  // compiled the whole sending and receiving loop, and finished compiling, after 4,096 chunks (2,048 were
  // not enough at 64 KiB); without a lead-in its compiler threads took ~1.5% of a 1 GiB 4 KiB window.
  const leadInChunks = bySize(context, { full: 8192, quick: 1024, smoke: 16 });
  const leadInCap = bySize(context, { full: 512 << 20, quick: 32 << 20, smoke: 1 << 20 });
  const leadInOf = (chunk: number): number => Math.min(leadInChunks * chunk, leadInCap);
  // Runs of 1 GiB spread by ~10% on their own (C at 4 KiB: 1.08-1.21 s for the same bytes), so three
  // pairs gave a median ratio that moved by more than the targets' margins between two sets. Seven
  // interleaved pairs a row; each run stays within secondsPerRun (about 2 min for the three rows, from 1).
  const runs = bySize(context, { full: 7, quick: 2, smoke: 1 });
  const secondsPerRun = bySize(context, { full: 3, quick: 0.4 });
  const cases: CaseResult[] = [];
  const notes: string[] = pythonNotes();
  for (const chunk of chunkSizes) {
    const warmupRate = new Map<string, number>(); // bytes/s of each implementation's warm-up run
    const leadIn = leadInOf(chunk);
    const runOnce = async (impl: string, warmup: boolean): Promise<RunOutput> => {
      const bytes = warmup ? warmupTotal : workWithin(total, warmupRate.get(impl), secondsPerRun, warmupTotal, 1 << 20);
      const serverArgs = [chunk, bytes, leadIn];
      const clientArgs = (port: number) => [port, bytes, chunk, leadIn];
      const threads = impl === 'C+threads' ? ['--idle-threads', nodeThreadsBesideMain()] : [];
      const output =
        impl === 'C' || impl === 'C+threads'
          ? await pairRun(context, context.c(NAME, 'server', ...serverArgs, ...threads), (port) => context.c(NAME, 'client', ...clientArgs(port), ...threads))
          : impl === 'Python'
            ? await pairRun(context, pythonPeerCommand('throughput-server', serverArgs), (port) => pythonPeerCommand('throughput-client', clientArgs(port)))
            : await pairRun(context, context.node(NAME, `${impl}-server`, serverArgs), (port) => context.node(NAME, `${impl}-client`, clientArgs(port)));
      if (warmup) warmupRate.set(impl, runMetric('throughput', output) * 1e6);
      else if (bytes < total && !notes.some((n) => n.startsWith(`${impl} at ${sizeLabel(chunk)}`)))
        notes.push(`${impl} at ${sizeLabel(chunk)} chunks: ${sizeLabel(bytes)} per run instead of ${sizeLabel(total)}, to stay within the time bound`);
      return output;
    };
    // The goals: 0.95x C at 4 KiB, 0.98x at 64 KiB, 0.95x at 1 MiB.
    const targets = [{ subject: 'sockfd', reference: 'C', ratio: chunk === 64 * 1024 ? 0.98 : 0.95 }];
    cases.push(
      await measureCase(
        context,
        { name: `${sizeLabel(chunk)} chunks`, kind: 'throughput', impls: implsHere(context), targets, control: 'C' },
        { runs, runOnce, warmupRun: context.scale !== 'smoke' },
      ),
    );
  }
  return {
    title: `throughput: ${sizeLabel(total)} over loopback TCP by chunk size`,
    description:
      `One connection carries ${sizeLabel(total)} (less for an implementation too slow to move it in ${secondsPerRun} s, see the notes) in send() calls of the chunk size; the receiver reads with a buffer of the chunk size ` +
      '(net: its own 64 KiB reads) until EOF and answers one byte, which stops the clock. Before the clock starts, every run sends ' +
      `${leadInChunks} chunks (at most ${sizeLabel(leadInCap)}) untimed in ${WARMUP_PASSES} passes of the same sending code, each answered by one byte, ` +
      'so that the window starts on an empty connection and on compiled code (V8 compiles the Node peers\' loops during the first thousands of chunks). C, sockfd (blocking calls, one reused ' +
      'Buffer), Node net (write() with back-pressure) and Python (socket.sendall/recv_into) each run both ends; C+threads is the same C with as many idle threads as a Node peer has besides its main thread (the kernel\'s per-call file reference and glibc\'s multi-threaded send/recv, as in Node). MB/s are 10^6 bytes per second. Targets: sockfd at ' +
      'least 0.95x C at 4 KiB and 1 MiB, 0.98x at 64 KiB.',
    parameters: {
      bytesPerRun: total,
      runs,
      warmupBytes: warmupTotal,
      untimedChunksPerRun: leadInChunks,
      untimedBytesPerRunAtMost: leadInCap,
      untimedPasses: WARMUP_PASSES,
      chunks: chunkSizes.map(sizeLabel).join(', '),
    },
    cases,
    notes,
  };
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: '1 GiB over loopback in 4 KiB / 64 KiB / 1 MiB chunks: C vs sockfd vs net vs Python (targets 0.95x/0.98x/0.95x C)',
  cPrograms: [NAME],
  peers: { 'sockfd-server': sockfdServer, 'sockfd-client': sockfdClient, 'net-server': netServer, 'net-client': netClient },
  run,
};
