// The Node peers' side of the harness protocol (the twin of bench/c/bench.h):
// "port N" on stdout from a server, one JSON object from a client, and the
// blocking calls of the raw API (the loops over partial sends and reads are lib/io.ts).
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import * as posix from '../../lib/posix.js';
import type { RunOutput } from './model.js';
import { recvFull } from '../../lib/io.js';
import { EndOfStreamError } from '../../lib/errors.js';

/** Writes a whole line to stdout, blocking (a pipe may be non-blocking in Node). */
export function printLine(line: string): void {
  const bytes = Buffer.from(line + '\n');
  for (let offset = 0; offset < bytes.length; ) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      posix.poll([{ fd: 1, events: posix.POLLOUT }], 1000);
    }
  }
}

/** Announces a listening port to the harness. */
export function announcePort(port: number): void {
  printLine(`port ${port}`);
}

/** Prints the run's result for the harness. */
export function printResult(output: RunOutput): void {
  printLine(JSON.stringify(output));
}

/** Where nowNs() reads the clock: [seconds, nanoseconds], reused (nothing allocated per reading). */
const clockReading = new Float64Array(2);
const { clock_gettime, CLOCK_MONOTONIC } = posix;
const NS_PER_SECOND = 1e9;

/**
 * Elapsed-time clock in nanoseconds: CLOCK_MONOTONIC through sockfd's clock_gettime (a V8 fast
 * call into a reused Float64Array), the clock bench/c/bench.h's now_ns() reads, so that both sides
 * of a comparison time their rounds with the same clock. It costs ~45 instructions a reading less
 * than perf_hooks' performance.now() (callgrind), still several times C's. A double: exact while
 * the clock is below 2^53 ns (104 days since boot), and only differences of readings are used.
 */
export function nowNs(): number {
  // Small in bytecode (module constants, no namespace lookups), as everything a timed round calls:
  // TurboFan inlines a loop's callees only up to a cumulative bytecode budget (lib/fast-io.ts).
  const reading = clockReading;
  clock_gettime(CLOCK_MONOTONIC, reading);
  return reading[0]! * NS_PER_SECOND + reading[1]!;
}

/** A parsed non-negative integer argument, or a thrown RangeError naming it. */
export function intArg(args: readonly string[], index: number, name: string): number {
  const text = args[index];
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new RangeError(`${name} must be a non-negative integer, got '${text ?? ''}'`);
  return value;
}

/** A string argument that must be one of `choices`. */
export function choiceArg<T extends string>(args: readonly string[], index: number, name: string, choices: readonly T[]): T {
  const text = args[index];
  if (!choices.includes(text as T)) throw new RangeError(`${name} must be one of ${choices.join(', ')}, got '${text ?? ''}'`);
  return text as T;
}

// ---- sockfd sides: the blocking raw API --------------------------------------------

/** A TCP socket listening on 127.0.0.1 with a kernel-chosen port, announced on stdout. */
export function listenAnnounced(): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  posix.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
  posix.listen(fd, posix.SOMAXCONN);
  const address = posix.getsockname(fd);
  if (address.family !== 'AF_INET') throw new Error('getsockname: not an IPv4 address');
  announcePort(address.port);
  return fd;
}

/** A TCP socket connected to 127.0.0.1:port. */
export function connectLoopback(port: number): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  posix.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
  return fd;
}

/** Every byte of data sent (lib/io.ts): `sendAll(fd, data, { flags, offset, length })`. */
export { sendAll } from '../../lib/io.js';

/** recv() until `length` bytes are in `buffer`; false when the peer closed before the first byte. */
export function recvAll(fd: number, buffer: Uint8Array, length = buffer.length): boolean {
  const got = recvFull(fd, buffer, { length });
  return got === length || endedEarly(got, length);
}

// Out of line (bytecode budget, see nowNs): false when the peer closed before the first byte, else EndOfStreamError.
function endedEarly(got: number, length: number): false {
  if (got === 0) return false;
  throw new EndOfStreamError('recv', got, length);
}

// ---- the "C+threads" rows ------------------------------------------------------------

let threadsBesideMain: number | undefined;

/**
 * How many threads a Node peer has besides its main thread (V8's platform workers and the
 * rest; /proc/<pid>/task of a fresh `node`, asked once): the idle threads the "C+threads"
 * rows give each C process (bench/c/bench.h's --idle-threads), so that the kernel's
 * per-call file reference and glibc's multi-threaded paths are the same as in Node.
 */
export function nodeThreadsBesideMain(): number {
  if (threadsBesideMain === undefined) {
    const probe = spawnSync(process.execPath, ['-e', "process.stdout.write(String(require('fs').readdirSync('/proc/self/task').length))"], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const threads = Number(probe.stdout);
    if (probe.status !== 0 || !Number.isInteger(threads) || threads < 1) throw new Error(`could not count a Node process's threads: ${probe.stderr || probe.error?.message || 'no output'}`);
    threadsBesideMain = threads - 1;
  }
  return threadsBesideMain;
}
