// `sockfd recv-files <port> <dir>`: the upload server. One forked child per
// upload, one log line (or JSON object) per connection, until SIGTERM or SIGINT.
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import * as posix from '../../lib/posix.js';
import { openat, unlinkat } from '../../lib/fs-at.js';
import { formatAddress, type AddressInput } from '../../lib/sockaddr.js';
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_SIZE,
  DEFAULT_MIN_RATE,
  DEFAULT_RATE_WINDOW_MS,
  openDirectory,
  systemErrorText,
  temporaryName,
  type UploadRecord,
} from '../../lib/transfer/receiver.js';
import { DEFAULT_GRACE_MS, DEFAULT_MAX_CHILDREN, DEFAULT_SLOT_WAIT_MS, serveFiles, type DropReason } from '../../lib/transfer/server.js';
import { formatDuration, formatRate, parseSize } from '../../lib/transfer/units.js';

const usage = `usage: sockfd recv-files [options] <port> <dir>

Stores uploads from \`sockfd send-file\` (extended format) and from the
tutorial's demo11 (its struct st_fileinfo) in <dir>, one forked child per
upload, until SIGTERM or SIGINT. Port 0 picks a free port (printed).

A file is written to a temporary file in <dir> and renamed over <dir>/<name>
only when every byte arrived and, in the extended format, its SHA-256
matched; on any failure the temporary file is removed. Names must be a
single plain file name (no control, bidirectional-override or zero-width
characters). All work is relative to <dir> as opened at start. At start,
temporary files that killed servers left in <dir> are removed.

A connection gets a child only once its whole header has arrived and a slot
is free: idle and slow clients wait without one, and are dropped after the
idle timeout or the header deadline; a complete header waits for a slot at
most --slot-wait-ms (then BUSY). Content slower than --min-rate is dropped.

options:
  --max-size S           refuse files larger than S bytes; suffixes K M G T
                         (default 1T)
  --idle-timeout-ms N    drop a client that sends nothing for N ms (default ${DEFAULT_IDLE_TIMEOUT_MS})
  --header-timeout-ms N  the whole header must arrive within N ms (default ${DEFAULT_HEADER_TIMEOUT_MS})
  --min-rate S           drop content that comes slower than S bytes/s on average
                         over each window; suffixes K M (default ${DEFAULT_MIN_RATE / 1024}K; 0: none)
  --rate-window-ms N     the window of --min-rate (default ${DEFAULT_RATE_WINDOW_MS}): a stall shorter
                         than it is fine, a trickle is not
  --max-children N       at most N uploads at once (default ${DEFAULT_MAX_CHILDREN})
  --slot-wait-ms N       a complete header waits at most N ms for a free slot
                         (default ${DEFAULT_SLOT_WAIT_MS})
  --grace-ms N           after SIGTERM/SIGINT, uploads in progress get N ms to
                         finish (default ${DEFAULT_GRACE_MS}; 0: drop them at once)
  --bind ADDR            listen on ADDR only (IPv4 or IPv6; default every IPv4
                         address, as demo12)
  --fsync                fsync() each file before it is published
  --json                 one JSON object per line instead of the log lines

Stopping: at SIGTERM or SIGINT the server stops accepting at once and refuses
connections that had not started (SHUTTING_DOWN). Uploads in progress get
--grace-ms to finish; then, or at a second SIGTERM/SIGINT, they are dropped
(SHUTTING_DOWN, temporary file removed). Every upload's fate is logged.

Log: one line per connection on stdout:
  <time> <peer> <format> name=<name> size=<bytes> time=<s> rate=<B/s> sha256=<hex|-> <outcome> [<code>: <reason>]
With --json: {"event":"upload", ...the same fields} per connection, and
"listening", "stale-removed", "stopping", "dropping", "child-died", "stopped".

Exit status: 0 after SIGTERM/SIGINT; 1 when the server cannot start (the
directory cannot be opened or written, the address is in use); 2 on a usage
error.`;

function integerOption(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`--${name} takes ${min === 0 ? 'a non-negative' : 'a positive'} integer, got '${text}'`);
  return Number(text);
}

function bindAddress(text: string, port: number): AddressInput {
  const family = isIP(text);
  if (family === 0) throw new UsageError(`--bind takes an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got '${text}'`);
  return family === 6 ? { family: 'AF_INET6', address: text, port } : { family: 'AF_INET', address: text, port };
}

/**
 * Opens the directory and proves it can be written, as an upload will: a
 * temporary file created and removed. The perror-style reason otherwise.
 */
function checkDirectory(dir: string): string | null {
  let dirFd: number;
  try {
    dirFd = openDirectory(dir);
  } catch (error) {
    return systemErrorText(error);
  }
  try {
    const probe = temporaryName();
    posix.close(openat(dirFd, probe, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW | posix.O_CLOEXEC, 0o600));
    unlinkat(dirFd, probe);
    return null;
  } catch (error) {
    return `cannot create files here: ${systemErrorText(error)}`;
  } finally {
    posix.close(dirFd);
  }
}

/** A name as JSON quotes it, and the characters that would make the log lie (C1, bidi, zero-width) as \\uXXXX too. */
export function quoteName(name: string): string {
  return JSON.stringify(name).replace(/[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The log line of one connection. */
export function formatRecord(record: UploadRecord, now = new Date()): string {
  const fields = [
    now.toISOString(),
    record.peer || '-',
    record.format ?? '-',
    `name=${record.name === null ? '-' : quoteName(record.name)}`,
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

function dropText(reason: DropReason): string {
  return reason.kind === 'signal' ? `second ${signalName(reason.signal)}` : `the grace period of ${reason.graceMs} ms is over`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export const command: Command = {
  name: 'recv-files',
  summary: 'serve uploads into a directory (fork per upload; tutorial and extended formats)',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          'max-size': { type: 'string' },
          'idle-timeout-ms': { type: 'string' },
          'header-timeout-ms': { type: 'string' },
          'min-rate': { type: 'string' },
          'rate-window-ms': { type: 'string' },
          'max-children': { type: 'string' },
          'slot-wait-ms': { type: 'string' },
          'grace-ms': { type: 'string' },
          bind: { type: 'string' },
          fsync: { type: 'boolean' },
          json: { type: 'boolean' },
        },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message.split('\n')[0]!);
    }
    const { values } = parsed;
    const [portText, dirText, ...extra] = parsed.positionals;
    if (portText === undefined || dirText === undefined || extra.length > 0) throw new UsageError('expected <port> <dir>');
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new UsageError(`port must be 0..65535, got '${portText}'`);
    const port = Number(portText);
    const maxSizeText = values['max-size'];
    const maxSize = maxSizeText === undefined ? DEFAULT_MAX_SIZE : parseSize(maxSizeText);
    if (maxSize === null) throw new UsageError(`--max-size takes a size such as 4096, 10M or 2G, got '${maxSizeText}'`);
    const minRateText = values['min-rate'];
    const minRate = minRateText === undefined ? DEFAULT_MIN_RATE : parseSize(minRateText);
    if (minRate === null) throw new UsageError(`--min-rate takes bytes per second such as 1024, 500 or 1K, got '${minRateText}'`);
    const settings = {
      idleTimeoutMs: integerOption('idle-timeout-ms', values['idle-timeout-ms'], DEFAULT_IDLE_TIMEOUT_MS, 1),
      headerTimeoutMs: integerOption('header-timeout-ms', values['header-timeout-ms'], DEFAULT_HEADER_TIMEOUT_MS, 1),
      rateWindowMs: integerOption('rate-window-ms', values['rate-window-ms'], DEFAULT_RATE_WINDOW_MS, 1),
      maxChildren: integerOption('max-children', values['max-children'], DEFAULT_MAX_CHILDREN, 1),
      slotWaitMs: integerOption('slot-wait-ms', values['slot-wait-ms'], DEFAULT_SLOT_WAIT_MS, 1),
      graceMs: integerOption('grace-ms', values['grace-ms'], DEFAULT_GRACE_MS, 0),
    };
    const bind = values.bind === undefined ? undefined : bindAddress(values.bind, port);
    const json = values.json === true;
    const dir = resolve(dirText);
    const problem = checkDirectory(dir);
    if (problem !== null) {
      process.stderr.write(`sockfd recv-files: ${dirText}: ${problem}\n`);
      return 1;
    }
    const emit = (event: string, text: string, fields: Record<string, unknown> = {}): void =>
      line(json ? JSON.stringify({ event, time: new Date().toISOString(), ...fields }) : text);
    try {
      const summary = await serveFiles({
        port,
        dir,
        maxSize,
        minRate,
        ...settings,
        fsync: values.fsync === true,
        bind,
        events: {
          listening: (address) =>
            emit('listening', `recv-files: listening on ${formatAddress(address)}, storing into ${dir} (pid ${process.pid})`, {
              address: formatAddress(address),
              port: 'port' in address ? address.port : null,
              dir,
              pid: process.pid,
            }),
          staleRemoved: (names) =>
            emit('stale-removed', `recv-files: removed ${plural(names.length, 'stale temporary file')} of servers that no longer run: ${names.join(', ')}`, { names }),
          finished: (record) => (json ? emit('upload', '', { ...record }) : line(formatRecord(record))),
          childDied: (pid, status, removed) =>
            emit(
              'child-died',
              `recv-files: child ${pid} ${status.signal !== null ? `ended by ${signalName(status.signal)}` : `failed (exit status ${status.exitCode})`}` +
                (removed.length > 0 ? `; removed its temporary file${removed.length > 1 ? 's' : ''} ${removed.join(', ')}` : ''),
              { pid, signal: status.signal === null ? null : signalName(status.signal), exitCode: status.exitCode, removed },
            ),
          stopping: (sig, inProgress, graceMs) =>
            emit(
              'stopping',
              `recv-files: ${signalName(sig)}: stopping: no new connections; ` +
                (inProgress === 0
                  ? 'no upload in progress'
                  : `${plural(inProgress, 'upload')} in progress may finish within ${graceMs} ms (a second SIGTERM or SIGINT drops ${inProgress === 1 ? 'it' : 'them'} at once)`),
              { signal: signalName(sig), inProgress, graceMs },
            ),
          dropping: (reason, inProgress) =>
            emit('dropping', `recv-files: ${dropText(reason)}: dropping ${plural(inProgress, 'upload')} still in progress`, {
              reason: reason.kind,
              inProgress,
            }),
        },
      });
      const during = summary.finishedDuringStop + summary.droppedDuringStop;
      emit(
        'stopped',
        `recv-files: stopped after ${plural(summary.connections, 'connection')}` +
          (during > 0 ? `; of the ${plural(during, 'upload')} in progress at the stop, ${summary.finishedDuringStop} stored, ${summary.droppedDuringStop} not` : ''),
        { connections: summary.connections, finishedDuringStop: summary.finishedDuringStop, droppedDuringStop: summary.droppedDuringStop },
      );
      return 0;
    } catch (error) {
      process.stderr.write(`sockfd recv-files: ${(error as Error).message}\n`);
      return 1;
    }
  },
};
