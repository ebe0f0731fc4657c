// `sockfd send-file <host> <port> <file>...`: uploads files to recv-files (or
// to the tutorial's demo12 with --format tutorial), one connection per file.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { ProgressBar } from '../../tools/progress.js';
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
                   its demo12 too (files under 2 GiB, no checksum, no reasons)
  --timeout-ms N   give up when the server accepts or answers nothing for N ms
                   (default ${DEFAULT_SEND_TIMEOUT_MS})
  --no-progress    never draw the progress bar

Exit status: 0 when every file was stored; 1 when any was refused or failed
(the server's reason is printed); 2 on a usage error.`;

interface Parsed {
  host: string;
  port: number;
  files: string[];
  format: TransferFormat;
  timeoutMs: number;
  progress: boolean;
}

function parse(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { format: { type: 'string' }, 'timeout-ms': { type: 'string' }, 'no-progress': { type: 'boolean' } },
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
  return { host, port, files, format, timeoutMs: Number(timeoutText), progress: parsed.values['no-progress'] !== true };
}

function summary(file: string, result: SendResult): string {
  const checksum = result.sha256 === null ? 'no checksum (tutorial format)' : `sha256 ${result.sha256}`;
  return `sent ${file}: ${result.size} bytes (${formatBytes(result.size)}) in ${formatDuration(result.durationMs)}, ${formatRate(result.size, result.durationMs)}, ${checksum}, stored`;
}

function failure(error: unknown): string {
  if (error instanceof UploadRefusedError) return `${outcomeOfCode(error.code) === 'failed' ? 'failed on the server' : 'refused by the server'}: ${error.code}: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
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
    for (const file of options.files) {
      const bar = terminal ? new ProgressBar(basename(file), { columns: process.stderr.columns }) : null;
      try {
        const result = uploadFile({
          host: options.host,
          port: options.port,
          path: file,
          format: options.format,
          timeoutMs: options.timeoutMs,
          onProgress: bar ? (done, total) => bar.update(done, total) : undefined,
        });
        bar?.clear();
        bytes += result.size;
        process.stdout.write(summary(file, result) + '\n');
      } catch (error) {
        bar?.clear();
        failed++;
        process.stderr.write(`sockfd send-file: ${file}: ${failure(error)}\n`);
      }
    }
    if (options.files.length > 1) {
      const elapsed = performance.now() - started;
      process.stdout.write(
        `${options.files.length - failed} of ${options.files.length} files stored, ${formatBytes(bytes)} in ${formatDuration(elapsed)}, ${formatRate(bytes, elapsed)}\n`,
      );
    }
    return failed === 0 ? 0 : 1;
  },
};
