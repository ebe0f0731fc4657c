// `sockfd demo reuseport`: the kernel spreads connections over worker
// processes that each own a SO_REUSEPORT socket served by node:http. The test
// is its own client and checks who answered against /proc, not the demo's word.
// Runs the built CLI (`npx tsc -p .` first).
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { httpGet } from './helpers/loopback.js';
import { startCli, type Running } from '../tools/processes.js';

function startDemo(args: string[]): Running {
  return startCli(['demo', 'reuseport', ...args], { keepStdin: true });
}

function parentOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)/m.exec(status)![1]);
}

describe('sockfd demo reuseport', () => {
  it('spreads connections over more than one worker process, and stops them on SIGTERM', async () => {
    const demo = startDemo(['--workers', '3']);
    try {
      const [, port] = await demo.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      const served = new Map<number, number>();
      for (let i = 0; i < 60; i++) {
        const body = await httpGet(Number(port));
        const pid = Number(/served by worker (\d+)/.exec(body)?.[1]);
        served.set(pid, (served.get(pid) ?? 0) + 1);
      }
      expect(served.size).toBeGreaterThan(1);
      // The answers come from distinct live processes, all children of the demo.
      for (const pid of served.keys()) expect(parentOf(pid)).toBe(demo.pid);
      const exited = once(demo.child, 'exit');
      demo.child.kill('SIGTERM');
      expect(await exited).toEqual([143, null]); // 128 + SIGTERM, as the shell reports a program its signal ended
      for (const pid of served.keys()) expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      if (demo.running) demo.child.kill('SIGKILL');
    }
  });

  it('Ctrl+C (SIGINT to the whole process group, workers included) stops it cleanly every time: no EPIPE, no stack trace, exit 130', async () => {
    for (let round = 0; round < 4; round++) {
      const demo = startCli(['demo', 'reuseport', '--workers', '3'], { detached: true });
      try {
        const [pidsText] = (await demo.waitFor(/\(pids ([\d ]+)\)/)).slice(1);
        const pids = pidsText!.split(' ').map(Number);
        const exited = once(demo.child, 'exit');
        demo.killGroup('SIGINT'); // what a terminal does: the demo and its workers get it at once
        expect(await exited).toEqual([130, null]);
        for (const pid of pids) expect(existsSync(`/proc/${pid}/environ`) && readFileSync(`/proc/${pid}/environ`).length > 0).toBe(false);
        expect((await demo.finished).stderr).toBe('');
      } finally {
        demo.killGroup('SIGKILL');
      }
    }
  }, 60_000);

  it('--requests M sends M requests itself, accounts for all of them and exits 0', async () => {
    const demo = startDemo(['--workers', '2', '--requests', '40']);
    const [code] = (await once(demo.child, 'exit')) as [number];
    expect(code).toBe(0);
    const output = (await demo.finished).stdout;
    const counts = [...output.matchAll(/^\s+\d+\s+(\d+)\s+[\d.]+%$/gm)].map((m) => Number(m[1]));
    expect(counts).toHaveLength(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('rejects bad arguments with the usage and exit code 2', async () => {
    const demo = startDemo(['--workers', '0']);
    const [code] = (await once(demo.child, 'exit')) as [number];
    expect(code).toBe(2);
    const errors = (await demo.finished).stderr;
    expect(errors).toMatch(/--workers must be an integer 1\.\.64/);
    expect(errors).toMatch(/usage: sockfd demo reuseport/);
  });
});
