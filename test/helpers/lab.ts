// A lab of a test's own (its namespaces prefixed with the test process's pid),
// commands run on its hosts, and the host namespace's state to compare before
// and after (interfaces, addresses, mounts).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Running, cliPath } from '../../tools/processes.js';
import { until } from '../../tools/until.js';
import { type Finished } from '../../tools/processes.js';
import { labNames, type LabNames, type Place } from '../../tools/lab/namespaces.js';

export const isRoot = process.getuid?.() === 0;

/** SOCKFD_LAB_PREFIX for a test file: unique per process, short enough for namespace names. */
export function testLab(tag: string): { env: NodeJS.ProcessEnv; names: LabNames } {
  const prefix = `sf${tag}${process.pid}-`;
  const env = { ...process.env, SOCKFD_LAB_PREFIX: prefix };
  return { env, names: labNames(env) };
}

/** `node bin/sockfd.js args...` with the lab's prefix. */
export function sockfd(env: NodeJS.ProcessEnv, args: readonly string[]): Running {
  return new Running(process.execPath, [cliPath, ...args], { env });
}

export async function sockfdDone(env: NodeJS.ProcessEnv, args: readonly string[], timeoutMs = 30_000): Promise<Finished> {
  return sockfd(env, args).end(timeoutMs);
}

/** Starts `command args...` on a lab host (`ip netns exec`, the pid is the command's). */
export function onHost(names: LabNames, place: Place, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Running {
  const argv = command === 'sockfd' ? [process.execPath, cliPath, ...args] : [command, ...args];
  return new Running('ip', ['netns', 'exec', names.namespace[place], ...argv], { env });
}

/** Runs a short command on a lab host; its stdout. */
export function onHostSync(names: LabNames, place: Place, command: string, args: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', names.namespace[place], command, ...args], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ss -tanH` on a host for a port: "STATE local peer" lines. */
export function ssOn(names: LabNames, place: Place, port: number): string[] {
  return onHostSync(names, place, 'ss', ['-tanH', `( sport = :${port} or dport = :${port} )`])
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [state, , , local, peer] = line.trim().split(/\s+/);
      return `${state} ${local} ${peer}`;
    });
}

/** What the host's own namespace looks like: interfaces, addresses, routes, mounts. */
export function hostSnapshot(): { links: string[]; addresses: string[]; routes: string[]; mounts: string[] } {
  const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
  return {
    links: lines(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).map((l) => l.split(':')[1]!.trim()),
    addresses: lines(execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' })),
    routes: lines(execFileSync('ip', ['route'], { encoding: 'utf8' })),
    mounts: lines(readFileSync('/proc/self/mountinfo', 'utf8')).map((l) => l.split(' ')[4]!),
  };
}

/** Polls (bounded) until `probe` gives a value. */
export function eventually<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  return until(probe, what, timeoutMs); // the kit's one bounded wait (tools/until.ts)
}

/** Waits (bounded) until `running` printed `pattern` on stderr. */
export async function waitStderr(running: Running, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  await eventually(`${String(pattern)} on stderr (got: ${running.stderr})`, () => pattern.test(running.stderr) || (!running.running && (() => { throw new Error(`exited: ${running.stderr}`); })()), timeoutMs);
}

/** Waits (bounded) until something listens on `port` on a host. */
export async function listeningOn(names: LabNames, place: Place, port: number): Promise<void> {
  await eventually(`a listener on ${place}:${port}`, () => ssOn(names, place, port).some((line) => line.startsWith('LISTEN')));
}
