// The lab for a user who is not root: a "keeper" process holds a user
// namespace (where the user is root), a network namespace (the lab's "host")
// and a mount namespace with a private tmpfs on /run (for `ip netns`). Every
// `sockfd lab` / `sockfd trace --lab` command of that user runs again inside
// it (nsenter), as root there, and does what it does for root. `lab down`
// stops the keeper; when the keeper died, its namespaces went with it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, isAlive } from '../processes.js';
import { LabError } from './namespaces.js';

/** Set inside the keeper's namespaces, so a command does not enter them twice. */
export const insideEnv = 'SOCKFD_LAB_USERNS';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function needsUserNamespace(): boolean {
  return process.getuid?.() !== 0 && process.env[insideEnv] === undefined;
}

function keeperDir(prefix: string): string {
  return join(process.env.XDG_RUNTIME_DIR ?? '/tmp', `sockfd-lab-${process.getuid?.() ?? 'user'}-${prefix}`);
}

interface Keeper {
  pid: number;
  /** The user namespace's identity (`user:[inode]`), to find its processes after a crash. */
  userns: string;
}

function readKeeper(prefix: string): Keeper | undefined {
  try {
    const keeper = JSON.parse(readFileSync(join(keeperDir(prefix), 'keeper.json'), 'utf8')) as Keeper;
    return isAlive(keeper.pid) && readlinkSync(`/proc/${keeper.pid}/ns/user`) === keeper.userns ? keeper : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the keeper; a clear LabError when the kernel does not allow user namespaces. */
async function startKeeper(prefix: string): Promise<Keeper> {
  const dir = keeperDir(prefix);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ready = join(dir, 'ready');
  rmSync(ready, { force: true });
  const script = `mount -t tmpfs sockfd-lab /run || exit 1; : > "$1"; exec sleep 2147483647`;
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private', 'sh', '-c', script, 'keeper', ready], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const deadline = Date.now() + 10_000;
  while (!existsSync(ready)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LabError(
        `the lab needs root, or user namespaces to make one without root, and this kernel refused: ${stderr.trim() || `unshare exited ${child.exitCode}`}` +
          ' (check /proc/sys/user/max_user_namespaces and kernel.apparmor_restrict_unprivileged_userns)',
      );
    }
    await pause(20);
  }
  child.stderr!.destroy();
  child.unref();
  const keeper: Keeper = { pid: child.pid!, userns: readlinkSync(`/proc/${child.pid}/ns/user`) };
  writeFileSync(join(dir, 'keeper.json'), JSON.stringify(keeper) + '\n');
  return keeper;
}

/** Processes (ours) living in the keeper's user namespace. */
function processesIn(userns: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/user`) === userns) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/** start: `lab up`; stop: `lab down`; scoped: a scenario (the keeper lives as long as it when it made it); use/status: the rest. */
export type KeeperMode = 'start' | 'stop' | 'scoped' | 'use' | 'status';

/**
 * Runs `sockfd <args>` inside the keeper's namespaces (starting the keeper
 * for `lab up`); resolves to its exit code. `lab down` then stops the keeper.
 */
export async function runInUserNamespace(prefix: string, args: readonly string[], mode: KeeperMode): Promise<number> {
  if (spawnSync('unshare', ['--version'], { stdio: 'ignore' }).status !== 0) throw new LabError("the lab needs root, or 'unshare' (util-linux) to make one in a user namespace");
  let keeper = readKeeper(prefix);
  if (!keeper) {
    if (mode === 'stop') {
      await cleanUp(prefix, undefined);
      process.stdout.write('the lab was not up; nothing left behind\n');
      return 0;
    }
    if (mode === 'status') {
      process.stdout.write('the lab is down (sockfd lab up creates it)\n');
      return 0;
    }
    if (mode === 'use') throw new LabError("the lab is not up (run 'sockfd lab up')");
  }
  const started = keeper === undefined;
  keeper ??= await startKeeper(prefix);
  const stops = mode === 'stop' || (mode === 'scoped' && started);
  const child = spawn('nsenter', ['--preserve-credentials', '--user', '--mount', '--net', '-t', String(keeper.pid), process.execPath, cliPath, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [insideEnv]: '1' },
  });
  const forward = (signal: NodeJS.Signals) => (): void => void child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  let code: number;
  try {
    code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exit, signal) => resolve(exit ?? (signal === 'SIGINT' ? 130 : 1)));
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  return stops ? cleanUp(prefix, keeper, code) : code;
}

/** Stops the keeper and whatever still lives in its namespaces; removes the keeper's directory. */
async function cleanUp(prefix: string, keeper: Keeper | undefined, code = 0): Promise<number> {
  let userns = keeper?.userns;
  if (!userns) {
    try {
      userns = (JSON.parse(readFileSync(join(keeperDir(prefix), 'keeper.json'), 'utf8')) as Keeper).userns;
    } catch {
      userns = undefined;
    }
  }
  if (userns) {
    const pids = processesIn(userns);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + 3000;
    while (pids.some(isAlive) && Date.now() < deadline) await pause(20);
  }
  rmSync(keeperDir(prefix), { recursive: true, force: true });
  return code;
}
