// The one I/O core: "send every byte", "receive exactly n bytes" and "within a
// deadline", for every sender and receiver of the library, the tools, the demos,
// the benchmarks and the tests. Without a timeout a call is the plain loop over
// partial sends and short reads (the socket's own blocking mode decides whether
// it waits). With `timeout` (ms for the whole call) or `idleTimeout` (ms any one
// wait may last: the peer sent or took nothing for that long) each call adds
// MSG_DONTWAIT and waits for readiness with poll(), bounded, so that a blocking
// and a non-blocking socket behave the same. The async twins (lib/async.ts:
// sendAllAsync, recvExactlyAsync, recvSomeAsync) wait on Node's loop instead.
import * as posix from './posix.js';
import type { BinaryData, Data } from './posix.js';
import { MSG_DONTWAIT, POLLIN, POLLOUT } from './constants.js';
import { EndOfStreamError, isSyscallError } from './errors.js';
import { TimeoutError } from './async.js';
import type { AddressInput } from './sockaddr.js';
import { binding } from './native.js';
import { recvRange, sendRange } from './fast-io.js';

interface ConnectBinding {
  /** connect() after O_NONBLOCK: 0, or -EINPROGRESS while the handshake goes on (native/async_poll.cc). */
  tryConnect(fd: number, address: AddressInput): number;
  /** Throws what connect() would have reported, read from SO_ERROR. */
  connectResult(fd: number): void;
}
const native = binding as unknown as ConnectBinding;

/** The peer sent (or took) nothing for longer than the idle timeout. */
export class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
  /** Always 'ETIMEDOUT'. */
  readonly code = 'ETIMEDOUT';
  /** An Error saying what was awaited and for how long. */
  constructor(
    /** What was awaited (the header, the content, the reply...). */
    readonly waitingFor: string,
    /** The idle timeout that ran out, in ms. */
    readonly timeoutMs: number,
  ) {
    super(`${waitingFor}: nothing happened for ${timeoutMs} ms`);
  }
}

/** The stop fd of a wait became readable or hung up: whoever holds its other end asked to stop. */
export class StopRequestedError extends Error {
  override name = 'StopRequestedError';
  /** An Error naming the call that was stopped. */
  constructor(
    /** The call that was waiting ('accept', 'recv'...). */
    readonly syscall: string,
  ) {
    super(`${syscall}: stopped on request`);
  }
}

/** How long a call may wait. Both bounds may be given; the nearer one ends the wait. */
export interface WaitOptions {
  /**
   * An fd watched during every wait (a pipe's read end): readable or hung up
   * ends the call with StopRequestedError. Only calls with a bound wait.
   */
  stopFd?: number;
  /** Milliseconds for the whole call; then a TimeoutError (code ETIMEDOUT). */
  timeout?: number;
  /** Milliseconds any one wait may last; then an IdleTimeoutError (code ETIMEDOUT). */
  idleTimeout?: number;
  /** What an IdleTimeoutError says was waited for (default: the system call). */
  waitingFor?: string;
}

/** A byte range of the buffer, send/recv flags, and the bounds of the waits. */
export interface IoOptions extends WaitOptions {
  /** MSG_* flags (MSG_DONTWAIT is added when a timeout is given). */
  flags?: number;
  /** First byte of the buffer to use (default 0). */
  offset?: number;
  /** How many bytes from `offset` (default: the rest of the buffer). */
  length?: number;
}

function checkMs(syscall: string, name: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 2 ** 31 - 1))
    throw new RangeError(`${syscall}: options.${name} must be a number of ms from 0 to ${2 ** 31 - 1}, got ${String(value)}`);
}

/** The waits of one call, or undefined when it has no bound (then it never polls). */
class Waits {
  readonly #deadline: number | undefined;

  private constructor(
    readonly syscall: string,
    readonly options: WaitOptions,
  ) {
    this.#deadline = options.timeout === undefined ? undefined : performance.now() + options.timeout;
  }

  static of(syscall: string, options: WaitOptions): Waits | undefined {
    checkMs(syscall, 'timeout', options.timeout);
    checkMs(syscall, 'idleTimeout', options.idleTimeout);
    return options.timeout === undefined && options.idleTimeout === undefined ? undefined : new Waits(syscall, options);
  }

  /** Waits until `fd` is ready for `events` (or has an error or end of stream to report). */
  wait(fd: number, events: number): void {
    const { timeout, idleTimeout } = this.options;
    const left = this.#deadline === undefined ? Infinity : Math.max(0, Math.ceil(this.#deadline - performance.now()));
    const bound = Math.ceil(Math.min(left, idleTimeout ?? Infinity));
    const { stopFd } = this.options;
    const entries: posix.PollFd[] = stopFd === undefined ? [{ fd, events }] : [{ fd, events }, { fd: stopFd, events: POLLIN }];
    const ready = posix.poll(entries, bound);
    if (stopFd !== undefined && (entries[1]!.revents ?? 0) !== 0) throw new StopRequestedError(this.syscall);
    if (ready > 0) return;
    if (bound === left && timeout !== undefined) throw new TimeoutError(this.syscall, timeout);
    throw new IdleTimeoutError(this.options.waitingFor ?? this.syscall, idleTimeout!);
  }
}

/**
 * Runs `call` (one system call on `fd`) until it does something: when it
 * reports EAGAIN, waits for `events` within the bounds of `options` and tries
 * again. Without a bound it is one plain call. For calls this file does not
 * wrap (sendfile, splice, accept) on non-blocking sockets.
 */
export function untilReady(syscall: string, fd: number, events: number, options: WaitOptions, call: () => number): number {
  const waits = Waits.of(syscall, options);
  if (waits === undefined) return call();
  for (;;) {
    try {
      return call();
    } catch (error) {
      if (!isSyscallError(error, 'EAGAIN')) throw error;
    }
    waits.wait(fd, events);
  }
}

/**
 * connect() bounded by `options`: the fd is made non-blocking, the handshake
 * waited for (poll for writability), and its outcome read from SO_ERROR; the
 * SyscallError is the one a blocking connect() would have thrown. The sync
 * twin of connectAsync.
 */
export function connectWithin(fd: number, address: AddressInput, options: WaitOptions): void {
  const waits = Waits.of('connect', options);
  if (native.tryConnect(fd, address) === 0) return;
  if (waits === undefined) posix.poll([{ fd, events: POLLOUT }], -1);
  else waits.wait(fd, POLLOUT);
  native.connectResult(fd);
}

/** The options every call shares when given none (a default `{}` would be a new object per call). */
const NO_OPTIONS: IoOptions = Object.freeze({});

/** options.offset, 0 when absent. */
function offsetOf(options: IoOptions): number {
  return options.offset === undefined ? 0 : options.offset;
}

/**
 * The byte length of `buffer`. Node 20's optimizing compiler (V8 11.3) turns
 * `view.byteLength` into a call of the getter (~140 instructions, as much as a
 * fast send() itself) but reads a typed array's `length` inline; for a
 * Uint8Array (and so a Buffer) the two are the same number.
 */
function byteLengthOf(buffer: BinaryData): number {
  return buffer instanceof Uint8Array ? buffer.length : buffer.byteLength;
}

/**
 * The length asked for (options.length, read by the caller; default: the rest of the buffer after
 * `offset`), checked with `offset` against the buffer.
 */
function lengthOf(syscall: string, buffer: BinaryData, asked: number | undefined, offset: number): number {
  const size = byteLengthOf(buffer);
  const length = asked ?? size - offset;
  // The whole buffer (no range, or a length that is its size): every check of checkedRange passes
  // for it (a size is a non-negative integer; -0 === 0), so two comparisons decide, in every hot
  // loop. The checks themselves are out of line: small, lengthOf inlines into both sendAll and
  // recvFull of a round (with them in it, TurboFan called it out of line from one of the two:
  // ~85 instructions a ping-pong round, callgrind with --perf-basic-prof).
  if (offset === 0 && length === size) return length;
  return checkedRange(syscall, offset, length, size);
}

/** `length`, once offset and length are shown to be integers that fit a buffer of `size` bytes (else a RangeError). */
function checkedRange(syscall: string, offset: number, length: number, size: number): number {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size)
    throwRangeOutside(syscall, offset, length, size);
  return length;
}

// Out of line: the message's template would otherwise count towards the size
// of every caller that the optimizing compiler weighs for inlining.
function throwRangeOutside(syscall: string, offset: number, length: number, size: number): never {
  throw new RangeError(`${syscall}: offset ${offset} and length ${length} do not fit a buffer of ${size} bytes`);
}

/**
 * One call on `fd` that may find nothing to do: with bounds, MSG_DONTWAIT and
 * a wait for `events` whenever it would block; without, the plain call.
 */
function step(waits: Waits | undefined, fd: number, events: number, call: (dontWait: number) => number): number {
  if (waits === undefined) return call(0);
  for (;;) {
    try {
      return call(MSG_DONTWAIT);
    } catch (error) {
      if (!isSyscallError(error, 'EAGAIN')) throw error;
    }
    waits.wait(fd, events);
  }
}

/** Sends every byte of `data` (or of its offset/length range), over as many send() calls as it takes. Returns the count. */
export function sendAll(fd: number, data: Data, options: IoOptions = NO_OPTIONS): number {
  // Bounded waits (timeout or idleTimeout; a stopFd alone bounds nothing) and strings take the
  // other path. The plain one is small: TurboFan inlines it into the caller's loop and, with it,
  // removes the caller's options object. sendAll and recvFull each read `options` themselves
  // (no shared helper): a helper's property loads see the options of every caller, and a loop
  // calling `sendAll(fd, b)` and `recvFull(fd, b, { length })` made them polymorphic, which kept
  // TurboFan from removing the `{ length }` object (32 bytes a ping-pong round, a scavenge every
  // ~50,000 rounds, in the bench's server).
  if (typeof data === 'string' || options.timeout !== undefined || options.idleTimeout !== undefined) return sendAllOtherwise(fd, data, options);
  const offset = options.offset === undefined ? 0 : options.offset;
  const length = lengthOf('send', data, options.length, offset);
  const flags = options.flags ?? 0;
  // The plain loop over partial sends: nothing allocated per call (no closure,
  // no context), so that it costs what C's loop costs.
  for (let sent = 0; sent < length; ) sent += sendRange(fd, data, flags, offset + sent, length - sent);
  return length;
}

// sendAll of a string, or with bounds, in a function of its own: kept out of
// sendAll, it neither makes the plain path too big to inline nor costs it a
// context object for the closure below.
function sendAllOtherwise(fd: number, data: Data, options: IoOptions): number {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const offset = offsetOf(options);
  const length = lengthOf('send', bytes, options.length, offset);
  const flags = options.flags ?? 0;
  const waits = Waits.of('send', options); // undefined for a string without bounds: step() makes the plain call
  for (let sent = 0; sent < length; ) {
    sent += step(waits, fd, POLLOUT, (dontWait) => posix.send(fd, bytes, flags | dontWait, offset + sent, length - sent));
  }
  return length;
}

/**
 * Receives into `buffer` (or its offset/length range) until it is full or the
 * peer ends the stream; returns the byte count, short only at end of stream.
 */
export function recvFull(fd: number, buffer: BinaryData, options: IoOptions = NO_OPTIONS): number {
  // As sendAll: its own reads of `options`, the bounded waits on the other path.
  if (options.timeout !== undefined || options.idleTimeout !== undefined) return recvFullWithin(fd, buffer, options);
  const offset = options.offset === undefined ? 0 : options.offset;
  const length = lengthOf('recv', buffer, options.length, offset);
  const flags = options.flags ?? 0;
  // The plain loop over short reads (as sendAll's).
  let received = 0;
  while (received < length) {
    const n = recvRange(fd, buffer, flags, offset + received, length - received);
    if (n === 0) break;
    received += n;
  }
  return received;
}

// recvFull with bounds (a function of its own, as sendAllOtherwise).
function recvFullWithin(fd: number, buffer: BinaryData, options: IoOptions): number {
  const offset = offsetOf(options);
  const length = lengthOf('recv', buffer, options.length, offset);
  const flags = options.flags ?? 0;
  const waits = Waits.of('recv', options);
  let received = 0;
  while (received < length) {
    const n = step(waits, fd, POLLIN, (dontWait) => posix.recv(fd, buffer, flags | dontWait, offset + received, length - received));
    if (n === 0) break;
    received += n;
  }
  return received;
}

/**
 * Receives exactly `n` bytes into a new Buffer, or fills `buffer` (its
 * offset/length range) entirely. EndOfStreamError (with the count received)
 * when the peer closes first.
 */
export function recvExactly(fd: number, n: number, options?: IoOptions): Buffer;
export function recvExactly<T extends BinaryData>(fd: number, buffer: T, options?: IoOptions): T;
export function recvExactly(fd: number, target: number | BinaryData, options: IoOptions = NO_OPTIONS): BinaryData {
  const buffer = typeof target === 'number' ? Buffer.allocUnsafe(target) : target;
  const length = lengthOf('recv', buffer, options.length, offsetOf(options));
  const received = recvFull(fd, buffer, options);
  if (received < length) throw new EndOfStreamError('recv', received, length);
  return buffer;
}

/**
 * One recv() of whatever has arrived, after waiting (within the bounds) for
 * something to arrive: into `buffer` (its range), the byte count, 0 at end of
 * stream; or, given `maxlen`, a new Buffer of at most that many bytes, null at
 * end of stream (the tutorial's recv(buffer, maxlen)).
 */
export function recvSome(fd: number, maxlen: number, options?: IoOptions): Buffer | null;
export function recvSome(fd: number, buffer: BinaryData, options?: IoOptions): number;
export function recvSome(fd: number, target: number | BinaryData, options: IoOptions = NO_OPTIONS): Buffer | null | number {
  if (typeof target === 'number' && (!Number.isInteger(target) || target < 1)) throw new RangeError(`maxlen must be a positive integer, got ${target}`);
  const buffer = typeof target === 'number' ? Buffer.allocUnsafe(target) : target;
  const offset = offsetOf(options);
  const length = lengthOf('recv', buffer, options.length, offset);
  const flags = options.flags ?? 0;
  const n = step(Waits.of('recv', options), fd, POLLIN, (dontWait) => posix.recv(fd, buffer, flags | dontWait, offset, length));
  if (typeof target !== 'number') return n;
  return n === 0 ? null : (buffer as Buffer).subarray(0, n);
}

/** Writes every byte to a file descriptor (a file or a pipe), over as many write() calls as it takes. */
export function writeAll(fd: number, data: Data, options: Pick<IoOptions, 'offset' | 'length'> = NO_OPTIONS): number {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const offset = offsetOf(options);
  const length = lengthOf('write', bytes, options.length, offset);
  for (let written = 0; written < length; ) written += posix.write(fd, bytes, offset + written, length - written);
  return length;
}
