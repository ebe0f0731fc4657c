// The contract between the runner and one benchmark module, and the helpers
// every benchmark uses: commands for C programs and Node peers, and
// measureCase(), which runs the implementations interleaved after a warm-up.
//
// A benchmark is one module bench/<name>.ts that exports `benchmark`; the
// runner finds it by listing bench/ (harness/registry.ts). Its `peers` are
// the Node sides, started as `node dist/bench/harness/peer.js <name> <role> args...`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/native.js';
import { NoCCompilerError } from '../../tools/c-programs.js';
import { CaseRecorder, controlName, unitOf, type BenchResult, type CaseResult, type CaseSpec, type RunOutput, type Target } from './model.js';
import type { Command, Pinning, RunLimits } from './processes.js';
import { runAlone, runPair } from './processes.js';
import { startRunNoise, stopRunNoise, type RunNoise } from './noise.js';

/** A Node side of a benchmark, run in a child process with the arguments after the role. */
export type Peer = (args: readonly string[]) => void | Promise<void>;

export interface Benchmark {
  /** The word after `sockfd bench`; also the module's file name. */
  name: string;
  /** One line for `sockfd bench --help`. */
  summary: string;
  /** The C programs (bench/c/<name>.c) it needs, compiled before it runs. */
  cPrograms: readonly string[];
  /** The Node sides by role ('sockfd-server', 'net-client', ...). */
  peers: Readonly<Record<string, Peer>>;
  /** Measures; returns the cases, parameters and notes (the runner adds timing). */
  run(context: BenchContext): Promise<Omit<BenchResult, 'name' | 'durationMs'>>;
}

/** What the runner gives a benchmark. */
export interface BenchContext {
  /** --quick (or --smoke): small sizes, the whole benchmark in well under 10 s. */
  quick: boolean;
  /** full (default), quick (--quick), smoke (--smoke: the smallest sizes, to check that everything runs). */
  scale: Scale;
  pin: Pinning;
  /** --runs N: measureCase runs every case N times per implementation instead of the plan's own number. */
  runs?: number;
  /** --control: every case that names a `control` also runs an A/A copy of it (withControl). */
  control?: boolean;
  /** --only-targets: every case runs only the implementations its targets and A/A control need (measuredSpec). */
  onlyTargets?: boolean;
  /** A progress line on stderr. */
  log(line: string): void;
  /** Command for bench/c/<program> (compiled before run()). */
  c(program: string, ...args: (string | number)[]): Command;
  /** Command for the peer `role` of benchmark `benchmark` in a new Node process. */
  node(benchmark: string, role: string, args?: readonly (string | number)[], nodeFlags?: readonly string[]): Command;
  /** A directory for the benchmark's files, removed by the runner afterwards. */
  tempDir: string;
}

/** How big a run is: full (< 1 min per benchmark), quick (< 10 s), smoke (seconds; numbers mean nothing). */
export type Scale = 'full' | 'quick' | 'smoke';

/** The value for the context's scale; smoke falls back to quick when not given. */
export function bySize<T>(context: Pick<BenchContext, 'scale'>, sizes: { full: T; quick: T; smoke?: T }): T {
  if (context.scale === 'smoke') return sizes.smoke ?? sizes.quick;
  return context.scale === 'quick' ? sizes.quick : sizes.full;
}

/** The compiled dist/ directory of the peers' entry point. */
export const peerEntry: string = join(packageRoot, 'dist', 'bench', 'harness', 'peer.js');

/** A Command for a Node peer (see BenchContext.node). */
export function nodePeerCommand(
  benchmark: string,
  role: string,
  args: readonly (string | number)[] = [],
  nodeFlags: readonly string[] = [],
): Command {
  return {
    file: process.execPath,
    args: [...nodeFlags, peerEntry, benchmark, role, ...args.map(String)],
    label: `${benchmark} ${role}`,
  };
}

/** How many measured runs each implementation gets, and what one run does. */
export interface CasePlan {
  /** Measured runs per implementation (after one warm-up run each). */
  runs: number;
  /**
   * Runs `impl` once; `warmup` is true for the discarded first run (use smaller sizes there if you like).
   * `recordedAs` is the name the run is recorded under: `impl` itself, or for the A/A copy of a --control
   * run controlName(impl) (measureCase calls the copy's runs with the copied implementation's name, so a
   * plan need not know of it; one that records runs elsewhere too uses this name there).
   */
  runOnce(impl: string, warmup: boolean, recordedAs: string): Promise<RunOutput>;
  /** Whether each implementation gets a discarded warm-up run first (default true; --quick may skip it). */
  warmupRun?: boolean;
}

/**
 * Measures one case: a warm-up run of every implementation (discarded), then
 * `runs` rounds of A B C, A B C, ... so that drift of the machine hits every
 * implementation alike and neighbouring runs can be compared pair by pair.
 * Each measured run records its noise (steal, load, preemptions: noise.ts).
 * An implementation whose C program could not be had (no prebuilt binary, no
 * compiler: context.c throws NoCCompilerError) is left out of the case with
 * the targets that compare with it; the runner notes why. A case left with
 * no implementation rethrows that error.
 */
export async function measureCase(context: BenchContext, given: CaseSpec, plan: CasePlan): Promise<CaseResult> {
  const runs = context.runs ?? plan.runs;
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs must be a positive integer, got ${runs}`);
  const spec = measuredSpec(context, given);
  if (spec.impls.length === 0)
    // --only-targets and nothing here decides a target: measured not at all (the runner lists the case in leftOutCases).
    return { name: spec.name, kind: spec.kind, unit: unitOf[spec.kind], impls: [], ratios: [], targets: [], leftOut: [...(spec.leftOut ?? [])] };
  const copy = spec.control === undefined ? undefined : controlName(spec.control);
  const impls = [...spec.impls];
  const measured: [string, RunOutput, RunNoise][] = [];
  let noCompiler: NoCCompilerError | undefined;
  const attempt = async (impl: string, warmup: boolean): Promise<void> => {
    const noise = startRunNoise(); // steal, load and preemptions of this run (noise.ts)
    try {
      const output = await plan.runOnce(impl === copy ? spec.control! : impl, warmup, impl);
      const seen = await stopRunNoise(noise);
      if (!warmup) measured.push([impl, output, seen]);
    } catch (error) {
      await stopRunNoise(noise);
      if (!(error instanceof NoCCompilerError)) throw error;
      noCompiler = error;
      impls.splice(impls.indexOf(impl), 1);
    }
  };
  if (plan.warmupRun ?? true)
    // The A/A copy runs the program its original warmed up; a warm-up of its own would be a run the original never had.
    for (const impl of impls.filter((i) => i !== copy)) {
      context.log(`${spec.name}: warm-up ${impl}`);
      await attempt(impl, true);
    }
  for (let run = 1; run <= runs; run++) {
    for (const impl of [...impls]) {
      context.log(`${spec.name}: run ${run}/${runs} ${impl}`);
      await attempt(impl, false);
    }
  }
  if (impls.length === 0 && noCompiler !== undefined) throw noCompiler;
  const kept = (target: Target) => impls.includes(target.subject) && impls.includes(target.reference);
  const recorder = new CaseRecorder({
    ...spec,
    impls,
    ...(spec.target ? { target: kept(spec.target) ? spec.target : undefined } : {}),
    ...(spec.targets ? { targets: spec.targets.filter(kept) } : {}),
  });
  for (const [impl, output] of measured) recorder.add(impl, output);
  const result = recorder.result();
  for (const implResult of result.impls) implResult.noise = measured.filter(([impl]) => impl === implResult.impl).map(([, , noise]) => noise);
  return result;
}

/**
 * The case as a --control run measures it: with context.control and a spec that names its `control`
 * (the reference, usually 'C'), the A/A copy controlName(control) joins the implementations right after
 * the subject, so that the copy's runs are as far from the original's in the interleaved order as the
 * subject's are, plus one: the A/A pairs see the drift the subject's pairs see. Otherwise the spec as
 * it is, without `control` (so that no case claims an A/A row it did not run).
 */
export function withControl(context: Pick<BenchContext, 'control'>, spec: CaseSpec): CaseSpec {
  const { control, ...rest } = spec;
  if (context.control !== true || control === undefined || !spec.impls.includes(control)) return rest;
  if (spec.impls.includes(controlName(control))) return spec; // already a --control spec (measuredSpec's output, measured now)
  const subject = spec.subject ?? (spec.impls.includes('sockfd') ? 'sockfd' : undefined);
  const after = subject === undefined ? spec.impls.length - 1 : spec.impls.indexOf(subject);
  const impls = [...spec.impls];
  impls.splice(after + 1, 0, controlName(control));
  return { ...rest, impls, control };
}

/** The implementations a target of `spec` compares (subject and reference of each), in no particular order. */
function targetImpls(spec: CaseSpec): Set<string> {
  const goals = [...(spec.target ? [spec.target] : []), ...(spec.targets ?? [])];
  return new Set(goals.flatMap((goal) => [goal.subject, goal.reference]));
}

/**
 * The case as `sockfd bench --only-targets` measures it: only the implementations a target compares
 * (sockfd and its target's reference; net where a target is against net) and, in a --control run, the
 * control's original (its A/A copy is added by withControl). The others are listed in `leftOut`, in table
 * order, and so are the `alsoSubjects` that no target names. Every target and the A/A row keep their
 * meaning: they compare the same programs; the rounds are only shorter, so a pair's two runs are closer in
 * time. A case with no target ends with no implementation, even if it names a control (measureCase then
 * measures nothing, and the runner lists it in leftOutCases).
 */
export function onlyTargets(spec: CaseSpec, control: boolean): CaseSpec {
  const needed = targetImpls(spec);
  // A case with no target decides none: its A/A row alone would only measure noise, so it is left out whole.
  if (needed.size > 0 && control && spec.control !== undefined && spec.impls.includes(spec.control)) needed.add(spec.control).add(controlName(spec.control));
  const impls = spec.impls.filter((impl) => needed.has(impl));
  const leftOut = [...(spec.leftOut ?? []), ...spec.impls.filter((impl) => !needed.has(impl))];
  const { alsoSubjects, subject, ...rest } = spec;
  const keptSubjects = alsoSubjects?.filter((impl) => needed.has(impl));
  return {
    ...rest,
    impls,
    ...(subject !== undefined && needed.has(subject) ? { subject } : {}),
    ...(keptSubjects !== undefined && keptSubjects.length > 0 ? { alsoSubjects: keptSubjects } : {}),
    ...(leftOut.length > 0 ? { leftOut } : {}),
  };
}

/**
 * The case as this run measures it: onlyTargets() under --only-targets, then withControl() under --control.
 * measureCase applies it; a benchmark that records more cases from the same runs (a latency table beside a
 * rate one, say) builds them from its output, so that both list the same implementations. Applying it twice
 * gives the same spec.
 */
export function measuredSpec(context: Pick<BenchContext, 'control' | 'onlyTargets'>, spec: CaseSpec): CaseSpec {
  return withControl(context, context.onlyTargets === true ? onlyTargets(spec, context.control === true) : spec);
}

/** A client/server run under the context's pinning (see processes.runPair). */
export function pairRun(
  context: BenchContext,
  server: Command,
  client: (port: number) => Command,
  limits?: RunLimits,
): Promise<RunOutput> {
  return runPair(server, client, context.pin, limits);
}

/** A single-process run under the context's pinning (see processes.runAlone). */
export function aloneRun(context: BenchContext, command: Command, limits?: RunLimits): Promise<RunOutput> {
  return runAlone(command, context.pin, limits);
}

/** Human sizes for case names and parameters: 4096 → '4 KiB', 2**30 → '1 GiB'. */
export function sizeLabel(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value} ${units[unit]}`;
}

/**
 * How much work a run of one implementation gets so that it lasts about
 * `seconds`, from the rate its warm-up run reached (work units per second):
 * `full` when that fits, else less, never below `min`. A slow implementation
 * then keeps the benchmark within its time bound; its rate stays comparable.
 */
export function workWithin(full: number, ratePerSecond: number | undefined, seconds: number, min: number, unit = 1): number {
  if (ratePerSecond === undefined || !(ratePerSecond > 0)) return full;
  const fitting = Math.floor((ratePerSecond * seconds) / unit) * unit;
  return Math.max(min, Math.min(full, fitting));
}

/** bench/python/peers.py: the Python peers (socket module, asyncio), the same protocol as C and Node. */
export const pythonPeers: string = join(packageRoot, 'bench', 'python', 'peers.py');

let pythonFound: boolean | undefined;

/** Whether this machine has python3 (the Python peers run only then; a report says when they were left out). */
export function hasPython(): boolean {
  if (pythonFound === undefined) {
    if (!existsSync(pythonPeers)) return (pythonFound = false);
    const probe = spawnSync('python3', ['-c', 'import asyncio, socket'], { stdio: 'ignore', timeout: 10_000 });
    pythonFound = probe.status === 0;
  }
  return pythonFound;
}

/** A Command for the Python peer `role` (see bench/python/peers.py). */
export function pythonPeerCommand(role: string, args: readonly (string | number)[] = []): Command {
  return { file: 'python3', args: [pythonPeers, role, ...args.map(String)], label: `python ${role}` };
}

/** The implementations of a case, with Python's appended when python3 exists. */
export function withPython<T extends string>(impls: readonly T[], python: T): T[] {
  return hasPython() ? [...impls, python] : [...impls];
}

/** The note a report carries when python3 is missing. */
export function pythonNotes(): string[] {
  return hasPython() ? [] : ['python3 not found: the Python peers were left out'];
}
