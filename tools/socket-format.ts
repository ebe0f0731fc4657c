// How the tools show sockets and fds: the lines `netstat -na` prints and the
// table of `ls -l /proc/<pid>/fd` with sockets resolved. Shared by `sockfd fds`,
// `sockfd netstat` and the twins that print the kernel's tables (backlog,
// time-wait, fd-hold); lib/procfs.ts reads the data, this file only formats it.
import type { FdEntry, InetSocketEntry, SocketEntry, SocketOwner, UnixSocketEntry } from '../lib/procfs.js';

/** The State column as netstat writes it: an unconnected UDP socket (CLOSE to the kernel) shows blank. */
export function netstatState(entry: SocketEntry): string {
  if (entry.protocol === 'udp' || entry.protocol === 'udp6') return entry.state === 'CLOSE' ? '' : entry.state;
  return entry.state;
}

/** 'a.b.c.d:port' as netstat -n writes it ('*' for port 0; IPv6 without brackets, e.g. ':::5005'). */
export function netstatAddress(address: string, port: number): string {
  return `${address}:${port === 0 ? '*' : String(port)}`;
}

/** netstat -p's "PID/Program name": the first owner, '-' when none is visible. */
function programColumn(owners: readonly SocketOwner[] | undefined): string {
  const first = owners?.[0];
  return first ? `${first.pid}/${first.name}` : '-';
}

/** One line as net-tools' netstat prints it: "%-4s  %6ld %6ld %-23s %-23s %-11s". */
export function formatInetLine(entry: InetSocketEntry, owners?: Map<number, SocketOwner[]>): string {
  const local = netstatAddress(entry.localAddress, entry.localPort);
  const remote = netstatAddress(entry.remoteAddress, entry.remotePort);
  return [
    entry.protocol.padEnd(4) + ' ',
    String(entry.recvQ).padStart(6),
    String(entry.sendQ).padStart(6),
    local.padEnd(23),
    remote.padEnd(23),
    owners ? `${netstatState(entry).padEnd(11)} ${programColumn(owners.get(entry.inode))}` : netstatState(entry),
  ]
    .join(' ')
    .trimEnd();
}

/** One line as netstat prints a Unix socket: "unix  RefCnt Flags Type State I-Node Path". */
export function formatUnixLine(entry: UnixSocketEntry, owners?: Map<number, SocketOwner[]>): string {
  const flags = entry.accepting ? '[ ACC ]' : '[ ]';
  return [
    'unix '.padEnd(5),
    String(entry.refCount).padEnd(6),
    flags.padEnd(11),
    entry.type.padEnd(10),
    entry.state.padEnd(13),
    String(entry.inode).padEnd(8),
    ...(owners ? [programColumn(owners.get(entry.inode)).padEnd(19)] : []),
    entry.path,
  ]
    .join(' ')
    .trimEnd();
}

export const inetHeader = [
  'Active Internet connections (servers and established)',
  'Proto Recv-Q Send-Q Local Address           Foreign Address         State',
];
export const unixHeader = [
  'Active UNIX domain sockets (servers and established)',
  'Proto RefCnt Flags       Type       State         I-Node   Path',
];

/** The report netstat -na (-nap when owners are given) would print for these entries. */
export function formatNetstat(
  entries: readonly SocketEntry[],
  sections: { inet: boolean; unix: boolean },
  owners?: Map<number, SocketOwner[]>,
): string {
  const lines: string[] = [];
  if (sections.inet) {
    lines.push(inetHeader[0]!, owners ? `${inetHeader[1]!.padEnd(80)}PID/Program name` : inetHeader[1]!);
    for (const entry of entries) if (entry.protocol !== 'unix') lines.push(formatInetLine(entry, owners));
  }
  if (sections.unix) {
    lines.push(unixHeader[0]!, owners ? unixHeader[1]!.replace('I-Node   ', 'I-Node   PID/Program name     ') : unixHeader[1]!);
    for (const entry of entries) if (entry.protocol === 'unix') lines.push(formatUnixLine(entry, owners));
  }
  return lines.join('\n');
}

interface Row {
  fd: string;
  target: string;
  proto: string;
  local: string;
  foreign: string;
  state: string;
}

function socketColumns(socket: SocketEntry | undefined): Pick<Row, 'proto' | 'local' | 'foreign' | 'state'> {
  if (socket === undefined) return { proto: '-', local: '', foreign: '', state: '' };
  if (socket.protocol === 'unix') {
    return { proto: `unix/${socket.type}`, local: socket.path || '(unnamed)', foreign: '', state: socket.state };
  }
  return {
    proto: socket.protocol,
    local: netstatAddress(socket.localAddress, socket.localPort),
    foreign: netstatAddress(socket.remoteAddress, socket.remotePort),
    state: netstatState(socket),
  };
}

function toRow(entry: FdEntry): Row {
  const base = { fd: String(entry.fd), target: entry.target };
  if (entry.socketInode === undefined) return { ...base, proto: '', local: '', foreign: '', state: '' };
  return { ...base, ...socketColumns(entry.socket) };
}

/** The fds as an aligned table with a header row. */
export function formatFds(entries: readonly FdEntry[]): string {
  const header: Row = { fd: 'FD', target: 'TARGET', proto: 'PROTO', local: 'LOCAL', foreign: 'FOREIGN', state: 'STATE' };
  const rows = [header, ...entries.map(toRow)];
  const columns = Object.keys(header) as (keyof Row)[];
  const widths = columns.map((column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      columns
        .map((column, index) => (column === 'fd' ? row[column].padStart(widths[index]!) : row[column].padEnd(widths[index]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
