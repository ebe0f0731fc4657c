// Order statistics for benchmark samples. Percentiles use the nearest-rank
// method on sorted data, so every reported value is one that was measured.

/** Summary of a set of measurements (same unit as the input). */
export interface Summary {
  count: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** A copy of `values` sorted ascending (numbers, not strings). */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** The p-th percentile (0..100) of ascending `sortedValues`, nearest rank; NaN when empty. */
export function percentileOfSorted(sortedValues: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const n = sortedValues.length;
  if (n === 0) return NaN;
  if (p === 0) return sortedValues[0]!;
  const rank = Math.ceil((p / 100) * n); // 1-based nearest rank
  return sortedValues[Math.min(n, Math.max(1, rank)) - 1]!;
}

/** The p-th percentile (0..100) of `values`, nearest rank. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileOfSorted(sorted(values), p);
}

/**
 * The median: the middle value, or the mean of the two middle values of an
 * even count (so a pair of runs gives their mean, not the lower one).
 */
export function median(values: ArrayLike<number>): number {
  const s = sorted(values);
  const n = s.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** count, median, p99, min, max and mean of `values`; NaN fields when empty. */
export function summarize(values: ArrayLike<number>): Summary {
  const s = sorted(values);
  const n = s.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += s[i]!;
  return {
    count: n,
    median: median(s),
    p99: percentileOfSorted(s, 99),
    min: n ? s[0]! : NaN,
    max: n ? s[n - 1]! : NaN,
    mean: n ? total / n : NaN,
  };
}

/** The 0th, 1st, ..., 100th percentiles: a compact picture of a distribution for JSON and charts. */
export function percentiles(values: ArrayLike<number>): number[] {
  const s = sorted(values);
  if (s.length === 0) return [];
  return Array.from({ length: 101 }, (_, p) => percentileOfSorted(s, p));
}

/**
 * Ratios a[i] / b[i] pair by pair (runs that ran next to each other), the
 * comparison that stays meaningful when the machine's speed drifts.
 */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a[i]! / b[i]!);
  return ratios;
}
