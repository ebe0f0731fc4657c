// Sizes, rates and durations as people read them, and sizes as they type
// them (10M, 1.5GiB). One unit system, binary, for sizes and rates alike:
// the file sizes `ls -lh` shows, and rates in the same units per second.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB"; below 1 KiB exact bytes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/** Bytes per second in the units of formatBytes: "512 KiB/s", "1.50 MiB/s"; "- B/s" when no time passed. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return '- B/s';
  return `${formatBytes(Math.round((bytes / ms) * 1000))}/s`;
}

/** 1234 ms → "1.234 s"; an hour and more as h:mm:ss. */
export function formatDuration(ms: number): string {
  if (ms < 3_600_000) return `${(ms / 1000).toFixed(3)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 3600)}:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Seconds left as m:ss (or h:mm:ss), "--:--" when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor(total / 60) % 60;
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

const MULTIPLIERS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** "4096", "10M", "1.5G", "2GiB", "1t" → bytes (binary multiples); null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return null;
  const bytes = Math.floor(Number(match[1]) * MULTIPLIERS[match[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}
