// Charts as hand-written SVG (no dependencies): latency distributions on a
// log scale (box p25-p75, line p1-p99, tick at the median, dots at min and
// max) and bars for throughput and rates. One chart per benchmark; several
// benchmarks stack into one document. An A/A control row (--control: the
// reference against itself) is drawn grey and hatched, tagged "A/A", so that
// nobody reads the noise floor as one more implementation.
import type { BenchResult, CaseResult, ImplResult, Report } from './model.js';
import { formatNs, formatValue } from './table.js';

const WIDTH = 960;
const LABEL_WIDTH = 250;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 30;
const ROW = 22;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
/** The A/A control rows: grey lines and a hatched fill (the pattern below), never a palette colour. */
const CONTROL_COLOR = '#777';
const CONTROL_FILL = 'url(#aa-hatch)';
const controlPattern =
  '<defs><pattern id="aa-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
  '<rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs>';

/** Whether `impl` is the A/A copy of its case (a --control run). */
function isControl(c: CaseResult, impl: ImplResult): boolean {
  return c.control !== undefined && c.control.impl === impl.impl;
}

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function num(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

function text(x: number, y: number, content: string, attributes = ''): string {
  const size = attributes.includes('font-size=') ? '' : ' font-size="12"';
  return `<text x="${num(x)}" y="${num(y)}" ${FONT}${size} ${attributes}>${escapeXml(content)}</text>`;
}

/** The same colour for C, sockfd and net in every chart; other names take the palette in order. */
const fixedColors: Record<string, string> = { C: palette[0]!, sockfd: palette[1]!, net: palette[2]! };

function colorOf(impls: string[], impl: string): string {
  const fixed = fixedColors[impl];
  if (fixed) return fixed;
  let index = impls.indexOf(impl) + 3;
  if (index < 3) index = impls.push(impl) - 1 + 3;
  return palette[index % palette.length]!;
}

/** A log10 axis from the decade below `min` to the decade above `max` (both > 0). */
export function logScale(min: number, max: number, left: number, right: number): { x(value: number): number; ticks: number[] } {
  const low = Math.floor(Math.log10(Math.max(min, 1e-9)));
  let high = Math.ceil(Math.log10(Math.max(max, 1e-9)));
  if (high <= low) high = low + 1;
  const ticks: number[] = [];
  for (let e = low; e <= high; e++) ticks.push(10 ** e);
  return { x: (value) => left + ((Math.log10(Math.max(value, 10 ** low)) - low) / (high - low)) * (right - left), ticks };
}

/** A linear axis from 0 to a round number at or above `max`. */
export function linearScale(max: number, left: number, right: number): { x(value: number): number; ticks: number[] } {
  const top = max > 0 ? max : 1;
  const raw = top / 5; // about five gridlines
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const end = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= end + step / 2; i++) ticks.push(i * step);
  return { x: (value) => left + (value / end) * (right - left), ticks };
}

interface Section {
  height: number;
  body: string;
}

interface Axis {
  x(value: number): number;
  ticks: number[];
}

/**
 * The layout both kinds of chart share: a bold row per case, a row per
 * implementation drawn by `drawRow` at its vertical middle, gridlines at the
 * axis ticks with their labels, and a legend line underneath.
 */
function rowsSection(
  cases: CaseResult[],
  impls: string[],
  top: number,
  axis: { scale: Axis; tickLabel(tick: number): string; gridColor: string; legend: string },
  drawRow: (c: CaseResult, impl: ImplResult, color: string, mid: number, control: boolean) => string[],
): Section {
  const parts: string[] = [];
  let y = top + 10;
  const rowsTop = y;
  for (const c of cases) {
    parts.push(text(10, y + 14, c.name, 'font-weight="bold"'));
    y += ROW;
    for (const impl of c.impls) {
      const control = isControl(c, impl);
      const mid = y + ROW / 2;
      // One group a row, named by its implementation; the A/A row also carries its tag.
      parts.push(
        `<g class="${control ? 'row aa-control' : 'row'}" data-impl="${escapeXml(impl.impl)}">`,
        ...(control ? [controlTag(mid)] : []),
        ...drawRow(c, impl, control ? CONTROL_COLOR : colorOf(impls, impl.impl), mid, control),
        '</g>',
      );
      y += ROW;
    }
    y += 6;
  }
  const grid = axis.scale.ticks.map((tick) => {
    const x = axis.scale.x(tick);
    return (
      `<line x1="${num(x)}" x2="${num(x)}" y1="${num(rowsTop)}" y2="${num(y)}" stroke="${axis.gridColor}"/>` +
      text(x, y + 16, axis.tickLabel(tick), 'text-anchor="middle" fill="#444"')
    );
  });
  const controls = cases.some((c) => c.impls.some((impl) => isControl(c, impl)));
  const legend = text(PLOT_LEFT, y + 36, controls ? `${axis.legend}; ${CONTROL_LEGEND}` : axis.legend, 'fill="#444"');
  return { height: y + 46 - top, body: [...grid, ...parts, legend].join('\n') };
}

const CONTROL_LEGEND = 'grey hatched, A/A: the reference against itself (its spread is the noise floor)';

/** The "A/A" tag left of the plot area. */
function controlTag(mid: number): string {
  return (
    `<rect x="${PLOT_LEFT - 36}" y="${num(mid - 7)}" width="30" height="14" rx="3" fill="#fff" stroke="${CONTROL_COLOR}"/>` +
    text(PLOT_LEFT - 21, mid + 4, 'A/A', `text-anchor="middle" font-size="10" fill="${CONTROL_COLOR}"`)
  );
}

/** The label of a row: an A/A row's in grey italics. */
function rowLabel(mid: number, label: string, control: boolean): string {
  return text(24, mid + 4, label, control ? `fill="${CONTROL_COLOR}" font-style="italic"` : '');
}

function latencySection(cases: CaseResult[], impls: string[], top: number): Section {
  const all = cases.flatMap((c) => c.impls.flatMap((i) => (i.distribution?.length ? [i.distribution[0]!, i.distribution[100]!] : [])));
  const scale = logScale(Math.min(...all), Math.max(...all), PLOT_LEFT, PLOT_RIGHT);
  const axis = {
    scale,
    tickLabel: (tick: number) => formatNs(tick).replace(/\.0+ /, ' '),
    gridColor: '#ccc',
    legend: 'log scale; box p25-p75, line p1-p99, black tick median, dots min and max',
  };
  return rowsSection(cases, impls, top, axis, (c, impl, color, mid, control) => {
    const parts = [rowLabel(mid, `${impl.impl}  ${formatNs(impl.summary.median)}`, control)];
    const d = impl.distribution;
    if (!d || d.length !== 101) return parts;
    const [x1, x25, x50, x75, x99] = [d[1]!, d[25]!, d[50]!, d[75]!, d[99]!].map((v) => scale.x(v)) as [number, number, number, number, number];
    const summary = `${c.name} ${impl.impl}: median ${formatNs(d[50]!)}, p99 ${formatNs(d[99]!)}, min ${formatNs(d[0]!)}, max ${formatNs(d[100]!)}`;
    parts.push(
      `<g><title>${escapeXml(summary)}</title>`,
      `<line x1="${num(x1)}" x2="${num(x99)}" y1="${num(mid)}" y2="${num(mid)}" stroke="${color}" stroke-width="2"${control ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<rect x="${num(x25)}" y="${num(mid - 6)}" width="${num(Math.max(1, x75 - x25))}" height="12" ${control ? `fill="${CONTROL_FILL}"` : `fill="${color}" fill-opacity="0.35"`} stroke="${color}"/>`,
      `<line x1="${num(x50)}" x2="${num(x50)}" y1="${num(mid - 8)}" y2="${num(mid + 8)}" stroke="#000" stroke-width="2"/>`,
      ...[d[0]!, d[100]!].map((v) => `<circle cx="${num(scale.x(v))}" cy="${num(mid)}" r="2.5" fill="${color}"/>`),
      '</g>',
    );
    return parts;
  });
}

function barSection(cases: CaseResult[], impls: string[], top: number): Section {
  const unit = cases[0]!.unit;
  const scale = linearScale(Math.max(...cases.flatMap((c) => c.impls.map((i) => i.summary.max))), PLOT_LEFT, PLOT_RIGHT - 60);
  const axis = {
    scale,
    tickLabel: (tick: number) => Math.round(tick).toLocaleString('en-US'),
    gridColor: '#ddd',
    legend: `${unit}; bar: median of the runs, line: min to max`,
  };
  return rowsSection(cases, impls, top, axis, (c, impl, color, mid, control) => {
    const s = impl.summary;
    const width = num(Math.max(0, scale.x(s.median) - PLOT_LEFT));
    return [
      rowLabel(mid, impl.impl, control),
      control
        ? `<rect x="${PLOT_LEFT}" y="${num(mid - 7)}" width="${width}" height="14" fill="${CONTROL_FILL}" stroke="${color}"/>`
        : `<rect x="${PLOT_LEFT}" y="${num(mid - 7)}" width="${width}" height="14" fill="${color}" fill-opacity="0.8"/>`,
      // The spread of the runs, min to max.
      `<line x1="${num(scale.x(s.min))}" x2="${num(scale.x(s.max))}" y1="${num(mid)}" y2="${num(mid)}" stroke="#000"/>`,
      text(scale.x(s.max) + 6, mid + 4, formatValue(s.median, c.unit), 'fill="#222"'),
    ];
  });
}

/** The chart of one benchmark as SVG elements, `top` pixels down; returns its height. */
export function benchChart(result: BenchResult, top: number, subtitle: string): Section {
  const impls: string[] = [];
  const parts = [text(10, top + 22, result.title, 'font-size="16" font-weight="bold"'), text(10, top + 40, subtitle, 'fill="#555"')];
  let y = top + 50;
  const latency = result.cases.filter((c) => c.kind === 'latency' && c.impls.some((i) => i.distribution?.length));
  const speeds = (['throughput', 'rate'] as const).map((kind) => result.cases.filter((c) => c.kind === kind));
  if (latency.length) {
    const section = latencySection(latency, impls, y);
    parts.push(section.body);
    y += section.height;
  }
  for (const cases of speeds) {
    if (!cases.length) continue;
    const section = barSection(cases, impls, y);
    parts.push(section.body);
    y += section.height;
  }
  return { height: y - top + 10, body: parts.join('\n') };
}

/** A whole SVG document with one chart per benchmark of the report, stacked. */
export function reportToSvg(report: Pick<Report, 'benchmarks' | 'machine' | 'mode'>): string {
  const subtitle = `${report.machine.cpuModel}, ${report.machine.cpus} CPUs, kernel ${report.machine.kernel}, Node ${report.machine.node}; ${report.mode.pinned ? `pinned to CPU ${report.mode.cpu}` : 'unpinned'}`;
  const sections: string[] = [];
  let y = 0;
  for (const result of report.benchmarks) {
    const chart = benchChart(result, y, subtitle);
    sections.push(`<g>\n${chart.body}\n</g>`);
    y += chart.height;
  }
  const height = Math.max(y, 60);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${num(height)}" viewBox="0 0 ${WIDTH} ${num(height)}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    // The hatch of the A/A rows, defined once and only where one is drawn.
    ...(report.benchmarks.some((b) => b.cases.some((c) => c.impls.some((impl) => isControl(c, impl)))) ? [controlPattern] : []),
    ...sections,
    '</svg>',
    '',
  ].join('\n');
}
