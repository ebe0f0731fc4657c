// How much the machine interfered with each measured run, so that a reader can
// tell a noisy run from a slow implementation: the CPU time the hypervisor
// stole (/proc/stat), the load average, and the context switches and CPU time
// of the run's own processes - exact, from getrusage(RUSAGE_CHILDREN) before
// the run and after every process it started has ended and been reaped (the
// kernel adds a child's counts, all its threads and its own waited-for
// children, to its parent's at that moment). measureCase records one RunNoise
// per run; runs do not overlap, and the bench starts no other child meanwhile.
// Not counted (the kernel passes counts up only when a parent waits): children
// of a process that ignores SIGCHLD (the fork-per-connection servers: the
// kernel reaps them and drops their counts) and orphans of a process that
// ended before waiting for them (init reaps them). Counting those would take
// taskstats or a cgroup of the bench's own; docs/benchmarks.md says so.
import { readFileSync } from 'node:fs';
import { RUSAGE_CHILDREN } from '../../lib/constants.js';
import { getrusage, type Rusage } from '../../lib/rusage.js';

/** One run's interference. */
export interface RunNoise {
  /** CPU time stolen by the hypervisor during the run, in % of all CPU time of the machine (/proc/stat). */
  stealPercent: number;
  /** The 1-minute load average at the run's start and end (/proc/loadavg). */
  loadStart: number;
  loadEnd: number;
  /**
   * Involuntary context switches (preemptions) of the run's processes, every
   * thread of each: the RUSAGE_CHILDREN delta over the run (exact when `unreaped` is 0).
   */
  involuntarySwitches: number;
  /** Voluntary context switches (waits: blocking calls, sleeps) of the same processes. */
  voluntarySwitches: number;
  /** User plus system CPU time of the same processes, in seconds. */
  cpuSeconds: number;
  /** How many processes the run started. */
  processes: number;
  /**
   * How many of them had not ended when the counts were read (bounded wait): their
   * counts are missing, so the run's are a lower bound. 0 for every normal run.
   */
  unreaped: number;
}

/** The whole machine's CPU time so far (jiffies): steal, and the total of user..steal. */
function cpuTimes(): { steal: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { steal: fields[7] ?? 0, total: fields.reduce((sum, value) => sum + value, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}

function load1(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ', 1)[0]);
  } catch {
    return Number.NaN;
  }
}

/** How long stop() waits for the run's processes to end (they were killed or ended already: normally at once). */
const endWaitMs = 10_000;

/** Records one run: start it, tell it every process the run starts (track), stop it. */
export class NoiseRecorder {
  readonly #ended: Promise<unknown>[] = [];
  #processes = 0;
  #reaped = 0;
  readonly #childrenAtStart: Rusage = getrusage(RUSAGE_CHILDREN);
  readonly #cpuAtStart = cpuTimes();
  readonly #loadAtStart = load1();

  /** A process of this run, and a promise that settles once it has ended and been reaped (tools/processes' `finished`). */
  track(ended: Promise<unknown>): void {
    this.#processes++;
    this.#ended.push(
      ended.then(
        () => this.#reaped++,
        () => this.#reaped++, // could not start, or failed: either way not running
      ),
    );
  }

  /** Waits (bounded) until every process of the run has ended, then reads the counts. */
  async stop(): Promise<RunNoise> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, endWaitMs)));
    await Promise.race([Promise.all(this.#ended), bound]);
    clearTimeout(timer);
    const children = getrusage(RUSAGE_CHILDREN);
    const cpu = cpuTimes();
    const total = cpu.total - this.#cpuAtStart.total;
    const start = this.#childrenAtStart;
    return {
      stealPercent: total > 0 ? ((cpu.steal - this.#cpuAtStart.steal) * 100) / total : 0,
      loadStart: this.#loadAtStart,
      loadEnd: load1(),
      involuntarySwitches: children.nivcsw - start.nivcsw,
      voluntarySwitches: children.nvcsw - start.nvcsw,
      cpuSeconds: (children.utime + children.stime - start.utime - start.stime) / 1e6,
      processes: this.#processes,
      unreaped: this.#processes - this.#reaped,
    };
  }
}

let recording: NoiseRecorder | undefined;

/** Starts recording a run (measureCase: around each runOnce); runs do not overlap. */
export function startRunNoise(): NoiseRecorder {
  recording = new NoiseRecorder();
  return recording;
}

/** Ends recording `recorder`'s run and returns what it saw, once its processes have ended (bounded). */
export function stopRunNoise(recorder: NoiseRecorder): Promise<RunNoise> {
  if (recording === recorder) recording = undefined;
  return recorder.stop();
}

/** Called for every measuring program the harness starts (processes.ts), with the promise of its end. */
export function trackProcess(ended: Promise<unknown>): void {
  recording?.track(ended);
}

/** One line for the table: the spread of the runs' interference. */
export function describeNoise(noises: readonly RunNoise[]): string | undefined {
  if (noises.length === 0) return undefined;
  const loads = noises.flatMap((n) => [n.loadStart, n.loadEnd]).filter(Number.isFinite);
  const switches = noises.map((n) => n.involuntarySwitches).sort((a, b) => a - b);
  const steal = Math.max(...noises.map((n) => n.stealPercent));
  const median = switches[Math.floor((switches.length - 1) / 2)]!;
  const load = loads.length ? `load ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}` : 'load unknown';
  const inexact = noises.filter((n) => n.unreaped > 0).length;
  const exactness = inexact === 0 ? '' : ` (${inexact} of them a lower bound: a process outlived its run)`;
  return `noise over ${noises.length} runs: ${load}; steal at most ${steal.toFixed(1)}%; involuntary context switches per run median ${median}, max ${switches.at(-1)!}${exactness}`;
}
