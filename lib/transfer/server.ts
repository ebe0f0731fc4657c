// The upload server: one listening socket, one forked child per connection
// (as the tutorial's demo12), a bound on live children, every child reaped.
// SIGTERM/SIGINT stop it: the parent stops accepting, passes SIGTERM to each
// child (a child then drops its upload and removes its temporary file), and
// waits for them; a child that does not end in time is killed, and the
// parent removes whatever temporary file it left.
import { readdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as posix from '../posix.js';
import { _exit, fork, getRestartAfterSignal, kill, setRestartAfterSignal, signal, waitpid, type WaitStatus } from '../process.js';
import {
  F_GETFL,
  F_SETFL,
  O_NONBLOCK,
  POLLIN,
  SIGINT,
  SIGKILL,
  SIGTERM,
  SIGXFSZ,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  WNOHANG,
} from '../constants.js';
import { isSyscallError } from '../errors.js';
import type { AddressInput, SockAddr } from '../sockaddr.js';
import { TEMP_PREFIX } from './protocol.js';
import { receiveUpload, type AnnouncedHeader, type ReceiveOptions, type UploadRecord } from './receiver.js';

/** Uploads served at once by default, one child process each. */
export const DEFAULT_MAX_CHILDREN = 64;
/** How long children get to finish after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** The parent wakes at least this often to reap children and notice signals. */
const TICK_MS = 100;

/** What the server reports as it goes (the CLI prints them; the demo12 twin prints the tutorial's lines). */
export interface ServerEvents {
  /** The socket is listening (port 0 resolved to the real one). */
  listening?(address: SockAddr): void;
  /** In the child, once per connection, before anything is read. */
  connected?(peer: SockAddr): void;
  /** In the child, when the header arrived, before it is judged. */
  header?(header: AnnouncedHeader): void;
  /** In the child, when the upload is over (stored, refused or failed). */
  finished?(record: UploadRecord): void;
  /** In the child, when SIGTERM reached it during an upload. */
  childStopping?(signal: number): void;
  /** In the parent, a child that was killed or crashed, with the temporary files removed after it. */
  childDied?(pid: number, status: WaitStatus, removedTempFiles: string[]): void;
  /** In the parent, when a stop signal arrived. */
  stopping?(signal: number): void;
}

/** Options of serveFiles(): the listener, the children, and the ReceiveOptions each child uses. */
export interface ServeOptions extends Omit<ReceiveOptions, 'shouldStop' | 'onHeader'> {
  /** Port to listen on; 0 picks a free one (see events.listening). */
  port: number;
  /** Address to bind (default: every IPv4 address, as demo12's INADDR_ANY). */
  bind?: AddressInput;
  /** At most this many uploads at once; further connections wait in the backlog (default 64). */
  maxChildren?: number;
  /** listen() backlog (default 128). */
  backlog?: number;
  /** How long children get to finish after SIGTERM before SIGKILL (default 5 s). */
  stopGraceMs?: number;
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
}

class Children {
  readonly live = new Set<number>();

  constructor(
    private readonly dir: string,
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
    if (status.exitCode === 0 || status.exitCode === 1) return; // stored or not: it ran to its end and cleaned up after itself
    this.events.childDied?.(pid, status, this.removeTempFilesOf(pid));
  }

  /** A child killed before it could clean up leaves `.sockfd-upload-<pid>-*.part`: removed here. */
  removeTempFilesOf(pid: number): string[] {
    const prefix = `${TEMP_PREFIX}${pid}-`;
    const removed: string[] = [];
    try {
      for (const entry of readdirSync(this.dir)) {
        if (!entry.startsWith(prefix)) continue;
        try {
          unlinkSync(join(this.dir, entry));
          removed.push(entry);
        } catch {
          // gone already
        }
      }
    } catch {
      // the directory itself is gone: nothing to clean
    }
    return removed;
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

  /** SIGTERM to each child, repeated (a signal that lands while the child runs JS waits for its next blocking call), then SIGKILL. */
  async stopAll(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    let lastTerm = 0;
    while (this.live.size > 0) {
      if (Date.now() >= deadline) {
        this.signalAll(SIGKILL);
        for (const pid of [...this.live]) this.ended(pid, waitForExit(pid));
        return;
      }
      if (Date.now() - lastTerm >= 500) {
        this.signalAll(SIGTERM);
        lastTerm = Date.now();
      }
      sleepMs(TICK_MS / 2);
      this.reap();
      await nextTurn();
    }
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

/** The forked child: one upload, one log event, then _exit. It never returns. */
function serveChild(listenFd: number, connection: posix.Accepted, options: ServeOptions): never {
  let status = 1;
  try {
    posix.close(listenFd);
    let stopSignal = 0;
    signal(SIGINT, 'ignore'); // Ctrl-C reaches the whole group; the parent decides, as in demo12
    signal(SIGXFSZ, 'ignore'); // a file-size limit (RLIMIT_FSIZE) then fails write() with EFBIG: a STORAGE_ERROR with a reason
    signal(SIGTERM, (sig) => {
      if (stopSignal === 0) options.events?.childStopping?.(sig);
      stopSignal = sig;
    });
    options.events?.connected?.(connection.address);
    const record = receiveUpload(connection.fd, {
      ...options,
      shouldStop: () => stopSignal !== 0,
      onHeader: options.events?.header?.bind(options.events),
    });
    options.events?.finished?.(record);
    status = record.outcome === 'stored' ? 0 : 1;
  } catch (error) {
    try {
      writeSync(2, `sockfd recv-files: child ${process.pid}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    } catch {
      // stderr is gone
    }
    status = 2;
  }
  return _exit(status);
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
  const listenFd = listenOn(options);
  const children = new Children(options.dir, events);
  const restart = getRestartAfterSignal();
  let stopSignal: number | null = null;
  const onStop = (sig: number): void => {
    if (stopSignal === null) events.stopping?.(sig);
    stopSignal ??= sig;
  };
  let connections = 0;
  try {
    setRestartAfterSignal(false); // a signal ends the blocking call (EINTR) so the loop sees the flag
    signal(SIGTERM, onStop);
    signal(SIGINT, onStop);
    events.listening?.(posix.getsockname(listenFd));
    while (stopSignal === null && (options.maxConnections === undefined || connections < options.maxConnections)) {
      children.reap();
      await nextTurn(); // a signal that arrived while JS ran is delivered by the event loop
      if (stopSignal !== null) break;
      if (children.live.size >= maxChildren) {
        sleepMs(TICK_MS / 2);
        continue;
      }
      const connection = acceptWithin(listenFd, TICK_MS);
      if (connection === null) continue;
      connections++;
      let pid: number;
      try {
        pid = fork();
      } catch (error) {
        posix.close(connection.fd); // EAGAIN/ENOMEM: refuse this one, keep serving
        writeSync(2, `sockfd recv-files: fork: ${error instanceof Error ? error.message : String(error)}\n`);
        continue;
      }
      if (pid === 0) serveChild(listenFd, connection, options);
      posix.close(connection.fd);
      children.live.add(pid);
    }
    // maxConnections reached: let the last uploads finish on their own.
    while (stopSignal === null && children.live.size > 0) {
      sleepMs(TICK_MS / 2);
      children.reap();
      await nextTurn();
    }
    if (children.live.size > 0) await children.stopAll(options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
    return { connections, signal: stopSignal };
  } finally {
    posix.close(listenFd);
    signal(SIGTERM, 'default');
    signal(SIGINT, 'default');
    setRestartAfterSignal(restart);
  }
}

/** One accept() if a connection arrives within `timeoutMs`; null on timeout, EINTR or a connection that vanished. */
function acceptWithin(listenFd: number, timeoutMs: number): posix.Accepted | null {
  try {
    if (posix.poll([{ fd: listenFd, events: POLLIN }], timeoutMs) === 0) return null;
    return posix.accept4(listenFd, SOCK_CLOEXEC);
  } catch (error) {
    if (isSyscallError(error, 'EINTR') || isSyscallError(error, 'EAGAIN') || isSyscallError(error, 'ECONNABORTED')) return null;
    throw error;
  }
}
