// What /proc says about a process's fds and the kernel's sockets: the fds of a
// pid with their readlink targets, and /proc/net/{tcp,tcp6,udp,udp6,unix} as
// typed entries, so `socket:[inode]` can be resolved to addresses and states.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import * as c from './constants.js';
import { inet_ntop } from './posix.js';

/** The /proc/net tables of IP sockets. */
export type InetProtocol = 'tcp' | 'tcp6' | 'udp' | 'udp6';
/** Every /proc/net socket table this module reads. */
export type SocketProtocol = InetProtocol | 'unix';

/** Every table this module reads, in netstat's order. */
export const socketProtocols: readonly SocketProtocol[] = ['tcp', 'tcp6', 'udp', 'udp6', 'unix'];

/** One line of /proc/net/{tcp,tcp6,udp,udp6}. */
export interface InetSocketEntry {
  protocol: InetProtocol;
  /** Numeric address as inet_ntop writes it: '127.0.0.1', '::', '::ffff:127.0.0.1'. */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** netstat's name: 'ESTABLISHED', 'LISTEN', 'TIME_WAIT', ...; 'CLOSE' for an unconnected UDP socket. */
  state: string;
  /** The kernel's number for the state (TCP_ESTABLISHED, ...). */
  stateCode: number;
  /**
   * Recv-Q as netstat shows it: bytes received and not yet read; for a LISTEN
   * socket, connections waiting in the accept queue. For UDP, receive memory in use.
   */
  recvQ: number;
  /**
   * Send-Q as netstat shows it: bytes sent and not yet acknowledged (0 for LISTEN;
   * `ss` shows the listen backlog limit there instead). For UDP, send memory in use.
   */
  sendQ: number;
  uid: number;
  /** Socket inode (`socket:[inode]` in /proc/<pid>/fd); 0 for TIME_WAIT and SYN_RECV entries, which no fd holds. */
  inode: number;
}

/** One line of /proc/net/unix. */
export interface UnixSocketEntry {
  protocol: 'unix';
  refCount: number;
  /** 'STREAM', 'DGRAM', 'SEQPACKET', ... */
  type: string;
  /** netstat's name: 'LISTENING', 'CONNECTED', 'CONNECTING', 'DISCONNECTING', or '' when unconnected. */
  state: string;
  /** Listening for connections (netstat's `[ ACC ]` flag). */
  accepting: boolean;
  inode: number;
  /** The bound path, '@name' for an abstract name, '' when unnamed. */
  path: string;
}

/** One socket of /proc/net: an IP one or a Unix-domain one. */
export type SocketEntry = InetSocketEntry | UnixSocketEntry;

/** One open fd of a process. */
export interface FdEntry {
  fd: number;
  /** readlink(/proc/<pid>/fd/<fd>): a path, 'socket:[123]', 'pipe:[456]', 'anon_inode:[eventpoll]', ... */
  target: string;
  /** The inode of a socket fd. */
  socketInode?: number;
  /** The socket's entry in /proc/<pid>/net/*, when the kernel lists it there (an unbound TCP socket is not listed). */
  socket?: SocketEntry;
}

// TCP states by the kernel's number, named as netstat names them. The numbers
// come from <netinet/tcp.h> through the addon.
const tcpStateNames: ReadonlyMap<number, string> = new Map([
  [c.TCP_ESTABLISHED, 'ESTABLISHED'],
  [c.TCP_SYN_SENT, 'SYN_SENT'],
  [c.TCP_SYN_RECV, 'SYN_RECV'],
  [c.TCP_FIN_WAIT1, 'FIN_WAIT1'],
  [c.TCP_FIN_WAIT2, 'FIN_WAIT2'],
  [c.TCP_TIME_WAIT, 'TIME_WAIT'],
  [c.TCP_CLOSE, 'CLOSE'],
  [c.TCP_CLOSE_WAIT, 'CLOSE_WAIT'],
  [c.TCP_LAST_ACK, 'LAST_ACK'],
  [c.TCP_LISTEN, 'LISTEN'],
  [c.TCP_CLOSING, 'CLOSING'],
]);

/** The state names /proc/net/tcp can show, as netstat writes them. */
export const tcpStates: readonly string[] = [...tcpStateNames.values()];

const socketTypeNames: ReadonlyMap<number, string> = new Map([
  [c.SOCK_STREAM, 'STREAM'],
  [c.SOCK_DGRAM, 'DGRAM'],
  [c.SOCK_SEQPACKET, 'SEQPACKET'],
  [c.SOCK_RAW, 'RAW'],
]);

// The `St` column of /proc/net/unix is the kernel's `socket_state` and the Flags
// column holds __SO_ACCEPTCON; both come from <linux/net.h>, which the C library
// does not export, so the values are written here (stable kernel ABI since 2.0).
const SS_UNCONNECTED = 1;
const SS_CONNECTING = 2;
const SS_CONNECTED = 3;
const SS_DISCONNECTING = 4;
const SO_ACCEPTCON_FLAG = 1 << 16;

function unixStateName(state: number, accepting: boolean): string {
  switch (state) {
    case SS_UNCONNECTED:
      return accepting ? 'LISTENING' : '';
    case SS_CONNECTING:
      return 'CONNECTING';
    case SS_CONNECTED:
      return 'CONNECTED';
    case SS_DISCONNECTING:
      return 'DISCONNECTING';
    default:
      return 'UNKNOWN';
  }
}

function hex(text: string, what: string): number {
  if (!/^[0-9A-Fa-f]+$/.test(text)) throw new Error(`procfs: bad ${what} '${text}'`);
  return parseInt(text, 16);
}

// The kernel prints each 32-bit word of an address with %08X as the host holds
// it in memory, so the bytes come back by writing the words in host byte order.
function parseHexAddress(text: string, protocol: InetProtocol): { address: string; port: number } {
  const [hexAddress = '', hexPort = ''] = text.split(':');
  const words = hexAddress.match(/.{8}/g) ?? [];
  if (words.length * 8 !== hexAddress.length || (words.length !== 1 && words.length !== 4)) {
    throw new Error(`procfs: bad ${protocol} address '${text}'`);
  }
  const bytes = Buffer.alloc(words.length * 4);
  words.forEach((word, index) => {
    const value = hex(word, 'address word');
    if (endianness() === 'LE') bytes.writeUInt32LE(value, index * 4);
    else bytes.writeUInt32BE(value, index * 4);
  });
  const family = words.length === 1 ? c.AF_INET : c.AF_INET6;
  return { address: inet_ntop(family, bytes), port: hex(hexPort, 'port') };
}

/** Parses the text of /proc/net/{tcp,tcp6,udp,udp6}. */
export function parseInetTable(text: string, protocol: InetProtocol): InetSocketEntry[] {
  const lines = text.split('\n').slice(1).filter((line) => line.trim() !== '');
  return lines.map((line) => {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) throw new Error(`procfs: short line in /proc/net/${protocol}: '${line}'`);
    const local = parseHexAddress(fields[1]!, protocol);
    const remote = parseHexAddress(fields[2]!, protocol);
    const stateCode = hex(fields[3]!, 'state');
    const [txQueue = '', rxQueue = ''] = fields[4]!.split(':');
    return {
      protocol,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state: tcpStateNames.get(stateCode) ?? 'UNKNOWN',
      stateCode,
      recvQ: hex(rxQueue, 'rx_queue'),
      sendQ: hex(txQueue, 'tx_queue'),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
    };
  });
}

/** Parses the text of /proc/net/unix. */
export function parseUnixTable(text: string): UnixSocketEntry[] {
  const lines = text.split('\n').slice(1).filter((line) => line.trim() !== '');
  return lines.map((line) => {
    // Num: RefCount Protocol Flags Type St Inode [Path] (a path may hold spaces)
    const match = /^\s*[0-9A-Fa-f]+:\s+([0-9A-Fa-f]+)\s+[0-9A-Fa-f]+\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s+(\d+)(?: (.*))?$/.exec(line);
    if (!match) throw new Error(`procfs: bad line in /proc/net/unix: '${line}'`);
    const accepting = (hex(match[2]!, 'flags') & SO_ACCEPTCON_FLAG) !== 0;
    const typeCode = hex(match[3]!, 'type');
    return {
      protocol: 'unix',
      refCount: hex(match[1]!, 'refcount'),
      type: socketTypeNames.get(typeCode) ?? String(typeCode),
      state: unixStateName(hex(match[4]!, 'state'), accepting),
      accepting,
      inode: Number(match[5]),
      path: match[6] ?? '',
    };
  });
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    // No IPv6 in the kernel: no tcp6/udp6 file.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Which tables to read, and through whose network namespace. */
export interface ReadSocketsOptions {
  /** Default: all of tcp, tcp6, udp, udp6, unix. */
  protocols?: readonly SocketProtocol[];
  /** Read /proc/<pid>/net (that process's network namespace); default /proc/net (this one's). */
  pid?: number;
  /** Only the sockets with these inodes (faster on a busy machine: other lines are not parsed). */
  inodes?: ReadonlySet<number>;
}

// The header line and the lines whose inode column (counted from 0) is wanted.
function linesWithInodes(text: string, column: number, inodes: ReadonlySet<number>): string {
  const [header = '', ...rest] = text.split('\n');
  const kept = rest.filter((line) => inodes.has(Number(line.trim().split(/\s+/, column + 1)[column])));
  return [header, ...kept].join('\n');
}

/** The kernel's sockets from /proc/net, in netstat's order (tcp, tcp6, udp, udp6, unix; file order within). */
export function readSockets(options: ReadSocketsOptions = {}): SocketEntry[] {
  const base = options.pid === undefined ? '/proc/net' : `/proc/${checkPid(options.pid)}/net`;
  const wanted = new Set(options.protocols ?? socketProtocols);
  const entries: SocketEntry[] = [];
  for (const protocol of socketProtocols) {
    if (!wanted.has(protocol)) continue;
    const text = readIfPresent(`${base}/${protocol}`);
    if (text === undefined) continue;
    if (protocol === 'unix') {
      entries.push(...parseUnixTable(options.inodes ? linesWithInodes(text, 6, options.inodes) : text));
    } else {
      entries.push(...parseInetTable(options.inodes ? linesWithInodes(text, 9, options.inodes) : text, protocol));
    }
  }
  // A table is read in page-sized pieces while sockets come and go, so on a busy
  // machine a socket can be listed twice (as with netstat); keep its first line.
  const seen = new Set<string>();
  return entries.filter((entry) => {
    if (entry.inode === 0) return true;
    const key = `${entry.protocol}:${entry.inode}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function checkPid(pid: number): number {
  if (!Number.isSafeInteger(pid) || pid < 1) throw new RangeError(`pid must be a positive integer, got ${String(pid)}`);
  return pid;
}

/** The inode in a `socket:[inode]` link target, or undefined for anything else. */
export function socketInode(target: string): number | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(target);
  return match ? Number(match[1]) : undefined;
}

/**
 * The open fds of `pid` (default: this process) with their link targets,
 * sorted by number, sockets resolved through /proc/<pid>/net. Throws the fs
 * error (ENOENT: no such process, EACCES: another user's process).
 */
export function listFds(pid: number = process.pid): FdEntry[] {
  const directory = `/proc/${checkPid(pid)}/fd`;
  const fds = readdirSync(directory)
    .map(Number)
    .filter(Number.isInteger)
    .sort((a, b) => a - b);
  const entries: FdEntry[] = [];
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`${directory}/${fd}`);
    } catch (error) {
      // Closed since readdir (for our own pid: the fd readdir itself used).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const inode = socketInode(target);
    entries.push(inode === undefined ? { fd, target } : { fd, target, socketInode: inode });
  }
  if (entries.some((entry) => entry.socketInode !== undefined)) {
    const byInode = new Map<number, SocketEntry>();
    const inodes = new Set(entries.flatMap((entry) => (entry.socketInode === undefined ? [] : [entry.socketInode])));
    for (const socket of readSockets({ pid, inodes })) byInode.set(socket.inode, socket);
    for (const entry of entries) {
      const socket = entry.socketInode === undefined ? undefined : byInode.get(entry.socketInode);
      if (socket) entry.socket = socket;
    }
  }
  return entries;
}

/** A process holding a socket. */
export interface SocketOwner {
  pid: number;
  /** /proc/<pid>/comm: the program name, at most 15 bytes. */
  name: string;
  fd: number;
}

/** The name of process `pid` (/proc/<pid>/comm), or undefined when it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${checkPid(pid)}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/**
 * Which processes hold which sockets, by inode, from every /proc/<pid>/fd this
 * user may read (netstat -p and ss -p do the same; others' processes are skipped).
 * A socket shared after fork() has several owners.
 */
export function socketOwners(): Map<number, SocketOwner[]> {
  const owners = new Map<number, SocketOwner[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    const comm = processName(pid) ?? '?';
    for (const fd of fds) {
      let inode: number | undefined;
      try {
        inode = socketInode(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        continue;
      }
      if (inode === undefined) continue;
      const list = owners.get(inode) ?? [];
      list.push({ pid, name: comm, fd: Number(fd) });
      owners.set(inode, list);
    }
  }
  return owners;
}

/** The pids of the children of `pid` (from the children file of each of its threads in /proc/<pid>/task), sorted. */
export function childPids(pid: number): number[] {
  const tasks = `/proc/${checkPid(pid)}/task`;
  const children: number[] = [];
  for (const task of readdirSync(tasks)) {
    try {
      const text = readFileSync(`${tasks}/${task}/children`, 'utf8').trim();
      if (text !== '') children.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended meanwhile
    }
  }
  return children.sort((a, b) => a - b);
}
