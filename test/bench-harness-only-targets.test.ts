// `sockfd bench --only-targets`: every case runs only the implementations a
// target or the A/A control compares (sockfd, the target's reference, net
// where a target is against net, the A/A copy), so a round is shorter and a
// pair's two runs are closer in time. What is checked: which implementations
// run (and in which order), that the ratios and verdicts kept are the ones a
// whole run computes from the same runs, that a case with no target is not
// measured at all, that the notes and the JSON say what was left out, that
// --combine refuses sets that ran other implementations, the option's usage
// errors, and a real --smoke run of pingpong, fork and async-echo.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { controlName, type BenchResult, type CaseSpec, type Report, type RunOutput } from '../bench/harness/model.js';
import { measureCase, measuredSpec, onlyTargets, type BenchContext, type Benchmark } from '../bench/harness/harness.js';
import { runBenchmarks } from '../bench/harness/run.js';
import { reportToJson } from '../bench/harness/json.js';
import { combineReports } from '../bench/harness/combine.js';
import { madeUpReport } from './helpers/bench-reports.js';
import { parseBenchArgs, command as benchCommand } from '../cli/commands/bench.js';
import { UsageError } from '../tools/usage-error.js';

const root = join(import.meta.dirname, '..');
const AA = controlName('C');
const quiet = { log: () => undefined } as const;

const pingpongLike: CaseSpec = {
  name: '1-byte round trip',
  kind: 'latency',
  impls: ['C', 'C+threads', 'sockfd', 'net', 'Python'],
  targets: [{ subject: 'sockfd', reference: 'C', ratio: 1.03 }],
  control: 'C',
};
const echoServerOnly: CaseSpec = {
  name: 'echo, server only: requests/s',
  kind: 'rate',
  impls: ['C epoll', 'sockfd', 'sockfd try-first', 'sockfd readiness', 'net', 'Python asyncio'],
  alsoSubjects: ['sockfd try-first', 'sockfd readiness'],
  targets: [
    { subject: 'sockfd', reference: 'C epoll', ratio: 0.85 },
    { subject: 'sockfd', reference: 'net', ratio: 1 },
    { subject: 'sockfd readiness', reference: 'C epoll', ratio: 0.85 },
  ],
  control: 'C epoll',
};
const echoBothEnds: CaseSpec = {
  name: 'echo, both ends: requests/s',
  kind: 'rate',
  impls: ['C epoll', 'sockfd', 'net'],
  targets: [{ subject: 'sockfd', reference: 'net', ratio: 1 }],
  control: 'C epoll',
};

describe('which implementations an --only-targets case runs', () => {
  it('sockfd and its target\'s reference; with --control the control and its A/A copy right after sockfd; the rest in leftOut', () => {
    expect(onlyTargets(pingpongLike, false)).toMatchObject({ impls: ['C', 'sockfd'], leftOut: ['C+threads', 'net', 'Python'] });
    const both = measuredSpec({ onlyTargets: true, control: true }, pingpongLike);
    expect(both.impls).toEqual(['C', 'sockfd', AA]);
    expect(both.leftOut).toEqual(['C+threads', 'net', 'Python']);
    expect(both.control).toBe('C');
    // Without the option: every implementation, no leftOut (the whole run as before).
    const whole = measuredSpec({ control: true }, pingpongLike);
    expect(whole.impls).toEqual(['C', 'C+threads', 'sockfd', AA, 'net', 'Python']);
    expect(whole.leftOut).toBeUndefined();
  });

  it('async-echo: net stays where a target is against net, readiness stays as a subject with a target, try-first and Python leave', () => {
    const serverOnly = measuredSpec({ onlyTargets: true, control: true }, echoServerOnly);
    expect(serverOnly.impls).toEqual(['C epoll', 'sockfd', controlName('C epoll'), 'sockfd readiness', 'net']);
    expect(serverOnly.alsoSubjects).toEqual(['sockfd readiness']);
    expect(serverOnly.leftOut).toEqual(['sockfd try-first', 'Python asyncio']);
    // Both ends: the target is against net; C epoll runs only for the control.
    expect(measuredSpec({ onlyTargets: true }, echoBothEnds).impls).toEqual(['sockfd', 'net']);
    expect(measuredSpec({ onlyTargets: true, control: true }, echoBothEnds).impls).toEqual(['C epoll', 'sockfd', controlName('C epoll'), 'net']);
  });

  it('a case with no target is left out whole, even if it names a control; measuredSpec twice is measuredSpec once', () => {
    const noTarget: CaseSpec = { name: 'fork() + _exit, 512 MiB heap', kind: 'latency', impls: ['C', 'C twin', 'sockfd'], targets: [], control: 'C twin' };
    for (const control of [false, true]) {
      const out = measuredSpec({ onlyTargets: true, control }, noTarget);
      expect(out.impls).toEqual([]);
      expect(out.leftOut).toEqual(['C', 'C twin', 'sockfd']);
    }
    for (const context of [{ onlyTargets: true, control: true }, { onlyTargets: true }, { control: true }, {}])
      for (const spec of [pingpongLike, echoServerOnly, echoBothEnds, noTarget]) {
        const once = measuredSpec(context, spec);
        expect(measuredSpec(context, once), `${spec.name} ${JSON.stringify(context)}`).toEqual(once);
      }
  });
});

/** Fixed speeds per implementation, with a run-to-run drift, so that ratios differ pair by pair. */
function speeds(): (impl: string, warmup: boolean, recordedAs: string) => Promise<RunOutput> {
  const base: Record<string, number> = { C: 4000, 'C+threads': 3900, sockfd: 3800, net: 1500, Python: 1200 };
  const seen = new Map<string, number>();
  return async (impl, warmup, recordedAs) => {
    if (warmup) return { bytes: 1e6, ns: 1e9 };
    const n = (seen.get(recordedAs) ?? 0) + 1;
    seen.set(recordedAs, n);
    return { bytes: (base[impl]! + 37 * ((n * 7) % 5)) * 1e6, ns: 1e9 };
  };
}

describe('measureCase --only-targets', () => {
  const throughputSpec: CaseSpec = { ...pingpongLike, name: '4 KiB chunks', kind: 'throughput', targets: [{ subject: 'sockfd', reference: 'C', ratio: 0.95 }] };

  it('runs only the kept implementations, interleaved and warmed up as before, and its ratios and verdicts are the whole run\'s', async () => {
    const calls: string[] = [];
    const runOnce = speeds();
    const logged = (impl: string, warmup: boolean, recordedAs: string) => {
      calls.push(`${recordedAs}${warmup ? ' warm-up' : ''}`);
      return runOnce(impl, warmup, recordedAs);
    };
    const kept = await measureCase({ ...quiet, control: true, onlyTargets: true } as unknown as BenchContext, throughputSpec, { runs: 6, runOnce: logged });
    const round = ['C', 'sockfd', AA];
    expect(calls).toEqual(['C warm-up', 'sockfd warm-up', ...Array.from({ length: 6 }, () => round).flat()]);
    expect(kept.impls.map((i) => i.impl)).toEqual(round);
    expect(kept.leftOut).toEqual(['C+threads', 'net', 'Python']);
    // The same runs in a whole case give the same sockfd/C and A/A ratios, intervals and verdicts.
    const whole = await measureCase({ ...quiet, control: true } as unknown as BenchContext, throughputSpec, { runs: 6, runOnce: speeds() });
    expect(whole.impls.map((i) => i.impl)).toEqual(['C', 'C+threads', 'sockfd', AA, 'net', 'Python']);
    expect(whole.leftOut).toBeUndefined();
    const pick = (c: typeof kept, subject: string, reference: string) => c.ratios.find((r) => r.subject === subject && r.reference === reference)!;
    for (const [subject, reference] of [['sockfd', 'C'], [AA, 'C']] as const) expect(pick(kept, subject, reference)).toEqual(pick(whole, subject, reference));
    expect(kept.ratios.map((r) => `${r.subject}/${r.reference}`)).toEqual(['sockfd/C', `${AA}/C`]);
    expect(kept.targets).toEqual(whole.targets);
    expect(kept.control).toEqual(whole.control);
    expect(kept.targets[0]!.verdict).toBe('met');
  });

  it('a case with no target runs nothing and comes back empty with everything in leftOut', async () => {
    let called = 0;
    const result = await measureCase(
      { ...quiet, onlyTargets: true } as unknown as BenchContext,
      { name: 'no goal', kind: 'rate', impls: ['C', 'sockfd'] },
      { runs: 3, runOnce: async () => (called++, { ops: 1, ns: 1 }) },
    );
    expect(called).toBe(0);
    expect(result).toMatchObject({ name: 'no goal', impls: [], ratios: [], targets: [], leftOut: ['C', 'sockfd'] });
  });
});

describe('the runner, the JSON and --combine', () => {
  const fake: Benchmark = {
    name: 'fake',
    summary: 'a made-up benchmark',
    cPrograms: [],
    peers: {},
    async run(context) {
      const runOnce = speeds();
      const cases = [
        await measureCase(context, { ...pingpongLike, kind: 'throughput', name: 'with a target', targets: [{ subject: 'sockfd', reference: 'C', ratio: 0.95 }] }, { runs: 2, runOnce }),
        await measureCase(context, { name: 'without one', kind: 'throughput', impls: ['C', 'sockfd'] }, { runs: 2, runOnce }),
      ];
      return { title: 'fake', description: 'fake', parameters: {}, cases, notes: [], ...(context.onlyTargets ? { leftOutCases: ['skipped by the benchmark'] } : {}) };
    },
  };

  it('drops the empty cases into leftOutCases, says what was left out in a note, and marks the report', async () => {
    const report = await runBenchmarks([fake], { scale: 'smoke', pin: null, onlyTargets: true, control: true, command: 'sockfd bench fake --only-targets' });
    expect(report.onlyTargets).toBe(true);
    const [bench] = report.benchmarks as [BenchResult];
    expect(bench.error).toBeUndefined();
    expect(bench.cases.map((c) => c.name)).toEqual(['with a target']);
    expect(bench.leftOutCases).toEqual(['skipped by the benchmark', 'without one']);
    expect(bench.notes).toContain(
      '--only-targets: left out C+threads, net, Python (with a target); not measured at all (no target there): skipped by the benchmark; without one: only the implementations a target or the A/A control compares ran, so the rounds are shorter; the ratios kept mean what they mean in a whole run',
    );
    const json = JSON.parse(reportToJson(report)) as Report & { format: number };
    expect(json.format).toBe(2);
    expect(json.onlyTargets).toBe(true);
    expect(json.benchmarks[0]!.cases[0]!.leftOut).toEqual(['C+threads', 'net', 'Python']);
    expect(json.benchmarks[0]!.leftOutCases).toEqual(['skipped by the benchmark', 'without one']);
    // Without the option: no mark, every case and implementation.
    const whole = await runBenchmarks([fake], { scale: 'smoke', pin: null, command: 'sockfd bench fake' });
    expect(whole.onlyTargets).toBeUndefined();
    expect(whole.benchmarks[0]!.cases.map((c) => [c.name, c.impls.length, c.leftOut])).toEqual([
      ['with a target', 5, undefined],
      ['without one', 2, undefined],
    ]);
    expect(whole.benchmarks[0]!.notes.some((n) => n.startsWith('--only-targets'))).toBe(false);
  });

  it('--combine refuses a set run with --only-targets beside one without, and sets whose cases ran other implementations', async () => {
    const kept = await runBenchmarks([fake], { scale: 'full', pin: null, onlyTargets: true, command: 'a' });
    const kept2 = await runBenchmarks([fake], { scale: 'full', pin: null, onlyTargets: true, control: true, command: 'b' });
    const whole = await runBenchmarks([fake], { scale: 'full', pin: null, command: 'c' });
    expect(() => combineReports([{ file: 'kept.json', report: kept }, { file: 'whole.json', report: whole }])).toThrow(
      'whole.json was run without --only-targets, kept.json with: only sets that ran the same implementations combine',
    );
    // Two --only-targets sets, one with the A/A copy: they combine (the copy only adds its own ratio).
    const pooled = combineReports([{ file: 'kept.json', report: kept }, { file: 'kept2.json', report: kept2 }]);
    expect(pooled.cases[0]!.ratios.find((r) => r.subject === 'sockfd' && r.reference === 'C')!.pairs).toHaveLength(4);
    // The same option but another implementation list (python3 missing on one machine, say): refused, with the lists.
    const fewer = structuredClone(whole);
    fewer.benchmarks[0]!.cases[0]!.impls = fewer.benchmarks[0]!.cases[0]!.impls.filter((i) => i.impl !== 'Python');
    expect(() => combineReports([{ file: 'whole.json', report: whole }, { file: 'fewer.json', report: fewer }])).toThrow(
      'fake with a target: fewer.json ran C, C+threads, sockfd, net, whole.json ran C, C+threads, sockfd, net, Python: only sets that ran the same implementations combine',
    );
    // Made-up reports of the same implementations still combine as before.
    expect(() => combineReports([{ file: 'x', report: madeUpReport(whole.benchmarks) }, { file: 'y', report: madeUpReport(whole.benchmarks) }])).not.toThrow();
  });
});

describe('sockfd bench --only-targets', () => {
  it('parses as a flag, refuses a value (usage error) and is in the help', () => {
    expect(parseBenchArgs(['pingpong', '--only-targets'], ['pingpong']).onlyTargets).toBe(true);
    expect(parseBenchArgs(['pingpong'], ['pingpong']).onlyTargets).toBeUndefined();
    expect(() => parseBenchArgs(['pingpong', '--only-targets=yes'], ['pingpong'])).toThrow(UsageError);
    expect(benchCommand.usage).toMatch(/--only-targets run in every case only what a target or the A\/A control compares/);
  });

  it('a real pingpong, fork and async-echo --smoke --only-targets --control --runs 2: the kept rows only, and the report says what did not run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-only-targets-'));
    try {
      const json = join(dir, 'report.json');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(root, 'bin', 'sockfd.js'), 'bench', 'pingpong', 'fork', 'async-echo', '--smoke', '--only-targets', '--control', '--runs', '2', '--json', json],
        { timeout: 150_000, encoding: 'utf8' },
      );
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      expect(report.onlyTargets).toBe(true);
      const rows = Object.fromEntries(report.benchmarks.flatMap((b) => b.cases.map((c) => [`${b.name}: ${c.name}`, c.impls.map((i) => `${i.impl} ${i.runs.length}`)])));
      const echo = ['C epoll 2', 'sockfd 2', 'C epoll (A/A) 2', 'net 2'];
      expect(rows).toEqual({
        'pingpong: 1-byte round trip': ['C 2', 'sockfd 2', 'C (A/A) 2'],
        'fork: fork() + _exit, small heap': ['C twin 2', 'sockfd 2', 'C twin (A/A) 2'],
        'fork: fork() + _exit, small heap: whole round': ['C twin 2', 'sockfd 2', 'C twin (A/A) 2'],
        'fork: fork-per-connection server': ['C twin 2', 'sockfd 2', 'C twin (A/A) 2'],
        'async-echo: echo, 100 clients, both ends: requests/s': echo,
        'async-echo: echo, 100 clients, both ends: round trip': echo,
        'async-echo: echo, 100 clients, server only: requests/s': ['C epoll 2', 'sockfd 2', 'C epoll (A/A) 2', 'sockfd readiness 2', 'net 2'],
        'async-echo: echo, 100 clients, server only: round trip': ['C epoll 2', 'sockfd 2', 'C epoll (A/A) 2', 'sockfd readiness 2', 'net 2'],
      });
      const fork = report.benchmarks.find((b) => b.name === 'fork')!;
      expect(fork.leftOutCases).toEqual(['fork() + _exit, 16 MiB heap', 'fork() + _exit, 16 MiB heap: whole round']);
      expect(fork.cases.every((c) => c.leftOut?.join() === 'C')).toBe(true);
      // fork's A/A row (the C twin against itself) in each of its cases, compared with its original only
      // (the whole --control run of test/bench-harness-control leaves fork out: it would run past its bound at load).
      for (const c of fork.cases) {
        expect(c.control, c.name).toMatchObject({ impl: 'C twin (A/A)', reference: 'C twin', verdict: 'undecided' });
        expect(c.ratios.filter((r) => r.control).map((r) => `${r.subject}/${r.reference}`)).toEqual(['C twin (A/A)/C twin']);
        expect(stdout).toContain(`control for ${c.name}: C twin (A/A)/C twin `);
      }
      // Every target the whole run has is still there, decided from the same pairs it would be.
      const targets = report.benchmarks.flatMap((b) => b.cases.flatMap((c) => c.targets.map((t) => `${t.subject}/${t.reference}`)));
      expect(targets).toEqual(['sockfd/C', 'sockfd/C twin', 'sockfd/C twin', 'sockfd/net', 'sockfd/C epoll', 'sockfd/net', 'sockfd readiness/C epoll']);
      for (const b of report.benchmarks) expect(b.notes.some((n) => n.startsWith('--only-targets: left out ')), b.name).toBe(true);
      expect(stdout).toContain('note: --only-targets: left out ');
      expect(stdout).not.toMatch(/^\s+(Python|C\+threads|sockfd try-first|Python asyncio)\s/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
