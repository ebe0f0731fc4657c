// `sockfd lab` as functions: up, down, status, set, and where a command runs.
// The wire runs as `sockfd lab wire` inside the wire namespace, detached, its
// pid in the state directory; `down` stops every process inside the lab's
// namespaces (all of them are the lab's), deletes the namespaces, and removes
// the bookkeeping — also when `up` crashed half-way.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, isAlive } from '../processes.js';
import {
  type LabNames, type LabRecord, type Place, LabError, createNamespaces, deleteNamespaces, existingPlaces,
  hostAddress, hostInterface, hostNames, namespacePids, netnsDir, readRecord, removeBookkeeping, sh, wireInterface, writeRecord,
} from './namespaces.js';
import { type WireCounters, type WireSettings, defaultSettings, readCounters, readSettings, writeSettings } from './settings.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Why the lab cannot be made here, or undefined when it can (root with `ip`). */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return "the lab needs the 'ip' command (Debian: apt-get install iproute2)";
  if (process.getuid?.() !== 0) return 'the lab needs root (or, without root, a user namespace: unshare from util-linux)';
  return undefined;
}

export function isUp(names: LabNames): boolean {
  return existingPlaces(names).length === 3 && existsSync(join(names.stateDir, 'lab.json'));
}

function isWireProcess(pid: number, names: LabNames): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('wire') && argv.includes(names.prefix);
  } catch {
    return false;
  }
}

/** Starts the wire in the wire namespace and waits (bounded) until it reports. */
async function startWire(names: LabNames): Promise<number> {
  const log = openSync(join(names.stateDir, 'wire.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', names.namespace.wire, process.execPath, cliPath, 'lab', 'wire', '--prefix', names.prefix], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, SOCKFD_LAB_PREFIX: names.prefix },
  });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new LabError('could not start the wire');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const counters = readCounters(names);
    if (counters && counters.pid === pid) return pid;
    if (!isAlive(pid) || child.exitCode !== null) {
      const text = existsSync(join(names.stateDir, 'wire.log')) ? readFileSync(join(names.stateDir, 'wire.log'), 'utf8').trim() : '';
      throw new LabError(`the wire did not start${text ? `:\n${text}` : ''}`);
    }
    if (Date.now() > deadline) throw new LabError('the wire did not report within 15 s');
    await pause(20);
  }
}

export interface UpResult {
  created: boolean;
  settings: WireSettings;
}

/** Creates the lab (or, when it exists, keeps it and says so). */
export async function labUp(names: LabNames, settings: Partial<WireSettings>): Promise<UpResult> {
  const why = labUnavailable();
  if (why) throw new LabError(why);
  if (isUp(names)) return { created: false, settings: readSettings(names) };
  if (existingPlaces(names).length > 0 || existsSync(names.stateDir)) await labDown(names); // remains of a crash
  const record: LabRecord = { createdAt: new Date().toISOString(), madeNetnsDir: !existsSync(netnsDir) };
  mkdirSync(names.stateDir, { recursive: true });
  writeRecord(names, record);
  try {
    createNamespaces(names);
    const applied: WireSettings = { ...defaultSettings, ...settings, generation: 1 };
    writeSettings(names, applied);
    record.wirePid = await startWire(names);
    writeRecord(names, record);
    return { created: true, settings: applied };
  } catch (error) {
    await labDown(names);
    throw error;
  }
}

/** Stops every process in the lab's namespaces (TERM, then KILL after 2 s); returns how many. */
async function stopProcesses(names: LabNames): Promise<number> {
  const pids = new Set<number>();
  for (const place of existingPlaces(names)) for (const pid of namespacePids(names.namespace[place])) pids.add(pid);
  const wirePid = readRecord(names)?.wirePid;
  if (wirePid !== undefined && isAlive(wirePid) && isWireProcess(wirePid, names)) pids.add(wirePid);
  pids.delete(process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      pids.delete(pid);
    }
  }
  const deadline = Date.now() + 2000;
  while ([...pids].some(isAlive) && Date.now() < deadline) await pause(20);
  for (const pid of pids) {
    try {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const killDeadline = Date.now() + 2000;
  while ([...pids].some(isAlive) && Date.now() < killDeadline) await pause(20);
  return pids.size;
}

export interface DownResult {
  namespaces: string[];
  processes: number;
}

/** Removes everything the lab made; safe to run when nothing (or half of it) exists. */
export async function labDown(names: LabNames): Promise<DownResult> {
  const record = readRecord(names);
  const namespaces = existingPlaces(names).map((place) => names.namespace[place]);
  const processes = await stopProcesses(names);
  deleteNamespaces(names);
  removeBookkeeping(names, record);
  return { namespaces, processes };
}

export interface LabStatus {
  up: boolean;
  namespaces: Partial<Record<Place, string>>;
  interfaces: Partial<Record<Place, string[]>>;
  wire?: { pid: number; running: boolean; settings: WireSettings; counters?: WireCounters };
}

export function labStatus(names: LabNames): LabStatus {
  const places = existingPlaces(names);
  const status: LabStatus = { up: isUp(names), namespaces: {}, interfaces: {} };
  for (const place of places) {
    status.namespaces[place] = names.namespace[place];
    try {
      status.interfaces[place] = sh('ip', ['-n', names.namespace[place], '-br', 'addr'])
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => line.trim().replace(/\s+/g, ' '));
    } catch {
      status.interfaces[place] = [];
    }
  }
  const record = readRecord(names);
  if (record?.wirePid !== undefined) {
    let settings: WireSettings = defaultSettings;
    try {
      settings = readSettings(names);
    } catch {
      // no settings file: defaults
    }
    status.wire = { pid: record.wirePid, running: isAlive(record.wirePid), settings, counters: readCounters(names) };
  }
  return status;
}

/** Changes the wire's settings and waits (bounded) until the wire applied them. */
export async function labSet(names: LabNames, change: (current: WireSettings) => WireSettings): Promise<WireSettings> {
  if (!isUp(names)) throw new LabError("the lab is not up (run 'sockfd lab up')");
  const current = readSettings(names);
  const next = { ...change(current), generation: current.generation + 1 };
  writeSettings(names, next);
  const deadline = Date.now() + 5000;
  while ((readCounters(names)?.generation ?? 0) < next.generation) {
    if (Date.now() > deadline) throw new LabError('the wire did not apply the settings within 5 s (is it running? see sockfd lab status)');
    await pause(10);
  }
  return next;
}

/** The argv that runs `command args...` on a lab place (`sockfd` means this package's CLI). */
export function execArgv(names: LabNames, place: Place, command: string, args: readonly string[]): [string, string[]] {
  const program = command === 'sockfd' ? [process.execPath, cliPath] : [command];
  return ['ip', ['netns', 'exec', names.namespace[place], ...program, ...args]];
}

export { hostAddress, hostInterface, hostNames, wireInterface };
