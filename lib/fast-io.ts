// send, recv, read and write through V8 fast API calls when the per-Node addon
// has them (native/node/fast_calls.cc), with the N-API functions as the
// fallback for everything a fast call does not take. Same results, same
// errors, same EINTR handling as the N-API path (lib/posix.ts exports these).
//
// A fast function answers n >= 0 (done), -errno (the call failed: the same
// perror-style Error is thrown) or FALLBACK (no system call made: the N-API
// function then validates and does the call, throwing exactly as before).
// -EINTR hands the call to one N-API entry, <syscall>Interrupted, that goes on
// exactly as Blocking() does after an EINTR: it runs the signal handlers,
// checks the fd, acquires the buffer again (a detached or shrunk one is the
// same Error) and resumes. Never a second fast attempt or a fresh N-API call
// after handlers ran: they could have changed what the arguments mean.
// SOCKFD_FAST_CALLS=0 turns fast calls off (the N-API path does everything).
import { binding, loadFastSet, type FastSet } from './native.js';
import type { BinaryData, Data } from './posix.js';

/** The fast functions' signature: (fd, view, flags, offset, length | -1 for "to the end"). */
type FastFunction = (fd: number, data: BinaryData | Data, flags: number, offset: number, length: number) => number;

interface FastCalls extends FastSet {
  v8?: string;
  send: FastFunction;
  recv: FastFunction;
  read: FastFunction;
  write: FastFunction;
  socket: (domain: number, type: number, protocol: number) => number;
  /** Absent when the core's generation bookkeeping could not be found (the N-API close then does it). */
  close?: (fd: number) => number;
  counts(): { fast: number; slow: number };
}

interface CoreIo {
  send(fd: number, data: Data, flags?: number, offset?: number, length?: number): number;
  recv(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number;
  read(fd: number, buffer: BinaryData, offset?: number, length?: number): number;
  write(fd: number, data: Data, offset?: number, length?: number): number;
  socket(domain: number, type: number, protocol?: number): number;
  close(fd: number): void;
  sendInterrupted(fd: number, data: Data, flags?: number, offset?: number, length?: number): number;
  recvInterrupted(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number;
  readInterrupted(fd: number, buffer: BinaryData, offset?: number, length?: number): number;
  writeInterrupted(fd: number, data: Data, offset?: number, length?: number): number;
  errnoError(syscall: string, errno: number): Error;
}

const core = binding as unknown as CoreIo;
const { EINTR, EAGAIN, MSG_DONTWAIT: DONTWAIT, MSG_NOSIGNAL: NOSIGNAL } = binding.constants as Record<string, number>;

const loaded = loadFastSet<FastCalls>('fastCalls', 'fast calls');
// The fast functions, or stand-ins that always ask for the N-API path.
const fallbackOnly = (): number => FALLBACK;
const fast: Required<Pick<FastCalls, 'send' | 'recv' | 'read' | 'write' | 'socket' | 'close'>> = {
  send: loaded.fast?.send ?? fallbackOnly,
  recv: loaded.fast?.recv ?? fallbackOnly,
  read: loaded.fast?.read ?? fallbackOnly,
  write: loaded.fast?.write ?? fallbackOnly,
  socket: loaded.fast?.socket ?? fallbackOnly,
  close: loaded.fast?.close ?? fallbackOnly,
};
const FALLBACK: number = loaded.fast?.FALLBACK ?? -0x80000000;

/** Whether send/recv/read/write use V8 fast API calls in this process, and if not, why. */
export const fastCalls: { readonly enabled: boolean; readonly reason: string; readonly v8: string } = Object.freeze({
  enabled: loaded.fast !== undefined,
  reason: loaded.reason,
  v8: process.versions.v8,
});

/** How often each path of the fast functions ran (only counted with SOCKFD_FAST_CALLS_COUNT=1; for tests). */
export function fastCallCounts(): { fast: number; slow: number } {
  return loaded.fast?.counts() ?? { fast: 0, slow: 0 };
}

// The rare outcomes, out of line so that the hot wrappers stay small enough to
// inline. `napi` does the whole call (nothing was done yet); `afterInterruption`
// goes on with one the fast attempt began and EINTR stopped. Both get the
// wrapper's own arguments, passed on rather than captured: a closure in a
// wrapper would make every call allocate a context for the captured variables,
// even on the fast path (a scavenge every ~15,000 calls, ~50 instructions a
// call for the collector alone).
function settle<A extends unknown[]>(
  syscall: 'send' | 'recv' | 'read' | 'write',
  n: number,
  napi: (...args: A) => number,
  afterInterruption: (...args: A) => number,
  ...args: A
): number {
  if (n === FALLBACK) return Reflect.apply(napi, core, args);
  if (n === -EINTR) return Reflect.apply(afterInterruption, core, args);
  throw core.errnoError(syscall, -n);
}

// -1 means "to the end" to the fast function; a caller's -1 stays invalid (-2 is refused there too).
function fastLength(length: number | undefined): number {
  return length === undefined ? -1 : length === -1 ? -2 : length;
}

// The hot wrappers below are kept small in bytecode: TurboFan inlines a loop's
// callees only up to a cumulative bytecode budget (920 bytes on V8 11.3), and
// a ping-pong round (two clock readings, sendAll, recvFull) went over it with
// the settle() calls written out in each wrapper: recv and both clock readings
// were then called out of line, every round. The rare outcomes are one call each.
const fastSend = fast.send;
const fastRecv = fast.recv;

function sendSettled(n: number, fd: number, data: Data, flags?: number, offset?: number, length?: number): number {
  return settle('send', n, core.send, core.sendInterrupted, fd, data, flags, offset, length);
}

function recvSettled(n: number, fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number {
  return settle('recv', n, core.recv, core.recvInterrupted, fd, buffer, flags, offset, length);
}

/** send(2): bytes handed to the kernel (may be fewer than asked). */
export function send(fd: number, data: Data, flags?: number, offset?: number, length?: number): number {
  const n = fastSend(fd, data, flags === undefined ? 0 : flags, offset === undefined ? 0 : offset, fastLength(length));
  return n >= 0 ? n : sendSettled(n, fd, data, flags, offset, length);
}

/** recv(2) into `buffer`: the byte count, 0 at end of stream. */
export function recv(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number {
  const n = fastRecv(fd, buffer, flags === undefined ? 0 : flags, offset === undefined ? 0 : offset, fastLength(length));
  return n >= 0 ? n : recvSettled(n, fd, buffer, flags, offset, length);
}

/**
 * send() of `length` bytes of `data` from `offset`, every argument given and
 * already checked against the buffer by the caller (lib/io.ts's loops; length
 * never -1): the same call as send(), with no defaults to fill in.
 */
export function sendRange(fd: number, data: Data, flags: number, offset: number, length: number): number {
  const n = fastSend(fd, data, flags, offset, length);
  return n >= 0 ? n : sendSettled(n, fd, data, flags, offset, length);
}

/** recv() as sendRange() sends: every argument given, length never -1 (lib/io.ts's loops). */
export function recvRange(fd: number, buffer: BinaryData, flags: number, offset: number, length: number): number {
  const n = fastRecv(fd, buffer, flags, offset, length);
  return n >= 0 ? n : recvSettled(n, fd, buffer, flags, offset, length);
}

/** read(2) into `buffer`: the byte count, 0 at end of file. */
export function read(fd: number, buffer: BinaryData, offset?: number, length?: number): number {
  const o = offset === undefined ? 0 : offset;
  const l = fastLength(length);
  const n = fast.read(fd, buffer, 0, o, l);
  if (n >= 0) return n;
  return settle('read', n, core.read, core.readInterrupted, fd, buffer, offset, length);
}

/** write(2) */
export function write(fd: number, data: Data, offset?: number, length?: number): number {
  const o = offset === undefined ? 0 : offset;
  const l = fastLength(length);
  const n = fast.write(fd, data, 0, o, l);
  if (n >= 0) return n;
  return settle('write', n, core.write, core.writeInterrupted, fd, data, offset, length);
}

/** socket(2): a new socket's fd (the lowest free fd). */
export function socket(domain: number, type: number, protocol?: number): number {
  const n = fast.socket(domain, type, protocol === undefined ? 0 : protocol);
  if (n >= 0) return n;
  if (n === FALLBACK) return core.socket(domain, type, protocol);
  throw core.errnoError('socket', -n);
}

/**
 * close(2); never retried after EINTR (Linux has released the fd). The fast
 * close runs only when no watcher of this thread has the fd; it moves the
 * fd's generation on as the N-API close does (lib/async.ts's lifetimes).
 */
export function close(fd: number): void {
  const n = fast.close(fd);
  if (n === 0) return;
  if (n === FALLBACK) return core.close(fd);
  throw core.errnoError('close', -n);
}

/**
 * recv(2) with MSG_DONTWAIT that answers -EAGAIN as a number instead of
 * throwing (a would-block costs no Error object); other failures throw as recv().
 * For event-driven code (lib/readiness.ts).
 */
export function recvNonBlocking(fd: number, buffer: BinaryData, flags = 0, offset = 0, length?: number): number {
  const f = flags | DONTWAIT;
  const l = fastLength(length);
  const n = fast.recv(fd, buffer, f, offset, l);
  if (n >= 0 || n === -EAGAIN) return n;
  return settleNonBlocking('recv', n, core.recv, core.recvInterrupted, fd, buffer, f, offset, length);
}

/** send(2) with MSG_DONTWAIT | MSG_NOSIGNAL that answers -EAGAIN as a number instead of throwing. */
export function sendNonBlocking(fd: number, data: Data, flags = 0, offset = 0, length?: number): number {
  const f = flags | DONTWAIT | NOSIGNAL;
  const l = fastLength(length);
  const n = fast.send(fd, data, f, offset, l);
  if (n >= 0 || n === -EAGAIN) return n;
  return settleNonBlocking('send', n, core.send, core.sendInterrupted, fd, data, f, offset, length);
}

/**
 * The fast recv and send themselves, for the attempts of lib/async.ts: n >= 0,
 * -errno, or FALLBACK (no system call made). That caller sends FALLBACK and
 * EINTR on to its N-API try-calls, which do the whole call again with their
 * own checks.
 */
export const fastAttempts: { readonly recv: FastFunction; readonly send: FastFunction; readonly FALLBACK: number } = Object.freeze({
  recv: fast.recv,
  send: fast.send,
  FALLBACK,
});

// As settle(), but EAGAIN (from either path) is an answer, not an error.
function settleNonBlocking<A extends unknown[]>(
  syscall: 'send' | 'recv',
  n: number,
  napi: (...args: A) => number,
  afterInterruption: (...args: A) => number,
  ...args: A
): number {
  try {
    return settle(syscall, n, napi, afterInterruption, ...args);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EAGAIN') return -EAGAIN;
    throw error;
  }
}
