// Runs the measuring programs: a server that announces "port N" on stdout and
// a client that prints one JSON result, each in its own process, optionally
// both on one CPU (taskset). Every wait is bounded; on failure the processes
// this module started are killed by pid and their stderr is shown.
import { Running } from '../../tools/processes.js';
import type { RunOutput } from './model.js';
import { trackProcess } from './noise.js';

/** A program to run: the executable, its arguments, and a label for messages. */
export interface Command {
  file: string;
  args: readonly string[];
  label: string;
}

/** Where spawned processes run: null lets the scheduler decide. */
export type Pinning = { cpu: number } | null;

/** The command line that really runs: `taskset -c CPU file args` when pinned. */
export function commandLine(command: Command, pin: Pinning): [string, string[]] {
  if (pin === null) return [command.file, [...command.args]];
  return ['taskset', ['-c', String(pin.cpu), command.file, ...command.args]];
}

/** A measuring program started on tools/processes' Running, with the harness's messages. */
class Measured {
  readonly process: Running;

  constructor(
    readonly command: Command,
    pin: Pinning,
  ) {
    const [file, args] = commandLine(command, pin);
    this.process = new Running(file, args);
    trackProcess(this.process.finished); // the run's noise counts its switches once it has ended (noise.ts)
    // A program that cannot start rejects `finished`; it is reported by whoever awaits it.
    this.process.finished.catch(() => undefined);
  }

  /** Kills this process (only this one, by its pid) unless it already ended. */
  kill(): void {
    void this.process.stop('SIGKILL').catch(() => undefined);
  }

  describe(): string {
    const err = this.process.stderr.trim();
    return `${this.command.label} (${[this.command.file, ...this.command.args].join(' ')})${err ? `:\n${indent(err)}` : ''}`;
  }

  #started<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((error: unknown) => {
      const text = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `cannot start ${this.command.file}: ${(error as Error).message}` : undefined;
      throw text === undefined ? error : new Error(`${this.command.label}: ${text}`);
    });
  }

  /** Resolves when the process ended with status 0; rejects otherwise or after `timeoutMs` (then kills it). */
  async success(timeoutMs: number): Promise<void> {
    const outcome = await withTimeout(this.#started(this.process.finished), timeoutMs, () => {
      this.kill();
      return new Error(`${this.command.label} did not finish within ${timeoutMs / 1000} s: ${this.describe()}`);
    });
    if (outcome.code !== 0)
      throw new Error(`${this.command.label} failed (${outcome.signal ?? `exit status ${outcome.code}`}): ${this.describe()}`);
  }

  /** Resolves with the port once stdout has a "port N" line. */
  async port(timeoutMs: number): Promise<number> {
    const spawnError = this.#started(this.process.finished).then(() => new Promise<never>(() => {}));
    try {
      const match = await Promise.race([this.process.waitFor(/^port (\d+)$/m, timeoutMs), spawnError]);
      return Number(match[1]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('no /^port')) throw error;
      this.kill();
      if (this.process.exited) throw new Error(`${this.command.label} ended before it announced a port: ${this.describe()}`);
      throw new Error(`${this.command.label} did not announce its port within ${timeoutMs / 1000} s: ${this.describe()}`);
    }
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(-20) // the end of a long stderr is where the cause is
    .map((line) => `    ${line}`)
    .join('\n');
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The last line of `stdout` that is a JSON object: the program's result. */
export function parseRunOutput(stdout: string, label: string): RunOutput {
  const lines = stdout.split('\n').filter((line) => line.trimStart().startsWith('{'));
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`${label} printed no JSON result; stdout was: ${stdout.slice(0, 200) || '(empty)'}`);
  const parsed = JSON.parse(last) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${label} printed a result that is not an object`);
  return parsed as RunOutput;
}

/** Bounds for one run (defaults: 15 s to start, 120 s to finish, 15 s for the server to end after the client). */
export interface RunLimits {
  startMs?: number;
  runMs?: number;
  serverEndMs?: number;
}

/**
 * One measured run of a client/server pair: starts `server`, waits for its
 * port, runs `client(port)` to completion, then waits for the server to end.
 * Resolves with the client's JSON result.
 */
export async function runPair(
  server: Command,
  client: (port: number) => Command,
  pin: Pinning,
  limits: RunLimits = {},
): Promise<RunOutput> {
  const serverProcess = new Measured(server, pin);
  let clientProcess: Measured | undefined;
  try {
    const port = await serverProcess.port(limits.startMs ?? 15_000);
    clientProcess = new Measured(client(port), pin);
    await clientProcess.success(limits.runMs ?? 120_000);
    const output = parseRunOutput(clientProcess.process.stdout, clientProcess.command.label);
    await serverProcess.success(limits.serverEndMs ?? 15_000);
    return output;
  } finally {
    clientProcess?.kill();
    serverProcess.kill();
  }
}

/** One measured run of a single program (no peer): resolves with its JSON result. */
export async function runAlone(command: Command, pin: Pinning, limits: RunLimits = {}): Promise<RunOutput> {
  const running = new Measured(command, pin);
  try {
    await running.success(limits.runMs ?? 120_000);
    return parseRunOutput(running.process.stdout, command.label);
  } finally {
    running.kill();
  }
}
