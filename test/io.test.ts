// lib/io.ts, the one I/O core: whole sends and exact reads over real loopback
// and socketpair sockets, with and without bounds on the waits; end of stream,
// the two kinds of timeout, byte ranges, and connect within a bound.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import * as posix from '../lib/posix.js';
import { EndOfStreamError } from '../lib/errors.js';
import { TimeoutError } from '../lib/async.js';
import { IdleTimeoutError, connectWithin, recvExactly, recvFull, recvSome, sendAll, untilReady, writeAll } from '../lib/io.js';
import { closeAll, expectNoLeaks, listener, tcpPair } from './helpers/loopback.js';

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

/** A socketpair whose send buffer is full: the next send on `full` would block. */
function stuffedPair(): { full: number; peer: number } {
  const [full, peer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
  const chunk = Buffer.alloc(65536);
  for (let i = 0; i < 10_000; i++) {
    try {
      posix.send(full, chunk, posix.MSG_DONTWAIT);
    } catch (error) {
      if ((error as { code?: string }).code === 'EAGAIN') return { full, peer };
      throw error;
    }
  }
  throw new Error('the send buffer never filled');
}

describe('sendAll / recvExactly / recvFull / recvSome', () => {
  it('move 8 MiB intact over loopback, blocking and with bounds, in ranges', () => {
    const { listenFd, client, server } = tcpPair();
    try {
      const payload = randomBytes(8 * 1024 * 1024);
      // Both ends in one thread: the sender is non-blocking and bounded, the reader takes what it can between sends.
      posix.fcntl(client, posix.F_SETFL, posix.fcntl(client, posix.F_GETFL) | posix.O_NONBLOCK);
      const received = Buffer.alloc(payload.length);
      let got = 0;
      for (let sent = 0; sent < payload.length; ) {
        const length = Math.min(1 << 20, payload.length - sent);
        expect(sendAll(client, payload, { offset: sent, length, timeout: 10_000 })).toBe(length);
        sent += length;
        got += recvFull(server, received, { offset: got, length: sent - got, timeout: 10_000 });
      }
      expect(got).toBe(payload.length);
      expect(received.equals(payload)).toBe(true);

      // recvExactly: a new Buffer of n bytes, or the caller's buffer filled.
      sendAll(client, 'hello world');
      expect(recvExactly(server, 5).toString()).toBe('hello');
      const into = Buffer.alloc(8, '.');
      expect(recvExactly(server, into, { offset: 2, length: 6 })).toBe(into);
      expect(into.toString()).toBe('.. world');

      // recvSome: whatever has arrived; a Buffer for maxlen, a count for a buffer.
      sendAll(client, 'abc');
      expect(recvSome(server, 100, { idleTimeout: 10_000 })?.toString()).toBe('abc');
      sendAll(client, 'xyz');
      const some = Buffer.alloc(10);
      expect(recvSome(server, some, { offset: 4 })).toBe(3);
      expect(some.subarray(4, 7).toString()).toBe('xyz');
    } finally {
      closeAll(listenFd, client, server);
    }
  });

  it('at end of stream: recvFull returns the short count, recvExactly throws EndOfStreamError with it, recvSome null/0', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      sendAll(a, 'abc');
      posix.shutdown(a, posix.SHUT_WR);
      const buffer = Buffer.alloc(10);
      expect(recvFull(b, buffer, { idleTimeout: 5000 })).toBe(3);
      expect(recvFull(b, buffer)).toBe(0);
      expect(recvSome(b, 10)).toBeNull();
      expect(recvSome(b, buffer, { timeout: 5000 })).toBe(0);
    } finally {
      closeAll(a, b);
    }
    const [c, d] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      sendAll(c, 'abc');
      posix.close(c);
      let error: unknown;
      try {
        recvExactly(d, 10, { timeout: 5000 });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(EndOfStreamError);
      expect(error).toMatchObject({ received: 3, expected: 10, syscall: 'recv', message: 'recv: connection closed by peer after 3 of 10 bytes' });
    } finally {
      posix.close(d);
    }
  });

  it('a peer that takes nothing: IdleTimeoutError for idleTimeout, TimeoutError for timeout, both ETIMEDOUT', () => {
    const { full, peer } = stuffedPair();
    try {
      expect(() => sendAll(full, Buffer.alloc(1000), { idleTimeout: 20 })).toThrow(IdleTimeoutError);
      expect(() => sendAll(full, Buffer.alloc(1000), { idleTimeout: 20, waitingFor: 'send to the peer' })).toThrow('send to the peer: nothing happened for 20 ms');
      expect(() => sendAll(full, Buffer.alloc(1000), { timeout: 20 })).toThrow(TimeoutError);
      expect(() => sendAll(full, Buffer.alloc(1000), { timeout: 20 })).toThrow('send: timed out after 20 ms');
      // A peer that sends nothing, likewise.
      expect(() => recvExactly(peer, 1, { idleTimeout: 20 })).not.toThrow(); // the stuffed bytes are there
      const [quiet, other] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
      try {
        let error: unknown;
        try {
          recvExactly(quiet, 1, { timeout: 20 });
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(TimeoutError);
        expect(error).toMatchObject({ code: 'ETIMEDOUT', syscall: 'recv' });
        expect(() => recvSome(quiet, 1, { idleTimeout: 20 })).toThrow(IdleTimeoutError);
        // Without a bound, a non-blocking socket with nothing to read reports EAGAIN as the call does.
        posix.fcntl(quiet, posix.F_SETFL, posix.fcntl(quiet, posix.F_GETFL) | posix.O_NONBLOCK);
        expect(() => recvSome(quiet, 1)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
      } finally {
        closeAll(quiet, other);
      }
    } finally {
      closeAll(full, peer);
    }
  });

  it('rejects ranges outside the buffer and bad bounds before any system call', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      expect(() => sendAll(a, Buffer.alloc(4), { offset: 3, length: 2 })).toThrow(RangeError);
      expect(() => sendAll(a, Buffer.alloc(4), { offset: -1 })).toThrow(RangeError);
      expect(() => recvFull(b, Buffer.alloc(4), { length: 5 })).toThrow(RangeError);
      expect(() => recvSome(b, 0)).toThrow(RangeError);
      expect(() => sendAll(a, 'x', { timeout: -1 })).toThrow(RangeError);
      expect(() => recvFull(b, Buffer.alloc(1), { idleTimeout: Number.NaN })).toThrow(RangeError);
      expect(sendAll(a, Buffer.alloc(0))).toBe(0);
      // Nothing was sent by the refused calls.
      expect(() => recvSome(b, 1, { idleTimeout: 20 })).toThrow(IdleTimeoutError);
    } finally {
      closeAll(a, b);
    }
  });

  it('untilReady retries a call that reports EAGAIN once the fd is ready; writeAll writes a pipe whole', () => {
    const [readEnd, writeEnd] = posix.pipe(posix.O_CLOEXEC);
    try {
      expect(writeAll(writeEnd, 'through the pipe')).toBe(16);
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM | posix.SOCK_NONBLOCK);
      try {
        let calls = 0;
        const buffer = Buffer.alloc(4);
        const n = untilReady('recv', b, posix.POLLIN, { idleTimeout: 5000 }, () => {
          calls++;
          if (calls > 1) return posix.recv(b, buffer);
          try {
            return posix.recv(b, buffer); // nothing there yet: EAGAIN
          } finally {
            sendAll(a, 'ping'); // ... and now there is
          }
        });
        expect(n).toBe(4);
        expect(calls).toBe(2);
        expect(buffer.toString()).toBe('ping');
      } finally {
        closeAll(a, b);
      }
      const read = Buffer.alloc(32);
      expect(posix.read(readEnd, read)).toBe(16);
      expect(read.subarray(0, 16).toString()).toBe('through the pipe');
    } finally {
      closeAll(readEnd, writeEnd);
    }
  });
});

describe('connectWithin', () => {
  it('connects a socket to a listener, and reports ECONNREFUSED as connect() does', () => {
    const { fd: listenFd, port } = listener();
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    try {
      connectWithin(client, { family: 'AF_INET', address: '127.0.0.1', port }, { idleTimeout: 5000 });
      expect(posix.getpeername(client)).toMatchObject({ address: '127.0.0.1', port });
    } finally {
      closeAll(client, listenFd);
    }
    const refused = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    try {
      // The listener is closed: nobody listens on the port now.
      expect(() => connectWithin(refused, { family: 'AF_INET', address: '127.0.0.1', port }, { timeout: 5000 })).toThrow(
        expect.objectContaining({ code: 'ECONNREFUSED', syscall: 'connect', message: 'connect: Connection refused' }),
      );
    } finally {
      posix.close(refused);
    }
  });
});
