// The report as Markdown tables (`--markdown FILE`), the form the results
// take in docs/benchmarks.md and the README: one table per benchmark, the
// machine and the command above them.
import type { BenchResult, CaseResult, Report } from './model.js';
import { controlLine, formatNs, formatRatio, formatRatioWithInterval, formatValue, intervalLegend, targetBound } from './table.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function ratioText(c: CaseResult, impl: string, reference: string): string {
  const ratio = c.ratios.find((r) => r.subject === impl && r.reference === reference);
  return ratio ? formatRatioWithInterval(ratio) : '';
}

function benchTable(result: BenchResult): string {
  const references = [...new Set(result.cases.flatMap((c) => c.ratios.map((r) => r.reference)))];
  const subjects = new Set(result.cases.flatMap((c) => c.ratios.map((r) => r.subject)));
  const subject = subjects.size > 1 ? 'row' : (result.cases.flatMap((c) => c.ratios).at(0)?.subject ?? 'sockfd');
  const lines: string[] = [`### ${cell(result.title)}`, ''];
  if (result.error !== undefined) return [...lines, 'Failed:', '', '```', result.error, '```'].join('\n');
  for (const kind of new Set(result.cases.map((c) => c.kind))) {
    const cases = result.cases.filter((c) => c.kind === kind);
    const values = kind === 'latency' ? ['median', 'p99', 'min', 'max'] : [`median ${cases[0]!.unit}`, 'min', 'max'];
    const head = ['case', 'impl', ...values, ...references.map((r) => `${subject}/${r}`)];
    lines.push(`| ${head.map(cell).join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const c of cases)
      for (const impl of c.impls) {
        const s = impl.summary;
        const shown = kind === 'latency' ? [s.median, s.p99, s.min, s.max].map(formatNs) : [s.median, s.min, s.max].map((v) => formatValue(v, c.unit));
        lines.push(`| ${[c.name, impl.impl, ...shown, ...references.map((r) => ratioText(c, impl.impl, r))].map(cell).join(' | ')} |`);
      }
    lines.push('');
    const legend = intervalLegend(cases.flatMap((c) => c.ratios.flatMap((r) => (r.interval ? [r.interval] : []))));
    if (legend.length > 0) lines.push(`Ratios: median pair ratio [confidence interval]; ${legend.join('; ')}.`, '');
  }
  for (const c of result.cases) {
    for (const t of c.targets)
      lines.push(`- target (${c.name}): ${t.subject} ${targetBound(t)}: **${t.verdict}** (median ${formatRatio(t.measured)}; ${t.reason})`);
    const control = controlLine(c);
    if (control !== undefined) lines.push(`- ${cell(control)}`);
  }
  return lines.join('\n').trimEnd();
}

/** The whole report as Markdown. */
export function reportToMarkdown(report: Report): string {
  const m = report.machine;
  return [
    `Machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.os}, kernel ${m.kernel}, Node ${m.node}, ${m.cc}.`,
    `Mode: ${report.mode.description}. Command: \`${report.command}\` (${report.startedAt}).`,
    '',
    ...report.benchmarks.map((b) => benchTable(b) + '\n'),
  ].join('\n');
}
