// Socket: owns exactly one fd (like Rust's socket2::Socket over a thin sys
// layer). close() is idempotent; `using` closes it at scope end. A Socket that
// is garbage-collected while still open is reported (a process warning with
// code SOCKFD_LEAK), never silently closed behind the user's back.
import * as posix from './posix.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  EBADF,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_RECVERR,
  IPV6_RECVPKTINFO,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_PKTINFO,
  IP_RECVERR,
  SIOCINQ,
  SIOCOUTQ,
  SIOCOUTQNSD,
  SO_DOMAIN,
  SO_PASSCRED,
  SO_TIMESTAMPNS,
  F_GETFL,
  F_SETFL,
  IPPROTO_TCP,
  O_NONBLOCK,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_RCVTIMEO,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDTIMEO,
  SO_TYPE,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from './constants.js';
import type { AddressInput, SockAddr } from './sockaddr.js';
import type { BinaryData, Data, Linger, SockOptInput, SockOptValue, TcpInfo } from './posix.js';
import { EndOfStreamError, syscallError, type SyscallError } from './errors.js';

export { EndOfStreamError };
import { isSyscallError } from './errors.js';
import * as asyncCalls from './async.js';
import * as msgAsync from './msg-async.js';
import type { Buffers, ControlMessageInput, DataBuffers, OutgoingMessage, ReceivedFds, ReceivedMessage } from './msg.js';
import * as io from './io.js';

/** The fd of a Socket (which must be open) or a plain fd. */
function fdOf(value: number | Socket): number {
  if (typeof value === 'number') return value;
  if (value.closed) throw closedError('sendmsg');
  return value.fd;
}

/** An operation on a Socket that was already closed. */
function closedError(syscall: string): SyscallError {
  return syscallError(syscall, 'EBADF', EBADF, 'Bad file descriptor (socket is closed)');
}

const leaks = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`sockfd: Socket with fd ${fd} was garbage-collected without close(); the fd is still open`, {
    code: 'SOCKFD_LEAK',
  });
});

// The leak report's registration is deferred: a new Socket waits in
// `unregistered` (held strongly, so it cannot be collected unreported) until
// the end of the current job (a microtask) or until LEAK_BATCH Sockets wait;
// then the ones still open are registered. A Socket closed before that - a
// connection accepted, served and closed in one go - never costs a
// registration (a WeakCell, an identity hash and an insertion in the
// registry's token table, then their removal: ~1.5k instructions each way).
const LEAK_BATCH = 256;
const unregistered: (Socket | undefined)[] = new Array<Socket | undefined>(LEAK_BATCH).fill(undefined);
let waiting = 0;
let flushQueued = false;

/** The address families a Socket helper takes by name. */
export type Family = 'AF_INET' | 'AF_INET6' | 'AF_UNIX';
const familyNumber: Record<Family, number> = { AF_INET, AF_INET6, AF_UNIX };

/** accept() on a Socket: the connection as a Socket of its own, and the peer. */
export interface AcceptedSocket {
  socket: Socket;
  address: SockAddr;
}

/** An owned socket fd: the raw calls as methods, options as properties, close() (or `using`) releases it. A Socket dropped without close() warns once when garbage-collected. */
export class Socket implements Disposable {
  #fd: number;
  /** Whether `leaks` has this Socket (with itself as the unregister token). */
  #registered = false;

  /** Takes ownership of an open fd: close() will close it. */
  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`fd must be a non-negative integer, got ${fd}`);
    this.#fd = fd;
    unregistered[waiting++] = this;
    if (waiting === LEAK_BATCH) Socket.#registerOpen();
    else if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(Socket.#registerOpen);
    }
  }

  /** Registers the waiting Sockets that are still open for the leak report (see `unregistered`). */
  static #registerOpen(): void {
    flushQueued = false;
    for (let i = 0; i < waiting; i++) {
      const socket = unregistered[i]!;
      unregistered[i] = undefined;
      if (socket.#fd >= 0 && !socket.#registered) {
        socket.#registered = true;
        leaks.register(socket, socket.#fd, socket);
      }
    }
    waiting = 0;
  }

  /** Takes this Socket out of the leak report (it no longer owns an open fd). */
  #forget(): void {
    if (this.#registered) {
      this.#registered = false;
      leaks.unregister(this);
    }
  }

  /** socket(domain, type, protocol) as an owned Socket. */
  static create(domain: number, type: number, protocol = 0): Socket {
    return new Socket(posix.socket(domain, type, protocol));
  }

  /** A TCP socket: AF_INET by default, or AF_INET6. */
  static tcp(family: 'AF_INET' | 'AF_INET6' = 'AF_INET'): Socket {
    return Socket.create(familyNumber[family], SOCK_STREAM);
  }

  /** A UDP socket. */
  static udp(family: 'AF_INET' | 'AF_INET6' = 'AF_INET'): Socket {
    return Socket.create(familyNumber[family], SOCK_DGRAM);
  }

  /** A Unix-domain socket (SOCK_STREAM by default). */
  static unix(type: number = SOCK_STREAM): Socket {
    return Socket.create(AF_UNIX, type);
  }

  /** socketpair(): two connected Sockets. */
  static pair(domain: number = AF_UNIX, type: number = SOCK_STREAM): [Socket, Socket] {
    const [a, b] = posix.socketpair(domain, type);
    return [new Socket(a), new Socket(b)];
  }

  /** The fd, or -1 once closed (as the tutorial's classes keep it). */
  get fd(): number {
    return this.#fd;
  }

  /** True once close() or detach() was called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  #live(syscall: string): number {
    if (this.#fd < 0) throw closedError(syscall);
    return this.#fd;
  }

  /** Closes the fd. Calling it again does nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    this.#forget();
    posix.close(fd);
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Gives up ownership: returns the fd and leaves this Socket closed without closing the fd. */
  detach(): number {
    const fd = this.#live('detach');
    this.#fd = -1;
    this.#forget();
    return fd;
  }

  // ---- life cycle -------------------------------------------------------------
  /** bind(2) to a local address (`{ family, address?, port }` or `{ family: 'AF_UNIX', path }`); returns this for chaining. */
  bind(address: AddressInput): this {
    posix.bind(this.#live('bind'), address);
    return this;
  }

  /** listen(2): marks the socket passive; `backlog` (default SOMAXCONN) bounds the queue of completed connections. */
  listen(backlog?: number): this {
    posix.listen(this.#live('listen'), backlog);
    return this;
  }

  /** accept4(2): blocks (unless non-blocking) for the next connection; returns it as a Socket of its own with the peer's address. `flags`: SOCK_NONBLOCK, SOCK_CLOEXEC. */
  accept(flags = 0): AcceptedSocket {
    const { fd, address } = posix.accept4(this.#live('accept'), flags);
    return { socket: new Socket(fd), address };
  }

  /** accept4(2) without the peer's address (acceptFd): the connection as a Socket of its own, and no address object built. `flags`: SOCK_NONBLOCK, SOCK_CLOEXEC. */
  acceptSocket(flags = 0): Socket {
    return new Socket(posix.acceptFd(this.#live('accept'), flags));
  }

  /** connect(2): blocks until connected (or throws ECONNREFUSED, ETIMEDOUT...); returns this. */
  connect(address: AddressInput): this {
    posix.connect(this.#live('connect'), address);
    return this;
  }

  /** shutdown(2): SHUT_RD, SHUT_WR (sends FIN, the fd stays open) or SHUT_RDWR. */
  shutdown(how: number): void {
    posix.shutdown(this.#live('shutdown'), how);
  }

  /** getsockname(2): the bound local address. */
  get localAddress(): SockAddr {
    return posix.getsockname(this.#live('getsockname'));
  }

  /** getpeername(2): the connected peer's address (ENOTCONN when there is none). */
  get peerAddress(): SockAddr {
    return posix.getpeername(this.#live('getpeername'));
  }

  // ---- data ---------------------------------------------------------------------
  /** send(2): sends what the kernel takes now and returns that byte count (may be less than asked). `offset`/`length` select a part of `data`. */
  send(data: Data, flags?: number, offset?: number, length?: number): number {
    return posix.send(this.#live('send'), data, flags, offset, length);
  }

  /** recv(2) into `buffer` (from `offset`, at most `length` bytes): the byte count, 0 when the peer closed. Blocks until data arrives unless non-blocking. */
  recv(buffer: BinaryData, flags?: number, offset?: number, length?: number): number {
    return posix.recv(this.#live('recv'), buffer, flags, offset, length);
  }

  /** sendto(2): one datagram to `address`; the byte count. */
  sendto(data: Data, address: AddressInput, flags = 0): number {
    return posix.sendto(this.#live('sendto'), data, flags, address);
  }

  /** recvfrom(2): `{ bytes, address }` of one datagram (or stream read) and its sender. */
  recvfrom(buffer: BinaryData, flags?: number): posix.Received {
    return posix.recvfrom(this.#live('recvfrom'), buffer, flags);
  }

  /** read(2) on the socket's fd: as recv() without flags. */
  read(buffer: BinaryData, offset?: number, length?: number): number {
    return posix.read(this.#live('read'), buffer, offset, length);
  }

  /** write(2) on the socket's fd: as send() without flags. */
  write(data: Data, offset?: number, length?: number): number {
    return posix.write(this.#live('write'), data, offset, length);
  }

  /** writev(2): the chunks in one call (one segment with TCP_NODELAY); the byte count written. */
  writev(chunks: readonly Data[]): number {
    return posix.writev(this.#live('writev'), chunks);
  }

  /** sendfile(2) from a file fd into this socket. */
  sendfile(inFd: number, offset: number | null, count: number): number {
    return posix.sendfile(this.#live('sendfile'), inFd, offset, count);
  }

  /**
   * Sends every byte, looping over partial sends (lib/io.ts). A number is the
   * send flags; options add a byte range and bounds on the waits (timeout,
   * idleTimeout). Returns the byte count.
   */
  sendAll(data: Data, options: io.IoOptions | number = {}): number {
    return io.sendAll(this.#live('send'), data, typeof options === 'number' ? { flags: options } : options);
  }

  /**
   * Receives exactly `n` bytes (into a new Buffer) or fills `buffer` entirely,
   * looping over partial reads (lib/io.ts). Throws EndOfStreamError when the peer closes first.
   */
  recvExactly(n: number, options?: io.IoOptions): Buffer;
  recvExactly<T extends BinaryData>(buffer: T, options?: io.IoOptions): T;
  recvExactly(target: number | BinaryData, options?: io.IoOptions): BinaryData {
    const fd = this.#live('recv');
    return typeof target === 'number' ? io.recvExactly(fd, target, options) : io.recvExactly(fd, target, options);
  }

  // ---- options -------------------------------------------------------------------
  /** setsockopt(2): `value` a number, boolean, Linger, Buffer or timeout object as the option needs. */
  setOption(level: number, name: number, value: SockOptInput): void {
    posix.setsockopt(this.#live('setsockopt'), level, name, value);
  }

  /** getsockopt(2), decoded by option (a number, Linger, TcpInfo, PeerCred or a Buffer). */
  getOption(level: number, name: number): SockOptValue {
    return posix.getsockopt(this.#live('getsockopt'), level, name);
  }

  #int(level: number, name: number): number {
    return posix.getsockopt(this.#live('getsockopt'), level, name) as number;
  }

  /** TCP_NODELAY: send small segments at once instead of waiting (Nagle's algorithm off). */
  get noDelay(): boolean {
    return this.#int(IPPROTO_TCP, TCP_NODELAY) !== 0;
  }
  set noDelay(on: boolean) {
    this.setOption(IPPROTO_TCP, TCP_NODELAY, on);
  }

  /** SO_REUSEADDR: bind a port whose old connections are still in TIME_WAIT. Set before bind(). */
  get reuseAddr(): boolean {
    return this.#int(SOL_SOCKET, SO_REUSEADDR) !== 0;
  }
  set reuseAddr(on: boolean) {
    this.setOption(SOL_SOCKET, SO_REUSEADDR, on);
  }

  /** SO_REUSEPORT: several sockets bound to one port, the kernel spreads connections. */
  get reusePort(): boolean {
    return this.#int(SOL_SOCKET, SO_REUSEPORT) !== 0;
  }
  set reusePort(on: boolean) {
    this.setOption(SOL_SOCKET, SO_REUSEPORT, on);
  }

  /** SO_KEEPALIVE */
  get keepAlive(): boolean {
    return this.#int(SOL_SOCKET, SO_KEEPALIVE) !== 0;
  }
  set keepAlive(on: boolean) {
    this.setOption(SOL_SOCKET, SO_KEEPALIVE, on);
  }

  /** TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (seconds, seconds, probes). */
  get keepAliveIdle(): number {
    return this.#int(IPPROTO_TCP, TCP_KEEPIDLE);
  }
  set keepAliveIdle(seconds: number) {
    this.setOption(IPPROTO_TCP, TCP_KEEPIDLE, seconds);
  }
  /** TCP_KEEPINTVL: seconds between keep-alive probes. */
  get keepAliveInterval(): number {
    return this.#int(IPPROTO_TCP, TCP_KEEPINTVL);
  }
  set keepAliveInterval(seconds: number) {
    this.setOption(IPPROTO_TCP, TCP_KEEPINTVL, seconds);
  }
  /** TCP_KEEPCNT: unanswered probes before the connection is dropped. */
  get keepAliveCount(): number {
    return this.#int(IPPROTO_TCP, TCP_KEEPCNT);
  }
  set keepAliveCount(probes: number) {
    this.setOption(IPPROTO_TCP, TCP_KEEPCNT, probes);
  }

  /** SO_LINGER: seconds close() waits for unsent data, or null when off. 0 makes close() send RST. */
  get linger(): number | null {
    const value = this.getOption(SOL_SOCKET, SO_LINGER) as Linger;
    return value.onoff ? value.linger : null;
  }
  set linger(seconds: number | null) {
    this.setOption(SOL_SOCKET, SO_LINGER, seconds === null ? { onoff: 0, linger: 0 } : { onoff: 1, linger: seconds });
  }

  /** SO_SNDBUF / SO_RCVBUF in bytes (Linux reports double what was set: its bookkeeping overhead). */
  get sendBufferSize(): number {
    return this.#int(SOL_SOCKET, SO_SNDBUF);
  }
  set sendBufferSize(bytes: number) {
    this.setOption(SOL_SOCKET, SO_SNDBUF, bytes);
  }
  /** SO_RCVBUF in bytes (Linux reports double what was set). */
  get receiveBufferSize(): number {
    return this.#int(SOL_SOCKET, SO_RCVBUF);
  }
  set receiveBufferSize(bytes: number) {
    this.setOption(SOL_SOCKET, SO_RCVBUF, bytes);
  }

  /** SO_SNDTIMEO / SO_RCVTIMEO in ms (0 = wait forever); a timed-out call throws EAGAIN. */
  get sendTimeout(): number {
    return this.#int(SOL_SOCKET, SO_SNDTIMEO);
  }
  set sendTimeout(ms: number) {
    this.setOption(SOL_SOCKET, SO_SNDTIMEO, ms);
  }
  /** SO_RCVTIMEO in ms (0 = wait forever); a timed-out recv throws EAGAIN. */
  get receiveTimeout(): number {
    return this.#int(SOL_SOCKET, SO_RCVTIMEO);
  }
  set receiveTimeout(ms: number) {
    this.setOption(SOL_SOCKET, SO_RCVTIMEO, ms);
  }

  /** O_NONBLOCK on the fd. */
  get nonBlocking(): boolean {
    return (posix.fcntl(this.#live('fcntl'), F_GETFL) & O_NONBLOCK) !== 0;
  }
  set nonBlocking(on: boolean) {
    const fd = this.#live('fcntl');
    const flags = posix.fcntl(fd, F_GETFL);
    posix.fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
  }

  /** SO_TYPE: SOCK_STREAM, SOCK_DGRAM, ... */
  get type(): number {
    return this.#int(SOL_SOCKET, SO_TYPE);
  }

  /** SO_ERROR: the pending error (and clears it); 0 when none. */
  takeError(): number {
    return this.#int(SOL_SOCKET, SO_ERROR);
  }

  /** TCP_INFO: the kernel's view of this connection (state, rtt, cwnd, retransmits, ...). */
  get tcpInfo(): TcpInfo {
    return this.getOption(IPPROTO_TCP, TCP_INFO) as TcpInfo;
  }

  // ---- messages, fd passing, queues, multicast (lib/msg.ts, posix ioctl) -------------
  /** sendmsg(2): the buffers as one message, with control messages and an optional destination. */
  sendmsg(buffers: DataBuffers, control?: readonly ControlMessageInput[] | null, flags = 0, address?: AddressInput): number {
    return posix.sendmsg(this.#live('sendmsg'), buffers, control, flags, address);
  }

  /** recvmsg(2): `{ bytes, flags, address, control }`; controlLength as CMSG_SPACE of what you expect. */
  recvmsg(buffers: Buffers, controlLength = 0, flags = 0): ReceivedMessage {
    return posix.recvmsg(this.#live('recvmsg'), buffers, controlLength, flags);
  }

  /** readv(2) into several buffers. */
  readv(buffers: Buffers): number {
    return posix.readv(this.#live('readv'), buffers);
  }

  /** sendmmsg(2): several datagrams in one call; how many were sent. */
  sendmmsg(messages: readonly OutgoingMessage[], flags = 0): number {
    return posix.sendmmsg(this.#live('sendmmsg'), messages, flags);
  }

  /** recvmmsg(2): up to buffers.length datagrams in one call (add MSG_WAITFORONE not to wait for all). */
  recvmmsg(buffers: readonly Buffers[], flags = 0, controlLength = 0): ReceivedMessage[] {
    return posix.recvmmsg(this.#live('recvmmsg'), buffers, flags, controlLength);
  }

  /** Passes open fds (or Sockets) with `data` over this Unix-domain socket (SCM_RIGHTS). They stay open here. */
  sendFds(data: DataBuffers, fds: ReadonlyArray<number | Socket>, flags = 0): number {
    return posix.sendFds(this.#live('sendmsg'), data, fds.map(fdOf), flags);
  }

  /** Receives data and up to `maxFds` fds (close-on-exec by default); the fds are yours to close or wrap. */
  recvFds(buffer: Buffers, maxFds: number, flags?: number): ReceivedFds {
    return posix.recvFds(this.#live('recvmsg'), buffer, maxFds, flags);
  }

  /** FIONREAD / SIOCINQ: bytes received and waiting to be read. */
  get readableBytes(): number {
    return posix.ioctl(this.#live('ioctl'), SIOCINQ);
  }

  /** SIOCOUTQ: bytes in the send queue not yet acknowledged by the peer (TCP), or not yet sent (UDP). */
  get sendQueueBytes(): number {
    return posix.ioctl(this.#live('ioctl'), SIOCOUTQ);
  }

  /** SIOCOUTQNSD: bytes in the send queue not yet sent at all (TCP). */
  get unsentBytes(): number {
    return posix.ioctl(this.#live('ioctl'), SIOCOUTQNSD);
  }

  /** SO_PASSCRED: every message received carries the sender's SCM_CREDENTIALS. */
  get passCredentials(): boolean {
    return this.#int(SOL_SOCKET, SO_PASSCRED) !== 0;
  }
  set passCredentials(on: boolean) {
    this.setOption(SOL_SOCKET, SO_PASSCRED, on);
  }

  /** SO_TIMESTAMPNS: every datagram received carries its arrival time (SO_TIMESTAMPNS message). */
  get timestampNs(): boolean {
    return this.#int(SOL_SOCKET, SO_TIMESTAMPNS) !== 0;
  }
  set timestampNs(on: boolean) {
    this.setOption(SOL_SOCKET, SO_TIMESTAMPNS, on);
  }

  #isInet6(): boolean {
    return this.#int(SOL_SOCKET, SO_DOMAIN) === AF_INET6;
  }

  /** IP_PKTINFO / IPV6_RECVPKTINFO (by the socket's family): datagrams carry their destination and interface. */
  get packetInfo(): boolean {
    return this.#isInet6() ? this.#int(IPPROTO_IPV6, IPV6_RECVPKTINFO) !== 0 : this.#int(IPPROTO_IP, IP_PKTINFO) !== 0;
  }
  set packetInfo(on: boolean) {
    if (this.#isInet6()) this.setOption(IPPROTO_IPV6, IPV6_RECVPKTINFO, on);
    else this.setOption(IPPROTO_IP, IP_PKTINFO, on);
  }

  /** IP_RECVERR / IPV6_RECVERR: errors (ICMP, zerocopy completions) queue for recvmsg(MSG_ERRQUEUE). */
  get receiveErrors(): boolean {
    return this.#isInet6() ? this.#int(IPPROTO_IPV6, IPV6_RECVERR) !== 0 : this.#int(IPPROTO_IP, IP_RECVERR) !== 0;
  }
  set receiveErrors(on: boolean) {
    if (this.#isInet6()) this.setOption(IPPROTO_IPV6, IPV6_RECVERR, on);
    else this.setOption(IPPROTO_IP, IP_RECVERR, on);
  }

  /** Joins a multicast group (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP) on an interface (name or index; default: the kernel's choice). */
  joinGroup(group: string, iface: string | number = 0): void {
    this.#membership(group, iface, true);
  }

  /** Leaves a multicast group (IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP). */
  leaveGroup(group: string, iface: string | number = 0): void {
    this.#membership(group, iface, false);
  }

  #membership(group: string, ifindex: string | number, join: boolean): void {
    if (group.includes(':')) {
      this.setOption(IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, posix.ipv6_mreq({ multiaddr: group, ifindex }));
    } else {
      this.setOption(IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, posix.ip_mreqn({ multiaddr: group, ifindex }));
    }
  }

  /** sendmsg() without blocking the loop (options: control, flags, address, signal, timeout). */
  async sendmsgAsync(buffers: DataBuffers, options?: msgAsync.SendMsgOptions): Promise<number> {
    return msgAsync.sendmsgAsync(this.#live('sendmsg'), buffers, options);
  }

  /** recvmsg() without blocking the loop (options: controlLength, flags, signal, timeout). */
  async recvmsgAsync(buffers: Buffers, options?: msgAsync.RecvMsgOptions): Promise<ReceivedMessage> {
    return msgAsync.recvmsgAsync(this.#live('recvmsg'), buffers, options);
  }

  /** sendFds() without blocking the loop. */
  async sendFdsAsync(data: DataBuffers, fds: ReadonlyArray<number | Socket>, options?: Omit<msgAsync.SendMsgOptions, 'control'>): Promise<number> {
    return msgAsync.sendFdsAsync(this.#live('sendmsg'), data, fds.map(fdOf), options);
  }

  /** recvFds() without blocking the loop; the fds are close-on-exec unless flags say otherwise. */
  async recvFdsAsync(buffer: Buffers, maxFds: number, options?: Omit<msgAsync.RecvMsgOptions, 'controlLength'>): Promise<ReceivedFds> {
    return msgAsync.recvFdsAsync(this.#live('recvmsg'), buffer, maxFds, options);
  }

  /** sendmmsg() without blocking the loop: how many messages went (at least 1). */
  async sendmmsgAsync(messages: readonly OutgoingMessage[], options?: Omit<msgAsync.SendMsgOptions, 'control' | 'address'>): Promise<number> {
    return msgAsync.sendmmsgAsync(this.#live('sendmmsg'), messages, options);
  }

  /** recvmmsg() without blocking the loop: the datagrams that are there (at least 1). */
  async recvmmsgAsync(buffers: readonly Buffers[], options?: msgAsync.RecvMsgOptions): Promise<ReceivedMessage[]> {
    return msgAsync.recvmmsgAsync(this.#live('recvmmsg'), buffers, options);
  }

  // ---- async: non-blocking calls on the event loop (lib/async.ts) -------------------
  // Each tries the call first and waits for readiness only when it would block;
  // options { signal, timeout } end it with AbortError / TimeoutError.

  /** accept() without blocking the loop; the new Socket is non-blocking and close-on-exec. */
  async acceptAsync(options?: asyncCalls.AsyncAcceptOptions): Promise<AcceptedSocket> {
    const { fd, address } = await asyncCalls.acceptAsync(this.#live('accept'), options);
    return { socket: new Socket(fd), address };
  }

  /**
   * Every connection, as it comes: `for await (const conn of server.connections())`.
   * Ends when this socket is closed; an abort or timeout in `options` throws.
   */
  async *connections(options?: asyncCalls.AsyncAcceptOptions): AsyncGenerator<Socket, void, undefined> {
    while (!this.closed) {
      let accepted: posix.Accepted;
      try {
        accepted = await asyncCalls.acceptAsync(this.#fd, options);
      } catch (error) {
        if (this.closed && isSyscallError(error, 'EBADF')) return;
        throw error;
      }
      yield new Socket(accepted.fd);
    }
  }

  /** connect() without blocking the loop (EINPROGRESS, then SO_ERROR). */
  async connectAsync(address: AddressInput, options?: asyncCalls.AsyncOptions): Promise<this> {
    await asyncCalls.connectAsync(this.#live('connect'), address, options);
    return this;
  }

  /** recv() on Node's event loop: resolves with the byte count (0 at end of stream) once data is there; honours `signal` and `timeout`. */
  async recvAsync(buffer: BinaryData, options?: asyncCalls.AsyncIoOptions): Promise<number> {
    return asyncCalls.recvAsync(this.#live('recv'), buffer, options);
  }

  /** send() on Node's event loop: resolves with the byte count once the kernel took some; honours `signal` and `timeout`. */
  async sendAsync(data: Data, options?: asyncCalls.AsyncIoOptions): Promise<number> {
    return asyncCalls.sendAsync(this.#live('send'), data, options);
  }

  /** Every byte, over as many sends (and waits) as it takes. */
  async sendAllAsync(data: Data, options?: asyncCalls.AsyncIoOptions): Promise<number> {
    return asyncCalls.sendAllAsync(this.#live('send'), data, options);
  }

  /** Exactly `n` bytes (a new Buffer), or `buffer` filled; EndOfStreamError when the peer closes first. */
  recvExactlyAsync(n: number, options?: asyncCalls.RecvExactlyOptions): Promise<Buffer>;
  recvExactlyAsync<T extends BinaryData>(buffer: T, options?: asyncCalls.RecvExactlyOptions): Promise<T>;
  async recvExactlyAsync(target: number | BinaryData, options?: asyncCalls.RecvExactlyOptions): Promise<BinaryData> {
    const fd = this.#live('recv');
    return typeof target === 'number' ? asyncCalls.recvExactlyAsync(fd, target, options) : asyncCalls.recvExactlyAsync(fd, target, options);
  }

  /** recvfrom() on Node's event loop: `{ bytes, address }` of the next datagram. */
  async recvfromAsync(buffer: BinaryData, options?: asyncCalls.AsyncIoOptions): Promise<posix.Received> {
    return asyncCalls.recvfromAsync(this.#live('recvfrom'), buffer, options);
  }

  /** sendto() on Node's event loop: one datagram to `address`. */
  async sendtoAsync(data: Data, address: AddressInput, options?: asyncCalls.AsyncIoOptions): Promise<number> {
    return asyncCalls.sendtoAsync(this.#live('sendto'), data, address, options);
  }

  /** Resolves when the socket is readable (data, a connection, EOF or an error). */
  async waitReadable(options?: asyncCalls.AsyncOptions): Promise<void> {
    return asyncCalls.waitReadable(this.#live('poll'), options);
  }

  /** Resolves when the socket is writable. */
  async waitWritable(options?: asyncCalls.AsyncOptions): Promise<void> {
    return asyncCalls.waitWritable(this.#live('poll'), options);
  }
  // ---- end of async ------------------------------------------------------------------
}
