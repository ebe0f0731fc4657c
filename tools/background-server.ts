// `sockfd recv-files` as a separate process, for benchmarks, tests and
// programs that upload to themselves: the sender's blocking calls in this
// process never stall the server. Resolves once the server listens, with
// the port it got (port 0 picks a free one) and its log lines as they come.
import { startCli } from './processes.js';

/** Options of startFileServer(): the `sockfd recv-files` options it runs with. */
export interface BackgroundServerOptions {
  /** The directory files are stored in (--dir). */
  dir: string;
  /** Default 0: a free port. */
  port?: number;
  /** Listen address (default every IPv4 address). */
  bind?: string;
  /** Largest file accepted, in bytes (--max-size). */
  maxSize?: number;
  /** Drop a client silent for this long (--idle-timeout-ms). */
  idleTimeoutMs?: number;
  /** Uploads served at once (--max-children). */
  maxChildren?: number;
  headerTimeoutMs?: number;
  /** Bytes per second. */
  minRate?: number;
  rateWindowMs?: number;
  slotWaitMs?: number;
  graceMs?: number;
  /** fsync() each file before publishing it (--fsync). */
  fsync?: boolean;
  /** Give up when the server has not said "listening" after this long (default 10 s). */
  startTimeoutMs?: number;
}

/** A running `sockfd recv-files` child process. */
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

function argumentsOf(options: BackgroundServerOptions): string[] {
  const args = ['recv-files'];
  if (options.bind !== undefined) args.push('--bind', options.bind);
  if (options.maxSize !== undefined) args.push('--max-size', String(options.maxSize));
  if (options.idleTimeoutMs !== undefined) args.push('--idle-timeout-ms', String(options.idleTimeoutMs));
  if (options.maxChildren !== undefined) args.push('--max-children', String(options.maxChildren));
  if (options.headerTimeoutMs !== undefined) args.push('--header-timeout-ms', String(options.headerTimeoutMs));
  if (options.minRate !== undefined) args.push('--min-rate', String(options.minRate));
  if (options.rateWindowMs !== undefined) args.push('--rate-window-ms', String(options.rateWindowMs));
  if (options.slotWaitMs !== undefined) args.push('--slot-wait-ms', String(options.slotWaitMs));
  if (options.graceMs !== undefined) args.push('--grace-ms', String(options.graceMs));
  if (options.fsync) args.push('--fsync');
  args.push(String(options.port ?? 0), options.dir);
  return args;
}

/** Starts `sockfd recv-files` with these options (tools/processes Running); resolves once it listens. */
export async function startFileServer(options: BackgroundServerOptions): Promise<BackgroundServer> {
  const server = startCli(argumentsOf(options));
  const exited = server.finished.then(({ code, signal }) => ({ code, signal })); // after its output was read to the end
  const line = await server.waitForLine(/^recv-files: listening on /, options.startTimeoutMs ?? 10_000);
  return {
    port: Number(/:(\d+),/.exec(line)?.[1]),
    pid: server.pid,
    get log() {
      return server.lines;
    },
    get errors() {
      return server.stderr.split('\n').slice(0, -1);
    },
    waitForLine: (pattern, timeoutMs = 10_000) => server.waitForLine(pattern, timeoutMs),
    exited,
    kill: (signal) => void server.stop(signal),
    stop: async (signal = 'SIGTERM') => {
      await server.stop(signal);
      return exited;
    },
  };
}
