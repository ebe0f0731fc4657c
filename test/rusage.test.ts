// getrusage(2) (native/rusage.cc, lib/rusage.ts) against references it did not
// produce: /proc/self and /proc/thread-self (read just before and just after the
// call, so each of its fields must lie between), Python's resource module (the
// RUSAGE_* values, a Python child's own getrusage for RUSAGE_CHILDREN), and the
// kernel's rusage of an ended sockfd child as Python's os.wait4 returns it.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as root from '../lib/index.js';
import { getrusage, type Rusage } from '../lib/rusage.js';
import { RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD } from '../lib/constants.js';

const python = (code: string, args: string[] = []): string => execFileSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
// The interpreter itself: `python3` may be a shim (pyenv's is a bash script that runs helpers
// before it execs python), whose own work would be counted among the children as well.
const pythonExecutable = python('import sys; print(sys.executable)').trim();
/** Python: `usage(u)` turns a resource.struct_rusage into sockfd's shape (the fields these tests compare; times in microseconds). */
const pythonUsage =
  'def usage(u): return {"utime": round(u.ru_utime * 1e6), "stime": round(u.ru_stime * 1e6), "minflt": u.ru_minflt, "majflt": u.ru_majflt, "nvcsw": u.ru_nvcsw, "nivcsw": u.ru_nivcsw, "maxrss": u.ru_maxrss}';
type PythonUsage = Pick<Rusage, 'utime' | 'stime' | 'minflt' | 'majflt' | 'nvcsw' | 'nivcsw' | 'maxrss'>;
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const tickMicroseconds = 1e6 / clockTicks;

/** /proc/<which>/stat's minflt, majflt, utime and stime (in ticks), and /proc/<which>/status's switches and VmHWM. */
function procUsage(which: 'self' | 'thread-self'): { minflt: number; majflt: number; utimeTicks: number; stimeTicks: number; nvcsw: number; nivcsw: number; hwmKiB: number } {
  const stat = readFileSync(`/proc/${which}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on; the name may hold spaces
  const field = (n: number) => Number(fields[n - 3]);
  const status = readFileSync(`/proc/${which}/status`, 'utf8');
  const line = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    minflt: field(10),
    majflt: field(12),
    utimeTicks: field(14),
    stimeTicks: field(15),
    nvcsw: line('voluntary_ctxt_switches'),
    nivcsw: line('nonvoluntary_ctxt_switches'),
    hwmKiB: line('VmHWM'),
  };
}

/** Spends about `ms` of CPU time in this thread. */
function burn(ms: number): number {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  return x;
}

const fields = ['utime', 'stime', 'maxrss', 'ixrss', 'idrss', 'isrss', 'minflt', 'majflt', 'nswap', 'inblock', 'oublock', 'msgsnd', 'msgrcv', 'nsignals', 'nvcsw', 'nivcsw'];

describe('getrusage', () => {
  it('RUSAGE_SELF, RUSAGE_CHILDREN and RUSAGE_THREAD are the headers’ values, as Python’s resource module has them; all are package exports', () => {
    const values = JSON.parse(python('import resource, json; print(json.dumps([resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN, resource.RUSAGE_THREAD]))')) as number[];
    expect([RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD]).toEqual(values);
    const exports = root as Record<string, unknown>;
    expect(exports['getrusage']).toBe(getrusage);
    expect([exports['RUSAGE_SELF'], exports['RUSAGE_CHILDREN'], exports['RUSAGE_THREAD']]).toEqual(values);
  });

  it('gives every field of struct rusage, as integers', () => {
    for (const who of [RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD]) {
      const usage = getrusage(who);
      expect(Object.keys(usage).sort()).toEqual([...fields].sort());
      for (const name of fields) expect(Number.isSafeInteger(usage[name as keyof Rusage]) && usage[name as keyof Rusage] >= 0, name).toBe(true);
    }
  });

  it('RUSAGE_SELF lies between two readings of /proc/self (faults, CPU time, peak RSS)', () => {
    burn(30);
    const before = procUsage('self');
    const usage = getrusage(RUSAGE_SELF);
    const after = procUsage('self');
    expect(usage.minflt).toBeGreaterThanOrEqual(before.minflt);
    expect(usage.minflt).toBeLessThanOrEqual(after.minflt);
    expect(usage.majflt).toBeGreaterThanOrEqual(before.majflt);
    expect(usage.majflt).toBeLessThanOrEqual(after.majflt);
    // The peak RSS, at least /proc's VmHWM: /proc sums the kernel's per-CPU RSS counters
    // exactly, getrusage reads them as last folded in (up to a batch of pages per CPU
    // behind: 1 MiB of slack). It may be more: the kernel also keeps the peak of the
    // program this process was before its execve (the forked runner: 7-146 MB more under ASan).
    expect(usage.maxrss).toBeGreaterThanOrEqual(before.hwmKiB - 1024);
    // /proc counts clock ticks: the same time, cut to whole ticks (one tick of slack for the cut).
    expect(usage.utime).toBeGreaterThanOrEqual((before.utimeTicks - 1) * tickMicroseconds);
    expect(usage.utime).toBeLessThanOrEqual((after.utimeTicks + 1) * tickMicroseconds);
    expect(usage.stime).toBeGreaterThanOrEqual((before.stimeTicks - 1) * tickMicroseconds);
    expect(usage.stime).toBeLessThanOrEqual((after.stimeTicks + 1) * tickMicroseconds);
    expect(usage.utime).toBeGreaterThan(0);
  });

  it('RUSAGE_THREAD is the calling thread’s, between two readings of /proc/thread-self: on the main thread and in a Worker', async () => {
    const check = (): string => {
      const before = procUsage('thread-self');
      const usage = getrusage(RUSAGE_THREAD);
      const after = procUsage('thread-self');
      const problems: string[] = [];
      const between = (name: string, value: number, low: number, high: number) => {
        if (!(value >= low && value <= high)) problems.push(`${name} ${value} not in ${low}..${high}`);
      };
      between('nvcsw', usage.nvcsw, before.nvcsw, after.nvcsw);
      between('nivcsw', usage.nivcsw, before.nivcsw, after.nivcsw);
      between('minflt', usage.minflt, before.minflt, after.minflt);
      between('utime', usage.utime, (before.utimeTicks - 1) * tickMicroseconds, (after.utimeTicks + 1) * tickMicroseconds);
      return problems.join('; ');
    };
    burn(20);
    expect(check()).toBe('');
    // The main thread's count is not the process's: this process has other threads that switched.
    expect(getrusage(RUSAGE_THREAD).nvcsw).toBeLessThan(getrusage(RUSAGE_SELF).nvcsw);
    // A Worker's own thread: its CPU time is its own burn, far below the process's.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.lib).then(({ getrusage, RUSAGE_THREAD }) => {
         const start = getrusage(RUSAGE_THREAD);
         const until = performance.now() + 150; let x = 0;
         while (performance.now() < until) x += Math.sqrt(x + 1);
         const end = getrusage(RUSAGE_THREAD);
         parentPort.postMessage({ cpu: end.utime + end.stime - start.utime - start.stime, x });
       });`,
      { eval: true, workerData: { lib: new URL('../dist/lib/index.js', import.meta.url).href } },
    );
    const { cpu } = await new Promise<{ cpu: number }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    // 150 ms of wall time burning: at most 150 ms of its CPU, and most of it unless the machine is very loaded.
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeLessThanOrEqual(150_000 + tickMicroseconds);
  });

  it('RUSAGE_CHILDREN grows by what an ended, waited-for Python child said of itself', async () => {
    // The child burns CPU, waits 40 times (voluntary switches), then prints its own
    // resource.getrusage(RUSAGE_SELF) as its last act; the parent waits for it (libuv reaps).
    const before = getrusage(RUSAGE_CHILDREN);
    const child = spawn(pythonExecutable, [
      '-c',
      [
        'import json, resource, select, time',
        'end = time.process_time() + 0.2',
        'while time.process_time() < end: pass',
        'for _ in range(40): select.select([], [], [], 0.001)',
        'u = resource.getrusage(resource.RUSAGE_SELF)',
        pythonUsage,
        'print(json.dumps(usage(u)), flush=True)',
      ].join('\n'),
    ]);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    const after = getrusage(RUSAGE_CHILDREN);
    const own = JSON.parse(output) as PythonUsage;
    const delta = (name: 'utime' | 'stime' | 'minflt' | 'nvcsw' | 'nivcsw') => after[name] - before[name];
    expect(own.utime + own.stime).toBeGreaterThanOrEqual(190_000);
    expect(own.nvcsw).toBeGreaterThanOrEqual(40);
    // Everything the child counted, plus only its last moments (printing, exit): nothing of anyone else's.
    for (const name of ['utime', 'stime', 'minflt', 'nvcsw', 'nivcsw'] as const) expect(delta(name), name).toBeGreaterThanOrEqual(own[name]);
    expect(delta('utime') + delta('stime')).toBeLessThanOrEqual(own.utime + own.stime + 100_000);
    expect(delta('nvcsw')).toBeLessThanOrEqual(own.nvcsw + 10);
    expect(after.maxrss).toBeGreaterThanOrEqual(own.maxrss);
  });

  it('a sockfd child’s last RUSAGE_SELF is within its final rusage as Python’s os.wait4 gets it from the kernel', () => {
    // The child (this library, in node) burns CPU, prints its getrusage(RUSAGE_SELF) and _exits at once.
    const lib = join(import.meta.dirname, '..', 'dist', 'lib', 'index.js');
    const childCode = [
      `const { getrusage, RUSAGE_SELF, _exit } = await import(${JSON.stringify(lib)});`,
      'const until = performance.now() + 150; let x = 0; while (performance.now() < until) x += Math.sqrt(x + 1);',
      "process.stdout.write(JSON.stringify(getrusage(RUSAGE_SELF)) + '\\n', () => _exit(x > 0 ? 0 : 1));",
    ].join('\n');
    const report = JSON.parse(
      python(
        [
          'import json, os, subprocess, sys',
          'child = subprocess.Popen([sys.argv[1], "--input-type=module", "-e", sys.argv[2]], stdout=subprocess.PIPE)',
          'said = json.loads(child.stdout.readline())',
          'child.stdout.read()',
          'pid, status, u = os.wait4(child.pid, 0)',
          pythonUsage,
          'print(json.dumps({"status": status, "said": said, "kernel": usage(u)}))',
        ].join('\n'),
        [process.execPath, childCode],
      ),
    ) as { status: number; said: Rusage; kernel: PythonUsage };
    expect(report.status).toBe(0);
    const { said, kernel } = report;
    for (const name of ['utime', 'stime', 'minflt', 'majflt', 'nvcsw', 'nivcsw', 'maxrss'] as const) expect(kernel[name], name).toBeGreaterThanOrEqual(said[name]);
    // What came after the child's call: one write, the exit. (Its other threads may run on until the exit.)
    expect(kernel.utime + kernel.stime).toBeLessThanOrEqual(said.utime + said.stime + 100_000);
    expect(said.utime).toBeGreaterThan(50_000);
  });

  it('refuses a non-integer before the call, and reports an unknown who as the kernel does', () => {
    expect(() => getrusage(7)).toThrow(expect.objectContaining({ message: 'getrusage: Invalid argument', code: 'EINVAL', errno: 22, syscall: 'getrusage' }));
    for (const bad of [1.5, NaN, Infinity, '0', null, undefined, {}]) expect(() => getrusage(bad as number), String(bad)).toThrow(TypeError);
    expect(() => getrusage(2 ** 31)).toThrow(RangeError);
  });
});
