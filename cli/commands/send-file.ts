// `sockfd send-file <host> <port> <file>...`: uploads files to recv-files (or
// to the tutorial's demo12 with --format tutorial), one connection per file.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { SIGINT, SIGTERM } from '../../lib/constants.js';
import { isSyscallError } from '../../lib/errors.js';
import { signal } from '../../lib/process.js';
import { ProgressBar } from '../../tools/progress.js';
import { systemErrorText } from '../../lib/transfer/receiver.js';
import { DEFAULT_SEND_TIMEOUT_MS, UploadRefusedError, uploadFile, type SendResult } from '../../lib/transfer/sender.js';
import { formatBytes, formatDuration, formatRate } from '../../lib/transfer/units.js';
import { outcomeOfCode, type TransferFormat } from '../../lib/transfer/protocol.js';

const usage = `usage: sockfd send-file [options] <host> <port> <file>...

Uploads each file to a \`sockfd recv-files\` server, one connection per file,
under its base name. The content leaves with sendfile(2). On a terminal a
progress bar shows bytes, rate and ETA; otherwise one line per file.

options:
  --format F       extended (default): 64-bit sizes, SHA-256 checked by the
                   server before it publishes the file, refusals with a reason;
                   tutorial: the tutorial's struct st_fileinfo, understood by
                   its demo12 too (files under 2 GiB, no checksum, no reasons).
                   Without --format, a server that answers the extended header
                   with the tutorial's 'ok' (demo12) gets the file again in
                   the tutorial's format, on a new connection (said on stderr).
  --timeout-ms N   give up when the server accepts or answers nothing for N ms
                   (default ${DEFAULT_SEND_TIMEOUT_MS})
  --no-progress    never draw the progress bar
  --json           one JSON object per file on stdout (file, name, size, format,
                   sha256, durationMs, outcome, code, reason), nothing else

<host> is a name or an address; an IPv6 address may be in brackets ([::1]).
Ctrl+C (SIGINT) or SIGTERM stops the upload in progress (the server drops it)
and the rest, exit 130/143.

Exit status: 0 when every file was stored; 1 when any was refused or failed
(the server's reason is printed); 2 on a usage error; 130/143 when stopped by
SIGINT/SIGTERM.`;

interface Parsed {
  host: string;
  port: number;
  files: string[];
  format: TransferFormat;
  timeoutMs: number;
  progress: boolean;
  json: boolean;
  /** --format was given: no fallback to the tutorial's format. */
  formatChosen: boolean;
}

/** A stop signal, thrown out of the blocking call it interrupted. */
class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(
    readonly signalName: 'SIGINT' | 'SIGTERM',
    readonly exitCode: number,
  ) {
    super(`interrupted by ${signalName}`);
  }
}

function parse(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { format: { type: 'string' }, 'timeout-ms': { type: 'string' }, 'no-progress': { type: 'boolean' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  const [host, portText, ...files] = parsed.positionals;
  if (host === undefined || portText === undefined || files.length === 0) throw new UsageError('expected <host> <port> <file>...');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`port must be 1..65535, got '${portText}'`);
  const format = parsed.values.format ?? 'extended';
  if (format !== 'extended' && format !== 'tutorial') throw new UsageError(`--format is extended or tutorial, got '${format}'`);
  const timeoutText = parsed.values['timeout-ms'] ?? String(DEFAULT_SEND_TIMEOUT_MS);
  if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1) throw new UsageError(`--timeout-ms takes a positive integer, got '${timeoutText}'`);
  return {
    host,
    port,
    files,
    format,
    timeoutMs: Number(timeoutText),
    progress: parsed.values['no-progress'] !== true && parsed.values.json !== true,
    json: parsed.values.json === true,
    formatChosen: parsed.values.format !== undefined,
  };
}

function summary(file: string, result: SendResult): string {
  const checksum = result.sha256 === null ? 'no checksum (tutorial format)' : `sha256 ${result.sha256}`;
  return `sent ${file}: ${result.size} bytes (${formatBytes(result.size)}) in ${formatDuration(result.durationMs)}, ${formatRate(result.size, result.durationMs)}, ${checksum}, stored`;
}

function failure(error: unknown): string {
  if (error instanceof UploadRefusedError) return `${outcomeOfCode(error.code) === 'failed' ? 'failed on the server' : 'refused by the server'}: ${error.code}: ${error.reason}`;
  // The file could not be opened: say why, as `cat` would, without the call's name and the path twice.
  if (isSyscallError(error) && error.syscall.startsWith('open')) return systemErrorText(error);
  return error instanceof Error ? error.message : String(error);
}

/** The --json object of one file. */
function jsonOf(file: string, result: SendResult | null, error: unknown): string {
  if (result !== null) return JSON.stringify({ file, name: result.name, size: result.size, format: result.format, sha256: result.sha256, durationMs: result.durationMs, outcome: 'stored', code: 'OK', reason: 'stored' });
  const refused = error instanceof UploadRefusedError;
  return JSON.stringify({
    file,
    name: basename(file),
    outcome: refused ? outcomeOfCode(error.code) : 'failed',
    code: refused ? error.code : error instanceof Interrupted ? error.signalName : isSyscallError(error) ? error.code : 'ERROR',
    reason: refused ? error.reason : failure(error),
  });
}

export const command: Command = {
  name: 'send-file',
  summary: 'upload files to recv-files (or to the tutorial\'s demo12)',
  usage,
  run(argv) {
    const options = parse(argv);
    const terminal = options.progress && process.stderr.isTTY === true;
    let failed = 0;
    let bytes = 0;
    const started = performance.now();
    // The upload runs blocking calls: a signal interrupts the one in progress (EINTR) and the handler's throw ends the upload.
    const stopOn = (name: 'SIGINT' | 'SIGTERM', exitCode: number) => () => {
      throw new Interrupted(name, exitCode);
    };
    signal(SIGINT, stopOn('SIGINT', 130));
    signal(SIGTERM, stopOn('SIGTERM', 143));
    try {
      for (const file of options.files) {
        const bar = terminal ? new ProgressBar(basename(file), { columns: process.stderr.columns }) : null;
        try {
          const result = uploadFile({
            host: options.host,
            port: options.port,
            path: file,
            format: options.format,
            timeoutMs: options.timeoutMs,
            fallbackToTutorial: !options.formatChosen,
            onFallback: () => {
              bar?.clear();
              process.stderr.write(`sockfd send-file: ${file}: the server speaks only the tutorial's format (demo12): sending it again in that format, without a checksum\n`);
            },
            onProgress: bar ? (done, total) => bar.update(done, total) : undefined,
          });
          bar?.clear();
          bytes += result.size;
          process.stdout.write((options.json ? jsonOf(file, result, null) : summary(file, result)) + '\n');
        } catch (error) {
          if (error instanceof Interrupted) {
            bar?.end(); // the last frame stays, and the prompt starts on a line of its own
            if (options.json) process.stdout.write(jsonOf(file, null, error) + '\n');
            process.stderr.write(`sockfd send-file: ${file}: ${error.message}; the upload was abandoned\n`);
            return error.exitCode;
          }
          bar?.clear();
          failed++;
          if (options.json) process.stdout.write(jsonOf(file, null, error) + '\n');
          else process.stderr.write(`sockfd send-file: ${file}: ${failure(error)}\n`);
        }
      }
    } finally {
      signal(SIGINT, 'default');
      signal(SIGTERM, 'default');
    }
    if (options.files.length > 1 && !options.json) {
      const elapsed = performance.now() - started;
      process.stdout.write(
        `${options.files.length - failed} of ${options.files.length} files stored, ${formatBytes(bytes)} in ${formatDuration(elapsed)}, ${formatRate(bytes, elapsed)}\n`,
      );
    }
    return failed === 0 ? 0 : 1;
  },
};
