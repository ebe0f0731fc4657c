// The exchange drawn as the tutorial draws the handshake: the client's
// lifeline on the left, the server's on the right, time running down, one
// arrow per segment from its sender (when it left) to its receiver (when it
// arrived), labelled `SYN seq=0`, `SYN, ACK seq=0 ack=1` ..., and each end's
// state written beside its lifeline whenever it changes.
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, flagNames } from './packet.js';
import type { TraceRecord } from './trace-format.js';

const WIDTH = 820;
const LEFT = 200;
const RIGHT = 620;
const TOP = 110;
const PX_PER_MS = 3;
const MIN_STEP = 40; // px between two segments leaving, however close in time
const MAX_GAP = 90; // px for a pause; longer pauses are cut and labelled
const MIN_FLIGHT = 14; // px an arrow falls at least (loopback: no measurable flight)
const MAX_FLIGHT = 180;

/** A white outline behind a label, so an arrow crossing it does not hide it. */
const HALO = 'paint-order="stroke" stroke="#ffffff" stroke-width="4" stroke-linejoin="round"';

const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** The tutorial's label of a segment: `SYN seq=0`, `SYN, ACK seq=0 ack=1`, `PSH, ACK seq=1 ack=1 len=31`. */
export function segmentLabel(record: TraceRecord): string {
  const parts = [flagNames(record.flagBits)];
  if (record.flagBits & (TCP_SYN | TCP_FIN) || record.len > 0 || !(record.flagBits & TCP_ACK)) parts.push(`seq=${record.seq}`);
  if (record.flagBits & TCP_ACK && !(record.flagBits & TCP_RST && record.len === 0 && !(record.flagBits & TCP_SYN))) parts.push(`ack=${record.ack}`);
  if (record.len > 0) parts.push(`len=${record.len}`);
  return parts.join(' ');
}

export interface SvgOptions {
  title?: string;
  /** Where the states came from, said under the title. */
  statesFrom: string;
}

/** An SVG document of the segments of one connection (the first one seen when there are several). */
export function renderSvg(records: readonly TraceRecord[], options: SvgOptions): string {
  const first = records[0];
  const client = first ? (first.flags === 'S' ? first.src : first.dst) : 'client';
  const server = first ? (client === first.src ? first.dst : first.src) : 'server';
  const mine = records.filter((r) => (r.src === client && r.dst === server) || (r.src === server && r.dst === client));
  const x = (endpoint: string): number => (endpoint === client ? LEFT : RIGHT);

  // Where each segment leaves and arrives, top to bottom.
  // A dropped segment never arrived: draw it with the flight time its neighbours had.
  const flights = mine.filter((r) => r.arrival !== undefined).map((r) => (r.arrival! - r.time) * 1000).sort((a, b) => a - b);
  const typicalFlight = flights.length ? flights[Math.floor(flights.length / 2)]! : 0;
  const rows: { record: TraceRecord; y0: number; y1: number; gapNote?: string }[] = [];
  let y = TOP + 40;
  let lastTime = first?.time ?? 0;
  for (const [index, record] of mine.entries()) {
    const dt = (record.time - lastTime) * 1000;
    let step = dt * PX_PER_MS;
    let gapNote: string | undefined;
    if (step > MAX_GAP) {
      gapNote = `${dt >= 1000 ? `${(dt / 1000).toFixed(2)} s` : `${dt.toFixed(1)} ms`} later`;
      step = MAX_GAP;
    }
    y += index === 0 ? 0 : Math.max(MIN_STEP, step);
    const flight = (record.arrival === undefined ? (record.dropped ? typicalFlight : 0) : (record.arrival - record.time) * 1000) * PX_PER_MS;
    const y1 = y + Math.min(MAX_FLIGHT, Math.max(MIN_FLIGHT, flight));
    rows.push({ record, y0: y, y1, ...(gapNote && { gapNote }) });
    lastTime = record.time;
  }
  const bottom = Math.max(...rows.map((row) => row.y1), TOP + 80) + 60;

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.ceil(bottom)}" viewBox="0 0 ${WIDTH} ${Math.ceil(bottom)}" font-family="system-ui, 'Noto Sans CJK SC', 'PingFang SC', sans-serif" font-size="13">`);
  out.push(`<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f4e8c"/></marker>`);
  out.push(`<marker id="headRed" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b3261e"/></marker></defs>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${WIDTH / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title ?? 'TCP: every segment, both ends')}</text>`);
  out.push(`<text x="${WIDTH / 2}" y="46" text-anchor="middle" fill="#555" font-size="12">${escapeXml(options.statesFrom)}</text>`);
  out.push(`<text x="${WIDTH / 2}" y="62" text-anchor="middle" fill="#555" font-size="12">time runs down; each arrow leaves when the segment was sent and lands when it arrived</text>`);
  for (const [endpoint, name] of [[client, '客户端 client'], [server, '服务端 server']] as const) {
    out.push(`<text x="${x(endpoint)}" y="${TOP - 22}" text-anchor="middle" font-weight="bold">${escapeXml(name)}</text>`);
    out.push(`<text x="${x(endpoint)}" y="${TOP - 6}" text-anchor="middle" fill="#333">${escapeXml(endpoint)}</text>`);
    out.push(`<line x1="${x(endpoint)}" y1="${TOP}" x2="${x(endpoint)}" y2="${bottom - 30}" stroke="#444" stroke-width="2"/>`);
  }
  const lastState = new Map<string, string>();
  const lastStateY = new Map<string, number>();
  const stateText = (endpoint: string, state: string, yAt: number): void => {
    if (lastState.get(endpoint) === state) return;
    lastState.set(endpoint, state);
    const y = Math.max(yAt, (lastStateY.get(endpoint) ?? -Infinity) + 16); // never on top of the previous one
    lastStateY.set(endpoint, y);
    const left = endpoint === client;
    out.push(`<text x="${left ? LEFT - 12 : RIGHT + 12}" y="${y + 4}" text-anchor="${left ? 'end' : 'start'}" fill="#0b6b3a" font-weight="bold">${escapeXml(state)}</text>`);
  };
  for (const { record, y0, y1, gapNote } of rows) {
    if (gapNote) out.push(`<text x="${WIDTH / 2}" y="${y0 - 12}" text-anchor="middle" fill="#888" font-style="italic">… ${escapeXml(gapNote)} …</text>`);
    const x0 = x(record.src);
    const x1full = x(record.dst);
    const dropped = record.dropped === true;
    const x1 = dropped ? x0 + (x1full - x0) * 0.6 : x1full;
    const yEnd = dropped ? y0 + (y1 - y0) * 0.6 : y1;
    const special = dropped || record.retransmission || record.notes.some((n) => n.startsWith('delayed ACK'));
    const color = special ? '#b3261e' : '#1f4e8c';
    out.push(`<g class="segment" data-flags="${escapeXml(record.flags)}" data-time="${record.time.toFixed(6)}">`);
    out.push(`<line class="arrow" x1="${x0}" y1="${y0.toFixed(1)}" x2="${x1.toFixed(1)}" y2="${yEnd.toFixed(1)}" stroke="${color}" stroke-width="1.6"${dropped ? ' stroke-dasharray="5 4"' : ` marker-end="url(#${special ? 'headRed' : 'head'})"`}/>`);
    if (dropped) out.push(`<text x="${x1.toFixed(1)}" y="${(yEnd + 5).toFixed(1)}" text-anchor="middle" fill="#b3261e" font-size="16" font-weight="bold">✗</text>`);
    const midX = (x0 + x1full) / 2;
    const slopeY = (y0 + y1) / 2;
    out.push(`<text x="${midX}" y="${(slopeY - 6).toFixed(1)}" text-anchor="middle" fill="${color}" ${HALO}>${escapeXml(segmentLabel(record))}</text>`);
    const extra = [`${(record.time * 1000).toFixed(1)} ms`, ...record.notes].join(' · ');
    out.push(`<text x="${midX}" y="${(slopeY + 10).toFixed(1)}" text-anchor="middle" fill="#777" font-size="11" ${HALO}>${escapeXml(extra)}</text>`);
    out.push(`</g>`);
    stateText(record.src, record.states[record.src] ?? '', y0);
    stateText(record.dst, record.states[record.dst] ?? '', dropped ? y0 : y1);
  }
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}
