// The raw API: every call by its C name, integer fds, C semantics, one system
// call per call, synchronous and blocking by default. Errors are thrown as
// SyscallError (message like perror, code, errno, syscall); wrong argument
// types or ranges throw TypeError/RangeError before any system call.
// EINTR: a blocking call interrupted by a signal runs the JS handlers
// installed with signal() and then resumes (see docs/api.md).
import { binding } from './native.js';
// send/recv/read/write: V8 fast calls where available, the N-API functions otherwise (lib/fast-io.ts).
import * as fastIo from './fast-io.js';
import * as fastSocket from './fast-socket.js';
import type { AddressInput, SockAddr } from './sockaddr.js';
import { encodeInet, encodeInet6 } from './sockaddr-bytes.js';
import { acceptedFrom } from './accepted-peer.js';

export * from './constants.js';
export * from './sockaddr.js';
export * from './msg.js';
export { clock_gettime, fastClock, type Timespec } from './clock.js';
export type { SyscallError } from './errors.js';
export { isSyscallError } from './errors.js';

/** Bytes to send: a Buffer, any TypedArray, a DataView or an ArrayBuffer. */
export type BinaryData = ArrayBufferView | ArrayBuffer;
/** Bytes to send, or a string sent as UTF-8. */
export type Data = BinaryData | string;

/** accept(): the new connection's fd and the peer's address. */
export interface Accepted {
  fd: number;
  address: SockAddr;
}

/** recvfrom(): how many bytes arrived and from where. */
export interface Received {
  bytes: number;
  address: SockAddr;
}

/** SO_LINGER */
export interface Linger {
  onoff: number;
  linger: number;
}

/** SO_PEERCRED of a Unix-domain socket. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** TCP_INFO decoded (struct tcp_info of <netinet/tcp.h>); times in microseconds. */
export interface TcpInfo {
  state: number;
  /** 'ESTABLISHED', 'TIME_WAIT', ... */
  stateName: string;
  caState: number;
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  sndWscale: number;
  rcvWscale: number;
  rto: number;
  ato: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  fackets: number;
  lastDataSent: number;
  lastAckSent: number;
  lastDataRecv: number;
  lastAckRecv: number;
  pmtu: number;
  rcvSsthresh: number;
  rtt: number;
  rttvar: number;
  sndSsthresh: number;
  sndCwnd: number;
  advmss: number;
  reordering: number;
  rcvRtt: number;
  rcvSpace: number;
  totalRetrans: number;
}

/** What getsockopt() decodes: an int for most options, the structs named above for the rest. */
export type SockOptValue = number | Linger | TcpInfo | PeerCred | string;
/** What setsockopt() takes: an int or boolean, SO_LINGER's struct, ms for SO_RCVTIMEO/SO_SNDTIMEO, text or raw bytes. */
export type SockOptInput = number | boolean | Linger | string | BinaryData;

/** One entry of poll(); `revents` is filled in by the call. */
export interface PollFd {
  fd: number;
  events: number;
  revents?: number;
}

/** struct hostent, with the addresses as text. */
export interface HostEnt {
  h_name: string;
  h_aliases: string[];
  h_addrtype: number;
  h_length: number;
  h_addr_list: string[];
}

/** One result of getaddrinfo(). */
export interface AddrInfo {
  family: number;
  socktype: number;
  protocol: number;
  address: SockAddr;
  canonname?: string;
}

/** getaddrinfo() hints (struct addrinfo's ai_family, ai_socktype, ai_protocol, ai_flags); every field defaults to 0 (any). */
export interface AddrInfoHints {
  family?: number;
  socktype?: number;
  protocol?: number;
  flags?: number;
}

/** One entry of if_nameindex(). */
export interface InterfaceName {
  index: number;
  name: string;
}

/**
 * One entry of getifaddrs(3): an interface and one of its addresses (AF_PACKET
 * for the link layer, AF_INET, AF_INET6). `flags` are IFF_*; `broadcast` is set
 * with IFF_BROADCAST, `destination` (the peer) with IFF_POINTOPOINT.
 */
export interface IfAddr {
  name: string;
  index: number;
  flags: number;
  address: SockAddr | null;
  netmask: SockAddr | null;
  broadcast: SockAddr | null;
  destination: SockAddr | null;
}

/** getnameinfo(): the host and service names (or numbers, with NI_NUMERICHOST / NI_NUMERICSERV). */
export interface NameInfo {
  host: string;
  service: string;
}

/** struct ip_mreqn: the group, and the local interface by address or index (name accepted); all default to 0 (any). */
export interface IpMreqn {
  multiaddr?: string;
  address?: string;
  ifindex?: number | string;
}

/** struct ip_mreq_source: a source-specific membership. */
export interface IpMreqSource {
  multiaddr: string;
  interface?: string;
  sourceaddr: string;
}

/** struct ipv6_mreq: the group and the interface (index or name; 0 = the kernel's choice). */
export interface Ipv6Mreq {
  multiaddr: string;
  ifindex?: number | string;
}

/** struct packet_mreq: PACKET_MR_PROMISC / PACKET_MR_ALLMULTI / PACKET_MR_MULTICAST (+ address) on an interface. */
export interface PacketMreq {
  ifindex: number | string;
  type: number;
  address?: string | ArrayBufferView | ArrayBuffer;
}

interface PosixBinding {
  socket(domain: number, type: number, protocol?: number): number;
  socketpair(domain: number, type: number, protocol?: number): [number, number];
  bind(fd: number, address: AddressInput): void;
  listen(fd: number, backlog?: number): void;
  accept(fd: number): Accepted;
  accept4(fd: number, flags?: number): Accepted;
  acceptFd(fd: number, flags?: number): number;
  acceptPeer(fd: number, flags: number | undefined, peer: Uint8Array): number | Accepted;
  connect(fd: number, address: AddressInput, family?: unknown): void;
  connectInet(fd: number, port: unknown, address: unknown): void;
  shutdown(fd: number, how: number): void;
  getsockname(fd: number): SockAddr;
  getpeername(fd: number): SockAddr;
  send(fd: number, data: Data, flags?: number, offset?: number, length?: number): number;
  recv(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): number;
  sendto(fd: number, data: Data, flags: number, address: AddressInput, offset?: number, length?: number): number;
  recvfrom(fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number): Received;
  read(fd: number, buffer: BinaryData, offset?: number, length?: number): number;
  write(fd: number, data: Data, offset?: number, length?: number): number;
  writev(fd: number, chunks: readonly Data[]): number;
  sendfile(outFd: number, inFd: number, offset: number | null, count: number): number;
  splice(inFd: number, inOffset: number | null, outFd: number, outOffset: number | null, length: number, flags?: number): number;
  open(path: string, flags?: number, mode?: number): number;
  close(fd: number): void;
  pipe(flags?: number): [number, number];
  dup(fd: number): number;
  dup2(oldFd: number, newFd: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  poll(fds: PollFd[], timeout?: number): number;
  setsockopt(fd: number, level: number, name: number, value: SockOptInput): void;
  getsockopt(fd: number, level: number, name: number, buffer?: BinaryData, offset?: number, length?: number): SockOptValue;
  htons(hostshort: number): number;
  htonl(hostlong: number): number;
  ntohs(netshort: number): number;
  ntohl(netlong: number): number;
  inet_addr(cp: string): number;
  inet_aton(cp: string): number | null;
  inet_ntoa(inAddr: number): string;
  inet_pton(af: number, src: string): Buffer | null;
  inet_ntop(af: number, src: BinaryData): string;
  gethostbyname(name: string): HostEnt | null;
  getaddrinfo(node: string | null, service?: string | number | null, hints?: AddrInfoHints): AddrInfo[];
  if_nametoindex(ifname: string): number;
  if_indextoname(ifindex: number): string;
  if_nameindex(): InterfaceName[];
  getifaddrs(): IfAddr[];
  gethostname(): string;
  getnameinfo(address: AddressInput, flags?: number): NameInfo;
  gethostbyaddr(address: string, af?: number): HostEnt | null;
  ioctl(fd: number, request: number, value?: number): number;
  ip_mreqn(request: IpMreqn): Buffer;
  ip_mreq_source(request: IpMreqSource): Buffer;
  ipv6_mreq(request: Ipv6Mreq): Buffer;
  packet_mreq(request: PacketMreq): Buffer;
}

const native = binding as unknown as PosixBinding;

// ---- sockets ----------------------------------------------------------------
/** socket(2): a new socket's fd (the lowest free fd). */
export const socket: (domain: number, type: number, protocol?: number) => number = fastIo.socket;
/** socketpair(2): two connected sockets. */
export const socketpair: (domain: number, type: number, protocol?: number) => [number, number] = native.socketpair;
/** bind(2) */
export const bind: (fd: number, address: AddressInput) => void = native.bind;
/** listen(2); backlog defaults to SOMAXCONN. */
export const listen: (fd: number, backlog?: number) => void = native.listen;
// accept's AF_INET peer as native acceptPeer leaves it: the sockaddr_in's
// bytes (port and address in network order). One per module instance, so one
// per Worker; a signal handler that accepts during a blocking accept is done
// with it before the outer call's native part writes it.
const peerBytes = new Uint8Array(16);


/** accept(2): blocks until a connection is ready (unless the fd is non-blocking). */
export function accept(fd: number): Accepted {
  return acceptedFrom(native.acceptPeer(fd, undefined, peerBytes), peerBytes);
}
/** accept4(2) with SOCK_NONBLOCK / SOCK_CLOEXEC flags. */
export function accept4(fd: number, flags?: number): Accepted {
  return acceptedFrom(native.acceptPeer(fd, flags === undefined ? 0 : flags, peerBytes), peerBytes);
}
/**
 * accept(fd, NULL, NULL) as C servers call it (accept4 when `flags` are
 * given): the new connection's fd alone. No address object is built, which
 * makes it the cheap form for a server that does not look at the peer;
 * getpeername() still tells it later.
 */
export const acceptFd: (fd: number, flags?: number) => number = fastSocket.acceptFd;
const fastConnect = fastSocket.fastConnect;
/** connect(2); after EINTR it waits for the handshake and reports its SO_ERROR. */
export function connect(fd: number, address: AddressInput): void {
  // Property reads cost a few instructions here and ~1 µs each through N-API:
  // the family is read here, once, and for { family: 'AF_INET', port, address }
  // and { family: 'AF_INET6', port, flowinfo, scopeId, address } the fields
  // too (once each, in the native decoder's order). Those become sockaddr
  // bytes for the fast connect (lib/sockaddr-bytes.ts), or, for what that does not
  // take, primitives for the N-API connect. Every other shape goes to the
  // native decoder with the family it must not read again.
  if (typeof address !== 'object' || address === null) return native.connect(fd, address);
  const family: unknown = address.family;
  if (family === 'AF_INET') {
    const inet = address as { port?: unknown; address?: unknown };
    const port = inet.port;
    const text = inet.address;
    const bytes = fastConnect ? encodeInet(port, text) : undefined;
    if (bytes === undefined || !fastSocket.connectEncoded(fd, bytes)) native.connectInet(fd, port, text);
    return;
  }
  if (family === 'AF_INET6') {
    const inet6 = address as { port?: unknown; flowinfo?: unknown; scopeId?: unknown; address?: unknown };
    const port = inet6.port;
    const flowinfo = inet6.flowinfo;
    const scopeId = inet6.scopeId;
    const text = inet6.address;
    const bytes = fastConnect ? encodeInet6(port, flowinfo, scopeId, text) : undefined;
    // The N-API decoder gets the values read, in a plain object (no getter runs again).
    if (bytes === undefined || !fastSocket.connectEncoded(fd, bytes))
      native.connect(fd, { family: 'AF_INET6', port, flowinfo, scopeId, address: text } as AddressInput, family);
    return;
  }
  return native.connect(fd, address, family);
}
/** shutdown(2) with SHUT_RD / SHUT_WR / SHUT_RDWR. */
export const shutdown: (fd: number, how: number) => void = fastSocket.shutdown;
/** getsockname(2) */
export const getsockname: (fd: number) => SockAddr = native.getsockname;
/** getpeername(2) */
export const getpeername: (fd: number) => SockAddr = native.getpeername;

// ---- data -------------------------------------------------------------------
/** send(2): bytes handed to the kernel (may be fewer than asked). */
export const send: (fd: number, data: Data, flags?: number, offset?: number, length?: number) => number = fastIo.send;
/** recv(2) into `buffer`: the byte count, 0 at end of stream. */
export const recv: (fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number) => number = fastIo.recv;
/** sendto(2) */
export const sendto: (fd: number, data: Data, flags: number, address: AddressInput, offset?: number, length?: number) => number =
  native.sendto;
/** recvfrom(2): `{ bytes, address }`. */
export const recvfrom: (fd: number, buffer: BinaryData, flags?: number, offset?: number, length?: number) => Received =
  native.recvfrom;
/** read(2) into `buffer`: the byte count, 0 at end of file. */
export const read: (fd: number, buffer: BinaryData, offset?: number, length?: number) => number = fastIo.read;
/** write(2) */
export const write: (fd: number, data: Data, offset?: number, length?: number) => number = fastIo.write;
/** writev(2): several chunks in one call (one segment on the wire when it fits). */
export const writev: (fd: number, chunks: readonly Data[]) => number = native.writev;
/** sendfile(2): file → socket inside the kernel; offset null uses and moves the file's own offset. */
export const sendfile: (outFd: number, inFd: number, offset: number | null, count: number) => number = native.sendfile;
/** splice(2): moves bytes between an fd and a pipe inside the kernel. */
export const splice: (
  inFd: number,
  inOffset: number | null,
  outFd: number,
  outOffset: number | null,
  length: number,
  flags?: number,
) => number = native.splice;

// ---- descriptors --------------------------------------------------------------
/** open(2); mode defaults to 0o666 (the umask applies). Errors read "open(path): ...". */
export const open: (path: string, flags?: number, mode?: number) => number = native.open;
/** close(2); never retried after EINTR (Linux has released the fd). */
export const close: (fd: number) => void = fastIo.close;
/** pipe2(2): [readFd, writeFd]; flags O_NONBLOCK / O_CLOEXEC. */
export const pipe: (flags?: number) => [number, number] = native.pipe;
/** dup(2) */
export const dup: (fd: number) => number = native.dup;
/** dup2(2) */
export const dup2: (oldFd: number, newFd: number) => number = native.dup2;
/** fcntl(2) with F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ. */
export const fcntl: (fd: number, cmd: number, arg?: number) => number = native.fcntl;
/** poll(2): the number of ready entries; each entry's `revents` is set. timeout in ms, -1 waits forever. */
export const poll: (fds: PollFd[], timeout?: number) => number = native.poll;

// ---- options ------------------------------------------------------------------
/** setsockopt(2). Numbers/booleans as int; SO_LINGER { onoff, linger }; SO_RCVTIMEO/SO_SNDTIMEO in ms; raw bytes. */
export const setsockopt: (fd: number, level: number, name: number, value: SockOptInput) => void = fastSocket.setsockopt;

/** getsockopt(2), decoded: int, SO_LINGER, SO_RCVTIMEO/SO_SNDTIMEO (ms), TCP_INFO, SO_PEERCRED, TCP_CONGESTION. */
export function getsockopt(fd: number, level: number, name: number): SockOptValue;
/** getsockopt(2) as raw bytes into `buffer`: the option's length. */
export function getsockopt(fd: number, level: number, name: number, buffer: BinaryData, offset?: number, length?: number): number;
export function getsockopt(fd: number, level: number, name: number, buffer?: BinaryData, offset?: number, length?: number): SockOptValue {
  return buffer === undefined ? native.getsockopt(fd, level, name) : native.getsockopt(fd, level, name, buffer, offset, length);
}

// ---- byte order and addresses ---------------------------------------------------
/** htons(3): host to network byte order, 16 bits (0..65535). */
export const htons: (hostshort: number) => number = native.htons;
/** htonl(3): host to network byte order, 32 bits (0..4294967295). */
export const htonl: (hostlong: number) => number = native.htonl;
/** ntohs(3) */
export const ntohs: (netshort: number) => number = native.ntohs;
/** ntohl(3) */
export const ntohl: (netlong: number) => number = native.ntohl;
/** inet_addr(3): s_addr in network byte order; INADDR_NONE when the text is not an IPv4 address (a host name, say). */
export const inet_addr: (cp: string) => number = native.inet_addr;
/** inet_aton(3): s_addr, or null where C returns 0. */
export const inet_aton: (cp: string) => number | null = native.inet_aton;
/** inet_ntoa(3): s_addr to dotted text. */
export const inet_ntoa: (inAddr: number) => string = native.inet_ntoa;
/** inet_pton(3): 4 or 16 bytes in network order, or null where C returns 0. */
export const inet_pton: (af: number, src: string) => Buffer | null = native.inet_pton;
/** inet_ntop(3) */
export const inet_ntop: (af: number, src: BinaryData) => string = native.inet_ntop;
/** gethostbyname(3): host name or dotted text to a hostent; null where C returns NULL. Blocks on DNS. */
export const gethostbyname: (name: string) => HostEnt | null = native.gethostbyname;
/** getaddrinfo(3); throws with code 'EAI_NONAME' etc. Blocks on DNS. */
export const getaddrinfo: (node: string | null, service?: string | number | null, hints?: AddrInfoHints) => AddrInfo[] =
  native.getaddrinfo;

// ---- interfaces -------------------------------------------------------------------
/** if_nametoindex(3); throws `if_nametoindex(eth9): No such device` where C returns 0. */
export const if_nametoindex: (ifname: string) => number = native.if_nametoindex;
/** if_indextoname(3); throws ENXIO where C returns NULL. */
export const if_indextoname: (ifindex: number) => string = native.if_indextoname;
/** if_nameindex(3): every interface, `{ index, name }`. */
export const if_nameindex: () => InterfaceName[] = native.if_nameindex;
/** getifaddrs(3): one entry per interface address, link layer (AF_PACKET) included. */
export const getifaddrs: () => IfAddr[] = native.getifaddrs;
/** gethostname(2) */
export const gethostname: () => string = native.gethostname;

// ---- names of addresses -------------------------------------------------------------
/** getnameinfo(3) with NI_* flags; throws with code 'EAI_NONAME' etc. Blocks on DNS. */
export const getnameinfo: (address: AddressInput, flags?: number) => NameInfo = native.getnameinfo;
/** gethostbyaddr(3): the hostent of an address given as text (af AF_INET by default), null where C returns NULL. */
export const gethostbyaddr: (address: string, af?: number) => HostEnt | null = native.gethostbyaddr;

// ---- socket buffers ------------------------------------------------------------------
/**
 * ioctl(2) with one int: FIONREAD/SIOCINQ (bytes waiting to be read),
 * SIOCOUTQ (bytes in the send queue not yet acknowledged), SIOCOUTQNSD (not
 * yet sent), SIOCATMARK, FIONBIO (value 0/1). Other requests are refused.
 */
export const ioctl: (fd: number, request: number, value?: number) => number = native.ioctl;

// ---- multicast -----------------------------------------------------------------------
/** struct ip_mreqn as bytes for IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP / IP_MULTICAST_IF. */
export const ip_mreqn: (request: IpMreqn) => Buffer = native.ip_mreqn;
/** struct ip_mreq_source as bytes for IP_ADD_SOURCE_MEMBERSHIP / IP_DROP_SOURCE_MEMBERSHIP. */
export const ip_mreq_source: (request: IpMreqSource) => Buffer = native.ip_mreq_source;
/** struct ipv6_mreq as bytes for IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP. */
export const ipv6_mreq: (request: Ipv6Mreq) => Buffer = native.ipv6_mreq;
/** struct packet_mreq as bytes for setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP). */
export const packet_mreq: (request: PacketMreq) => Buffer = native.packet_mreq;
