// TcpServer: the tutorial's ctcpserver (initserver, accept, clientip, send,
// recv(maxlen), closelisten, closeclient) in TypeScript. Like the C class it
// talks to "the client" it accepted last, so the tutorial's programs read the
// same; unlike it, every accepted connection is also handed out as a
// TcpConnection and kept until closed, so one server can hold many.
import { Socket, type AcceptedSocket } from './socket.js';
import { SOMAXCONN } from './constants.js';
import type { AddressInput } from './sockaddr.js';
import { TcpConnection, TcpEndpoint, notConnectedError } from './tcp-connection.js';
import * as asyncCalls from './async.js';

/** Options of a TcpServer. */
export interface TcpServerOptions {
  /** listen() backlog. Default SOMAXCONN; the tutorial's class uses 5. */
  backlog?: number;
  /** SO_REUSEADDR before bind(), so a restart binds while old connections sit in TIME_WAIT. Default false, as in C. */
  reuseAddr?: boolean;
  /** Local address to bind: '0.0.0.0' (INADDR_ANY, every interface; the default), one IPv4 address, or an IPv6 one ('::'). */
  bindAddress?: string;
  /** TCP_NODELAY on every accepted connection. Default false. */
  noDelay?: boolean;
}

/** initServer() on a server that is already listening (the C class would leak its old socket). */
export class AlreadyListeningError extends Error {
  override name = 'AlreadyListeningError';
  /** Always 'EALREADY'. */
  readonly code = 'EALREADY';
  /** An Error with the message the tutorial's class would fail with. */
  constructor() {
    super('initServer: this TcpServer is already listening; closeListen() it first');
  }
}

function bindAddressOf(address: string, port: number): AddressInput {
  return address.includes(':') ? { family: 'AF_INET6', address, port } : { family: 'AF_INET', address, port };
}

/** The tutorial's ctcpserver: initServer() binds and listens, accept() takes connections, send/recv whole messages with the current client. */
export class TcpServer extends TcpEndpoint implements Disposable {
  readonly #options: Required<TcpServerOptions>;
  #listener: Socket | null = null;
  #port = 0;
  #client: TcpConnection | null = null;
  readonly #connections = new Set<TcpConnection>();

  /** A server not yet listening; `options` apply to its listener and every accepted connection. */
  constructor(options: TcpServerOptions = {}) {
    super();
    this.#options = {
      backlog: options.backlog ?? SOMAXCONN,
      reuseAddr: options.reuseAddr ?? false,
      bindAddress: options.bindAddress ?? '0.0.0.0',
      noDelay: options.noDelay ?? false,
    };
  }

  /**
   * socket, (SO_REUSEADDR,) bind, listen: the listening socket on `port`
   * (0 lets the kernel choose; read it back from `port`). On failure the
   * socket is closed and the SyscallError thrown ("bind: Address already in use").
   */
  initServer(port: number): this {
    if (this.#listener) throw new AlreadyListeningError();
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
    const address = bindAddressOf(this.#options.bindAddress, port);
    const socket = Socket.tcp(address.family === 'AF_INET6' ? 'AF_INET6' : 'AF_INET');
    try {
      if (this.#options.reuseAddr) socket.reuseAddr = true;
      socket.bind(address);
      socket.listen(this.#options.backlog);
      const local = socket.localAddress;
      this.#port = local.family === 'AF_INET' || local.family === 'AF_INET6' ? local.port : port;
    } catch (error) {
      socket.close();
      throw error;
    }
    this.#listener = socket;
    return this;
  }

  /** The port the server listens on (the kernel's choice when initServer(0)); 0 before initServer. */
  get port(): number {
    return this.#port;
  }

  /** The listening fd, -1 when not listening (m_listenfd). */
  get listenFd(): number {
    return this.#listener?.fd ?? -1;
  }

  /** The listening Socket itself, for options this class does not wrap. */
  get listener(): Socket {
    if (!this.#listener) throw notConnectedError('listener');
    return this.#listener;
  }

  /** The fd of the client accepted last, -1 when none (m_clientfd). */
  get clientFd(): number {
    return this.#client?.fd ?? -1;
  }

  /** Every accepted connection not closed yet. */
  get connections(): ReadonlySet<TcpConnection> {
    for (const connection of this.#connections) if (connection.closed) this.#connections.delete(connection);
    return this.#connections;
  }

  /**
   * Takes the next connection from the accept queue, blocking until one
   * arrives. It becomes "the client" of send/recv/clientIp/closeClient, and is
   * returned so that several can be served at once.
   */
  accept(): TcpConnection {
    if (!this.#listener) throw notConnectedError('accept');
    return this.#adopt(this.#listener.accept());
  }

  /** An accepted socket becomes a TcpConnection, the current client, one of `connections`. */
  #adopt({ socket, address }: AcceptedSocket): TcpConnection {
    try {
      if (this.#options.noDelay) socket.noDelay = true;
    } catch (error) {
      socket.close();
      throw error;
    }
    const connection = new TcpConnection(socket, address);
    this.#client = connection;
    this.#connections.add(connection);
    return connection;
  }

  /** The IP of the client accepted last, as text (clientip()); '' before any accept. */
  clientIp(): string {
    return this.#client?.ip ?? '';
  }

  /** The data calls (send, recv, recvExactly, sendMessage, recvMessage and their async twins) go to the current client. */
  protected override connectionFor(syscall: string): TcpConnection {
    if (!this.#client || this.#client.closed) throw notConnectedError(syscall);
    return this.#client;
  }

  /** Closes the listening socket; false when it was not open (closelisten()). */
  closeListen(): boolean {
    const listener = this.#listener;
    if (!listener) return false;
    this.#listener = null;
    listener.close();
    return true;
  }

  /** Closes the current client's connection; false when there is none (closeclient()). */
  closeClient(): boolean {
    const client = this.#client;
    if (!client) return false;
    this.#client = null;
    this.#connections.delete(client);
    return client.close();
  }

  /** Closes one connection and forgets it (another accepted connection, not necessarily the current one). */
  closeConnection(connection: TcpConnection): boolean {
    this.#connections.delete(connection);
    if (this.#client === connection) this.#client = null;
    return connection.close();
  }

  /** Closes the listening socket and every accepted connection. */
  close(): void {
    this.closeListen();
    for (const connection of this.#connections) connection.close();
    this.#connections.clear();
    this.#client = null;
  }

  /** Closes the listener and every connection it accepted, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- async: the same calls on the event loop (lib/async.ts) ------------------------

  /**
   * accept() without blocking the loop: resolves with the next connection,
   * which becomes "the client" as with accept(). Many may be pending at once.
   */
  async acceptAsync(options?: asyncCalls.AsyncOptions): Promise<TcpConnection> {
    if (!this.#listener) throw notConnectedError('accept');
    return this.#adopt(await this.#listener.acceptAsync(options));
  }

  // ---- end of async ------------------------------------------------------------------
}
