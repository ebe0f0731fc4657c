// The --json file: the whole report, with a format version so that readers
// can tell what they have. Latency distributions are kept as percentiles
// (101 values), never as millions of raw samples.
import { writeFileSync } from 'node:fs';
import type { Report } from './model.js';

/**
 * Bumped when a field changes meaning or disappears, or a reader must be able
 * to rely on a new one. 2: `statistics`, every ratio's `interval`, every
 * target's `verdict`, `reason` and `interval` (`met` keeps format 1's meaning).
 */
export const REPORT_FORMAT = 2;

/** JSON text with two-space indentation, fractions rounded to 6 significant digits (what was measured). */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 2) + '\n';
}

/** The report as JSON text (two-space indentation, numbers rounded to what was measured). */
export function reportToJson(report: Report): string {
  return toJsonText({ format: REPORT_FORMAT, ...report });
}

/** Writes the report to `path`. */
export function writeReportJson(path: string, report: Report): void {
  writeFileSync(path, reportToJson(report));
}
