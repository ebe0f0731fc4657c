// One connected TCP endpoint: what TcpClient holds after connect() and what
// TcpServer.accept() hands out. The tutorial's send/recv(maxlen) plus what its
// classes lack: every byte sent (no partial sends), exact-length reads and
// length-prefixed messages, binary data throughout.
import { syscallError, type SyscallError } from './errors.js';
import { recvSomeAsync, type AsyncOptions } from './async.js';
import { Socket } from './socket.js';
import { ENOTCONN } from './constants.js';
import type { Data } from './posix.js';
import type { SockAddr } from './sockaddr.js';

/** Bytes in the length prefix of sendMessage()/recvMessage(): a 32-bit big-endian unsigned count. */
export const MESSAGE_HEADER_BYTES = 4;
/** recvMessage() refuses longer messages unless told otherwise: a bad peer must not make us allocate 4 GiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** A length prefix announced more bytes than the receiver accepts. */
export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError';
  /** Always 'ERR_MESSAGE_TOO_LARGE'. */
  readonly code = 'ERR_MESSAGE_TOO_LARGE';
  /** `length`: what the peer announced; `limit`: what this receiver accepts. */
  constructor(
    /** The byte count the peer's length prefix announced. */
    readonly length: number,
    /** The most this receiver accepts (`maxBytes`). */
    readonly limit: number,
  ) {
    super(`recvMessage: the peer announced ${length} bytes, more than the limit of ${limit}`);
  }
}

/** A call on a TcpClient/TcpServer that has no connection (the C classes return false here). */
export function notConnectedError(syscall: string): SyscallError {
  return syscallError(syscall, 'ENOTCONN', ENOTCONN, 'Transport endpoint is not connected');
}

/** The dotted (or IPv6) text of an address, '' for non-IP families. */
export function ipOf(address: SockAddr): string {
  return address.family === 'AF_INET' || address.family === 'AF_INET6' ? address.address : '';
}

/** One accepted or connected TCP connection: the tutorial's send/recv of whole messages (a 4-byte length prefix) over an owned Socket. */
export class TcpConnection implements Disposable {
  /** The owned socket, for options and calls this class does not wrap. */
  readonly socket: Socket;
  /** The peer's address as accept()/getpeername() reported it. */
  readonly peer: SockAddr;

  /** Takes ownership of `socket`, connected to `peer`. */
  constructor(socket: Socket, peer: SockAddr) {
    this.socket = socket;
    this.peer = peer;
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.socket.fd;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.socket.closed;
  }

  /** The peer's IP as text (inet_ntoa of the tutorial's clientip()). */
  get ip(): string {
    return ipOf(this.peer);
  }

  /** The peer's port. */
  get port(): number {
    return this.peer.family === 'AF_INET' || this.peer.family === 'AF_INET6' ? this.peer.port : 0;
  }

  /** Sends every byte of `data` (a string goes as UTF-8), looping over partial sends. Returns the byte count. */
  send(data: Data): number {
    return this.socket.sendAll(data);
  }

  /**
   * One recv(2) of at most `maxlen` bytes, as the tutorial's recv(buffer, maxlen):
   * whatever has arrived, possibly less than the sender wrote. null when the
   * peer has closed (recv returned 0); a failing call throws its SyscallError.
   */
  recv(maxlen: number): Buffer | null {
    if (!Number.isInteger(maxlen) || maxlen < 1) throw new RangeError(`maxlen must be a positive integer, got ${maxlen}`);
    const buffer = Buffer.allocUnsafe(maxlen);
    const n = this.socket.recv(buffer);
    return n === 0 ? null : buffer.subarray(0, n);
  }

  /** Exactly `n` bytes, however the kernel splits them; EndOfStreamError if the peer closes first. */
  recvExactly(n: number): Buffer {
    return this.socket.recvExactly(n);
  }

  /** Sends `data` as one message: a 4-byte big-endian length, then the bytes. */
  sendMessage(data: Data): void {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    if (body.byteLength > 0xffffffff) throw new RangeError(`a message holds at most 4294967295 bytes, got ${body.byteLength}`);
    const header = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES);
    header.writeUInt32BE(body.byteLength);
    this.socket.sendAll(header);
    if (body.byteLength > 0) this.socket.sendAll(body);
  }

  /**
   * Receives one message sent by sendMessage(): null when the peer closed
   * cleanly between messages, EndOfStreamError when it closed inside one,
   * MessageTooLargeError when the announced length exceeds `maxBytes`.
   */
  recvMessage(maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES): Buffer | null {
    const header = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES);
    const first = this.socket.recv(header);
    if (first === 0) return null;
    if (first < MESSAGE_HEADER_BYTES) this.socket.recvExactly(header, { offset: first });
    const length = header.readUInt32BE(0);
    if (length > maxBytes) throw new MessageTooLargeError(length, maxBytes);
    return length === 0 ? Buffer.alloc(0) : this.socket.recvExactly(length);
  }

  // ---- async: the same calls on the event loop (lib/async.ts) ------------------------

  /** Sends all of `data` without blocking the loop. Returns the byte count. */
  async sendAsync(data: Data, options?: AsyncOptions): Promise<number> {
    return this.socket.sendAllAsync(data, options);
  }

  /** One recv() of at most `maxlen` bytes without blocking the loop; null when the peer closed. */
  async recvAsync(maxlen: number, options?: AsyncOptions): Promise<Buffer | null> {
    return recvSomeAsync(this.fd, maxlen, options);
  }

  /** Exactly `n` bytes without blocking the loop; EndOfStreamError when the peer closes first. */
  async recvExactlyAsync(n: number, options?: AsyncOptions): Promise<Buffer> {
    return this.socket.recvExactlyAsync(n, options);
  }

  /** Closes the connection; false when it was already closed (as the C classes' close()). */
  close(): boolean {
    if (this.socket.closed) return false;
    this.socket.close();
    return true;
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The data calls TcpClient and TcpServer share, blocking and async: each
 * forwards to the connection it talks to (the client's one, the server's
 * current client), or throws ENOTCONN when there is none.
 */
export abstract class TcpEndpoint {
  /** The connection the data calls use; throws ENOTCONN (naming `syscall`) when there is none. */
  protected abstract connectionFor(syscall: string): TcpConnection;

  /** Sends all of `data` (a string as UTF-8, or binary). Returns the byte count. */
  send(data: Data): number {
    return this.connectionFor('send').send(data);
  }

  /** One recv() of at most `maxlen` bytes; null when the peer closed the connection. */
  recv(maxlen: number): Buffer | null {
    return this.connectionFor('recv').recv(maxlen);
  }

  /** Exactly `n` bytes; EndOfStreamError when the peer closes first. */
  recvExactly(n: number): Buffer {
    return this.connectionFor('recv').recvExactly(n);
  }

  /** One length-prefixed message (see TcpConnection.sendMessage). */
  sendMessage(data: Data): void {
    this.connectionFor('send').sendMessage(data);
  }

  /** One length-prefixed message; null when the peer closed between messages. */
  recvMessage(maxBytes?: number): Buffer | null {
    return this.connectionFor('recv').recvMessage(maxBytes);
  }

  /** Sends all of `data` without blocking the loop. Returns the byte count. */
  async sendAsync(data: Data, options?: AsyncOptions): Promise<number> {
    return this.connectionFor('send').sendAsync(data, options);
  }

  /** One recv() of at most `maxlen` bytes without blocking the loop; null when the peer closed. */
  async recvAsync(maxlen: number, options?: AsyncOptions): Promise<Buffer | null> {
    return this.connectionFor('recv').recvAsync(maxlen, options);
  }

  /** Exactly `n` bytes without blocking the loop; EndOfStreamError when the peer closes first. */
  async recvExactlyAsync(n: number, options?: AsyncOptions): Promise<Buffer> {
    return this.connectionFor('recv').recvExactlyAsync(n, options);
  }
}
