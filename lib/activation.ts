// Socket activation as systemd defines it (sd_listen_fds(3)): the service
// manager opens the listening sockets and starts us with them as fds 3, 4,
// ... and LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES in the environment.
import { FD_CLOEXEC, F_GETFD, F_SETFD } from './constants.js';
import { fcntl } from './posix.js';
import { Socket } from './socket.js';

/** SD_LISTEN_FDS_START: the first passed fd. */
export const SD_LISTEN_FDS_START = 3;

/** One passed socket and its name from LISTEN_FDNAMES ('unknown' when none was given). */
export interface ListenedSocket {
  socket: Socket;
  name: string;
}

const VARIABLES = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/**
 * sd_listen_fds_with_names(1): the sockets passed to this process, as owned
 * Sockets (close-on-exec, as sd_listen_fds sets them), with their names.
 * Empty when LISTEN_PID is not this process or LISTEN_FDS is absent. The
 * variables are removed from the environment in every case, so children do
 * not see them. Malformed values throw (as sd_listen_fds returns -EINVAL).
 */
export function listenFdsWithNames(): ListenedSocket[] {
  const { LISTEN_PID: pid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = process.env;
  for (const name of VARIABLES) delete process.env[name];
  if (pid === undefined || count === undefined) return [];
  if (!/^\d+$/.test(pid)) throw new RangeError(`LISTEN_PID is not a pid: '${pid}'`);
  if (Number(pid) !== process.pid) return [];
  if (!/^\d+$/.test(count) || Number(count) > 65536) throw new RangeError(`LISTEN_FDS is not a count: '${count}'`);
  const n = Number(count);
  const labels = names === undefined ? [] : names.split(':');
  if (names !== undefined && labels.length !== n) throw new RangeError(`LISTEN_FDNAMES names ${labels.length} fds, LISTEN_FDS says ${n}`);
  const fds = Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
  // All checked before any Socket owns one: EBADF when the manager did not really pass it.
  for (const fd of fds) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  return fds.map((fd, i) => ({ socket: new Socket(fd), name: labels[i] ?? 'unknown' }));
}

/** sd_listen_fds(1): the passed sockets as owned Sockets (see listenFdsWithNames). */
export function listenFds(): Socket[] {
  return listenFdsWithNames().map((entry) => entry.socket);
}
