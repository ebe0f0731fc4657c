// The batched readiness interface (lib/readiness.ts, native/readiness.cc):
// every ready fd of a loop turn in one JS call, handlers by fd with stale
// events of a reused fd number dropped, the promise form, workers, and a
// Readiness that does not keep the process alive when idle.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import * as posix from '../lib/posix.js';
import { READABLE, Readiness, WRITABLE, recvNonBlocking, sendNonBlocking } from '../lib/readiness.js';

const run = promisify(execFile);
const dist = join(import.meta.dirname, '..', 'dist', 'lib');

function pair(): [number, number] {
  const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM | posix.SOCK_NONBLOCK, 0);
  return [a!, b!];
}

/** Resolves when `check()` is true, polling on the event loop (bounded). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('Readiness', () => {
  it('handles every fd that is ready in one loop turn in one batch, before any microtask runs', async () => {
    const readiness = new Readiness();
    const pairs = Array.from({ length: 20 }, pair);
    const seen: number[] = [];
    let seenWhenMicrotaskRan = -1;
    const buffer = Buffer.alloc(8);
    try {
      for (const [, b] of pairs)
        readiness.watch(b, READABLE, (events, fd) => {
          expect(events & READABLE).toBe(READABLE);
          expect(recvNonBlocking(fd, buffer)).toBe(1);
          if (seen.length === 0) queueMicrotask(() => (seenWhenMicrotaskRan = seen.length));
          seen.push(fd);
        });
      for (const [a] of pairs) posix.send(a, 'x');
      await until(() => seen.length === pairs.length, 'every handler');
      // The microtask queued by the first handler ran only after the whole batch.
      expect(seenWhenMicrotaskRan).toBe(pairs.length);
      expect(new Set(seen)).toEqual(new Set(pairs.map(([, b]) => b)));
      // Level-triggered: nothing left unread, so no handler runs again.
      const count = seen.length;
      await new Promise((r) => setTimeout(r, 20));
      expect(seen.length).toBe(count);
    } finally {
      readiness.close();
      for (const [a, b] of pairs) posix.close(a), posix.close(b);
    }
  });

  it('never gives a new fd the events of an older file that had the same number', async () => {
    const readiness = new Readiness();
    const [oldPeer, watched] = pair();
    const old: number[] = [];
    readiness.watch(watched, READABLE, () => old.push(1));
    const keep = posix.dup(watched); // the old file stays open (as in a forked child), so epoll keeps reporting it
    posix.close(watched); // the mistake unwatch() prevents: close without unwatch
    readiness.unwatch(watched); // (EBADF/ENOENT inside: nothing to undo)
    const [newPeer, reused] = pair();
    const fresh: number[] = [];
    try {
      // A new pair reuses the lowest free number, which is the closed one.
      expect([reused, newPeer]).toContain(watched);
      const target = reused === watched ? reused : newPeer;
      const writer = target === reused ? newPeer : reused;
      readiness.watch(target, READABLE, () => {
        fresh.push(recvNonBlocking(target, Buffer.alloc(4)));
      });
      // Readiness of the old file, reported under the same number; then a marker
      // on another pair, so that once the marker's handler ran, the old file's
      // report has been dispatched (same batch or an earlier one).
      const [markerPeer, marker] = pair();
      let marked = false;
      readiness.watch(marker, READABLE, () => {
        marked = true;
        readiness.unwatch(marker);
      });
      posix.send(oldPeer, 'old');
      posix.send(markerPeer, 'm');
      await until(() => marked, 'the marker');
      expect(fresh).toEqual([]); // the stale report reached no handler
      posix.close(markerPeer);
      posix.close(marker);
      posix.send(writer, 'new');
      await until(() => fresh.length > 0, 'the new handler');
      expect(fresh[0]).toBe(3);
      expect(old).toEqual([]);
      readiness.unwatch(target);
    } finally {
      readiness.close();
      for (const fd of [oldPeer, keep, newPeer, reused]) posix.close(fd);
    }
  });

  it('wait() is the promise form; modify() changes the events', async () => {
    const readiness = new Readiness();
    const [a, b] = pair();
    try {
      expect(await readiness.wait(a, WRITABLE)).toBe(WRITABLE);
      const pending = readiness.wait(b, READABLE);
      expect(sendNonBlocking(a, 'ping')).toBe(4);
      expect((await pending) & READABLE).toBe(READABLE);
      expect(readiness.watching(b)).toBe(false);
      let calls = 0;
      readiness.watch(b, WRITABLE, () => {
        calls++;
        readiness.modify(b, READABLE); // data is there: READABLE comes next
      });
      await until(() => calls === 2, 'writable, then readable');
      readiness.unwatch(b);
      expect(() => readiness.modify(b, READABLE)).toThrow(/not watched/);
    } finally {
      readiness.close();
      posix.close(a);
      posix.close(b);
    }
    expect(() => readiness.watch(a, READABLE, () => undefined)).toThrow(/closed/);
  });

  it('works in a worker, whose exit closes what it left open', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       (async () => {
         const posix = await import(${JSON.stringify(join(dist, 'posix.js'))});
         const { Readiness, READABLE, recvNonBlocking } = await import(${JSON.stringify(join(dist, 'readiness.js'))});
         const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM | posix.SOCK_NONBLOCK, 0);
         const readiness = new Readiness();
         readiness.watch(b, READABLE, () => {
           const buffer = Buffer.alloc(8);
           parentPort.postMessage(buffer.toString('utf8', 0, recvNonBlocking(b, buffer)));
           process.exit(0); // still watching: the environment's cleanup closes the Readiness
         });
         posix.send(a, 'worker');
       })();`,
      { eval: true },
    );
    // Both listeners now, before the first await: when this thread is busy
    // (a loaded machine) until the worker is gone, Node emits the worker's last
    // message and then 'exit' in one callback (its exit drains the port first),
    // and an 'exit' listener added after `await message` would never be called.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(message).toBe('worker');
    expect(await exited).toBe(0);
  });

  it('keeps the process alive only while it watches something', async () => {
    const script = `
      import * as posix from ${JSON.stringify(join(dist, 'posix.js'))};
      import { Readiness, READABLE } from ${JSON.stringify(join(dist, 'readiness.js'))};
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM | posix.SOCK_NONBLOCK, 0);
      const readiness = new Readiness();
      readiness.watch(b, READABLE, () => { console.log('ready'); readiness.unwatch(b); });
      setTimeout(() => posix.send(a, 'x'), 50);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
    expect(stdout).toBe('ready\n');
  });
});
