// `sockfd bench --combine A.json B.json ...`: the pair ratios of several
// invocations (sets) of the same benchmarks, pooled per case and ratio, with
// the interval and target verdicts of the pool and of each set. One set's
// interval sees only the variation between its own runs; sets run at
// different times also see what moves a whole set (docs/benchmarks.md), and
// when two sets' intervals do not even overlap the pooled one is flagged:
// its pairs are then not draws of one distribution and it claims too much.
import { readFileSync } from 'node:fs';
import { INTERVAL_LEVEL, INTERVAL_METHOD, medianInterval, verdictOf, type MedianInterval, type Verdict } from './confidence.js';
import type { PinMode, RatioResult, Report, Target } from './model.js';
import { median } from './stats.js';
import { formatRatio, formatRatioWithInterval, intervalLegend, renderGrid, targetBound, verdictWord } from './table.js';

/** One set's part of a pooled ratio. */
export interface SetRatio {
  /** Index into CombinedReport.sources. */
  set: number;
  pairs: number[];
  median: number;
  interval?: MedianInterval;
}

export interface CombinedRatio {
  subject: string;
  reference: string;
  meaning: 'time' | 'speed';
  sets: SetRatio[];
  /** Every set's pairs, in the order of the sets. */
  pairs: number[];
  median: number;
  interval?: MedianInterval;
  /** Two sets whose intervals (each at the level) do not overlap: the pool is not one distribution. */
  setsDisagree: boolean;
}

export interface CombinedTarget extends Target {
  meaning: 'time' | 'speed';
  measured: number;
  verdict: Verdict;
  reason: string;
  /** Each set's own verdict, in the order of `sets` of its ratio. */
  setVerdicts: Verdict[];
}

export interface CombinedCase {
  benchmark: string;
  name: string;
  ratios: CombinedRatio[];
  targets: CombinedTarget[];
}

export interface CombinedReport {
  tool: 'sockfd bench --combine';
  format: 2;
  sources: { file: string; command: string; startedAt: string; mode: PinMode; scale: string }[];
  statistics: { interval: string; level: number; pooling: string };
  cases: CombinedCase[];
}

/** A report read from a --json file (format 1 has no intervals; they are recomputed from the pairs). */
export function readReport(file: string): Report {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${error instanceof SyntaxError ? 'not JSON' : (error as Error).message}`);
  }
  const report = parsed as Partial<Report> & { format?: unknown };
  if (report.tool !== 'sockfd bench' || !Array.isArray(report.benchmarks) || typeof report.mode !== 'object')
    throw new Error(`${file}: not a report of sockfd bench --json`);
  return report as Report;
}

const POOLING =
  "each set's pair ratios as they were measured, pooled per case and ratio (sets in the order given); a set's own interval and verdict beside the pool's";

/** Pools the reports (same mode and scale; refuses otherwise: a pinned and an unpinned ratio are different quantities). */
export function combineReports(reports: readonly { file: string; report: Report }[]): CombinedReport {
  if (reports.length < 2) throw new Error('--combine needs at least two reports');
  const [first] = reports;
  for (const { file, report } of reports) {
    if (report.mode.pinned !== first!.report.mode.pinned || report.mode.cpu !== first!.report.mode.cpu)
      throw new Error(`${file} was run ${report.mode.description}, ${first!.file} ${first!.report.mode.description}: only sets of one mode combine`);
    if (report.scale !== first!.report.scale) throw new Error(`${file} is a ${report.scale} run, ${first!.file} a ${first!.report.scale} one: only sets of one scale combine`);
    if ((report.onlyTargets === true) !== (first!.report.onlyTargets === true))
      throw new Error(`${file} was run ${report.onlyTargets === true ? 'with' : 'without'} --only-targets, ${first!.file} ${first!.report.onlyTargets === true ? 'with' : 'without'}: only sets that ran the same implementations combine`);
  }
  // A round of other implementations spaces a pair's two runs differently in time, so its pair ratios are
  // draws of another distribution: the sets must have run the same implementations in every case they share
  // (an A/A copy aside: a --control set combines with one without, as its copy only adds its own ratio).
  const implsOf = new Map<string, { file: string; impls: string[] }>();
  for (const { file, report } of reports)
    for (const bench of report.benchmarks)
      for (const c of bench.cases) {
        const key = `${bench.name}\u0000${c.name}`;
        const impls = c.impls.map((i) => i.impl).filter((impl) => impl !== c.control?.impl);
        const seen = implsOf.get(key);
        if (seen === undefined) implsOf.set(key, { file, impls });
        else if (seen.impls.join('\u0000') !== impls.join('\u0000'))
          throw new Error(
            `${bench.name} ${c.name}: ${file} ran ${impls.join(', ')}, ${seen.file} ran ${seen.impls.join(', ')}: only sets that ran the same implementations combine (their rounds space the pairs differently)`,
          );
      }
  const cases = new Map<string, CombinedCase>();
  const targetsOf = new Map<string, { target: Target; meaning: 'time' | 'speed' }[]>();
  reports.forEach(({ report }, set) => {
    for (const bench of report.benchmarks)
      for (const c of bench.cases) {
        const key = `${bench.name}\u0000${c.name}`;
        let combined = cases.get(key);
        if (combined === undefined) cases.set(key, (combined = { benchmark: bench.name, name: c.name, ratios: [], targets: [] }));
        for (const r of c.ratios as RatioResult[]) {
          let ratio = combined.ratios.find((x) => x.subject === r.subject && x.reference === r.reference);
          if (ratio === undefined) {
            ratio = { subject: r.subject, reference: r.reference, meaning: r.meaning, sets: [], pairs: [], median: NaN, setsDisagree: false };
            combined.ratios.push(ratio);
          }
          const interval = medianInterval(r.pairs);
          ratio.sets.push({ set, pairs: [...r.pairs], median: median(r.pairs), ...(interval ? { interval } : {}) });
        }
        const known = targetsOf.get(key) ?? [];
        for (const t of c.targets)
          if (!known.some((k) => k.target.subject === t.subject && k.target.reference === t.reference && k.target.ratio === t.ratio))
            known.push({ target: { subject: t.subject, reference: t.reference, ratio: t.ratio }, meaning: t.meaning });
        targetsOf.set(key, known);
      }
  });
  for (const [key, combined] of cases) {
    for (const ratio of combined.ratios) {
      ratio.pairs = ratio.sets.flatMap((s) => s.pairs);
      ratio.median = median(ratio.pairs);
      const interval = medianInterval(ratio.pairs);
      if (interval) ratio.interval = interval;
      const decided = ratio.sets.filter((s) => s.interval !== undefined && s.interval.coverage >= INTERVAL_LEVEL);
      ratio.setsDisagree = decided.some((a) => decided.some((b) => a.interval!.high < b.interval!.low));
    }
    combined.targets = (targetsOf.get(key) ?? []).flatMap(({ target, meaning }) => {
      const ratio = combined.ratios.find((r) => r.subject === target.subject && r.reference === target.reference);
      if (ratio === undefined) return [];
      let { verdict, reason } = verdictOf(ratio.interval, meaning, target.ratio);
      reason = reason.replace(/ \(--runs \d+\)/, ''); // pooled pairs come from several sets: more sets, or --runs per set
      if (ratio.setsDisagree) {
        reason = `the sets disagree (their intervals do not overlap), so the pooled interval claims too much; pooled: ${reason}`;
        verdict = 'undecided';
      }
      const setVerdicts = ratio.sets.map((s) => verdictOf(s.interval, meaning, target.ratio).verdict);
      return [{ ...target, meaning, measured: ratio.median, verdict, reason, setVerdicts }];
    });
  }
  return {
    tool: 'sockfd bench --combine',
    format: 2,
    sources: reports.map(({ file, report }) => ({ file, command: report.command, startedAt: report.startedAt, mode: report.mode, scale: report.scale })),
    statistics: { interval: INTERVAL_METHOD, level: INTERVAL_LEVEL, pooling: POOLING },
    cases: [...cases.values()],
  };
}

/** The pooled ratios as a table, then every target's verdict, pooled and per set. */
export function renderCombined(combined: CombinedReport): string {
  const lines = [
    `combined ${combined.sources.length} sets, ${combined.sources[0]!.mode.description}:`,
    ...combined.sources.map((s, i) => `  set ${i + 1}: ${s.file} (${s.startedAt}: ${s.command})`),
    '',
  ];
  const rows: string[][] = [['benchmark', 'case', 'ratio', 'pairs', 'pooled', ...combined.sources.map((_, i) => `set ${i + 1}`)]];
  for (const c of combined.cases)
    for (const r of c.ratios)
      rows.push([
        c.benchmark,
        c.name,
        `${r.subject}/${r.reference}`,
        String(r.pairs.length),
        formatRatioWithInterval(r) + (r.setsDisagree ? ' (sets disagree)' : ''),
        ...combined.sources.map((_, i) => {
          const s = r.sets.find((x) => x.set === i);
          return s ? formatRatioWithInterval(s) : '-';
        }),
      ]);
  lines.push(renderGrid(rows, new Set([3])));
  lines.push(...intervalLegend(combined.cases.flatMap((c) => c.ratios.flatMap((r) => [r.interval, ...r.sets.map((s) => s.interval)].filter((i) => i !== undefined)))));
  lines.push(`ratios: median pair ratio [its ${(INTERVAL_LEVEL * 100).toFixed(0)}% distribution-free interval]; ${combined.statistics.pooling}`);
  for (const c of combined.cases)
    for (const t of c.targets)
      lines.push(
        `target for ${c.benchmark} ${c.name}: ${t.subject} ${targetBound(t)}: ${verdictWord(t)} (pooled median ${formatRatio(t.measured)}; ${t.reason}); per set: ${t.setVerdicts.join(', ')}`,
      );
  return lines.join('\n');
}

/** A Markdown table cell: pipes escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/**
 * The pooled ratios as Markdown (as in docs/benchmarks.md): the sets, one table row per case and ratio
 * (pairs, the pooled median and interval, each set's), then every target's pooled and per-set verdicts.
 */
export function combinedToMarkdown(combined: CombinedReport): string {
  const head = ['benchmark', 'case', 'ratio', 'pairs', 'pooled', ...combined.sources.map((_, i) => `set ${i + 1}`)];
  const lines = [
    `Pooled ${combined.sources.length} sets, ${combined.sources[0]!.mode.description}:`,
    '',
    ...combined.sources.map((s, i) => `${i + 1}. \`${cell(s.file)}\` (${s.startedAt}): \`${s.command}\``),
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const c of combined.cases)
    for (const r of c.ratios) {
      const sets = combined.sources.map((_, i) => {
        const s = r.sets.find((x) => x.set === i);
        return s ? formatRatioWithInterval(s) : '-';
      });
      const pooled = formatRatioWithInterval(r) + (r.setsDisagree ? ' (sets disagree)' : '');
      lines.push(`| ${[c.benchmark, c.name, `${r.subject}/${r.reference}`, String(r.pairs.length), pooled, ...sets].map(cell).join(' | ')} |`);
    }
  lines.push('');
  const legend = intervalLegend(combined.cases.flatMap((c) => c.ratios.flatMap((r) => (r.interval ? [r.interval] : []))));
  lines.push(`Ratios: median pair ratio [its ${(INTERVAL_LEVEL * 100).toFixed(0)}% distribution-free interval]${legend.length > 0 ? `; ${legend.join('; ')}` : ''}.`, '');
  for (const c of combined.cases)
    for (const t of c.targets)
      lines.push(
        `- target (${cell(`${c.benchmark} ${c.name}`)}): ${t.subject} ${targetBound(t)}: **${verdictWord(t)}** (pooled median ${formatRatio(t.measured)}; ${cell(t.reason)}); per set: ${t.setVerdicts.join(', ')}`,
      );
  return lines.join('\n').trimEnd() + '\n';
}
