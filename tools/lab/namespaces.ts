// The lab's two hosts and its wire: three network namespaces made with `ip`,
// their names, addresses and interfaces, and the bookkeeping directory that
// says what exists. Nothing here touches the host's own network namespace
// beyond that bookkeeping (/run/netns/<name> and the state directory).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** The lab's two hosts, named as the tutorial's machines. */
export const hostNames = ['132', '133'] as const;
export type HostName = (typeof hostNames)[number];
/** Where a command can run: a host or the wire. */
export type Place = HostName | 'wire';

/** The only addresses the lab ever uses, and only inside its namespaces. */
export const labNetwork = '192.168.28.0/24';
export const hostAddress: Readonly<Record<HostName, string>> = { '132': '192.168.28.132', '133': '192.168.28.133' };
/** Each host's one interface (besides lo). */
export const hostInterface = 'eth0';
/** The wire's interface towards each host. */
export const wireInterface: Readonly<Record<HostName, string>> = { '132': 'to132', '133': 'to133' };

/** The names of one lab: its namespaces and its state directory. */
export interface LabNames {
  prefix: string;
  namespace: Readonly<Record<Place, string>>;
  /** Bookkeeping: settings, counters, pids, the wire's log. */
  stateDir: string;
}

/**
 * The lab's names. SOCKFD_LAB_PREFIX (default `sockfd-`) prefixes the
 * namespaces (`sockfd-132`, `sockfd-133`, `sockfd-wire`) so that tests can run
 * a lab of their own beside a learner's.
 */
export function labNames(env: NodeJS.ProcessEnv = process.env): LabNames {
  const prefix = env.SOCKFD_LAB_PREFIX ?? 'sockfd-';
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(prefix)) throw new Error(`SOCKFD_LAB_PREFIX must be 1-24 letters, digits, '-' or '_', got '${prefix}'`);
  const runDir = process.getuid?.() === 0 ? '/run' : join(env.XDG_RUNTIME_DIR ?? '/tmp', `sockfd-${process.getuid?.() ?? 'user'}`);
  return {
    prefix,
    namespace: { '132': `${prefix}132`, '133': `${prefix}133`, wire: `${prefix}wire` },
    stateDir: join(runDir, `${prefix}lab`),
  };
}

/** What `lab up` records in the state directory. */
export interface LabRecord {
  createdAt: string;
  /** Whether `up` made /run/netns (then `down` removes it when it is left empty). */
  madeNetnsDir: boolean;
  wirePid?: number;
}

export const netnsDir = '/run/netns';

/** A failed command of the lab's set-up, with what it printed. */
export class LabError extends Error {
  override name = 'LabError';
}

/** Runs `ip args...` (or any command), throwing LabError with its stderr on failure. */
export function sh(command: string, args: readonly string[], input?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  if (result.error) throw new LabError(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new LabError(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim() || `exit ${result.status}`}`);
  return result.stdout;
}

/** The network namespaces `ip netns` knows. */
export function listNamespaces(): string[] {
  if (!existsSync(netnsDir)) return [];
  return readdirSync(netnsDir);
}

export function namespaceExists(name: string): boolean {
  return listNamespaces().includes(name);
}

/** The pids of the processes inside a namespace (`ip netns pids`). */
export function namespacePids(name: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter((word) => /^\d+$/.test(word))
      .map(Number);
  } catch {
    return [];
  }
}

/** `ip netns exec NS command args...` as an argv. */
export function inNamespace(names: LabNames, place: Place, command: string, args: readonly string[] = []): [string, string[]] {
  return ['ip', ['netns', 'exec', names.namespace[place], command, ...args]];
}

/** Runs a short command inside a lab namespace; its stdout. */
export function shIn(names: LabNames, place: Place, command: string, args: readonly string[] = []): string {
  const [file, argv] = inNamespace(names, place, command, args);
  return sh(file, argv);
}

export function readRecord(names: LabNames): LabRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(names.stateDir, 'lab.json'), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Writes a JSON file atomically (readers never see half of it). */
export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n');
  renameSync(temporary, path);
}

export function writeRecord(names: LabNames, record: LabRecord): void {
  mkdirSync(names.stateDir, { recursive: true });
  writeJsonAtomic(join(names.stateDir, 'lab.json'), record);
}

/** Which of the lab's namespaces exist now. */
export function existingPlaces(names: LabNames): Place[] {
  const present = new Set(listNamespaces());
  return (['132', '133', 'wire'] as const).filter((place) => present.has(names.namespace[place]));
}

/**
 * Creates the three namespaces and the two veth pairs:
 *   132: lo, eth0 192.168.28.132/24  <->  wire: to132 ... to133  <->  133: eth0 192.168.28.133/24
 * The wire's interfaces carry no address; the hosts have only the connected
 * /24 route, so nothing can leave the lab. IPv6 is off in all three (no
 * router solicitations or DAD in a trace). GSO is off on every interface so a
 * userspace wire sees one frame per segment (veth would hand it 64 KB frames).
 */
export function createNamespaces(names: LabNames): void {
  for (const place of ['132', '133', 'wire'] as const) {
    sh('ip', ['netns', 'add', names.namespace[place]]);
    shIn(names, place, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
    sh('ip', ['-n', names.namespace[place], 'link', 'set', 'lo', 'up']);
  }
  for (const host of hostNames) {
    const hostNs = names.namespace[host];
    const wireNs = names.namespace.wire;
    sh('ip', ['link', 'add', hostInterface, 'netns', hostNs, 'type', 'veth', 'peer', 'name', wireInterface[host], 'netns', wireNs]);
    sh('ip', ['-n', hostNs, 'link', 'set', hostInterface, 'gso_max_segs', '1', 'gso_max_size', '1514']);
    sh('ip', ['-n', wireNs, 'link', 'set', wireInterface[host], 'gso_max_segs', '1', 'gso_max_size', '1514', 'promisc', 'on']);
    sh('ip', ['-n', hostNs, 'addr', 'add', `${hostAddress[host]}/24`, 'dev', hostInterface]);
    sh('ip', ['-n', wireNs, 'link', 'set', wireInterface[host], 'up']);
    sh('ip', ['-n', hostNs, 'link', 'set', hostInterface, 'up']);
  }
}

/** Deletes what exists of the lab's namespaces (their veths go with them). */
export function deleteNamespaces(names: LabNames): void {
  for (const place of existingPlaces(names)) sh('ip', ['netns', 'del', names.namespace[place]]);
}

/** Removes the state directory, and /run/netns when `up` made it and nothing else uses it. */
export function removeBookkeeping(names: LabNames, record: LabRecord | undefined): void {
  rmSync(names.stateDir, { recursive: true, force: true });
  if (record?.madeNetnsDir && existsSync(netnsDir) && readdirSync(netnsDir).length === 0) {
    // `ip netns add` bind-mounts /run/netns onto itself the first time; undo it.
    spawnSync('umount', [netnsDir], { stdio: 'ignore' });
    try {
      rmdirSync(netnsDir);
    } catch {
      // still mounted or someone else's entries appeared: leave it
    }
  }
}
