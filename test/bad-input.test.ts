// No input, however wrong, crashes the process: each is a JS error thrown
// before any system call, and the process goes on working afterwards.
import { describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { closeAll, expectNoLeaks, tcpPair } from './helpers/loopback.js';

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

// Calls made through an untyped view, as plain JavaScript callers would make them.
const loose = posix as unknown as Record<string, (...args: unknown[]) => unknown>;

describe('bad input', () => {
  it('wrong types are TypeErrors', () => {
    const cases: [string, unknown[]][] = [
      ['socket', ['AF_INET', 1]],
      ['socket', []],
      ['close', ['3']],
      ['close', [{}]],
      ['close', [1.5]],
      ['close', [NaN]],
      ['close', [Infinity]],
      ['send', [0, 42]],
      ['send', [0, null]],
      ['recv', [0, 'a string is not a buffer']],
      ['bind', [0, null]],
      ['bind', [0, { family: 'AF_INET', address: 'not-an-ip', port: 1 }]],
      ['bind', [0, { family: 'AF_INET6', address: '1.2.3.4', port: 1 }]],
      ['bind', [0, { family: 'AF_BOGUS' }]],
      ['bind', [0, { family: 'AF_INET', port: '80' }]],
      ['bind', [0, { family: 'AF_UNIX', path: 'a\0b' }]],
      ['connect', [0, 'localhost:80']],
      ['writev', [0, 'not an array']],
      ['writev', [0, [1, 2]]],
      ['poll', [[{ fd: 'x', events: 1 }]]],
      ['setsockopt', [0, 1, 2, undefined]],
      ['setsockopt', [0, 1, 2, { unrelated: true }]],
      ['inet_addr', [123]],
      ['open', ['a\0b']],
      ['gethostbyname', [null]],
    ];
    for (const [name, args] of cases) {
      expect(() => loose[name]!(...args), `${name}(${JSON.stringify(args)})`).toThrow(TypeError);
    }
  });

  it('out-of-range values are RangeErrors', () => {
    const { listenFd, client, server } = tcpPair();
    const tooLongPath = '/tmp/' + 'x'.repeat(200);
    const cases: [string, unknown[]][] = [
      ['close', [-1]],
      ['close', [2 ** 31]],
      ['send', [-5, 'x']],
      ['bind', [listenFd, { family: 'AF_INET', port: 65536 }]],
      ['bind', [listenFd, { family: 'AF_INET', port: -1 }]],
      ['bind', [listenFd, { family: 'AF_UNIX', path: tooLongPath }]],
      ['send', [client, Buffer.alloc(4), 0, 5]],
      ['send', [client, Buffer.alloc(4), 0, 2, 3]],
      ['send', [client, Buffer.alloc(4), 0, -1]],
      ['recv', [server, Buffer.alloc(0)]],
      ['recv', [server, Buffer.alloc(4), 0, 4]],
      ['read', [server, new Uint8Array(0)]],
      ['shutdown', [client, 7]],
      ['htons', [70000]],
      ['fcntl', [client, 12345]],
      ['poll', [[{ fd: client, events: 1 << 20 }]]],
    ];
    for (const [name, args] of cases) {
      expect(() => loose[name]!(...args), `${name}(${JSON.stringify(args).slice(0, 60)})`).toThrow(RangeError);
    }
    // The connection still works after all of that.
    posix.send(client, 'alive');
    const buffer = Buffer.alloc(8);
    expect(buffer.toString('utf8', 0, posix.recv(server, buffer))).toBe('alive');
    closeAll(client, server, listenFd);
  });

  it('fds that are not open, or not sockets, fail like C', () => {
    const notOpen = 1_000_000;
    for (const call of [
      () => posix.send(notOpen, 'x'),
      () => posix.recv(notOpen, Buffer.alloc(1)),
      () => posix.close(notOpen),
      () => posix.listen(notOpen),
      () => posix.getsockopt(notOpen, posix.SOL_SOCKET, posix.SO_TYPE),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'EBADF' }));
    }
    const [readEnd, writeEnd] = posix.pipe();
    expect(() => posix.listen(readEnd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', message: 'listen: Socket operation on non-socket' }));
    closeAll(readEnd, writeEnd);
  });

  it('a Socket used after close reports EBADF, and close() is idempotent', async () => {
    const { Socket } = await import('../lib/socket.js');
    const socket = Socket.tcp();
    socket.close();
    socket.close();
    expect(socket.fd).toBe(-1);
    expect(socket.closed).toBe(true);
    expect(() => socket.send('x')).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'send' }));
    expect(() => new Socket(-3)).toThrow(RangeError);
  });
});
