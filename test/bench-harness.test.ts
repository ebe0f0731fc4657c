// The benchmark harness: statistics, case results and ratios, the table, the
// SVG and JSON writers, argument parsing, process handling, and smoke runs
// of `sockfd bench` at the smallest sizes. Structure only: no timing is
// asserted anywhere (benchmarks measure speed; tests check correctness).
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median, pairRatios, percentile, percentiles, summarize } from '../bench/harness/stats.js';
import { CaseRecorder, runMetric, type BenchResult, type Report } from '../bench/harness/model.js';
import { formatNs, formatValue, renderBenchResult, renderGrid } from '../bench/harness/table.js';
import { escapeXml, linearScale, logScale, reportToSvg } from '../bench/harness/svg.js';
import { REPORT_FORMAT, reportToJson } from '../bench/harness/json.js';
import { reportToMarkdown } from '../bench/harness/markdown.js';
import { allowedCpus, describePinning, parseCpuList } from '../bench/harness/machine.js';
import { parseRunOutput, runPair } from '../bench/harness/processes.js';
import { bySize, hasPython, measureCase, workWithin, type BenchContext } from '../bench/harness/harness.js';
import { startRunNoise, stopRunNoise, trackProcess } from '../bench/harness/noise.js';
import { NoCCompilerError } from '../tools/c-programs.js';
import { parseBenchArgs } from '../cli/commands/bench.js';
import { UsageError } from '../tools/usage-error.js';
import { madeUpReport } from './helpers/bench-reports.js';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..');

describe('stats', () => {
  it('median: middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('percentile: nearest rank on sorted values', () => {
    const oneToHundred = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0)).toBe(1);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(RangeError);
  });

  it('summarize: count, median, p99, min, max, mean', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ count: 4, median: 2.5, p99: 4, min: 1, max: 4, mean: 2.5 });
    const empty = summarize([]);
    expect(empty.count).toBe(0);
    expect(empty.median).toBeNaN();
  });

  it('percentiles: 101 values from min to max', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const p = percentiles(values);
    expect(p).toHaveLength(101);
    expect(p[0]).toBe(1);
    expect(p[50]).toBe(500);
    expect(p[99]).toBe(990);
    expect(p[100]).toBe(1000);
    expect(percentiles([])).toEqual([]);
  });

  it('pairRatios: a[i] / b[i], as many as the shorter list', () => {
    expect(pairRatios([2, 4, 9], [1, 8])).toEqual([2, 0.5]);
  });
});

describe('case results', () => {
  it('runMetric: MB/s from bytes and ns, ops/s from ops and ns, the median for latency', () => {
    expect(runMetric('throughput', { bytes: 2e9, ns: 1e9 })).toBe(2000);
    expect(runMetric('rate', { ops: 500, ns: 5e8 })).toBe(1000);
    expect(runMetric('latency', { samples_ns: [30, 10, 20] })).toBe(20);
    expect(() => runMetric('latency', { samples_ns: [] })).toThrow(/samples_ns/);
    expect(() => runMetric('throughput', { ns: 5 })).toThrow(/bytes/);
    expect(() => runMetric('rate', { ops: 1, ns: 0 })).toThrow(/ns > 0/);
  });

  it('latency: pooled summary, per-run medians, time ratios pair by pair, targets', () => {
    const recorder = new CaseRecorder({
      name: 'rtt',
      kind: 'latency',
      impls: ['C', 'sockfd'],
      targets: [
        { subject: 'sockfd', reference: 'C', ratio: 1.05 },
        { subject: 'sockfd', reference: 'C', ratio: 1.3 },
      ],
    });
    recorder.add('C', { samples_ns: [10, 20, 30] });
    recorder.add('sockfd', { samples_ns: [22, 24, 26] });
    recorder.add('C', { samples_ns: [10, 10, 10] });
    recorder.add('sockfd', { samples_ns: [12, 13, 14] });
    const result = recorder.result();
    expect(result.unit).toBe('ns');
    const [c, sockfd] = result.impls;
    expect(c!.runs).toEqual([20, 10]);
    expect(sockfd!.runs).toEqual([24, 13]);
    expect(c!.summary.count).toBe(6);
    expect(c!.summary.min).toBe(10);
    expect(c!.summary.max).toBe(30);
    expect(c!.distribution).toHaveLength(101);
    expect(result.ratios).toHaveLength(1);
    const ratio = result.ratios[0]!;
    expect(ratio).toMatchObject({ subject: 'sockfd', reference: 'C', meaning: 'time' });
    expect(ratio.pairs[0]).toBeCloseTo(1.2, 12);
    expect(ratio.pairs[1]).toBeCloseTo(1.3, 12);
    expect(ratio.median).toBeCloseTo(1.25, 12);
    expect(result.targets.map((t) => t.met)).toEqual([false, true]);
  });

  it('throughput: speed ratios against every other implementation; a lower bound target', () => {
    const recorder = new CaseRecorder({
      name: '64 KiB',
      kind: 'throughput',
      impls: ['C', 'sockfd', 'net'],
      target: { subject: 'sockfd', reference: 'C', ratio: 0.95 },
    });
    recorder.add('C', { bytes: 4e9, ns: 1e9 }); // 4000 MB/s
    recorder.add('sockfd', { bytes: 3.6e9, ns: 1e9 }); // 3600 MB/s
    recorder.add('net', { bytes: 2.4e9, ns: 1e9 }); // 2400 MB/s
    const result = recorder.result();
    expect(result.unit).toBe('MB/s');
    expect(result.impls[0]!.distribution).toBeUndefined();
    expect(result.ratios.map((r) => [r.reference, r.meaning])).toEqual([
      ['C', 'speed'],
      ['net', 'speed'],
    ]);
    expect(result.ratios[0]!.median).toBeCloseTo(0.9, 12);
    expect(result.ratios[1]!.median).toBeCloseTo(1.5, 12);
    expect(result.targets[0]).toMatchObject({ met: false, meaning: 'speed' });
  });

  it('refuses an unknown implementation and a target it cannot compute', () => {
    const recorder = new CaseRecorder({ name: 'x', kind: 'rate', impls: ['C', 'sockfd'] });
    expect(() => recorder.add('net', { ops: 1, ns: 1 })).toThrow(RangeError);
    const bad = new CaseRecorder({ name: 'y', kind: 'rate', impls: ['C', 'sockfd'], target: { subject: 'sockfd', reference: 'net', ratio: 1 } });
    bad.add('C', { ops: 1, ns: 1 });
    bad.add('sockfd', { ops: 1, ns: 1 });
    expect(() => bad.result()).toThrow(/target/);
    expect(() => new CaseRecorder({ name: 'z', kind: 'rate', impls: [] })).toThrow(RangeError);
  });

  it('workWithin: the full work when it fits the time, else what the warm-up rate allows, never below the minimum', () => {
    expect(workWithin(1000, undefined, 3, 10)).toBe(1000);
    expect(workWithin(1000, 100, 3, 10)).toBe(300);
    expect(workWithin(1000, 1, 3, 10)).toBe(10);
    expect(workWithin(1000, 1e6, 3, 10)).toBe(1000);
    expect(workWithin(2 ** 30, 5e6, 1, 2 ** 20, 2 ** 20)).toBe(4 * 2 ** 20); // whole MiB
  });

  it('measureCase leaves out an implementation whose C program could not be had, with the targets that need it', async () => {
    const context = { log: () => undefined } as unknown as BenchContext;
    const missing = new NoCCompilerError(join(root, 'bench', 'c', 'pingpong.c'), 'cc');
    const runs: string[] = [];
    const runOnce = async (impl: string, warmup: boolean) => {
      runs.push(`${impl}${warmup ? ' warm-up' : ''}`);
      if (impl === 'C') throw missing;
      return { samples_ns: [impl === 'sockfd' ? 20 : 10] };
    };
    const spec = {
      name: 'round trip',
      kind: 'latency' as const,
      impls: ['C', 'sockfd', 'net'],
      targets: [
        { subject: 'sockfd', reference: 'C', ratio: 1.03 },
        { subject: 'sockfd', reference: 'net', ratio: 3 },
      ],
    };
    const result = await measureCase(context, spec, { runs: 2, runOnce });
    expect(runs).toEqual(['C warm-up', 'sockfd warm-up', 'net warm-up', 'sockfd', 'net', 'sockfd', 'net']);
    expect(result.impls.map((impl) => impl.impl)).toEqual(['sockfd', 'net']);
    expect(result.ratios.map((ratio) => `${ratio.subject}/${ratio.reference} ${ratio.median}`)).toEqual(['sockfd/net 2']);
    // Two pairs cannot decide a target at 95% (their [min, max] covers the median half the time): undecided, though the median is on the right side.
    expect(result.targets).toMatchObject([{ subject: 'sockfd', reference: 'net', ratio: 3, meaning: 'time', measured: 2, met: true, verdict: 'undecided' }]);
    expect(result.targets[0]!.interval).toMatchObject({ count: 2, low: 2, high: 2, coverage: 0.5 });
    // Every implementation needs the C program (a C client for all): the case cannot be measured, the error says why.
    await expect(measureCase(context, { ...spec, targets: [] }, { runs: 1, runOnce: async () => Promise.reject(missing) })).rejects.toBe(missing);
    // Any other failure is not swallowed.
    await expect(measureCase(context, spec, { runs: 1, runOnce: async () => Promise.reject(new Error('peer died')) })).rejects.toThrow('peer died');
  });

  it('bySize picks the value of the scale; smoke falls back to quick', () => {
    const sizes = { full: 3, quick: 2 };
    expect(bySize({ scale: 'full' }, sizes)).toBe(3);
    expect(bySize({ scale: 'quick' }, sizes)).toBe(2);
    expect(bySize({ scale: 'smoke' }, sizes)).toBe(2);
    expect(bySize({ scale: 'smoke' }, { ...sizes, smoke: 1 })).toBe(1);
  });
});

function sampleResult(): BenchResult {
  const latency = new CaseRecorder({ name: 'round trip', kind: 'latency', impls: ['C', 'sockfd', 'net'], target: { subject: 'sockfd', reference: 'C', ratio: 1.05 } });
  const speed = new CaseRecorder({ name: '4 KiB chunks <&>', kind: 'throughput', impls: ['C', 'sockfd', 'net'] });
  for (let run = 1; run <= 2; run++) {
    latency.add('C', { samples_ns: [10_000 * run, 12_000, 14_000, 50_000] });
    latency.add('sockfd', { samples_ns: [12_000 * run, 15_000, 16_000, 90_000] });
    latency.add('net', { samples_ns: [40_000, 45_000, 60_000, 2_000_000] });
    speed.add('C', { bytes: 3e9, ns: 1e9 * run });
    speed.add('sockfd', { bytes: 2.7e9, ns: 1e9 * run });
    speed.add('net', { bytes: 1e9, ns: 1e9 * run });
  }
  return {
    name: 'sample',
    title: 'sample: <a title> & more',
    description: 'made up',
    parameters: { rounds: 4 },
    cases: [latency.result(), speed.result()],
    notes: ['a note'],
    durationMs: 1234,
  };
}

function sampleReport(): Report {
  return madeUpReport([sampleResult()]);
}

describe('table', () => {
  it('formats durations, rates and throughput', () => {
    expect(formatNs(850)).toBe('850 ns');
    expect(formatNs(17_940)).toBe('17.9 µs');
    expect(formatNs(44_000_000)).toBe('44.0 ms');
    expect(formatNs(1_500_000_000)).toBe('1.50 s');
    expect(formatValue(3612.4, 'MB/s')).toBe('3,612 MB/s');
    expect(formatValue(20513.2, 'ops/s')).toBe('20,513/s');
  });

  it('renderGrid pads every column to its widest cell', () => {
    const lines = renderGrid([['a', 'bbb', '1'], ['cccc', 'd', '22']], new Set([2])).split('\n');
    expect(lines).toEqual(['a     bbb   1', 'cccc  d    22']);
  });

  it('renders every case, implementation, ratio column and target', () => {
    const text = renderBenchResult(sampleResult());
    expect(text).toContain('sample: <a title> & more');
    expect(text).toContain('sockfd/C');
    expect(text).toContain('sockfd/net');
    expect(text).toMatch(/round trip\s+C\s/);
    expect(text).toMatch(/4 KiB chunks <&>\s+C\s/);
    // sockfd/C of the throughput case is 0.90 in both pairs.
    expect(text).toContain('0.90x [0.90-0.90]');
    expect(text).toMatch(/target for round trip: sockfd at most 1\.05x the time of C: undecided \(median 1\.\d\dx; 2 pairs/);
    expect(text).toContain('note: a note');
    expect(text).toContain('p99');
    expect(text).toContain('MB/s');
  });
});

/** Checks that every element opened is closed in order (enough to catch broken markup). */
function expectBalancedMarkup(svg: string): void {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe('svg', () => {
  it('escapes text', () => {
    expect(escapeXml(`<a & "b" 'c'>`)).toBe('&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;');
  });

  it('log scale: whole decades around the data, ends at the plot edges', () => {
    const scale = logScale(15, 4e7, 100, 900);
    expect(scale.ticks).toEqual([10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8]);
    expect(scale.x(10)).toBeCloseTo(100, 9);
    expect(scale.x(1e8)).toBeCloseTo(900, 9);
    expect(scale.x(1e4)).toBeCloseTo(100 + (3 / 7) * 800, 9);
  });

  it('linear scale: from 0 past the maximum in even steps', () => {
    const scale = linearScale(3612, 0, 500);
    expect(scale.ticks[0]).toBe(0);
    expect(scale.ticks.at(-1)!).toBeGreaterThanOrEqual(3612);
    const steps = scale.ticks.slice(1).map((t, i) => t - scale.ticks[i]!);
    expect(new Set(steps).size).toBe(1);
    expect(scale.x(scale.ticks.at(-1)!)).toBeCloseTo(500, 9);
  });

  it('a whole document: balanced, escaped, one box per latency row and one bar per throughput row', () => {
    const svg = reportToSvg(sampleReport());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expectBalancedMarkup(svg);
    expect(svg).toContain('sample: &lt;a title&gt; &amp; more');
    expect(svg).not.toContain('<a title>');
    expect(svg.match(/fill-opacity="0\.35"/g)).toHaveLength(3); // boxes: C, sockfd, net
    expect(svg.match(/fill-opacity="0\.8"/g)).toHaveLength(3); // bars: C, sockfd, net
    expect(svg).toContain('pinned to CPU 1');
    expect(svg).not.toContain('aa-hatch'); // no A/A row, no hatch
  });

  it('an A/A control row (--control) is drawn grey and hatched with an "A/A" tag, in latency and bar charts alike', () => {
    const AA = 'C (A/A)';
    const latency = new CaseRecorder({ name: 'round trip', kind: 'latency', impls: ['C', 'sockfd', AA], control: 'C' });
    const speed = new CaseRecorder({ name: '4 KiB chunks', kind: 'throughput', impls: ['C', 'sockfd', AA], control: 'C' });
    for (let run = 1; run <= 2; run++)
      for (const impl of ['C', 'sockfd', AA]) {
        latency.add(impl, { samples_ns: [10_000 * run, 12_000, 14_000, 50_000] });
        speed.add(impl, { bytes: 3e9, ns: 1e9 * run });
      }
    const svg = reportToSvg(madeUpReport([{ ...sampleResult(), cases: [latency.result(), speed.result()] }]));
    expectBalancedMarkup(svg);
    // Each row from its opening group to the next row's (or the section's legend, drawn after its rows).
    const rows = [...svg.matchAll(/<g class="([^"]*)" data-impl="([^"]*)">([\s\S]*?)(?=<g class="row|<text [^>]*fill="#444"|$)/g)].map((m) => ({
      classes: m[1]!.split(' '),
      impl: m[2]!,
      body: m[3]!,
    }));
    expect(rows.map((r) => r.impl)).toEqual(['C', 'sockfd', AA, 'C', 'sockfd', AA]);
    for (const row of rows) {
      const aa = row.impl === AA;
      expect(row.classes.includes('aa-control'), row.impl).toBe(aa);
      expect(row.body.includes('fill="url(#aa-hatch)"'), row.impl).toBe(aa);
      expect(/>A\/A<\/text>/.test(row.body), row.impl).toBe(aa);
      expect(row.body.includes('font-style="italic"'), row.impl).toBe(aa);
      // No palette colour on the A/A row; the others keep theirs (C blue, sockfd red, in every chart).
      if (aa) expect(row.body).not.toMatch(/#1f77b4|#d62728|#2ca02c|#9467bd|#ff7f0e|#8c564b/);
      else expect(row.body).toContain(row.impl === 'C' ? '#1f77b4' : '#d62728');
    }
    // The pattern is defined once, and each chart's legend says what the hatch means.
    expect(svg.match(/<pattern id="aa-hatch"/g)).toHaveLength(1);
    expect(svg.match(/grey hatched, A\/A: the reference against itself/g)).toHaveLength(2);
  });
});

describe('markdown', () => {
  it('one table per kind with the machine, the mode and the targets', () => {
    const text = reportToMarkdown(sampleReport());
    expect(text).toContain('Machine: Test CPU, 2 CPUs, Test OS, kernel 6.0, Node v20.0.0');
    expect(text).toContain('Mode: pinned: both ends of every run on CPU 1');
    expect(text).toContain('`sockfd bench sample`');
    expect(text).toContain('| case | impl | median | p99 | min | max | sockfd/C | sockfd/net |');
    expect(text).toContain('| case | impl | median MB/s | min | max | sockfd/C | sockfd/net |');
    expect(text).toMatch(/\| 4 KiB chunks <&> \| sockfd \| 2,025 MB\/s \| 1,350 MB\/s \| 2,700 MB\/s \| 0\.90x \[0\.90-0\.90\] \| 2\.70x \[2\.70-2\.70\] \|/);
    expect(text).toContain('**undecided** (median');
  });

  it('a failed benchmark shows its error instead of tables', () => {
    const report = sampleReport();
    report.benchmarks = [{ ...sampleResult(), title: 'sample: FAILED', cases: [], error: 'server crashed' }];
    expect(reportToMarkdown(report)).toContain('server crashed');
    expect(renderBenchResult(report.benchmarks[0]!)).toContain('server crashed');
    expectBalancedMarkup(reportToSvg(report));
  });
});

describe('json', () => {
  it('keeps the report with a format number and rounds fractions to 6 significant digits', () => {
    const report = sampleReport();
    const parsed = JSON.parse(reportToJson(report)) as Report & { format: number };
    expect(parsed.format).toBe(REPORT_FORMAT);
    expect(parsed.machine).toEqual(report.machine);
    expect(parsed.benchmarks[0]!.cases).toHaveLength(2);
    const ratio = parsed.benchmarks[0]!.cases[1]!.ratios[0]!.median;
    expect(ratio).toBe(0.9);
    expect(parsed.mode).toEqual({ pinned: true, cpu: 1, description: report.mode.description });
  });
});

describe('machine and pinning', () => {
  it('parses CPU lists', () => {
    expect(parseCpuList('0-2,5')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('3')).toEqual([3]);
    expect(() => parseCpuList('a-b')).toThrow(RangeError);
    expect(allowedCpus().length).toBeGreaterThan(0);
  });

  it('says which mode was used', () => {
    expect(describePinning(null)).toMatchObject({ pinned: false });
    expect(describePinning(null).description).toMatch(/^unpinned/);
    expect(describePinning({ cpu: 3 })).toMatchObject({ pinned: true, cpu: 3 });
    expect(describePinning({ cpu: 3 }).description).toContain('taskset -c 3');
  });
});

describe('arguments', () => {
  const known = ['connect', 'pingpong'];

  it('names, all, scales, --pin, --json and --svg in both spellings', () => {
    expect(parseBenchArgs(['all', '--quick'], known)).toEqual({ names: known, scale: 'quick', pin: undefined });
    expect(parseBenchArgs(['pingpong', '--pin', '--json', 'a.json', '--svg=b.svg'], known)).toEqual({
      names: ['pingpong'],
      scale: 'full',
      pin: null,
      json: 'a.json',
      svg: 'b.svg',
    });
    expect(parseBenchArgs(['pingpong', 'pingpong', '--pin=1', '--smoke'], known)).toEqual({ names: ['pingpong'], scale: 'smoke', pin: 1 });
  });

  it('refuses what it does not know', () => {
    for (const argv of [[], ['nope'], ['pingpong', '--json'], ['pingpong', '--pin=x'], ['pingpong', '--fast']])
      expect(() => parseBenchArgs(argv, known), argv.join(' ')).toThrow(UsageError);
  });
});

describe('processes', () => {
  it('parseRunOutput takes the last JSON object line', () => {
    expect(parseRunOutput('port 5\nnoise\n{"ops":1}\n{"ops":2,"ns":3}\n', 'x')).toEqual({ ops: 2, ns: 3 });
    expect(() => parseRunOutput('nothing\n', 'x')).toThrow(/no JSON result/);
  });

  it('a server that dies before announcing its port is reported with its stderr', async () => {
    const server = { file: process.execPath, args: ['-e', 'console.error("boom from the server"); process.exit(3)'], label: 'dying server' };
    const client = () => ({ file: process.execPath, args: ['-e', ''], label: 'client' });
    await expect(runPair(server, client, null, { startMs: 10_000 })).rejects.toThrow(/dying server ended before it announced a port[\s\S]*boom from the server/);
  });

  it('a client that fails is reported with its exit status and stderr; the server is stopped', async () => {
    const server = { file: process.execPath, args: ['-e', 'console.log("port 1"); setTimeout(() => {}, 60000)'], label: 'idle server' };
    const client = () => ({ file: process.execPath, args: ['-e', 'console.error("client trouble"); process.exit(4)'], label: 'bad client' });
    await expect(runPair(server, client, null)).rejects.toThrow(/bad client failed \(exit status 4\)[\s\S]*client trouble/);
  });
});

// The CLI runs from dist/: `npx tsc -p .` first (npm test does it in pretest).
describe('sockfd bench (smoke runs at the smallest sizes)', () => {
  const sockfd = join(root, 'bin', 'sockfd.js');
  const run = (args: string[]) => execFileAsync(process.execPath, [sockfd, 'bench', ...args], { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 });

  it('--help lists every benchmark module in bench/', async () => {
    const modules = readdirSync(join(root, 'bench'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.slice(0, -3));
    expect(modules).toContain('pingpong');
    const { stdout } = await run(['--help']);
    for (const name of modules) expect(stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
    expect(stdout).not.toContain('cannot load');
  });

  it('an unknown benchmark is a usage error (exit 2)', async () => {
    await expect(run(['no-such-benchmark'])).rejects.toMatchObject({ code: 2 });
  });

  it('pingpong --smoke: a table on stdout, a JSON report and an SVG chart of the right shape', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-test-'));
    try {
      const json = join(dir, 'r.json');
      const svg = join(dir, 'r.svg');
      const { stdout } = await run(['pingpong', '--smoke', '--json', json, '--svg', svg]);
      expect(stdout).toMatch(/^machine: .+ CPUs; .*kernel .*Node v\d+/m);
      expect(stdout).toMatch(/^mode: unpinned/m);
      expect(stdout).toMatch(/case\s+impl\s+median\s+p99\s+min\s+max\s+runs\s+sockfd\/C\s+sockfd\/net/);
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report & { format: number };
      expect(report.format).toBe(REPORT_FORMAT);
      expect(report).toMatchObject({ tool: 'sockfd bench', scale: 'smoke', quick: true, mode: { pinned: false } });
      expect(report.machine.node).toBe(process.version);
      expect(report.machine.cpus).toBeGreaterThan(0);
      expect(report.benchmarks.map((b) => b.name)).toEqual(['pingpong']);
      const [bench] = report.benchmarks;
      const [only] = bench!.cases;
      const rounds = Number(bench!.parameters.rounds);
      const runs = Number(bench!.parameters.runs);
      const python = hasPython() ? ['Python'] : [];
      expect(only!.impls.map((i) => i.impl)).toEqual(['C', 'sockfd', 'net', ...python]);
      for (const impl of only!.impls) {
        expect(impl.runs).toHaveLength(runs);
        expect(impl.summary.count).toBe(rounds * runs);
        expect(impl.summary.min).toBeGreaterThan(0);
        expect(impl.summary.min).toBeLessThanOrEqual(impl.summary.median);
        expect(impl.summary.median).toBeLessThanOrEqual(impl.summary.max);
        expect(impl.distribution).toHaveLength(101);
      }
      expect(only!.ratios.map((r) => `${r.subject}/${r.reference}`)).toEqual(['sockfd/C', 'sockfd/net', ...python.map((p) => `sockfd/${p}`)]);
      for (const ratio of only!.ratios) expect(ratio.pairs).toHaveLength(runs);
      expect(only!.targets).toHaveLength(1);
      const chart = readFileSync(svg, 'utf8');
      expect(chart.startsWith('<svg')).toBe(true);
      expectBalancedMarkup(chart);
      expect(chart).toContain('pingpong');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connect --smoke --pin: every run on one CPU, and the report says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-test-'));
    try {
      const json = join(dir, 'r.json');
      const { stdout } = await run(['connect', '--smoke', '--pin', '--json', json]);
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      expect(report.mode.pinned).toBe(true);
      expect(allowedCpus()).toContain(report.mode.cpu);
      expect(stdout).toContain(`mode: pinned: both ends of every run on CPU ${report.mode.cpu}`);
      const [only] = report.benchmarks[0]!.cases;
      expect(only).toMatchObject({ kind: 'rate', unit: 'ops/s' });
      expect(only!.impls.map((i) => i.impl)).toEqual(['C', 'sockfd', 'net', ...(hasPython() ? ['Python'] : [])]);
      for (const impl of only!.impls) expect(impl.summary.median).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fork --smoke: the C twin has the Node process\'s size, and fork() and the whole round are separate cases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-test-'));
    try {
      const json = join(dir, 'r.json');
      await run(['fork', '--smoke', '--json', json]);
      const [bench] = (JSON.parse(readFileSync(json, 'utf8')) as Report).benchmarks;
      expect(bench!.error).toBeUndefined();
      expect(bench!.cases.map((c) => c.name)).toEqual([
        'fork() + _exit, small heap',
        'fork() + _exit, small heap: whole round',
        'fork() + _exit, 16 MiB heap',
        'fork() + _exit, 16 MiB heap: whole round',
        'fork-per-connection server',
      ]);
      for (const c of bench!.cases) expect(c.impls.map((i) => i.impl)).toEqual(['C', 'C twin', 'sockfd']);
      // The notes give both shapes, read from /proc of each process: the twin must match Node's.
      const shapes = bench!.notes.filter((n) => n.includes('its C twin'));
      expect(shapes).toHaveLength(2);
      for (const note of shapes) {
        const numbers = [...note.matchAll(/(\d+) (?:MiB anon|MiB file|mappings|threads|KiB page tables)/g)].map((m) => Number(m[1]));
        expect(numbers).toHaveLength(10);
        const [node, twin] = [numbers.slice(0, 5), numbers.slice(5)];
        expect(twin[3]).toBe(node[3]); // threads
        for (const i of [0, 1, 2, 4]) expect(Math.abs(twin[i]! - node[i]!)).toBeLessThanOrEqual(Math.max(2, node[i]! * 0.15));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('async-echo --smoke: the C epoll server, sockfd, net (and Python asyncio) against one C client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-test-'));
    try {
      const json = join(dir, 'r.json');
      await run(['async-echo', '--smoke', '--json', json]);
      const [bench] = (JSON.parse(readFileSync(json, 'utf8')) as Report).benchmarks;
      expect(bench!.error).toBeUndefined();
      const serverOnly = bench!.cases.find((c) => c.name.endsWith('server only: requests/s'));
      expect(serverOnly!.impls.map((i) => i.impl)).toEqual(expect.arrayContaining(['C epoll', 'sockfd', 'sockfd try-first', 'sockfd readiness', 'net', ...(hasPython() ? ['Python asyncio'] : [])]));
      for (const impl of serverOnly!.impls) expect(impl.summary.median).toBeGreaterThan(0);
      expect(serverOnly!.targets.map((t) => [t.subject, t.reference])).toEqual([['sockfd', 'C epoll'], ['sockfd', 'net'], ['sockfd readiness', 'C epoll']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('noise accounting (bench/harness/noise.ts)', () => {
  it("counts a run's switches and CPU time exactly (getrusage RUSAGE_CHILDREN): two busy programs on one CPU, each reporting its own from /proc", async () => {
    const cpu = allowedCpus().at(-1)!;
    // Busy for 300 ms (sharing one CPU, both are preempted), then, once its stdin ends, each
    // prints the switches of all its threads and its CPU ticks from /proc (the reference)
    // and exits at once.
    const busy = `const fs = require('fs'); const t = Date.now(); while (Date.now() - t < 300);
      console.log('busy');
      process.stdin.resume().on('end', () => {
        let voluntary = 0, involuntary = 0;
        for (const tid of fs.readdirSync('/proc/self/task')) {
          const status = fs.readFileSync('/proc/self/task/' + tid + '/status', 'utf8');
          voluntary += Number(/^voluntary_ctxt_switches:\\s*(\\d+)/m.exec(status)[1]);
          involuntary += Number(/^nonvoluntary_ctxt_switches:\\s*(\\d+)/m.exec(status)[1]);
        }
        const stat = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
        fs.writeSync(1, JSON.stringify({ voluntary, involuntary, ticks: Number(stat[11]) + Number(stat[12]) }) + '\\n');
        process.reallyExit(0);
      });`;
    const recorder = startRunNoise();
    const children = [0, 1].map(() => {
      // As processes.ts does: taskset execs the program (same pid); the run tracks its end.
      const child = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', busy], { stdio: ['pipe', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        if (stdout.startsWith('busy\n')) child.stdin.end();
      });
      const ended = new Promise<string>((resolve, reject) => child.once('close', () => resolve(stdout)).once('error', reject));
      trackProcess(ended);
      return ended;
    });
    const reported = (await Promise.all(children)).map((out) => JSON.parse(out.split('\n')[1]!) as { voluntary: number; involuntary: number; ticks: number });
    const noise = await stopRunNoise(recorder);
    expect(noise).toMatchObject({ processes: 2, unreaped: 0 });
    const sum = (key: 'voluntary' | 'involuntary' | 'ticks') => reported[0]![key] + reported[1]![key];
    expect(sum('involuntary')).toBeGreaterThan(0);
    // All they counted, plus only their exits (no sampling gap, nobody else's counts).
    expect(noise.involuntarySwitches).toBeGreaterThanOrEqual(sum('involuntary'));
    expect(noise.involuntarySwitches).toBeLessThanOrEqual(sum('involuntary') + 100);
    expect(noise.voluntarySwitches).toBeGreaterThanOrEqual(sum('voluntary'));
    expect(noise.voluntarySwitches).toBeLessThanOrEqual(sum('voluntary') + 100);
    const tick = 1 / Number((await promisify(execFile)('getconf', ['CLK_TCK'])).stdout);
    expect(noise.cpuSeconds).toBeGreaterThanOrEqual((sum('ticks') - 2) * tick);
    expect(noise.cpuSeconds).toBeLessThanOrEqual((sum('ticks') + 2) * tick + 0.1);
    expect(noise.stealPercent).toBeGreaterThanOrEqual(0);
    expect(noise.stealPercent).toBeLessThanOrEqual(100);
    expect(Number.isFinite(noise.loadStart) && Number.isFinite(noise.loadEnd)).toBe(true);
    // A run started now counts nothing of the last one.
    expect(await stopRunNoise(startRunNoise())).toMatchObject({ involuntarySwitches: 0, voluntarySwitches: 0, cpuSeconds: 0, processes: 0, unreaped: 0 });
  });

  it('the table says how noisy the runs were, in one line', () => {
    const result = sampleResult();
    result.cases[0]!.impls[0]!.noise = [
      { stealPercent: 0.5, loadStart: 1.5, loadEnd: 2.25, involuntarySwitches: 40, voluntarySwitches: 9, cpuSeconds: 1, processes: 2, unreaped: 0 },
      { stealPercent: 2, loadStart: 3, loadEnd: 6.5, involuntarySwitches: 900, voluntarySwitches: 9, cpuSeconds: 1, processes: 2, unreaped: 0 },
      { stealPercent: 0, loadStart: 2, loadEnd: 2, involuntarySwitches: 10, voluntarySwitches: 9, cpuSeconds: 1, processes: 2, unreaped: 0 },
    ];
    const line = 'noise over 3 runs: load 1.50-6.50; steal at most 2.0%; involuntary context switches per run median 40, max 900';
    expect(renderBenchResult(result)).toContain(`${line}\n`);
    result.cases[0]!.impls[0]!.noise[1]!.unreaped = 1;
    expect(renderBenchResult(result)).toContain(`${line} (1 of them a lower bound: a process outlived its run)`);
    expect(renderBenchResult(sampleResult())).not.toContain('noise over');
  });
});
