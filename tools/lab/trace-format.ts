// One traced segment as `sockfd trace` prints it: a tcpdump-like line with
// both ends' states beside it, or one JSON object.

/** A segment as trace reports it. */
export interface TraceRecord {
  /** Seconds since the first segment, when it left its sender (or passed the capture point). */
  time: number;
  /** Seconds since the first segment, when it reached its receiver (lab: seen leaving the wire). */
  arrival?: number;
  src: string;
  dst: string;
  /** tcpdump's letters: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`. */
  flags: string;
  flagBits: number;
  /** Relative to the sender's ISN. */
  seq: number;
  /** Relative to the receiver's ISN (absolute before it is known). */
  ack: number;
  win: number;
  len: number;
  /** Each end's TCP state after this segment ("ip:port" → state). */
  states: Record<string, string>;
  notes: string[];
  retransmission?: boolean;
  /** For a pure ACK: ms between the data it acknowledges reaching its sender and the ACK leaving. */
  ackDelayMs?: number;
  /** The wire dropped it (a teaching rule or --loss). */
  dropped?: boolean;
  /** With the kernel tracepoint: the ends whose state change after this segment the kernel reported. */
  kernel?: string[];
}

/** The object `--json` prints (one per line). */
export function recordJson(record: TraceRecord): Record<string, unknown> {
  const { flagBits: _bits, time, arrival, ...rest } = record;
  return { time: Number(time.toFixed(6)), ...(arrival !== undefined && { arrival: Number(arrival.toFixed(6)) }), ...rest };
}

/** `133:41234` for 192.168.28.133:41234 — the lab's hosts by the tutorial's names; others in full. */
export function shortEndpoint(endpoint: string): string {
  const match = /^192\.168\.28\.(\d+):(\d+)$/.exec(endpoint);
  return match ? `${match[1]}:${match[2]}` : endpoint;
}

/** The tcpdump-like line of a segment, states and notes beside it. */
export function recordLine(record: TraceRecord): string {
  const ackPart = record.flags.includes('.') ? `, ack ${record.ack}` : '';
  const showSeq = record.len > 0 || /[SFR]/.test(record.flags);
  const segment = `${record.time.toFixed(6)} ${record.src} > ${record.dst}: [${record.flags}]${showSeq ? ` seq ${record.seq}${record.len > 0 ? `:${record.seq + record.len}` : ''}` : ''}${ackPart}, win ${record.win}, length ${record.len}`;
  const states = Object.entries(record.states)
    .map(([endpoint, state]) => `${shortEndpoint(endpoint)} ${state}${record.kernel?.includes(endpoint) ? '*' : ''}`)
    .join('  ');
  const notes = record.notes.length ? `  <- ${record.notes.join('; ')}` : '';
  return `${segment.padEnd(100)} ${states}${notes}`;
}
