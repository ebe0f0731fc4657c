// The netstat -na lines of one port, read from /proc/net/tcp{,6}, for the twins
// that show the kernel's connection states (backlog, time-wait).
import { readSockets, type InetSocketEntry } from '../../lib/procfs.js';
import { formatInetLine, inetHeader } from '../../tools/socket-format.js';

/** Every TCP socket with `port` on either end, listener first, then the server side, then the clients. */
export function socketsOnPort(port: number): InetSocketEntry[] {
  const entries = readSockets({ protocols: ['tcp', 'tcp6'] }).filter(
    (entry): entry is InetSocketEntry => entry.protocol !== 'unix' && (entry.localPort === port || entry.remotePort === port),
  );
  const rank = (entry: InetSocketEntry): number => (entry.state === 'LISTEN' ? 0 : entry.localPort === port ? 1 : 2);
  return entries.sort((a, b) => rank(a) - rank(b) || a.state.localeCompare(b.state) || a.remotePort - b.remotePort || a.localPort - b.localPort);
}

/**
 * The TCP sockets of one connection, both of its ends: local port `serverPort`
 * with peer port `clientPort`, and the reverse. Another process's connection that
 * Linux gave one of the same port numbers (an ephemeral port is shared by
 * connections to different destinations) is left out, as is the listener.
 */
export function socketsOfConnection(serverPort: number, clientPort: number): InetSocketEntry[] {
  return socketsOnPort(serverPort).filter(
    (entry) =>
      (entry.localPort === serverPort && entry.remotePort === clientPort) || (entry.localPort === clientPort && entry.remotePort === serverPort),
  );
}

/** The table netstat -na prints for these entries (its column header, then one line each). */
export function socketTable(entries: readonly InetSocketEntry[]): string {
  return [inetHeader[1]!, ...entries.map((entry) => formatInetLine(entry))].join('\n');
}

/** How many entries on `side` of the port are in each state. */
export function countStates(entries: readonly InetSocketEntry[], port: number, side: 'server' | 'client'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    if (entry.state === 'LISTEN') continue;
    const isServerSide = entry.localPort === port;
    if (isServerSide !== (side === 'server')) continue;
    counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1);
  }
  return counts;
}
