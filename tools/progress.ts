// A one-line progress bar for a terminal: name, bar, percent, bytes, rate,
// ETA. The sender runs blocking system calls, so the event loop never turns
// during a transfer: the bar is drawn with a synchronous write, at most every
// `intervalMs`, from the sender's progress callback.
import { writeSync } from 'node:fs';
import { formatBytes, formatEta, formatRate } from '../lib/transfer/units.js';

export interface ProgressBarOptions {
  /** The terminal's fd (default 2: stderr, so stdout keeps only the summaries). */
  fd?: number;
  /** Terminal width in columns (default, and when 0: 80). */
  columns?: number;
  intervalMs?: number;
}

export class ProgressBar {
  readonly #fd: number;
  readonly #columns: number;
  readonly #intervalMs: number;
  readonly #started = performance.now();
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(
    readonly label: string,
    options: ProgressBarOptions = {},
  ) {
    this.#fd = options.fd ?? 2;
    this.#columns = Math.max(40, options.columns || 80); // 0 when the terminal does not say
    this.#intervalMs = options.intervalMs ?? 100;
  }

  /** The line for `done` of `total` bytes after `elapsedMs` (exported for tests of the layout). */
  render(done: number, total: number, elapsedMs: number): string {
    const fraction = total === 0 ? 1 : Math.min(1, done / total);
    const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.NaN;
    const right = ` ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatRate(done, elapsedMs)} ETA ${formatEta(done >= total ? 0 : eta)}`;
    const barWidth = Math.max(10, Math.min(30, this.#columns - right.length - 20));
    const filled = Math.round(fraction * barWidth);
    const bar = `[${'='.repeat(filled)}${filled < barWidth ? '>' : ''}${' '.repeat(Math.max(0, barWidth - filled - 1))}]`;
    const labelWidth = Math.max(1, this.#columns - 1 - bar.length - right.length - 1);
    const label = this.label.length > labelWidth ? `${this.label.slice(0, labelWidth - 1)}…` : this.label.padEnd(labelWidth);
    return `${label} ${bar}${right}`;
  }

  /** Redraws when the interval has passed (always for the final byte). */
  update(done: number, total: number): void {
    const now = performance.now();
    if (done < total && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    this.#write(`\r${this.render(done, total, now - this.#started)}\x1b[K`);
    this.#drawn = true;
  }

  /** Erases the bar so that the summary line takes its place. */
  clear(): void {
    if (this.#drawn) this.#write('\r\x1b[K');
    this.#drawn = false;
  }

  #write(text: string): void {
    try {
      writeSync(this.#fd, text);
    } catch {
      // the terminal went away: the transfer itself goes on
    }
  }
}
