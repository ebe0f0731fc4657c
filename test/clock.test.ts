// clock_gettime (native/clock.cc, native/node/fast_clock.cc, lib/clock.ts)
// against clocks it did not produce: Python's time.clock_gettime_ns and
// its CLOCK_* constants, Node's process.hrtime (libuv's CLOCK_MONOTONIC),
// /proc/uptime (CLOCK_BOOTTIME) and the kernel's own per-process CPU clock id.
// Each reference is read between two of our readings, so that only order is
// asserted (no timing). The fast path and the N-API path are forced in
// test/fast-calls.test.ts ('clock').
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as posix from '../lib/posix.js';

const ns = (t: { sec: number; nsec: number }): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
const fromArray = (a: Float64Array): bigint => ns({ sec: a[0]!, nsec: a[1]! });

describe('clock_gettime', () => {
  it('gives exact timespecs: integer seconds and nanoseconds below 1e9, in both forms', () => {
    for (const id of [posix.CLOCK_REALTIME, posix.CLOCK_MONOTONIC, posix.CLOCK_BOOTTIME, posix.CLOCK_PROCESS_CPUTIME_ID, posix.CLOCK_THREAD_CPUTIME_ID]) {
      const t = posix.clock_gettime(id);
      expect(Object.keys(t)).toEqual(['sec', 'nsec']);
      expect(Number.isSafeInteger(t.sec) && t.sec >= 0).toBe(true);
      expect(Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < 1e9).toBe(true);
      const into = new Float64Array(3).fill(-7);
      expect(posix.clock_gettime(id, into)).toBe(into);
      expect(Number.isSafeInteger(into[0]) && Number.isInteger(into[1]) && into[1]! >= 0 && into[1]! < 1e9).toBe(true);
      expect(into[2]).toBe(-7); // only two numbers written
    }
  });

  it("has Python's CLOCK_* values, and reads the same CLOCK_REALTIME and CLOCK_MONOTONIC as Python's time.clock_gettime_ns", () => {
    const before = { real: ns(posix.clock_gettime(posix.CLOCK_REALTIME)), mono: fromArray(posix.clock_gettime(posix.CLOCK_MONOTONIC, new Float64Array(2))) };
    const script = [
      'import json, time',
      "print(json.dumps({'REALTIME': time.CLOCK_REALTIME, 'MONOTONIC': time.CLOCK_MONOTONIC, 'BOOTTIME': time.CLOCK_BOOTTIME,",
      "  'PROCESS_CPUTIME_ID': time.CLOCK_PROCESS_CPUTIME_ID, 'THREAD_CPUTIME_ID': time.CLOCK_THREAD_CPUTIME_ID, 'TAI': time.CLOCK_TAI,",
      "  'MONOTONIC_RAW': time.CLOCK_MONOTONIC_RAW,",
      "  'real': str(time.clock_gettime_ns(time.CLOCK_REALTIME)), 'mono': str(time.clock_gettime_ns(time.CLOCK_MONOTONIC))}))",
    ].join('\n');
    const python = JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8', timeout: 10_000 })) as Record<string, number | string>;
    const after = { real: ns(posix.clock_gettime(posix.CLOCK_REALTIME)), mono: fromArray(posix.clock_gettime(posix.CLOCK_MONOTONIC, new Float64Array(2))) };
    expect({
      REALTIME: posix.CLOCK_REALTIME, MONOTONIC: posix.CLOCK_MONOTONIC, BOOTTIME: posix.CLOCK_BOOTTIME, PROCESS_CPUTIME_ID: posix.CLOCK_PROCESS_CPUTIME_ID,
      THREAD_CPUTIME_ID: posix.CLOCK_THREAD_CPUTIME_ID, TAI: posix.CLOCK_TAI, MONOTONIC_RAW: posix.CLOCK_MONOTONIC_RAW,
    }).toEqual({
      REALTIME: python.REALTIME, MONOTONIC: python.MONOTONIC, BOOTTIME: python.BOOTTIME, PROCESS_CPUTIME_ID: python.PROCESS_CPUTIME_ID,
      THREAD_CPUTIME_ID: python.THREAD_CPUTIME_ID, TAI: python.TAI, MONOTONIC_RAW: python.MONOTONIC_RAW,
    });
    // CLOCK_MONOTONIC is system-wide: Python's reading lies between ours. So does
    // CLOCK_REALTIME's, unless the clock was set meanwhile (then this fails once, honestly).
    expect(before.mono <= BigInt(python.mono as string) && BigInt(python.mono as string) <= after.mono).toBe(true);
    expect(before.real <= BigInt(python.real as string) && BigInt(python.real as string) <= after.real).toBe(true);
  });

  it("reads CLOCK_MONOTONIC as Node's process.hrtime does, and CLOCK_BOOTTIME as /proc/uptime", () => {
    const reading = new Float64Array(2);
    for (let i = 0; i < 100; i++) {
      const before = fromArray(posix.clock_gettime(posix.CLOCK_MONOTONIC, reading));
      const node = process.hrtime.bigint();
      const after = fromArray(posix.clock_gettime(posix.CLOCK_MONOTONIC, reading));
      expect(before <= node && node <= after).toBe(true);
    }
    // /proc/uptime is CLOCK_BOOTTIME truncated to hundredths of a second.
    const before = ns(posix.clock_gettime(posix.CLOCK_BOOTTIME));
    const [whole, hundredths] = readFileSync('/proc/uptime', 'utf8').split(' ')[0]!.split('.');
    const after = ns(posix.clock_gettime(posix.CLOCK_BOOTTIME));
    const uptime = BigInt(whole!) * 100n + BigInt(hundredths!);
    expect(before / 10_000_000n <= uptime && uptime <= after / 10_000_000n).toBe(true);
  });

  it('takes negative (dynamic) clock ids: the kernel\'s CPU clock of this process lies between two CLOCK_PROCESS_CPUTIME_ID readings', () => {
    // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) of the kernel (what clock_getcpuclockid() returns).
    const own = (~process.pid << 3) | 2;
    expect(own).toBeLessThan(0);
    const before = ns(posix.clock_gettime(posix.CLOCK_PROCESS_CPUTIME_ID));
    const dynamic = ns(posix.clock_gettime(own));
    const after = ns(posix.clock_gettime(posix.CLOCK_PROCESS_CPUTIME_ID));
    expect(before <= dynamic && dynamic <= after).toBe(true);
  });

  it('refuses bad arguments with TypeError/RangeError before the call, and reports a clock the kernel refuses as EINVAL', () => {
    const into = new Float64Array(2).fill(-1);
    const cases: [unknown[], string, RegExp][] = [
      [[1.5], 'TypeError', /^clockId must be an integer, got 1\.5/],
      [[NaN], 'TypeError', /^clockId must be an integer, got NaN/],
      [[Infinity], 'TypeError', /^clockId must be an integer/],
      [['1'], 'TypeError', /^clockId must be an integer/],
      [[], 'TypeError', /^clockId/],
      [[2 ** 31], 'RangeError', /^clockId is out of range/],
      [[-(2 ** 31) - 1], 'RangeError', /^clockId is out of range/],
      [[posix.CLOCK_MONOTONIC, new Uint8Array(16)], 'TypeError', /^into must be a Float64Array/],
      [[posix.CLOCK_MONOTONIC, [0, 0]], 'TypeError', /^into must be a Float64Array/],
      [[posix.CLOCK_MONOTONIC, new Float64Array(1)], 'RangeError', /^into must have room for 2 numbers \(seconds, nanoseconds\), has 1/],
      [[1.5, into], 'TypeError', /^clockId must be an integer/],
    ];
    const call = posix.clock_gettime as (...args: unknown[]) => unknown;
    for (const [args, name, message] of cases) {
      let error: Error | undefined;
      try {
        call(...args);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.name, String(args)).toBe(name);
      expect(error?.message, String(args)).toMatch(message);
    }
    expect([...into]).toEqual([-1, -1]); // nothing was written
    // A detached Float64Array has no room.
    const memory = new ArrayBuffer(16);
    const detached = new Float64Array(memory);
    structuredClone(memory, { transfer: [memory] });
    expect(() => posix.clock_gettime(posix.CLOCK_MONOTONIC, detached)).toThrow(/^into must have room for 2 numbers/);
    // A clock id no clock has (positive, and a dynamic one of no process): the kernel's EINVAL, perror-style.
    for (const id of [9999, -1]) {
      for (const form of [[id], [id, new Float64Array(2)]]) {
        let error: (Error & { code?: string; errno?: number; syscall?: string }) | undefined;
        try {
          call(...form);
        } catch (e) {
          error = e as typeof error;
        }
        expect(error).toMatchObject({ message: 'clock_gettime: Invalid argument', code: 'EINVAL', syscall: 'clock_gettime' });
        expect(error?.errno).toBe(posix.EINVAL);
      }
    }
  });
});
