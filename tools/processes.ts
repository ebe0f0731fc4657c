// Twins and tools run as separate processes, as a user runs them: their output
// collected as it comes, a wait for a line, the port they listen on read back
// from /proc, and a stop by pid. Used by `sockfd tour` and by the tests.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { listFds } from '../lib/procfs.js';
import { packageRoot } from '../lib/native.js';
import { until } from './until.js';

/** bin/sockfd.js of this package (found from the sources and from dist/ alike). */
export const cliPath = join(packageRoot, 'bin', 'sockfd.js');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type StartOptions = SpawnOptions & { input?: string };


/** A process started here: its output so far, waits on it, and a stop by pid. */
export class Running {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly finished: Promise<Finished>;
  #closed = false;

  constructor(command: string, args: readonly string[], options: StartOptions = {}) {
    const { input, ...spawnOptions } = options;
    this.child = spawn(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.child.stdin!.on('error', () => {}); // a child that closed its stdin (close-std 0) is no error here
    this.child.stdin!.end(input);
    this.finished = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => {
        this.#closed = true;
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('process did not start');
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Waits (bounded) until stdout matches `pattern`; returns the match. Checked
   * on every chunk of output as it arrives (no polling); fails at once when
   * the process has ended without printing it.
   */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const stdout = this.child.stdout!;
      const settle = (): void => {
        clearTimeout(timer);
        stdout.off('data', check);
        this.child.off('close', ended);
      };
      const check = (): boolean => {
        const match = this.stdout.match(pattern);
        if (match) {
          settle();
          resolve(match);
        }
        return match !== null;
      };
      const fail = (): void => {
        settle();
        reject(new Error(`no ${String(pattern)} in the output of pid ${this.child.pid} (exit ${this.child.exitCode}):\n${this.stdout}${this.stderr}`));
      };
      const ended = (): void => {
        if (!check()) fail();
      };
      const timer = setTimeout(fail, timeoutMs);
      // Listeners added after the constructor's: this.stdout already holds the chunk when check runs.
      stdout.on('data', check);
      this.child.once('close', ended);
      if (!check() && this.#closed) fail();
    });
  }


  /** Sends `signal` to this process (this pid only) if it still runs. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits for the end, killing the process (SIGKILL) if it outlives `timeoutMs`. */
  async end(timeoutMs = 30_000): Promise<Finished> {
    const timer = setTimeout(() => this.stop('SIGKILL'), timeoutMs);
    try {
      return await this.finished;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `node bin/sockfd.js args...` as a process of its own. */
export function startCli(args: readonly string[], options: StartOptions = {}): Running {
  return new Running(process.execPath, [cliPath, ...args], options);
}

/** The port `pid` listens on, read back from its fds and /proc/net (polls, bounded, until it listens). */
export async function listeningPort(pid: number, timeoutMs = 30_000): Promise<number> {
  const port = (): number | undefined => {
    try {
      for (const entry of listFds(pid)) {
        const socket = entry.socket;
        if (socket && socket.protocol !== 'unix' && socket.state === 'LISTEN') return socket.localPort;
      }
    } catch {
      // not started yet, or already gone: retry until the deadline
    }
    return undefined;
  };
  return until(port, `pid ${pid} to listen`, timeoutMs);
}

export { until } from './until.js';
