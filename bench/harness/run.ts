// Runs a list of benchmarks one after the other and assembles the report:
// finds their C programs (prebuilt in the package, else compiled -O2 with the
// machine's cc; without either the C rows are left out and a note says why),
// gives each a context and a temporary directory, records the machine and the
// pinning mode.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchCProgram, NoCCompilerError } from '../../tools/c-programs.js';
import { packageRoot } from '../../lib/native.js';
import { nodePeerCommand, type BenchContext, type Benchmark, type Scale } from './harness.js';
import { INTERVAL_LEVEL, INTERVAL_METHOD } from './confidence.js';
import { describePinning, machineInfo } from './machine.js';
import type { BenchResult, Report } from './model.js';
import type { Command, Pinning } from './processes.js';

export interface RunOptions {
  scale: Scale;
  pin: Pinning;
  /** --runs N: measured runs per implementation in every case, instead of each benchmark's own number. */
  runs?: number;
  /** --control: an A/A copy of each case's reference (see harness.withControl). */
  control?: boolean;
  /** --only-targets: only the implementations each case's targets and A/A control need (see harness.onlyTargets). */
  onlyTargets?: boolean;
  /** The command line to record (e.g. 'sockfd bench all --pin'). */
  command: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Called after each benchmark, so a caller can print as results come. */
  onResult?: (result: BenchResult) => void;
}

/** How long one benchmark may take at each scale (on an idle 2-CPU machine). */
export const timeBudgetMs: Record<Scale, number> = { full: 60_000, quick: 10_000, smoke: 10_000 };

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs one benchmark with a fresh context; the temporary directory is removed afterwards. */
export async function runBenchmark(benchmark: Benchmark, options: RunOptions): Promise<BenchResult> {
  const binaries = new Map<string, string>();
  const missing = new Map<string, NoCCompilerError>();
  for (const program of benchmark.cPrograms) {
    try {
      binaries.set(program, await benchCProgram(program));
    } catch (error) {
      if (!(error instanceof NoCCompilerError)) throw error;
      missing.set(program, error);
    }
  }
  const missingNote = () => `${[...missing.values()].map((error) => error.message).join('; ')}: the rows that need it are left out`;
  const tempDir = mkdtempSync(join(tmpdir(), `sockfd-bench-${benchmark.name}-`));
  const log = options.log ?? (() => undefined);
  const context: BenchContext = {
    quick: options.scale !== 'full',
    scale: options.scale,
    pin: options.pin,
    ...(options.runs !== undefined ? { runs: options.runs } : {}),
    ...(options.control === true ? { control: true } : {}),
    ...(options.onlyTargets === true ? { onlyTargets: true } : {}),
    log: (line) => log(`[${benchmark.name}] ${line}`),
    c(program: string, ...args: (string | number)[]): Command {
      const file = binaries.get(program);
      const unavailable = missing.get(program);
      if (unavailable !== undefined) throw unavailable;
      if (file === undefined) throw new Error(`benchmark ${benchmark.name} uses C program '${program}' without listing it in cPrograms`);
      return { file, args: args.map(String), label: `${program} ${String(args[0] ?? '')} (C)`.trim() };
    },
    node: nodePeerCommand,
    tempDir,
  };
  const started = performance.now();
  try {
    let partial: Omit<BenchResult, 'name' | 'durationMs'>;
    try {
      partial = await benchmark.run(context);
    } catch (error) {
      // A case with no implementation left without its C programs: the benchmark says so instead of failing.
      if (!(error instanceof NoCCompilerError)) throw error;
      partial = { title: `${benchmark.name}: left out`, description: benchmark.summary, parameters: {}, cases: [], notes: [] };
    }
    if (missing.size > 0) partial.notes = [missingNote(), ...partial.notes];
    if (options.runs !== undefined) {
      // The benchmark's own number would be recorded otherwise: say what ran.
      const own = partial.parameters.runs;
      partial.parameters = { ...partial.parameters, runs: options.runs };
      partial.notes = [...partial.notes, `--runs ${options.runs}: every case ran ${options.runs} measured runs per implementation${own === undefined ? '' : ` (the benchmark's own: ${own})`}`];
    }
    if (options.onlyTargets === true) {
      // Said in the notes and the JSON: which rows this run did not measure, and which cases not at all.
      const skipped = partial.cases.filter((c) => c.impls.length === 0);
      partial.cases = partial.cases.filter((c) => c.impls.length > 0);
      const leftOut = partial.cases.filter((c) => c.leftOut !== undefined && c.leftOut.length > 0);
      const leftOutCases = [...(partial.leftOutCases ?? []), ...skipped.map((c) => c.name)];
      if (leftOutCases.length > 0) partial.leftOutCases = leftOutCases;
      partial.notes = [
        ...partial.notes,
        `--only-targets: ${
          leftOut.length === 0 ? 'every case ran all its implementations' : `left out ${leftOut.map((c) => `${c.leftOut!.join(', ')} (${c.name})`).join('; ')}`
        }${leftOutCases.length === 0 ? '' : `; not measured at all (no target there): ${leftOutCases.join('; ')}`}: only the implementations a target or the A/A control compares ran, so the rounds are shorter; the ratios kept mean what they mean in a whole run`,
      ];
    }
    if (options.control === true) {
      const controlled = partial.cases.filter((c) => c.control !== undefined);
      partial.notes = [
        ...partial.notes,
        controlled.length === 0
          ? '--control: this benchmark has no A/A row (none of its cases names a reference to copy)'
          : `--control: ${controlled.map((c) => `${c.control!.impl} in ${c.name}`).join('; ')}: the same program as its original, interleaved like the others, run after the subject; its ratio to the original is an A/A ratio (true value 1.00x), and its interval is this set's noise floor`,
      ];
    }
    const durationMs = performance.now() - started;
    const budgetMs = timeBudgetMs[options.scale];
    // Said, not hidden: the bound is a promise of every benchmark (a loaded machine breaks it too).
    const notes =
      durationMs > budgetMs
        ? [...partial.notes, `took ${(durationMs / 1000).toFixed(0)} s, over the ${budgetMs / 1000} s budget of ${options.scale === 'full' ? 'a default' : `a --${options.scale}`} run (a busy machine, or sizes to reduce)`]
        : partial.notes;
    return { name: benchmark.name, ...partial, notes, durationMs };
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Runs `benchmarks` in order and returns the whole report. */
export async function runBenchmarks(benchmarks: readonly Benchmark[], options: RunOptions): Promise<Report> {
  const report: Report = {
    tool: 'sockfd bench',
    version: packageVersion(),
    command: options.command,
    startedAt: new Date().toISOString(),
    quick: options.scale !== 'full',
    scale: options.scale,
    mode: describePinning(options.pin),
    machine: machineInfo(),
    statistics: { interval: INTERVAL_METHOD, level: INTERVAL_LEVEL },
    ...(options.onlyTargets === true ? { onlyTargets: true } : {}),
    benchmarks: [],
  };
  for (const benchmark of benchmarks) {
    const started = performance.now();
    let result: BenchResult;
    try {
      result = await runBenchmark(benchmark, options);
    } catch (error) {
      // One failing benchmark must not cost the results of the others.
      const message = error instanceof Error ? error.message : String(error);
      result = { name: benchmark.name, title: `${benchmark.name}: FAILED`, description: benchmark.summary, parameters: {}, cases: [], notes: [], durationMs: performance.now() - started, error: message };
    }
    report.benchmarks.push(result);
    options.onResult?.(result);
  }
  return report;
}
