// What the segments of a TCP connection say about both ends: sequence numbers
// relative to each side's ISN, the state each end is in after a segment (the
// RFC 793 state machine run from the segments seen), and the gaps that
// matter — an ACK the receiver held back (delayed ACK, ~40 ms on Linux), data
// the sender held until that ACK came (Nagle), a retransmission.
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './packet.js';

export type TcpState =
  | 'CLOSED' | 'LISTEN' | 'SYN_SENT' | 'SYN_RECV' | 'ESTABLISHED' | 'FIN_WAIT1' | 'FIN_WAIT2'
  | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT';

/** One side of a connection as the segments show it. */
interface End {
  address: string;
  state: TcpState;
  isn?: number;
  /** Highest sequence number sent so far (relative), SYN and FIN counted. */
  sentUpTo: number;
  /** Relative sequence number of this side's FIN, once sent. */
  finSeq?: number;
  /** Data from this side not yet acknowledged: relative end seq → time it reached the peer. */
  unacked: { end: number; deliveredAt: number }[];
  /** When a delayed ACK of this side's data reached this side (Nagle sends the held data then). */
  delayedAckArrivedAt?: number;
}

/** A segment in the order it was seen, with what it meant. */
export interface TrackedSegment {
  src: string;
  dst: string;
  flags: number;
  seq: number;
  ack: number;
  /** Whether `ack` is relative (the peer's ISN is known). */
  relative: boolean;
  window: number;
  length: number;
  /** The state of each end after this segment ("ip:port" → state). */
  states: Record<string, TcpState>;
  /** Delayed ACK, Nagle hold, retransmission, dropped by the wire. */
  notes: string[];
  /** The ACK waited this long (ms) after the data it acknowledges reached its sender. */
  ackDelayMs?: number;
  retransmission?: boolean;
}

const DELAYED_ACK_MIN_MS = 25; // Linux's TCP_DELACK_MIN is 40 ms; anything near it is the timer
const NAGLE_WINDOW_MS = 2;

/** Relative sequence arithmetic (mod 2^32). */
const rel = (value: number, base: number): number => (value - base) >>> 0;
const seqLess = (a: number, b: number): boolean => ((a - b) | 0) < 0;

export class Connection {
  readonly ends: [End, End];

  constructor(first: string, second: string) {
    this.ends = [
      { address: first, state: 'CLOSED', sentUpTo: 0, unacked: [] },
      { address: second, state: 'CLOSED', sentUpTo: 0, unacked: [] },
    ];
  }

  #end(address: string): [End, End] {
    return this.ends[0].address === address ? [this.ends[0], this.ends[1]] : [this.ends[1], this.ends[0]];
  }

  /**
   * Applies one segment. `sentAt` is when it was seen leaving its sender;
   * `deliveredAt` when it reached the receiver (the same time when it was
   * captured at one point), undefined when the wire dropped it.
   */
  apply(src: string, segment: TcpSegment, sentAt: number, deliveredAt: number | undefined): TrackedSegment {
    const [from, to] = this.#end(src);
    const { flags } = segment;
    const notes: string[] = [];
    const syn = (flags & TCP_SYN) !== 0;
    const fin = (flags & TCP_FIN) !== 0;
    const rst = (flags & TCP_RST) !== 0;
    const hasAck = (flags & TCP_ACK) !== 0;
    if (from.isn === undefined) {
      from.isn = segment.seq;
      // First seen mid-stream: both ends were already connected.
      if (!syn && from.state === 'CLOSED') {
        from.state = 'ESTABLISHED';
        if (to.state === 'CLOSED') to.state = 'ESTABLISHED';
      }
    }
    const seq = rel(segment.seq, from.isn);
    const relative = hasAck && to.isn !== undefined;
    const ack = relative ? rel(segment.ack, to.isn!) : segment.ack;
    const end = seq + segment.length + (syn ? 1 : 0) + (fin ? 1 : 0);
    let retransmission = false;
    if ((segment.length > 0 || syn || fin) && seqLess(seq, from.sentUpTo)) {
      retransmission = true;
      notes.push('retransmission');
    } else if (!seqLess(end, from.sentUpTo)) {
      from.sentUpTo = end;
    }

    // The sender's side of the state machine.
    if (rst) from.state = 'CLOSED';
    else if (syn && !hasAck) from.state = 'SYN_SENT';
    else if (syn && hasAck) from.state = 'SYN_RECV';
    if (fin && !rst) {
      from.finSeq = seq + segment.length;
      if (from.state === 'ESTABLISHED' || from.state === 'SYN_RECV') from.state = 'FIN_WAIT1';
      else if (from.state === 'CLOSE_WAIT') from.state = 'LAST_ACK';
    }

    // Gaps: an ACK held back by its sender; data held back for an ACK.
    let ackDelayMs: number | undefined;
    if (hasAck && relative && !syn) {
      const acked = from === this.ends[0] ? this.ends[1] : this.ends[0];
      const covered = acked.unacked.filter((data) => !seqLess(ack, data.end));
      if (covered.length > 0 && segment.length === 0 && !fin) {
        const newest = covered[covered.length - 1]!;
        ackDelayMs = sentAt - newest.deliveredAt;
        if (ackDelayMs >= DELAYED_ACK_MIN_MS) {
          notes.push(`delayed ACK: sent ${ackDelayMs.toFixed(1)} ms after the data arrived`);
          if (deliveredAt !== undefined) acked.delayedAckArrivedAt = deliveredAt;
        }
      }
      acked.unacked = acked.unacked.filter((data) => seqLess(ack, data.end));
    }
    if (segment.length > 0 && !retransmission && from.delayedAckArrivedAt !== undefined) {
      const since = sentAt - from.delayedAckArrivedAt;
      if (since >= -0.5 && since <= NAGLE_WINDOW_MS) notes.push('sent as soon as the delayed ACK arrived: Nagle held it back until then');
      from.delayedAckArrivedAt = undefined;
    }

    if (deliveredAt === undefined) {
      notes.push('dropped by the wire');
    } else {
      if ((segment.length > 0 || fin) && !retransmission) from.unacked.push({ end: seq + segment.length + (fin ? 1 : 0), deliveredAt });
      // The receiver's side.
      if (rst) {
        to.state = to.state === 'SYN_RECV' && to.isn === undefined ? 'LISTEN' : 'CLOSED';
      } else if (syn && !hasAck) {
        if (to.state === 'CLOSED' || to.state === 'LISTEN') to.state = 'SYN_RECV';
      } else if (syn && hasAck) {
        if (to.state === 'SYN_SENT') to.state = 'ESTABLISHED';
      } else {
        const acksOurFin = hasAck && relative && to.finSeq !== undefined && !seqLess(ack, to.finSeq + 1);
        if (to.state === 'SYN_RECV' && hasAck) to.state = 'ESTABLISHED';
        if (acksOurFin) {
          if (to.state === 'FIN_WAIT1') to.state = 'FIN_WAIT2';
          else if (to.state === 'CLOSING') to.state = 'TIME_WAIT';
          else if (to.state === 'LAST_ACK') to.state = 'CLOSED';
        }
        if (fin) {
          if (to.state === 'ESTABLISHED') to.state = 'CLOSE_WAIT';
          else if (to.state === 'FIN_WAIT1') to.state = 'CLOSING';
          else if (to.state === 'FIN_WAIT2') to.state = 'TIME_WAIT';
        }
      }
    }
    return {
      src,
      dst: to.address,
      flags,
      seq,
      ack,
      relative,
      window: segment.window,
      length: segment.length,
      states: { [from.address]: from.state, [to.address]: to.state },
      notes,
      ...(ackDelayMs !== undefined && { ackDelayMs }),
      ...(retransmission && { retransmission }),
    };
  }

  /** Overrides an end's state (from the kernel's tracepoint). */
  setState(address: string, state: TcpState): void {
    for (const end of this.ends) if (end.address === address) end.state = state;
  }

  stateOf(address: string): TcpState | undefined {
    return this.ends.find((end) => end.address === address)?.state;
  }
}

/** Every connection seen, by its pair of endpoints. */
export class Tracker {
  readonly #connections = new Map<string, Connection>();

  static key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  connection(src: string, dst: string): Connection {
    const key = Tracker.key(src, dst);
    let connection = this.#connections.get(key);
    if (!connection) {
      connection = new Connection(src, dst);
      this.#connections.set(key, connection);
    }
    return connection;
  }

  /** A new connection on the same pair (a SYN after the old one closed) starts afresh. */
  restart(src: string, dst: string): Connection {
    this.#connections.delete(Tracker.key(src, dst));
    return this.connection(src, dst);
  }

  find(src: string, dst: string): Connection | undefined {
    return this.#connections.get(Tracker.key(src, dst));
  }

  get connections(): Connection[] {
    return [...this.#connections.values()];
  }
}
