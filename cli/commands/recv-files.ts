// `sockfd recv-files <port> <dir>`: the upload server. One forked child per
// connection, one log line per file, until SIGTERM or SIGINT.
import { statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { formatAddress, type AddressInput } from '../../lib/sockaddr.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_SIZE, type UploadRecord } from '../../lib/transfer/receiver.js';
import { DEFAULT_MAX_CHILDREN, serveFiles } from '../../lib/transfer/server.js';
import { formatDuration, formatRate, parseSize } from '../../lib/transfer/units.js';

const usage = `usage: sockfd recv-files [options] <port> <dir>

Stores uploads from \`sockfd send-file\` (extended format) and from the
tutorial's demo11 (its struct st_fileinfo) in <dir>, one forked child per
connection, until SIGTERM or SIGINT. Port 0 picks a free port (printed).

A file is written to a temporary file in <dir> and renamed over <dir>/<name>
only when every byte arrived and, in the extended format, its SHA-256
matched; on any failure the temporary file is removed. Names must be a
single plain file name.

options:
  --max-size S         refuse files larger than S bytes; suffixes K M G T
                       (default 1T)
  --idle-timeout-ms N  drop a client that sends nothing for N ms (default ${DEFAULT_IDLE_TIMEOUT_MS})
  --max-children N     at most N uploads at once; more connections wait
                       (default ${DEFAULT_MAX_CHILDREN})
  --bind ADDR          listen on ADDR only (IPv4 or IPv6; default every IPv4
                       address, as demo12)
  --fsync              fsync() each file before it is published

Log: one line per connection on stdout:
  <time> <peer> <format> name=<name> size=<bytes> time=<s> rate=<MB/s> sha256=<hex|-> <outcome> [<code>: <reason>]

Exit status: 0 after SIGTERM/SIGINT; 1 when the server cannot start; 2 on a
usage error.`;

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name} takes a positive integer, got '${text}'`);
  return Number(text);
}

function bindAddress(text: string, port: number): AddressInput {
  return text.includes(':') ? { family: 'AF_INET6', address: text, port } : { family: 'AF_INET', address: text, port };
}

/** The log line of one connection. */
export function formatRecord(record: UploadRecord, now = new Date()): string {
  const fields = [
    now.toISOString(),
    record.peer || '-',
    record.format ?? '-',
    `name=${record.name === null ? '-' : JSON.stringify(record.name)}`,
    `size=${record.size ?? '-'}`,
    `time=${formatDuration(record.durationMs).replace(' ', '')}`,
    `rate=${formatRate(record.received, record.durationMs).replace(' ', '')}`,
    `sha256=${record.sha256 ?? '-'}`,
    record.outcome,
  ];
  if (record.outcome !== 'stored') fields.push(`${record.code}: ${record.reason}`);
  else if (record.reason !== 'stored') fields.push(record.reason);
  return fields.join(' ');
}

/** "SIGTERM" for 15, from the constants Node compiled in. */
function signalName(signal: number | null): string {
  const entry = Object.entries(osConstants.signals).find(([, number]) => number === signal);
  return entry?.[0] ?? `signal ${signal ?? '?'}`;
}

function line(text: string): void {
  process.stdout.write(text + '\n');
}

export const command: Command = {
  name: 'recv-files',
  summary: 'serve uploads into a directory (fork per connection; tutorial and extended formats)',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          'max-size': { type: 'string' },
          'idle-timeout-ms': { type: 'string' },
          'max-children': { type: 'string' },
          bind: { type: 'string' },
          fsync: { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message.split('\n')[0]!);
    }
    const [portText, dirText, ...extra] = parsed.positionals;
    if (portText === undefined || dirText === undefined || extra.length > 0) throw new UsageError('expected <port> <dir>');
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new UsageError(`port must be 0..65535, got '${portText}'`);
    const port = Number(portText);
    const maxSizeText = parsed.values['max-size'];
    const maxSize = maxSizeText === undefined ? DEFAULT_MAX_SIZE : parseSize(maxSizeText);
    if (maxSize === null) throw new UsageError(`--max-size takes a size such as 4096, 10M or 2G, got '${maxSizeText}'`);
    const dir = resolve(dirText);
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    } catch (error) {
      process.stderr.write(`sockfd recv-files: ${dirText}: ${(error as Error).message}\n`);
      return 1;
    }
    try {
      const summary = await serveFiles({
        port,
        dir,
        maxSize,
        idleTimeoutMs: positiveInteger('idle-timeout-ms', parsed.values['idle-timeout-ms'], DEFAULT_IDLE_TIMEOUT_MS),
        maxChildren: positiveInteger('max-children', parsed.values['max-children'], DEFAULT_MAX_CHILDREN),
        fsync: parsed.values.fsync === true,
        bind: parsed.values.bind === undefined ? undefined : bindAddress(parsed.values.bind, port),
        events: {
          listening: (address) => line(`recv-files: listening on ${formatAddress(address)}, storing into ${dir} (pid ${process.pid})`),
          finished: (record) => line(formatRecord(record)),
          childDied: (pid, status, removed) =>
            line(
              `recv-files: child ${pid} ${status.signal !== null ? `ended by ${signalName(status.signal)}` : `failed (exit status ${status.exitCode})`}` +
                (removed.length > 0 ? `; removed its temporary file${removed.length > 1 ? 's' : ''} ${removed.join(', ')}` : ''),
            ),
          stopping: (sig) => line(`recv-files: ${signalName(sig)}: stopping (no new connections; uploads in progress are dropped)`),
        },
      });
      line(`recv-files: stopped after ${summary.connections} connection${summary.connections === 1 ? '' : 's'}`);
      return 0;
    } catch (error) {
      process.stderr.write(`sockfd recv-files: ${(error as Error).message}\n`);
      return 1;
    }
  },
};
