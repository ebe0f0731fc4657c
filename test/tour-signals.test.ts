// Ctrl+C (SIGINT to the whole process group, as a terminal sends it) or
// SIGTERM (to the tour alone) at several moments of `sockfd tour`: afterwards
// no process the tour started is alive (found by an environment variable they
// all inherit, so detached servers and their children count too), its scratch
// directory is gone, and the exit status is 128 + the signal.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Running, cliPath } from '../tools/processes.js';
import { until } from '../tools/until.js';

/** Pids of live processes whose environment holds `marker` (zombies have none to read: they are dead). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function interruptTour(waitFor: RegExp, signal: 'SIGINT' | 'SIGTERM', toGroup: boolean): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'sockfd-tour-signals-'));
  const marker = `SOCKFD_TOUR_SIGNAL_TEST=${process.pid}-${Date.now()}`;
  const [key, value] = marker.split('=') as [string, string];
  // detached: a process group of its own, like a shell's foreground job.
  const tour = new Running(process.execPath, [cliPath, 'tour'], { detached: true, env: { ...process.env, TMPDIR: scratch, [key]: value } });
  const done = tour.end(120_000);
  try {
    await tour.waitFor(waitFor, 90_000);
    // Something the tour started runs when the signal comes.
    await until(() => (processesWith(marker).some((pid) => pid !== tour.pid) ? true : undefined), 'a process of the tour', 10_000);
    if (toGroup) process.kill(-tour.pid, signal);
    else void tour.stop(signal);
    const result = await done;
    expect(result.code, result.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(result.stderr).toMatch(new RegExp(`^sockfd tour: ${signal}: stopped \\d+ running process(es)? of the tour and removed `, 'm'));
    expect(result.stderr).not.toMatch(/^ {4}at /m);
    // SIGKILLed, each one: the last of them may still be on its way out when the tour exits (bounded).
    await until(() => (processesWith(marker).length === 0 ? true : undefined), `no process of the tour left: ${processesWith(marker).join(' ')}`, 5_000);
    expect(readdirSync(scratch)).toEqual([]); // the tour's own directory is gone
  } finally {
    try {
      process.kill(-tour.pid!, 'SIGKILL');
    } catch {
      // the group is gone
    }
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe('sockfd tour stops everything it started on a signal', () => {
  it('Ctrl+C (SIGINT to the process group) in step 1, while fd-hold runs: exit 130', async () => {
    await interruptTour(/^ {2}\$ sockfd demo fd-hold --quiet --hold-ms 30000 &$/m, 'SIGINT', true);
  }, 150_000);

  it('SIGTERM to the tour alone in step 7, with the detached fork server and its three children up: exit 143', async () => {
    await interruptTour(/^ {2}\(parent \d+, children \d+, \d+, \d+\)$/m, 'SIGTERM', false);
  }, 150_000);

  it('SIGINT to the tour alone in step 8, as the detached file server starts: exit 130', async () => {
    await interruptTour(/^ {2}\$ sockfd demo file-server 0 \S+ &$/m, 'SIGINT', false);
  }, 150_000);
});

describe('sockfd bench stops the peers it started on a signal', () => {
  it('SIGTERM to sockfd bench alone while a benchmark runs: its servers and clients are gone, exit 143', async () => {
    const marker = `SOCKFD_BENCH_SIGNAL_TEST=${process.pid}-${Date.now()}`;
    const [key, value] = marker.split('=') as [string, string];
    const bench = new Running(process.execPath, [cliPath, 'bench', 'throughput', 'pingpong', '--quick'], { env: { ...process.env, [key]: value } });
    const done = bench.end(120_000);
    try {
      await until(() => processesWith(marker).some((pid) => pid !== bench.pid), 'a peer of the benchmark', 60_000, 20);
      void bench.stop('SIGTERM');
      const result = await done;
      expect(result.code, result.stderr).toBe(143);
      expect(result.stderr).toMatch(/sockfd bench: SIGTERM: stopped \d+ process(es)? of the benchmark\n$/);
      await until(() => processesWith(marker).length === 0, `no peer left: ${processesWith(marker).join(' ')}`, 5_000);
    } finally {
      for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
    }
  }, 150_000);
});
