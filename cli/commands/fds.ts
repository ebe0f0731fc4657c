// `sockfd fds [pid]`: every fd of a process with its target, sockets resolved
// to protocol, addresses and state through /proc/<pid>/net.
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { type FdEntry, listFds, processName } from '../../lib/procfs.js';
import { formatFds } from '../../tools/socket-format.js';

const usage = `usage: sockfd fds [pid] [--json]

Lists every open fd of process <pid> (default: this sockfd process itself)
with its target, as \`ls -l /proc/<pid>/fd\` shows it. Sockets are resolved
through /proc/<pid>/net/{tcp,tcp6,udp,udp6,unix} to protocol, local and
foreign address and state. A socket that is not bound or connected yet (a
fresh socket()) is in none of those tables and shows as "-".

options:
  --json   the entries as JSON, one array

Exit status: 0; 1 when the process does not exist or its fds cannot be read
(another user's process); 2 on a usage error.`;

function parse(argv: string[]): { pid: number; json: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: 'boolean' } } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one pid at most, got ${positionals.length} arguments`);
  const text = positionals[0];
  if (text === undefined) return { pid: process.pid, json: Boolean(values.json) };
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`pid must be a positive integer, got '${text}'`);
  }
  return { pid: Number(text), json: Boolean(values.json) };
}

export const command: Command = {
  name: 'fds',
  summary: 'the open fds of a process with their targets, sockets resolved to addresses and state',
  usage,
  run(argv) {
    const { pid, json } = parse(argv);
    let entries: FdEntry[];
    try {
      entries = listFds(pid);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') process.stderr.write(`sockfd fds: no process with pid ${pid}\n`);
      else if (code === 'EACCES' || code === 'EPERM') process.stderr.write(`sockfd fds: /proc/${pid}/fd: Permission denied\n`);
      else throw error;
      return 1;
    }
    if (json) process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
    else process.stdout.write(`pid ${pid} (${processName(pid) ?? '?'}): ${entries.length} fds\n${formatFds(entries)}\n`);
    return 0;
  },
};
