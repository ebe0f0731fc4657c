// Made-up bench reports and a deterministic generator for the bench
// harness's tests (test/bench-harness*.test.ts): the report shell every
// rendering test wraps its cases in, so that only the cases differ.
import { describePinning } from '../../bench/harness/machine.js';
import type { BenchResult, Report } from '../../bench/harness/model.js';

/** A report of `benchmarks` on a made-up machine, pinned to CPU 1, at full scale. */
export function madeUpReport(benchmarks: BenchResult[], fields: Partial<Pick<Report, 'command' | 'statistics'>> = {}): Report {
  return {
    tool: 'sockfd bench',
    version: '0.0.0',
    command: fields.command ?? 'sockfd bench sample',
    startedAt: '2026-01-01T00:00:00.000Z',
    quick: false,
    scale: 'full',
    mode: describePinning({ cpu: 1 }),
    machine: { cpuModel: 'Test CPU', cpus: 2, kernel: '6.0', os: 'Test OS', node: 'v20.0.0', v8: '11', cc: 'cc 12', hostname: 'h' },
    statistics: fields.statistics ?? { interval: 'a method', level: 0.95 },
    benchmarks,
  };
}

/** A small deterministic generator (mulberry32) in [0, 1), so empirical checks never change between runs. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
