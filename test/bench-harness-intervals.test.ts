// The bench harness's uncertainty: the distribution-free interval of the
// median pair ratio and the target verdicts drawn from it. The references
// are computed independently: Python enumerates every sign pattern of n draws
// (the definition of the coverage, not the binomial formula the code uses),
// picks the interval and the verdict by its own rules, and an empirical check
// draws from a distribution whose median is known exactly (exponential: ln 2).
import { describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INTERVAL_LEVEL, medianInterval, orderStatisticCoverage, valuesNeededFor, verdictOf } from '../bench/harness/confidence.js';
import { CaseRecorder, type Report } from '../bench/harness/model.js';
import { REPORT_FORMAT, reportToJson } from '../bench/harness/json.js';
import { renderBenchResult } from '../bench/harness/table.js';
import { reportToMarkdown } from '../bench/harness/markdown.js';
import { describePinning } from '../bench/harness/machine.js';
import { parseBenchArgs } from '../cli/commands/bench.js';
import { UsageError } from '../tools/usage-error.js';
import { madeUpReport, seeded } from './helpers/bench-reports.js';

const root = join(import.meta.dirname, '..');

/** Python's answer for each input: coverage by enumeration, the interval, and verdicts against bounds. */
interface PythonCase {
  n: number;
  k: number;
  low: number;
  high: number;
  coverage: number;
  verdicts: string[];
}

const PYTHON = String.raw`
import itertools, json, sys
from fractions import Fraction
inputs = json.load(sys.stdin)
def coverage(n, k):
    # P(X(k) <= M <= X(n+1-k)): the interval holds the median exactly when at least k draws fall
    # below M and at least k above; each draw is below with probability 1/2, independently.
    good = sum(1 for signs in itertools.product((0, 1), repeat=n) if k <= sum(signs) <= n - k)
    return Fraction(good, 2 ** n)
out = []
for case in inputs['cases']:
    xs = sorted(case['values'])
    n = len(xs)
    best = 1
    for k in range(1, (n + 1) // 2 + 1):
        if coverage(n, k) >= Fraction(95, 100):
            best = k
    cov = coverage(n, best)
    low, high = xs[best - 1], xs[n - best]
    verdicts = []
    for meaning, bound in case['targets']:
        if cov < Fraction(95, 100):
            verdicts.append('undecided')
        elif meaning == 'time':
            verdicts.append('met' if high <= bound else 'missed' if low > bound else 'undecided')
        else:
            verdicts.append('met' if low >= bound else 'missed' if high < bound else 'undecided')
    out.append({'n': n, 'k': best, 'low': low, 'high': high, 'coverage': float(cov), 'verdicts': verdicts})
print(json.dumps(out))
`;

function python(cases: { values: number[]; targets: [string, number][] }[]): PythonCase[] {
  return JSON.parse(execFileSync('python3', ['-c', PYTHON], { input: JSON.stringify({ cases }), encoding: 'utf8', timeout: 30_000 })) as PythonCase[];
}

describe('the interval of the median pair ratio (bench/harness/confidence.ts)', () => {
  it('coverage and interval for 1 to 15 values equal Python\'s enumeration of every sign pattern', () => {
    const random = seeded(16);
    const inputs = Array.from({ length: 15 }, (_, i) => ({ values: Array.from({ length: i + 1 }, () => 0.8 + random() * 0.3), targets: [] as [string, number][] }));
    const reference = python(inputs);
    inputs.forEach((input, i) => {
      const ours = medianInterval(input.values)!;
      const theirs = reference[i]!;
      expect([ours.count, ours.lowRank, ours.highRank, ours.low, ours.high]).toEqual([theirs.n, theirs.k, theirs.n + 1 - theirs.k, theirs.low, theirs.high]);
      expect(ours.coverage).toBeCloseTo(theirs.coverage, 12);
    });
    // The numbers a reader of the tables meets most (3, 7 and 9 pairs), by hand: 1 - 2/8, 1 - 2/128, 1 - 2*10/512.
    expect(orderStatisticCoverage(3, 1)).toBeCloseTo(0.75, 14);
    expect(orderStatisticCoverage(7, 1)).toBeCloseTo(126 / 128, 14);
    expect(orderStatisticCoverage(9, 2)).toBeCloseTo(1 - 20 / 512, 14);
    expect(valuesNeededFor(0.95)).toBe(6);
    expect(medianInterval([])).toBeUndefined();
    expect(medianInterval([1.5])).toMatchObject({ count: 1, low: 1.5, high: 1.5, coverage: 0 });
    expect(() => orderStatisticCoverage(4, 3)).toThrow(RangeError);
    expect(() => medianInterval([1], 1)).toThrow(RangeError);
  });

  it('verdicts against bounds on both sides, on the bound, and with too few pairs equal Python\'s', () => {
    const inputs: { values: number[]; targets: [string, number][] }[] = [
      // 7 pairs: the interval is [min, max] = [0.85, 0.97].
      { values: [0.93, 0.85, 0.97, 0.9, 0.95, 0.88, 0.92], targets: [['speed', 0.95], ['speed', 0.85], ['speed', 0.84], ['speed', 0.98], ['time', 0.97], ['time', 0.96], ['time', 0.8]] },
      // 9 pairs: the 2nd and 8th (1.01, 1.04), not min and max.
      { values: [1.02, 0.9, 1.03, 1.01, 1.2, 1.04, 1.02, 1.03, 1.02], targets: [['time', 1.03], ['time', 1.04], ['time', 1.005], ['speed', 1.05]] },
      // 3 pairs far from the bound: still undecided, they cannot reach 95%.
      { values: [0.4, 0.41, 0.42], targets: [['speed', 0.5], ['time', 1.2]] },
    ];
    const reference = python(inputs);
    inputs.forEach((input, i) => {
      const interval = medianInterval(input.values);
      const ours = input.targets.map(([meaning, bound]) => verdictOf(interval, meaning as 'time' | 'speed', bound).verdict);
      expect(ours).toEqual(reference[i]!.verdicts);
    });
    // What Python said, spelled out, so a reader sees every branch is exercised.
    expect(reference.map((r) => r.verdicts)).toEqual([
      ['undecided', 'met', 'met', 'missed', 'met', 'undecided', 'missed'],
      ['undecided', 'met', 'missed', 'missed'],
      ['undecided', 'undecided'],
    ]);
    const few = verdictOf(medianInterval([0.4, 0.41, 0.42]), 'speed', 0.5);
    expect(few.reason).toContain('75.0%');
    expect(few.reason).toContain('--runs 6');
    expect(verdictOf(undefined, 'time', 1).verdict).toBe('undecided');
  });

  it('is honest: on 20,000 sets drawn from an exponential distribution (median ln 2) the interval holds the median at least as often as it says', () => {
    const random = seeded(20261202);
    for (const n of [5, 7, 9, 12]) {
      const trials = 20_000;
      let held = 0;
      let stated = 0;
      for (let t = 0; t < trials; t++) {
        const values = Array.from({ length: n }, () => -Math.log(1 - random()));
        const interval = medianInterval(values)!;
        stated = interval.coverage;
        if (interval.low <= Math.LN2 && Math.LN2 <= interval.high) held++;
      }
      // Binomial standard error at these coverages is <= 0.0016; 4 of them either side.
      expect(Math.abs(held / trials - stated)).toBeLessThan(0.0065);
      if (n >= valuesNeededFor()) expect(stated).toBeGreaterThanOrEqual(INTERVAL_LEVEL);
    }
  });
});

describe('intervals and verdicts in case results, tables, Markdown and JSON', () => {
  // 4 KiB-like: C and sockfd MB/s over 7 interleaved runs; the speed ratios straddle 0.95.
  const cRuns = [3900, 4000, 4100, 3800, 4050, 3950, 4000];
  const sockfdRuns = [3700, 3500, 3950, 3600, 3750, 3850, 3680];

  function result() {
    const recorder = new CaseRecorder({
      name: '4 KiB chunks',
      kind: 'throughput',
      impls: ['C', 'sockfd'],
      targets: [
        { subject: 'sockfd', reference: 'C', ratio: 0.95 },
        { subject: 'sockfd', reference: 'C', ratio: 0.85 },
      ],
    });
    cRuns.forEach((mb, i) => {
      recorder.add('C', { bytes: mb * 1e6, ns: 1e9 });
      recorder.add('sockfd', { bytes: sockfdRuns[i]! * 1e6, ns: 1e9 });
    });
    return recorder.result();
  }

  it('every ratio carries the interval of its pair ratios and every target a verdict, as Python computes them', () => {
    const pairs = sockfdRuns.map((s, i) => s / cRuns[i]!);
    const [reference] = python([{ values: pairs, targets: [['speed', 0.95], ['speed', 0.85]] }]);
    const c = result();
    const ratio = c.ratios[0]!;
    expect(ratio.interval).toMatchObject({ count: 7, lowRank: reference!.k, highRank: 8 - reference!.k });
    expect(ratio.interval!.low).toBeCloseTo(reference!.low, 12);
    expect(ratio.interval!.high).toBeCloseTo(reference!.high, 12);
    expect(ratio.interval!.coverage).toBeCloseTo(reference!.coverage, 12);
    expect(c.targets.map((t) => t.verdict)).toEqual(reference!.verdicts);
    expect(c.targets.map((t) => t.verdict)).toEqual(['undecided', 'met']);
    // The point estimate of format 1 is kept beside the verdict: the median 0.947 is below 0.95.
    expect(c.targets[0]).toMatchObject({ met: false, interval: ratio.interval });
  });

  it('the table shows [low-high] beside each median, the coverage of the intervals, and the verdict with its reason', () => {
    const text = renderBenchResult({ name: 'tp', title: 'throughput', description: '', parameters: {}, cases: [result()], notes: [], durationMs: 1 });
    const low = Math.min(...sockfdRuns.map((s, i) => s / cRuns[i]!));
    const high = Math.max(...sockfdRuns.map((s, i) => s / cRuns[i]!));
    expect(text).toContain(`[${low.toFixed(2)}-${high.toFixed(2)}]`);
    expect(text).toContain('intervals of 7 pairs: the 1st to 7th smallest pair ratio, coverage 98.4%');
    expect(text).toMatch(/target for 4 KiB chunks: sockfd at least 0\.95x the speed of C: undecided \(median 0\.9\dx; 98\.4% interval 0\.\d{3}-0\.\d{3}x contains 0\.95x\)/);
    expect(text).toMatch(/at least 0\.85x the speed of C: met \(median/);
  });

  it('Markdown and JSON carry the same; the JSON states the method and its format is 2', () => {
    const report = madeUpReport([{ name: 'tp', title: 'throughput', description: '', parameters: {}, cases: [result()], notes: [], durationMs: 1 }], {
      command: 'sockfd bench tp',
      statistics: { interval: 'stated', level: 0.95 },
    });
    const markdown = reportToMarkdown(report);
    expect(markdown).toContain('**undecided** (median');
    expect(markdown).toContain('intervals of 7 pairs');
    const parsed = JSON.parse(reportToJson(report)) as Report & { format: number };
    expect(REPORT_FORMAT).toBe(2);
    expect(parsed.format).toBe(2);
    expect(parsed.statistics).toEqual({ interval: 'stated', level: 0.95 });
    const target = parsed.benchmarks[0]!.cases[0]!.targets[0]!;
    expect(target).toMatchObject({ verdict: 'undecided', met: false });
    expect(target.interval).toMatchObject({ count: 7, lowRank: 1, highRank: 7 });
    expect(parsed.benchmarks[0]!.cases[0]!.ratios[0]!.interval!.coverage).toBeCloseTo(126 / 128, 5);
  });
});

describe('--runs', () => {
  it('parses a whole number of runs and refuses anything else (usage error)', () => {
    expect(parseBenchArgs(['pingpong', '--runs', '12'], ['pingpong']).runs).toBe(12);
    expect(parseBenchArgs(['pingpong', '--runs=6'], ['pingpong']).runs).toBe(6);
    expect(parseBenchArgs(['pingpong'], ['pingpong']).runs).toBeUndefined();
    for (const bad of [['--runs'], ['--runs', '0'], ['--runs', '2.5'], ['--runs=x'], ['--runs', '1001']])
      expect(() => parseBenchArgs(['pingpong', ...bad], ['pingpong'])).toThrow(UsageError);
  });

  it('pingpong --smoke --runs 3: three measured runs of every implementation, intervals of 3 pairs, the target undecided and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-runs-'));
    try {
      const json = join(dir, 'report.json');
      const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'sockfd.js'), 'bench', 'pingpong', '--smoke', '--runs', '3', '--json', json], {
        timeout: 60_000,
        encoding: 'utf8',
      });
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report & { format: number };
      expect(report.statistics.level).toBe(0.95);
      expect(report.statistics.interval).toMatch(/distribution-free/);
      const bench = report.benchmarks[0]!;
      expect(bench.parameters.runs).toBe(3);
      expect(bench.notes.some((n) => n.startsWith('--runs 3:'))).toBe(true);
      const c = bench.cases[0]!;
      for (const impl of c.impls) expect(impl.runs).toHaveLength(3);
      for (const ratio of c.ratios) {
        const sortedPairs = [...ratio.pairs].sort((a, b) => a - b);
        expect(ratio.interval).toMatchObject({ count: 3, lowRank: 1, highRank: 3, low: sortedPairs[0], high: sortedPairs[2], coverage: 0.75 });
      }
      expect(c.targets[0]).toMatchObject({ verdict: 'undecided' });
      expect(c.targets[0]!.reason).toContain('6 pairs reach 95.0%');
      expect(stdout).toContain('intervals of 3 pairs: the 1st to 3rd smallest pair ratio, coverage 75.0% (below 95%');
      expect(stdout).toMatch(/target for 1-byte round trip: sockfd at most 1\.03x the time of C: undecided/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('--combine: the pair ratios of several sets pooled', () => {
  const machine = { cpuModel: 'Test CPU', cpus: 2, kernel: '6.0', os: 'Test OS', node: 'v20.0.0', v8: '11', cc: 'cc 12', hostname: 'h' };
  /** A report of one throughput case whose C and sockfd runs give `pairs` as sockfd/C speed ratios (C at 4000 MB/s). */
  function reportOf(pairs: number[], startedAt: string, pin: { cpu: number } | null = { cpu: 1 }): Report {
    const recorder = new CaseRecorder({ name: '4 KiB chunks', kind: 'throughput', impls: ['C', 'sockfd'], targets: [{ subject: 'sockfd', reference: 'C', ratio: 0.95 }] });
    for (const p of pairs) {
      recorder.add('C', { bytes: 4000e6, ns: 1e9 });
      recorder.add('sockfd', { bytes: p * 4000e6, ns: 1e9 });
    }
    return {
      tool: 'sockfd bench',
      version: '0.0.0',
      command: 'sockfd bench throughput --pin',
      startedAt,
      quick: false,
      scale: 'full',
      mode: describePinning(pin),
      machine,
      statistics: { interval: 'x', level: 0.95 },
      benchmarks: [{ name: 'throughput', title: 't', description: '', parameters: {}, cases: [recorder.result()], notes: [], durationMs: 1 }],
    };
  }
  const setA = [0.96, 0.97, 0.955, 0.98, 0.965, 0.99, 0.97];
  const setB = [0.96, 0.94, 0.985, 0.975, 0.96, 0.97, 0.99];
  const setLow = [0.84, 0.85, 0.86, 0.87, 0.88, 0.85, 0.86];

  function files(...reports: Report[]): { dir: string; paths: string[] } {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-combine-'));
    const paths = reports.map((report, i) => {
      const path = join(dir, `set${i + 1}.json`);
      writeFileSync(path, reportToJson(report));
      return path;
    });
    return { dir, paths };
  }

  it('pools the pairs of the sets; the pooled interval and verdict are Python\'s for the 14 pairs; each set keeps its own', async () => {
    const { combineReports, readReport } = await import('../bench/harness/combine.js');
    const { dir, paths } = files(reportOf(setA, '2026-01-01T00:00:00Z'), reportOf(setB, '2026-01-01T00:15:00Z'));
    try {
      const combined = combineReports(paths.map((file) => ({ file, report: readReport(file) })));
      const [ratio] = combined.cases[0]!.ratios;
      // The pairs as measured (JSON keeps 6 significant digits), set after set.
      expect(ratio!.pairs.map((p) => Number(p.toFixed(6)))).toEqual([...setA, ...setB]);
      const [pooled, a, b] = python([
        { values: [...setA, ...setB], targets: [['speed', 0.95]] },
        { values: setA, targets: [['speed', 0.95]] },
        { values: setB, targets: [['speed', 0.95]] },
      ]);
      expect(ratio!.interval).toMatchObject({ count: 14, lowRank: pooled!.k, highRank: 15 - pooled!.k, coverage: expect.closeTo(pooled!.coverage, 10) });
      expect(ratio!.interval!.low).toBeCloseTo(pooled!.low, 6);
      expect(ratio!.interval!.high).toBeCloseTo(pooled!.high, 6);
      expect(ratio!.setsDisagree).toBe(false);
      const [target] = combined.cases[0]!.targets;
      expect([target!.verdict, ...target!.setVerdicts]).toEqual([pooled!.verdicts[0], a!.verdicts[0], b!.verdicts[0]]);
      // 14 pairs give the 3rd to 12th (98.7%), narrower than one set's [min, max]: the pool is decided where set B alone is not.
      expect(pooled!.k).toBe(3);
      expect([target!.verdict, ...target!.setVerdicts]).toEqual(['met', 'met', 'undecided']);
      expect(combined.statistics.level).toBe(0.95);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sets whose intervals do not overlap are flagged and their target undecided; the command prints it; modes must match', async () => {
    const { dir, paths } = files(reportOf(setA, '2026-01-01T00:00:00Z'), reportOf(setLow, '2026-01-01T00:15:00Z'), reportOf(setA, '2026-01-01T00:30:00Z', null));
    try {
      const bin = join(root, 'bin', 'sockfd.js');
      const out = join(dir, 'combined.json');
      const ok = await promisify(execFile)(process.execPath, [bin, 'bench', '--combine', paths[0]!, paths[1]!, '--json', out], { encoding: 'utf8', timeout: 30_000 });
      expect(ok.stdout).toContain('(sets disagree)');
      expect(ok.stdout).toMatch(/target for throughput 4 KiB chunks: sockfd at least 0\.95x the speed of C: undecided \(pooled median 0\.\d\dx; the sets disagree/);
      expect(ok.stdout).toContain('per set: met, missed');
      const json = JSON.parse(readFileSync(out, 'utf8')) as { tool: string; cases: { ratios: { setsDisagree: boolean; pairs: number[] }[] }[] };
      expect(json.tool).toBe('sockfd bench --combine');
      expect(json.cases[0]!.ratios[0]).toMatchObject({ setsDisagree: true });
      expect(json.cases[0]!.ratios[0]!.pairs).toHaveLength(14);
      // A pinned set and an unpinned one measure different things: refused (exit 1, a message, no stack).
      const mixed = await promisify(execFile)(process.execPath, [bin, 'bench', '--combine', paths[0]!, paths[2]!], { encoding: 'utf8', timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
      expect(mixed).toMatchObject({ code: 1 });
      expect((mixed as { stderr: string }).stderr).toMatch(/^sockfd bench: .*only sets of one mode combine\n$/);
      // One file, an option it does not take, a file that is no report: usage errors (2) and a failure (1).
      const usage = await promisify(execFile)(process.execPath, [bin, 'bench', '--combine', paths[0]!], { encoding: 'utf8', timeout: 30_000 }).catch((e: { code: number }) => e);
      expect(usage).toMatchObject({ code: 2 });
      const flag = await promisify(execFile)(process.execPath, [bin, 'bench', '--combine', paths[0]!, paths[1]!, '--pin'], { encoding: 'utf8', timeout: 30_000 }).catch((e: { code: number }) => e);
      expect(flag).toMatchObject({ code: 2 });
      writeFileSync(join(dir, 'not.json'), '{"hello": 1}');
      const bad = await promisify(execFile)(process.execPath, [bin, 'bench', '--combine', paths[0]!, join(dir, 'not.json')], { encoding: 'utf8', timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
      expect(bad).toMatchObject({ code: 1 });
      expect((bad as { stderr: string }).stderr).toContain('not a report of sockfd bench --json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
