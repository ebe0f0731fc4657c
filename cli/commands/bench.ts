// `sockfd bench <name|all> [--quick] [--pin[=CPU]] [--json FILE] [--svg FILE]`:
// runs benchmarks (bench/<name>.ts, found by listing the directory), prints
// a table per benchmark, and optionally writes the report as JSON and SVG.
import { writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { childPids } from '../../lib/procfs.js';
import { type Command, UsageError } from '../command.js';
import type { Benchmark, Scale } from '../../bench/harness/harness.js';
import { toJsonText, writeReportJson } from '../../bench/harness/json.js';
import { combinedToMarkdown, combineReports, readReport, renderCombined } from '../../bench/harness/combine.js';
import { choosePinning, describePinning } from '../../bench/harness/machine.js';
import { loadBenchmarksSafely } from '../../bench/harness/registry.js';
import { runBenchmarks } from '../../bench/harness/run.js';
import { reportToMarkdown } from '../../bench/harness/markdown.js';
import { reportToSvg } from '../../bench/harness/svg.js';
import { MAX_SETS_PER_MODE, runSets, SetsError, type SetsProgress } from '../../bench/harness/sets.js';
import { renderBenchResult, renderReportHeader } from '../../bench/harness/table.js';
import { machineInfo } from '../../bench/harness/machine.js';

const { benchmarks, failures } = await loadBenchmarksSafely();

export interface BenchOptions {
  names: string[];
  scale: Scale;
  /** undefined: not pinned; null: pinned to the CPU chosen automatically; a number: that CPU. */
  pin: number | null | undefined;
  /** --runs N: measured runs per implementation in every case (default: each benchmark's own). */
  runs?: number;
  /** --control: an A/A row (the reference program against itself) in every case that has one. */
  control?: boolean;
  /** --only-targets: in every case only the implementations its targets and A/A control need. */
  onlyTargets?: boolean;
  json?: string;
  svg?: string;
  markdown?: string;
  /** --sets K: K pinned and K unpinned sets, alternating, each mode pooled (bench/harness/sets.ts). */
  sets?: number;
  /** --out DIR: where --sets writes every set's report and each mode's pooled one. */
  out?: string;
}

/** `--combine FILE FILE... [--json FILE] [--markdown FILE]`: pools the pair ratios of earlier --json reports. */
export interface CombineOptions {
  files: string[];
  json?: string;
  markdown?: string;
}

/** Parses `--combine` arguments (every other word is a report file); throws UsageError on anything else. */
export function parseCombineArgs(argv: readonly string[]): CombineOptions {
  const options: CombineOptions = { files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--combine') continue;
    const flag = (['--json', '--markdown'] as const).find((f) => arg === f || arg.startsWith(`${f}=`));
    if (flag !== undefined) {
      const v = arg.includes('=') ? arg.slice(flag.length + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a file name`);
      options[flag === '--json' ? 'json' : 'markdown'] = v;
    } else if (arg.startsWith('-')) throw new UsageError(`--combine takes report files, --json FILE and --markdown FILE, not '${arg}'`);
    else options.files.push(arg);
  }
  if (options.files.length < 2) throw new UsageError('--combine needs at least two --json reports of sockfd bench');
  return options;
}

/** Parses the command's arguments; throws UsageError on anything unknown. */
export function parseBenchArgs(argv: readonly string[], known: readonly string[]): BenchOptions {
  const options: BenchOptions = { names: [], scale: 'full', pin: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a file name`);
      return v;
    };
    if (flag === '--quick') options.scale = options.scale === 'smoke' ? 'smoke' : 'quick';
    else if (flag === '--smoke') options.scale = 'smoke';
    else if (flag === '--pin') {
      if (inline === undefined) options.pin = null;
      else if (/^\d+$/.test(inline)) options.pin = Number(inline);
      else throw new UsageError(`--pin=CPU needs a CPU number, got '${inline}'`);
    } else if (flag === '--runs') {
      const v = inline ?? argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1000) throw new UsageError(`--runs needs a whole number of runs from 1 to 1000, got '${v ?? ''}'`);
      options.runs = Number(v);
    } else if (flag === '--control') {
      if (inline !== undefined) throw new UsageError(`--control takes no value, got '${arg}'`);
      options.control = true;
    } else if (flag === '--only-targets') {
      if (inline !== undefined) throw new UsageError(`--only-targets takes no value, got '${arg}'`);
      options.onlyTargets = true;
    } else if (flag === '--sets') {
      const v = inline ?? argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 2 || Number(v) > MAX_SETS_PER_MODE)
        throw new UsageError(`--sets needs a whole number of sets a mode from 2 to ${MAX_SETS_PER_MODE}, got '${v ?? ''}'`);
      options.sets = Number(v);
    } else if (flag === '--out') {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError('--out needs a directory');
      options.out = v;
    } else if (flag === '--json') options.json = value();
    else if (flag === '--svg') options.svg = value();
    else if (flag === '--markdown') options.markdown = value();
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else if (arg === 'all') options.names.push(...known);
    else if (known.includes(arg)) options.names.push(arg);
    else throw new UsageError(`unknown benchmark '${arg}' (have: ${known.join(', ')}, all)`);
  }
  if (options.names.length === 0) throw new UsageError('name a benchmark, or all');
  options.names = [...new Set(options.names)];
  if (options.sets !== undefined || options.out !== undefined) checkSetsArgs(options, argv);
  return options;
}

/** --sets K and --out DIR go together; the sets choose their pinning and their files themselves. */
function checkSetsArgs(options: BenchOptions, argv: readonly string[]): void {
  if (options.sets === undefined) throw new UsageError('--out DIR goes with --sets K (a single run writes --json/--markdown/--svg FILE)');
  if (options.out === undefined) throw new UsageError('--sets K needs --out DIR: every set\'s report and each mode\'s pooled one go there');
  if (argv.includes('--pin')) throw new UsageError('--sets alternates pinned and unpinned sets itself: leave out --pin (--pin=CPU chooses the pinned sets\' CPU)');
  for (const [flag, given] of [['--json', options.json], ['--markdown', options.markdown], ['--svg', options.svg]] as const)
    if (given !== undefined) throw new UsageError(`--sets writes every set's ${flag.slice(2)} into --out DIR itself: leave out ${flag}`);
}

function usageText(): string {
  const width = Math.max(...benchmarks.map((b) => b.name.length), 3);
  return [
    'usage: sockfd bench <name...|all> [--quick|--smoke] [--pin[=CPU]] [--runs N] [--control] [--only-targets]',
    '                    [--json FILE] [--svg FILE] [--markdown FILE]',
    '       sockfd bench <name...|all> --sets K --out DIR [--pin=CPU] [--quick|--smoke] [--runs N] [--control] [--only-targets]',
    '       sockfd bench --combine REPORT.json REPORT.json... [--json FILE] [--markdown FILE]',
    '',
    'Measures sockfd against C reference programs (bench/c: the package\'s prebuilt binaries, else',
    'compiled with cc -O2; with neither, the C rows are left out and a note says so) and Node net,',
    'interleaved run by run after a warm-up, and prints one table per benchmark.',
    '',
    'benchmarks:',
    ...benchmarks.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}`),
    ...failures.map((f) => `  ${f.name.padEnd(width)}  (cannot load: ${f.error})`),
    '',
    'options:',
    '  --quick        small sizes: each benchmark in well under 10 s (default: under a minute)',
    '  --smoke        the smallest sizes: checks that everything runs; the numbers mean nothing',
    '  --pin[=CPU]    run both ends of every run on one CPU (taskset); default: the last allowed CPU',
    '  --runs N       measured runs per implementation in every case (default: each benchmark\'s own);',
    '                 more pairs give narrower intervals, and 6 or more are needed for a 95% verdict',
    '  --control      an A/A row in pingpong, throughput, connect, fork and async-echo: the reference C',
    '                 program (fork: the C twin) once more, interleaved like the others; its ratio to it is',
    '                 truly 1.00x, so its interval is the noise floor of the same run (one more run a round)',
    '  --only-targets run in every case only what a target or the A/A control compares: sockfd (and',
    '                 sockfd readiness), the target\'s reference (C, the C twin, net where a target is',
    '                 against net) and with --control the A/A copy; C+threads, Python, try-first and',
    '                 the bare C of fork are left out, and so is a case no target needs (fork\'s large',
    '                 heap). Shorter rounds: each pair\'s two runs are closer in time. The notes and the',
    '                 JSON (leftOut, leftOutCases) say what did not run; --combine takes only sets that',
    '                 ran the same implementations',
    '  --json FILE    write the whole report (machine, mode, every run, percentiles) as JSON',
    '  --svg FILE     write charts: latency distributions (log scale), throughput and rates (bars)',
    '  --markdown FILE  write the tables as Markdown (as in docs/benchmarks.md)',
    '  --combine      pool the pair ratios of several --json reports (sets of one mode and scale, run',
    '                 at different times): the pooled interval and verdicts, and each set\'s beside them',
    '  --sets K       the quiet run: 2K sets, pinned and unpinned alternating (pinned 1, unpinned 1,',
    '                 pinned 2, ...), each a whole `sockfd bench` of its own with the options given; every',
    '                 set\'s report goes to --out DIR as MODE-N.txt (its output), .json, .md and .svg, then',
    '                 each mode\'s K sets are pooled as --combine pools them: MODE-pooled.txt, .json, .md.',
    '                 Progress on stderr; Ctrl+C stops every process it started. Exit 1 when a benchmark',
    '                 failed in a set (the run goes on; its other rows pool), a set ended without its report',
    '                 (the run stops; the sets done stay in DIR) or DIR already holds a file of the run',
    '  --out DIR      the directory of --sets (created if missing)',
    '',
    'Ratios are sockfd/other, pair by pair: the median pair ratio and, in brackets, a distribution-free',
    '95% confidence interval of it (sign test on the ordered pair ratios; below 6 pairs [min, max] with',
    'its lower coverage). A target is met or MISSED when the whole interval is on one side of it, else',
    'undecided. No benchmark is a test: a missed target is a result, not a failure (exit 0).',
  ].join('\n');
}

/** Every process below `pid`, children before their parents' siblings, deepest last. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = childPids(pid);
  } catch {
    return []; // gone meanwhile
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * Every process below this one, each stopped (SIGSTOP) as it is found, again until a walk finds no
 * new one (bounded): a process that is still running can start another between the walk and its
 * kill (a --sets set starts a peer pair every run), and that one would be missed and outlive us.
 */
function stopDescendants(): number[] {
  const found = new Set<number>();
  for (let walk = 0; walk < 20; walk++) {
    const fresh = descendants(process.pid).filter((pid) => !found.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      found.add(pid);
      try {
        process.kill(pid, 'SIGSTOP');
      } catch {
        // ended meanwhile
      }
    }
  }
  return [...found];
}

/**
 * Ctrl+C or SIGTERM during a benchmark: the peers it started (servers,
 * clients, taskset and what it runs; under --sets the running set and its
 * peers) are stopped, then killed by pid, then the exit is 128 + the signal.
 * A terminal's Ctrl+C reaches them too; a SIGTERM to sockfd alone would
 * otherwise leave them running.
 */
function stopPeersOnSignal(whereStopped: () => string = () => ''): () => void {
  const handler = (signal: 'SIGINT' | 'SIGTERM') => () => {
    const peers = stopDescendants();
    for (const pid of peers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ended meanwhile
      }
    }
    process.stderr.write(`\nsockfd bench: ${signal}: stopped ${peers.length} process${peers.length === 1 ? '' : 'es'} of the benchmark${whereStopped()}\n`);
    process.exit(128 + osConstants.signals[signal]);
  };
  const onInt = handler('SIGINT');
  const onTerm = handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

export const command: Command = {
  name: 'bench',
  summary: 'benchmarks: sockfd vs C vs Node net (nagle, pingpong, throughput, transfer, fork, connect, ...)',
  get usage(): string {
    return usageText();
  },
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--combine')) return combine(parseCombineArgs(argv));
    const options = parseBenchArgs(argv, benchmarks.map((b) => b.name));
    if (options.sets !== undefined && options.out !== undefined) return sets(options, options.sets, options.out);
    const chosen: Benchmark[] = options.names.map((name) => benchmarks.find((b) => b.name === name)!);
    const pin = options.pin === undefined ? null : choosePinning(options.pin ?? undefined);
    const commandLine = ['sockfd bench', ...argv].join(' ');
    const progress = process.stderr.isTTY === true;
    const restoreSignals = stopPeersOnSignal();
    try {
      return await runAndReport(chosen, options, pin, commandLine, progress);
    } finally {
      restoreSignals();
    }
  },
};

/** --combine: reads the reports, prints the pooled table; exit 1 when a report cannot be read or the sets do not combine. */
function combine(options: CombineOptions): number {
  let combined;
  try {
    combined = combineReports(options.files.map((file) => ({ file, report: readReport(file) })));
  } catch (error) {
    process.stderr.write(`sockfd bench: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(renderCombined(combined) + '\n');
  if (options.json) {
    writeFileSync(options.json, toJsonText(combined));
    process.stdout.write(`wrote ${options.json}\n`);
  }
  if (options.markdown) {
    writeFileSync(options.markdown, combinedToMarkdown(combined));
    process.stdout.write(`wrote ${options.markdown}\n`);
  }
  return 0;
}

/** --sets K --out DIR: the alternating sets and each mode's pool (bench/harness/sets.ts); exit 1 when a set fails. */
async function sets(options: BenchOptions, perMode: number, out: string): Promise<number> {
  const progress: SetsProgress = { done: [], total: 2 * perMode };
  const whereStopped = (): string => {
    const current = progress.current === undefined ? '' : ` in set ${progress.current.index}/${progress.total} (${progress.current.mode} ${progress.current.nth})`;
    return `${current}; ${progress.done.length} complete set${progress.done.length === 1 ? '' : 's'} in ${out}, nothing pooled`;
  };
  const restoreSignals = stopPeersOnSignal(whereStopped);
  try {
    return await runSets(
      {
        names: options.names,
        scale: options.scale,
        ...(options.runs !== undefined ? { runs: options.runs } : {}),
        ...(options.control === true ? { control: true } : {}),
        ...(options.onlyTargets === true ? { onlyTargets: true } : {}),
        ...(typeof options.pin === 'number' ? { pinCpu: options.pin } : {}),
        perMode,
        out,
        log: (line) => process.stderr.write(`sockfd bench: ${line}\n`),
        print: (text) => process.stdout.write(text),
      },
      progress,
    );
  } catch (error) {
    if (!(error instanceof SetsError) && (error as NodeJS.ErrnoException).code === undefined) throw error;
    process.stderr.write(`sockfd bench: ${(error as Error).message}\n`);
    return 1;
  } finally {
    restoreSignals();
  }
}

async function runAndReport(
  chosen: Benchmark[],
  options: BenchOptions,
  pin: ReturnType<typeof choosePinning> | null,
  commandLine: string,
  progress: boolean,
): Promise<number> {
  process.stdout.write(
    renderReportHeader({ machine: machineInfo(), mode: describePinning(pin), command: commandLine, scale: options.scale, startedAt: new Date().toISOString() }) +
      '\n\n',
  );
  const report = await runBenchmarks(chosen, {
    scale: options.scale,
    pin,
    ...(options.runs !== undefined ? { runs: options.runs } : {}),
    ...(options.control === true ? { control: true } : {}),
    ...(options.onlyTargets === true ? { onlyTargets: true } : {}),
    command: commandLine,
    log: progress ? (line) => process.stderr.write(`\r\x1b[K${line}`) : undefined,
    onResult: (result) => {
      if (progress) process.stderr.write('\r\x1b[K');
      process.stdout.write(renderBenchResult(result) + '\n\n');
    },
  });
  if (options.json) {
    writeReportJson(options.json, report);
    process.stdout.write(`wrote ${options.json}\n`);
  }
  if (options.svg) {
    writeFileSync(options.svg, reportToSvg(report));
    process.stdout.write(`wrote ${options.svg}\n`);
  }
  if (options.markdown) {
    writeFileSync(options.markdown, reportToMarkdown(report));
    process.stdout.write(`wrote ${options.markdown}\n`);
  }
  // Missed targets are results; a benchmark that could not run is a failure.
  return report.benchmarks.some((b) => b.error !== undefined) ? 1 : 0;
}
