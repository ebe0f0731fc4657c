// The text report on stdout: a header with the machine and the pinning mode,
// then one table per benchmark (median/p99/min/max for latency, median
// MB/s or ops/s otherwise) with the pair-by-pair ratios of sockfd, each with
// its confidence interval, and every target's verdict from that interval.
import { INTERVAL_LEVEL, type MedianInterval } from './confidence.js';
import type { BenchResult, CaseResult, ImplResult, RatioResult, Report, TargetResult } from './model.js';
import { describeNoise } from './noise.js';

/** Three significant digits, no exponent: 17.94 → '17.9', 1234.5 → '1235'. */
export function significant(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toString();
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A duration in ns as text in a fitting unit: 850 → '850 ns', 17940 → '17.9 µs', 4.4e7 → '44.0 ms'. */
export function formatNs(ns: number): string {
  const magnitude = Math.abs(ns);
  if (magnitude < 1e3) return `${significant(ns)} ns`;
  if (magnitude < 1e6) return `${significant(ns / 1e3)} µs`;
  if (magnitude < 1e9) return `${significant(ns / 1e6)} ms`;
  return `${significant(ns / 1e9)} s`;
}

/** A value of a case's unit as text. */
export function formatValue(value: number, unit: CaseResult['unit']): string {
  if (unit === 'ns') return formatNs(value);
  const text = Math.round(value).toLocaleString('en-US');
  return unit === 'MB/s' ? `${text} MB/s` : `${text}/s`;
}

/** '1.27x' */
export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

/** '0.93x [0.85-0.97]': the median pair ratio and its interval (none for a single pair). */
export function formatRatioWithInterval(ratio: Pick<RatioResult, 'median' | 'interval'>): string {
  const interval = ratio.interval;
  if (interval === undefined || interval.count < 2) return formatRatio(ratio.median);
  return `${formatRatio(ratio.median)} [${interval.low.toFixed(2)}-${interval.high.toFixed(2)}]`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** One line per pair count: which order statistics bound the intervals and how often they cover the median. */
export function intervalLegend(intervals: readonly MedianInterval[]): string[] {
  const byCount = new Map<number, MedianInterval>();
  for (const interval of intervals) if (interval.count >= 2) byCount.set(interval.count, interval);
  return [...byCount.values()]
    .sort((a, b) => a.count - b.count)
    .map((i) => {
      const short = i.coverage < INTERVAL_LEVEL ? ` (below ${(INTERVAL_LEVEL * 100).toFixed(0)}%: too few pairs to decide a target)` : '';
      return `intervals of ${i.count} pairs: the ${ordinal(i.lowRank)} to ${ordinal(i.highRank)} smallest pair ratio, coverage ${(i.coverage * 100).toFixed(1)}%${short}`;
    });
}

/** The words of a target: 'at most 1.03x the time of C'. */
export function targetBound(t: Pick<TargetResult, 'meaning' | 'ratio' | 'reference'>): string {
  return t.meaning === 'time' ? `at most ${formatRatio(t.ratio)} the time of ${t.reference}` : `at least ${formatRatio(t.ratio)} the speed of ${t.reference}`;
}

/** Lays out rows of cells in columns (left-aligned text, right-aligned numbers are the caller's choice). */
export function renderGrid(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const pad = ' '.repeat(widths[i]! - [...cell].length);
          return rightAligned.has(i) ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function referencesOf(result: BenchResult): string[] {
  const seen: string[] = [];
  for (const c of result.cases) for (const r of c.ratios) if (!seen.includes(r.reference)) seen.push(r.reference);
  return seen;
}

/** The implementation the ratio columns are of; '' when several are (each row then shows its own ratios). */
function subjectOf(result: BenchResult): string | undefined {
  const subjects = new Set(result.cases.flatMap((c) => c.ratios.map((r) => r.subject)));
  if (subjects.size > 1) return '';
  return result.cases.flatMap((c) => c.ratios).at(0)?.subject;
}

function valueCells(c: CaseResult, impl: ImplResult): string[] {
  const s = impl.summary;
  if (c.kind === 'latency') return [formatNs(s.median), formatNs(s.p99), formatNs(s.min), formatNs(s.max)];
  return [formatValue(s.median, c.unit), formatValue(s.min, c.unit), formatValue(s.max, c.unit)];
}

function ratioCell(c: CaseResult, impl: string, reference: string): string {
  const ratio = c.ratios.find((r) => r.subject === impl && r.reference === reference);
  return ratio ? formatRatioWithInterval(ratio) : '';
}

/** 'met', 'MISSED' or 'undecided': capitals for the one a reader must not overlook. */
export function verdictWord(t: Pick<TargetResult, 'verdict'>): string {
  return t.verdict === 'missed' ? 'MISSED' : t.verdict;
}

function targetLines(c: CaseResult): string[] {
  return c.targets.map((t) => `target for ${c.name}: ${t.subject} ${targetBound(t)}: ${verdictWord(t)} (median ${formatRatio(t.measured)}; ${t.reason})`);
}

/**
 * The A/A line of a --control case: 'control for 4 KiB chunks: C (A/A)/C 1.01x [0.96-1.05]: contains 1.00x,
 * as it must; a no-difference ratio strays ±4.5% in this set (sockfd/C's interval: ±6.0%)'.
 */
export function controlLine(c: CaseResult): string | undefined {
  const control = c.control;
  const aa = c.ratios.find((r) => r.control === true);
  if (control === undefined || aa === undefined) return undefined;
  const spread = (half: number) => `±${(half * 100).toFixed(1)}%`;
  const subjects = c.ratios
    .filter((r) => r.control !== true && r.reference === control.reference && r.interval !== undefined && r.interval.count >= 2)
    .map((r) => `${r.subject}/${r.reference}'s interval: ${spread((r.interval!.high - r.interval!.low) / 2)}`);
  const others = subjects.length > 0 ? ` (${subjects.join(', ')})` : '';
  const head = `control for ${c.name}: ${aa.subject}/${aa.reference} ${formatRatioWithInterval(aa)}`;
  if (control.verdict === 'undecided')
    return `${head}: too few pairs for a ${(INTERVAL_LEVEL * 100).toFixed(0)}% interval; the A/A spread says little yet${others}`;
  const strays = `a no-difference ratio strays ${spread(control.halfWidth ?? 0)} in this set${others}`;
  return control.verdict === 'consistent'
    ? `${head}: contains 1.00x, as it must; ${strays}`
    : `${head}: does NOT contain 1.00x: the runs drifted or their order mattered, so this set's intervals claim too much; ${strays}`;
}

/** One benchmark as a table, with its notes and targets underneath. */
export function renderBenchResult(result: BenchResult): string {
  if (result.error !== undefined) return `${result.title}\n\n${result.error}\n(${(result.durationMs / 1000).toFixed(1)} s)`;
  const references = referencesOf(result);
  const subject = subjectOf(result);
  const lines: string[] = [result.title, ''];
  const kinds = new Set(result.cases.map((c) => c.kind));
  for (const kind of kinds) {
    const cases = result.cases.filter((c) => c.kind === kind);
    const head =
      kind === 'latency' ? ['case', 'impl', 'median', 'p99', 'min', 'max', 'runs'] : ['case', 'impl', `median ${cases[0]!.unit}`, 'min', 'max', 'runs'];
    const ratioHeads = references.map((reference) => (subject === '' ? `row/${reference}` : `${subject ?? '?'}/${reference}`));
    const rows: string[][] = [[...head.map((h) => (h.startsWith('median ') ? 'median' : h)), ...ratioHeads]];
    for (const c of cases)
      c.impls.forEach((impl, i) =>
        rows.push([i === 0 ? c.name : '', impl.impl, ...valueCells(c, impl), String(impl.runs.length), ...references.map((r) => ratioCell(c, impl.impl, r))]),
      );
    const numeric = new Set(Array.from({ length: head.length - 2 }, (_, i) => i + 2));
    lines.push(renderGrid(rows, numeric));
    lines.push(
      kind === 'latency'
        ? 'ratios: time per round, run by run: the median over pairs of neighbouring runs [its confidence interval]; below 1.00x is faster'
        : 'ratios: speed, run by run: the median over pairs of neighbouring runs [its confidence interval]; above 1.00x is faster',
    );
    lines.push(...intervalLegend(cases.flatMap((c) => c.ratios.flatMap((r) => (r.interval ? [r.interval] : [])))));
    lines.push('');
  }
  for (const c of result.cases) {
    if (c.note) lines.push(`${c.name}: ${c.note}`);
    lines.push(...targetLines(c));
    const control = controlLine(c);
    if (control !== undefined) lines.push(control);
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  const noise = describeNoise(result.cases.flatMap((c) => c.impls.flatMap((impl) => impl.noise ?? [])));
  if (noise !== undefined) lines.push(noise);
  lines.push(`(${(result.durationMs / 1000).toFixed(1)} s)`);
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}

/** The header: machine, Node, kernel, pinning mode, command. */
export function renderReportHeader(report: Pick<Report, 'machine' | 'mode' | 'command' | 'scale' | 'startedAt'>): string {
  const m = report.machine;
  return [
    `machine: ${m.cpuModel}, ${m.cpus} CPUs; ${m.os}; kernel ${m.kernel}; Node ${m.node}; ${m.cc}`,
    `mode: ${report.mode.description}${report.scale === 'full' ? '' : `; --${report.scale} (small sizes)`}`,
    `command: ${report.command}   (${report.startedAt})`,
  ].join('\n');
}
