// What a benchmark measures and reports. A case (one row group of the table)
// runs several implementations (C, sockfd, net) interleaved; each run yields
// one RunOutput; the case turns runs into summaries and pair-by-pair ratios.
import type { RunNoise } from './noise.js';
import { INTERVAL_LEVEL, medianInterval, verdictOf, type MedianInterval, type Verdict } from './confidence.js';
import { pairRatios, percentiles, summarize, type Summary } from './stats.js';

/**
 * latency: per-round times (lower is better), reported as median/p99/min/max.
 * throughput: bytes per second of whole runs (higher is better), median MB/s.
 * rate: operations per second of whole runs (higher is better), median ops/s.
 */
export type Kind = 'latency' | 'throughput' | 'rate';

/** What one run of a measuring program prints (one JSON object on stdout). */
export interface RunOutput {
  /** latency: one sample per round, nanoseconds. */
  samples_ns?: number[];
  /** throughput/rate: operations done, bytes moved, elapsed nanoseconds. */
  ops?: number;
  bytes?: number;
  ns?: number;
}

/**
 * A goal for `subject` against `reference`: for latency the time ratio must
 * be at most `ratio` (1.05 = at most 5% slower); for throughput and rate the
 * speed ratio must be at least `ratio` (0.95 = at least 95% of the speed).
 */
export interface Target {
  subject: string;
  reference: string;
  ratio: number;
}

/** One case: its name, kind, the implementations compared (table order) and an optional target. */
export interface CaseSpec {
  name: string;
  kind: Kind;
  impls: readonly string[];
  /** The implementation whose ratios are reported (default 'sockfd' when present). */
  subject?: string;
  /** More implementations whose ratios to every other are reported too (a second sockfd variant, say). */
  alsoSubjects?: readonly string[];
  /** One goal (shorthand for targets: [target]). */
  target?: Target;
  /** Goals checked on the interval of the median pair ratio; each is reported met, missed or undecided. */
  targets?: readonly Target[];
  /** A short remark printed under the case (what differs between implementations, say). */
  note?: string;
  /**
   * The implementation a --control run measures twice (usually 'C'): its second copy, named
   * controlName(control), runs interleaved like every other implementation and its ratio to the
   * first is an A/A ratio, whose true value is 1: the interval it gets is this set's noise floor.
   * The control takes part only when it is one of `impls` (measureCase puts it there).
   */
  control?: string;
  /**
   * The implementations of the case that this run leaves out (`sockfd bench --only-targets`: no target
   * and no A/A control needs them). Set by harness.measuredSpec, carried into CaseResult.leftOut.
   */
  leftOut?: readonly string[];
}

/** The name of the A/A copy of `reference` in a --control run: 'C' -> 'C (A/A)'. */
export function controlName(reference: string): string {
  return `${reference} (A/A)`;
}

/** What the A/A control of a case says (a --control run). */
export interface ControlResult {
  /** The copy ('C (A/A)') and the implementation it copies ('C'). */
  impl: string;
  reference: string;
  /**
   * consistent: the A/A interval (at the 95% level) contains 1.00x, as it should; inconsistent: it
   * does not, so the runs of this set drifted or their order mattered, and its other intervals claim
   * too much; undecided: too few pairs for a 95% interval.
   */
  verdict: 'consistent' | 'inconsistent' | 'undecided';
  /** The A/A ratio's interval, as (high - low) / 2 in ratio units: how far from 1.00x a no-difference ratio strays. */
  halfWidth?: number;
}

export interface ImplResult {
  impl: string;
  /** The metric of each run, in order: latency → the run's median ns; throughput → MB/s; rate → ops/s. */
  runs: number[];
  /** latency: over all rounds of all runs (ns); throughput/rate: over the runs (MB/s, ops/s). */
  summary: Summary;
  /** latency only: the 0th..100th percentiles of all rounds (ns), the picture the charts draw. */
  distribution?: number[];
  /** How much the machine interfered with each run, in the order of `runs` (measureCase records it). */
  noise?: RunNoise[];
}

/** subject/reference, run by run. `meaning` says which way is better. */
export interface RatioResult {
  subject: string;
  reference: string;
  /** time: subject's time / reference's time (below 1 is faster); speed: subject's rate / reference's rate (above 1 is faster). */
  meaning: 'time' | 'speed';
  pairs: number[];
  median: number;
  min: number;
  max: number;
  /** The distribution-free confidence interval of the median pair ratio (confidence.ts); absent without pairs. */
  interval?: MedianInterval;
  /** An A/A ratio (a --control run): the reference against its own second copy; its true value is 1. */
  control?: boolean;
}

export interface TargetResult extends Target {
  meaning: 'time' | 'speed';
  /** The median pair ratio. */
  measured: number;
  /** The median alone is on the target's side (a point estimate: what a format 1 report called met). */
  met: boolean;
  /** From the interval: met (all of it on the target's side), missed (all on the other), undecided (it straddles, or too few pairs). */
  verdict: Verdict;
  /** Why, in one line (the interval, its coverage, the bound). */
  reason: string;
  interval?: MedianInterval;
}

export interface CaseResult {
  name: string;
  kind: Kind;
  /** Unit of summaries and runs: 'ns' (latency), 'MB/s' (10^6 bytes/s), 'ops/s'. */
  unit: 'ns' | 'MB/s' | 'ops/s';
  impls: ImplResult[];
  ratios: RatioResult[];
  targets: TargetResult[];
  note?: string;
  /** A --control run: the A/A ratio's verdict (its ratio is the one in `ratios` with control: true). */
  control?: ControlResult;
  /** An --only-targets run: the implementations of this case it did not run (no target or control needs them). */
  leftOut?: string[];
}

export const unitOf: Record<Kind, CaseResult['unit']> = { latency: 'ns', throughput: 'MB/s', rate: 'ops/s' };

/** The per-run metric of `output` for `kind`; throws when the program printed the wrong shape. */
export function runMetric(kind: Kind, output: RunOutput): number {
  if (kind === 'latency') {
    const samples = output.samples_ns;
    if (!Array.isArray(samples) || samples.length === 0) throw new Error('a latency run must print a non-empty samples_ns array');
    return summarize(samples).median;
  }
  const { ops, bytes, ns } = output;
  if (typeof ns !== 'number' || !(ns > 0)) throw new Error(`a ${kind} run must print ns > 0`);
  if (kind === 'throughput') {
    if (typeof bytes !== 'number' || bytes < 0) throw new Error('a throughput run must print bytes');
    return (bytes * 1e3) / ns; // bytes/ns * 1e9 / 1e6
  }
  if (typeof ops !== 'number' || ops < 0) throw new Error('a rate run must print ops');
  return (ops * 1e9) / ns;
}

/** Collects the runs of one case and computes its result. */
export class CaseRecorder {
  private readonly runs = new Map<string, number[]>();
  private readonly samples = new Map<string, number[]>();

  constructor(readonly spec: CaseSpec) {
    if (spec.impls.length === 0) throw new RangeError(`case '${spec.name}' has no implementations`);
    for (const impl of spec.impls) {
      this.runs.set(impl, []);
      this.samples.set(impl, []);
    }
  }

  /** Records one measured (not warm-up) run of `impl`. */
  add(impl: string, output: RunOutput): void {
    const runs = this.runs.get(impl);
    if (!runs) throw new RangeError(`case '${this.spec.name}' has no implementation '${impl}'`);
    runs.push(runMetric(this.spec.kind, output));
    if (this.spec.kind === 'latency') {
      const pool = this.samples.get(impl)!;
      for (const sample of output.samples_ns!) pool.push(sample);
    }
  }

  result(): CaseResult {
    const { spec } = this;
    const latency = spec.kind === 'latency';
    const impls: ImplResult[] = spec.impls.map((impl) => {
      const runs = this.runs.get(impl)!;
      const pooled = latency ? this.samples.get(impl)! : runs;
      return { impl, runs, summary: summarize(pooled), ...(latency ? { distribution: percentiles(pooled) } : {}) };
    });
    const subject = spec.subject ?? (spec.impls.includes('sockfd') ? 'sockfd' : undefined);
    const meaning = latency ? 'time' : 'speed';
    const ratios: RatioResult[] = [];
    const subjects = subject === undefined ? [] : [subject, ...(spec.alsoSubjects ?? [])];
    // The A/A copy is compared with what it copies only: against anything else it would be a second C column.
    const control = spec.control !== undefined && spec.impls.includes(controlName(spec.control)) && spec.impls.includes(spec.control) ? spec.control : undefined;
    const copy = control === undefined ? undefined : controlName(control);
    const ratioOf = (who: string, reference: string, extra: Partial<RatioResult> = {}): RatioResult => {
      const pairs = pairRatios(this.runs.get(who)!, this.runs.get(reference)!);
      const s = summarize(pairs);
      const interval = medianInterval(pairs);
      return { subject: who, reference, meaning, pairs, median: s.median, min: s.min, max: s.max, ...(interval ? { interval } : {}), ...extra };
    };
    for (const who of subjects) {
      if (!this.runs.has(who)) throw new RangeError(`case '${spec.name}': subject '${who}' is not one of its implementations`);
      for (const reference of spec.impls) {
        if (reference === who || subjects.includes(reference) || reference === copy) continue;
        ratios.push(ratioOf(who, reference));
      }
    }
    let controlResult: ControlResult | undefined;
    if (control !== undefined && copy !== undefined) {
      const aa = ratioOf(copy, control, { control: true });
      ratios.push(aa);
      const interval = aa.interval;
      const decided = interval !== undefined && interval.coverage >= INTERVAL_LEVEL;
      controlResult = {
        impl: copy,
        reference: control,
        verdict: !decided ? 'undecided' : interval.low <= 1 && 1 <= interval.high ? 'consistent' : 'inconsistent',
        ...(interval !== undefined && interval.count >= 2 ? { halfWidth: (interval.high - interval.low) / 2 } : {}),
      };
    }
    const targets = [...(spec.target ? [spec.target] : []), ...(spec.targets ?? [])].map((target): TargetResult => {
      const ratio = ratios.find((r) => r.subject === target.subject && r.reference === target.reference);
      if (!ratio) throw new RangeError(`case '${spec.name}': a target compares implementations it does not run`);
      const met = latency ? ratio.median <= target.ratio : ratio.median >= target.ratio;
      const { verdict, reason } = verdictOf(ratio.interval, meaning, target.ratio);
      return { ...target, meaning, measured: ratio.median, met, verdict, reason, ...(ratio.interval ? { interval: ratio.interval } : {}) };
    });
    const result: CaseResult = { name: spec.name, kind: spec.kind, unit: unitOf[spec.kind], impls, ratios, targets };
    if (spec.note !== undefined) result.note = spec.note;
    if (controlResult !== undefined) result.control = controlResult;
    if (spec.leftOut !== undefined && spec.leftOut.length > 0) result.leftOut = [...spec.leftOut];
    return result;
  }
}

/** The result of one benchmark: what it is, how it was run, its cases. */
export interface BenchResult {
  name: string;
  title: string;
  /** What the benchmark settles and how, a paragraph for the report. */
  description: string;
  /** The sizes actually used (rounds, bytes, runs...), for the record. */
  parameters: Record<string, string | number>;
  cases: CaseResult[];
  /** Remarks found while running (a skipped implementation, a file system used...). */
  notes: string[];
  durationMs: number;
  /** Set when the benchmark failed: why (its cases are then empty). */
  error?: string;
  /** An --only-targets run: the cases it measured nothing of (a benchmark may add those it skipped itself), because no target or control needs any of their implementations. */
  leftOutCases?: string[];
}

/** Machine facts recorded with every report. */
export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  kernel: string;
  os: string;
  node: string;
  v8: string;
  cc: string;
  hostname: string;
}

export interface PinMode {
  pinned: boolean;
  /** The CPU both ends ran on when pinned. */
  cpu?: number;
  /** One sentence for the output. */
  description: string;
}

/** How the report's uncertainties were computed (stated in the JSON so a reader need not guess). */
export interface StatisticsInfo {
  /** The method of every ratio's `interval` (confidence.ts). */
  interval: string;
  /** The coverage the intervals aim for (0.95). */
  level: number;
}

/** Everything one `sockfd bench` invocation produced (the --json file). */
export interface Report {
  tool: 'sockfd bench';
  version: string;
  command: string;
  startedAt: string;
  /** --quick or --smoke: small sizes. */
  quick: boolean;
  /** 'full', 'quick' or 'smoke'. */
  scale: string;
  /**
   * --only-targets: every case ran only the implementations its targets and its A/A control need
   * (each case's `leftOut` says which it did not run; a benchmark's `leftOutCases` which cases it skipped).
   */
  onlyTargets?: boolean;
  mode: PinMode;
  machine: MachineInfo;
  statistics: StatisticsInfo;
  benchmarks: BenchResult[];
}
