// The one process runner of the tools and the tests: twins, tools, C programs
// and fixtures run as separate processes, as a user runs them: their output
// collected as it comes (and byte for byte), a wait for a line, a bounded
// lifetime, the port they listen on read back from /proc, and a stop by pid
// (or, for a process started detached, by process group).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
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

export type StartOptions = SpawnOptions & {
  /** Written to stdin, which is then closed (default: closed at once). */
  input?: string;
  /** stdin stays an open pipe (for a program that waits for it to close). */
  keepStdin?: boolean;
  /** fds of this process the child gets as its fds 3, 4, ... (socket activation's LISTEN_FDS). */
  passFds?: readonly number[];
  /**
   * Killed with SIGKILL after this long (its whole process group when
   * `detached`): nothing outlives its test or step. Default: no limit.
   */
  timeoutMs?: number;
};

/** A process started here: its output so far, waits on it, and a stop by pid or process group. */
export class Running {
  readonly child: ChildProcess;
  /** stdout decoded as UTF-8 (a character split across chunks is decoded whole). */
  stdout = '';
  stderr = '';
  readonly finished: Promise<Finished>;
  #closed = false;
  readonly #stdoutChunks: Buffer[] = [];
  readonly #ownGroup: boolean;

  constructor(command: string, args: readonly string[], options: StartOptions = {}) {
    const { input, keepStdin, passFds, timeoutMs, ...spawnOptions } = options;
    this.#ownGroup = spawnOptions.detached === true;
    this.child = spawn(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe', ...(passFds ?? [])] });
    const decoder = new StringDecoder('utf8');
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.#stdoutChunks.push(chunk);
      this.stdout += decoder.write(chunk);
    });
    this.child.stdout!.on('end', () => (this.stdout += decoder.end()));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.child.stdin!.on('error', () => {}); // a child that closed its stdin (close-std 0) is no error here
    if (!keepStdin) this.child.stdin!.end(input);
    const killer = timeoutMs === undefined ? undefined : setTimeout(() => this.#kill('SIGKILL'), timeoutMs);
    this.finished = new Promise((resolve, reject) => {
      this.child.once('error', (error) => {
        clearTimeout(killer);
        reject(error);
      });
      this.child.once('close', (code, signal) => {
        clearTimeout(killer);
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

  /** True once the process has exited and its output has been read to the end. */
  get exited(): boolean {
    return this.#closed;
  }

  /** stdout byte for byte (binary output; `stdout` is its UTF-8 text). */
  get stdoutBytes(): Buffer {
    if (this.#stdoutChunks.length > 1) this.#stdoutChunks.splice(0, this.#stdoutChunks.length, Buffer.concat(this.#stdoutChunks));
    return this.#stdoutChunks[0] ?? Buffer.alloc(0);
  }

  /** The first complete stdout line parsed as JSON (a fixture's report), waited for (bounded). */
  async firstJson<T>(timeoutMs = 30_000): Promise<T> {
    const line = await this.#waitForOutput(() => this.lines[0] ?? null, 'first line', timeoutMs);
    return JSON.parse(line) as T;
  }

  /**
   * Waits (bounded) until stdout matches `pattern`; returns the match. Checked
   * on every chunk of output as it arrives (no polling); fails at once when
   * the process has ended without printing it.
   */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return this.#waitForOutput(() => this.stdout.match(pattern), String(pattern), timeoutMs);
  }

  /** Every complete line printed on stdout so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Waits (bounded) for the first complete stdout line (printed so far or to come) that matches `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return this.#waitForOutput(() => this.lines.find((line) => pattern.test(line)) ?? null, `a line matching ${String(pattern)}`, timeoutMs);
  }

  #waitForOutput<T>(found: () => T | null, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const stdout = this.child.stdout!;
      const settle = (): void => {
        clearTimeout(timer);
        stdout.off('data', check);
        this.child.off('close', ended);
      };
      const check = (): boolean => {
        const value = found();
        if (value !== null) {
          settle();
          resolve(value);
        }
        return value !== null;
      };
      const fail = (): void => {
        settle();
        reject(new Error(`no ${what} in the output of pid ${this.child.pid} (exit ${this.child.exitCode}):\n${this.stdout}${this.stderr}`));
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

  /** Sends `signal` (default SIGTERM) to this process (this pid only) if it still runs; resolves when it has ended. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Finished> {
    if (this.running) this.child.kill(signal);
    return this.finished;
  }

  /**
   * Sends `signal` (default SIGKILL) to the process group of a process started
   * `detached` (it and whatever it forked, even after it ended itself). Throws
   * for a process that shares this process's group.
   */
  killGroup(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.#ownGroup) throw new Error(`pid ${this.child.pid} was not started detached: it has no process group of its own`);
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // no process of that group is left
    }
  }

  // SIGKILL on a timeout: the group of a detached process, else the pid.
  #kill(signal: NodeJS.Signals): void {
    if (this.#ownGroup) this.killGroup(signal);
    else this.child.kill(signal);
  }

  /** Waits for the end, killing the process (SIGKILL; its group when detached) if it outlives `timeoutMs`. */
  async end(timeoutMs = 30_000): Promise<Finished> {
    const timer = setTimeout(() => this.#kill('SIGKILL'), timeoutMs);
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

/** Whether a process with this pid exists (signal 0 probes without delivering anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
