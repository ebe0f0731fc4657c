// What the twins share to behave like the tutorial's C programs: output
// written straight to fd 1/2 (byte for byte, nothing queued), perror(),
// `cout << buffer` up to the first NUL, atoi(), the usage lines with the
// command adapted, and option parsing for the few sockfd-only options.
// Not a twin itself (no `demo` export), so `sockfd demo` does not list it.
import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { isSyscallError } from '../../lib/errors.js';
import { getpid, kill, signal } from '../../lib/process.js';
import { SIGPIPE } from '../../lib/constants.js';
import { UsageError } from '../../tools/usage-error.js';

/** `return -1;` from main(): the shell sees 255. */
export const C_FAILURE = 255;

/** glibc's strerror(0): perror() after a call that left errno at 0 (recv() returning 0). */
export const STRERROR_SUCCESS = 'Success';
/** glibc's strerror(EINVAL): the errno demo10's signal(SIGKILL, SIG_IGN) leaves behind. */
export const STRERROR_EINVAL = 'Invalid argument';

function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A closed stdout/stderr (close-std): C's iostreams fail silently too.
    if (code === 'EBADF') return;
    // The reader went away (`| head`): a C program dies of SIGPIPE there, silently. Node
    // ignores SIGPIPE, so restore the default action and take the same death.
    if (code === 'EPIPE') {
      signal(SIGPIPE, 'default');
      kill(getpid(), SIGPIPE);
    }
    throw error;
  }
}

/** cout << ...: bytes to fd 1 as they are (no re-encoding of what the peer sent). */
export function print(...parts: (string | Uint8Array)[]): void {
  writeAll(1, parts.length === 1 ? parts[0]! : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
}

/** cerr << ... */
export function printError(text: string): void {
  writeAll(2, text);
}

/** The strerror() part of an error thrown by a failing call ("Connection refused"). */
export function strerror(error: unknown): string {
  if (isSyscallError(error)) {
    const prefix = `${error.syscall}: `;
    return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** perror(label): "label: <strerror of the failure>" on stderr. */
export function perror(label: string, error: unknown): void {
  printError(`${label}: ${strerror(error)}\n`);
}

/** perror(label) after a call that failed without setting errno: the text C would print for the errno left over. */
export function perrorText(label: string, text: string): void {
  printError(`${label}: ${text}\n`);
}

/** `cout << buffer` of a char array: the bytes up to the first NUL. */
export function cString(buffer: Uint8Array): Uint8Array {
  const end = buffer.indexOf(0);
  return end === -1 ? buffer : buffer.subarray(0, end);
}

/** atoi(3): leading blanks, a sign, digits; 0 when there are none. */
export function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!match) return 0;
  const value = Number.parseInt(match[1]!, 10);
  return Math.trunc(value) | 0; // int overflow wraps as on this ABI in practice
}

/**
 * htons(atoi(argv[n])): the port C ends up with, truncated to 16 bits. A
 * text that is not a plain number is read as the C reads it, with a one-line
 * note on stderr: `abc` silently becomes port 0 in C (a random free port).
 */
export function portArgument(text: string): number {
  const port = atoi(text) & 0xffff;
  if (!/^[+-]?\d+$/.test(text))
    printError(`sockfd: note: '${text}' is not a number; atoi() reads it as ${atoi(text)}, as the C program does${port === 0 ? ' (port 0: the kernel picks a free port)' : ''}\n`);
  return port;
}

/** sleep(seconds) of the C program, shortened by --sleep-ms. */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? delay(ms) : Promise.resolve();
}

export interface TwinOption {
  /** What the value means, for --help ("ms between messages"). */
  description: string;
  /** number (default): a non-negative integer; flag: no value; text: any string. */
  kind?: 'number' | 'flag' | 'text';
  /** What --help shows as the value (default N for numbers, X for text). */
  valueName?: string;
  /** The smallest value a number option takes (default 0). */
  min?: number;
  /** Default of a number option. */
  defaultValue?: number;
  /** A C sleep: its default follows SOCKFD_SLEEP_SCALE, as the C reference programs' sleeps do. */
  sleep?: boolean;
}

/** SOCKFD_SLEEP_SCALE (see c/sockfd_sleep.h): 0.01 turns sleep(1) into 10 ms. 1 when unset or invalid. */
export function sleepScale(): number {
  const text = process.env.SOCKFD_SLEEP_SCALE;
  const scale = text === undefined || text.trim() === '' ? NaN : Number(text);
  return Number.isFinite(scale) && scale >= 0 && scale <= 1e6 ? scale : 1;
}

export interface ParsedArgs {
  positionals: string[];
  numbers: Record<string, number>;
  flags: Record<string, boolean>;
  strings: Record<string, string | undefined>;
}

/** The clients' --sleep-ms: the C programs sleep(1) after each reply. */
export const sleepOption: Record<string, TwinOption> = {
  'sleep-ms': { description: 'pause after each reply (the C sleep(1); SOCKFD_SLEEP_SCALE scales it)', defaultValue: 1000, sleep: true },
};

/**
 * Splits argv into the sockfd-only options (always long: --name, --name=value,
 * --name value) and the C program's own arguments, which may start with '-'
 * (`demo server -1`: atoi gives -1, as in C). `--` ends the options.
 */
function splitTwinArgs(argv: string[], options: Record<string, TwinOption>): { optionArgs: string[]; positionals: string[] } {
  const optionArgs: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    optionArgs.push(arg);
    const option = options[arg.slice(2)];
    if (option !== undefined && option.kind !== 'flag' && !arg.includes('=') && i + 1 < argv.length) optionArgs.push(argv[++i]!);
  }
  return { optionArgs, positionals };
}

/** Parses the sockfd-only options (--sleep-ms 10, --reuseaddr); the rest are the C program's argv. */
export function parseTwinArgs(argv: string[], options: Record<string, TwinOption>): ParsedArgs {
  const config: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, option] of Object.entries(options)) config[name] = { type: option.kind === 'flag' ? 'boolean' : 'string' };
  const { optionArgs, positionals } = splitTwinArgs(argv, options);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: optionArgs, options: config, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? String(error));
  }
  const result: ParsedArgs = { positionals, numbers: {}, flags: {}, strings: {} };
  for (const [name, option] of Object.entries(options)) {
    const value = parsed.values[name];
    const min = option.min ?? 0;
    if (option.kind === 'flag') {
      result.flags[name] = value === true;
    } else if (option.kind === 'text') {
      result.strings[name] = typeof value === 'string' ? value : undefined;
    } else if (value === undefined) {
      result.numbers[name] = Math.round((option.defaultValue ?? 0) * (option.sleep ? sleepScale() : 1));
    } else if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      const wanted = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
      throw new UsageError(`--${name} takes ${wanted}, got '${String(value)}'`);
    } else {
      result.numbers[name] = Number(value);
    }
  }
  return result;
}

/** The --help lines of a twin's sockfd-only options. */
export function describeOptions(options: Record<string, TwinOption>): string {
  const rows = Object.entries(options).map(([name, option]) => {
    const left = option.kind === 'flag' ? `--${name}` : `--${name} ${option.valueName ?? (option.kind === 'text' ? 'X' : 'N')}`;
    const fallback = option.defaultValue !== undefined ? ` (default ${option.defaultValue})` : '';
    return `  ${left.padEnd(16)} ${option.description}${fallback}`;
  });
  return rows.length ? `options (sockfd only):\n${rows.join('\n')}` : '';
}

/** The command that replaces the tutorial's `./demoN` in usage lines. */
export function commandOf(name: string): string {
  return `sockfd demo ${name}`;
}

/** demo1's usage: "Using:./demo1 服务端的IP 服务端的端口\nExample:./demo1 192.168.101.139 5005\n\n". */
export function clientUsage(name: string, exampleIp: string): string {
  const command = commandOf(name);
  return `Using:${command} 服务端的IP 服务端的端口\nExample:${command} ${exampleIp} 5005\n\n`;
}

/** demo2's usage: the command line, the example, and the firewall note. */
export function serverUsage(name: string, argumentsText = '通讯端口', example = '5005'): string {
  const command = commandOf(name);
  return (
    `Using:${command} ${argumentsText}\nExample:${command} ${example}\n\n` +
    '注意：运行服务端程序的Linux系统的防火墙必须要开通5005端口。\n' +
    '      如果是云服务器，还要开通云平台的访问策略。\n\n'
  );
}

/** The full --help of a twin: what it is, the C program's usage, the sockfd options. */
export function twinHelp(summary: string, cUsage: string, options: Record<string, TwinOption>, notes = ''): string {
  return [summary, '', cUsage.trimEnd(), describeOptions(options), notes].filter((part) => part !== '').join('\n\n');
}
