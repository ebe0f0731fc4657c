// The upload server: one listening socket, one forked child per upload (as
// the tutorial's demo12), a bound on live children, every child reaped.
//
// Slow and idle clients cost no process: the parent accepts every connection
// and keeps it, as an fd in its poll set, until the whole header has arrived
// (MSG_PEEK, with SO_RCVLOWAT raised to the header's length so that poll()
// wakes once, not per byte). Only then, and only when a slot is free, does it
// fork a child, which reads the header it was promised and the content. A
// connection that sends nothing is dropped after the idle timeout, a header
// that trickles in after the header deadline, a complete header that found
// no free slot after the slot wait (BUSY); content that comes slower than the
// minimum rate ends its upload in the child (TIMEOUT).
//
// Stopping (SIGTERM/SIGINT) is deterministic: the parent stops accepting at
// once and refuses the connections that had no child yet; uploads in
// progress get `graceMs` to finish; when the grace period is over, or at a
// second SIGTERM/SIGINT, the parent closes its end of a pipe every child
// polls, and each child drops its upload (SHUTTING_DOWN, temporary file
// removed). A child that has not ended 2 s later is killed and its
// temporary file removed by the parent. Each upload's fate is one event.
import { readFileSync, readdirSync, writeSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as posix from '../posix.js';
import { fstatat, unlinkat } from '../fs-at.js';
import { _exit, fork, getRestartAfterSignal, kill, setRestartAfterSignal, signal, waitpid, type WaitStatus } from '../process.js';
import {
  AT_SYMLINK_NOFOLLOW,
  F_GETFL,
  F_SETFL,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  O_CLOEXEC,
  O_NONBLOCK,
  POLLHUP,
  POLLIN,
  POLLRDHUP,
  SIGINT,
  SIGKILL,
  SIGTERM,
  SIGXFSZ,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_RCVLOWAT,
  SO_REUSEADDR,
  S_IFMT,
  S_IFREG,
  WNOHANG,
} from '../constants.js';
import { isSyscallError } from '../errors.js';
import { formatAddress, type AddressInput, type SockAddr } from '../sockaddr.js';
import { MAX_HEADER_SIZE, TEMP_PREFIX, encodeReply, formatOfFirstByte, headerLength, type ReplyCodeName } from './protocol.js';
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  openDirectory,
  receiveUpload,
  temporaryNameOwner,
  type AnnouncedHeader,
  type ReceiveOptions,
  type UploadRecord,
} from './receiver.js';

/** Uploads served at once by default, one child process each. */
export const DEFAULT_MAX_CHILDREN = 64;
/** How long uploads in progress get to finish after SIGTERM/SIGINT. */
export const DEFAULT_GRACE_MS = 10_000;
/** How long a complete header waits for a free slot before BUSY. */
export const DEFAULT_SLOT_WAIT_MS = 20_000;
/** Connections the parent holds without a child (beyond them, new ones wait in the kernel's backlog). */
export const DEFAULT_MAX_WAITING = 1024;
/** After the drop, children get this long to clean up before SIGKILL. */
const DROP_WAIT_MS = 2_000;
/** The parent wakes at least this often to reap children and notice signals. */
const TICK_MS = 100;
/** Connections taken from the backlog per wake-up. */
const ACCEPT_BATCH = 64;

/** Why uploads in progress were dropped: the grace period ran out, or a second signal. */
export type DropReason = { kind: 'grace-over'; graceMs: number } | { kind: 'signal'; signal: number };

/** What the server reports as it goes (the CLI prints them; the demo12 twin prints the tutorial's lines). */
export interface ServerEvents {
  /** The socket is listening (port 0 resolved to the real one). */
  listening?(address: SockAddr): void;
  /** At start: temporary files that processes which no longer run left in the directory, removed. */
  staleRemoved?(names: string[]): void;
  /** In the parent, once per connection, when it is accepted. */
  connected?(peer: SockAddr): void;
  /** In the child, when the header arrived, before it is judged. */
  header?(header: AnnouncedHeader): void;
  /** When an upload is over (stored, refused or failed): in the child, or in the parent for one that never got a child. */
  finished?(record: UploadRecord): void;
  /** In the child, when it was told to stop during an upload. */
  childStopping?(signal: number): void;
  /** In the parent, a child that was killed or crashed, with the temporary files removed after it. */
  childDied?(pid: number, status: WaitStatus, removedTempFiles: string[]): void;
  /** In the parent, when a stop signal arrived: how many uploads are in progress and how long they get. */
  stopping?(signal: number, inProgress: number, graceMs: number): void;
  /** In the parent, when the uploads still in progress are dropped. */
  dropping?(reason: DropReason, inProgress: number): void;
}

/** Options of serveFiles(): the listener, the children, and the ReceiveOptions each child uses. */
export interface ServeOptions extends Omit<ReceiveOptions, 'shouldStop' | 'onHeader' | 'stopFd' | 'dirFd' | 'acceptedAt'> {
  /** Port to listen on; 0 picks a free one (see events.listening). */
  port: number;
  /** Address to bind (default: every IPv4 address, as demo12's INADDR_ANY). */
  bind?: AddressInput;
  /** At most this many uploads at once (default 64). */
  maxChildren?: number;
  /** A complete header waits at most this long for a free slot, then BUSY (default 20 s). */
  slotWaitMs?: number;
  /** At most this many connections held without a child (default 1024). */
  maxWaiting?: number;
  /** listen() backlog (default 128). */
  backlog?: number;
  /** After SIGTERM/SIGINT, uploads in progress get this long to finish (default 10 s; 0 drops them at once). */
  graceMs?: number;
  /** Callbacks for what happens (listening, each connection and upload, children dying, stopping). */
  events?: ServerEvents;
  /** Stop after this many connections (tests, benchmarks); default: serve until a signal. */
  maxConnections?: number;
}

/** Why serveFiles() returned. */
export interface ServeSummary {
  connections: number;
  /** The signal that stopped the server, or null when maxConnections was reached. */
  signal: number | null;
  /** Uploads in progress at the stop signal that were then stored (within the grace period). */
  finishedDuringStop: number;
  /** Uploads in progress at the stop signal that were not stored (dropped, refused or killed). */
  droppedDuringStop: number;
}

/** The numbers that name the server's pipe of stop requests: children poll `read`; the parent closes `write` to stop them. */
interface StopPipe {
  read: number;
  write: number;
}

class Children {
  readonly live = new Set<number>();
  /** Counting the fates of uploads from the stop on. */
  counting = false;
  finished = 0;
  dropped = 0;

  constructor(
    private readonly dirFd: number,
    private readonly events: ServerEvents,
  ) {}

  /** Reaps every child that has ended (WNOHANG, by pid: never the children of node:child_process). */
  reap(): void {
    for (const pid of this.live) {
      let status: WaitStatus;
      try {
        status = waitpid(pid, WNOHANG);
      } catch (error) {
        if (isSyscallError(error, 'EINTR')) return;
        if (!isSyscallError(error, 'ECHILD')) throw error;
        this.live.delete(pid); // reaped elsewhere: nothing left to wait for
        continue;
      }
      if (status.pid === pid) this.ended(pid, status);
    }
  }

  ended(pid: number, status: WaitStatus): void {
    this.live.delete(pid);
    if (this.counting) {
      if (status.exitCode === 0) this.finished++;
      else this.dropped++;
    }
    if (status.exitCode === 0 || status.exitCode === 1) return; // stored or not: it ran to its end and cleaned up after itself
    this.events.childDied?.(pid, status, removeTempFilesOf(this.dirFd, (owner) => owner === pid));
  }

  signalAll(signalNumber: number): void {
    for (const pid of this.live) {
      try {
        kill(pid, signalNumber);
      } catch {
        // exited in between; reaped below
      }
    }
  }

  /** Waits (bounded) until every child ended or `until` returns true. */
  async waitAll(deadline: number, until: () => boolean = () => false): Promise<void> {
    while (this.live.size > 0 && performance.now() < deadline && !until()) {
      sleepMs(Math.min(TICK_MS / 2, Math.max(1, Math.ceil(deadline - performance.now()))));
      this.reap();
      await nextTurn();
    }
  }

  /** SIGKILL to the children still alive, each reaped and cleaned up after. */
  killAll(): void {
    this.signalAll(SIGKILL);
    for (const pid of [...this.live]) this.ended(pid, waitForExit(pid));
  }
}

function waitForExit(pid: number): WaitStatus {
  for (;;) {
    try {
      return waitpid(pid, 0);
    } catch (error) {
      if (!isSyscallError(error, 'EINTR')) throw error;
    }
  }
}

function sleepMs(ms: number): void {
  try {
    posix.poll([], ms);
  } catch (error) {
    if (!isSyscallError(error, 'EINTR')) throw error;
  }
}

/** Whether a process with this pid runs (EPERM: it does, someone else's; a zombie writes no more: it does not). */
function processRuns(pid: number): boolean {
  try {
    kill(pid, 0);
  } catch (error) {
    return !isSyscallError(error, 'ESRCH');
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false; // gone in between
  }
}

/** The names in the directory `dirFd` (listed through /proc/self/fd, so by the fd, not by a path). */
function namesIn(dirFd: number): string[] {
  try {
    return readdirSync(`/proc/self/fd/${dirFd}`);
  } catch {
    return []; // the directory itself is gone: nothing to clean
  }
}

/**
 * Removes the temporary files of this server's kind (`.sockfd-upload-<pid>-<hex>.part`,
 * regular files of this user) whose writer `owner` accepts; returns their names.
 */
function removeTempFilesOf(dirFd: number, owner: (pid: number) => boolean): string[] {
  const removed: string[] = [];
  const uid = process.geteuid?.() ?? -1;
  for (const name of namesIn(dirFd)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const pid = temporaryNameOwner(name);
    if (pid === null || !owner(pid)) continue;
    try {
      const stat = fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW);
      if ((stat.mode & S_IFMT) !== S_IFREG || stat.uid !== uid) continue;
      unlinkat(dirFd, name);
      removed.push(name);
    } catch {
      // gone already
    }
  }
  return removed;
}

/** At start: the temporary files left by writers that no longer run (killed with SIGKILL, a crash), and only those. */
export function removeStaleTempFiles(dirFd: number): string[] {
  return removeTempFilesOf(dirFd, (pid) => pid !== process.pid && !processRuns(pid));
}

/** A listening TCP socket for `options` (SO_REUSEADDR, SOCK_CLOEXEC, non-blocking). */
function listenOn(options: Pick<ServeOptions, 'port' | 'bind' | 'backlog'>): number {
  const address: AddressInput = options.bind ?? { family: 'AF_INET', port: options.port };
  const family = address.family === 'AF_INET6' ? 'AF_INET6' : 'AF_INET';
  const fd = posix.socket(family === 'AF_INET6' ? posix.AF_INET6 : posix.AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  try {
    posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    posix.bind(fd, { ...address, port: options.port } as AddressInput);
    posix.listen(fd, options.backlog ?? 128);
    // Non-blocking: a connection reset between poll() and accept() must not hang the loop.
    posix.fcntl(fd, F_SETFL, posix.fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
  } catch (error) {
    posix.close(fd);
    throw error;
  }
}

/** A connection the parent holds until its header is complete and a slot is free. */
interface Waiting {
  fd: number;
  peer: SockAddr;
  acceptedAt: number;
  /** When the last new header byte arrived (the idle timeout counts from it). */
  progressAt: number;
  /** Header bytes seen so far, and how many the header takes as far as they tell. */
  seen: number;
  needed: number;
  firstByte: number | null;
  /** When the whole header was there; null while it is not. */
  readyAt: number | null;
  /** The SO_RCVLOWAT currently set. */
  lowat: number;
}

/** A record for a connection that never got a child. */
function parentRecord(entry: Waiting, code: ReplyCodeName, reason: string): UploadRecord {
  return {
    peer: formatAddress(entry.peer),
    format: entry.firstByte === null ? null : formatOfFirstByte(entry.firstByte),
    name: null,
    size: null,
    received: 0,
    durationMs: performance.now() - entry.acceptedAt,
    sha256: null,
    outcome: code === 'OK' ? 'stored' : 'failed',
    code,
    reason,
    path: null,
  };
}

/** The forked child: one upload, one log event, then _exit. It never returns. */
function serveChild(entry: Waiting, parentFds: number[], stop: StopPipe, dirFd: number, options: ServeOptions): never {
  let status = 1;
  try {
    for (const fd of parentFds) posix.close(fd); // the listening socket, the other connections, the parent's end of the stop pipe
    let stopSignal = 0;
    let announced = false;
    const announceStop = (sig: number): void => {
      if (!announced) options.events?.childStopping?.(sig);
      announced = true;
    };
    signal(SIGINT, 'ignore'); // Ctrl-C reaches the whole group; the parent decides, as in demo12
    signal(SIGXFSZ, 'ignore'); // a file-size limit (RLIMIT_FSIZE) then fails write() with EFBIG: a STORAGE_ERROR with a reason
    signal(SIGTERM, (sig) => {
      announceStop(sig);
      stopSignal = sig;
    });
    const record = receiveUpload(entry.fd, {
      ...options,
      dirFd,
      acceptedAt: performance.now(), // the header is complete: the time it waited for a slot is not the client's
      stopFd: stop.read,
      shouldStop: () => stopSignal !== 0,
      onHeader: options.events?.header?.bind(options.events),
    });
    if (record.code === 'SHUTTING_DOWN') announceStop(SIGTERM); // told through the stop pipe: the same as the C's SIGTERM
    options.events?.finished?.(record);
    status = record.outcome === 'stored' ? 0 : 1;
  } catch (error) {
    try {
      writeSync(2, `sockfd recv-files: child ${process.pid}: ${error instanceof Error ? error.message : String(error)}\n`);
    } catch {
      // stderr is gone
    }
    status = 2;
  }
  return _exit(status);
}

/** Best effort, never waiting: an extended client learns why it is turned away; a tutorial client only sees the close. */
function turnAway(entry: Waiting, code: ReplyCodeName, reason: string): void {
  if (entry.firstByte === 0) {
    try {
      posix.send(entry.fd, encodeReply(code, reason), MSG_DONTWAIT | MSG_NOSIGNAL);
    } catch {
      // the client is gone or its buffer is full: the close says enough
    }
  }
  posix.close(entry.fd);
}

/**
 * Looks at what a waiting connection sent so far (MSG_PEEK: the child reads it
 * again). Returns 'ready' when the whole header is there, 'ended' when the
 * client closed before it was, 'waiting' otherwise (with SO_RCVLOWAT raised so
 * that poll() wakes when the rest is there, not at every byte).
 */
function peekHeader(entry: Waiting, buffer: Buffer, hungUp: boolean): 'ready' | 'ended' | 'waiting' {
  let n: number;
  try {
    n = posix.recv(entry.fd, buffer, MSG_PEEK | MSG_DONTWAIT, 0, MAX_HEADER_SIZE);
  } catch (error) {
    if (isSyscallError(error, 'EAGAIN')) return 'waiting';
    return 'ended'; // ECONNRESET and kin
  }
  if (n === 0) return 'ended';
  const now = performance.now();
  if (n > entry.seen) {
    entry.seen = n;
    entry.progressAt = now;
  }
  entry.firstByte = buffer[0]!;
  const needed = headerLength(buffer.subarray(0, n))!;
  entry.needed = needed;
  if (n >= needed) return 'ready';
  if (hungUp) return 'ended';
  if (entry.lowat !== needed) {
    try {
      posix.setsockopt(entry.fd, SOL_SOCKET, SO_RCVLOWAT, needed);
      entry.lowat = needed;
    } catch {
      // without it poll() wakes at each byte: slower, still correct
    }
  }
  return 'waiting';
}

/**
 * Serves uploads on `options.port` into `options.dir` until SIGTERM or SIGINT
 * (or maxConnections). Blocking calls wake on signals (EINTR, see
 * setRestartAfterSignal); the previous setting is restored on return, the
 * signal handlers are reset to the default.
 */
export async function serveFiles(options: ServeOptions): Promise<ServeSummary> {
  const events = options.events ?? {};
  const maxChildren = options.maxChildren ?? DEFAULT_MAX_CHILDREN;
  if (!Number.isInteger(maxChildren) || maxChildren < 1) throw new RangeError(`maxChildren must be a positive integer, got ${maxChildren}`);
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const headerMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const slotWaitMs = options.slotWaitMs ?? DEFAULT_SLOT_WAIT_MS;
  const maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;

  const dirFd = openDirectory(options.dir);
  let listenFd = -1;
  let stop: StopPipe | null = null;
  const waiting: Waiting[] = [];
  const restart = getRestartAfterSignal();
  let stopSignal: number | null = null;
  let signals = 0;
  let children: Children | null = null;
  const onStop = (sig: number): void => {
    signals++;
    if (stopSignal === null) {
      stopSignal = sig;
      // No new connections from this moment on (the loop only polls, never accepts, on a closed one: it sees the flag first).
      if (listenFd >= 0) posix.close(listenFd);
      listenFd = -1;
      events.stopping?.(sig, children?.live.size ?? 0, graceMs);
    } else if (signals === 2 && (children?.live.size ?? 0) > 0) {
      events.dropping?.({ kind: 'signal', signal: sig }, children!.live.size);
    }
  };
  let connections = 0;
  try {
    const stale = removeStaleTempFiles(dirFd);
    if (stale.length > 0) events.staleRemoved?.(stale);
    listenFd = listenOn(options);
    const [stopRead, stopWrite] = posix.pipe(O_CLOEXEC);
    stop = { read: stopRead, write: stopWrite };
    children = new Children(dirFd, events);
    setRestartAfterSignal(false); // a signal ends the blocking call (EINTR) so the loop sees the flag
    signal(SIGTERM, onStop);
    signal(SIGINT, onStop);
    events.listening?.(posix.getsockname(listenFd));
    const peekBuffer = Buffer.alloc(MAX_HEADER_SIZE);
    const accepting = (): boolean => options.maxConnections === undefined || connections < options.maxConnections;

    // With SO_RCVLOWAT raised, poll() does not report every byte: look again before calling a client idle.
    const madeProgress = (entry: Waiting): boolean => {
      const before = entry.seen;
      const state = peekHeader(entry, peekBuffer, false);
      if (state === 'ready') entry.readyAt = performance.now();
      return entry.seen > before || state === 'ready';
    };
    const drop = (entry: Waiting, code: ReplyCodeName, reason: string): void => {
      waiting.splice(waiting.indexOf(entry), 1);
      turnAway(entry, code, reason);
      events.finished?.(parentRecord(entry, code, reason));
    };

    while (stopSignal === null && (accepting() || waiting.length > 0 || children.live.size > 0)) {
      children.reap();
      await nextTurn(); // a signal that arrived while JS ran is delivered by the event loop
      if (stopSignal !== null) break;

      // Fork for the complete headers, oldest first, while slots are free.
      for (const entry of waiting.filter((w) => w.readyAt !== null).sort((a, b) => a.readyAt! - b.readyAt!)) {
        if (children.live.size >= maxChildren) break;
        waiting.splice(waiting.indexOf(entry), 1);
        let pid: number;
        try {
          pid = fork();
        } catch (error) {
          turnAway(entry, 'BUSY', 'the server could not start a process for the upload'); // EAGAIN/ENOMEM: refuse this one, keep serving
          writeSync(2, `sockfd recv-files: fork: ${error instanceof Error ? error.message : String(error)}\n`);
          continue;
        }
        if (pid === 0) serveChild(entry, [listenFd, stop.write, ...waiting.map((w) => w.fd)], stop, dirFd, options);
        posix.close(entry.fd);
        children.live.add(pid);
      }

      // Deadlines of the connections without a child.
      const now = performance.now();
      for (const entry of [...waiting]) {
        if (entry.readyAt !== null) {
          if (now - entry.readyAt >= slotWaitMs)
            drop(entry, 'BUSY', `all ${maxChildren} upload slots stayed taken for ${slotWaitMs} ms; try again later`);
        } else if (now - entry.progressAt >= idleMs && !madeProgress(entry)) {
          drop(entry, 'TIMEOUT', `the client sent nothing for ${idleMs} ms`);
        } else if (entry.readyAt !== null) {
          // complete after all: forked on the next turn
        } else if (now - entry.acceptedAt >= headerMs) {
          drop(entry, 'TIMEOUT', `the whole header did not arrive within ${headerMs} ms`);
        }
      }

      // Wait for: new connections, header bytes, a free slot (reaped on the next turn), a deadline, a signal.
      const listening = listenFd >= 0 && accepting() && waiting.length < maxWaiting;
      const watched = waiting.filter((w) => w.readyAt === null);
      const entries: posix.PollFd[] = watched.map((w) => ({ fd: w.fd, events: POLLIN | POLLRDHUP }));
      if (listening) entries.push({ fd: listenFd, events: POLLIN });
      let timeout = TICK_MS;
      for (const entry of waiting) {
        const due = entry.readyAt !== null ? entry.readyAt + slotWaitMs : Math.min(entry.progressAt + idleMs, entry.acceptedAt + headerMs);
        timeout = Math.min(timeout, Math.max(0, Math.ceil(due - now)));
      }
      let ready: number;
      try {
        ready = posix.poll(entries, timeout);
      } catch (error) {
        if (isSyscallError(error, 'EINTR')) continue;
        throw error;
      }
      if (ready === 0) continue;
      for (const [i, entry] of watched.entries()) {
        const revents = entries[i]!.revents ?? 0;
        if (revents === 0) continue;
        const state = peekHeader(entry, peekBuffer, (revents & (POLLRDHUP | POLLHUP)) !== 0);
        if (state === 'ready') {
          entry.readyAt = performance.now();
        } else if (state === 'ended') {
          drop(entry, 'TRUNCATED', entry.seen === 0 ? 'the connection closed before a header arrived' : `the connection closed after ${entry.seen} of the ${entry.needed} header bytes`);
        }
      }
      if (listening && listenFd >= 0 && (entries.at(-1)!.revents ?? 0) !== 0) {
        for (let i = 0; i < ACCEPT_BATCH && accepting() && waiting.length < maxWaiting; i++) {
          const connection = acceptNow(listenFd);
          if (connection === null) break;
          connections++;
          const acceptedAt = performance.now();
          waiting.push({ fd: connection.fd, peer: connection.address, acceptedAt, progressAt: acceptedAt, seen: 0, needed: 0, firstByte: null, readyAt: null, lowat: 1 });
          events.connected?.(connection.address);
        }
      }
    }

    // Stopping: no new connections; those without a child are refused at once.
    if (listenFd >= 0) posix.close(listenFd);
    listenFd = -1;
    for (const entry of [...waiting]) drop(entry, 'SHUTTING_DOWN', 'the server is shutting down; the upload had not started');
    if (stopSignal !== null && children.live.size > 0) {
      children.counting = true;
      // Uploads in progress may finish within the grace period, unless a second signal comes.
      await children.waitAll(performance.now() + graceMs, () => signals >= 2);
      if (children.live.size > 0) {
        if (signals < 2) events.dropping?.({ kind: 'grace-over', graceMs }, children.live.size);
        posix.close(stop.write); // every child polls the other end: its upload ends now, SHUTTING_DOWN
        stop.write = -1;
        await children.waitAll(performance.now() + DROP_WAIT_MS);
        if (children.live.size > 0) children.killAll();
      }
    }
    return { connections, signal: stopSignal, finishedDuringStop: children.finished, droppedDuringStop: children.dropped };
  } finally {
    for (const entry of waiting) posix.close(entry.fd);
    if (listenFd >= 0) posix.close(listenFd);
    if (stop !== null) {
      posix.close(stop.read);
      if (stop.write >= 0) posix.close(stop.write);
    }
    posix.close(dirFd);
    signal(SIGTERM, 'default');
    signal(SIGINT, 'default');
    setRestartAfterSignal(restart);
  }
}

/** One accept() without waiting; null when the backlog is empty or a connection vanished. */
function acceptNow(listenFd: number): posix.Accepted | null {
  try {
    return posix.accept4(listenFd, SOCK_CLOEXEC);
  } catch (error) {
    if (isSyscallError(error, 'EINTR') || isSyscallError(error, 'EAGAIN') || isSyscallError(error, 'ECONNABORTED')) return null;
    throw error;
  }
}
