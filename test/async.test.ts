// The promise API on Node's event loop, against the kernel over loopback:
// many concurrent clients, abort and timeout of pending calls, close while
// waiting, many waits on one fd, and the loop never blocked or starved.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as posix from '../lib/posix.js';
import {
  AbortError,
  TimeoutError,
  acceptAsync,
  connectAsync,
  recvAsync,
  recvExactlyAsync,
  recvfromAsync,
  sendAllAsync,
  sendAllMaybeAsync,
  sendAsync,
  sendtoAsync,
  waitReadable,
  waitWritable,
  watcherStats,
} from '../lib/async.js';
import { EndOfStreamError } from '../lib/socket.js';
import { asyncSocketPair, expectNoLeaks } from './helpers/loopback.js';

const loopback = (port: number) => ({ family: 'AF_INET' as const, address: '127.0.0.1', port });

function listening(backlog = 1024): { fd: number; port: number } {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_NONBLOCK);
  posix.bind(fd, loopback(0));
  posix.listen(fd, backlog);
  const address = posix.getsockname(fd);
  if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
  return { fd, port: address.port };
}

function tcpSocket(): number {
  return posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_NONBLOCK);
}

/** A connected TCP pair over loopback made by the async calls, as raw fds: [client, server]. */
async function connectedPair(): Promise<[number, number]> {
  const { client, server } = await asyncSocketPair();
  return [client.detach(), server.detach()];
}

async function rejection(promise: Promise<unknown>): Promise<Error & Partial<posix.SyscallError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected the promise to reject');
}

// Every socket the suite opened is closed again, and no watcher is left behind.
expectNoLeaks({ watchers: true });

describe('an echo server on the event loop', () => {
  it('serves 500 concurrent clients in one process and echoes every byte', async () => {
    const clients = 500;
    const { fd: listenFd, port } = listening(1024);
    const serve = async (fd: number): Promise<void> => {
      const buffer = Buffer.allocUnsafe(4096);
      try {
        for (;;) {
          const n = await recvAsync(fd, buffer);
          if (n === 0) return;
          await sendAllAsync(fd, buffer, { length: n });
        }
      } finally {
        posix.close(fd);
      }
    };
    const server = (async () => {
      const sessions: Promise<void>[] = [];
      for (let i = 0; i < clients; i++) sessions.push(serve((await acceptAsync(listenFd)).fd));
      await Promise.all(sessions);
    })();
    const client = async (index: number): Promise<boolean> => {
      const fd = tcpSocket();
      try {
        await connectAsync(fd, loopback(port));
        // Sizes differ per client; several sends make the server see partial reads.
        const payload = randomBytes(1000 + ((index * 7919) % 20000));
        const third = Math.floor(payload.length / 3);
        await sendAllAsync(fd, payload.subarray(0, third));
        await sendAllAsync(fd, payload.subarray(third, 2 * third));
        await sendAllAsync(fd, payload, { offset: 2 * third });
        const echoed = await recvExactlyAsync(fd, payload.length);
        posix.shutdown(fd, posix.SHUT_WR);
        const after = await recvAsync(fd, Buffer.alloc(1)); // the server closes after our EOF
        return echoed.equals(payload) && after === 0;
      } finally {
        posix.close(fd);
      }
    };
    const results = await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
    await server;
    posix.close(listenFd);
    expect(results.filter((ok) => !ok)).toEqual([]);
    expect(watcherStats()).toEqual({ watchers: 0, active: 0, waiters: 0 });
  });

  it('keeps the loop running while a call waits (a timer fires before the connection comes)', async () => {
    const { fd: listenFd, port } = listening();
    const order: string[] = [];
    const accepted = acceptAsync(listenFd).then((a) => {
      order.push('accepted');
      return a;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    order.push('timer');
    const client = tcpSocket();
    await connectAsync(client, loopback(port));
    const { fd } = await accepted;
    expect(order).toEqual(['timer', 'accepted']);
    posix.close(fd);
    posix.close(client);
    posix.close(listenFd);
  });

  it('does not starve the loop when every recv succeeds at once', async () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const total = 20_000;
    posix.setsockopt(a, posix.SOL_SOCKET, posix.SO_SNDBUF, 1 << 20);
    expect(posix.send(a, Buffer.alloc(total))).toBe(total); // everything is queued before we read
    let immediateRan = false;
    setImmediate(() => {
      immediateRan = true;
    });
    const one = Buffer.alloc(1);
    let readsBeforeImmediate = -1;
    for (let i = 0; i < total; i++) {
      expect(await recvAsync(b, one)).toBe(1);
      if (immediateRan && readsBeforeImmediate < 0) readsBeforeImmediate = i;
    }
    expect(readsBeforeImmediate).toBeGreaterThan(0);
    expect(readsBeforeImmediate).toBeLessThan(total);
    posix.close(a);
    posix.close(b);
  });

  it('leaves the blocking mode of a data socket as it was', async () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const flags = () => posix.fcntl(b, posix.F_GETFL) & posix.O_NONBLOCK;
    expect(flags()).toBe(0);
    const pending = recvAsync(b, Buffer.alloc(8));
    posix.send(a, 'x');
    expect(await pending).toBe(1);
    await waitWritable(b);
    expect(flags()).toBe(0);
    posix.close(a);
    posix.close(b);
  });
});

describe('abort and timeout', () => {
  it('a pending accept rejects with TimeoutError, and with AbortError', async () => {
    const { fd } = listening();
    const timedOut = await rejection(acceptAsync(fd, { timeout: 20 }));
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect(timedOut).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT', errno: posix.ETIMEDOUT, syscall: 'accept' });
    expect(timedOut.message).toBe('accept: timed out after 20 ms');

    const controller = new AbortController();
    const pending = acceptAsync(fd, { signal: controller.signal });
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 5);
    const aborted = await rejection(pending);
    expect(aborted).toBeInstanceOf(AbortError);
    expect(aborted).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', syscall: 'accept' });
    expect(aborted.cause).toBe(reason);
    expect(watcherStats().waiters).toBe(0);
    posix.close(fd);
  });

  it('a pending recv rejects with TimeoutError, and with AbortError; the socket stays usable', async () => {
    const [client, server] = await connectedPair();
    const timedOut = await rejection(recvAsync(server, Buffer.alloc(16), { timeout: 10 }));
    expect(timedOut).toMatchObject({ code: 'ETIMEDOUT', syscall: 'recv' });

    const controller = new AbortController();
    const pending = recvAsync(server, Buffer.alloc(16), { signal: controller.signal });
    setTimeout(() => controller.abort(), 5);
    const aborted = await rejection(pending);
    expect(aborted).toMatchObject({ name: 'AbortError', syscall: 'recv' });
    expect(aborted.cause).toBeInstanceOf(DOMException); // the signal's default reason

    await sendAllAsync(client, 'still here');
    expect((await recvExactlyAsync(server, 10, { timeout: 10_000 })).toString()).toBe('still here');
    expect(watcherStats().waiters).toBe(0);
    posix.close(client);
    posix.close(server);
  });

  it('a pending connect rejects with TimeoutError, and with AbortError', async () => {
    // A full accept queue drops further SYNs: the next connect stays in SYN_SENT.
    const { fd: listenFd, port } = listening(0);
    const first = tcpSocket();
    await connectAsync(first, loopback(port));
    const second = tcpSocket();
    const timedOut = await rejection(connectAsync(second, loopback(port), { timeout: 50 }));
    expect(timedOut).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT', syscall: 'connect' });

    const third = tcpSocket();
    const controller = new AbortController();
    const pending = connectAsync(third, loopback(port), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect(await rejection(pending)).toMatchObject({ name: 'AbortError', syscall: 'connect' });
    for (const fd of [first, second, third, listenFd]) posix.close(fd);
  });

  it('an already aborted signal rejects before any system call', async () => {
    const [client, server] = await connectedPair();
    posix.send(client, 'data');
    const buffer = Buffer.alloc(4);
    const error = await rejection(recvAsync(server, buffer, { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ name: 'AbortError', syscall: 'recv' });
    expect(buffer.toString()).toBe('\0\0\0\0'); // the data was not consumed
    expect(await recvAsync(server, buffer)).toBe(4);
    posix.close(client);
    posix.close(server);
  });

  it('the timeout covers the whole call, not each wait', async () => {
    const [client, server] = await connectedPair();
    posix.send(client, 'half');
    const error = await rejection(recvExactlyAsync(server, 8, { timeout: 30 }));
    expect(error).toMatchObject({ name: 'TimeoutError', syscall: 'recv' });
    posix.close(client);
    posix.close(server);
  });

  it('a call that completes clears its timer and abort listener', async () => {
    const [client, server] = await connectedPair();
    const controller = new AbortController();
    posix.send(client, 'ok');
    expect(await recvAsync(server, Buffer.alloc(2), { signal: controller.signal, timeout: 60_000 })).toBe(2);
    controller.abort(); // nothing is listening any more: no rejection, no throw
    posix.close(client);
    posix.close(server);
  });

  it('rejects bad options with TypeError and RangeError', async () => {
    const [client, server] = await connectedPair();
    await expect(recvAsync(server, Buffer.alloc(1), { waitFirst: 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(sendAllAsync(server, Buffer.alloc(1), { waitFirst: 1 as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(recvAsync(server, Buffer.alloc(1), { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(recvAsync(server, Buffer.alloc(1), { timeout: Number.NaN })).rejects.toThrow(RangeError);
    await expect(recvAsync(server, Buffer.alloc(1), { signal: {} as AbortSignal })).rejects.toThrow(TypeError);
    await expect(recvAsync(server, Buffer.alloc(0))).rejects.toThrow(RangeError);
    await expect(recvAsync(-1, Buffer.alloc(1))).rejects.toThrow(RangeError);
    posix.close(client);
    posix.close(server);
  });

  it('a bad fd number rejects, never throws, whichever order the call takes (wait-first, the waits, with a deadline)', async () => {
    // Each call is made inside the arrow, so a synchronous throw is caught here and fails the test.
    const outcome = async (call: () => Promise<unknown> | number): Promise<string> => {
      let pending: Promise<unknown> | number;
      try {
        pending = call();
      } catch (error) {
        return `threw ${(error as Error).name}`;
      }
      return Promise.resolve(pending).then(
        () => 'resolved',
        (error: Error) => `${error.name}: ${error.message}`,
      );
    };
    const outOfRange = 'RangeError: fd is out of range (0..2147483647), got -1';
    const notInteger = 'TypeError: fd must be an integer, got 1.5';
    expect(await outcome(() => recvAsync(-1, Buffer.alloc(1), { waitFirst: true }))).toBe(outOfRange);
    expect(await outcome(() => recvAsync(1.5, Buffer.alloc(1), { waitFirst: true }))).toBe(notInteger);
    expect(await outcome(() => recvExactlyAsync(-1, 4, { waitFirst: true }))).toBe(outOfRange);
    expect(await outcome(() => acceptAsync(-1, { waitFirst: true }))).toBe(outOfRange);
    expect(await outcome(() => sendAllMaybeAsync(-1, Buffer.alloc(1), { waitFirst: true }))).toBe(outOfRange);
    expect(await outcome(() => waitReadable(-1))).toBe(outOfRange);
    expect(await outcome(() => waitWritable(1.5, { timeout: 60_000 }))).toBe(notInteger); // its deadline goes with it
    expect(await outcome(() => recvAsync(-1, Buffer.alloc(1)))).toBe(outOfRange); // try-first, as before
    expect(watcherStats()).toEqual({ watchers: 0, active: 0, waiters: 0 });
  });
});

describe('waitFirst: readiness before the first attempt', () => {
  it('every call that takes it waits, then does what it would have done at once', async () => {
    const [client, server] = await connectedPair();
    // Data already there: the wait ends in the next loop turn and the recv takes it.
    posix.send(client, 'hello');
    const buffer = Buffer.alloc(8);
    expect(await recvAsync(server, buffer, { waitFirst: true })).toBe(5);
    expect(buffer.subarray(0, 5).toString()).toBe('hello');
    // Data that comes later, with offset and length.
    const later = recvAsync(server, buffer, { waitFirst: true, offset: 2, length: 3 });
    setImmediate(() => posix.send(client, 'abcdef'));
    expect(await later).toBe(3);
    expect(buffer.subarray(2, 5).toString()).toBe('abc');
    expect((await recvExactlyAsync(server, 3, { waitFirst: true })).toString()).toBe('def');
    // waitFirst: false is the default, try-first.
    posix.send(client, 'x');
    expect(await recvAsync(server, buffer, { waitFirst: false })).toBe(1);
    expect(await sendAllAsync(server, 'pong', { waitFirst: true })).toBe(4);
    expect(await sendAsync(server, 'pong', { waitFirst: true })).toBe(4);
    expect((await recvExactlyAsync(client, 8)).toString()).toBe('pongpong');
    posix.close(client);
    posix.close(server);

    const { fd: listenFd, port } = listening();
    const accepting = acceptAsync(listenFd, { waitFirst: true });
    const peer = tcpSocket();
    await connectAsync(peer, loopback(port));
    const { fd } = await accepting;
    for (const f of [fd, peer, listenFd]) posix.close(f);
  });

  it('an aborted signal still wins before any wait or system call; a close while it waits is EBADF', async () => {
    const [client, server] = await connectedPair();
    posix.send(client, 'data');
    const buffer = Buffer.alloc(4);
    expect(await rejection(recvAsync(server, buffer, { waitFirst: true, signal: AbortSignal.abort() }))).toMatchObject({ name: 'AbortError', syscall: 'recv' });
    expect(buffer.toString()).toBe('\0\0\0\0');
    expect(await recvAsync(server, buffer, { waitFirst: true, timeout: 60_000 })).toBe(4);
    const pending = recvAsync(server, buffer, { waitFirst: true });
    posix.close(server);
    expect(await rejection(pending)).toMatchObject({ code: 'EBADF', syscall: 'recv' });
    posix.close(client);
  });
});

describe('closing a watched fd', () => {
  it('close() while recvAsync waits rejects it with EBADF, and the fd number is reusable at once', async () => {
    const [client, server] = await connectedPair();
    const [fresh, peer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM); // made now, so they cannot take server's number
    const pending = recvAsync(server, Buffer.alloc(16));
    await new Promise((resolve) => setImmediate(resolve)); // the wait is registered and the loop has polled
    const before = watcherStats();
    expect(before.waiters).toBe(1);
    posix.close(server);
    const error = await rejection(pending);
    expect(error).toMatchObject({ code: 'EBADF', errno: posix.EBADF, syscall: 'recv' });
    expect(error.message).toBe(`recv: fd ${server} was closed while a wait on it was pending (Bad file descriptor)`);
    expect(watcherStats()).toMatchObject({ watchers: before.watchers - 1, waiters: 0 });

    // The same number for a new socket (F_DUPFD takes the lowest free number >= server, which is server).
    const again = posix.fcntl(fresh, posix.F_DUPFD, server);
    expect(again).toBe(server);
    const received = recvAsync(again, Buffer.alloc(4));
    posix.send(peer, 'new!');
    expect(await received).toBe(4);
    for (const fd of [client, again, fresh, peer]) posix.close(fd);
  });

  it('close() rejects every kind of wait pending on the fd', async () => {
    const { fd } = listening();
    const waits = [acceptAsync(fd), waitReadable(fd), acceptAsync(fd, { timeout: 60_000 })];
    await new Promise((resolve) => setImmediate(resolve));
    posix.close(fd);
    const errors = await Promise.all(waits.map(rejection));
    expect(errors.map((e) => [e.code, e.syscall])).toEqual([
      ['EBADF', 'accept'],
      ['EBADF', 'poll'],
      ['EBADF', 'accept'],
    ]);
  });

  it('dup2() onto a watched fd rejects its waits (dup2 closes it)', async () => {
    const [client, server] = await connectedPair();
    const pending = recvAsync(server, Buffer.alloc(1));
    const [pipeRead, pipeWrite] = posix.pipe();
    posix.dup2(pipeRead, server);
    expect(await rejection(pending)).toMatchObject({ code: 'EBADF', syscall: 'recv' });
    for (const fd of [client, server, pipeRead, pipeWrite]) posix.close(fd);
  });
});

describe('many waits on one fd', () => {
  it('share one watcher; readers and writers are told apart', async () => {
    const [client, server] = await connectedPair();
    const before = watcherStats().watchers;
    const readers = Array.from({ length: 100 }, () => waitReadable(server));
    const writers = Array.from({ length: 100 }, () => waitWritable(server));
    expect(watcherStats()).toMatchObject({ waiters: 200, watchers: before + 1 });
    await Promise.all(writers); // a fresh socket has room to send at once
    expect(watcherStats().waiters).toBe(100);
    posix.send(client, 'x');
    await Promise.all(readers);
    expect(watcherStats().waiters).toBe(0);
    posix.close(client);
    posix.close(server);
  });

  it('aborting one of many waits on an fd rejects that one only', async () => {
    const [client, server] = await connectedPair();
    const controller = new AbortController();
    const others = Array.from({ length: 10 }, () => waitReadable(server));
    const aborted = waitReadable(server, { signal: controller.signal });
    const timedOut = waitReadable(server, { timeout: 1 });
    expect(await rejection(timedOut)).toMatchObject({ name: 'TimeoutError', syscall: 'poll' });
    controller.abort();
    expect(await rejection(aborted)).toMatchObject({ name: 'AbortError', syscall: 'poll' });
    expect(watcherStats().waiters).toBe(10);
    posix.send(client, 'x');
    await Promise.all(others);
    expect(watcherStats().waiters).toBe(0);
    posix.close(client);
    posix.close(server);
  });

  it('many recvfromAsync on one UDP socket each take exactly one datagram', async () => {
    const receiver = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    posix.bind(receiver, loopback(0));
    const address = posix.getsockname(receiver);
    if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
    const sender = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    posix.bind(sender, loopback(0));
    const count = 50;
    const receiving = Array.from({ length: count }, () => {
      const buffer = Buffer.alloc(64);
      return recvfromAsync(receiver, buffer).then(({ bytes, address: from }) => ({ text: buffer.toString('utf8', 0, bytes), from }));
    });
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < count; i++) expect(await sendtoAsync(sender, `datagram ${i}`, loopback(address.port))).toBe(`datagram ${i}`.length);
    const received = await Promise.all(receiving);
    expect(received.map((r) => r.text).sort()).toEqual(Array.from({ length: count }, (_, i) => `datagram ${i}`).sort());
    expect(new Set(received.map((r) => JSON.stringify(r.from))).size).toBe(1);
    expect(received[0]!.from).toEqual(posix.getsockname(sender));
    posix.close(receiver);
    posix.close(sender);
  });
});

describe('connect, send and receive', () => {
  it('connect to a port where nobody listens rejects with ECONNREFUSED', async () => {
    const bound = posix.socket(posix.AF_INET, posix.SOCK_STREAM); // holds the port, never listens
    posix.bind(bound, loopback(0));
    const address = posix.getsockname(bound);
    if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
    const fd = tcpSocket();
    const error = await rejection(connectAsync(fd, loopback(address.port)));
    expect(error).toMatchObject({ code: 'ECONNREFUSED', errno: posix.ECONNREFUSED, syscall: 'connect' });
    expect(error.message).toBe('connect: Connection refused');
    posix.close(fd);
    posix.close(bound);
  });

  it('sendAllAsync waits for room when the peer reads slowly, and every byte arrives in order', async () => {
    const [client, server] = await connectedPair();
    // 32 MiB is more than loopback's socket buffers hold: the sender must wait for room.
    const payload = randomBytes(32 << 20);
    const sending = sendAllAsync(client, payload);
    const received = await recvExactlyAsync(server, payload.length);
    expect(await sending).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
    posix.close(client);
    posix.close(server);
  });

  it('sendAllMaybeAsync returns the count itself when every byte is taken at once, a promise when it must wait', async () => {
    const [client, server] = await connectedPair();
    // At once: a number, and the bytes (a range of a buffer, then a string) are on their way.
    const request = Buffer.from('..hello..');
    const now = sendAllMaybeAsync(client, request, { offset: 2, length: 5 });
    expect(now).toBe(5);
    expect(sendAllMaybeAsync(client, ' world')).toBe(6);
    expect((await recvExactlyAsync(server, 11)).toString()).toBe('hello world');
    // More than loopback's buffers hold: a promise that resolves once every byte was taken, in order.
    const payload = randomBytes(32 << 20);
    const later = sendAllMaybeAsync(client, payload);
    expect(later).toBeInstanceOf(Promise);
    const received = await recvExactlyAsync(server, payload.length);
    expect(await later).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
    // A guard makes it a call of its own, as sendAllAsync: a promise, even when it could send at once.
    const guarded = sendAllMaybeAsync(client, 'abc', { timeout: 10_000 });
    expect(guarded).toBeInstanceOf(Promise);
    expect(await guarded).toBe(3);
    expect((await recvExactlyAsync(server, 3)).toString()).toBe('abc');
    posix.close(client);
    posix.close(server);
  });

  it('sendAllMaybeAsync never throws: errors, bad ranges and an aborted signal reject its promise, before any send', async () => {
    const [client, server] = await connectedPair();
    const aborted = sendAllMaybeAsync(client, 'never', { signal: AbortSignal.abort() });
    expect(aborted).toBeInstanceOf(Promise);
    expect(await rejection(aborted as Promise<number>)).toMatchObject({ name: 'AbortError', syscall: 'send' });
    const badRange = sendAllMaybeAsync(client, Buffer.alloc(4), { offset: 3, length: 2 });
    expect(await rejection(badRange as Promise<number>)).toBeInstanceOf(RangeError);
    // A range whose getter throws: read inside the call's try, so it rejects too.
    const throwing = sendAllMaybeAsync(client, Buffer.alloc(4), {
      get length(): number {
        throw new Error('length getter');
      },
    });
    expect(await rejection(throwing as Promise<number>)).toMatchObject({ message: 'length getter' });
    expect(sendAllMaybeAsync(client, 'ok')).toBe(2);
    // Only 'ok' arrived: nothing of the aborted call or of the bad range was sent.
    posix.shutdown(client, posix.SHUT_WR);
    expect((await recvExactlyAsync(server, 2)).toString()).toBe('ok');
    expect(await recvAsync(server, Buffer.alloc(8))).toBe(0);
    posix.close(client);
    const closed = sendAllMaybeAsync(client, 'x');
    expect(await rejection(closed as Promise<number>)).toMatchObject({ code: 'EBADF', syscall: 'send' });
    posix.close(server);
  });

  it('sendAsync returns a partial count and recvAsync honours offset and length', async () => {
    const [client, server] = await connectedPair();
    expect(await sendAsync(client, Buffer.from('--abc--'), { offset: 2, length: 3 })).toBe(3);
    const buffer = Buffer.from('xxxxxx');
    expect(await recvAsync(server, buffer, { offset: 1, length: 3 })).toBe(3);
    expect(buffer.toString()).toBe('xabcxx');
    posix.close(client);
    posix.close(server);
  });

  it('recvExactlyAsync rejects with EndOfStreamError when the peer closes early', async () => {
    const [client, server] = await connectedPair();
    posix.send(client, 'abc');
    posix.close(client);
    const error = await rejection(recvExactlyAsync(server, 10));
    expect(error).toBeInstanceOf(EndOfStreamError);
    expect(error).toMatchObject({ received: 3, expected: 10 });
    posix.close(server);
  });

  it('recvAsync reports ECONNRESET from a peer that reset the connection', async () => {
    const [client, server] = await connectedPair();
    const pending = recvAsync(server, Buffer.alloc(4));
    posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_LINGER, { onoff: 1, linger: 0 });
    posix.close(client); // linger 0: RST
    expect(await rejection(pending)).toMatchObject({ code: 'ECONNRESET', syscall: 'recv' });
    posix.close(server);
  });

  it('acceptAsync makes a blocking listener non-blocking and returns non-blocking, close-on-exec fds', async () => {
    const listenFd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(listenFd, loopback(0));
    posix.listen(listenFd);
    const address = posix.getsockname(listenFd);
    if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
    const accepting = acceptAsync(listenFd);
    expect(posix.fcntl(listenFd, posix.F_GETFL) & posix.O_NONBLOCK).not.toBe(0);
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    await connectAsync(client, loopback(address.port));
    const { fd, address: peer } = await accepting;
    expect(peer).toEqual(posix.getsockname(client));
    expect(posix.fcntl(fd, posix.F_GETFL) & posix.O_NONBLOCK).not.toBe(0);
    expect(posix.fcntl(fd, posix.F_GETFD) & posix.FD_CLOEXEC).not.toBe(0);
    for (const f of [fd, client, listenFd]) posix.close(f);
  });
});

describe('the Socket class', () => {
  it('for await (const conn of server.connections()) serves clients and ends when the server closes', async () => {
    const { Socket } = await import('../lib/socket.js');
    const server = Socket.tcp().bind(loopback(0)).listen();
    const address = server.localAddress;
    if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
    const greeted: string[] = [];
    const serving = (async () => {
      for await (const conn of server.connections()) {
        const name = (await conn.recvExactlyAsync(5)).toString();
        await conn.sendAllAsync(`hello ${name}`);
        greeted.push(name);
        conn.close();
        if (greeted.length === 3) server.close(); // the loop ends by itself
      }
      return 'ended';
    })();
    const replies = [];
    for (const name of ['alice', 'bobby', 'carol']) {
      using client = Socket.tcp();
      await client.connectAsync(address, { timeout: 10_000 });
      await client.sendAllAsync(name);
      replies.push((await client.recvExactlyAsync(11)).toString());
    }
    expect(await serving).toBe('ended');
    expect(replies).toEqual(['hello alice', 'hello bobby', 'hello carol']);
    expect(greeted).toEqual(['alice', 'bobby', 'carol']);
  });

  it('async methods of a closed Socket reject with EBADF instead of throwing', async () => {
    const { Socket } = await import('../lib/socket.js');
    const socket = Socket.tcp();
    socket.close();
    const pending = socket.recvAsync(Buffer.alloc(1));
    expect(pending).toBeInstanceOf(Promise);
    expect(await rejection(pending)).toMatchObject({ code: 'EBADF', syscall: 'recv' });
  });

  it('acceptAsync, UDP sendtoAsync/recvfromAsync and the waits on a Socket', async () => {
    const { Socket } = await import('../lib/socket.js');
    using server = Socket.tcp().bind(loopback(0)).listen();
    using client = Socket.tcp();
    const [, accepted] = await Promise.all([client.connectAsync(server.localAddress as { family: 'AF_INET'; address: string; port: number }), server.acceptAsync()]);
    using conn = accepted.socket;
    expect(accepted.address).toEqual(client.localAddress);
    await conn.waitWritable();
    expect(await client.sendAsync('ab')).toBe(2);
    await conn.waitReadable();
    expect(await conn.recvAsync(Buffer.alloc(2))).toBe(2);

    using a = Socket.udp().bind(loopback(0));
    using b = Socket.udp().bind(loopback(0));
    expect(await a.sendtoAsync('datagram', b.localAddress as { family: 'AF_INET'; address: string; port: number })).toBe(8);
    const buffer = Buffer.alloc(16);
    const { bytes, address } = await b.recvfromAsync(buffer);
    expect(buffer.toString('utf8', 0, bytes)).toBe('datagram');
    expect(address).toEqual(a.localAddress);
  });
});

describe('TcpClient and TcpServer, async', () => {
  it('acceptAsync, connectAsync (by IP and by name), sendAsync, recvAsync, recvExactlyAsync', async () => {
    const { TcpClient } = await import('../lib/tcp-client.js');
    const { TcpServer } = await import('../lib/tcp-server.js');
    using server = new TcpServer({ bindAddress: '127.0.0.1' }).initServer(0);
    using byIp = new TcpClient();
    using byName = new TcpClient();
    const [first] = await Promise.all([server.acceptAsync({ timeout: 10_000 }), byIp.connectAsync('127.0.0.1', server.port)]);
    expect(server.clientIp()).toBe('127.0.0.1');
    expect(await byIp.sendAsync('hello server')).toBe(12);
    expect((await server.recvExactlyAsync(12)).toString()).toBe('hello server');
    expect(await server.sendAsync('hi')).toBe(2);
    expect((await byIp.recvAsync(100))?.toString()).toBe('hi');

    const [second] = await Promise.all([server.acceptAsync(), byName.connectAsync('localhost', server.port)]);
    expect(second).not.toBe(first);
    await byName.sendAsync('by name');
    expect((await server.recvAsync(100))?.toString()).toBe('by name'); // the current client is the latest
    byName.close();
    expect(await server.recvAsync(100)).toBeNull();
    expect((await byIp.recvExactlyAsync(0)).length).toBe(0);
    expect(server.connections.size).toBe(2);
  });

  it('connectAsync to a closed port rejects ECONNREFUSED and leaves the client unconnected', async () => {
    const { TcpClient } = await import('../lib/tcp-client.js');
    const bound = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(bound, loopback(0));
    const address = posix.getsockname(bound);
    if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
    using client = new TcpClient();
    expect(await rejection(client.connectAsync('127.0.0.1', address.port))).toMatchObject({ code: 'ECONNREFUSED' });
    expect(client.connected).toBe(false);
    expect(await rejection(client.recvAsync(1))).toMatchObject({ code: 'ENOTCONN' });
    posix.close(bound);
  });
});

describe('acceptAsync peer addresses', () => {
  // IPv4 peers are decoded in JS from the sockaddr_in tryAccept copies out;
  // every other family comes back as native builds it. Checked against the
  // client's own getsockname().
  it('gives an IPv4 peer bound to 127.0.0.2, an IPv6 peer and a Unix-domain peer exactly as the client names itself', async () => {
    const cases: { family: number; listen: posix.AddressInput; client: posix.AddressInput }[] = [
      { family: posix.AF_INET, listen: { family: 'AF_INET', address: '127.0.0.1', port: 0 }, client: { family: 'AF_INET', address: '127.0.0.2', port: 0 } },
      { family: posix.AF_INET6, listen: { family: 'AF_INET6', address: '::1', port: 0 }, client: { family: 'AF_INET6', address: '::1', port: 0 } },
      {
        family: posix.AF_UNIX,
        listen: { family: 'AF_UNIX', path: `\0sockfd-accept-peer-${process.pid}` },
        client: { family: 'AF_UNIX', path: `\0sockfd-accept-peer-client-${process.pid}` },
      },
    ];
    for (const { family, listen, client: clientAddress } of cases) {
      const listenFd = posix.socket(family, posix.SOCK_STREAM);
      posix.bind(listenFd, listen);
      posix.listen(listenFd);
      const accepting = acceptAsync(listenFd);
      const client = posix.socket(family, posix.SOCK_STREAM);
      posix.bind(client, clientAddress);
      await connectAsync(client, posix.getsockname(listenFd) as posix.AddressInput);
      const { fd, address } = await accepting;
      expect(address).toEqual(posix.getsockname(client));
      expect(posix.getpeername(fd)).toEqual(address);
      for (const f of [fd, client, listenFd]) posix.close(f);
    }
  });
});
