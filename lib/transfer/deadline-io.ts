// Socket I/O for the transfer code: every wait is a poll() bounded by an idle
// timeout, so a silent or stalled peer is dropped instead of holding a
// process forever; every loop handles partial sends and short reads. A wait
// can also carry a deadline for a whole step (the header must arrive within
// N ms, however it trickles in) and a stop fd: when that fd becomes readable
// or hung up (the server closed its end of a pipe), the wait ends at once.
import * as posix from '../posix.js';
import { isSyscallError } from '../errors.js';
import { MSG_NOSIGNAL, POLLIN, POLLOUT } from '../constants.js';

/** The peer sent (or accepted) nothing for longer than the idle timeout. */
export class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly waitingFor: string,
    readonly timeoutMs: number,
  ) {
    super(`${waitingFor}: nothing happened for ${timeoutMs} ms`);
  }
}

/** A step (the whole header, say) did not finish by its deadline, although bytes may have kept coming. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly step: string,
    readonly limitMs: number,
  ) {
    super(`${step} did not arrive within ${limitMs} ms`);
  }
}

/** The stop fd became ready: the server is shutting down. */
export class StopRequestedError extends Error {
  override name = 'StopRequestedError';
  constructor() {
    super('the server is shutting down');
  }
}

/** What bounds a wait: a number is the idle timeout alone. */
export interface WaitLimits {
  /** Each wait ends after this many ms without progress (IdleTimeoutError). */
  idleMs: number;
  /** performance.now() by which the step must be done (DeadlineError), with its name and length for the message. */
  deadline?: { at: number; step: string; limitMs: number };
  /** Readable or hung up means: stop now (StopRequestedError). */
  stopFd?: number;
}

export type Limits = number | WaitLimits;

function limitsOf(limits: Limits): WaitLimits {
  return typeof limits === 'number' ? { idleMs: limits } : limits;
}

/** Waits until `fd` is ready for `events` (POLLIN/POLLOUT); throws IdleTimeoutError, DeadlineError or StopRequestedError. */
export function waitReady(fd: number, events: number, limits: Limits, waitingFor: string): void {
  const { idleMs, deadline, stopFd } = limitsOf(limits);
  const left = deadline === undefined ? Infinity : Math.ceil(deadline.at - performance.now());
  if (left <= 0) throw new DeadlineError(deadline!.step, deadline!.limitMs);
  const timeout = Math.min(idleMs, left);
  const entries: posix.PollFd[] = [{ fd, events }];
  if (stopFd !== undefined) entries.push({ fd: stopFd, events: POLLIN });
  // Ready includes POLLERR/POLLHUP: the send/recv that follows reports the error or end of stream.
  const ready = posix.poll(entries, timeout);
  if (stopFd !== undefined && (entries[1]!.revents ?? 0) !== 0) throw new StopRequestedError();
  if (ready > 0) return;
  if (timeout < idleMs) throw new DeadlineError(deadline!.step, deadline!.limitMs);
  throw new IdleTimeoutError(waitingFor, idleMs);
}

/** True when the stop fd is ready (a poll that does not wait). */
export function stopRequested(stopFd: number | undefined): boolean {
  if (stopFd === undefined) return false;
  try {
    return posix.poll([{ fd: stopFd, events: POLLIN }], 0) > 0;
  } catch (error) {
    if (isSyscallError(error, 'EINTR')) return false;
    throw error;
  }
}

/** Sends every byte of `data`; each wait for room is bounded by `limits`. MSG_NOSIGNAL: EPIPE, never SIGPIPE. */
export function sendAllWithin(fd: number, data: Uint8Array, limits: Limits): void {
  let sent = 0;
  while (sent < data.length) {
    waitReady(fd, POLLOUT, limits, 'send');
    sent += retryOnEagain(() => posix.send(fd, data, MSG_NOSIGNAL, sent, data.length - sent));
  }
}

/**
 * Receives into buffer[offset, offset+length) until it is full or the peer
 * ends the stream; returns the byte count (short only at end of stream).
 */
export function recvFullWithin(fd: number, buffer: Uint8Array, limits: Limits, offset = 0, length = buffer.length - offset): number {
  let received = 0;
  while (received < length) {
    waitReady(fd, POLLIN, limits, 'recv');
    const n = retryOnEagain(() => posix.recv(fd, buffer, 0, offset + received, length - received), -1);
    if (n === 0) break;
    if (n < 0) continue;
    received += n;
  }
  return received;
}

/** One recv() of at most `length` bytes after waiting for data; 0 at end of stream. */
export function recvSomeWithin(fd: number, buffer: Uint8Array, offset: number, length: number, limits: Limits): number {
  for (;;) {
    waitReady(fd, POLLIN, limits, 'recv');
    const n = retryOnEagain(() => posix.recv(fd, buffer, 0, offset, length), -1);
    if (n >= 0) return n;
  }
}

/**
 * On a non-blocking socket a call can still find nothing to do after poll()
 * said ready (another reader, a dropped segment): EAGAIN then means "wait
 * again", reported as `instead`.
 */
export function retryOnEagain(call: () => number, instead = 0): number {
  try {
    return call();
  } catch (error) {
    if (isSyscallError(error, 'EAGAIN')) return instead;
    throw error;
  }
}

/** Writes every byte to a file descriptor (a file: never waits for readiness). */
export function writeAll(fd: number, data: Uint8Array, offset = 0, length = data.length - offset): void {
  let written = 0;
  while (written < length) written += posix.write(fd, data, offset + written, length - written);
}
