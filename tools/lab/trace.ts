// `sockfd trace`: capture TCP segments with sockfd's own AF_PACKET sockets
// and report each with both ends' states.
//
// On one interface (`--interface IF`, lo included) every frame seen is one
// segment, in capture order, as tcpdump shows them. On the lab's wire
// (`--lab`, run inside the wire namespace) both of the wire's interfaces are
// captured: a frame coming in from a host is a segment leaving it, the same
// frame going out on the other side is its arrival. So each segment is
// reported once, with when it left and when it arrived (or that the wire
// dropped it), and the receiver's state changes only when it did arrive.
import { readFileSync } from 'node:fs';
import {
  AF_PACKET, ARPHRD_LOOPBACK, ETH_P_ALL, MSG_DONTWAIT, PACKET_OUTGOING, POLLIN, SOCK_RAW,
  SOL_SOCKET, SO_TIMESTAMPNS, bind, close, htons, isSyscallError, poll, setsockopt, socket,
} from '../../lib/posix.js';
import { recvmsg } from '../../lib/msg.js';
import { type HostName, hostNames, wireInterface } from './namespaces.js';
import { type Frame, TCP_SYN, TCP_ACK, decodeFrame, flagLetters } from './packet.js';
import { type TraceRecord } from './trace-format.js';
import { Tracker } from './tcp-tracker.js';
import { KernelStates } from './kernel-states.js';

export interface CaptureOptions {
  /** Capture on the wire's two interfaces (we run inside the wire namespace). */
  lab: boolean;
  interface?: string;
  port?: number;
  count?: number;
  /** Seconds after which an unmatched segment counts as dropped by the wire. */
  dropAfterMs?: number;
  /** Use sock:inet_sock_set_state when it is available. */
  kernelStates: boolean;
  onRecord(record: TraceRecord): void;
  /** Told once, before the first record: where the states come from. */
  onStatesSource?(text: string): void;
  /** Resolves when capture should stop (Ctrl+C). */
  stopped: () => boolean;
}

interface Pending {
  key: string;
  frame: Frame;
  sentAt: number;
  from?: HostName;
}

function ifindexOf(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new Error(`no interface '${name}' here`);
  }
}

/** A packet socket for every frame on `ifname` (on every interface when undefined). */
function openCapture(ifname: string | undefined): number {
  const fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  try {
    // The kernel's receive time of each frame (not when this loop got to it: the machine may be busy).
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    bind(fd, ifname === undefined ? { family: 'AF_PACKET', protocol: ETH_P_ALL, ifindex: 0 } : { family: 'AF_PACKET', protocol: ETH_P_ALL, ifname });
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

const frameKey = (frame: Frame): string => {
  const ip = frame.ipv4!;
  const tcp = frame.tcp!;
  return `${ip.src}:${tcp.srcPort}>${ip.dst}:${tcp.dstPort}#${ip.id}/${tcp.seq}/${tcp.ack}/${tcp.flags}/${tcp.length}`;
};

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** CLOCK_MONOTONIC in ms: the clock the kernel's trace events carry (trace_clock mono). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
/** How long a segment waits for the kernel's state events before it is reported. */
const SETTLE_MS = 3;

/** Captures until `count` segments were reported or `stopped()`; resolves to how many were. */
export async function capture(options: CaptureOptions): Promise<number> {
  // On the wire one socket sees both interfaces, so a frame's arrival on one side
  // and its departure on the other come in the order the kernel saw them.
  const sides: { fd: number; ifindex: number; host?: HostName }[] = [{ fd: openCapture(options.lab ? undefined : (options.interface ?? 'lo')), ifindex: 0 }];
  const hostOfIfindex = new Map<number, HostName>(options.lab ? hostNames.map((host) => [ifindexOf(wireInterface[host]), host]) : []);
  const kernel = options.kernelStates ? KernelStates.start() : undefined;
  if (kernel) await kernel.ready();
  options.onStatesSource?.(
    kernel?.available
      ? "states: derived from the segments and checked against the kernel's own tracepoint sock:inet_sock_set_state (* = the kernel reported that transition; it does not report a request socket's SYN_RECV or TIME_WAIT)"
      : `states: derived from the segments${kernel?.why ? ` (${kernel.why})` : ''}`,
  );
  const tracker = new Tracker();
  const pending: Pending[] = [];
  const buffer = Buffer.allocUnsafe(65536);
  const pollSet = sides.map((side) => ({ fd: side.fd, events: POLLIN, revents: 0 }));
  // Kernel timestamps are CLOCK_REALTIME; everything else here is CLOCK_MONOTONIC.
  const realtimeOffset = Date.now() - monotonicMs();
  let origin: number | undefined;
  let reported = 0;
  const dropAfter = options.dropAfterMs ?? 1000;
  const done = (): boolean => options.stopped() || (options.count !== undefined && reported >= options.count);

  const report = (frame: Frame, sentAt: number, deliveredAt: number | undefined): void => {
    if (options.count !== undefined && reported >= options.count) return;
    const ip = frame.ipv4!;
    const tcp = frame.tcp!;
    const src = `${ip.src}:${tcp.srcPort}`;
    const dst = `${ip.dst}:${tcp.dstPort}`;
    origin ??= sentAt;
    // A SYN on a pair whose last connection ended starts a new connection.
    let connection = tracker.find(src, dst);
    if ((tcp.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && connection && connection.stateOf(src) !== 'SYN_SENT') connection = tracker.restart(src, dst);
    connection ??= tracker.connection(src, dst);
    const before = connection.ends.map((end) => end.state);
    const tracked = connection.apply(src, tcp, sentAt, deliveredAt);
    const states: Record<string, string> = {};
    const confirmed: string[] = [];
    for (const [index, end] of connection.ends.entries()) {
      states[end.address] = end.state;
      const peer = connection.ends[1 - index]!.address;
      if (kernel?.available && end.state !== before[index] && kernel.confirm(end.address, peer, end.state)) confirmed.push(end.address);
    }
    const record: TraceRecord = {
      time: (sentAt - origin) / 1000,
      ...(deliveredAt !== undefined && options.lab && { arrival: (deliveredAt - origin) / 1000 }),
      src,
      dst,
      flags: flagLetters(tcp.flags),
      flagBits: tcp.flags,
      seq: tracked.seq,
      ack: tracked.ack,
      win: tcp.window,
      len: tcp.length,
      states,
      notes: tracked.notes,
      ...(tracked.retransmission && { retransmission: true }),
      ...(tracked.ackDelayMs !== undefined && { ackDelayMs: Number(tracked.ackDelayMs.toFixed(3)) }),
      ...(deliveredAt === undefined && { dropped: true }),
      ...(kernel?.available && { kernel: confirmed }),
    };
    reported++;
    options.onRecord(record);
  };

  // With the kernel's events, a segment is reported a few ms after it arrived, once they are in.
  const settling: { frame: Frame; sentAt: number; deliveredAt: number | undefined; readyAt: number }[] = [];
  const settle = (frame: Frame, sentAt: number, deliveredAt: number | undefined): void => {
    if (!kernel?.available) return report(frame, sentAt, deliveredAt);
    settling.push({ frame, sentAt, deliveredAt, readyAt: (deliveredAt ?? sentAt) + SETTLE_MS });
  };
  const flushSettled = (all: boolean): void => {
    const now = monotonicMs();
    while (settling.length > 0 && (all || settling[0]!.readyAt <= now)) {
      const next = settling.shift()!;
      report(next.frame, next.sentAt, next.deliveredAt);
    }
  };

  const wanted = (frame: Frame | undefined): frame is Frame =>
    frame?.tcp !== undefined && frame.ipv4 !== undefined && (options.port === undefined || frame.tcp.srcPort === options.port || frame.tcp.dstPort === options.port);

  try {
    while (!done()) {
      // Kernel state events arrive between polls (tick); settled segments go out here.
      flushSettled(false);
      const now = monotonicMs();
      while (pending.length > 0 && now - pending[0]!.sentAt > dropAfter) {
        const lost = pending.shift()!;
        settle(lost.frame, lost.sentAt, undefined);
      }
      poll(pollSet, settling.length > 0 ? 1 : 10);
      for (const [index, side] of sides.entries()) {
        if ((pollSet[index]!.revents & POLLIN) === 0) continue;
        for (let burst = 0; burst < 64; burst++) {
          let received;
          try {
            received = recvmsg(side.fd, [buffer], 64, MSG_DONTWAIT);
          } catch (error) {
            if (isSyscallError(error) && (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK')) break;
            throw error;
          }
          const stamp = received.control.find((c) => c.type === 'SO_TIMESTAMPNS');
          const at = stamp && stamp.type === 'SO_TIMESTAMPNS' ? stamp.sec * 1000 + stamp.nsec / 1e6 - realtimeOffset : monotonicMs();
          const frame = decodeFrame(buffer.subarray(0, received.bytes));
          if (!wanted(frame)) continue;
          if (!options.lab) {
            // On a loopback device every frame shows twice, leaving and coming back: keep one (as libpcap does).
            const address = received.address as { pkttype?: number; hatype?: number };
            if (address.hatype === ARPHRD_LOOPBACK && address.pkttype === PACKET_OUTGOING) continue;
            settle(frame, at, at);
            continue;
          }
          const address = received.address as { pkttype?: number; ifindex?: number };
          const host = hostOfIfindex.get(address.ifindex ?? -1);
          if (host === undefined) continue;
          const key = frameKey(frame);
          if (address.pkttype !== PACKET_OUTGOING) {
            pending.push({ key, frame, sentAt: at, from: host });
          } else {
            const index = pending.findIndex((p) => p.key === key);
            if (index < 0) continue; // left before we started
            // The wire keeps each direction in order: what came in on the same
            // side before this frame and has not come out was dropped.
            const from = pending[index]!.from;
            for (let earlier = 0; earlier < index; ) {
              if (pending[earlier]!.from === from) {
                const [lost] = pending.splice(earlier, 1);
                settle(lost!.frame, lost!.sentAt, undefined);
              } else {
                earlier++;
              }
            }
            const matchAt = pending.findIndex((p) => p.key === key);
            const [match] = pending.splice(matchAt, 1);
            settle(match!.frame, match!.sentAt, at);
          }
        }
      }
      await tick();
    }
    if (options.stopped()) flushSettled(true);
  } finally {
    for (const side of sides) close(side.fd);
    kernel?.stop();
  }
  return reported;
}
