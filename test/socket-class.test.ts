// The owned Socket: sendAll/recvExactly over partial transfers, ownership
// (close, dispose, detach), and leak reports for sockets never closed.
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import * as posix from '../lib/posix.js';
import { EndOfStreamError, Socket } from '../lib/socket.js';
import { expectNoLeaks, socketPair } from './helpers/loopback.js';

const dist = join(import.meta.dirname, '..', 'dist', 'lib', 'index.js');

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

describe('Socket', () => {
  it('sendAll/recvExactly move 64 MiB intact between two sockets (receiver in a worker thread)', async () => {
    const { listening, client, server } = socketPair();
    const size = 64 * 1024 * 1024;
    const payload = randomBytes(size);
    const expected = createHash('sha256').update(payload).digest('hex');
    // The receiver runs in a worker so that both blocking ends make progress.
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.dist).then(({ Socket }) => {
         const socket = new Socket(workerData.fd);
         const data = socket.recvExactly(workerData.size);
         const hash = require('node:crypto').createHash('sha256').update(data).digest('hex');
         socket.detach(); // the main thread owns and closes the fd
         parentPort.postMessage(hash);
       });`,
      { eval: true, workerData: { fd: server.fd, size, dist } },
    );
    const received = new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // 64 MiB does not fit the socket buffers: send() returns partial counts and sendAll loops.
    expect(client.sendAll(payload)).toBe(size);
    expect(await received).toBe(expected);
    await worker.terminate();
    for (const s of [client, server, listening]) s.close();
  });

  it('recvExactly fails with EndOfStreamError when the peer closes early', () => {
    const { listening, client, server } = socketPair();
    client.sendAll('abc');
    client.close();
    try {
      server.recvExactly(10);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EndOfStreamError);
      expect(error).toMatchObject({ received: 3, expected: 10, syscall: 'recv' });
    }
    server.close();
    listening.close();
  });

  it('`using` closes the fd at the end of the scope; detach() hands the fd over', () => {
    let fd: number;
    {
      using socket = Socket.udp();
      fd = socket.fd;
      expect(posix.fcntl(fd, posix.F_GETFD)).toBeGreaterThanOrEqual(0);
    }
    expect(() => posix.fcntl(fd, posix.F_GETFD)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const socket = Socket.tcp();
    const raw = socket.detach();
    expect(socket.closed).toBe(true);
    expect(posix.fcntl(raw, posix.F_GETFD)).toBeGreaterThanOrEqual(0); // still open: ours now
    posix.close(raw);
  });

  it('a Socket garbage-collected while open is reported, and its fd is left open', () => {
    const script = `
      const { Socket } = await import(${JSON.stringify(dist)});
      const { readlinkSync } = await import('node:fs');
      let fd;
      (() => { fd = Socket.tcp().fd; })();
      process.on('warning', (w) => {
        if (w.code !== 'SOCKFD_LEAK') return;
        console.log(w.message);
        console.log(readlinkSync('/proc/self/fd/' + fd).startsWith('socket:') ? 'still open' : 'closed');
      });
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    `;
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^sockfd: Socket with fd \d+ was garbage-collected without close\(\); the fd is still open$/);
    expect(lines[1]).toBe('still open');
  });

  it('a Socket that was closed or detached is not reported when garbage-collected', () => {
    const script = `
      const { Socket, close } = await import(${JSON.stringify(dist)});
      let leaked, detached;
      (() => {
        Socket.tcp().close();
        detached = Socket.tcp().detach();
        leaked = Socket.tcp().fd;
      })();
      const reports = [];
      process.on('warning', (w) => { if (w.code === 'SOCKFD_LEAK') reports.push(w.message); });
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(JSON.stringify({ reports, leaked }));
      close(detached);
      close(leaked);
    `;
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const { reports, leaked } = JSON.parse(run.stdout.trim()) as { reports: string[]; leaked: number };
    expect(reports).toEqual([`sockfd: Socket with fd ${leaked} was garbage-collected without close(); the fd is still open`]);
  });
});
