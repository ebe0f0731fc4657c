// Issue 10, item 7: an async call never acts on an fd number after that fd
// was closed through sockfd, in any state of the call, and an abort that
// comes before the system call always wins. The reused number is the trap:
// the next socket gets it at once, so a call that resumes on the number
// would read (or write) another connection's bytes.
import { describe, expect, it } from 'vitest';
import { setMaxListeners } from 'node:events';
import * as posix from '../lib/posix.js';
import { AbortError, recvAsync, sendAllAsync, waitReadable } from '../lib/async.js';
import { binding } from '../lib/native.js';
import { expectNoLeaks } from './helpers/loopback.js';

const rawWait = binding.asyncWait as (fd: number, events: number, id: number) => Promise<number>;
const READABLE = (binding.asyncEvents as { readable: number }).readable;

/** A socketpair whose first fd has the number `fd` (free right now); its peer, and nothing else left open. */
function pairOnNumber(fd: number): [number, number] {
  const extra: number[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
      if (a === fd) return [a, b];
      if (b === fd) return [b, a];
      extra.push(a, b);
    }
    throw new Error(`fd ${fd} did not come back within 64 socketpairs`);
  } finally {
    for (const e of extra) posix.close(e);
  }
}

/** Everything readable on `fd` right now (non-blocking). */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = posix.recv(fd, buffer, posix.MSG_DONTWAIT);
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    } catch (error) {
      if (posix.isSyscallError(error, 'EAGAIN')) break;
      throw error;
    }
  }
  return Buffer.concat(chunks);
}

/** Settles every promise: the values of the fulfilled, the errors of the rejected. */
async function outcomes<T>(promises: Promise<T>[]): Promise<{ values: T[]; errors: (Error & { code?: string })[] }> {
  const results = await Promise.allSettled(promises);
  return {
    values: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : [])),
  };
}

// The suite leaks nothing: every fd it opened is closed again, no poll watcher is left.
expectNoLeaks({ watchers: true });

describe('the setImmediate yield after 1,024 immediate results', () => {
  it('a call yielding when its fd is closed and the number reused rejects with EBADF and reads nothing of the new socket', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const calls = 2000; // more than the budget: whatever the count before, some of them yield
    expect(posix.send(aPeer, Buffer.alloc(calls, 0x41))).toBe(calls);
    const pending = Array.from({ length: calls }, () => recvAsync(a, Buffer.alloc(1)).then(() => 'A'));
    posix.close(a);
    posix.close(aPeer);
    const [reused, reusedPeer] = pairOnNumber(a);
    const foreign = Buffer.alloc(4096, 0x46);
    posix.send(reusedPeer, foreign);

    const { values, errors } = await outcomes(pending);
    expect(values.length).toBeLessThanOrEqual(1024);
    expect(values.length + errors.length).toBe(calls);
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((e) => `${e.code} ${e.message}`))).toEqual(
      new Set([`EBADF recv: fd ${a} was closed (or handed over) while the call was pending (Bad file descriptor)`]),
    );
    expect(drain(reused).equals(foreign)).toBe(true); // every foreign byte is still there
    posix.close(reused);
    posix.close(reusedPeer);
  });

  it('an abort during the yield wins: the yielding calls reject with AbortError and leave their bytes', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const calls = 2000;
    expect(posix.send(aPeer, Buffer.alloc(calls, 0x41))).toBe(calls);
    const controller = new AbortController();
    setMaxListeners(calls, controller.signal);
    const pending = Array.from({ length: calls }, () => recvAsync(a, Buffer.alloc(1), { signal: controller.signal }));
    controller.abort(new Error('enough'));

    const { values, errors } = await outcomes(pending);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e instanceof AbortError && e.message === 'recv: the operation was aborted')).toBe(true);
    expect(values.length + errors.length).toBe(calls);
    expect(drain(a).length).toBe(calls - values.length); // an aborted call took no byte
    posix.close(a);
    posix.close(aPeer);
  });

  it('sendAllAsync yielding when its fd is closed and reused writes nothing to the new socket', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const calls = 2000;
    const pending = Array.from({ length: calls }, () => sendAllAsync(a, 'x', { timeout: 10_000 }));
    posix.close(a);
    const [reused, reusedPeer] = pairOnNumber(a);
    const { values, errors } = await outcomes(pending);
    expect(values.length + errors.length).toBe(calls);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.code === 'EBADF')).toBe(true);
    expect(drain(reusedPeer).length).toBe(0); // nothing arrived on the socket that got the number
    expect(drain(aPeer).length).toBe(values.length);
    for (const fd of [reused, reusedPeer, aPeer]) posix.close(fd);
  });
});

describe('readiness delivered, continuation not yet run', () => {
  // Two waiters of one fd are resolved in one readiness callback; the first
  // reaction (a raw wait registered first) runs before the second call's
  // continuation and closes the fd, or aborts the call.
  it('a close (and reuse of the number) in between makes the call reject with EBADF, not read the new socket', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const foreign = Buffer.alloc(1000, 0x46);
    let reused: [number, number] | undefined;
    const closer = rawWait(a, READABLE, 4_000_000_000).then(() => {
      posix.close(a);
      reused = pairOnNumber(a);
      posix.send(reused[1], foreign);
    });
    const call = recvAsync(a, Buffer.alloc(4096));
    const read = waitReadable(a);
    posix.send(aPeer, 'mine');
    await closer;
    const { values, errors } = await outcomes([call, read.then(() => -1)]);
    expect(values).toEqual([]);
    expect(errors.map((e) => `${e.code} ${e.message}`)).toEqual([
      `EBADF recv: fd ${a} was closed (or handed over) while the call was pending (Bad file descriptor)`,
      `EBADF poll: fd ${a} was closed (or handed over) while the call was pending (Bad file descriptor)`,
    ]);
    expect(drain(reused![0]).equals(foreign)).toBe(true);
    for (const fd of [...reused!, aPeer]) posix.close(fd);
  });

  it('an abort in between wins: AbortError, and the bytes stay in the socket', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const controller = new AbortController();
    const aborter = rawWait(a, READABLE, 4_000_000_001).then(() => controller.abort());
    const call = recvAsync(a, Buffer.alloc(4096), { signal: controller.signal });
    posix.send(aPeer, 'mine');
    await aborter;
    const { values, errors } = await outcomes([call]);
    expect(values).toEqual([]);
    expect(errors[0]).toBeInstanceOf(AbortError);
    expect(drain(a).toString()).toBe('mine');
    posix.close(a);
    posix.close(aPeer);
  });
});
