// `sockfd demo reuseport`: the kernel spreads connections over worker
// processes that each own a SO_REUSEPORT socket served by node:http. The test
// is its own client and checks who answered against /proc, not the demo's word.
// Runs the built CLI (`npx tsc -p .` first).
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', 'bin', 'sockfd.js');

function startDemo(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [cli, 'demo', 'reuseport', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Resolves with the first stdout line that matches, or rejects when the process ends first. */
function lineMatching(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) {
        child.stdout.off('data', onData);
        resolve(match);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`demo exited (${code}) before printing ${pattern}; stdout: ${text}`)));
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

function parentOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^PPid:\s+(\d+)/m.exec(status)![1]);
}

describe('sockfd demo reuseport', () => {
  it('spreads connections over more than one worker process, and stops them on SIGTERM', async () => {
    const demo = startDemo(['--workers', '3']);
    try {
      const [, port] = await lineMatching(demo, /listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      const served = new Map<number, number>();
      for (let i = 0; i < 60; i++) {
        const body = await get(Number(port));
        const pid = Number(/served by worker (\d+)/.exec(body)?.[1]);
        served.set(pid, (served.get(pid) ?? 0) + 1);
      }
      expect(served.size).toBeGreaterThan(1);
      // The answers come from distinct live processes, all children of the demo.
      for (const pid of served.keys()) expect(parentOf(pid)).toBe(demo.pid);
      const exited = once(demo, 'exit');
      demo.kill('SIGTERM');
      expect(await exited).toEqual([143, null]); // 128 + SIGTERM, as the shell reports a program its signal ended
      for (const pid of served.keys()) expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    }
  });

  it('Ctrl+C (SIGINT to the whole process group, workers included) stops it cleanly every time: no EPIPE, no stack trace, exit 130', async () => {
    for (let round = 0; round < 4; round++) {
      const demo = spawn(process.execPath, [cli, 'demo', 'reuseport', '--workers', '3'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let errors = '';
      demo.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      try {
        const [pidsText] = (await lineMatching(demo, /\(pids ([\d ]+)\)/)).slice(1);
        const pids = pidsText!.split(' ').map(Number);
        const exited = once(demo, 'exit');
        process.kill(-demo.pid!, 'SIGINT'); // what a terminal does: the demo and its workers get it at once
        expect(await exited).toEqual([130, null]);
        expect(errors).toBe('');
        for (const pid of pids) expect(existsSync(`/proc/${pid}/environ`) && readFileSync(`/proc/${pid}/environ`).length > 0).toBe(false);
      } finally {
        if (demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid!, 'SIGKILL');
      }
    }
  }, 60_000);

  it('--requests M sends M requests itself, accounts for all of them and exits 0', async () => {
    const demo = startDemo(['--workers', '2', '--requests', '40']);
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(demo, 'exit')) as [number];
    expect(code).toBe(0);
    const counts = [...output.matchAll(/^\s+\d+\s+(\d+)\s+[\d.]+%$/gm)].map((m) => Number(m[1]));
    expect(counts).toHaveLength(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('rejects bad arguments with the usage and exit code 2', async () => {
    const demo = startDemo(['--workers', '0']);
    let errors = '';
    demo.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const [code] = (await once(demo, 'exit')) as [number];
    expect(code).toBe(2);
    expect(errors).toMatch(/--workers must be an integer 1\.\.64/);
    expect(errors).toMatch(/usage: sockfd demo reuseport/);
  });
});
