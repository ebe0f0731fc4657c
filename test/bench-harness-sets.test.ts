// `sockfd bench NAMES... --sets K --out DIR`: the quiet run as one command.
// What is checked: the order of the sets (pinned and unpinned alternating),
// the usage errors, a real --smoke run of 2 sets a mode (every file there,
// each set's JSON in its mode and in the order run, and each mode's pooled
// JSON, text and Markdown checked against the per-set JSONs, which the
// benchmarks wrote, with this file's own median and sign-test interval),
// and that Ctrl+C stops every process of the run (the kernel's process
// group as the reference) and pools nothing.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSets } from '../bench/harness/sets.js';
import type { CombinedReport } from '../bench/harness/combine.js';
import type { Report } from '../bench/harness/model.js';
import { parseBenchArgs } from '../cli/commands/bench.js';
import { UsageError } from '../tools/usage-error.js';
import { startCli } from '../tools/processes.js';
import { until } from '../tools/until.js';

const known = ['pingpong', 'connect'];

describe('--sets: the plan and the usage errors', () => {
  it('alternates pinned and unpinned, pinned first, K of each', () => {
    expect(planSets(3).map((s) => `${s.index}:${s.mode}-${s.nth}`)).toEqual(['1:pinned-1', '2:unpinned-1', '3:pinned-2', '4:unpinned-2', '5:pinned-3', '6:unpinned-3']);
    expect(() => planSets(1)).toThrow(RangeError);
  });

  it('parses --sets K --out DIR (and --pin=CPU for the pinned sets); refuses what the sets choose themselves', () => {
    expect(parseBenchArgs(['pingpong', '--sets', '2', '--out', 'd'], known)).toMatchObject({ sets: 2, out: 'd', pin: undefined });
    expect(parseBenchArgs(['pingpong', '--sets=4', '--out=d', '--pin=0'], known)).toMatchObject({ sets: 4, out: 'd', pin: 0 });
    const refused: [string[], RegExp][] = [
      [['pingpong', '--sets', '2'], /--sets K needs --out DIR/],
      [['pingpong', '--out', 'd'], /--out DIR goes with --sets K/],
      [['pingpong', '--sets', '1', '--out', 'd'], /--sets needs a whole number of sets a mode from 2 to 50, got '1'/],
      [['pingpong', '--sets', '51', '--out', 'd'], /from 2 to 50, got '51'/],
      [['pingpong', '--sets', 'x', '--out', 'd'], /got 'x'/],
      [['pingpong', '--sets', '2', '--out'], /--out needs a directory/],
      [['pingpong', '--sets', '2', '--out', 'd', '--pin'], /alternates pinned and unpinned sets itself: leave out --pin/],
      [['pingpong', '--sets', '2', '--out', 'd', '--json', 'x.json'], /leave out --json/],
      [['pingpong', '--sets', '2', '--out', 'd', '--svg', 'x.svg'], /leave out --svg/],
    ];
    for (const [argv, message] of refused) {
      expect(() => parseBenchArgs(argv, known), argv.join(' ')).toThrow(UsageError);
      expect(() => parseBenchArgs(argv, known), argv.join(' ')).toThrow(message);
    }
  });

  it('the CLI: a usage error exits 2 with the message and the usage; a directory holding a file of a run exits 1, and runs nothing', async () => {
    const usage = await startCli(['bench', 'pingpong', '--sets', '2']).end();
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--sets K needs --out DIR');
    expect(usage.stderr).toContain('usage: sockfd bench');
    expect(usage.stderr).not.toMatch(/\bat .*\.[jt]s:\d+:\d+/); // no stack trace
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-sets-'));
    try {
      writeFileSync(join(dir, 'unpinned-2.json'), '{}');
      const taken = await startCli(['bench', 'pingpong', '--smoke', '--sets', '2', '--out', dir]).end(60_000);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toBe(`sockfd bench: ${dir} already holds ${join(dir, 'unpinned-2.json')} of a run: give another --out\n`);
      expect(readdirSync(dir)).toEqual(['unpinned-2.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

/** The median as any textbook computes it (the mean of the middle two for an even count). */
function textbookMedian(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The sign-test interval of the median, with exact integer binomials (BigInt): the largest k with
 * 1 - 2 * sum_{i<k} C(n,i) / 2^n >= 0.95 and 2k <= n + 1, else k = 1; returns [X(k), X(n+1-k)] and its coverage.
 */
function signTestInterval(values: readonly number[]): { low: number; high: number; coverage: number } {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const choose: bigint[] = [1n];
  for (let i = 1; i <= n; i++) choose.push((choose[i - 1]! * BigInt(n - i + 1)) / BigInt(i));
  const total = 2n ** BigInt(n);
  const coverage = (k: number) => 1 - (2 * Number(choose.slice(0, k).reduce((a, b) => a + b, 0n))) / Number(total);
  let k = 1;
  while (2 * (k + 1) <= n + 1 && coverage(k + 1) >= 0.95) k++;
  return { low: s[k - 1]!, high: s[n - k]!, coverage: coverage(k) };
}

describe('a real --smoke run of 2 sets a mode', () => {
  it('writes every set\'s files and each mode\'s pool, and the pool is the per-set JSONs\' pairs, pooled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-sets-'));
    try {
      const out = join(dir, 'run');
      const run = await startCli(['bench', 'pingpong', 'connect', '--smoke', '--runs', '3', '--control', '--only-targets', '--sets', '2', '--out', out]).end(240_000);
      expect(run.code, run.stderr).toBe(0);
      const sets = ['pinned-1', 'pinned-2', 'unpinned-1', 'unpinned-2'];
      const expected = [...sets.flatMap((s) => ['json', 'md', 'svg', 'txt'].map((ext) => `${s}.${ext}`)), ...['pinned', 'unpinned'].flatMap((m) => ['json', 'md', 'txt'].map((ext) => `${m}-pooled.${ext}`))];
      expect(readdirSync(out).sort()).toEqual(expected.sort());
      // Progress on stderr, one start and one end line a set, in the alternating order.
      const starts = [...run.stderr.matchAll(/^sockfd bench: set (\d)\/4 \((pinned|unpinned) (\d)\/2\): sockfd bench /gm)].map((m) => `${m[1]}:${m[2]}-${m[3]}`);
      expect(starts).toEqual(['1:pinned-1', '2:unpinned-1', '3:pinned-2', '4:unpinned-2']);
      expect(run.stderr).toMatch(/^sockfd bench: 4 sets in .*; every file is in /m);

      const report = (name: string) => JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as Report;
      const reports = Object.fromEntries(sets.map((s) => [s, report(s)]));
      // Each set ran in its mode, with the options given, in the order of the plan.
      for (const s of sets) {
        const r = reports[s]!;
        expect(r.mode.pinned, s).toBe(s.startsWith('pinned'));
        expect(r.scale).toBe('smoke');
        expect(r.onlyTargets).toBe(true);
        expect(r.benchmarks.map((b) => b.name)).toEqual(['pingpong', 'connect']);
        for (const b of r.benchmarks) for (const c of b.cases) for (const i of c.impls) expect(i.runs, `${s} ${c.name} ${i.impl}`).toHaveLength(3);
        expect(r.benchmarks.every((b) => b.cases.every((c) => c.control !== undefined))).toBe(true);
        const txt = readFileSync(join(out, `${s}.txt`), 'utf8');
        expect(txt).toMatch(/^machine: /);
        expect(txt).toContain(`wrote ${join(out, `${s}.json`)}`);
        expect(readFileSync(join(out, `${s}.svg`), 'utf8')).toMatch(/^<svg /);
        expect(readFileSync(join(out, `${s}.md`), 'utf8')).toContain('### pingpong');
      }
      const order = ['pinned-1', 'unpinned-1', 'pinned-2', 'unpinned-2'].map((s) => Date.parse(reports[s]!.startedAt));
      expect([...order].sort((a, b) => a - b)).toEqual(order);

      for (const mode of ['pinned', 'unpinned'] as const) {
        const pooled = JSON.parse(readFileSync(join(out, `${mode}-pooled.json`), 'utf8')) as CombinedReport;
        const mine = [reports[`${mode}-1`]!, reports[`${mode}-2`]!];
        expect(pooled.sources.map((s) => s.file)).toEqual([join(out, `${mode}-1.json`), join(out, `${mode}-2.json`)]);
        const text = readFileSync(join(out, `${mode}-pooled.txt`), 'utf8');
        const markdown = readFileSync(join(out, `${mode}-pooled.md`), 'utf8');
        expect(text).toContain(`combined 2 sets, ${mine[0]!.mode.description}:`);
        let ratios = 0;
        for (const b of mine[0]!.benchmarks)
          for (const c of b.cases)
            for (const r of c.ratios) {
              ratios++;
              const key = `${mode} ${b.name} ${c.name} ${r.subject}/${r.reference}`;
              const perSet = mine.map((m) => m.benchmarks.find((x) => x.name === b.name)!.cases.find((x) => x.name === c.name)!.ratios.find((x) => x.subject === r.subject && x.reference === r.reference)!.pairs);
              const all = perSet.flat();
              expect(all, key).toHaveLength(6);
              const got = pooled.cases.find((x) => x.benchmark === b.name && x.name === c.name)!.ratios.find((x) => x.subject === r.subject && x.reference === r.reference)!;
              expect(got.pairs, key).toEqual(all);
              expect(got.sets.map((s) => s.pairs), key).toEqual(perSet);
              expect(got.median, key).toBe(Number(textbookMedian(all).toPrecision(6))); // the JSON keeps 6 significant digits
              const interval = signTestInterval(all);
              expect(got.interval, key).toMatchObject({ count: 6, low: interval.low, high: interval.high });
              expect(got.interval!.coverage, key).toBeCloseTo(interval.coverage, 5);
              // The text and the Markdown show the same row: pairs, the pooled median and interval.
              const shown = `${textbookMedian(all).toFixed(2)}x [${interval.low.toFixed(2)}-${interval.high.toFixed(2)}]`;
              expect(text, key).toMatch(new RegExp(`${b.name}\\s+${c.name.replace(/[+()]/g, '\\$&')}\\s+${`${r.subject}/${r.reference}`.replace(/[+()]/g, '\\$&')}\\s+6\\s+${shown.replace(/[[\]]/g, '\\$&')}`));
              expect(markdown, key).toContain(`| ${b.name} | ${c.name} | ${r.subject}/${r.reference} | 6 | ${shown}`);
            }
        expect(ratios).toBe(4); // sockfd/C and C (A/A)/C in pingpong and connect
        // Every target of the sets, with a pooled verdict from the pooled interval and each set's beside it.
        for (const [c, t] of pooled.cases.flatMap((c) => c.targets.map((t) => [c, t] as const))) {
          const ratio = c.ratios.find((r) => r.subject === t.subject && r.reference === t.reference)!;
          const { low, high } = signTestInterval(ratio.pairs);
          const side = t.meaning === 'time' ? (high <= t.ratio ? 'met' : low > t.ratio ? 'missed' : 'undecided') : low >= t.ratio ? 'met' : high < t.ratio ? 'missed' : 'undecided';
          expect(t.verdict).toBe(ratio.setsDisagree ? 'undecided' : side);
          expect(t.setVerdicts).toHaveLength(2);
          expect(markdown).toContain(`- target (${c.benchmark} ${c.name}): ${t.subject} at `);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

/** The pids of every process in process group `pgid` (field 5 of /proc/PID/stat), zombies included. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
      if (Number(fields[2]) === pgid) members.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return members;
}

describe('Ctrl+C during --sets', () => {
  it('stops the set and every process it started, exits 130, says where it stopped, and pools nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-bench-sets-int-'));
    // Its own process group, so the kernel can tell afterwards whether any process of the run is left.
    const run = startCli(['bench', 'pingpong', '--smoke', '--runs', '1000', '--sets', '2', '--out', dir], { detached: true, timeoutMs: 120_000 });
    try {
      await until(() => /set 1\/4 \(pinned 1\/2\)/.test(run.stderr), 'the first set to start', 60_000);
      // The set's own process and at least one of its peers (a pair run: taskset, server, client) are running.
      await until(() => groupMembers(run.pid).length >= 3, 'the set and its peers to run', 60_000);
      process.kill(run.pid, 'SIGINT'); // this pid only, not the group: what the handler does is what is tested
      // Its exit, not the end of its output: a process it left running would hold the stderr pipe open.
      const code = await new Promise<number | null>((resolve) => (run.child.exitCode !== null ? resolve(run.child.exitCode) : run.child.once('exit', resolve)));
      expect(code).toBe(130);
      await until(() => groupMembers(run.pid).length === 0, 'every process of the run to end', 30_000);
      const end = await run.end(10_000);
      expect(end.stderr).toMatch(/sockfd bench: SIGINT: stopped \d+ process(es)? of the benchmark in set 1\/4 \(pinned 1\); 0 complete sets in .*, nothing pooled\n$/);
      expect(existsSync(join(dir, 'pinned-pooled.json'))).toBe(false);
      expect(existsSync(join(dir, 'pinned-1.json'))).toBe(false);
    } finally {
      run.killGroup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
