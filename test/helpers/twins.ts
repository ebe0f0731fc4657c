// Running the CLI's twins and the C reference programs as a user would: as
// separate processes, with their output collected, their listening port read
// back from /proc, and every process stopped by pid at the end.
import { execFileSync, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Running, startCli as startCliIn, type Finished, type StartOptions } from '../../tools/processes.js';

export { Running, listeningPort, until, type Finished } from '../../tools/processes.js';

export const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** `node bin/sockfd.js args...`, from the package directory unless told otherwise. */
export function startCli(args: readonly string[], options: StartOptions = {}): Running {
  return startCliIn(args, { cwd: packageDir, ...options });
}

/** Runs `node bin/sockfd.js args...` to the end (bounded). */
export function runCli(args: readonly string[], options: StartOptions & { timeoutMs?: number } = {}): Promise<Finished> {
  const { timeoutMs, ...rest } = options;
  return startCli(args, rest).end(timeoutMs);
}

/** Runs any program to the end (bounded). */
export function run(command: string, args: readonly string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const { timeoutMs, ...rest } = options;
  return new Running(command, args, rest).end(timeoutMs);
}

/**
 * The TCP states `ss -tan` reports on `port`: "local peer STATE" with netstat's state names, sorted.
 * With `peerPort`, only the connection between the two ports (either end), so that another
 * process's connection that Linux gave `port` as its ephemeral port is not listed.
 */
export function ssStates(port: number, state?: string, peerPort?: number): string[] {
  const filter =
    peerPort === undefined
      ? `( sport = :${port} or dport = :${port} )`
      : `( ( sport = :${port} and dport = :${peerPort} ) or ( sport = :${peerPort} and dport = :${port} ) )`;
  const args = state === undefined ? ['-tanH', filter] : ['-tanH', 'state', state, filter];
  const text = execFileSync('ss', args, { encoding: 'utf8' });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const columns = line.trim().split(/\s+/);
      // With a state filter ss leaves the State column out.
      const [stateName, local, peer] = state === undefined ? [columns[0]!, columns[3]!, columns[4]!] : [state, columns[2]!, columns[3]!];
      // ss spells ESTAB, SYN-SENT, FIN-WAIT-1; netstat (and sockfd) ESTABLISHED, SYN_SENT, FIN_WAIT1.
      const upper = stateName.toUpperCase();
      const normal = upper === 'ESTAB' ? 'ESTABLISHED' : upper.replace(/-(?=\d)/, '').replace(/-/g, '_');
      return `${local} ${peer} ${normal}`;
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
