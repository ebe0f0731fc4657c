// `sockfd bench NAMES... --sets K --out DIR`: the quiet run of a session as one
// command. It runs 2K sets (whole `sockfd bench` invocations, each in a Node
// process of its own, as a user would run them), alternating pinned and
// unpinned (pinned 1, unpinned 1, pinned 2, ...), so that what drifts over the
// hour hits both modes alike. Every set keeps its report (txt, --json,
// --markdown, --svg) in DIR, and once all have run each mode's K sets are
// pooled as `--combine` pools them, from the JSON files on disk (txt, json,
// markdown). Progress goes to stderr; the caller stops the sets' processes on
// Ctrl+C (cli/commands/bench.ts: every descendant, by pid).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../../tools/processes.js';
import { combinedToMarkdown, combineReports, readReport, renderCombined } from './combine.js';
import { toJsonText } from './json.js';
import type { Scale } from './harness.js';

export type SetMode = 'pinned' | 'unpinned';

/** One set of the run: its place in the order, its mode, and which of its mode's sets it is. */
export interface SetSpec {
  /** 1-based position in the whole run. */
  index: number;
  mode: SetMode;
  /** 1-based among the sets of its mode. */
  nth: number;
}

/** The most sets per mode --sets takes (each set of the lead's run takes minutes). */
export const MAX_SETS_PER_MODE = 50;

/** The order of the sets: pinned 1, unpinned 1, pinned 2, unpinned 2, ... (K of each). */
export function planSets(perMode: number): SetSpec[] {
  if (!Number.isInteger(perMode) || perMode < 2 || perMode > MAX_SETS_PER_MODE) throw new RangeError(`sets per mode must be 2..${MAX_SETS_PER_MODE}, got ${perMode}`);
  const plan: SetSpec[] = [];
  for (let nth = 1; nth <= perMode; nth++) for (const mode of ['pinned', 'unpinned'] as const) plan.push({ index: plan.length + 1, mode, nth });
  return plan;
}

/** The files of one set in DIR: 'pinned-1.json', 'pinned-1.txt' (its stdout), '.md', '.svg'. */
export function setFiles(dir: string, set: Pick<SetSpec, 'mode' | 'nth'>): { json: string; txt: string; markdown: string; svg: string } {
  const base = join(dir, `${set.mode}-${set.nth}`);
  return { json: `${base}.json`, txt: `${base}.txt`, markdown: `${base}.md`, svg: `${base}.svg` };
}

/** The pooled report of one mode in DIR: 'pinned-pooled.txt', '.json', '.md'. */
export function pooledFiles(dir: string, mode: SetMode): { json: string; txt: string; markdown: string } {
  const base = join(dir, `${mode}-pooled`);
  return { json: `${base}.json`, txt: `${base}.txt`, markdown: `${base}.md` };
}

export interface SetsOptions {
  /** The benchmarks every set runs, in order. */
  names: readonly string[];
  scale: Scale;
  runs?: number;
  control?: boolean;
  onlyTargets?: boolean;
  /** Sets per mode (K). */
  perMode: number;
  /** The directory every file goes to (created if missing; no file of the run may exist in it yet). */
  out: string;
  /** The CPU of the pinned sets (default: the one `--pin` chooses). */
  pinCpu?: number;
  /** A progress line (stderr). */
  log(line: string): void;
  /** The pooled tables, when all sets have run (stdout). */
  print(text: string): void;
}

/** What --sets is doing now, for the message of a Ctrl+C. */
export interface SetsProgress {
  current?: SetSpec;
  done: SetSpec[];
  total: number;
}

/** A run that could not start or finish (an existing file, a failed set): a message, exit 1. */
export class SetsError extends Error {
  override name = 'SetsError';
}

/** The arguments of one set's `sockfd bench` invocation. */
export function setArguments(options: Omit<SetsOptions, 'log' | 'print' | 'perMode'>, set: SetSpec): string[] {
  const files = setFiles(options.out, set);
  return [
    'bench',
    ...options.names,
    ...(options.scale === 'full' ? [] : [`--${options.scale}`]),
    ...(options.runs === undefined ? [] : ['--runs', String(options.runs)]),
    ...(options.control === true ? ['--control'] : []),
    ...(options.onlyTargets === true ? ['--only-targets'] : []),
    ...(set.mode === 'pinned' ? [options.pinCpu === undefined ? '--pin' : `--pin=${options.pinCpu}`] : []),
    '--json',
    files.json,
    '--markdown',
    files.markdown,
    '--svg',
    files.svg,
  ];
}

/** Runs one set: `sockfd bench ...` with its stdout in the set's .txt and its stderr on ours; resolves to its exit. */
function runSet(args: readonly string[], txt: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const stdout = openSync(txt, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', stdout, 'inherit'] });
    const done = (): void => closeSync(stdout);
    child.once('error', (error) => (done(), reject(error)));
    child.once('exit', (code, signal) => (done(), resolve({ code, signal })));
  });
}

function minutes(ms: number): string {
  return ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

/**
 * Runs every set in order, then pools each mode. Resolves to 0, or to 1 when a benchmark failed in some
 * set (that set's report still pools: its other benchmarks ran); throws SetsError (exit 1) when a file of
 * the run exists already, a set ended without its report, or a mode's sets do not pool.
 */
export async function runSets(options: SetsOptions, progress: SetsProgress = { done: [], total: 0 }): Promise<number> {
  const plan = planSets(options.perMode);
  progress.total = plan.length;
  mkdirSync(options.out, { recursive: true });
  const ours = [
    ...plan.flatMap((set) => Object.values(setFiles(options.out, set))),
    ...(['pinned', 'unpinned'] as const).flatMap((mode) => Object.values(pooledFiles(options.out, mode))),
  ];
  const existing = ours.filter((file) => existsSync(file));
  if (existing.length > 0) throw new SetsError(`${options.out} already holds ${existing.length === 1 ? existing[0] : `${existing[0]} and ${existing.length - 1} more files`} of a run: give another --out`);
  const started = Date.now();
  const durations: Record<SetMode, number[]> = { pinned: [], unpinned: [] };
  const failed: SetSpec[] = [];
  for (const set of plan) {
    progress.current = set;
    const args = setArguments(options, set);
    const files = setFiles(options.out, set);
    options.log(`set ${set.index}/${plan.length} (${set.mode} ${set.nth}/${options.perMode}): sockfd ${args.join(' ')}`);
    const setStart = Date.now();
    const { code, signal } = await runSet(args, files.txt);
    // Exit 1 with its report written: a benchmark of the set failed, the others ran (run.ts); their pairs still pool.
    if (code === 1 && existsSync(files.json)) {
      failed.push(set);
      options.log(`set ${set.index}/${plan.length}: a benchmark failed (${files.txt} says which and why); the sets go on, and the run will exit 1`);
    } else if (code !== 0)
      throw new SetsError(
        `set ${set.index}/${plan.length} (${set.mode} ${set.nth}) ended ${signal !== null ? `by ${signal}` : `with exit ${code}`} without its report (${files.txt} says what it printed); the sets done so far are in ${options.out}`,
      );
    const took = Date.now() - setStart;
    durations[set.mode].push(took);
    progress.done.push(set);
    progress.current = undefined;
    const mean = (mode: SetMode) => durations[mode].reduce((a, b) => a + b, 0) / Math.max(1, durations[mode].length);
    const left = plan.slice(set.index).reduce((sum, next) => sum + (durations[next.mode].length > 0 ? mean(next.mode) : mean(set.mode)), 0);
    options.log(`set ${set.index}/${plan.length} done in ${minutes(took)}: ${files.json}${set.index < plan.length ? `; about ${minutes(left)} left` : ''}`);
  }
  for (const mode of ['pinned', 'unpinned'] as const) {
    const sets = plan.filter((set) => set.mode === mode).map((set) => setFiles(options.out, set).json);
    let combined;
    try {
      combined = combineReports(sets.map((file) => ({ file, report: readReport(file) })));
    } catch (error) {
      throw new SetsError(`pooling the ${mode} sets: ${(error as Error).message}`);
    }
    const files = pooledFiles(options.out, mode);
    const text = renderCombined(combined);
    writeFileSync(files.txt, text + '\n');
    writeFileSync(files.json, toJsonText(combined));
    writeFileSync(files.markdown, combinedToMarkdown(combined));
    options.print(`${text}\n\nwrote ${files.txt}, ${files.json}, ${files.markdown}\n\n`);
  }
  options.log(`${plan.length} sets in ${minutes(Date.now() - started)}; every file is in ${options.out}`);
  if (failed.length > 0) {
    options.log(`a benchmark failed in set${failed.length === 1 ? '' : 's'} ${failed.map((set) => set.index).join(', ')}: its rows are pooled from the other sets only`);
    return 1;
  }
  return 0;
}
