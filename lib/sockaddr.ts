// Socket addresses as plain objects, a discriminated union on `family`.
// Native code converts them to and from sockaddr_storage.

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
