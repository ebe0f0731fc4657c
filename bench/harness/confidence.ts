// How sure a ratio is: a distribution-free confidence interval of the median
// pair ratio, and a target's verdict from it (met, missed or undecided).
//
// Method (the sign-test interval, as in any nonparametric statistics text):
// the n pair ratios of a case are taken as independent draws from one
// distribution whose median M is what a table reports. Sorted, X(1) <= ... <=
// X(n); the number of draws below M is Binomial(n, 1/2), so the interval
// [X(k), X(n+1-k)] contains M with probability 1 - 2 * sum_{i<k} C(n,i) / 2^n,
// whatever the distribution. We take the narrowest such interval whose
// coverage is at least the level (95%); with fewer than 6 pairs not even
// [min, max] reaches it, and the interval is then [min, max] with its lower
// coverage stated. No assumption of normality; nothing is resampled.
//
// What it does not cover: anything that moves every run of one invocation
// alike (where the kernel put the processes' memory, another tenant of the
// host for the whole set). Two sets can therefore disagree by more than
// their intervals; the interval is about the runs of this set.
import { sorted } from './stats.js';

/** The level the intervals aim for. */
export const INTERVAL_LEVEL = 0.95;

/** One sentence for reports (the JSON's `statistics.interval`, docs/benchmarks.md). */
export const INTERVAL_METHOD =
  'distribution-free (sign-test) confidence interval of the median pair ratio: the narrowest [k-th smallest, k-th largest] ' +
  'pair ratio whose binomial coverage 1 - 2*sum_{i<k} C(n,i)/2^n is at least 95%; below 6 pairs [min, max] with its lower coverage';

/** An interval of the median of some values, and how often such an interval contains the median. */
export interface MedianInterval {
  /** How many values it was computed from. */
  count: number;
  low: number;
  high: number;
  /** 1-based ranks of low and high among the sorted values. */
  lowRank: number;
  highRank: number;
  /** The probability that [X(lowRank), X(highRank)] contains the median (exact, binomial); 0 for one value. */
  coverage: number;
}

/** C(n, i) / 2^n for i = 0..n, exactly enough for any n a benchmark runs (summed in floating point from the log). */
function binomialHalf(n: number): number[] {
  const terms: number[] = [];
  let logC = 0; // log C(n, i)
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    terms.push(Math.exp(logC - n * Math.LN2));
  }
  return terms;
}

/** Coverage of [X(k), X(n+1-k)] for the median of n draws (k >= 1, 2k <= n + 1). */
export function orderStatisticCoverage(n: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`need at least one value, got n = ${n}`);
  if (!Number.isInteger(k) || k < 1 || 2 * k > n + 1) throw new RangeError(`rank k = ${k} is outside 1..${Math.floor((n + 1) / 2)} for n = ${n}`);
  const terms = binomialHalf(n);
  let tail = 0;
  for (let i = 0; i < k; i++) tail += terms[i]!;
  return Math.max(0, 1 - 2 * tail);
}

/** The fewest values for which [min, max] reaches `level` (6 for 95%). */
export function valuesNeededFor(level: number = INTERVAL_LEVEL): number {
  let n = 1;
  while (orderStatisticCoverage(n, 1) < level) n++;
  return n;
}

/** The distribution-free interval of the median of `values` (see the file's comment); undefined when there are none. */
export function medianInterval(values: ArrayLike<number>, level: number = INTERVAL_LEVEL): MedianInterval | undefined {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be within (0, 1), got ${level}`);
  const s = sorted(values);
  const n = s.length;
  if (n === 0) return undefined;
  let k = 1;
  while (2 * (k + 1) <= n + 1 && orderStatisticCoverage(n, k + 1) >= level) k++;
  return { count: n, low: s[k - 1]!, high: s[n - k]!, lowRank: k, highRank: n + 1 - k, coverage: orderStatisticCoverage(n, k) };
}

/** What the interval says about a target. */
export type Verdict = 'met' | 'missed' | 'undecided';

/**
 * met: the whole interval is on the target's side (time: high <= bound; speed:
 * low >= bound); missed: the whole interval is on the other side; undecided:
 * it straddles the bound, or it does not reach the level (too few pairs).
 */
export function verdictOf(
  interval: MedianInterval | undefined,
  meaning: 'time' | 'speed',
  bound: number,
  level: number = INTERVAL_LEVEL,
): { verdict: Verdict; reason: string } {
  const percent = (p: number) => `${(p * 100).toFixed(1)}%`;
  if (interval === undefined) return { verdict: 'undecided', reason: 'no pairs' };
  const range = `${interval.low.toFixed(3)}-${interval.high.toFixed(3)}x`;
  if (interval.coverage < level) {
    const needed = valuesNeededFor(level);
    return {
      verdict: 'undecided',
      reason: `${interval.count} pair${interval.count === 1 ? '' : 's'}: ${interval.count === 1 ? 'no interval' : `[min, max] ${range} covers the median only ${percent(interval.coverage)} of the time`}; ${needed} pairs reach ${percent(level)} (--runs ${needed})`,
    };
  }
  const within = `${percent(interval.coverage)} interval ${range}`;
  const [good, bad] = meaning === 'time' ? [interval.high <= bound, interval.low > bound] : [interval.low >= bound, interval.high < bound];
  if (good) return { verdict: 'met', reason: `${within}, all on the target's side of ${bound.toFixed(2)}x` };
  if (bad) return { verdict: 'missed', reason: `${within}, all on the wrong side of ${bound.toFixed(2)}x` };
  return { verdict: 'undecided', reason: `${within} contains ${bound.toFixed(2)}x` };
}
