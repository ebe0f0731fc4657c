// TcpClient: the tutorial's ctcpclient (connect, send, recv(maxlen), close)
// in TypeScript. Failures throw typed errors instead of returning false for
// perror() to explain; the connection's data methods (whole sends, exact
// reads, length-prefixed messages) come from TcpConnection.
import { Socket } from './socket.js';
import { gethostbyname, inet_pton } from './posix.js';
import { AF_INET, AF_INET6 } from './constants.js';
import type { AddressInput } from './sockaddr.js';
import { TcpConnection, TcpEndpoint, notConnectedError } from './tcp-connection.js';
import { lookup } from 'node:dns/promises';
import * as asyncCalls from './async.js';

/** Options of a TcpClient. */
export interface TcpClientOptions {
  /** TCP_NODELAY on the connection (Nagle's algorithm off). Default false, as in C. */
  noDelay?: boolean;
  /** Bind the client's own end to this local IP before connecting (the kernel picks the port). */
  bindAddress?: string;
}

/** gethostbyname() found nothing for the name (the C client prints "gethostbyname failed."). */
export class HostNotFoundError extends Error {
  override name = 'HostNotFoundError';
  /** Always 'EHOSTNOTFOUND'. */
  readonly code = 'EHOSTNOTFOUND';
  /** An Error naming `host`. */
  constructor(
    /** The name that did not resolve. */
    readonly host: string,
  ) {
    super(`gethostbyname: cannot resolve '${host}'`);
  }
}

/** connect() on a TcpClient that is already connected (the C class returns false). */
export class AlreadyConnectedError extends Error {
  override name = 'AlreadyConnectedError';
  /** Always 'EISCONN'. */
  readonly code = 'EISCONN';
  /** An Error with the message the tutorial's class would fail with. */
  constructor() {
    super('connect: this TcpClient is already connected; close() it first');
  }
}

/**
 * The server's address as the tutorial computes it: an IPv6 literal as is,
 * anything else through gethostbyname() (a dotted IP, a host name or a domain).
 */
export function resolveServer(host: string, port: number): AddressInput {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
  if (inet_pton(AF_INET6, host) !== null) return { family: 'AF_INET6', address: host, port };
  const entry = gethostbyname(host);
  const address = entry?.h_addr_list[0];
  if (address === undefined) throw new HostNotFoundError(host);
  return { family: 'AF_INET', address, port };
}

/** The tutorial's ctcpclient: connect() to a host and port, then send/recv whole messages. One connection at a time. */
export class TcpClient extends TcpEndpoint implements Disposable {
  readonly #options: TcpClientOptions;
  #connection: TcpConnection | null = null;
  #ip = '';
  #port = 0;

  /** A client not yet connected; `options` apply to every connection it makes. */
  constructor(options: TcpClientOptions = {}) {
    super();
    this.#options = { ...options };
  }

  /**
   * Connects to `host` (IP, host name or domain) and `port`. On failure the
   * socket is closed again and the error thrown: HostNotFoundError, or the
   * SyscallError of connect() ("connect: Connection refused").
   */
  connect(host: string, port: number): this {
    if (this.#connection) throw new AlreadyConnectedError();
    this.#ip = host;
    this.#port = port;
    const address = resolveServer(host, port);
    const socket = this.#socketFor(address);
    try {
      socket.connect(address);
      this.#connection = new TcpConnection(socket, socket.peerAddress);
    } catch (error) {
      socket.close();
      throw error;
    }
    return this;
  }

  /** The socket connect() and connectAsync() connect: TCP_NODELAY and the local bind of the options applied. */
  #socketFor(address: AddressInput): Socket {
    const socket = Socket.tcp(address.family === 'AF_INET6' ? 'AF_INET6' : 'AF_INET');
    try {
      if (this.#options.noDelay) socket.noDelay = true;
      if (this.#options.bindAddress !== undefined) socket.bind({ family: address.family, address: this.#options.bindAddress, port: 0 } as AddressInput);
      return socket;
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** The server's IP or name as given to connect() (m_ip). */
  get ip(): string {
    return this.#ip;
  }

  /** The server's port as given to connect() (m_port). */
  get port(): number {
    return this.#port;
  }

  /** The client's fd, -1 when not connected (m_clientfd). */
  get fd(): number {
    return this.#connection?.fd ?? -1;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#connection !== null;
  }

  /** The live connection (its socket, peer, and data methods); throws ENOTCONN when there is none. */
  get connection(): TcpConnection {
    return this.connectionFor('connection');
  }

  protected override connectionFor(syscall: string): TcpConnection {
    if (!this.#connection) throw notConnectedError(syscall);
    return this.#connection;
  }

  /** Closes the connection; false when there was none (as the C close()). */
  close(): boolean {
    const connection = this.#connection;
    if (!connection) return false;
    this.#connection = null;
    return connection.close();
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- async: the same calls on the event loop (lib/async.ts) ------------------------
  #connecting = false;

  /**
   * connect() without blocking the loop. A name is resolved by Node's resolver
   * (IPv4, as gethostbyname), not by a blocking gethostbyname(); `options`
   * (signal, timeout) bound the connect itself.
   */
  async connectAsync(host: string, port: number, options?: asyncCalls.AsyncOptions): Promise<this> {
    if (this.#connection || this.#connecting) throw new AlreadyConnectedError();
    this.#connecting = true;
    try {
      const address = await TcpClient.#resolveAsync(host, port);
      this.#ip = host;
      this.#port = port;
      const socket = this.#socketFor(address);
      try {
        await socket.connectAsync(address, options);
        this.#connection = new TcpConnection(socket, socket.peerAddress);
      } catch (error) {
        socket.close();
        throw error;
      }
      return this;
    } finally {
      this.#connecting = false;
    }
  }

  /** resolveServer() for connectAsync: a literal as is, a name through Node's resolver (IPv4, as gethostbyname). */
  static async #resolveAsync(host: string, port: number): Promise<AddressInput> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
    if (inet_pton(AF_INET6, host) !== null) return { family: 'AF_INET6', address: host, port };
    if (inet_pton(AF_INET, host) !== null) return { family: 'AF_INET', address: host, port };
    try {
      const { address } = await lookup(host, { family: 4 });
      return { family: 'AF_INET', address, port };
    } catch {
      throw new HostNotFoundError(host);
    }
  }

  // ---- end of async ------------------------------------------------------------------
}
