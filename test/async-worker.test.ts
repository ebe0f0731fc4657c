// The promise API inside worker_threads: each worker waits on its own event
// loop, and a worker that ends - naturally, by process.exit() or by
// terminate() - with sockets open and calls pending tears down cleanly.
// Workers load the built package (dist/), so `npx tsc -p .` runs first.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as posix from '../lib/posix.js';
import { acceptAsync, connectAsync, recvExactlyAsync, sendAllAsync } from '../lib/async.js';

const dist = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'lib', 'index.js')).href;

/** Runs `body` (the text of an async function body with `s` = sockfd, `post`, `data`) in a worker. */
function startWorker(body: string, data: unknown = null): { worker: Worker; messages: unknown[]; exited: Promise<number> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const post = (message) => parentPort.postMessage(message);
     import(workerData.dist).then(async (s) => {
       const data = workerData.data;
       ${body}
     }).catch((error) => { post({ failed: String(error && error.stack || error) }); process.exitCode = 3; });`,
    { eval: true, workerData: { dist, data } },
  );
  const messages: unknown[] = [];
  worker.on('message', (message) => messages.push(message));
  const exited = new Promise<number>((resolve, reject) => {
    worker.once('exit', resolve);
    worker.once('error', reject);
  });
  return { worker, messages, exited };
}

/** The worker's first message; a failure inside the worker rejects with its stack. */
function firstMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) =>
    worker.once('message', (message: unknown) => {
      const failure = (message as { failed?: string } | null)?.failed;
      if (failure === undefined) resolve(message);
      else reject(new Error(`the worker failed: ${failure}`));
    }),
  );
}

const fdOpen = (fd: number) => existsSync(`/proc/self/fd/${fd}`);

// Helpers shared by the worker bodies (plain JS, evaluated inside the worker).
const workerHelpers = `
  const loopback = (port) => ({ family: 'AF_INET', address: '127.0.0.1', port });
  const listening = (backlog = 1024) => {
    const fd = s.socket(s.AF_INET, s.SOCK_STREAM | s.SOCK_NONBLOCK);
    s.bind(fd, loopback(0));
    s.listen(fd, backlog);
    return { fd, port: s.getsockname(fd).port };
  };
  const tcp = () => s.socket(s.AF_INET, s.SOCK_STREAM | s.SOCK_NONBLOCK);
  const outcome = (promise) => promise.then((value) => ({ value }), (error) => ({ name: error.name, code: error.code, syscall: error.syscall, message: error.message }));
  const pair = async () => {
    const { fd: l, port } = listening();
    const client = tcp();
    const [, accepted] = await Promise.all([s.connectAsync(client, loopback(port)), s.acceptAsync(l)]);
    s.close(l);
    return [client, accepted.fd];
  };
`;

describe('in a worker thread', () => {
  it('serves 500 concurrent echo clients, aborts, times out, rejects on close and on a refused connect', async () => {
    const { worker, messages, exited } = startWorker(
      `${workerHelpers}
      const results = {};
      // echo: 500 clients, every byte back
      const { fd: l, port } = listening();
      const clients = 500;
      const server = (async () => {
        const sessions = [];
        for (let i = 0; i < clients; i++) {
          const { fd } = await s.acceptAsync(l);
          sessions.push((async () => {
            const buffer = Buffer.alloc(2048);
            for (;;) { const n = await s.recvAsync(fd, buffer); if (n === 0) break; await s.sendAllAsync(fd, buffer, { length: n }); }
            s.close(fd);
          })());
        }
        await Promise.all(sessions);
      })();
      const echoed = await Promise.all(Array.from({ length: clients }, async (_, i) => {
        const fd = tcp();
        await s.connectAsync(fd, loopback(port));
        const payload = require('node:crypto').randomBytes(500 + ((i * 37) % 8000));
        await s.sendAllAsync(fd, payload);
        const back = await s.recvExactlyAsync(fd, payload.length);
        s.close(fd);
        return back.equals(payload);
      }));
      await server;
      results.echoed = echoed.filter(Boolean).length;
      // timeout and abort of a pending accept and recv
      results.acceptTimeout = await outcome(s.acceptAsync(l, { timeout: 10 }));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 5);
      results.acceptAbort = await outcome(s.acceptAsync(l, { signal: controller.signal }));
      const [a, b] = await pair();
      results.recvTimeout = await outcome(s.recvAsync(b, Buffer.alloc(1), { timeout: 10 }));
      // a pending connect: a full accept queue drops the SYN
      const full = listening(0);
      const first = tcp();
      await s.connectAsync(first, loopback(full.port));
      const second = tcp();
      results.connectTimeout = await outcome(s.connectAsync(second, loopback(full.port), { timeout: 30 }));
      // close while recvAsync waits
      const pending = outcome(s.recvAsync(b, Buffer.alloc(1)));
      await new Promise((resolve) => setImmediate(resolve));
      s.close(b);
      results.closedWhileWaiting = await pending;
      // many waits on one fd, one watcher
      const readers = Array.from({ length: 50 }, () => s.waitReadable(a)); // readable: its peer b is closed (EOF)
      results.manyWaits = s.watcherStats().waiters;
      await Promise.all(readers);
      // refused
      const bound = s.socket(s.AF_INET, s.SOCK_STREAM);
      s.bind(bound, loopback(0));
      const refused = tcp();
      results.refused = await outcome(s.connectAsync(refused, loopback(s.getsockname(bound).port)));
      for (const fd of [l, a, full.fd, first, second, bound, refused]) s.close(fd);
      results.stats = s.watcherStats();
      post(results);`,
    );
    expect(await exited).toBe(0);
    expect(messages).toHaveLength(1);
    const results = messages[0] as Record<string, unknown>;
    expect(results).toMatchObject({
      echoed: 500,
      acceptTimeout: { name: 'TimeoutError', code: 'ETIMEDOUT', syscall: 'accept' },
      acceptAbort: { name: 'AbortError', syscall: 'accept' },
      recvTimeout: { name: 'TimeoutError', syscall: 'recv' },
      connectTimeout: { name: 'TimeoutError', syscall: 'connect' },
      closedWhileWaiting: { code: 'EBADF', syscall: 'recv' },
      manyWaits: 50,
      refused: { code: 'ECONNREFUSED', syscall: 'connect' },
      stats: { watchers: 0, active: 0, waiters: 0 },
    });
  });

  it('ends on its own with sockets open (stopped watchers keep no loop alive)', async () => {
    const { worker, exited } = startWorker(
      `${workerHelpers}
      const [a, b] = await pair();
      await s.sendAllAsync(a, 'ping');
      await s.recvExactlyAsync(b, 4);
      await new Promise((resolve) => setImmediate(resolve)); // out of the readiness callback
      post({ fds: [a, b], stats: s.watcherStats() });`,
    );
    const message = (await firstMessage(worker)) as { fds: number[]; stats: { watchers: number; active: number } };
    expect(await exited).toBe(0);
    expect(message.stats.watchers).toBeGreaterThan(0);
    expect(message.stats.active).toBe(0);
    // The fds belong to the process, not to the worker: still open, still connected.
    const [a, b] = message.fds as [number, number];
    expect(fdOpen(a) && fdOpen(b)).toBe(true);
    await sendAllAsync(a, 'after the worker');
    expect((await recvExactlyAsync(b, 16)).toString()).toBe('after the worker');
    posix.close(a);
    posix.close(b);
  });

  it('process.exit() with calls pending exits cleanly', async () => {
    const { worker, exited } = startWorker(
      `${workerHelpers}
      const { fd: l } = listening();
      const [a, b] = await pair();
      s.acceptAsync(l).catch(() => {});
      s.recvAsync(b, Buffer.alloc(8)).catch(() => {});
      s.waitWritable(a).catch(() => {});
      setImmediate(() => { post({ fds: [l, a, b], stats: s.watcherStats() }); process.exit(7); });`,
    );
    const message = (await firstMessage(worker)) as { fds: number[]; stats: { waiters: number } };
    expect(await exited).toBe(7);
    expect(message.stats.waiters).toBeGreaterThanOrEqual(2);
    for (const fd of message.fds) {
      expect(fdOpen(fd)).toBe(true);
      posix.close(fd);
    }
  });

  it('terminate() with calls pending tears down cleanly, and the main thread can take over the sockets', async () => {
    for (let round = 0; round < 5; round++) {
      const { worker, exited } = startWorker(
        `${workerHelpers}
        const { fd: l, port } = listening();
        const [a, b] = await pair();
        s.acceptAsync(l).catch(() => {});
        s.recvAsync(b, Buffer.alloc(8)).catch(() => {});
        post({ fds: [l, a, b], port, stats: s.watcherStats() });`,
      );
      const message = (await firstMessage(worker)) as { fds: [number, number, number]; port: number; stats: { waiters: number } };
      expect(message.stats).toMatchObject({ waiters: 2 });
      await worker.terminate();
      expect(await exited).toBe(1);
      const [l, a, b] = message.fds;
      expect([l, a, b].every(fdOpen)).toBe(true);
      // The listening socket now serves the main thread's loop.
      const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
      const [, accepted] = await Promise.all([
        connectAsync(client, { family: 'AF_INET', address: '127.0.0.1', port: message.port }),
        acceptAsync(l),
      ]);
      for (const fd of [accepted.fd, client, l, a, b]) posix.close(fd);
    }
  });
});
