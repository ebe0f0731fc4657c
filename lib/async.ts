// Non-blocking sockets on Node's event loop. Each call tries the system call
// first and waits only when it would block (EAGAIN; EINPROGRESS for connect),
// for readiness reported by this thread's readiness set (lib/async-waits.ts:
// one epoll set on this thread's own loop, native/readiness.cc, every ready
// fd of a loop turn handled in one JS call). Nothing blocks the loop and no
// thread is parked in a system call; the calls work the same in worker_threads.
//
// Every call takes { signal?, timeout? }: an aborted signal rejects with
// AbortError, a timeout (ms, for the whole call) with TimeoutError; both
// carry the name of the system call. Closing the fd while a call waits on it
// rejects that call with EBADF.
//
// Lifetimes: a call never acts on its fd number after that fd was closed
// through sockfd, whatever state the call is in (waiting, yielding, or with
// its readiness delivered but its continuation not yet run): it records the
// fd's generation (native/async_poll.cc) before it first suspends, and after
// every resume it checks, in this order, the fork epoch (a call the parent had
// pending never goes on in a forked child: it stays pending there forever),
// the generation (EBADF), and its abort signal and deadline - so an abort
// that happens before the system call always wins.
import { binding } from './native.js';
import { EAGAIN, EBADF, EINTR, ETIMEDOUT, MSG_DONTWAIT, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_NONBLOCK } from './constants.js';
import { isSyscallError, syscallError, type SyscallError } from './errors.js';
import { forkEpoch } from './fork-epoch.js';
import { READABLE, WRITABLE, cancelWait, generationOf, waitFor, waitStats, type WatcherStats } from './async-waits.js';
import { fastAttempts } from './fast-io.js';
import type { AddressInput } from './sockaddr.js';
import type { Accepted, BinaryData, Data, Received } from './posix.js';
import { EndOfStreamError } from './errors.js';

/** How long a call may take, and a signal that ends it early. */
export interface AsyncOptions {
  /** Aborting rejects the pending call with an AbortError (its `cause` is `signal.reason`). */
  signal?: AbortSignal;
  /** Milliseconds for the whole call (all its waits); then it rejects with a TimeoutError. */
  timeout?: number;
}

/** Options of the data calls: send/recv flags and a byte range of the buffer. */
export interface AsyncIoOptions extends AsyncOptions {
  /** MSG_* flags; MSG_DONTWAIT is always added (and MSG_NOSIGNAL when sending). */
  flags?: number;
  /** First byte of the buffer to use (default 0). */
  offset?: number;
  /** How many bytes from `offset` (default: the rest of the buffer). */
  length?: number;
}

/** Options of acceptAsync. */
export interface AsyncAcceptOptions extends AsyncOptions {
  /** accept4() flags for the new fd; default SOCK_NONBLOCK | SOCK_CLOEXEC (ready for async calls). */
  flags?: number;
}

/** A call ended by its AbortSignal. Same name and code as Node's own AbortError. */
export class AbortError extends Error {
  override name = 'AbortError';
  /** Always 'ABORT_ERR', as Node's own AbortError. */
  readonly code = 'ABORT_ERR';
  /** An Error whose `cause` is the signal's reason. */
  constructor(
    /** The call that was aborted ('accept', 'recv'...). */
    readonly syscall: string,
    reason: unknown,
  ) {
    super(`${syscall}: the operation was aborted`, { cause: reason });
  }
}

/** A call that ran out of its `timeout`: a SyscallError with code ETIMEDOUT. */
export class TimeoutError extends Error implements SyscallError {
  override name = 'TimeoutError';
  /** Always 'ETIMEDOUT'. */
  code = 'ETIMEDOUT';
  /** ETIMEDOUT's number, as a SyscallError carries it. */
  errno: number = ETIMEDOUT;
  /** An Error saying which call timed out after how long. */
  constructor(
    /** The call that timed out ('connect', 'recv'...). */
    public syscall: string,
    /** The `timeout` it was given, in ms. */
    readonly timeout: number,
  ) {
    super(`${syscall}: timed out after ${timeout} ms`);
  }
}

interface AsyncBinding {
  asyncRelease(fd: number): void;
  tryRecv(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number;
  trySend(fd: number, data: Data, flags?: number, offset?: number, length?: number): number;
  tryRecvfrom(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): Received | number;
  trySendto(fd: number, data: Data, flags: number, address: AddressInput, offset?: number, length?: number): number;
  tryAccept(fd: number, flags: number): Accepted | number;
  tryConnect(fd: number, address: AddressInput): number;
  connectResult(fd: number): void;
  errnoError(syscall: string, errno: number): Error;
}

const native = binding as unknown as AsyncBinding;
const { FALLBACK } = fastAttempts;

// The attempts of recv and send: the V8 fast call where it can take the call
// (no flags; lib/fast-io.ts), otherwise - and after EINTR, or FALLBACK - the
// N-API try-call, which does the whole call with its own checks.
function tryRecv(fd: number, buffer: BinaryData, flags: number | undefined, offset: number | undefined, length: number | undefined): number {
  if (flags === undefined) {
    const n = fastAttempts.recv(fd, buffer, MSG_DONTWAIT, offset === undefined ? 0 : offset, length === undefined ? -1 : length === -1 ? -2 : length);
    if (n >= 0 || n === -EAGAIN) return n;
    if (n !== FALLBACK && n !== -EINTR) throw native.errnoError('recv', -n);
  }
  return native.tryRecv(fd, buffer, flags, offset, length);
}

function trySend(fd: number, data: Data, flags: number | undefined, offset: number | undefined, length: number | undefined): number {
  if (flags === undefined) {
    const n = fastAttempts.send(fd, data, MSG_DONTWAIT | MSG_NOSIGNAL, offset === undefined ? 0 : offset, length === undefined ? -1 : length === -1 ? -2 : length);
    if (n >= 0 || n === -EAGAIN) return n;
    if (n !== FALLBACK && n !== -EINTR) throw native.errnoError('send', -n);
  }
  return native.trySend(fd, data, flags, offset, length);
}

export type { WatcherStats };

/** The poll watchers of this thread (diagnostics: a leak shows as watchers that never go). */
export function watcherStats(): WatcherStats {
  return waitStats();
}

/**
 * Forgets the fd's watcher (its pending waits reject with EBADF) so that
 * another owner - net, after a hand-off - can watch the fd on this loop.
 */
export function releaseWatcher(fd: number): void {
  native.asyncRelease(fd);
}

// ---- starvation guard ------------------------------------------------------------
// A call that succeeds at once never returns to the event loop: a peer that
// keeps a socket full could starve timers and other sockets. Immediate
// results are counted since the last time any call really waited (a
// readiness callback, i.e. a turn of the loop); past the budget, the next
// call first yields with setImmediate.
const IMMEDIATE_BUDGET = 1024;
let immediateResults = 0;

/** Lets the event loop run (timers, other sockets) before the calls go on. */
async function yieldTurn(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  immediateResults = 0;
}

// ---- resuming after a suspension ---------------------------------------------------
/** What a call the parent had pending awaits in a forked child: nothing, forever. */
const orphaned = new Promise<never>(() => {});

/** The fd was closed (or handed over) through sockfd while the call was suspended. */
function closedMeanwhile(syscall: string, fd: number): SyscallError & { fd: number } {
  const error = syscallError(
    syscall,
    'EBADF',
    EBADF,
    `fd ${fd} was closed (or handed over) while the call was pending (Bad file descriptor)`,
  ) as SyscallError & { fd: number };
  error.fd = fd;
  return error;
}

/**
 * The checks after every resume, before the next system call. True when the
 * call was pending in the parent and this is a forked child: the caller then
 * awaits `orphaned`. Throws when the fd was closed meanwhile (its generation
 * moved on) or the call was aborted or ran out of time.
 */
function orphanedOrChecked(syscall: string, fd: number, epoch: number, generation: number, guarded: Guard | undefined): boolean {
  if (epoch !== forkEpoch) return true;
  if (generationOf(fd) !== generation) throw closedMeanwhile(syscall, fd);
  guarded?.check();
  return false;
}

/**
 * Past the budget of immediate results: yields a turn of the loop, then
 * checks the call may go on. Resolves to the fd's generation before the yield.
 */
async function yieldTurnChecked(syscall: string, fd: number, epoch: number, guarded: Guard | undefined): Promise<number> {
  const generation = generationOf(fd);
  await yieldTurn();
  if (orphanedOrChecked(syscall, fd, epoch, generation, guarded)) await orphaned;
  return generation;
}

// ---- one call: its waits, deadline and signal --------------------------------------
let lastWaitId = 0;

function nextWaitId(): number {
  lastWaitId = (lastWaitId + 1) >>> 0 || 1;
  return lastWaitId;
}

function validateOptions(syscall: string, options: AsyncOptions): void {
  const { signal, timeout } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new TypeError(`${syscall}: options.signal must be an AbortSignal`);
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0 && timeout <= 2 ** 31 - 1)))
    throw new RangeError(`${syscall}: options.timeout must be a number of ms from 0 to ${2 ** 31 - 1}, got ${String(timeout)}`);
}

/** The deadline and abort signal of one call, which may wait several times. */
class Guard {
  #failure: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #waitId = 0;

  constructor(
    readonly syscall: string,
    readonly fd: number,
    { signal, timeout }: AsyncOptions,
  ) {
    if (signal !== undefined) {
      if (signal.aborted) throw new AbortError(syscall, signal.reason);
      this.#signal = signal;
      this.#onAbort = () => this.#fail(new AbortError(syscall, signal.reason));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => this.#fail(new TimeoutError(syscall, timeout)), timeout);
      this.#timer.unref(); // the pending wait keeps the loop alive, not the deadline
    }
  }

  /** Throws the abort or timeout that ended the call, if any. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  wait(events: number): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#waitId = nextWaitId();
    return waitFor(this.fd, events, this.#waitId);
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    cancelWait(this.fd, this.#waitId, error); // false when not waiting: wait() reports it next
  }

  end(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

/** The call's Guard, or undefined when it has neither signal nor timeout (the common case costs nothing). */
function guard(syscall: string, fd: number, options: AsyncOptions | undefined): Guard | undefined {
  if (options === undefined) return undefined;
  validateOptions(syscall, options);
  if (options.signal === undefined && options.timeout === undefined) return undefined;
  return new Guard(syscall, fd, options);
}

/** Resolves when `fd` is ready for `events` (or has an error to report), within the call's guard. */
function readiness(fd: number, events: number, guarded: Guard | undefined): Promise<number> {
  return guarded === undefined ? waitFor(fd, events, nextWaitId()) : guarded.wait(events);
}

/** A wait ended by close() says "poll: ..."; the caller called recv (or accept, ...). */
function explain(error: unknown, syscall: string, fd: number): unknown {
  if (syscall === 'poll' || !isSyscallError(error, 'EBADF') || error.syscall !== 'poll') return error;
  return Object.assign(syscallError(syscall, 'EBADF', EBADF, error.message.slice('poll: '.length)), { fd });
}

/**
 * Runs `once` (one non-blocking system call that returns a negative errno
 * when it would block) until it succeeds, waiting for `events` in between.
 */
function untilDone<T>(
  syscall: string,
  fd: number,
  events: number,
  options: AsyncOptions | undefined,
  once: () => T | number,
): Promise<T> {
  // The common case - no options, within the budget - makes its first
  // attempt here, as the async function would, and when that is done costs
  // no async function: a settled promise.
  if (options !== undefined || immediateResults >= IMMEDIATE_BUDGET) return untilDoneAsync(syscall, fd, events, options, once, false);
  immediateResults++;
  let result: T | number;
  try {
    result = once();
  } catch (error) {
    return Promise.reject(explain(error, syscall, fd));
  }
  if (typeof result !== 'number' || result >= 0) return Promise.resolve(result as T);
  return untilDoneAsync(syscall, fd, events, undefined, once, true);
}

/** untilDone's waits (`attempted`: the first attempt was made, and would block). */
async function untilDoneAsync<T>(
  syscall: string,
  fd: number,
  events: number,
  options: AsyncOptions | undefined,
  once: () => T | number,
  attempted: boolean,
): Promise<T> {
  const guarded = guard(syscall, fd, options);
  const epoch = forkEpoch;
  let generation = -1; // read when the call first suspends: until then nothing else ran
  try {
    if (!attempted && ++immediateResults > IMMEDIATE_BUDGET) generation = await yieldTurnChecked(syscall, fd, epoch, guarded);
    for (;;) {
      if (!attempted) {
        const result = once();
        if (typeof result !== 'number' || result >= 0) return result as T;
      }
      attempted = false;
      if (generation === -1) generation = generationOf(fd);
      await readiness(fd, events, guarded);
      if (orphanedOrChecked(syscall, fd, epoch, generation, guarded)) await orphaned;
      immediateResults = 0; // a readiness callback: the loop has turned
    }
  } catch (error) {
    throw explain(error, syscall, fd);
  } finally {
    guarded?.end();
  }
}

/**
 * Runs `attempt` - one non-blocking call that returns a negative errno when it
 * would block (the addon's try-calls: tryRecvmsg, trySendmmsg, ...) - until it
 * succeeds, waiting on the loop for `readiness` in between, with every guard
 * of the calls of this file: `options` (signal, timeout for the whole call),
 * the fd-number generation (a call never acts on a number closed meanwhile),
 * the starvation budget. The async twin of lib/io.ts untilReady; the other
 * async modules (lib/msg-async.ts) build their calls on it.
 */
export function untilReadyAsync<T>(
  syscall: string,
  fd: number,
  readiness: 'read' | 'write',
  options: AsyncOptions | undefined,
  attempt: () => T | number,
): Promise<T> {
  return untilDone(syscall, fd, readiness === 'read' ? READABLE : WRITABLE, options, attempt);
}

/** One wait for `events`, for waitReadable/waitWritable. */
async function waitOnce(fd: number, events: number, options: AsyncOptions | undefined): Promise<void> {
  const guarded = guard('poll', fd, options);
  const epoch = forkEpoch;
  try {
    const generation = generationOf(fd);
    await readiness(fd, events, guarded);
    if (orphanedOrChecked('poll', fd, epoch, generation, guarded)) await orphaned; // "readable" must mean this fd, and not after an abort
  } finally {
    guarded?.end();
  }
}

// ---- the calls ------------------------------------------------------------------------

/** Resolves when `fd` is readable (data, a connection to accept, EOF or an error). */
export function waitReadable(fd: number, options?: AsyncOptions): Promise<void> {
  return waitOnce(fd, READABLE, options);
}

/** Resolves when `fd` is writable (room in the send buffer, a finished connect, or an error). */
export function waitWritable(fd: number, options?: AsyncOptions): Promise<void> {
  return waitOnce(fd, WRITABLE, options);
}

/**
 * accept4() without blocking the loop. The listening fd is put in
 * non-blocking mode (as net does); the new fd is non-blocking and
 * close-on-exec unless `flags` says otherwise.
 */
export function acceptAsync(fd: number, options?: AsyncAcceptOptions): Promise<Accepted> {
  const flags = options?.flags ?? SOCK_NONBLOCK | SOCK_CLOEXEC;
  return untilDone('accept', fd, READABLE, options, () => native.tryAccept(fd, flags));
}

/**
 * connect() without blocking the loop: EINPROGRESS, then writability, then
 * SO_ERROR tells the outcome (ECONNREFUSED, ETIMEDOUT, ...). The fd is put in
 * non-blocking mode. After an abort or timeout the handshake may still be
 * going on: close the socket.
 */
export async function connectAsync(fd: number, address: AddressInput, options?: AsyncOptions): Promise<void> {
  const guarded = guard('connect', fd, options);
  const epoch = forkEpoch;
  try {
    if (native.tryConnect(fd, address) === 0) return;
    const generation = generationOf(fd);
    await readiness(fd, WRITABLE, guarded);
    if (orphanedOrChecked('connect', fd, epoch, generation, guarded)) await orphaned;
    native.connectResult(fd);
  } catch (error) {
    throw explain(error, 'connect', fd);
  } finally {
    guarded?.end();
  }
}

/** recv() into `buffer` (or its offset/length range); resolves to the byte count, 0 at EOF. */
export function recvAsync(fd: number, buffer: BinaryData, options?: AsyncIoOptions): Promise<number> {
  const { flags, offset, length } = options ?? {};
  return untilDone('recv', fd, READABLE, options, () => tryRecv(fd, buffer, flags, offset, length));
}

/** send() of `data` (or its range); resolves to the bytes the kernel took, which may be fewer. */
export function sendAsync(fd: number, data: Data, options?: AsyncIoOptions): Promise<number> {
  const { flags, offset, length } = options ?? {};
  return untilDone('send', fd, WRITABLE, options, () => trySend(fd, data, flags, offset, length));
}

/** recvfrom(): the byte count and the sender's address. */
export function recvfromAsync(fd: number, buffer: BinaryData, options?: AsyncIoOptions): Promise<Received> {
  const { flags, offset, length } = options ?? {};
  return untilDone('recvfrom', fd, READABLE, options, () => native.tryRecvfrom(fd, buffer, flags, offset, length));
}

/** sendto() one datagram (or bytes of a stream) to `address`. */
export function sendtoAsync(fd: number, data: Data, address: AddressInput, options?: AsyncIoOptions): Promise<number> {
  const { flags = 0, offset, length } = options ?? {};
  return untilDone('sendto', fd, WRITABLE, options, () => native.trySendto(fd, data, flags, address, offset, length));
}

/** Sends every byte of `data` (or of its range), looping over partial sends; resolves to the count. */
export function sendAllAsync(fd: number, data: Data, options?: AsyncIoOptions): Promise<number> {
  let bytes: BinaryData;
  let flags: number | undefined;
  let offset: number;
  let total: number;
  let guarded: Guard | undefined;
  try {
    bytes = typeof data === 'string' ? Buffer.from(data) : data;
    ({ flags, offset = 0 } = options ?? {});
    total = options?.length ?? bytes.byteLength - offset;
    guarded = guard('send', fd, options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (guarded !== undefined || immediateResults >= IMMEDIATE_BUDGET) return sendRest(fd, bytes, flags, offset, total, 0, guarded, false);
  // The common case, as in untilDone: sends made here until done (a settled
  // promise) or until one would block (then the async part waits).
  immediateResults++;
  let sent = 0;
  try {
    do {
      const n = trySend(fd, bytes, flags, offset + sent, total - sent);
      if (n < 0) return sendRest(fd, bytes, flags, offset, total, sent, undefined, true);
      sent += n;
    } while (sent < total);
  } catch (error) {
    return Promise.reject(explain(error, 'send', fd));
  }
  return Promise.resolve(total);
}

/** sendAllAsync's waits and the sends after them (`attempted`: the last send would block). */
async function sendRest(
  fd: number,
  bytes: BinaryData,
  flags: number | undefined,
  offset: number,
  total: number,
  sent: number,
  guarded: Guard | undefined,
  attempted: boolean,
): Promise<number> {
  const epoch = forkEpoch;
  let generation = -1;
  try {
    if (!attempted && ++immediateResults > IMMEDIATE_BUDGET) generation = await yieldTurnChecked('send', fd, epoch, guarded);
    do {
      const n = attempted ? -1 : trySend(fd, bytes, flags, offset + sent, total - sent);
      attempted = false;
      if (n >= 0) sent += n;
      else {
        if (generation === -1) generation = generationOf(fd);
        await readiness(fd, WRITABLE, guarded);
        if (orphanedOrChecked('send', fd, epoch, generation, guarded)) await orphaned;
        immediateResults = 0;
      }
    } while (sent < total);
    return total;
  } catch (error) {
    throw explain(error, 'send', fd);
  } finally {
    guarded?.end();
  }
}

/**
 * Receives exactly `n` bytes into a new Buffer, or fills `buffer` entirely.
 * Rejects with EndOfStreamError when the peer closes first.
 */
export function recvExactlyAsync(fd: number, n: number, options?: AsyncOptions & { flags?: number }): Promise<Buffer>;
export function recvExactlyAsync<T extends BinaryData>(fd: number, buffer: T, options?: AsyncOptions & { flags?: number }): Promise<T>;
export async function recvExactlyAsync(
  fd: number,
  target: number | BinaryData,
  options?: AsyncOptions & { flags?: number },
): Promise<BinaryData> {
  const buffer = typeof target === 'number' ? Buffer.allocUnsafe(target) : target;
  const total = buffer.byteLength;
  const guarded = guard('recv', fd, options);
  const epoch = forkEpoch;
  let generation = -1;
  try {
    if (++immediateResults > IMMEDIATE_BUDGET) generation = await yieldTurnChecked('recv', fd, epoch, guarded);
    let received = 0;
    while (received < total) {
      const n = tryRecv(fd, buffer, options?.flags, received, total - received);
      if (n > 0) received += n;
      else if (n === 0) throw new EndOfStreamError('recv', received, total);
      else {
        if (generation === -1) generation = generationOf(fd);
        await readiness(fd, READABLE, guarded);
        if (orphanedOrChecked('recv', fd, epoch, generation, guarded)) await orphaned;
        immediateResults = 0;
      }
    }
    return buffer;
  } catch (error) {
    throw explain(error, 'recv', fd);
  } finally {
    guarded?.end();
  }
}

/**
 * One recv() of at most `maxlen` bytes into a new Buffer, as the tutorial's
 * recv(buffer, maxlen): whatever has arrived. null when the peer has closed.
 */
export async function recvSomeAsync(fd: number, maxlen: number, options?: AsyncOptions & { flags?: number }): Promise<Buffer | null> {
  if (!Number.isInteger(maxlen) || maxlen < 1) throw new RangeError(`maxlen must be a positive integer, got ${maxlen}`);
  const buffer = Buffer.allocUnsafe(maxlen);
  const n = await recvAsync(fd, buffer, options);
  return n === 0 ? null : buffer.subarray(0, n);
}
