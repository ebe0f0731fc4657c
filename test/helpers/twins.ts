// Running the CLI's twins and the C reference programs as a user would: as
// separate processes, with their output collected, their listening port read
// back from /proc, and every process stopped by pid at the end.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listFds } from '../../lib/procfs.js';

export const packageDir = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = fileURLToPath(new URL('../../bin/sockfd.js', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process started by a test: its output so far, waits on it, and a stop by pid. */
export class Running {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly finished: Promise<Finished>;

  constructor(command: string, args: readonly string[], options: SpawnOptions & { input?: string } = {}) {
    const { input, ...spawnOptions } = options;
    this.child = spawn(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    if (input !== undefined) this.child.stdin!.end(input);
    else this.child.stdin!.end();
    this.finished = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('process did not start');
    return this.child.pid;
  }

  /** Waits (bounded) until stdout matches `pattern`; returns the match. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`no ${pattern} in stdout of pid ${this.child.pid} (exit ${this.child.exitCode}):\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `signal` to this process (only this pid) if it is still running. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** `node bin/sockfd.js args...` */
export function startCli(args: readonly string[], options: SpawnOptions & { input?: string } = {}): Running {
  return new Running(process.execPath, [cliPath, ...args], { cwd: packageDir, ...options });
}

/** Runs `node bin/sockfd.js args...` to the end (bounded). */
export async function runCli(args: readonly string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const { timeoutMs = 30_000, ...rest } = options;
  const running = startCli(args, rest);
  const timer = setTimeout(() => running.stop('SIGKILL'), timeoutMs);
  try {
    return await running.finished;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs any program to the end (bounded). */
export async function run(command: string, args: readonly string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const { timeoutMs = 30_000, ...rest } = options;
  const running = new Running(command, args, rest);
  const timer = setTimeout(() => running.stop('SIGKILL'), timeoutMs);
  try {
    return await running.finished;
  } finally {
    clearTimeout(timer);
  }
}

/** The port `pid` listens on, read back from its fds and /proc/net (polls until it listens). */
export async function listeningPort(pid: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      for (const entry of listFds(pid)) {
        const socket = entry.socket;
        if (socket && socket.protocol !== 'unix' && socket.state === 'LISTEN') return socket.localPort;
      }
    } catch {
      // not started yet, or gone: retry until the deadline
    }
    if (Date.now() > deadline) throw new Error(`pid ${pid} is not listening after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The TCP states `ss -tan` reports on `port`: "local peer STATE" with netstat's state names, sorted. */
export function ssStates(port: number, state?: string): string[] {
  const names: Record<string, string> = {
    ESTAB: 'ESTABLISHED',
    'SYN-SENT': 'SYN_SENT',
    'SYN-RECV': 'SYN_RECV',
    'FIN-WAIT-1': 'FIN_WAIT1',
    'FIN-WAIT-2': 'FIN_WAIT2',
    'TIME-WAIT': 'TIME_WAIT',
    'CLOSE-WAIT': 'CLOSE_WAIT',
    'LAST-ACK': 'LAST_ACK',
    LISTEN: 'LISTEN',
    CLOSING: 'CLOSING',
  };
  const filter = `( sport = :${port} or dport = :${port} )`;
  const args = state === undefined ? ['-tanH', filter] : ['-tanH', 'state', state, filter];
  const text = execFileSync('ss', args, { encoding: 'utf8' });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const columns = line.trim().split(/\s+/);
      // With a state filter ss leaves the State column out.
      const [stateName, local, peer] = state === undefined ? [columns[0]!, columns[3]!, columns[4]!] : [state, columns[2]!, columns[3]!];
      const normal = names[stateName.toUpperCase()] ?? names[stateName] ?? stateName.toUpperCase().replace(/-/g, '_');
      return `${local} ${peer.replace(/^0\.0\.0\.0:\*$/, '0.0.0.0:*')} ${normal}`;
    })
    .sort();
}

/** The lines of a netstat-style table printed by a twin, as "local peer STATE", sorted. */
export function tableStates(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => /^tcp6?\s/.test(line))
    .map((line) => {
      const columns = line.trim().split(/\s+/);
      return `${columns[3]} ${columns[4]} ${columns[5]}`;
    })
    .sort();
}

export const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
