// The wire's settings (what `lab up` and `lab set` ask for) and its counters
// (what the wire reports), as JSON files in the lab's state directory. The
// wire re-reads the settings when they change; `lab set` waits until the
// counters say the new generation is applied.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HostName, type LabNames, writeJsonAtomic } from './namespaces.js';

/** "Drop the next `count` segments [with flags F] [from host H] [carrying data]". */
export interface DropRule {
  id: number;
  count: number;
  /** tcpdump's letters, matched exactly: `S`, `S.`, `.`, `P.`, `F.`, `R`. */
  flags?: string;
  from?: HostName;
  /** Only segments with payload (true) or without (false). */
  data?: boolean;
}

export interface WireSettings {
  /** One-way delay added to every frame, ms. */
  delayMs: number;
  /** ± this many ms, uniform, around the delay (order is kept: a frame never overtakes another). */
  jitterMs: number;
  /** Share of IPv4 frames dropped at random, percent (ARP is never dropped). */
  lossPercent: number;
  /** Bits per second per direction; 0 = as fast as the wire can. */
  rateBitsPerSecond: number;
  drops: DropRule[];
  /** Bumped by every change; the wire echoes the one it applied. */
  generation: number;
}

export const defaultSettings: WireSettings = { delayMs: 0, jitterMs: 0, lossPercent: 0, rateBitsPerSecond: 0, drops: [], generation: 1 };

/** Counters of one direction of the wire. */
export interface DirectionCounters {
  /** Frames that entered the wire from this side. */
  frames: number;
  bytes: number;
  /** IPv4 frames among them (the ones --loss can drop). */
  ipv4: number;
  /** Frames sent out to the other side. */
  delivered: number;
  /** Dropped by --loss. */
  lost: number;
  /** Dropped by a teaching rule. */
  ruleDrops: number;
  /** Dropped because the rate-limited queue was full. */
  queueDrops: number;
  /** Dropped by the kernel before the wire could read them (its socket buffer was full). */
  overruns: number;
}

/** A segment a teaching rule dropped (for `lab status` and the scenarios). */
export interface DroppedSegment {
  time: string;
  from: HostName;
  summary: string;
  rule: number;
}

export interface WireCounters {
  pid: number;
  generation: number;
  startedAt: string;
  updatedAt: string;
  directions: Record<'132>133' | '133>132', DirectionCounters>;
  /** Rule id → segments it still drops. */
  remaining: Record<string, number>;
  recentDrops: DroppedSegment[];
}

/** The settings with one more teaching rule (its id the next free one). */
export function withDropRule(settings: WireSettings, rule: Omit<DropRule, 'id'>): WireSettings {
  return { ...settings, drops: [...settings.drops, { id: Math.max(0, ...settings.drops.map((r) => r.id)) + 1, ...rule }] };
}

export const settingsFile = (names: LabNames): string => join(names.stateDir, 'wire-settings.json');
export const countersFile = (names: LabNames): string => join(names.stateDir, 'wire-counters.json');

export function readSettings(names: LabNames): WireSettings {
  return { ...defaultSettings, ...(JSON.parse(readFileSync(settingsFile(names), 'utf8')) as Partial<WireSettings>) };
}

export function writeSettings(names: LabNames, settings: WireSettings): void {
  writeJsonAtomic(settingsFile(names), settings);
}

export function readCounters(names: LabNames): WireCounters | undefined {
  try {
    return JSON.parse(readFileSync(countersFile(names), 'utf8')) as WireCounters;
  } catch {
    return undefined;
  }
}

const rateUnits: Readonly<Record<string, number>> = {
  bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9,
  bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9,
};

/** `10mbit`, `512kbit`, `1gbit` (bits/s) or `100kbps` (bytes/s, as tc spells it) → bits/s. */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim());
  const unit = match ? rateUnits[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new RangeError(`a rate is a number and a unit (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps), like 10mbit; got '${text}'`);
  const bits = Number(match[1]) * unit;
  if (!(bits >= 1000 && bits <= 100e9)) throw new RangeError(`a rate must be 1kbit..100gbit, got '${text}'`);
  return bits;
}

export function formatRate(bitsPerSecond: number): string {
  if (bitsPerSecond === 0) return 'unlimited';
  for (const [unit, size] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bitsPerSecond >= size) return `${+(bitsPerSecond / size).toFixed(3)}${unit}`;
  return `${bitsPerSecond}bit`;
}

/** A number of milliseconds or a percentage from the command line, in range. */
export function parseNumber(text: string, what: string, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) throw new RangeError(`${what} must be a number 0..${max}, got '${text}'`);
  return value;
}

/** One line of the wire's settings: `delay 20 ms ± 5 ms, loss 10%, rate 10mbit, drop next 1 '.' from 133`. */
export function describeSettings(settings: WireSettings, remaining: Record<string, number> = {}): string {
  const parts = [`delay ${settings.delayMs} ms${settings.jitterMs ? ` ± ${settings.jitterMs} ms` : ''}`, `loss ${settings.lossPercent}%`, `rate ${formatRate(settings.rateBitsPerSecond)}`];
  for (const rule of settings.drops) {
    const left = remaining[String(rule.id)] ?? rule.count;
    if (left > 0) parts.push(`drop next ${left} ${describeRule(rule)}`);
  }
  return parts.join(', ');
}

export function describeRule(rule: DropRule): string {
  const what = rule.flags ? `'${rule.flags}' segment${rule.count === 1 ? '' : 's'}` : `segment${rule.count === 1 ? '' : 's'}`;
  return [what, rule.data === true ? 'with data' : rule.data === false ? 'without data' : '', rule.from ? `from ${rule.from}` : ''].filter(Boolean).join(' ');
}
