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

/** What the kernel reports for an unbound or unknown address. */
export interface OtherAddress {
  family: 'AF_UNSPEC' | number;
}

/** Any address the kernel can return. */
export type SockAddr = InetAddress | Inet6Address | UnixAddress | OtherAddress;

/**
 * An address to bind, connect or send to. `address` may be omitted for the
 * wildcard (INADDR_ANY / in6addr_any); for IPv4 it may also be an s_addr
 * number in network byte order, as `inet_addr()` and `htonl(INADDR_ANY)` give.
 */
export type AddressInput =
  | { family: 'AF_INET'; address?: string | number; port?: number }
  | { family: 'AF_INET6'; address?: string; port?: number; flowinfo?: number; scopeId?: number }
  | { family: 'AF_UNIX' | 'AF_LOCAL'; path: string };

/** `{ family: 'AF_INET', address, port }` */
export function inet(address: string | number, port: number): AddressInput {
  return { family: 'AF_INET', address, port };
}

/** `{ family: 'AF_INET6', address, port }` */
export function inet6(address: string, port: number, scopeId = 0): AddressInput {
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

/** "127.0.0.1:5005", "[::1]:5005", "/run/x.sock", "@abstract" — for messages and logs. */
export function formatAddress(address: SockAddr): string {
  switch (address.family) {
    case 'AF_INET':
      return `${address.address}:${address.port}`;
    case 'AF_INET6':
      return `[${address.address}]:${address.port}`;
    case 'AF_UNIX':
      return address.path.startsWith('\0') ? `@${address.path.slice(1)}` : address.path || '(unnamed)';
    default:
      return String(address.family);
  }
}
