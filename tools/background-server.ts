// `sockfd recv-files` as a separate process, for benchmarks, tests and
// programs that upload to themselves: the sender's blocking calls in this
// process never stall the server. Resolves once the server listens, with
// the port it got (port 0 picks a free one) and its log lines as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../lib/native.js';

export interface BackgroundServerOptions {
  dir: string;
  /** Default 0: a free port. */
  port?: number;
  /** Listen address (default every IPv4 address). */
  bind?: string;
  maxSize?: number;
  idleTimeoutMs?: number;
  maxChildren?: number;
  headerTimeoutMs?: number;
  /** Bytes per second. */
  minRate?: number;
  slotWaitMs?: number;
  graceMs?: number;
  fsync?: boolean;
  /** Give up when the server has not said "listening" after this long (default 10 s). */
  startTimeoutMs?: number;
}

export interface BackgroundServer {
  port: number;
  pid: number;
  /** Every line the server printed on stdout so far (one per upload, plus start and stop lines). */
  readonly log: string[];
  /** What it printed on stderr so far. */
  readonly errors: string[];
  /** Resolves with the first log line (printed so far or to come) that matches; rejects after `timeoutMs` or when the server exits. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (or `signal`), then resolves when the server exited (after its uploads ended) and its output was read. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal without waiting for the exit. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the server exited and its output was read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The path of the sockfd command (bin/sockfd.js, which runs dist/). */
export const sockfdCommand: string = join(packageRoot, 'bin', 'sockfd.js');

function argumentsOf(options: BackgroundServerOptions): string[] {
  const args = ['recv-files'];
  if (options.bind !== undefined) args.push('--bind', options.bind);
  if (options.maxSize !== undefined) args.push('--max-size', String(options.maxSize));
  if (options.idleTimeoutMs !== undefined) args.push('--idle-timeout-ms', String(options.idleTimeoutMs));
  if (options.maxChildren !== undefined) args.push('--max-children', String(options.maxChildren));
  if (options.headerTimeoutMs !== undefined) args.push('--header-timeout-ms', String(options.headerTimeoutMs));
  if (options.minRate !== undefined) args.push('--min-rate', String(options.minRate));
  if (options.slotWaitMs !== undefined) args.push('--slot-wait-ms', String(options.slotWaitMs));
  if (options.graceMs !== undefined) args.push('--grace-ms', String(options.graceMs));
  if (options.fsync) args.push('--fsync');
  args.push(String(options.port ?? 0), options.dir);
  return args;
}

/** Starts `sockfd recv-files` with these options; resolves once it listens. */
export function startFileServer(options: BackgroundServerOptions): Promise<BackgroundServer> {
  const child: ChildProcess = spawn(process.execPath, [sockfdCommand, ...argumentsOf(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const errors: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })), // after its output was read to the end
  );
  createInterface({ input: child.stderr! }).on('line', (line) => errors.push(line));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = log.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.findIndex((w) => w.resolve === done), 1);
        reject(new Error(`recv-files printed no line matching ${pattern} within ${timeoutMs} ms; stderr: ${errors.join('\n')}`));
      }, timeoutMs);
      const done = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      waiters.push({ pattern, resolve: done });
      void exited.then(() => {
        if (!waiters.some((w) => w.resolve === done)) return;
        waiters.splice(waiters.findIndex((w) => w.resolve === done), 1);
        clearTimeout(timer);
        reject(new Error(`recv-files exited before printing a line matching ${pattern}; stderr: ${errors.join('\n')}`));
      });
    });
  };

  return waitForLine(/^recv-files: listening on /, options.startTimeoutMs ?? 10_000).then((line) => {
    const port = Number(/:(\d+),/.exec(line)?.[1]);
    return {
      port,
      pid: child.pid!,
      log,
      errors,
      waitForLine,
      exited,
      kill: (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
      stop: (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  });
}
