// Running the C reference programs (c/) as peers in tests: spawn with output
// captured, a bounded lifetime, servers started on a free port (retried when
// another test took it first) and awaited until they really listen.
import { Running } from '../../tools/processes.js';
import { readFileSync, readdirSync } from 'node:fs';
import { cProgram } from '../../tools/c-programs.js';
import { O_CLOEXEC } from '../../lib/constants.js';
import { listFds } from '../../lib/procfs.js';
import { until } from '../../tools/until.js';
import { freePort } from './loopback.js';

/** Environment that makes the programs' sleep(n) take n * 10 ms (c/sockfd_sleep.h). */
export const fastSleep: Readonly<Record<string, string>> = { SOCKFD_SLEEP_SCALE: '0.01' };

export { Running, type Finished } from '../../tools/processes.js';

export interface RunOptions {
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  /** Killed with SIGKILL after this long (default 20 s): no test hangs on a peer. */
  timeoutMs?: number;
  /** A process group of its own: needed for demo10/demo12, whose FathEXIT runs kill(0,SIGTERM). */
  detached?: boolean;
  /** stdin stays an open pipe (the fixture waits for it to close); default: closed. */
  keepStdin?: boolean;
}

const running = new Set<Running>();

/** Runs `path args...` (tools/processes Running, bounded); stopAll() kills what is left. */
export function runProgram(path: string, args: readonly string[], options: RunOptions = {}): Running {
  const program = new Running(path, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: options.detached ?? false,
    keepStdin: options.keepStdin ?? false,
    timeoutMs: options.timeoutMs ?? 20_000,
  });
  running.add(program);
  const forget = (): void => void running.delete(program);
  program.finished.then(forget, forget);
  return program;
}

/** Kills (SIGKILL, by pid) every program this file started that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((program) => program.stop('SIGKILL')));
}

/** Runs c/<name> (compiled if needed). */
export async function runC(name: string, args: readonly string[], options: RunOptions = {}): Promise<Running> {
  return runProgram(await cProgram(name), args, options);
}

/** True when process `pid` holds a TCP socket listening on `port`. */
export function isListening(pid: number, port: number): boolean {
  try {
    return listFds(pid).some((fd) => fd.socket?.protocol.startsWith('tcp') && fd.socket.state === 'LISTEN' && 'localPort' in fd.socket && fd.socket.localPort === port);
  } catch {
    return false; // exited meanwhile
  }
}

/**
 * Starts the C server `name` with `args(port)` on a free port and waits until it
 * listens. When another process took the port in between (the server exits
 * saying "Address already in use"), tries again with another port.
 */
export async function startCServer(
  name: string,
  args: (port: number) => readonly string[],
  options: RunOptions = {},
): Promise<{ server: Running; port: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const server = await runC(name, args(port), options);
    await until(() => (isListening(server.pid, port) || server.exited ? true : undefined), `${name} to listen on ${port}`);
    if (!server.exited) return { server, port };
    const result = await server.finished;
    if (!result.stderr.includes('Address already in use')) {
      throw new Error(`${name} ${args(port).join(' ')} exited ${String(result.code)}: ${result.stderr}${result.stdout}`);
    }
  }
  throw new Error(`${name}: no free port after 5 attempts`);
}

/** The lines of a program's output (without the final newline's empty line). */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/**
 * The fds a child spawned by this process inherits besides 0..2: ours without
 * O_CLOEXEC (e.g. a pipe the shell that started the test runner left open).
 * The lowest-free rule in a child counts from the first number not among them.
 */
export function inheritedFds(): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      const flags = /flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0 /* fdinfo prints flags in octal */) fds.push(fd);
    } catch {
      // closed meanwhile (the directory fd of readdir)
    }
  }
  return fds.sort((a, b) => a - b);
}

/** The lowest fd a child will get from open()/socket(): the first one >= 3 it did not inherit. */
export function lowestFreeInChild(): number {
  const inherited = new Set(inheritedFds());
  let fd = 3;
  while (inherited.has(fd)) fd++;
  return fd;
}
