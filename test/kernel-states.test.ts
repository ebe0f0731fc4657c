// tools/lab/kernel-states.ts's tracefs instance, checked in tracefs itself: it must not outlive
// its helper. A leaked instance keeps sock:inet_sock_set_state on, and every TCP state change on
// the machine is then written into it (12 leaked ones made each loopback connection ~30% dearer).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KernelStates } from '../tools/lab/kernel-states.js';
import { eventually } from './helpers/lab.js';

const EVENT = 'events/sock/inet_sock_set_state';

/**
 * Where this test sees tracefs. The helper mounts it in a mount namespace of its own, so a fresh
 * machine (CI) may have none at /sys/kernel/tracing: then, as root, the test mounts one of its own
 * in a temporary directory (tracefs's instances are the kernel's, the same under every mount) and
 * unmounts it at the end, leaving the host as it was.
 */
function tracefs(): { root: string; own: boolean } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (existsSync(`/sys/kernel/tracing/${EVENT}`)) return { root: '/sys/kernel/tracing', own: false };
  const root = mkdtempSync(join(tmpdir(), 'sockfd-tracefs-'));
  if (spawnSync('mount', ['-t', 'tracefs', 'nodev', root]).status === 0 && existsSync(`${root}/${EVENT}`)) return { root, own: true };
  spawnSync('umount', [root]);
  rmdirSync(root);
  return undefined;
}

const mounted = tracefs();
const usable = mounted !== undefined;
const INSTANCES = `${mounted?.root ?? '/sys/kernel/tracing'}/instances`;
afterAll(() => {
  if (!mounted?.own) return;
  expect(spawnSync('umount', [mounted.root]).status).toBe(0);
  rmdirSync(mounted.root);
});
const ours = (): string[] => readdirSync(INSTANCES).filter((name) => name.startsWith('sockfd-trace-'));

/** Starts a KernelStates and returns it with the helper's pid (the name of the instance it made). */
async function started(): Promise<{ states: KernelStates; pid: number }> {
  const before = new Set(ours());
  const states = KernelStates.start();
  expect(await states.ready(5000)).toBe(true);
  const made = ours().filter((name) => !before.has(name));
  expect(made).toHaveLength(1);
  return { states, pid: Number(made[0]!.slice('sockfd-trace-'.length)) };
}

/** Whether a process with this pid exists. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(usable)('the kernel-states tracefs instance', () => {
  // A failing run must not leave its own instances on (the very leak this file checks).
  afterEach(() => {
    for (const name of ours()) {
      if (alive(Number(name.slice('sockfd-trace-'.length)))) continue;
      writeFileSync(`${INSTANCES}/${name}/events/sock/inet_sock_set_state/enable`, '0');
      rmdirSync(`${INSTANCES}/${name}`);
    }
  });

  it('is removed when stopped, and when its helper gets SIGINT, SIGTERM or SIGHUP', async () => {
    const { states, pid } = await started();
    expect(readFileSync(`${INSTANCES}/sockfd-trace-${pid}/events/sock/inet_sock_set_state/enable`, 'utf8').trim()).toBe('1');
    states.stop();
    await eventually('the stopped instance removed', () => !ours().includes(`sockfd-trace-${pid}`), 5000);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const { states: killed, pid: helper } = await started();
      process.kill(helper, signal); // as Ctrl+C reaches the whole process group
      await eventually(`the instance removed after ${signal}`, () => !ours().includes(`sockfd-trace-${helper}`), 5000);
      killed.stop();
    }
  });

  it("removes an instance left by a helper that is gone (SIGKILL), not a live helper's", async () => {
    // A pid that cannot be alive: above the kernel's pid_max.
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const stale = `${INSTANCES}/sockfd-trace-${pidMax + 1}`;
    mkdirSync(stale);
    try {
      writeFileSync(`${stale}/events/sock/inet_sock_set_state/enable`, '1');
      const live = await started();
      const second = await started();
      expect(existsSync(stale)).toBe(false);
      expect(ours()).toContain(`sockfd-trace-${live.pid}`);
      second.states.stop();
      live.states.stop();
      await eventually('both instances removed', () => !ours().includes(`sockfd-trace-${live.pid}`) && !ours().includes(`sockfd-trace-${second.pid}`), 5000);
    } finally {
      if (existsSync(stale)) {
        writeFileSync(`${stale}/events/sock/inet_sock_set_state/enable`, '0');
        rmdirSync(stale);
      }
    }
  });
});
