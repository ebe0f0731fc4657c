// clock_gettime(2): C's clocks (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) from JS,
// exact, and allocation-free in a loop. With a Float64Array to write into,
// optimized code reaches it as a V8 fast call (native/node/fast_clock.cc),
// everything else through N-API (native/clock.cc), with the same results and
// errors. SOCKFD_FAST_CALLS=0 turns the fast call off.
import { binding, loadFastSet, type FastSet } from './native.js';

/** A time as C's struct timespec: whole seconds and nanoseconds (0 to 999,999,999), both exact integers. */
export interface Timespec {
  sec: number;
  nsec: number;
}

interface CoreClock {
  clock_gettime(clockId: number): Timespec;
  clock_gettime(clockId: number, into: Float64Array): Float64Array;
  errnoError(syscall: string, errno: number): Error;
}

interface FastClock extends FastSet {
  /** 0, -errno, or FALLBACK (nothing done: the N-API function then validates and throws). */
  clock_gettime: (clockId: number, into: Float64Array) => number;
}

const core = binding as unknown as CoreClock;

const loaded = loadFastSet<FastClock>('fastClock', 'fast clock');
const FALLBACK: number = loaded.fast?.FALLBACK ?? -0x80000000;
const fastClockGettime: (clockId: number, into: Float64Array) => number = loaded.fast?.clock_gettime ?? ((): number => FALLBACK);

/** Whether clock_gettime(clockId, into) uses a V8 fast API call in this process, and if not, why. */
export const fastClock: { readonly enabled: boolean; readonly reason: string } = Object.freeze({
  enabled: loaded.fast !== undefined,
  reason: loaded.reason,
});

/**
 * clock_gettime(2): the current time of clock `clockId` (CLOCK_MONOTONIC,
 * CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_PROCESS_CPUTIME_ID, ...; any int,
 * dynamic clocks included) as `{ sec, nsec }`. Exact: a single number of
 * nanoseconds would round CLOCK_REALTIME to 256 ns. A clockId that is not an
 * integer is a TypeError, one outside int a RangeError; a clock the kernel
 * does not know throws `clock_gettime: Invalid argument` (EINVAL).
 */
export function clock_gettime(clockId: number): Timespec;
/**
 * clock_gettime(2) into `into`: `into[0]` = seconds, `into[1]` = nanoseconds;
 * returns `into`. Allocates nothing: for clocks read inside timed loops (from
 * optimized code it is a V8 fast call). `into` must be a Float64Array with
 * room for two numbers (TypeError / RangeError otherwise).
 */
export function clock_gettime(clockId: number, into: Float64Array): Float64Array;
export function clock_gettime(clockId: number, into?: Float64Array): Timespec | Float64Array {
  if (into === undefined) return timespecOf(clockId);
  const n = fastClockGettime(clockId, into);
  return n === 0 ? into : clockSettled(n, clockId, into);
}

// The rare outcomes out of line: small in bytecode, clock_gettime inlines into a timed loop
// beside the loop's other calls (TurboFan's cumulative inlining budget; lib/fast-io.ts).
function timespecOf(clockId: number): Timespec {
  return core.clock_gettime(clockId);
}

function clockSettled(n: number, clockId: number, into: Float64Array): Float64Array {
  if (n === FALLBACK) return core.clock_gettime(clockId, into);
  throw core.errnoError('clock_gettime', -n);
}
