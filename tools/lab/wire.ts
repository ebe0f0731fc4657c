// The wire: a sockfd program in the wire namespace that moves every frame
// between its two interfaces through two AF_PACKET sockets, on the way
// applying delay, jitter, loss, a rate limit and the teaching drop rules
// (this kernel has no netem, and a lesson should not depend on it anyway).
//
// One thread, one loop: poll() both sockets with a timeout that ends when the
// next queued frame is due, read what arrived, send what is due. Frames keep
// their order per direction (jitter never reorders). TCP and UDP checksums are
// filled in before sending: the hosts' veths leave them to an offload engine
// (CHECKSUM_PARTIAL), which a frame read by a packet socket never meets again.
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  AF_PACKET, ETH_P_ALL, MSG_DONTWAIT, PACKET_IGNORE_OUTGOING, PACKET_STATISTICS, POLLIN, SOCK_RAW, SOL_PACKET,
  SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, bind, close, getsockopt, htons, poll, recv, send, setsockopt, socket, isSyscallError,
} from '../../lib/posix.js';
import { type HostName, type LabNames, wireInterface, writeJsonAtomic } from './namespaces.js';
import { decodeFrame, fixTransportChecksum, flagLetters } from './packet.js';
import {
  type DirectionCounters, type DroppedSegment, type WireCounters, type WireSettings,
  countersFile, readSettings, settingsFile,
} from './settings.js';

const QUEUE_LIMIT = 2000;
const READ_BURST = 64;
const MAX_FRAME = 65536;
const RECEIVE_BUFFER = 8 << 20;

/** Frames the kernel dropped because a packet socket's buffer was full (PACKET_STATISTICS; reading resets it). */
export function takeOverruns(fd: number): number {
  const stats = Buffer.alloc(8); // struct tpacket_stats { unsigned tp_packets, tp_drops; }
  getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, stats);
  return stats.readUInt32LE(4);
}

interface Queued {
  frame: Buffer;
  due: number;
}

interface Side {
  host: HostName;
  fd: number;
  /** Frames that came in on this side, waiting to go out on the other. */
  queue: Queued[];
  head: number;
  lastDue: number;
  linkFreeAt: number;
  counters: DirectionCounters;
}

const newCounters = (): DirectionCounters => ({ frames: 0, bytes: 0, ipv4: 0, delivered: 0, lost: 0, ruleDrops: 0, queueDrops: 0, overruns: 0 });

/** Opens a packet socket that sees every frame arriving on `ifname` (not the ones it sends). */
export function openPacketSocket(ifname: string, ignoreOutgoing: boolean): number {
  const fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  try {
    if (ignoreOutgoing) setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
    // Room for bursts while the loop is busy (a full buffer drops frames: counted as overruns).
    try {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER);
    } catch {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER);
    }
    bind(fd, { family: 'AF_PACKET', protocol: ETH_P_ALL, ifname });
    return fd;
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** Runs the wire until SIGTERM; never returns. */
export function runWire(names: LabNames): never {
  const sides: Record<HostName, Side> = {
    '132': { host: '132', fd: openPacketSocket(wireInterface['132'], true), queue: [], head: 0, lastDue: 0, linkFreeAt: 0, counters: newCounters() },
    '133': { host: '133', fd: openPacketSocket(wireInterface['133'], true), queue: [], head: 0, lastDue: 0, linkFreeAt: 0, counters: newCounters() },
  };
  const other = (side: Side): Side => (side.host === '132' ? sides['133'] : sides['132']);
  let settings: WireSettings = readSettings(names);
  let settingsStamp = statSync(settingsFile(names)).mtimeMs;
  const remaining = new Map<number, number>();
  const recentDrops: DroppedSegment[] = [];
  const startedAt = new Date().toISOString();
  const applyRules = (next: WireSettings): void => {
    for (const rule of next.drops) if (!remaining.has(rule.id)) remaining.set(rule.id, rule.count);
    for (const id of [...remaining.keys()]) if (!next.drops.some((rule) => rule.id === id)) remaining.delete(id);
    settings = next;
  };
  applyRules(settings);

  let dirty = true;
  const writeCounters = (): void => {
    const counters: WireCounters = {
      pid: process.pid,
      generation: settings.generation,
      startedAt,
      updatedAt: new Date().toISOString(),
      directions: { '132>133': sides['132'].counters, '133>132': sides['133'].counters },
      remaining: Object.fromEntries([...remaining].map(([id, left]) => [String(id), left])),
      recentDrops,
    };
    writeJsonAtomic(countersFile(names), counters);
    dirty = false;
  };

  /** Whether a teaching rule takes this frame (and counts it down). */
  const ruleDrops = (side: Side, frame: Buffer, now: number): boolean => {
    if (remaining.size === 0) return false;
    const decoded = decodeFrame(frame);
    const tcp = decoded?.tcp;
    if (!tcp || !decoded.ipv4) return false;
    for (const rule of settings.drops) {
      const left = remaining.get(rule.id) ?? 0;
      if (left <= 0) continue;
      if (rule.from !== undefined && rule.from !== side.host) continue;
      if (rule.flags !== undefined && rule.flags !== flagLetters(tcp.flags)) continue;
      if (rule.data !== undefined && rule.data !== tcp.length > 0) continue;
      remaining.set(rule.id, left - 1);
      recentDrops.push({
        time: new Date(performance.timeOrigin + now).toISOString(),
        from: side.host,
        rule: rule.id,
        summary: `${decoded.ipv4.src}:${tcp.srcPort} > ${decoded.ipv4.dst}:${tcp.dstPort} [${flagLetters(tcp.flags)}] length ${tcp.length}`,
      });
      if (recentDrops.length > 50) recentDrops.shift();
      return true;
    }
    return false;
  };

  const admit = (side: Side, frame: Buffer, now: number): void => {
    const counters = side.counters;
    counters.frames++;
    counters.bytes += frame.length;
    const isIpv4 = frame.length >= 34 && frame[12] === 0x08 && frame[13] === 0x00;
    if (isIpv4) counters.ipv4++;
    if (isIpv4 && ruleDrops(side, frame, now)) return void counters.ruleDrops++;
    if (isIpv4 && settings.lossPercent > 0 && Math.random() * 100 < settings.lossPercent) return void counters.lost++;
    if (side.queue.length - side.head >= QUEUE_LIMIT) return void counters.queueDrops++;
    fixTransportChecksum(frame);
    const jitter = settings.jitterMs > 0 ? (Math.random() * 2 - 1) * settings.jitterMs : 0;
    let due = Math.max(now + settings.delayMs + jitter, side.lastDue, now);
    if (settings.rateBitsPerSecond > 0) {
      const start = Math.max(due, side.linkFreeAt);
      side.linkFreeAt = start + (frame.length * 8 * 1000) / settings.rateBitsPerSecond;
      due = side.linkFreeAt;
    }
    side.lastDue = due;
    side.queue.push({ frame, due });
  };

  const flush = (side: Side, now: number): void => {
    const out = other(side);
    while (side.head < side.queue.length && side.queue[side.head]!.due <= now) {
      const { frame } = side.queue[side.head]!;
      side.queue[side.head++] = undefined as unknown as Queued;
      try {
        send(out.fd, frame, MSG_DONTWAIT);
        side.counters.delivered++;
      } catch (error) {
        // ENOBUFS/EAGAIN: the device queue is full; the frame is lost as on a real link.
        if (!isSyscallError(error)) throw error;
        side.counters.queueDrops++;
      }
    }
    if (side.head > 1024 && side.head * 2 > side.queue.length) {
      side.queue = side.queue.slice(side.head);
      side.head = 0;
    }
  };

  const buffer = Buffer.allocUnsafe(MAX_FRAME);
  const pollSet = [
    { fd: sides['132'].fd, events: POLLIN, revents: 0 },
    { fd: sides['133'].fd, events: POLLIN, revents: 0 },
  ];
  let lastHousekeeping = 0;
  writeCounters();
  for (;;) {
    let now = performance.now();
    let timeout = 50;
    for (const side of [sides['132'], sides['133']]) {
      const next = side.queue[side.head];
      if (next) timeout = Math.min(timeout, Math.max(0, Math.ceil(next.due - now)));
    }
    poll(pollSet, timeout);
    now = performance.now();
    for (const [index, side] of [sides['132'], sides['133']].entries()) {
      if ((pollSet[index]!.revents & POLLIN) === 0) continue;
      for (let burst = 0; burst < READ_BURST; burst++) {
        let size: number;
        try {
          size = recv(side.fd, buffer, MSG_DONTWAIT);
        } catch (error) {
          if (isSyscallError(error) && (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK')) break;
          throw error;
        }
        admit(side, Buffer.from(buffer.subarray(0, size)), now);
        dirty = true;
      }
    }
    flush(sides['132'], now);
    flush(sides['133'], now);
    if (now - lastHousekeeping >= 100) {
      lastHousekeeping = now;
      try {
        const stamp = statSync(settingsFile(names)).mtimeMs;
        if (stamp !== settingsStamp) {
          settingsStamp = stamp;
          applyRules(readSettings(names));
          dirty = true;
        }
      } catch {
        // settings momentarily absent (being replaced): keep the old ones
      }
      for (const side of [sides['132'], sides['133']]) {
        const overruns = takeOverruns(side.fd);
        if (overruns > 0) {
          side.counters.overruns += overruns;
          dirty = true;
        }
      }
      if (dirty) writeCounters();
    }
  }
}
