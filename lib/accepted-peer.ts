// accept's AF_INET peer as the native calls leave it (acceptPeer for
// lib/posix.ts's accept, tryAccept for lib/async.ts's acceptAsync): the
// sockaddr_in's bytes, port and address in network order, in a buffer the
// caller passes; only the fd comes back. The address object is built here,
// where an object literal is cheap (one napi_set_named_property is ~1.9k
// instructions). Any other family comes back from native as { fd, address }.
import type { Accepted } from './posix.js';

/** { fd, address } from what the native accept left: the fd with the peer in `bytes`, or the whole result. */
export function acceptedFrom(result: number | Accepted, bytes: Uint8Array): Accepted {
  if (typeof result !== 'number') return result;
  return { fd: result, address: { family: 'AF_INET', address: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}`, port: bytes[2]! * 256 + bytes[3]! } };
}
