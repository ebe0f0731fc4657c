// One upload on one connected socket, in either format (the first byte
// decides). The content goes to a temporary file in the target directory,
// created with O_EXCL|O_NOFOLLOW, renamed over the target only when every
// byte arrived (and, in the extended format, the SHA-256 matched); on any
// failure the temporary file is removed and no file of that name changes.
// Every file operation is relative to the directory's fd (openat, renameat,
// unlinkat), so a directory swapped for a symbolic link mid-upload changes
// nothing: the file lands in, and the temporary file leaves, the directory
// that was opened. The whole header has a deadline and the content a
// minimum rate, so a client that trickles bytes cannot hold a process.
// The caller owns the socket: receiveUpload never closes it.
import { createHash, randomBytes } from 'node:crypto';
import { fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import * as posix from '../posix.js';
import { fstatat, fstatvfs, openat, renameat, unlinkat } from '../fs-at.js';
import {
  F_GETFL,
  F_SETFL,
  O_NONBLOCK,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_DIRECTORY,
  O_RDONLY,
  S_IFDIR,
  S_IFMT,
  SOL_SOCKET,
  SO_RCVLOWAT,
  F_SETPIPE_SZ,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
  POLLIN,
  SPLICE_F_MOVE,
  SPLICE_F_NONBLOCK,
} from '../constants.js';
import { isSyscallError } from '../errors.js';
import { formatAddress } from '../sockaddr.js';
import { TimeoutError } from '../async.js';
import { IdleTimeoutError, StopRequestedError, recvFull, recvSome, sendAll, untilReady, writeAll, type WaitOptions } from '../io.js';
import {
  DIGEST_ALGORITHM,
  DIGEST_SIZE,
  EXTENDED_FIXED_SIZE,
  TEMP_PREFIX,
  TUTORIAL_HEADER_SIZE,
  TUTORIAL_OK,
  TransferRefusal,
  checkName,
  checkSize,
  checkTutorialFields,
  decodeExtendedFixed,
  splitTutorialHeader,
  encodeReply,
  formatOfFirstByte,
  outcomeOfCode,
  type ReplyCodeName,
  type TransferFormat,
} from './protocol.js';

/** 1 TiB: large enough for real files, small enough that a typo in a header cannot fill a disk unnoticed. */
export const DEFAULT_MAX_SIZE = 2 ** 40;
/** A client that sends nothing for 30 s is dropped (reply TIMEOUT). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** The whole header (at most 273 bytes) must arrive within this long after the connection was accepted. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** The content must come at least this fast (bytes per second), measured over each RATE_WINDOW_MS: 1 KiB/s. */
export const DEFAULT_MIN_RATE = 1024;
/** The window the minimum rate is measured over: a short stall is fine, a trickle is not. */
export const DEFAULT_RATE_WINDOW_MS = 10_000;
/** Reads of 1 MiB: few system calls per GiB, and the buffer stays in cache. */
export const DEFAULT_BUFFER_SIZE = 1 << 20;
/** The buffer holds a whole header (260 bytes at most) and a page of content. */
const MIN_BUFFER_SIZE = 4096;
/** A pipe's capacity when F_SETPIPE_SZ is refused (Linux default: 16 pages). */
const DEFAULT_PIPE_CAPACITY = 65536;

/** Options of receiveUpload() (and of serveFiles(), which passes them on). */
export interface ReceiveOptions {
  /** The directory files are stored in (named in records; the work is done through dirFd). */
  dir: string;
  /** The directory, opened (O_DIRECTORY); default: `dir` is opened for this upload and closed after it. */
  dirFd?: number;
  /** The whole header must arrive within this many ms of `acceptedAt` (default 10 s). */
  headerTimeoutMs?: number;
  /** performance.now() when the connection was accepted (default: when receiveUpload was called). */
  acceptedAt?: number;
  /** Minimum content rate in bytes per second over each rateWindowMs (default 1 KiB/s; 0: no minimum). */
  minRate?: number;
  /** The window of the minimum rate (default 10 s). */
  rateWindowMs?: number;
  /** An fd (the server's pipe) that becomes readable or hung up when the upload must stop: SHUTTING_DOWN. */
  stopFd?: number;
  /** Largest accepted size in bytes (default 1 TiB; the tutorial's format cannot exceed 2 GiB - 1 anyway). */
  maxSize?: number;
  /** Drop a client that sends nothing for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** fsync() the file before it is published (default false, as the tutorial). */
  fsync?: boolean;
  /** Receive buffer size, and the pipe's capacity for splice() (default 1 MiB). */
  bufferSize?: number;
  /** Asked between chunks: true stops the upload with SHUTTING_DOWN (the server's SIGTERM). */
  shouldStop?: () => boolean;
  /** Called once the header is read, before it is judged: the name and size as announced (demo12 prints them). */
  onHeader?: (header: AnnouncedHeader) => void;
}

/** A header as it arrived, not yet validated: the name up to its NUL (or all 256 bytes), the size as sent. */
export interface AnnouncedHeader {
  format: TransferFormat;
  name: string;
  size: number | bigint;
}

/** How an upload ended: stored, refused by the server's rules, or failed on the way. */
export type UploadOutcome = 'stored' | 'refused' | 'failed';

/** What happened to one upload: everything the server's log line shows. */
export interface UploadRecord {
  /** "127.0.0.1:40312", or '' when unknown. */
  peer: string;
  format: TransferFormat | null;
  /** The name as announced, when it could be read (may be one that was refused). */
  name: string | null;
  /** The announced size, when the header was valid. */
  size: number | null;
  /** Content bytes that arrived. */
  received: number;
  durationMs: number;
  /** SHA-256 in hex of what arrived (extended format; the tutorial's carries none). */
  sha256: string | null;
  outcome: UploadOutcome;
  /** OK, or why not. */
  code: ReplyCodeName;
  reason: string;
  /** The published file's path (outcome 'stored'). */
  path: string | null;
}

/** The upload was stopped because the server is shutting down. Throw it from a signal handler. */
export class ShutdownError extends Error {
  override name = 'ShutdownError';
  /** An Error naming the signal. */
  constructor(
    /** The signal's name ('SIGTERM', 'SIGINT'). */
    readonly signal: string,
  ) {
    super(`the server received ${signal}`);
  }
}

function toRefusal(error: unknown): TransferRefusal {
  if (error instanceof TransferRefusal) return error;
  if (error instanceof IdleTimeoutError) return new TransferRefusal('TIMEOUT', `the client sent nothing for ${error.timeoutMs} ms`);
  if (error instanceof HeaderDeadline) return new TransferRefusal('TIMEOUT', `the whole header did not arrive within ${error.limitMs} ms`);
  if (error instanceof ShutdownError || error instanceof StopRequestedError) return new TransferRefusal('SHUTTING_DOWN', 'the server is shutting down');
  if (isSyscallError(error)) return new TransferRefusal('TRUNCATED', `the connection failed: ${error.message}`);
  throw error; // a bug, not a client's doing: let it surface
}

/** The header's deadline passed (a TimeoutError of one of its reads, or none of its time left). */
class HeaderDeadline extends Error {
  override name = 'HeaderDeadline';
  constructor(readonly limitMs: number) {
    super(`the header did not arrive within ${limitMs} ms`);
  }
}

/** "Permission denied" for an error of the addon or of node:fs, from its errno: no paths, no call names. */
export function systemErrorText(error: unknown): string {
  const errno = (error as { errno?: unknown }).errno;
  const entry = typeof errno === 'number' ? getSystemErrorMap().get(-Math.abs(errno)) : undefined;
  if (entry === undefined) return error instanceof Error ? error.message : String(error);
  return entry[1].charAt(0).toUpperCase() + entry[1].slice(1);
}

/**
 * Runs a file-system step; its failure becomes STORAGE_ERROR saying which
 * step failed and why ("writing the file: No space left on device"), never
 * the server's paths: the reason goes to the client.
 */
function storage<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    // SyscallError from the addon, or a Node fs error (it has a string code too)
    const isFsError = error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && !(error instanceof TransferRefusal);
    if (isFsError) throw new TransferRefusal('STORAGE_ERROR', `${what}: ${systemErrorText(error)}`);
    throw error;
  }
}

function peerOf(fd: number): string {
  try {
    return formatAddress(posix.getpeername(fd));
  } catch {
    return '';
  }
}

type UploadSettings = Required<Omit<ReceiveOptions, 'shouldStop' | 'onHeader' | 'stopFd' | 'dirFd'>> &
  Pick<ReceiveOptions, 'shouldStop' | 'onHeader' | 'stopFd'> & { dirFd: number };

/** The content's minimum rate: bytes counted over windows; a window with too few ends the upload. */
class RateGuard {
  #windowStart = performance.now();
  #windowBytes = 0;

  constructor(
    private readonly minRate: number,
    private readonly windowMs: number,
  ) {}

  /** Counts `n` bytes; at the end of each window, refuses a client that sent less than the minimum in it. */
  add(n: number): void {
    this.#windowBytes += n;
    const now = performance.now();
    const elapsed = now - this.#windowStart;
    if (this.minRate <= 0 || elapsed < this.windowMs) return;
    if ((this.#windowBytes / elapsed) * 1000 < this.minRate)
      throw new TransferRefusal(
        'TIMEOUT',
        `the client sent ${this.#windowBytes} bytes in ${(elapsed / 1000).toFixed(1)} s, less than the minimum rate of ${this.minRate} bytes/s`,
      );
    this.#windowStart = now;
    this.#windowBytes = 0;
  }
}

/** Everything one upload holds, so that failure paths can clean up from any point. */
class Upload {
  readonly started = performance.now();
  format: TransferFormat | null = null;
  name: string | null = null;
  size: number | null = null;
  received = 0;
  sha256: string | null = null;
  /** The temporary file's name inside the directory (never a path). */
  tempName: string | null = null;
  tempFd = -1;
  /** [read, write] of the pipe splice() moves the content through (tutorial format). */
  pipe: [number, number] | null = null;
  path: string | null = null;
  readonly buffer: Buffer;
  readonly #rate: RateGuard;

  constructor(
    readonly fd: number,
    readonly options: UploadSettings,
  ) {
    this.buffer = Buffer.allocUnsafe(options.bufferSize);
    this.#rate = new RateGuard(options.minRate, options.rateWindowMs);
  }

  /** Each wait of the content: the idle timeout, and the server's stop pipe. */
  get idle(): WaitOptions {
    return { idleTimeout: this.options.idleTimeoutMs, stopFd: this.options.stopFd };
  }

  /** A read of the header: also bounded by what is left of the whole header's deadline, counted from the accept. */
  #headerRead(offset: number, length: number): number {
    const { headerTimeoutMs, acceptedAt } = this.options;
    const left = Math.floor(acceptedAt + headerTimeoutMs - performance.now());
    if (left <= 0) throw new HeaderDeadline(headerTimeoutMs);
    try {
      return recvFull(this.fd, this.buffer, { ...this.idle, timeout: left, offset, length });
    } catch (error) {
      if (error instanceof TimeoutError) throw new HeaderDeadline(headerTimeoutMs);
      throw error;
    }
  }

  /** Reads exactly `length` bytes into the buffer's start or reports what was missing. */
  recvExactly(length: number, what: string): Buffer {
    const n = this.#headerRead(0, length);
    if (n < length) throw new TransferRefusal('TRUNCATED', `the connection closed after ${n} of the ${length} bytes of ${what}`);
    return this.buffer.subarray(0, length);
  }

  /** The rest of a header whose first byte is already in the buffer: `total` bytes in all. */
  #headerAfterFirstByte(total: number): Buffer {
    const n = this.#headerRead(1, total - 1);
    if (n < total - 1) throw new TransferRefusal('TRUNCATED', `the connection closed after ${n + 1} of the ${total} header bytes`);
    return this.buffer.subarray(0, total);
  }

  readHeader(): void {
    const first = this.#headerRead(0, 1);
    if (first === 0) throw new TransferRefusal('TRUNCATED', 'the connection closed before a header arrived');
    this.format = formatOfFirstByte(this.buffer[0]!);
    const { maxSize } = this.options;
    if (this.format === 'tutorial') {
      const fields = splitTutorialHeader(this.#headerAfterFirstByte(TUTORIAL_HEADER_SIZE));
      if (fields.nameBytes !== null) this.name = fields.nameBytes.toString('utf8');
      const shown = fields.nameBytes ?? this.buffer.subarray(0, TUTORIAL_HEADER_SIZE - 4);
      this.options.onHeader?.({ format: 'tutorial', name: shown.toString('utf8'), size: fields.size });
      this.size = checkTutorialFields(fields, maxSize).size;
    } else {
      const fixed = decodeExtendedFixed(this.#headerAfterFirstByte(EXTENDED_FIXED_SIZE));
      const nameBytes = this.recvExactly(fixed.nameLength, 'the name');
      this.name = nameBytes.toString('utf8');
      this.options.onHeader?.({ format: 'extended', name: this.name, size: fixed.size });
      checkName(nameBytes);
      this.size = checkSize(fixed.size, maxSize);
    }
  }

  /** Refuses early what cannot succeed: a directory in the way, a file system without room. */
  checkTarget(): void {
    const { dirFd } = this.options;
    let existing: number | null = null;
    try {
      existing = fstatat(dirFd, this.name!, AT_SYMLINK_NOFOLLOW).mode;
    } catch (error) {
      if (!isSyscallError(error, 'ENOENT')) storage('looking up the name', () => { throw error; });
    }
    if (existing !== null && (existing & S_IFMT) === S_IFDIR) throw new TransferRefusal('STORAGE_ERROR', `${this.name} is a directory on the server`);
    const fs = storage('reading the free space', () => fstatvfs(dirFd));
    const free = fs.bavail * fs.frsize;
    if (this.size! > free) throw new TransferRefusal('NO_SPACE', `${this.size} bytes do not fit in the ${free} bytes free on the server`);
  }

  createTemp(): void {
    const tempName = temporaryName();
    this.tempFd = storage('creating the temporary file', () =>
      openat(this.options.dirFd, tempName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666),
    );
    this.tempName = tempName;
  }

  replyReady(): void {
    sendAll(this.fd, this.format === 'tutorial' ? TUTORIAL_OK : encodeReply('OK'), { flags: MSG_NOSIGNAL, ...this.idle });
  }

  receiveContent(): void {
    if (this.format === 'extended') {
      this.checkTrailer(this.receiveHashed());
    } else {
      this.receiveSpliced();
      this.checkNothingMore();
    }
  }

  #checkStop(): void {
    if (this.options.shouldStop?.()) throw new ShutdownError('a stop request');
  }

  #truncated(): TransferRefusal {
    return new TransferRefusal('TRUNCATED', `the connection closed after ${this.received} of ${this.size} bytes`);
  }

  /** Extended: large recv()s, each hashed and written; the digest of everything that arrived. */
  receiveHashed(): Buffer {
    const hash = createHash(DIGEST_ALGORITHM);
    const { buffer, fd } = this;
    const size = this.size!;
    while (this.received < size) {
      this.#checkStop();
      const n = recvSome(fd, buffer, { offset: 0, length: Math.min(buffer.length, size - this.received), ...this.idle });
      if (n === 0) throw this.#truncated();
      hash.update(buffer.subarray(0, n));
      storage('writing the file', () => writeAll(this.tempFd, buffer, { length: n }));
      this.received += n;
      this.#rate.add(n);
    }
    return hash.digest();
  }

  /**
   * Tutorial: nothing to hash, so the bytes never enter JS: splice(2) moves
   * them socket → pipe → file inside the kernel. SPLICE_F_NONBLOCK on the
   * socket side: poll() did the waiting, with the idle timeout.
   */
  receiveSpliced(): void {
    const size = this.size!;
    if (size === 0) return;
    this.pipe = storage('creating a pipe', () => posix.pipe(O_CLOEXEC));
    const [pipeRead, pipeWrite] = this.pipe;
    let capacity = DEFAULT_PIPE_CAPACITY;
    try {
      capacity = posix.fcntl(pipeWrite, F_SETPIPE_SZ, this.options.bufferSize);
    } catch {
      // above /proc/sys/fs/pipe-max-size for an unprivileged user: keep the default
    }
    while (this.received < size) {
      this.#checkStop();
      const n = untilReady('splice', this.fd, POLLIN, { ...this.idle }, () =>
        posix.splice(this.fd, null, pipeWrite, null, Math.min(capacity, size - this.received), SPLICE_F_MOVE | SPLICE_F_NONBLOCK),
      );
      if (n === 0) throw this.#truncated();
      if (n < 0) continue;
      storage('writing the file', () => {
        for (let left = n; left > 0; ) {
          const moved = posix.splice(pipeRead, null, this.tempFd, null, left, SPLICE_F_MOVE);
          if (moved === 0) throw new TransferRefusal('STORAGE_ERROR', 'writing the file: splice moved no bytes');
          left -= moved;
        }
      });
      this.received += n;
      this.#rate.add(n);
    }
  }

  /** Extended: the SHA-256 trailer must match, then the client's half-close must follow. */
  checkTrailer(digest: Buffer): void {
    this.sha256 = digest.toString('hex');
    const trailer = recvFull(this.fd, this.buffer, { offset: 0, length: DIGEST_SIZE, ...this.idle });
    if (trailer < DIGEST_SIZE) throw new TransferRefusal('TRUNCATED', `the connection closed after the content, before its ${DIGEST_SIZE}-byte SHA-256`);
    const extra = recvSome(this.fd, this.buffer, { offset: DIGEST_SIZE, length: 1, ...this.idle });
    if (extra !== 0) throw new TransferRefusal('TOO_MUCH_DATA', `more bytes followed the ${this.size} bytes of content and the SHA-256`);
    if (!digest.equals(this.buffer.subarray(0, DIGEST_SIZE)))
      throw new TransferRefusal('CHECKSUM_MISMATCH', `SHA-256 of what arrived is ${this.sha256}, the client announced ${this.buffer.toString('hex', 0, DIGEST_SIZE)}`);
  }

  /** Tutorial: no half-close to wait for, so refuse bytes that are already waiting beyond the announced size. */
  checkNothingMore(): void {
    try {
      if (posix.recv(this.fd, this.buffer, MSG_DONTWAIT | MSG_PEEK, 0, 1) > 0)
        throw new TransferRefusal('TOO_MUCH_DATA', `more bytes arrived than the ${this.size} announced`);
    } catch (error) {
      if (!isSyscallError(error, 'EAGAIN')) throw error;
    }
  }

  publish(): void {
    const { dirFd } = this.options;
    if (this.options.fsync) storage('fsync of the file', () => fsyncSync(this.tempFd));
    const fd = this.tempFd;
    this.tempFd = -1;
    storage('closing the file', () => posix.close(fd));
    // renameat replaces a symbolic link itself, never follows it; both names are in the directory that was opened.
    storage('publishing the file', () => renameat(dirFd, this.tempName!, dirFd, this.name!));
    this.tempName = null;
    this.path = join(this.options.dir, this.name!);
  }

  replyStored(): void {
    sendAll(this.fd, this.format === 'tutorial' ? TUTORIAL_OK : encodeReply('OK', this.sha256 ?? ''), { flags: MSG_NOSIGNAL, idleTimeout: this.options.idleTimeoutMs });
  }

  /** Best effort: the refusal reaches an extended client that still listens; the tutorial's format has no way to say why. */
  replyRefused(refusal: TransferRefusal): void {
    if (this.format !== 'extended') return;
    try {
      sendAll(this.fd, encodeReply(refusal.code, refusal.reason), { flags: MSG_NOSIGNAL, idleTimeout: Math.min(this.options.idleTimeoutMs, 1000) });
    } catch {
      // the client is gone or stalled: nothing more to tell it
    }
  }

  closePipe(): void {
    if (this.pipe === null) return;
    const [pipeRead, pipeWrite] = this.pipe;
    this.pipe = null;
    posix.close(pipeRead);
    posix.close(pipeWrite);
  }

  discard(): void {
    this.closePipe();
    if (this.tempFd >= 0) {
      const fd = this.tempFd;
      this.tempFd = -1;
      try {
        posix.close(fd);
      } catch {
        // already failed; removing the file below is what matters
      }
    }
    if (this.tempName !== null) {
      const tempName = this.tempName;
      this.tempName = null;
      try {
        unlinkat(this.options.dirFd, tempName);
      } catch {
        // nothing to remove
      }
    }
  }

  record(peer: string, code: ReplyCodeName, reason: string): UploadRecord {
    return {
      peer,
      format: this.format,
      name: this.name,
      size: this.size,
      received: this.received,
      durationMs: performance.now() - this.started,
      sha256: this.sha256,
      outcome: outcomeOfCode(code),
      code,
      reason,
      path: this.path,
    };
  }
}

/** `.sockfd-upload-<pid>-<12 hex>.part`: the pid says whose it is, for the clean-up after a crash. */
export function temporaryName(pid = process.pid): string {
  return `${TEMP_PREFIX}${pid}-${randomBytes(6).toString('hex')}.part`;
}

/** The pid in a name temporaryName() made, or null for any other name. */
export function temporaryNameOwner(name: string): number | null {
  const match = /^\.sockfd-upload-(\d+)-[0-9a-f]{12}\.part$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** Opens a directory for uploads (O_DIRECTORY: a file or a dangling link fails with ENOTDIR/ENOENT). */
export function openDirectory(dir: string): number {
  return openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/**
 * Receives one upload from the connected socket `fd`, in the tutorial's
 * format or the extended one. Never throws for anything the client does:
 * the outcome and the reason are in the record. A ShutdownError thrown by a
 * signal handler during a blocking call, or the stop fd becoming ready,
 * ends the upload as SHUTTING_DOWN.
 */
export function receiveUpload(fd: number, options: ReceiveOptions): UploadRecord {
  const ownDirFd = options.dirFd === undefined;
  const dirFd = options.dirFd ?? openDirectory(options.dir);
  try {
    return receiveInto(fd, dirFd, options);
  } finally {
    if (ownDirFd) posix.close(dirFd);
  }
}

function receiveInto(fd: number, dirFd: number, options: ReceiveOptions): UploadRecord {
  const upload = new Upload(fd, {
    dir: options.dir,
    dirFd,
    maxSize: options.maxSize ?? DEFAULT_MAX_SIZE,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    acceptedAt: options.acceptedAt ?? performance.now(),
    minRate: options.minRate ?? DEFAULT_MIN_RATE,
    rateWindowMs: options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
    fsync: options.fsync ?? false,
    bufferSize: Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, MIN_BUFFER_SIZE),
    shouldStop: options.shouldStop,
    onHeader: options.onHeader,
    stopFd: options.stopFd,
  });
  const peer = peerOf(fd);
  // Non-blocking for the upload (every wait is a bounded poll(), splice() included); the caller's flags come back after.
  const flags = posix.fcntl(fd, F_GETFL);
  if ((flags & O_NONBLOCK) === 0) posix.fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  try {
    return receiveOn(upload, fd, peer, options);
  } finally {
    if ((flags & O_NONBLOCK) === 0) posix.fcntl(fd, F_SETFL, flags);
  }
}

function receiveOn(upload: Upload, fd: number, peer: string, options: ReceiveOptions): UploadRecord {
  try {
    // The server may have raised SO_RCVLOWAT while it waited for the whole header: back to byte by byte.
    posix.setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, 1);
  } catch {
    // not a socket option this fd has (a socketpair in a test): nothing was raised
  }
  try {
    upload.readHeader();
    upload.checkTarget();
    upload.createTemp();
    upload.replyReady();
    upload.receiveContent();
    upload.closePipe();
    upload.publish();
  } catch (error) {
    upload.discard();
    // A stop request ends blocking calls with EINTR (or a handler's ShutdownError): say so, not "connection failed".
    const refusal = options.shouldStop?.() ? new TransferRefusal('SHUTTING_DOWN', 'the server is shutting down') : toRefusal(error);
    upload.replyRefused(refusal);
    return upload.record(peer, refusal.code, refusal.reason);
  }
  try {
    upload.replyStored();
    return upload.record(peer, 'OK', 'stored');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return upload.record(peer, 'OK', `stored, but the confirmation could not be sent (${message})`);
  }
}
