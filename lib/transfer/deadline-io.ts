// Socket I/O for the transfer code: every wait is a poll() bounded by an idle
// timeout, so a silent or stalled peer is dropped instead of holding a
// process forever; every loop handles partial sends and short reads.
import * as posix from '../posix.js';
import { isSyscallError } from '../errors.js';
import { MSG_NOSIGNAL, POLLIN, POLLOUT } from '../constants.js';

/** The peer sent (or accepted) nothing for longer than the idle timeout. */
export class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
  /** Always 'ETIMEDOUT'. */
  readonly code = 'ETIMEDOUT';
  /** An Error saying what was awaited and for how long. */
  constructor(
    /** What was awaited (the header, content, the reply...). */
    readonly waitingFor: string,
    /** The idle timeout that ran out, in ms. */
    readonly timeoutMs: number,
  ) {
    super(`${waitingFor}: nothing happened for ${timeoutMs} ms`);
  }
}

/** Waits until `fd` is ready for `events` (POLLIN/POLLOUT); throws IdleTimeoutError after `timeoutMs`. */
export function waitReady(fd: number, events: number, timeoutMs: number, waitingFor: string): void {
  const entry: posix.PollFd = { fd, events };
  // Ready includes POLLERR/POLLHUP: the send/recv that follows reports the error or end of stream.
  if (posix.poll([entry], timeoutMs) === 0) throw new IdleTimeoutError(waitingFor, timeoutMs);
}

/** Sends every byte of `data`; each wait for room is bounded by `timeoutMs`. MSG_NOSIGNAL: EPIPE, never SIGPIPE. */
export function sendAllWithin(fd: number, data: Uint8Array, timeoutMs: number): void {
  let sent = 0;
  while (sent < data.length) {
    waitReady(fd, POLLOUT, timeoutMs, 'send');
    sent += retryOnEagain(() => posix.send(fd, data, MSG_NOSIGNAL, sent, data.length - sent));
  }
}

/**
 * Receives into buffer[offset, offset+length) until it is full or the peer
 * ends the stream; returns the byte count (short only at end of stream).
 */
export function recvFullWithin(fd: number, buffer: Uint8Array, timeoutMs: number, offset = 0, length = buffer.length - offset): number {
  let received = 0;
  while (received < length) {
    waitReady(fd, POLLIN, timeoutMs, 'recv');
    const n = retryOnEagain(() => posix.recv(fd, buffer, 0, offset + received, length - received), -1);
    if (n === 0) break;
    if (n < 0) continue;
    received += n;
  }
  return received;
}

/** One recv() of at most `length` bytes after waiting for data; 0 at end of stream. */
export function recvSomeWithin(fd: number, buffer: Uint8Array, offset: number, length: number, timeoutMs: number): number {
  for (;;) {
    waitReady(fd, POLLIN, timeoutMs, 'recv');
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
