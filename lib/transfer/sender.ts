// Uploads a file in either format. The content leaves with sendfile(2) (the
// kernel moves page-cache pages to the socket, no copy through JS); in the
// extended format each block is hashed just before it is sent, so the SHA-256
// trailer costs one read of the page cache and no second pass over the file.
// The socket is non-blocking and every wait is a bounded poll().
import { createHash } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import * as posix from '../posix.js';
import { MSG_NOSIGNAL, O_CLOEXEC, O_RDONLY, POLLOUT, SHUT_WR, SOCK_CLOEXEC, SOCK_STREAM } from '../constants.js';
import { isSyscallError, type SyscallError } from '../errors.js';
import { formatAddress } from '../sockaddr.js';
import { IdleTimeoutError, connectWithin, recvFull, sendAll, untilReady } from '../io.js';
import {
  DIGEST_ALGORITHM,
  TUTORIAL_OK,
  decodeReply,
  encodeExtendedHeader,
  encodeTutorialHeader,
  outcomeOfCode,
  type Reply,
  type TransferFormat,
} from './protocol.js';

/** sendFile() gives up after 30 s without progress or answer. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
/** Hashed and sent in blocks of 1 MiB: the block is still in cache when sendfile takes it. */
const BLOCK_SIZE = 1 << 20;
/** How long a failed send waits for the server's reason. */
const REASON_WAIT_MS = 1000;

/** Options of sendFile() and uploadFile(). */
export interface SendOptions {
  /** 'extended' (default: 64-bit size, SHA-256, reasons) or 'tutorial' (demo12's struct, files < 2 GiB). */
  format?: TransferFormat;
  /** The name announced to the server (default: the file's base name). */
  name?: string;
  /** Give up when the server accepts or answers nothing for this long (default 30 s); also bounds connect(). */
  timeoutMs?: number;
  /** Called after every chunk the kernel took: bytes of content sent so far, and the total. */
  onProgress?: (sent: number, total: number) => void;
}

/** uploadFile()'s answer to a server that speaks only the tutorial's format. */
export interface UploadFallback {
  /**
   * When the server answers the extended header with the tutorial's 'ok' (the
   * tutorial's demo12 does), upload again on a new connection in the tutorial's
   * format instead of failing (uploadFile only; default false).
   */
  fallbackToTutorial?: boolean;
  /** Told once when that happens, before the second connection. */
  onFallback?: () => void;
}

/** What sendFile() sent and what the server confirmed. */
export interface SendResult {
  name: string;
  size: number;
  format: TransferFormat;
  /** SHA-256 in hex that the server confirmed (extended format), else null. */
  sha256: string | null;
  durationMs: number;
}

/** The server refused or failed the upload; `code` is its reply code name, `reason` its words. */
export class UploadRefusedError extends Error {
  override name = 'UploadRefusedError';
  /** An Error of `code` and `reason`. */
  constructor(
    /** The server's reply code name (BAD_NAME, TOO_LARGE, STORAGE_ERROR...). */
    readonly code: string,
    /** The server's reason in words. */
    readonly reason: string,
  ) {
    super(`the server ${outcomeOfCode(code) === 'failed' ? 'failed to store' : 'refused'} the file: ${code}: ${reason}`);
  }
}

/** The upload broke off without a reason from the server (the tutorial's format cannot give one). */
export class UploadFailedError extends Error {
  override name = 'UploadFailedError';
}

/** The server answered the extended header with the tutorial's 'ok': it speaks only the tutorial's format. */
export class TutorialOnlyServerError extends UploadFailedError {
  override name = 'TutorialOnlyServerError';
  /** An Error saying to use the tutorial's format. */
  constructor() {
    super("the server answered 'ok' to the extended header: it speaks only the tutorial's format (use --format tutorial)");
  }
}

/** "[::1]" as sockfd prints addresses: the literal inside the brackets. */
export function unbracketHost(host: string): string {
  const match = /^\[([^\]]+)\]$/.exec(host);
  return match ? match[1]! : host;
}

/**
 * Connects a non-blocking TCP socket to host:port (each address getaddrinfo
 * gives, in order), bounded by `timeoutMs`. Returns the fd; the caller closes it.
 */
export function connectTcp(host: string, port: number, timeoutMs = DEFAULT_SEND_TIMEOUT_MS): number {
  const candidates = posix.getaddrinfo(unbracketHost(host), String(port), { socktype: SOCK_STREAM });
  let lastError: unknown = new Error(`${host}: no address`);
  for (const candidate of candidates) {
    const fd = posix.socket(candidate.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const to = `connect to ${formatAddress(candidate.address)}`;
    try {
      connectWithin(fd, candidate.address as posix.AddressInput, { idleTimeout: timeoutMs, waitingFor: to });
      return fd;
    } catch (error) {
      posix.close(fd);
      // "connect: Connection refused" says which address as "connect to 127.0.0.1:5005: ..."
      if (isSyscallError(error) && error.syscall === 'connect') error.message = error.message.replace(/^connect:/, `${to}:`);
      lastError = error;
    }
  }
  throw lastError;
}

/** Reads the server's extended reply: code, length, reason. */
function readReply(fd: number, timeoutMs: number, stage: string): Reply {
  const head = Buffer.alloc(2);
  const n = recvFull(fd, head, { idleTimeout: timeoutMs });
  if (n < 2) throw new UploadFailedError(`the server closed the connection ${stage} without a reply`);
  if (head.equals(TUTORIAL_OK)) throw new TutorialOnlyServerError();
  const reason = Buffer.alloc(head[1]!);
  if (recvFull(fd, reason, { idleTimeout: timeoutMs }) < reason.length) throw new UploadFailedError(`the server's reply ${stage} was cut short`);
  return decodeReply(head[0]!, reason);
}

function expectOk(reply: Reply): void {
  if (reply.code !== 0) throw new UploadRefusedError(reply.codeName, reply.reason);
}

function readTutorialOk(fd: number, timeoutMs: number, stage: string): void {
  const reply = Buffer.alloc(2);
  const n = recvFull(fd, reply, { idleTimeout: timeoutMs });
  if (n < 2) throw new UploadFailedError(`the server closed the connection ${stage} without 'ok' (the tutorial's format cannot say why)`);
  if (!reply.equals(TUTORIAL_OK)) throw new UploadFailedError(`the server answered ${JSON.stringify(reply.toString('latin1'))} ${stage}, not 'ok'`);
}

/** Moves [offset, offset+count) of the file into the socket with sendfile(2), waiting (bounded) for room. */
function sendFileRange(socketFd: number, fileFd: number, offset: number, count: number, timeoutMs: number, progress: (n: number) => void): void {
  let position = offset;
  const end = offset + count;
  while (position < end) {
    const n = untilReady('sendfile', socketFd, POLLOUT, { idleTimeout: timeoutMs }, () => posix.sendfile(socketFd, fileFd, position, end - position));
    if (n === 0) throw new UploadFailedError(`the file shrank while it was being sent (${position} of ${end} bytes)`);
    position += n;
    progress(n);
  }
}

/** Extended content: each block hashed, then sent with sendfile(2); then the SHA-256 trailer. Returns the digest. */
function sendHashedContent(fd: number, fileFd: number, size: number, timeoutMs: number, progress: (n: number) => void): Buffer {
  const hash = createHash(DIGEST_ALGORITHM);
  const block = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, Math.max(size, 1)));
  for (let offset = 0; offset < size; ) {
    const length = Math.min(block.length, size - offset);
    const n = readSync(fileFd, block, 0, length, offset);
    if (n === 0) throw new UploadFailedError(`the file shrank while it was being sent (${offset} of ${size} bytes)`);
    hash.update(block.subarray(0, n));
    sendFileRange(fd, fileFd, offset, n, timeoutMs, progress);
    offset += n;
  }
  const digest = hash.digest();
  sendAll(fd, digest, { flags: MSG_NOSIGNAL, idleTimeout: timeoutMs });
  return digest;
}

/**
 * The server stopped reading mid-upload (EPIPE, ECONNRESET, a stall): it
 * has usually said why before closing (SHUTTING_DOWN, STORAGE_ERROR, ...).
 * That reason, when one is waiting, explains the failure better.
 */
function reasonAfterBrokenSend(fd: number, error: unknown): unknown {
  if (!(isSyscallError(error) || error instanceof IdleTimeoutError)) return error;
  try {
    const reply = readReply(fd, REASON_WAIT_MS, 'during the content');
    if (reply.code !== 0) return new UploadRefusedError(reply.codeName, reply.reason);
  } catch {
    // no reason arrived: the original failure stands
  }
  return error;
}

/** A file opened for sending: its fd, size and the name announced. */
interface OpenedFile {
  fd: number;
  size: number;
}

/** Opens `path` for reading and checks it is a regular file; the caller closes the fd. */
function openForSending(path: string): OpenedFile {
  const fd = posix.open(path, O_RDONLY | O_CLOEXEC);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UploadFailedError(`${path} is not a regular file`);
    return { fd, size: stat.size };
  } catch (error) {
    posix.close(fd);
    throw error;
  }
}

/**
 * Uploads the file at `path` over the connected socket `fd` (which it leaves
 * open). Resolves when the server confirmed; throws UploadRefusedError with
 * the server's reason, or UploadFailedError / a SyscallError otherwise.
 */
export function sendFileOnSocket(fd: number, path: string, options: SendOptions = {}): SendResult {
  const file = openForSending(path);
  try {
    return sendOpenedFile(fd, file, options.name ?? basename(path), options);
  } finally {
    posix.close(file.fd);
  }
}

function sendOpenedFile(fd: number, file: OpenedFile, name: string, options: SendOptions): SendResult {
  const format = options.format ?? 'extended';
  const timeoutMs = options.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const started = performance.now();
  const { fd: fileFd, size } = file;
  let sent = 0;
  const progress = (n: number): void => {
    sent += n;
    options.onProgress?.(sent, size);
  };
  options.onProgress?.(0, size);
  if (format === 'tutorial') {
    sendAll(fd, encodeTutorialHeader(name, size), { flags: MSG_NOSIGNAL, idleTimeout: timeoutMs });
    readTutorialOk(fd, timeoutMs, 'after the header');
    sendFileRange(fd, fileFd, 0, size, timeoutMs, progress);
    readTutorialOk(fd, timeoutMs, 'after the content');
    return { name, size, format, sha256: null, durationMs: performance.now() - started };
  }
  sendAll(fd, encodeExtendedHeader(name, size), { flags: MSG_NOSIGNAL, idleTimeout: timeoutMs });
  expectOk(readReply(fd, timeoutMs, 'after the header'));
  let digest: Buffer;
  try {
    digest = sendHashedContent(fd, fileFd, size, timeoutMs, progress);
    posix.shutdown(fd, SHUT_WR); // the end of the upload: the server checks that nothing follows the digest
  } catch (error) {
    throw reasonAfterBrokenSend(fd, error);
  }
  const reply = readReply(fd, timeoutMs, 'after the content');
  expectOk(reply);
  const sha256 = digest.toString('hex');
  if (reply.reason !== sha256) throw new UploadFailedError(`the server confirmed SHA-256 ${reply.reason}, but the file's is ${sha256}`);
  return { name, size, format, sha256, durationMs: performance.now() - started };
}

/** Options of uploadFile(): where to connect, which file, the SendOptions and the fallback. */
export interface UploadOptions extends SendOptions, UploadFallback {
  /** The server's host name or IP. */
  host: string;
  /** The server's port. */
  port: number;
  /** The file to upload. */
  path: string;
}

/**
 * Opens the file, then connects to host:port and uploads it (one connection
 * per file, as demo11), closes. The file first: a file that cannot be read
 * is reported as such, and the server never sees a connection for it.
 */
export function uploadFile(options: UploadOptions): SendResult {
  const file = openForSending(options.path);
  try {
    const name = options.name ?? basename(options.path);
    const attempt = (sendOptions: SendOptions): SendResult => {
      const fd = connectTcp(options.host, options.port, options.timeoutMs);
      try {
        return sendOpenedFile(fd, file, name, sendOptions);
      } finally {
        posix.close(fd);
      }
    };
    try {
      return attempt(options);
    } catch (error) {
      if (!(error instanceof TutorialOnlyServerError) || !options.fallbackToTutorial || (options.format ?? 'extended') !== 'extended') throw error;
      options.onFallback?.();
      return attempt({ ...options, format: 'tutorial' });
    }
  } finally {
    posix.close(file.fd);
  }
}
