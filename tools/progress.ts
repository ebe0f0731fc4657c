// A one-line progress bar for a terminal: name, bar, percent, bytes, rate,
// ETA. The sender runs blocking system calls, so the event loop never turns
// during a transfer: the bar is drawn with a synchronous write, at most every
// `intervalMs`, from the sender's progress callback. The layout is fixed:
// every field has its own width, chosen once, so frames overwrite each other
// exactly and nothing jumps while the numbers change.
import { writeSync } from 'node:fs';
import { formatBytes, formatEta, formatRate } from '../lib/transfer/units.js';

export interface ProgressBarOptions {
  /** The terminal's fd (default 2: stderr, so stdout keeps only the summaries). */
  fd?: number;
  /** Terminal width in columns (default, and when 0: 80). */
  columns?: number;
  intervalMs?: number;
}

/** The widest each field can get: "1023 KiB", "1000 KiB/s", "99:59:59". */
const BYTES_WIDTH = 8;
const RATE_WIDTH = BYTES_WIDTH + 2;
const ETA_WIDTH = 8;
/** " 100% <done>/<total> <rate> ETA <eta>" */
const RIGHT_WIDTH = 1 + 4 + 1 + BYTES_WIDTH * 2 + 1 + 1 + RATE_WIDTH + 5 + ETA_WIDTH;
const MIN_LABEL = 12;
const MIN_BAR = 10;
const MAX_BAR = 30;

/** The ETA in its fixed width; beyond 99 hours it says so instead of growing. */
function etaText(seconds: number): string {
  const text = formatEta(seconds);
  return (text.length > ETA_WIDTH ? '>99:59h' : text).padStart(ETA_WIDTH);
}

export class ProgressBar {
  readonly #fd: number;
  readonly #intervalMs: number;
  readonly #started = performance.now();
  readonly #barWidth: number;
  readonly #labelWidth: number;
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(
    readonly label: string,
    options: ProgressBarOptions = {},
  ) {
    this.#fd = options.fd ?? 2;
    // The line takes columns-1 cells (the last one would wrap on some terminals), and never less than its fields need.
    const width = Math.max(MIN_LABEL + 1 + MIN_BAR + 2 + RIGHT_WIDTH, (options.columns || 80) - 1);
    this.#barWidth = Math.max(MIN_BAR, Math.min(MAX_BAR, width - RIGHT_WIDTH - 1 - 2 - 2 * MIN_LABEL));
    this.#labelWidth = width - RIGHT_WIDTH - 1 - (this.#barWidth + 2);
    this.#intervalMs = options.intervalMs ?? 100;
  }

  /** The line for `done` of `total` bytes after `elapsedMs` (exported for tests of the layout); always the same length. */
  render(done: number, total: number, elapsedMs: number): string {
    const fraction = total === 0 ? 1 : Math.min(1, done / total);
    const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.NaN;
    const right =
      ` ${`${Math.floor(fraction * 100)}%`.padStart(4)} ${formatBytes(done).padStart(BYTES_WIDTH)}/${formatBytes(total).padEnd(BYTES_WIDTH)}` +
      ` ${formatRate(done, elapsedMs).padStart(RATE_WIDTH)} ETA ${etaText(done >= total ? 0 : eta)}`;
    const barWidth = this.#barWidth;
    const filled = Math.round(fraction * barWidth);
    const bar = `[${'='.repeat(filled)}${filled < barWidth ? '>' : ''}${' '.repeat(Math.max(0, barWidth - filled - 1))}]`;
    const chars = [...this.label];
    const label = chars.length > this.#labelWidth ? `${chars.slice(0, this.#labelWidth - 1).join('')}…` : this.label + ' '.repeat(this.#labelWidth - chars.length);
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

  /** Leaves the last frame on screen and ends its line (an interrupted transfer: the prompt starts on a line of its own). */
  end(): void {
    if (this.#drawn) this.#write('\n');
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
