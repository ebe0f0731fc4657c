// `sockfd netstat`: the `netstat -na` view the tutorial reads, built from /proc/net.
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { type SocketEntry, type SocketProtocol, type UnixSocketEntry, readSockets, socketOwners, tcpStates } from '../../lib/procfs.js';
import { formatNetstat } from '../../tools/socket-format.js';

const usage = `usage: sockfd netstat [-tuxlp] [--port N] [--state NAME] [--json]

The sockets of this machine's network namespace as \`netstat -na\` shows them
(Proto, Recv-Q, Send-Q, Local Address, Foreign Address, State), read from
/proc/net/{tcp,tcp6,udp,udp6,unix}. Without --tcp/--udp/--unix all are shown.

options:
  -t, --tcp          TCP sockets (tcp and tcp6)
  -u, --udp          UDP sockets (udp and udp6)
  -x, --unix         Unix-domain sockets
      --port N       only sockets whose local or foreign port is N
  -s, --state NAME   only sockets in state NAME: LISTEN, ESTABLISHED, SYN_SENT,
                     SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE_WAIT,
                     LAST_ACK, CLOSING, CLOSE (ss spellings work too: estab,
                     time-wait, syn-recv; for Unix sockets LISTEN means
                     LISTENING and ESTABLISHED means CONNECTED)
  -l, --listening    only listening sockets (same as --state LISTEN)
  -n, -a             accepted and ignored, so \`sockfd netstat -nap\` works as
                     netstat's habit has it: output is always numeric and all
  -p, --programs     add netstat -p's column PID/Program name (the processes
                     of other users show as -, as in netstat)
      --json         the entries as JSON, one array (with --programs, each
                     entry gets "owners": [{ pid, name, fd }])

Recv-Q and Send-Q are netstat's: for a LISTEN socket Recv-Q counts the
connections waiting for accept() and Send-Q is 0 (\`ss -tan\` shows the
backlog limit in Send-Q instead). TIME_WAIT and SYN_RECV entries belong to no
process. Exit status: 0, or 2 on a usage error.`;

// ss and netstat spell some states differently; both are accepted.
const stateAliases: Readonly<Record<string, string>> = {
  ESTAB: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN_WAIT1',
  FIN_WAIT_2: 'FIN_WAIT2',
  UNCONN: 'CLOSE',
  LISTENING: 'LISTEN',
  CONNECTED: 'ESTABLISHED',
};

/** A state name as typed (LISTEN, time-wait, Estab) → netstat's TCP name; undefined when unknown. */
export function normalizeState(name: string): string | undefined {
  const upper = name.trim().toUpperCase().replace(/-/g, '_');
  const canonical = stateAliases[upper] ?? upper;
  return tcpStates.includes(canonical) ? canonical : undefined;
}

// Unix sockets have their own states; map them onto the TCP names they mean.
function unixStateAsTcp(entry: UnixSocketEntry): string {
  if (entry.state === 'LISTENING') return 'LISTEN';
  if (entry.state === 'CONNECTED') return 'ESTABLISHED';
  return entry.state;
}

/** Which sockets `sockfd netstat` shows. */
export interface NetstatFilter {
  protocols: readonly SocketProtocol[];
  port?: number;
  /** netstat's TCP state name (see normalizeState). */
  state?: string;
}

export function filterSockets(entries: readonly SocketEntry[], filter: NetstatFilter): SocketEntry[] {
  return entries.filter((entry) => {
    if (!filter.protocols.includes(entry.protocol)) return false;
    if (entry.protocol === 'unix') {
      if (filter.port !== undefined) return false;
      return filter.state === undefined || unixStateAsTcp(entry) === filter.state;
    }
    if (filter.port !== undefined && entry.localPort !== filter.port && entry.remotePort !== filter.port) return false;
    return filter.state === undefined || entry.state === filter.state;
  });
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`--port must be a number 0..65535, got '${text}'`);
  return Number(text);
}

interface NetstatOptions {
  filter: NetstatFilter;
  json: boolean;
  programs: boolean;
  sections: { inet: boolean; unix: boolean };
}

function parse(argv: string[]): NetstatOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        tcp: { type: 'boolean', short: 't' },
        udp: { type: 'boolean', short: 'u' },
        unix: { type: 'boolean', short: 'x' },
        port: { type: 'string' },
        programs: { type: 'boolean', short: 'p' },
        listening: { type: 'boolean', short: 'l' },
        numeric: { type: 'boolean', short: 'n' },
        all: { type: 'boolean', short: 'a' },
        state: { type: 'string', short: 's' },
        json: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const any = values.tcp || values.udp || values.unix;
  const protocols: SocketProtocol[] = [];
  if (!any || values.tcp) protocols.push('tcp', 'tcp6');
  if (!any || values.udp) protocols.push('udp', 'udp6');
  if (!any || values.unix) protocols.push('unix');
  const filter: NetstatFilter = { protocols };
  if (values.port !== undefined) filter.port = parsePort(values.port);
  if (values.listening && values.state !== undefined) throw new UsageError('--listening and --state together: choose one');
  if (values.listening) filter.state = 'LISTEN';
  if (values.state !== undefined) {
    const state = normalizeState(values.state);
    if (state === undefined) throw new UsageError(`unknown state '${values.state}' (one of ${tcpStates.join(', ')})`);
    filter.state = state;
  }
  // --port concerns Internet sockets only, so it drops the Unix section as well.
  const sections = {
    inet: !any || Boolean(values.tcp || values.udp),
    unix: (!any || Boolean(values.unix)) && filter.port === undefined,
  };
  return { filter, json: Boolean(values.json), programs: Boolean(values.programs), sections };
}

export const command: Command = {
  name: 'netstat',
  summary: 'the netstat -na view (Proto, Recv-Q, Send-Q, addresses, State) from /proc/net',
  usage,
  run(argv) {
    const { filter, json, programs, sections } = parse(argv);
    const entries = filterSockets(readSockets({ protocols: filter.protocols }), filter);
    const owners = programs ? socketOwners() : undefined;
    if (json) {
      const withOwners = owners ? entries.map((entry) => ({ ...entry, owners: owners.get(entry.inode) ?? [] })) : entries;
      process.stdout.write(JSON.stringify(withOwners, null, 2) + '\n');
    } else {
      process.stdout.write(formatNetstat(entries, sections, owners) + '\n');
    }
    return 0;
  },
};
