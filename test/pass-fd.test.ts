// `sockfd demo pass-fd`: a zero-downtime restart by passing the listening
// socket over SCM_RIGHTS. The test is its own hammering client (node:net, not
// sockfd) and checks the hand-over against /proc: the new version holds the
// very same socket (inode) the old one listened on, and the old one is gone.
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { existsSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { startCli } from '../tools/processes.js';
import { until } from '../tools/until.js';

interface Tally {
  refused: number;
  otherErrors: string[];
  servedBy: Map<string, number>;
}

function connectOnce(port: number, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => {
      const pid = /served by v\d+ pid (\d+)/.exec(answer)?.[1] ?? `bad answer ${JSON.stringify(answer)}`;
      tally.servedBy.set(pid, (tally.servedBy.get(pid) ?? 0) + 1);
      resolve();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') tally.refused++;
      else tally.otherErrors.push(String(error.code ?? error.message));
      resolve();
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
  });
}

const socketOf = (pid: string, fd: string) => readlinkSync(`/proc/${pid}/fd/${fd}`);

describe('sockfd demo pass-fd', () => {
  it('hands the listening socket to a new version on SIGHUP while a client hammers the port: none refused', async () => {
    const demo = startCli(['demo', 'pass-fd'], { keepStdin: true });
    try {
      const [, oldPid, port, oldFd] = await demo.waitFor(/v1 \(pid (\d+)\) listening on 127\.0\.0\.1:(\d+) as fd (\d+)/);
      const listening = socketOf(oldPid!, oldFd!);
      expect(listening).toMatch(/^socket:\[\d+\]$/);
      const tally: Tally = { refused: 0, otherErrors: [], servedBy: new Map() };
      let phase: 'before' | 'during' | 'after' = 'before';
      let afterCount = 0;
      let total = 0;
      let handOver: Promise<[RegExpMatchArray, RegExpMatchArray]> | undefined;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (total < 5000 && afterCount < 200) {
            total++;
            if (phase === 'after') afterCount++;
            if (phase === 'before' && total >= 200) {
              phase = 'during';
              handOver = Promise.all([
                demo.waitFor(/v2 \(pid (\d+)\) received the listening socket from pid (\d+) over SCM_RIGHTS as fd (\d+)/),
                demo.waitFor(/v1 \(pid \d+\) stopped accepting, finished its (\d+) connections and exited/),
              ]);
              void handOver.then(() => (phase = 'after'));
              demo.child.kill('SIGHUP');
            }
            await connectOnce(Number(port), tally);
          }
        }),
      );
      const [[, newPid, from, newFd]] = await handOver!;
      expect(from).toBe(oldPid);
      expect(socketOf(newPid!, newFd!)).toBe(listening); // the same socket, now in the new process
      // The old version is gone (reaped by the demo) while the new one serves on.
      await until(() => !existsSync(`/proc/${oldPid}/fd`), `the old version (pid ${oldPid}) to be gone`, 5000);
      expect(tally.refused).toBe(0);
      expect(tally.otherErrors).toEqual([]);
      expect(tally.servedBy.get(oldPid!)).toBeGreaterThan(0);
      expect(tally.servedBy.get(newPid!)).toBeGreaterThan(0);
      expect([...tally.servedBy.keys()].sort()).toEqual([oldPid, newPid].sort());
      const exited = once(demo.child, 'exit');
      demo.child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
      expect(existsSync(`/proc/${newPid}/fd`)).toBe(false);
      expect(existsSync(`/proc/${oldPid}/fd`)).toBe(false);
    } finally {
      demo.child.kill('SIGKILL');
    }
  });

  it('--connections N is its own client and reports 0 refused, both versions serving', async () => {
    const demo = startCli(['demo', 'pass-fd', '--connections', '600', '--json'], { keepStdin: true });
    const [code] = (await once(demo.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const report = JSON.parse((await demo.finished).stdout) as { connections: number; refused: number; otherErrors: number; servedBy: Record<string, number>; versions: Array<{ pid: number; inheritedFrom: number | null }> };
    expect(report.refused).toBe(0);
    expect(report.otherErrors).toBe(0);
    expect(report.connections).toBeGreaterThanOrEqual(600);
    expect(report.servedBy.v1).toBeGreaterThan(0);
    expect(report.servedBy.v2).toBeGreaterThan(0);
    expect(report.versions[1]!.inheritedFrom).toBe(report.versions[0]!.pid);
  });
});
