// getrusage(2): CPU time, memory, faults, I/O and context switches of this
// process (RUSAGE_SELF), of its ended and waited-for children (RUSAGE_CHILDREN:
// every thread of each, and their own waited-for descendants), or of the
// calling thread (RUSAGE_THREAD). The RUSAGE_* constants come from the headers
// (lib/constants.ts); the call is native/rusage.cc.
import { binding } from './native.js';

/**
 * struct rusage, field by field (the names without `ru_`). Linux fills
 * utime, stime, maxrss, minflt, majflt, inblock, oublock, nvcsw and nivcsw;
 * the others are 0 there (getrusage(2)).
 */
export interface Rusage {
  /** ru_utime: user CPU time, in microseconds (tv_sec * 1e6 + tv_usec). */
  utime: number;
  /** ru_stime: system CPU time, in microseconds. */
  stime: number;
  /** ru_maxrss: the largest resident set size, in KiB (for RUSAGE_CHILDREN: of the largest child). */
  maxrss: number;
  /** ru_ixrss: integral shared memory size (0 on Linux). */
  ixrss: number;
  /** ru_idrss: integral unshared data size (0 on Linux). */
  idrss: number;
  /** ru_isrss: integral unshared stack size (0 on Linux). */
  isrss: number;
  /** ru_minflt: page faults served without I/O (minor). */
  minflt: number;
  /** ru_majflt: page faults that needed I/O (major). */
  majflt: number;
  /** ru_nswap: swaps (0 on Linux). */
  nswap: number;
  /** ru_inblock: file system inputs, in 512-byte blocks. */
  inblock: number;
  /** ru_oublock: file system outputs, in 512-byte blocks. */
  oublock: number;
  /** ru_msgsnd: IPC messages sent (0 on Linux). */
  msgsnd: number;
  /** ru_msgrcv: IPC messages received (0 on Linux). */
  msgrcv: number;
  /** ru_nsignals: signals received (0 on Linux). */
  nsignals: number;
  /** ru_nvcsw: voluntary context switches (the thread waited: a blocking call, a sleep). */
  nvcsw: number;
  /** ru_nivcsw: involuntary context switches (the scheduler preempted it). */
  nivcsw: number;
}

interface RusageBinding {
  getrusage(who: number): Rusage;
}

const native = binding as unknown as RusageBinding;

/**
 * getrusage(2) for `who`: RUSAGE_SELF, RUSAGE_CHILDREN or RUSAGE_THREAD.
 * Another integer fails as the kernel says (`getrusage: Invalid argument`,
 * code EINVAL); a non-integer is a TypeError.
 */
export function getrusage(who: number): Rusage {
  return native.getrusage(who);
}
