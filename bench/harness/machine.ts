// The facts about the machine that a reader needs to trust a number.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cPrebuiltDir } from '../../tools/c-programs.js';
import { cpus, hostname, release, version as osVersion } from 'node:os';
import type { MachineInfo, PinMode } from './model.js';
import type { Pinning } from './processes.js';

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function osName(): string {
  try {
    const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (match) return match[1]!;
  } catch {
    // not every system has os-release
  }
  return osVersion();
}

// The compiler of the package's prebuilt C baselines (scripts/prebuild.mjs
// writes it), which run instead of compiling when they match bench/c.
function prebuiltCompiler(): string | undefined {
  try {
    const line = readFileSync(join(cPrebuiltDir, 'BUILT-WITH'), 'utf8').split('\n')[0]!.trim();
    return line === '' ? undefined : `${line} (the package's prebuilt C baselines)`;
  } catch {
    return undefined;
  }
}

/** CPU model, CPU count, kernel, OS, Node and V8 versions, the C compiler (of the prebuilt baselines when there are). */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    kernel: release(),
    os: osName(),
    node: process.version,
    v8: process.versions.v8,
    cc: prebuiltCompiler() ?? firstLine(process.env.CC || 'cc', ['--version']).replace(/^unknown$/, 'no C compiler found'),
    hostname: hostname(),
  };
}

/** The CPUs this process may run on, from /proc/self/status (Linux). */
export function allowedCpus(): number[] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const match = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  if (!match) throw new Error('/proc/self/status has no Cpus_allowed_list');
  return parseCpuList(match[1]!);
}

/** "0-2,5" → [0, 1, 2, 5] */
export function parseCpuList(text: string): number[] {
  const result: number[] = [];
  for (const part of text.trim().split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) throw new RangeError(`not a CPU list: '${text}'`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    for (let cpu = first; cpu <= last; cpu++) result.push(cpu);
  }
  return result;
}

/** The pinning for `--pin[=CPU]`: the CPU asked for, or the last one allowed (CPU 0 takes most interrupts). */
export function choosePinning(requested: number | undefined): Pinning {
  const allowed = allowedCpus();
  if (requested === undefined) return { cpu: allowed.at(-1)! };
  if (!allowed.includes(requested)) throw new RangeError(`CPU ${requested} is not available (allowed: ${allowed.join(', ')})`);
  return { cpu: requested };
}

/** How the processes were placed, in words, for the table and the JSON. */
export function describePinning(pin: Pinning): PinMode {
  if (pin === null)
    return {
      pinned: false,
      description:
        'unpinned: the scheduler places every process (on small VMs round trips are bimodal, same-CPU vs cross-CPU; use --pin to compare)',
    };
  return { pinned: true, cpu: pin.cpu, description: `pinned: both ends of every run on CPU ${pin.cpu} (taskset -c ${pin.cpu})` };
}
