// Socket addresses as the bytes of a struct sockaddr_in / sockaddr_in6, for
// the fast connect (lib/fast-socket.ts, native/node/fast_socket_calls.cc).
// Internal: not re-exported by lib/posix.ts (the bytes are a scratch buffer).
import { endianness } from 'node:os';
import { AF_INET, AF_INET6 } from './constants.js';
import { binding } from './native.js';

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
