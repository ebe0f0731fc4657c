// Socket addresses as plain objects, a discriminated union on `family`.
// Native code converts them to and from sockaddr_storage; the fast connect
// takes IPv4/IPv6 ones as bytes encoded here (encodeInet, encodeInet6).
import { endianness } from 'node:os';
import { AF_INET, AF_INET6 } from './constants.js';
import { binding } from './native.js';

/** An IPv4 address and port, as accept/recvfrom/getsockname return it. */
export interface InetAddress {
  family: 'AF_INET';
  address: string;
  port: number;
}

/** An IPv6 address, port, flow label and scope (interface index). */
export interface Inet6Address {
  family: 'AF_INET6';
  address: string;
  port: number;
  flowinfo: number;
  scopeId: number;
}

/** A Unix-domain address: a path, '\0name' for an abstract name, '' when unnamed. */
export interface UnixAddress {
  family: 'AF_UNIX';
  path: string;
}

/**
 * A link-layer address (struct sockaddr_ll of packet(7)), as recvfrom() on an
 * AF_PACKET socket returns it: `protocol` is the EtherType in host order
 * (ETH_P_IP, ...), `pkttype` PACKET_HOST / PACKET_OUTGOING / ..., `hatype`
 * ARPHRD_*, `address` the hardware address as 'aa:bb:cc:dd:ee:ff' ('' when none).
 */
export interface PacketAddress {
  family: 'AF_PACKET';
  protocol: number;
  ifindex: number;
  hatype: number;
  pkttype: number;
  address: string;
}

/** A netlink address (struct sockaddr_nl of netlink(7)): port id and multicast group mask. */
export interface NetlinkAddress {
  family: 'AF_NETLINK';
  pid: number;
  groups: number;
}

/** What the kernel reports for an unbound or unknown address. */
export interface OtherAddress {
  family: 'AF_UNSPEC' | number;
}

/** Any address the kernel can return. */
export type SockAddr = InetAddress | Inet6Address | UnixAddress | PacketAddress | NetlinkAddress | OtherAddress;

/**
 * An address to bind, connect or send to. `address` may be omitted for the
 * wildcard (INADDR_ANY / in6addr_any); for IPv4 it may also be an s_addr
 * number in network byte order, as `inet_addr()` and `htonl(INADDR_ANY)` give.
 * An IPv6 `scopeId` may be an interface name ('lo'), as may a zone in the
 * address text ('fe80::1%eth0'). AF_PACKET takes the interface as `ifindex`
 * or `ifname`, `protocol` in host order, `address` as 'aa:bb:..' or bytes.
 */
export type AddressInput =
  | { family: 'AF_INET'; address?: string | number; port?: number }
  | { family: 'AF_INET6'; address?: string; port?: number; flowinfo?: number; scopeId?: number | string }
  | { family: 'AF_UNIX' | 'AF_LOCAL'; path: string }
  | PacketAddressInput
  | { family: 'AF_NETLINK'; pid?: number; groups?: number };

/** The fields of sockaddr_ll to bind or send to; all optional (0 / none). */
export interface PacketAddressInput {
  family: 'AF_PACKET';
  protocol?: number;
  ifindex?: number;
  ifname?: string;
  hatype?: number;
  pkttype?: number;
  address?: string | ArrayBufferView | ArrayBuffer;
}

/** `{ family: 'AF_INET', address, port }` */
export function inet(address: string | number, port: number): AddressInput {
  return { family: 'AF_INET', address, port };
}

/** `{ family: 'AF_INET6', address, port }`; scopeId an interface index or name. */
export function inet6(address: string, port: number, scopeId: number | string = 0): AddressInput {
  return { family: 'AF_INET6', address, port, scopeId };
}

/** `{ family: 'AF_UNIX', path }`; abstract(name) for a name in the abstract namespace. */
export function unix(path: string): UnixAddress {
  return { family: 'AF_UNIX', path };
}

/** An abstract Unix-domain name (Linux): no file, gone when the last socket closes. */
export function abstract(name: string): UnixAddress {
  return { family: 'AF_UNIX', path: `\0${name}` };
}

/** `{ family: 'AF_PACKET', ifname | ifindex, protocol }` for bind(): one interface (0 = all), one EtherType. */
export function packet(iface: string | number, protocol = 0): PacketAddressInput {
  return typeof iface === 'string' ? { family: 'AF_PACKET', ifname: iface, protocol } : { family: 'AF_PACKET', ifindex: iface, protocol };
}

/** `{ family: 'AF_NETLINK', pid, groups }`; pid 0 is the kernel (or "assign one" in bind()). */
export function netlink(groups = 0, pid = 0): AddressInput {
  return { family: 'AF_NETLINK', pid, groups };
}

/** "127.0.0.1:5005", "[::1]:5005", "/run/x.sock", "@abstract", "packet if1 proto 0x0800" — for messages and logs. */
export function formatAddress(address: SockAddr): string {
  switch (address.family) {
    case 'AF_INET':
      return `${address.address}:${address.port}`;
    case 'AF_INET6':
      return `[${address.address}]:${address.port}`;
    case 'AF_UNIX':
      return address.path.startsWith('\0') ? `@${address.path.slice(1)}` : address.path || '(unnamed)';
    case 'AF_PACKET':
      return `packet if${address.ifindex} proto 0x${address.protocol.toString(16).padStart(4, '0')}${address.address ? ` ${address.address}` : ''}`;
    case 'AF_NETLINK':
      return `netlink pid ${address.pid} groups 0x${address.groups.toString(16)}`;
    default:
      return String(address.family);
  }
}

// ---- sockaddr bytes for the fast connect (lib/fast-socket.ts) -------------------
// An address's struct sockaddr_in / sockaddr_in6, encoded in JS from fields the
// caller read once: the address text is decoded by the C library's inet_pton
// once per text (a bounded cache), the rest written per call into one scratch
// buffer per family (per module instance, so per Worker; no JS runs between
// filling it and the fast call that reads it). Only shapes whose native
// decoding is exactly this are encoded - a text without NUL (and, for IPv6,
// without a '%zone'), numbers that are integers in range or undefined -, and
// only texts inet_pton takes; for anything else the encoders answer undefined
// and the N-API decoder does the call (and throws its errors).

const littleEndian = endianness() === 'LE';
const inetPton = binding.inet_pton as (af: number, src: string) => Uint8Array | null;
// Off the V8 heap (an ArrayBuffer's store), so a fast call reads it in place.
const inet4Scratch = new Uint8Array(new ArrayBuffer(16));
const inet6Scratch = new Uint8Array(new ArrayBuffer(28));
const inet4View = new DataView(inet4Scratch.buffer);
const inet6View = new DataView(inet6Scratch.buffer);
inet4View.setUint16(0, AF_INET, littleEndian); // sa_family_t, host order
inet6View.setUint16(0, AF_INET6, littleEndian);

// Decoded address texts: IPv4 as its 4 bytes in one uint32 (first byte
// highest), IPv6 as 16 bytes. Cleared when full: a program that connects to
// ever new addresses costs one inet_pton per connect, never unbounded memory.
const MAX_CACHED = 1024;
const inet4Texts = new Map<string, number>();
const inet6Texts = new Map<string, Uint8Array>();

function remember<V>(cache: Map<string, V>, text: string, value: V): V {
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(text, value);
  return value;
}

// The text of the last IPv4 connect, and its bits: a program connecting again
// and again to one server pays a string comparison, not a Map lookup.
let lastInet4Text: string | undefined; // undefined until a text decodes (never equal to a string)
let lastInet4Bits = 0;

function inet4Bits(text: string): number | undefined {
  if (text === lastInet4Text) return lastInet4Bits;
  let cached = inet4Texts.get(text);
  if (cached === undefined) cached = decodeInet4(text);
  if (cached !== undefined) {
    lastInet4Text = text;
    lastInet4Bits = cached;
  }
  return cached;
}

function decodeInet4(text: string): number | undefined {
  if (text.includes('\0')) return undefined;
  const bytes = inetPton(AF_INET, text);
  if (bytes === null) return undefined;
  return remember(inet4Texts, text, ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0);
}

function inet6Bytes(text: string): Uint8Array | undefined {
  const cached = inet6Texts.get(text);
  if (cached !== undefined) return cached;
  if (text.includes('\0') || text.includes('%')) return undefined;
  const bytes = inetPton(AF_INET6, text);
  if (bytes === null) return undefined;
  return remember(inet6Texts, text, Uint8Array.from(bytes));
}

// An integer in [0, max] (-0 included, as the native validator takes it), undefined as 0; else -1.
function fieldOr0(value: unknown, max: number): number {
  if (value === undefined) return 0;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max ? value : -1;
}

/**
 * The sockaddr_in of `{ family: 'AF_INET', port, address }` from its fields'
 * values, or undefined when the N-API decoder must do it. The bytes are a
 * scratch buffer: valid until the next call.
 * @internal
 */
export function encodeInet(port: unknown, address: unknown): Uint8Array | undefined {
  const p = fieldOr0(port, 65535);
  if (p < 0 || typeof address !== 'string') return undefined;
  const bits = inet4Bits(address);
  if (bits === undefined) return undefined;
  inet4View.setUint16(2, p); // network order
  inet4View.setUint32(4, bits);
  return inet4Scratch;
}

/**
 * The sockaddr_in6 of `{ family: 'AF_INET6', port, flowinfo, scopeId, address }`
 * from its fields' values (scopeId a number; an interface name is the N-API
 * decoder's), or undefined. A scratch buffer, as encodeInet's.
 * @internal
 */
export function encodeInet6(port: unknown, flowinfo: unknown, scopeId: unknown, address: unknown): Uint8Array | undefined {
  const p = fieldOr0(port, 65535);
  const flow = fieldOr0(flowinfo, 0xffffffff);
  const scope = fieldOr0(scopeId, 0xffffffff);
  if (p < 0 || flow < 0 || scope < 0 || typeof address !== 'string') return undefined;
  const bytes = inet6Bytes(address);
  if (bytes === undefined) return undefined;
  inet6View.setUint16(2, p);
  inet6View.setUint32(4, flow); // sin6_flowinfo, network order (htonl)
  inet6Scratch.set(bytes, 8);
  inet6View.setUint32(24, scope, littleEndian); // sin6_scope_id, host order
  return inet6Scratch;
}
