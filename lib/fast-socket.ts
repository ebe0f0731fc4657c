// connect, acceptFd, shutdown and setsockopt (an int value) through V8 fast
// API calls when the per-Node addon has them (native/node/fast_socket_calls.cc),
// with the N-API functions as the fallback for everything a fast call does
// not take. Same results, same errors, same EINTR handling as the N-API path
// (lib/posix.ts exports these; lib/fast-io.ts does the same for send/recv/
// read/write/socket/close).
//
// A fast function answers n >= 0 (done), -errno (the call failed: the same
// perror-style Error is thrown) or FALLBACK (no system call made: the N-API
// function then validates and does the call, throwing exactly as before).
// -EINTR hands the call to one N-API entry (connectInterrupted,
// acceptFdInterrupted) that goes on as the N-API call does after an EINTR: it
// runs the signal handlers, checks the fd and resumes (for connect: waits for
// the handshake and reads SO_ERROR). Never a second fast attempt after
// handlers ran. SOCKFD_FAST_CALLS=0 turns fast calls off.
import { binding, loadFastSet, type FastSet } from './native.js';
import type { SockOptInput } from './posix.js';

interface FastSocketCalls extends FastSet {
  /** connect(fd, the bytes of a sockaddr_in or sockaddr_in6): 0, -errno or FALLBACK. */
  connect: (fd: number, sockaddr: Uint8Array) => number;
  acceptFd: (fd: number, flags: number) => number;
  shutdown: (fd: number, how: number) => number;
  setIntOption: (fd: number, level: number, name: number, value: number) => number;
}

interface CoreSocketCalls {
  acceptFd(fd: number, flags?: number): number;
  acceptFdInterrupted(fd: number, flags?: number): number;
  connectInterrupted(fd: number): void;
  shutdown(fd: number, how: number): void;
  setsockopt(fd: number, level: number, name: number, value: SockOptInput): void;
  errnoError(syscall: string, errno: number): Error;
}

const core = binding as unknown as CoreSocketCalls;
const { EINTR } = binding.constants as Record<string, number>;

const loaded = loadFastSet<FastSocketCalls>('fastSocketCalls', 'fast socket calls');
const FALLBACK: number = loaded.fast?.FALLBACK ?? -0x80000000;
const fallbackOnly = (): number => FALLBACK;
const fast: Omit<FastSocketCalls, 'available' | 'reason' | 'FALLBACK'> = {
  connect: loaded.fast?.connect ?? fallbackOnly,
  acceptFd: loaded.fast?.acceptFd ?? fallbackOnly,
  shutdown: loaded.fast?.shutdown ?? fallbackOnly,
  setIntOption: loaded.fast?.setIntOption ?? fallbackOnly,
};

/** Whether connect/acceptFd/shutdown/setsockopt use V8 fast API calls in this process, and if not, why. */
export const fastSocketCalls: { readonly enabled: boolean; readonly reason: string } = Object.freeze({
  enabled: loaded.fast !== undefined,
  reason: loaded.reason,
});

/**
 * connect(2) to `sockaddr`, the bytes lib/sockaddr-bytes.ts encoded for an address
 * (the caller keeps the address itself for the N-API path). True when the
 * call was made (connected; an error was thrown otherwise); false when the
 * fast path did not take it and the N-API connect must do the whole call.
 */
export function connectEncoded(fd: number, sockaddr: Uint8Array): boolean {
  const n = fast.connect(fd, sockaddr);
  if (n === 0) return true;
  if (n === FALLBACK) return false;
  if (n === -EINTR) {
    core.connectInterrupted(fd);
    return true;
  }
  throw core.errnoError('connect', -n);
}

/** Whether connectEncoded can take a call at all (else encoding the address is wasted work). */
export const fastConnect: boolean = loaded.fast !== undefined;

/**
 * accept(fd, NULL, NULL) as C servers call it (accept4 when `flags` are
 * given): the new connection's fd alone, no address object built.
 */
export function acceptFd(fd: number, flags?: number): number {
  const n = fast.acceptFd(fd, flags === undefined ? 0 : flags);
  if (n >= 0) return n;
  if (n === FALLBACK) return core.acceptFd(fd, flags);
  if (n === -EINTR) return core.acceptFdInterrupted(fd, flags);
  throw core.errnoError(flags === undefined ? 'accept' : 'accept4', -n);
}

/** shutdown(2) with SHUT_RD / SHUT_WR / SHUT_RDWR. */
export function shutdown(fd: number, how: number): void {
  const n = fast.shutdown(fd, how);
  if (n === 0) return;
  if (n === FALLBACK) return core.shutdown(fd, how);
  throw core.errnoError('shutdown', -n);
}

/** setsockopt(2); a number or boolean value of an int option goes the fast way, everything else the N-API way. */
export function setsockopt(fd: number, level: number, name: number, value: SockOptInput): void {
  if (typeof value === 'number' || typeof value === 'boolean') {
    const n = fast.setIntOption(fd, level, name, typeof value === 'number' ? value : value ? 1 : 0);
    if (n === 0) return;
    if (n !== FALLBACK) throw core.errnoError('setsockopt', -n);
  }
  return core.setsockopt(fd, level, name, value);
}
