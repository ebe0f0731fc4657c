// Hand-off to Node: a socket sockfd made (with options net does not offer -
// SO_REUSEPORT per process, TCP_DEFER_ACCEPT, a device binding, ...) becomes
// a net.Socket, or is served by a net.Server / http.Server via listen({ fd }).
// Ownership moves to Node: it closes the fd when its socket or server closes.
import net from 'node:net';
import * as posix from './posix.js';
import { AF_INET, AF_INET6, AF_UNIX, EBADF, EINVAL, SOCK_STREAM, SOL_SOCKET, SO_ACCEPTCONN, SO_DOMAIN, SO_TYPE } from './constants.js';
import { syscallError } from './errors.js';
import { Socket } from './socket.js';
import { releaseWatcher } from './async.js';

/** Options of the net.Socket made by toNetSocket. */
export interface ToNetSocketOptions {
  /** Keep the writable side open after the peer ends (net's allowHalfOpen; default false). */
  allowHalfOpen?: boolean;
}

/** The fd of a stream socket net can own (TCP or Unix-domain), checked before anything changes hands. */
function streamFd(caller: string, socket: Socket | number): number {
  const fd = socket instanceof Socket ? socket.fd : socket;
  if (fd < 0) throw syscallError(caller, 'EBADF', EBADF, 'the socket is closed (Bad file descriptor)');
  if (posix.getsockopt(fd, SOL_SOCKET, SO_TYPE) !== SOCK_STREAM)
    throw syscallError(caller, 'EINVAL', EINVAL, `fd ${fd} is not a SOCK_STREAM socket; net serves TCP and Unix-domain streams only (node:dgram takes datagrams)`);
  const domain = posix.getsockopt(fd, SOL_SOCKET, SO_DOMAIN);
  if (domain !== AF_INET && domain !== AF_INET6 && domain !== AF_UNIX)
    throw syscallError(caller, 'EINVAL', EINVAL, `fd ${fd} is neither AF_INET, AF_INET6 nor AF_UNIX`);
  return fd;
}

/** Ownership moves: sockfd's watcher lets go (its pending waits reject) and the Socket forgets the fd. */
function giveUp(socket: Socket | number, fd: number): void {
  releaseWatcher(fd);
  if (socket instanceof Socket) socket.detach();
}

/**
 * A connected stream socket becomes a net.Socket (TCP or Unix-domain),
 * already flowing. The Socket object is left closed; Node now owns the fd.
 */
export function toNetSocket(socket: Socket | number, options: ToNetSocketOptions = {}): net.Socket {
  const fd = streamFd('toNetSocket', socket);
  posix.getpeername(fd); // throws ENOTCONN for a socket that is not connected
  giveUp(socket, fd);
  try {
    return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: options.allowHalfOpen ?? false });
  } catch (error) {
    posix.close(fd); // net refused the fd it was given: do not leak it
    throw error;
  }
}

/**
 * A listening stream socket is served by `server` (a new net.Server when
 * omitted; an http.Server works the same) through listen({ fd }). Returns the
 * server; it emits 'listening' as usual. Node now owns the fd.
 */
export function toNetServer<S extends net.Server = net.Server>(socket: Socket | number, server?: S): S {
  const fd = streamFd('toNetServer', socket);
  if (posix.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN) !== 1)
    throw syscallError('toNetServer', 'EINVAL', EINVAL, `fd ${fd} is not listening: call listen() first`);
  giveUp(socket, fd);
  const target = server ?? (net.createServer() as S);
  target.listen({ fd });
  return target;
}
