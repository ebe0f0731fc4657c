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
import { READABLE, WRITABLE, cancelWait, generationOf, waitOn, waitStats, type Waiter, type WatcherStats } from './async-waits.js';
import { fastAttempts } from './fast-io.js';
import type { AddressInput } from './sockaddr.js';
import type { Accepted, BinaryData, Data, Received } from './posix.js';
import { EndOfStreamError } from './errors.js';
import { acceptedFrom } from './accepted-peer.js';

/** How long a call may take, and a signal that ends it early. */
export interface AsyncOptions {
  /** Aborting rejects the pending call with an AbortError (its `cause` is `signal.reason`). */
  signal?: AbortSignal;
  /** Milliseconds for the whole call (all its waits); then it rejects with a TimeoutError. */
  timeout?: number;
}

/**
 * Wait-first: the order of a call's first attempt and its first wait. The
 * default is try-first (the system call at once, a wait only on EAGAIN).
 */
export interface WaitFirstOption {
  /**
   * Wait for readiness before the first attempt, as libuv and net read: no
   * EAGAIN call when data is rarely there yet (a request/response server,
   * whose next request comes only after its answer), at the price of a loop
   * turn when it is. Default false (try-first).
   */
  waitFirst?: boolean;
}

/** Options of the data calls: send/recv flags and a byte range of the buffer. */
export interface AsyncIoOptions extends AsyncOptions, WaitFirstOption {
  /** MSG_* flags; MSG_DONTWAIT is always added (and MSG_NOSIGNAL when sending). */
  flags?: number;
  /** First byte of the buffer to use (default 0). */
  offset?: number;
  /** How many bytes from `offset` (default: the rest of the buffer). */
  length?: number;
}

/** Options of acceptAsync. */
export interface AsyncAcceptOptions extends AsyncOptions, WaitFirstOption {
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
  tryAccept(fd: number, flags: number, peer: Uint8Array): Accepted | number;
  tryConnect(fd: number, address: AddressInput): number;
  connectResult(fd: number): void;
  errnoError(syscall: string, errno: number): Error;
}

const native = binding as unknown as AsyncBinding;
const { FALLBACK } = fastAttempts;
const fastRecv = fastAttempts.recv;
const fastSend = fastAttempts.send;

// The attempts of recv and send: the V8 fast call where it can take the call
// (no flags; lib/fast-io.ts), otherwise - and after EINTR, or FALLBACK - the
// N-API try-call, which does the whole call with its own checks.
// What the fast call answers besides a count or EAGAIN (an error, EINTR,
// FALLBACK) is handled out of line, so that the attempts stay small enough for
// V8 to inline.
function tryRecvPlain(fd: number, buffer: BinaryData): number {
  const n = fastRecv(fd, buffer, MSG_DONTWAIT, 0, -1);
  return n >= 0 || n === -EAGAIN ? n : recvOtherwise(fd, buffer, undefined, undefined, n);
}

function tryRecv(fd: number, buffer: BinaryData, flags: number | undefined, offset: number | undefined, length: number | undefined): number {
  if (flags !== undefined) return native.tryRecv(fd, buffer, flags, offset, length);
  const n = fastAttempts.recv(fd, buffer, MSG_DONTWAIT, offset === undefined ? 0 : offset, length === undefined ? -1 : length === -1 ? -2 : length);
  return n >= 0 || n === -EAGAIN ? n : recvOtherwise(fd, buffer, offset, length, n);
}

function recvOtherwise(fd: number, buffer: BinaryData, offset: number | undefined, length: number | undefined, n: number): number {
  if (n !== FALLBACK && n !== -EINTR) throw native.errnoError('recv', -n);
  return native.tryRecv(fd, buffer, undefined, offset, length);
}

function trySend(fd: number, data: Data, flags: number | undefined, offset: number | undefined, length: number | undefined): number {
  if (flags !== undefined) return native.trySend(fd, data, flags, offset, length);
  const n = fastSend(fd, data, MSG_DONTWAIT | MSG_NOSIGNAL, offset === undefined ? 0 : offset, length === undefined ? -1 : length === -1 ? -2 : length);
  return n >= 0 || n === -EAGAIN ? n : sendOtherwise(fd, data, offset, length, n);
}

// trySend of one part of a sendAll: its offset and length are the loop's
// numbers, with no defaults to fill in - smaller, so that V8 inlines it with
// the rest of an echo loop's round (its inlining budget counts bytecode).
function trySendPart(fd: number, data: Data, flags: number | undefined, offset: number, length: number): number {
  if (flags !== undefined) return native.trySend(fd, data, flags, offset, length);
  const n = fastSend(fd, data, MSG_DONTWAIT | MSG_NOSIGNAL, offset, length === -1 ? -2 : length);
  return n >= 0 || n === -EAGAIN ? n : sendOtherwise(fd, data, offset, length, n);
}

function sendOtherwise(fd: number, data: Data, offset: number | undefined, length: number | undefined, n: number): number {
  if (n !== FALLBACK && n !== -EINTR) throw native.errnoError('send', -n);
  return native.trySend(fd, data, undefined, offset, length);
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

// ---- one call: its waits, deadline and signal --------------------------------------
function validateOptions(syscall: string, options: AsyncOptions & WaitFirstOption): void {
  const { signal, timeout, waitFirst } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new TypeError(`${syscall}: options.signal must be an AbortSignal`);
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0 && timeout <= 2 ** 31 - 1)))
    throw new RangeError(`${syscall}: options.timeout must be a number of ms from 0 to ${2 ** 31 - 1}, got ${String(timeout)}`);
  if (waitFirst !== undefined && typeof waitFirst !== 'boolean') throw new TypeError(`${syscall}: options.waitFirst must be a boolean`);
}

/** The deadline and abort signal of one call, which may wait several times. */
class Guard {
  /** The abort or timeout that ended the call, if any. */
  failure: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    /** The call it guards: its pending wait is what an abort or timeout cancels. */
    readonly call: Waiter & { readonly syscall: string; readonly fd: number },
    { signal, timeout }: AsyncOptions,
  ) {
    const syscall = call.syscall;
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

  #fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    cancelWait(this.call.fd, this.call, error); // false when not waiting: the call meets `failure` when it resumes
  }

  end(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

/** A wait ended by close() says "poll: ..."; the caller called recv (or accept, ...). */
function explain(error: unknown, syscall: string, fd: number): unknown {
  if (syscall === 'poll' || !isSyscallError(error, 'EBADF') || error.syscall !== 'poll') return error;
  return Object.assign(syscallError(syscall, 'EBADF', EBADF, error.message.slice('poll: '.length)), { fd });
}

/** What an attempt returns when it would block (EAGAIN): the call waits for its events. */
const WOULD_BLOCK: unique symbol = Symbol('would block');

// What a Call's attempt is. One class for every kind, so that the call sites
// of the waits and the dispatch see one shape (monomorphic), whatever mix of
// calls a program makes.
const RECV = 0; // one recv into data's range
const SEND = 1; // one send of data's range
const SEND_ALL = 2; // sends until every byte of [offset, offset + length) is taken
const RECV_EXACTLY = 3; // recvs until data is full; EndOfStreamError when the peer closes first
const ACCEPT = 4; // accept4 (a connection reset while queued is skipped natively)
const CONNECT = 5; // the handshake is under way: after writability, SO_ERROR
const READY = 6; // waitReadable/waitWritable: one wait, then done
const UNTIL = 7; // `once`, a try-call that returns a negative errno when it would block
/** The system call each kind names in its errors (UNTIL: its own, in its Until). */
const SYSCALLS: readonly string[] = ['recv', 'send', 'send', 'recv', 'accept', 'connect', 'poll'];

/**
 * What only some calls need, out of the Call itself (a Call is made for
 * every wait; the plain recv, the common one, has none of this): MSG_*
 * flags (accept4's for ACCEPT), the byte range, the bytes done so far
 * (SEND_ALL, RECV_EXACTLY).
 */
class IoArgs {
  constructor(
    readonly flags: number | undefined,
    readonly offset: number | undefined,
    /** The byte count of the range (SEND_ALL: the total to send). */
    readonly length: number | undefined,
    /** Bytes sent (SEND_ALL) or received (RECV_EXACTLY) so far. */
    public done: number,
  ) {}
}

/** An UNTIL call's own system call name and its attempt. */
class Until {
  constructor(
    readonly syscall: string,
    readonly once: () => unknown,
  ) {}
}

// The AF_INET peer of the last tryAccept (lib/accepted-peer.ts), read at
// once: one per module instance, so one per Worker.
const peerBytes = new Uint8Array(16);

// A Call's resolving functions until its promise is made (the executor,
// an arrow written where the promise is made, so that V8 inlines it and
// allocates no closure for it).
function unsettled(): void {}

/**
 * One async call: its attempts (one non-blocking system call each, or a run
 * of them) and the waits between them. The call is its own waiter
 * (lib/async-waits.ts): the readiness dispatch runs its next attempt directly
 * and settles its one promise - no promise, closure or async function per
 * wait. Every resume (after a wait, after the starvation yield) checks, in
 * this order, the fork epoch (a call the parent had pending never goes on in
 * a forked child: it never settles there), the fd's generation (EBADF: the
 * number was closed meanwhile) and the guard (abort, deadline) before the
 * next system call.
 *
 * It is kept small (ten fields; what only some kinds use is in `args`) and
 * made in small functions, so that V8 inlines `new Call` and its waits into
 * the caller: a Call allocated inline costs its stores, one made by the
 * construct stub ~300 instructions more (write barriers included).
 */
class Call implements Waiter {
  // Every field is assigned in the constructor, in one order (one map, no
  // class-field initializer function per call). `direct` is the prototype's.
  declare readonly direct: boolean;
  declare readonly kind: number;
  declare readonly fd: number;
  /** What the call waits for when an attempt would block. */
  declare readonly events: number;
  declare readonly data: Data | undefined;
  declare readonly args: IoArgs | Until | undefined;
  declare readonly epoch: number;
  /** The fd's generation when the call first suspended (-1: it has not). */
  declare generation: number;
  declare guarded: Guard | undefined;
  declare resolve: (value: unknown) => void;
  declare reject: (reason: unknown) => void;

  constructor(kind: number, fd: number, events: number, data: Data | undefined, args: IoArgs | Until | undefined) {
    this.kind = kind;
    this.fd = fd;
    this.events = events;
    this.data = data;
    this.args = args;
    this.epoch = forkEpoch;
    this.generation = -1;
    this.guarded = undefined;
    this.resolve = unsettled;
    this.reject = unsettled;
  }

  /** The system call the caller made, as its errors name it. */
  get syscall(): string {
    return this.kind === UNTIL ? (this.args as Until).syscall : SYSCALLS[this.kind]!;
  }

  /** One attempt: the result, or WOULD_BLOCK; throws what the system call reports. */
  attempt(): unknown {
    // recv, the most common wait, is small enough to inline into the dispatch.
    if (this.kind === RECV && this.args === undefined) {
      const n = tryRecvPlain(this.fd, this.data as BinaryData);
      return n < 0 ? WOULD_BLOCK : n;
    }
    return this.attemptOther();
  }

  /** attempt() of every other call. */
  attemptOther(): unknown {
    const args = this.args as IoArgs;
    switch (this.kind) {
      case RECV: {
        const n = tryRecv(this.fd, this.data as BinaryData, args.flags, args.offset, args.length);
        return n < 0 ? WOULD_BLOCK : n;
      }
      case SEND: {
        const n = args === undefined ? trySend(this.fd, this.data!, undefined, undefined, undefined) : trySend(this.fd, this.data!, args.flags, args.offset, args.length);
        return n < 0 ? WOULD_BLOCK : n;
      }
      case SEND_ALL: {
        const bytes = this.data as BinaryData;
        const offset = args.offset!;
        const total = args.length!;
        do {
          const n = trySendPart(this.fd, bytes, args.flags, offset + args.done, total - args.done);
          if (n < 0) return WOULD_BLOCK;
          args.done += n;
        } while (args.done < total);
        return total;
      }
      case RECV_EXACTLY: {
        const buffer = this.data as BinaryData;
        const total = buffer.byteLength;
        while (args.done < total) {
          const n = tryRecv(this.fd, buffer, args.flags, args.done, total - args.done);
          if (n > 0) args.done += n;
          else if (n === 0) throw new EndOfStreamError('recv', args.done, total);
          else return WOULD_BLOCK;
        }
        return buffer;
      }
      case ACCEPT: {
        const result = native.tryAccept(this.fd, args.flags!, peerBytes);
        return result === -EAGAIN ? WOULD_BLOCK : acceptedFrom(result, peerBytes);
      }
      case CONNECT:
        native.connectResult(this.fd);
        return undefined;
      case READY:
        return undefined;
      default: {
        const result = (this.args as Until).once();
        return typeof result === 'number' && result < 0 ? WOULD_BLOCK : result;
      }
    }
  }

  /**
   * The call's promise. `attempted`: its first attempt was made (by the
   * caller, outside this) and would block, or it waits before it tries
   * (connect, the waits, `waitFirst`); otherwise it counts as an immediate
   * result first.
   */
  start<T>(options: (AsyncOptions & WaitFirstOption) | undefined, attempted: boolean): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve as (value: unknown) => void;
      this.reject = reject;
    });
    if (options !== undefined) {
      try {
        validateOptions(this.syscall, options);
        if (options.signal !== undefined || options.timeout !== undefined) this.guarded = new Guard(this, options);
      } catch (error) {
        this.reject(error);
        return promise;
      }
      if (options.waitFirst === true) attempted = true;
    }
    if (attempted) this.suspend();
    else if (++immediateResults > IMMEDIATE_BUDGET) {
      try {
        this.generation = generationOf(this.fd); // a bad fd number throws: the call rejects
      } catch (error) {
        this.settleError(error);
        return promise;
      }
      setImmediate(resumeAfterYield, this);
    } else this.go();
    return promise;
  }

  /** start(undefined, true), small: the plain call (no guard) whose first attempt would block. */
  wait<T>(): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve as (value: unknown) => void;
      this.reject = reject;
    });
    try {
      const generation = generationOf(this.fd); // until now nothing else ran; a bad fd number throws (a rejection)
      this.generation = generation;
      waitOn(this.fd, this, generation);
    } catch (error) {
      this.settleError(error);
    }
    return promise;
  }

  /** The fd is ready (from the dispatch). */
  ready(_events: number): void {
    this.resume(true);
  }

  /** The wait ended without readiness: close (EBADF), abort, timeout. */
  fail(reason: unknown): void {
    this.settleError(reason);
  }

  /** The checks of a resume, then the next attempt. */
  resume(waited: boolean): void {
    if (this.epoch !== forkEpoch) return; // pending in the parent: nothing more in a forked child
    if (generationOf(this.fd) !== this.generation) return this.settleError(closedMeanwhile(this.syscall, this.fd));
    const failure = this.guarded?.failure;
    if (failure !== undefined) return this.settleError(failure);
    if (waited) immediateResults = 0; // a readiness callback: the loop has turned
    this.go();
  }

  /** The next attempt: settles the call, or waits again. */
  go(): void {
    let result: unknown;
    try {
      result = this.attempt();
    } catch (error) {
      return this.settleError(error);
    }
    if (result === WOULD_BLOCK) return this.suspend();
    this.guarded?.end();
    this.resolve(result);
  }

  /** Waits for the fd's readiness (ready() or fail() comes next). */
  suspend(): void {
    const failure = this.guarded?.failure;
    if (failure !== undefined) return this.settleError(failure);
    try {
      if (this.generation === -1) this.generation = generationOf(this.fd); // until now nothing else ran; a bad fd number throws (a rejection)
      waitOn(this.fd, this, generationOf(this.fd)); // of now: another thread may have closed the number since the call first suspended
    } catch (error) {
      this.settleError(error);
    }
  }

  /** Rejects the call: `error` as the caller's system call names it. */
  settleError(error: unknown): void {
    this.guarded?.end();
    this.reject(explain(error, this.syscall, this.fd));
  }
}
// Every Call runs only library code when it is ready (its system call, its own promise).
Object.defineProperty(Call.prototype, 'direct', { value: true });

/** The starvation yield is over: the loop has turned. */
function resumeAfterYield(call: Call): void {
  immediateResults = 0;
  call.resume(false);
}

/** The IoArgs of a call's options, none when it has no flags and no range. */
function ioArgs(flags: number | undefined, offset: number | undefined, length: number | undefined): IoArgs | undefined {
  return flags === undefined && offset === undefined && length === undefined ? undefined : new IoArgs(flags, offset, length, 0);
}

/**
 * Runs `attempt` - one non-blocking call that returns a negative errno when it
 * would block (the addon's try-calls: tryRecvmsg, trySendmmsg, ...) - until it
 * succeeds, waiting on the loop for `readiness` in between, with every guard
 * of the calls of this file: `options` (signal, timeout for the whole call,
 * waitFirst), the fd-number generation (a call never acts on a number closed
 * meanwhile), the starvation budget. The async twin of lib/io.ts untilReady;
 * the other async modules (lib/msg-async.ts) build their calls on it.
 */
export function untilReadyAsync<T>(
  syscall: string,
  fd: number,
  readiness: 'read' | 'write',
  options: (AsyncOptions & WaitFirstOption) | undefined,
  attempt: () => T | number,
): Promise<T> {
  return new Call(UNTIL, fd, readiness === 'read' ? READABLE : WRITABLE, undefined, new Until(syscall, attempt)).start(options, false);
}

// ---- the calls ------------------------------------------------------------------------
// The common case - no options, within the budget - makes its first attempt
// in the call itself and, when that is done, costs a settled promise and no
// Call; only a call that would block (or yields, or is guarded) makes one.
// The common paths are kept small and the rest out of line, so that V8
// inlines them, with the Call they make, into the caller's loop.

/** Resolves when `fd` is readable (data, a connection to accept, EOF or an error). */
export function waitReadable(fd: number, options?: AsyncOptions): Promise<void> {
  return new Call(READY, fd, READABLE, undefined, undefined).start(options, true);
}

/** Resolves when `fd` is writable (room in the send buffer, a finished connect, or an error). */
export function waitWritable(fd: number, options?: AsyncOptions): Promise<void> {
  return new Call(READY, fd, WRITABLE, undefined, undefined).start(options, true);
}

/**
 * accept4() without blocking the loop. The listening fd is put in
 * non-blocking mode (as net does); the new fd is non-blocking and
 * close-on-exec unless `flags` says otherwise.
 */
export function acceptAsync(fd: number, options?: AsyncAcceptOptions): Promise<Accepted> {
  const flags = options?.flags ?? SOCK_NONBLOCK | SOCK_CLOEXEC;
  return new Call(ACCEPT, fd, READABLE, undefined, new IoArgs(flags, undefined, undefined, 0)).start(options, false);
}

/**
 * connect() without blocking the loop: EINPROGRESS, then writability, then
 * SO_ERROR tells the outcome (ECONNREFUSED, ETIMEDOUT, ...). The fd is put in
 * non-blocking mode. After an abort or timeout the handshake may still be
 * going on: close the socket.
 */
export function connectAsync(fd: number, address: AddressInput, options?: AsyncOptions): Promise<void> {
  try {
    if (options !== undefined) validateOptions('connect', options);
    if (options?.signal?.aborted === true) throw new AbortError('connect', options.signal.reason);
    if (native.tryConnect(fd, address) === 0) return Promise.resolve();
  } catch (error) {
    return Promise.reject(explain(error, 'connect', fd));
  }
  return new Call(CONNECT, fd, WRITABLE, undefined, undefined).start(options, true);
}

/**
 * recv() into `buffer` (or its offset/length range); resolves to the byte
 * count, 0 at EOF. Try-first; `{ waitFirst: true }` waits for readability
 * before the first recv.
 */
export function recvAsync(fd: number, buffer: BinaryData, options?: AsyncIoOptions): Promise<number> {
  // Each path is its own function: V8 inlines (and counts against its
  // inlining budget) only the ones a call site really takes.
  if (options === undefined) return immediateResults < IMMEDIATE_BUDGET ? recvNow(fd, buffer) : recvWith(fd, buffer, undefined);
  return options.waitFirst === true && onlyWaitFirst(options) ? recvWait(fd, buffer) : recvWith(fd, buffer, options);
}

/** recvAsync without options, within the budget: the attempt here, a wait only when it would block. */
function recvNow(fd: number, buffer: BinaryData): Promise<number> {
  immediateResults++;
  let n: number;
  try {
    n = tryRecvPlain(fd, buffer);
  } catch (error) {
    return recvFailed(error, fd);
  }
  return n >= 0 ? Promise.resolve(n) : recvWait(fd, buffer);
}

/** { waitFirst: true } alone: nothing to validate, a wait whatever the budget - the plain wait, without the attempt. */
function onlyWaitFirst(options: AsyncIoOptions): boolean {
  return (
    options.signal === undefined &&
    options.timeout === undefined &&
    options.flags === undefined &&
    options.offset === undefined &&
    options.length === undefined
  );
}

function recvFailed(error: unknown, fd: number): Promise<number> {
  return Promise.reject(explain(error, 'recv', fd));
}

/** recvAsync once its recv would block, or wait-first alone: the call waits. */
function recvWait(fd: number, buffer: BinaryData): Promise<number> {
  return new Call(RECV, fd, READABLE, buffer, undefined).wait();
}

/** recvAsync with options, or past the starvation budget. */
function recvWith(fd: number, buffer: BinaryData, options: AsyncIoOptions | undefined): Promise<number> {
  const { flags, offset, length } = options ?? {};
  return new Call(RECV, fd, READABLE, buffer, ioArgs(flags, offset, length)).start(options, false);
}

/** send() of `data` (or its range); resolves to the bytes the kernel took, which may be fewer. */
export function sendAsync(fd: number, data: Data, options?: AsyncIoOptions): Promise<number> {
  const { flags, offset, length } = options ?? {};
  return new Call(SEND, fd, WRITABLE, data, ioArgs(flags, offset, length)).start(options, false);
}

/** recvfrom(): the byte count and the sender's address. */
export function recvfromAsync(fd: number, buffer: BinaryData, options?: AsyncIoOptions): Promise<Received> {
  const { flags, offset, length } = options ?? {};
  return untilReadyAsync('recvfrom', fd, 'read', options, () => native.tryRecvfrom(fd, buffer, flags, offset, length));
}

/** sendto() one datagram (or bytes of a stream) to `address`. */
export function sendtoAsync(fd: number, data: Data, address: AddressInput, options?: AsyncIoOptions): Promise<number> {
  const { flags = 0, offset, length } = options ?? {};
  return untilReadyAsync('sendto', fd, 'write', options, () => native.trySendto(fd, data, flags, address, offset, length));
}

/** Sends every byte of `data` (or of its range), looping over partial sends; resolves to the count. */
export function sendAllAsync(fd: number, data: Data, options?: AsyncIoOptions): Promise<number> {
  const sent = sendAllMaybeAsync(fd, data, options);
  return typeof sent === 'object' ? sent : Promise.resolve(sent);
}

/**
 * sendAllAsync without its promise when none is needed: when the kernel
 * takes every byte at once (a small reply on a socket with room: the common
 * case), the count itself, a number; otherwise - a send would block, an
 * error, a signal or timeout, waitFirst, past the starvation budget - the
 * promise sendAllAsync returns. Nothing is ever thrown (errors reject that
 * promise); what is sent, in which order, and the checks are sendAllAsync's.
 *
 *     const sent = sendAllMaybeAsync(fd, reply);
 *     if (typeof sent !== 'number') await sent;
 *
 * saves a loop that answers many small requests one await (a promise and a
 * microtask turn) a reply. `data` must not be changed until the count is
 * there (at once, or when the promise resolves).
 */
export function sendAllMaybeAsync(fd: number, data: Data, options?: AsyncIoOptions): number | Promise<number> {
  // The common case - bytes, no signal, timeout or waitFirst, within the
  // budget: sends made here until done (the count) or until one would block
  // (then the call waits). Each path is its own function: V8 inlines (and
  // counts against its budget) only the ones a call site takes.
  if (typeof data === 'string' || immediateResults >= IMMEDIATE_BUDGET) return sendAllOtherwise(fd, data, options);
  return options === undefined ? sendAllNow(fd, data) : sendAllWith(fd, data, options);
}

/**
 * sendAllMaybeAsync with options: the common case unless they guard the call
 * or wait first. The range is read here, inside a try (a throwing getter
 * rejects, as every error of this call does), and the sends get numbers: in
 * a loop that passes a literal (`{ length: n }`) and inlines this, the
 * options object is never made.
 */
function sendAllWith(fd: number, data: Data, options: AsyncIoOptions): number | Promise<number> {
  if (options.signal !== undefined || options.timeout !== undefined || (options.waitFirst !== undefined && options.waitFirst !== false))
    return sendAllOtherwise(fd, data, options);
  try {
    const offset = options.offset ?? 0;
    return sendAllRange(fd, data as BinaryData, options.flags, offset, options.length ?? (data as BinaryData).byteLength - offset);
  } catch (error) {
    return Promise.reject(explain(error, 'send', fd)); // a getter of the range threw (sendAllRange itself never throws)
  }
}

/** The sends of the common case without options. */
function sendAllNow(fd: number, data: BinaryData): number | Promise<number> {
  return sendAllRange(fd, data, undefined, 0, data.byteLength);
}

/** The sends of [offset, offset + total): the count when every byte went, a waiting call when one would block. */
function sendAllRange(fd: number, data: BinaryData, flags: number | undefined, offset: number, total: number): number | Promise<number> {
  immediateResults++;
  let sent = 0;
  try {
    do {
      const n = trySendPart(fd, data, flags, offset + sent, total - sent);
      if (n < 0) return sendRest(fd, data, flags, offset, total, sent);
      sent += n;
    } while (sent < total);
  } catch (error) {
    return Promise.reject(explain(error, 'send', fd));
  }
  return total;
}

/** sendAllMaybeAsync of a string, guarded, wait-first or past the budget. */
function sendAllOtherwise(fd: number, data: Data, options: AsyncIoOptions | undefined): number | Promise<number> {
  let bytes: BinaryData;
  let args: IoArgs;
  try {
    bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (options === undefined) args = new IoArgs(undefined, 0, bytes.byteLength, 0);
    else {
      const offset = options.offset ?? 0;
      args = new IoArgs(options.flags, offset, options.length ?? bytes.byteLength - offset, 0);
      validateOptions('send', options);
    }
  } catch (error) {
    return Promise.reject(error);
  }
  if (options?.signal !== undefined || options?.timeout !== undefined || options?.waitFirst === true || immediateResults >= IMMEDIATE_BUDGET)
    return new Call(SEND_ALL, fd, WRITABLE, bytes, args).start(options, false);
  return sendAllMaybeAsync(fd, bytes, options); // a string, now bytes: the common case
}

/** sendAllAsync once a send would block with `sent` bytes taken: the call waits for room. */
function sendRest(fd: number, bytes: BinaryData, flags: number | undefined, offset: number, total: number, sent: number): Promise<number> {
  return new Call(SEND_ALL, fd, WRITABLE, bytes, new IoArgs(flags, offset, total, sent)).wait();
}

/** Options of recvExactlyAsync: MSG_* flags, and the common ones. */
export interface RecvExactlyOptions extends AsyncOptions, WaitFirstOption {
  /** MSG_* flags; MSG_DONTWAIT is always added. */
  flags?: number;
}

/**
 * Receives exactly `n` bytes into a new Buffer, or fills `buffer` entirely.
 * Rejects with EndOfStreamError when the peer closes first.
 */
export function recvExactlyAsync(fd: number, n: number, options?: RecvExactlyOptions): Promise<Buffer>;
export function recvExactlyAsync<T extends BinaryData>(fd: number, buffer: T, options?: RecvExactlyOptions): Promise<T>;
export function recvExactlyAsync(fd: number, target: number | BinaryData, options?: RecvExactlyOptions): Promise<BinaryData> {
  let buffer: BinaryData;
  try {
    buffer = typeof target === 'number' ? Buffer.allocUnsafe(target) : target;
  } catch (error) {
    return Promise.reject(error);
  }
  return new Call(RECV_EXACTLY, fd, READABLE, buffer, new IoArgs(options?.flags, undefined, undefined, 0)).start(options, false);
}

/**
 * One recv() of at most `maxlen` bytes into a new Buffer, as the tutorial's
 * recv(buffer, maxlen): whatever has arrived. null when the peer has closed.
 */
export async function recvSomeAsync(fd: number, maxlen: number, options?: RecvExactlyOptions): Promise<Buffer | null> {
  if (!Number.isInteger(maxlen) || maxlen < 1) throw new RangeError(`maxlen must be a positive integer, got ${maxlen}`);
  const buffer = Buffer.allocUnsafe(maxlen);
  const n = await recvAsync(fd, buffer, options);
  return n === 0 ? null : buffer.subarray(0, n);
}
