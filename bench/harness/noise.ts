// How much the machine interfered with each measured run, so that a reader can
// tell a noisy run from a slow implementation: the CPU time the hypervisor
// stole (/proc/stat), the load average, and the involuntary context switches
// of the run's own processes (every thread of every program the run started,
// from /proc/PID/task/TID/status). measureCase records one RunNoise per run.
import { readdirSync, readFileSync } from 'node:fs';

/** One run's interference. */
export interface RunNoise {
  /** CPU time stolen by the hypervisor during the run, in % of all CPU time of the machine (/proc/stat). */
  stealPercent: number;
  /** The 1-minute load average at the run's start and end (/proc/loadavg). */
  loadStart: number;
  loadEnd: number;
  /**
   * Involuntary context switches (preemptions) of the run's processes, all
   * threads: sampled every 50 ms while they run and once more at the run's end,
   * so the last moments of a process that already exited are missed (a lower bound).
   */
  involuntarySwitches: number;
  /** How many processes the run started. */
  processes: number;
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

/** Each live thread of `pid` with its involuntary context switches so far. */
function threadSwitches(pid: number): [number, number][] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // ended (and reaped)
  }
  const result: [number, number][] = [];
  for (const tid of tids) {
    try {
      const match = /^nonvoluntary_ctxt_switches:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (match) result.push([Number(tid), Number(match[1])]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return result;
}

/** Records one run: start it, tell it every process the run starts (trackProcess), stop it. */
export class NoiseRecorder {
  readonly #pids = new Set<number>();
  /** The highest count seen per thread id (a thread's count is lost from /proc once it ends). */
  readonly #switches = new Map<number, number>();
  readonly #cpuAtStart = cpuTimes();
  readonly #loadAtStart = load1();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.#sample(), 50);
    this.#timer.unref();
  }

  track(pid: number): void {
    this.#pids.add(pid);
    this.#sampleOne(pid);
  }

  #sampleOne(pid: number): void {
    for (const [tid, count] of threadSwitches(pid)) this.#switches.set(tid, Math.max(count, this.#switches.get(tid) ?? 0));
  }

  #sample(): void {
    for (const pid of this.#pids) this.#sampleOne(pid);
  }

  stop(): RunNoise {
    clearInterval(this.#timer);
    this.#sample();
    const cpu = cpuTimes();
    const total = cpu.total - this.#cpuAtStart.total;
    let involuntarySwitches = 0;
    for (const count of this.#switches.values()) involuntarySwitches += count;
    return {
      stealPercent: total > 0 ? ((cpu.steal - this.#cpuAtStart.steal) * 100) / total : 0,
      loadStart: this.#loadAtStart,
      loadEnd: load1(),
      involuntarySwitches,
      processes: this.#pids.size,
    };
  }
}

let recording: NoiseRecorder | undefined;

/** Starts recording a run (measureCase: around each runOnce); runs do not overlap. */
export function startRunNoise(): NoiseRecorder {
  recording = new NoiseRecorder();
  return recording;
}

/** Ends recording `recorder`'s run and returns what it saw. */
export function stopRunNoise(recorder: NoiseRecorder): RunNoise {
  if (recording === recorder) recording = undefined;
  return recorder.stop();
}

/** Called for every measuring program the harness starts (processes.ts). */
export function trackProcess(pid: number | undefined): void {
  if (pid !== undefined) recording?.track(pid);
}

/** One line for the table: the spread of the runs' interference. */
export function describeNoise(noises: readonly RunNoise[]): string | undefined {
  if (noises.length === 0) return undefined;
  const loads = noises.flatMap((n) => [n.loadStart, n.loadEnd]).filter(Number.isFinite);
  const switches = noises.map((n) => n.involuntarySwitches).sort((a, b) => a - b);
  const steal = Math.max(...noises.map((n) => n.stealPercent));
  const median = switches[Math.floor((switches.length - 1) / 2)]!;
  const load = loads.length ? `load ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}` : 'load unknown';
  return `noise over ${noises.length} runs: ${load}; steal at most ${steal.toFixed(1)}%; involuntary context switches per run median ${median}, max ${switches.at(-1)!}`;
}
