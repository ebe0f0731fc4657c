// One upload on one connected socket, in either format (the first byte
// decides). The content goes to a temporary file in the target directory,
// created with O_EXCL|O_NOFOLLOW, renamed over the target only when every
// byte arrived (and, in the extended format, the SHA-256 matched); on any
// failure the temporary file is removed and no file of that name changes.
// The caller owns the socket: receiveUpload never closes it.
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, renameSync, statfsSync, unlinkSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import * as posix from '../posix.js';
import {
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
import { IdleTimeoutError, recvFull, recvSome, sendAll, untilReady, writeAll } from '../io.js';
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
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Reads of 1 MiB: few system calls per GiB, and the buffer stays in cache. */
export const DEFAULT_BUFFER_SIZE = 1 << 20;
/** The buffer holds a whole header (260 bytes at most) and a page of content. */
const MIN_BUFFER_SIZE = 4096;
/** A pipe's capacity when F_SETPIPE_SZ is refused (Linux default: 16 pages). */
const DEFAULT_PIPE_CAPACITY = 65536;

export interface ReceiveOptions {
  /** The directory files are stored in. */
  dir: string;
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
  constructor(readonly signal: string) {
    super(`the server received ${signal}`);
  }
}

function toRefusal(error: unknown): TransferRefusal {
  if (error instanceof TransferRefusal) return error;
  if (error instanceof IdleTimeoutError) return new TransferRefusal('TIMEOUT', `the client sent nothing for ${error.timeoutMs} ms`);
  if (error instanceof ShutdownError) return new TransferRefusal('SHUTTING_DOWN', error.message);
  if (isSyscallError(error)) return new TransferRefusal('TRUNCATED', `the connection failed: ${error.message}`);
  throw error; // a bug, not a client's doing: let it surface
}

/** Runs a file-system step; its failure becomes STORAGE_ERROR with the perror-style message. */
function storage<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    // SyscallError from the addon, or a Node fs error (it has a string code too)
    const isFsError = error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && !(error instanceof TransferRefusal);
    if (isFsError) throw new TransferRefusal('STORAGE_ERROR', error.message);
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

/** Everything one upload holds, so that failure paths can clean up from any point. */
class Upload {
  readonly started = performance.now();
  format: TransferFormat | null = null;
  name: string | null = null;
  size: number | null = null;
  received = 0;
  sha256: string | null = null;
  tempPath: string | null = null;
  tempFd = -1;
  /** [read, write] of the pipe splice() moves the content through (tutorial format). */
  pipe: [number, number] | null = null;
  path: string | null = null;
  readonly buffer: Buffer;

  constructor(
    readonly fd: number,
    readonly options: Required<Omit<ReceiveOptions, 'shouldStop' | 'onHeader'>> & Pick<ReceiveOptions, 'shouldStop' | 'onHeader'>,
  ) {
    this.buffer = Buffer.allocUnsafe(options.bufferSize);
  }

  get idle(): number {
    return this.options.idleTimeoutMs;
  }

  /** Reads exactly `length` bytes into the buffer's start or reports what was missing. */
  recvExactly(length: number, what: string): Buffer {
    const n = recvFull(this.fd, this.buffer, { length, idleTimeout: this.idle });
    if (n < length) throw new TransferRefusal('TRUNCATED', `the connection closed after ${n} of the ${length} bytes of ${what}`);
    return this.buffer.subarray(0, length);
  }

  /** The rest of a header whose first byte is already in the buffer: `total` bytes in all. */
  #headerAfterFirstByte(total: number): Buffer {
    const n = recvFull(this.fd, this.buffer, { offset: 1, length: total - 1, idleTimeout: this.idle });
    if (n < total - 1) throw new TransferRefusal('TRUNCATED', `the connection closed after ${n + 1} of the ${total} header bytes`);
    return this.buffer.subarray(0, total);
  }

  readHeader(): void {
    const first = recvFull(this.fd, this.buffer, { offset: 0, length: 1, idleTimeout: this.idle });
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
    const target = join(this.options.dir, this.name!);
    const existing = storage(() => lstatSync(target, { throwIfNoEntry: false }));
    if (existing?.isDirectory()) throw new TransferRefusal('STORAGE_ERROR', `${this.name} is a directory on the server`);
    const fs = storage(() => statfsSync(this.options.dir));
    const free = fs.bavail * fs.bsize;
    if (this.size! > free) throw new TransferRefusal('NO_SPACE', `${this.size} bytes do not fit in the ${free} bytes free on the server`);
  }

  createTemp(): void {
    const tempPath = join(this.options.dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}.part`);
    this.tempFd = storage(() => posix.open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666));
    this.tempPath = tempPath;
  }

  replyReady(): void {
    sendAll(this.fd, this.format === 'tutorial' ? TUTORIAL_OK : encodeReply('OK'), { flags: MSG_NOSIGNAL, idleTimeout: this.idle });
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
      const n = recvSome(fd, buffer, { offset: 0, length: Math.min(buffer.length, size - this.received), idleTimeout: this.idle });
      if (n === 0) throw this.#truncated();
      hash.update(buffer.subarray(0, n));
      storage(() => writeAll(this.tempFd, buffer, { length: n }));
      this.received += n;
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
    this.pipe = storage(() => posix.pipe(O_CLOEXEC));
    const [pipeRead, pipeWrite] = this.pipe;
    let capacity = DEFAULT_PIPE_CAPACITY;
    try {
      capacity = posix.fcntl(pipeWrite, F_SETPIPE_SZ, this.options.bufferSize);
    } catch {
      // above /proc/sys/fs/pipe-max-size for an unprivileged user: keep the default
    }
    while (this.received < size) {
      this.#checkStop();
      const n = untilReady('splice', this.fd, POLLIN, { idleTimeout: this.idle }, () =>
        posix.splice(this.fd, null, pipeWrite, null, Math.min(capacity, size - this.received), SPLICE_F_MOVE | SPLICE_F_NONBLOCK),
      );
      if (n === 0) throw this.#truncated();
      storage(() => {
        for (let left = n; left > 0; ) {
          const moved = posix.splice(pipeRead, null, this.tempFd, null, left, SPLICE_F_MOVE);
          if (moved === 0) throw new TransferRefusal('STORAGE_ERROR', 'splice: the file took no bytes');
          left -= moved;
        }
      });
      this.received += n;
    }
  }

  /** Extended: the SHA-256 trailer must match, then the client's half-close must follow. */
  checkTrailer(digest: Buffer): void {
    this.sha256 = digest.toString('hex');
    const trailer = recvFull(this.fd, this.buffer, { offset: 0, length: DIGEST_SIZE, idleTimeout: this.idle });
    if (trailer < DIGEST_SIZE) throw new TransferRefusal('TRUNCATED', `the connection closed after the content, before its ${DIGEST_SIZE}-byte SHA-256`);
    const extra = recvSome(this.fd, this.buffer, { offset: DIGEST_SIZE, length: 1, idleTimeout: this.idle });
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
    const target = join(this.options.dir, this.name!);
    storage(() => {
      if (this.options.fsync) fsyncSync(this.tempFd);
      const fd = this.tempFd;
      this.tempFd = -1;
      posix.close(fd);
      renameSync(this.tempPath!, target); // replaces a symbolic link itself, never follows it
    });
    this.tempPath = null;
    this.path = target;
  }

  replyStored(): void {
    sendAll(this.fd, this.format === 'tutorial' ? TUTORIAL_OK : encodeReply('OK', this.sha256 ?? ''), { flags: MSG_NOSIGNAL, idleTimeout: this.idle });
  }

  /** Best effort: the refusal reaches an extended client that still listens; the tutorial's format has no way to say why. */
  replyRefused(refusal: TransferRefusal): void {
    if (this.format !== 'extended') return;
    try {
      sendAll(this.fd, encodeReply(refusal.code, refusal.reason), { flags: MSG_NOSIGNAL, idleTimeout: Math.min(this.idle, 1000) });
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
    if (this.tempPath !== null) {
      const tempPath = this.tempPath;
      this.tempPath = null;
      try {
        unlinkSync(tempPath);
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

/**
 * Receives one upload from the connected socket `fd`, in the tutorial's
 * format or the extended one. Never throws for anything the client does:
 * the outcome and the reason are in the record. A ShutdownError thrown by a
 * signal handler during a blocking call ends the upload as SHUTTING_DOWN.
 */
export function receiveUpload(fd: number, options: ReceiveOptions): UploadRecord {
  const upload = new Upload(fd, {
    dir: options.dir,
    maxSize: options.maxSize ?? DEFAULT_MAX_SIZE,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    fsync: options.fsync ?? false,
    bufferSize: Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, MIN_BUFFER_SIZE),
    shouldStop: options.shouldStop,
    onHeader: options.onHeader,
  });
  const peer = peerOf(fd);
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
