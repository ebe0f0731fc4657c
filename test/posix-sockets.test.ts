// The raw API against the kernel: fds, the lowest-free rule, data over every
// family, options, and the main failures of each call.
import { describe, expect, it } from 'vitest';
import { readlinkSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import * as posix from '../lib/posix.js';
import { closeAll, expectNoLeaks, listener, openFds, tcpPair } from './helpers/loopback.js';

// The suite leaks no fd: every socket and file it opened is closed again.
expectNoLeaks();

function errorOf(fn: () => unknown): posix.SyscallError {
  try {
    fn();
  } catch (error) {
    if (posix.isSyscallError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('file descriptors', () => {
  it('socket() returns the lowest free fd, and a closed fd is reused at once', () => {
    const a = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const b = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const held = openFds();
    const lowestFree = (() => {
      for (let fd = 0; ; fd++) if (!held.includes(fd)) return fd;
    })();
    expect(a).toBeLessThan(b);
    posix.close(a);
    // With a closed, the lowest free fd is either a or something even lower.
    const expected = Math.min(a, lowestFree);
    const c = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    expect(c).toBe(expected);
    closeAll(b, c);
  });

  it('/proc/self/fd/<fd> of a socket reads socket:[inode], of a file its path', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    expect(readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^socket:\[\d+\]$/);
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-'));
    const file = posix.open(join(dir, 'data.txt'), posix.O_CREAT | posix.O_RDWR | posix.O_TRUNC, 0o644);
    expect(readlinkSync(`/proc/self/fd/${file}`)).toBe(join(dir, 'data.txt'));
    closeAll(fd, file);
    rmSync(dir, { recursive: true });
  });

  it('open/write/read/close a file like the tutorial demo3/demo4', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-'));
    const path = join(dir, 'data.txt');
    const fd = posix.open(path, posix.O_CREAT | posix.O_RDWR | posix.O_TRUNC, 0o644);
    expect(posix.write(fd, '我是一只傻傻鸟。\n')).toBe(Buffer.byteLength('我是一只傻傻鸟。\n'));
    posix.close(fd);
    expect(readFileSync(path, 'utf8')).toBe('我是一只傻傻鸟。\n');
    const rd = posix.open(path, posix.O_RDONLY);
    const buffer = Buffer.alloc(1024);
    const n = posix.read(rd, buffer);
    expect(buffer.subarray(0, n).toString()).toBe('我是一只傻傻鸟。\n');
    expect(posix.read(rd, buffer)).toBe(0);
    posix.close(rd);
    const missing = errorOf(() => posix.open(join(dir, 'nope', 'x')));
    expect(missing.message).toBe(`open(${join(dir, 'nope', 'x')}): No such file or directory`);
    expect(missing.code).toBe('ENOENT');
    rmSync(dir, { recursive: true });
  });

  it('dup, dup2 and fcntl', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const copy = posix.dup(fd);
    expect(readlinkSync(`/proc/self/fd/${copy}`)).toBe(readlinkSync(`/proc/self/fd/${fd}`));
    const target = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    expect(posix.dup2(fd, target)).toBe(target);
    expect(readlinkSync(`/proc/self/fd/${target}`)).toBe(readlinkSync(`/proc/self/fd/${fd}`));
    posix.fcntl(fd, posix.F_SETFD, posix.FD_CLOEXEC);
    expect(posix.fcntl(fd, posix.F_GETFD) & posix.FD_CLOEXEC).toBe(posix.FD_CLOEXEC);
    const flags = posix.fcntl(fd, posix.F_GETFL);
    posix.fcntl(fd, posix.F_SETFL, flags | posix.O_NONBLOCK);
    expect(posix.fcntl(fd, posix.F_GETFL) & posix.O_NONBLOCK).toBe(posix.O_NONBLOCK);
    expect(() => posix.fcntl(fd, 9999)).toThrow(RangeError);
    closeAll(fd, copy, target);
    expect(errorOf(() => posix.fcntl(fd, posix.F_GETFD)).code).toBe('EBADF');
  });
});

describe('TCP over loopback', () => {
  it('send/recv and read/write move the same bytes', () => {
    const { listenFd, client, server } = tcpPair();
    const buffer = Buffer.alloc(64);
    expect(posix.send(client, 'via send')).toBe(8);
    expect(buffer.toString('utf8', 0, posix.recv(server, buffer))).toBe('via send');
    expect(posix.write(client, 'via write')).toBe(9);
    expect(buffer.toString('utf8', 0, posix.read(server, buffer))).toBe('via write');
    expect(posix.write(server, 'reply')).toBe(5);
    expect(buffer.toString('utf8', 0, posix.recv(client, buffer))).toBe('reply');
    posix.shutdown(client, posix.SHUT_WR);
    expect(posix.recv(server, buffer)).toBe(0); // end of stream
    closeAll(client, server, listenFd);
  });

  it('accept and getpeername/getsockname report both ends', () => {
    const { fd: listenFd, port } = listener();
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
    const accepted = posix.accept(listenFd);
    const clientName = posix.getsockname(client);
    expect(accepted.address).toEqual(clientName);
    expect(posix.getpeername(accepted.fd)).toEqual(clientName);
    expect(posix.getpeername(client)).toEqual({ family: 'AF_INET', address: '127.0.0.1', port });
    closeAll(client, accepted.fd, listenFd);
  });

  it('honours byteOffset/byteLength of views and the offset/length arguments', () => {
    const { listenFd, client, server } = tcpPair();
    const backing = Buffer.from('xxHELLOyy');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 5);
    expect(posix.send(client, view)).toBe(5);
    expect(posix.send(client, new DataView(backing.buffer, backing.byteOffset, 2))).toBe(2);
    expect(posix.send(client, Buffer.from('0123456789'), 0, 3, 4)).toBe(4);
    const words = new Uint16Array([0x4241]); // 'AB' on this little-endian host
    expect(posix.send(client, words)).toBe(2);
    const target = Buffer.alloc(32, 0x2e);
    const into = target.subarray(4);
    let got = 0;
    for (let i = 0; got < 13 && i < 100; i++) got += posix.recv(server, into, 0, got, 13 - got);
    expect(target.toString('latin1', 0, 4 + 13)).toBe('....HELLOxx3456AB');
    expect(target[17]).toBe(0x2e); // nothing written past the requested range
    expect(() => posix.send(client, Buffer.alloc(4), 0, 3, 2)).toThrow(RangeError);
    expect(() => posix.send(client, Buffer.alloc(4), 0, 5)).toThrow(RangeError);
    expect(() => posix.recv(server, Buffer.alloc(4), 0, -1)).toThrow(RangeError);
    closeAll(client, server, listenFd);
  });

  it('writev sends its chunks in order; sendfile and splice move file bytes', () => {
    const { listenFd, client, server } = tcpPair();
    expect(posix.writev(client, ['ab', Buffer.from('cd'), new Uint8Array([0x65])])).toBe(5);
    const buffer = Buffer.alloc(64);
    let n = 0;
    for (let i = 0; n < 5 && i < 100; i++) n += posix.recv(server, buffer, 0, n);
    expect(buffer.toString('utf8', 0, n)).toBe('abcde');

    const dir = mkdtempSync(join(tmpdir(), 'sockfd-'));
    const path = join(dir, 'f');
    writeFileSync(path, 'sendfile-content');
    const file = posix.open(path);
    expect(posix.sendfile(client, file, 8, 8)).toBe(8); // from offset 8: 'content'
    n = 0;
    for (let i = 0; n < 8 && i < 100; i++) n += posix.recv(server, buffer, 0, n);
    expect(buffer.toString('utf8', 0, n)).toBe('-content');

    // socket -> pipe -> file, inside the kernel
    const [pipeRead, pipeWrite] = posix.pipe();
    posix.send(client, 'spliced!');
    expect(posix.splice(server, null, pipeWrite, null, 8)).toBe(8);
    const out = posix.open(join(dir, 'out'), posix.O_CREAT | posix.O_WRONLY, 0o644);
    expect(posix.splice(pipeRead, null, out, 0, 8)).toBe(8);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('spliced!');
    closeAll(client, server, listenFd, file, out, pipeRead, pipeWrite);
    rmSync(dir, { recursive: true });
  });

  it('poll reports readability; a non-blocking recv with nothing queued fails EAGAIN', () => {
    const { listenFd, client, server } = tcpPair();
    const entries: posix.PollFd[] = [{ fd: server, events: posix.POLLIN }];
    expect(posix.poll(entries, 0)).toBe(0);
    expect(entries[0]!.revents).toBe(0);
    posix.send(client, 'x');
    expect(posix.poll(entries, 1000)).toBe(1);
    expect(entries[0]!.revents! & posix.POLLIN).toBe(posix.POLLIN);
    const buffer = Buffer.alloc(8);
    expect(posix.recv(server, buffer)).toBe(1);
    expect(errorOf(() => posix.recv(server, buffer, posix.MSG_DONTWAIT)).code).toBe('EAGAIN');
    closeAll(client, server, listenFd);
  });

  it('SO_REUSEADDR: a port left in TIME_WAIT by the server side refuses bind, unless the option is set', () => {
    // As in the tutorial's fixed server, the first server set SO_REUSEADDR too: Linux copies the
    // flag into the TIME_WAIT entry and lets a new bind through only when both sides have it.
    const listenFd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.setsockopt(listenFd, posix.SOL_SOCKET, posix.SO_REUSEADDR, 1);
    expect(posix.getsockopt(listenFd, posix.SOL_SOCKET, posix.SO_REUSEADDR)).toBe(1);
    posix.bind(listenFd, { family: 'AF_INET', port: 0 });
    posix.listen(listenFd, 5);
    const { port } = posix.getsockname(listenFd) as { port: number };
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
    const server = posix.accept(listenFd).fd;
    posix.close(server); // the server side closes first: its end goes to TIME_WAIT
    expect(posix.recv(client, Buffer.alloc(8))).toBe(0);
    posix.close(client);
    posix.close(listenFd);
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const timeWait = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '06'); // 06 = TCP_TIME_WAIT
    expect(timeWait.length).toBe(1);

    const plain = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const error = errorOf(() => posix.bind(plain, { family: 'AF_INET', port }));
    expect(error.message).toBe('bind: Address already in use');
    expect(error.code).toBe('EADDRINUSE');
    expect(error.errno).toBe(posix.EADDRINUSE);
    expect(error.syscall).toBe('bind');
    const reusing = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.setsockopt(reusing, posix.SOL_SOCKET, posix.SO_REUSEADDR, 1);
    posix.bind(reusing, { family: 'AF_INET', port });
    posix.listen(reusing, 5);
    closeAll(plain, reusing);
  });

  it('IPv6 round trip over ::1', () => {
    const listenFd = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    posix.bind(listenFd, { family: 'AF_INET6', address: '::1', port: 0 });
    posix.listen(listenFd);
    const name = posix.getsockname(listenFd);
    if (name.family !== 'AF_INET6') throw new Error('expected AF_INET6');
    expect(name.address).toBe('::1');
    const client = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    posix.connect(client, { family: 'AF_INET6', address: '::1', port: name.port });
    const { fd: server, address } = posix.accept(listenFd);
    expect(address).toMatchObject({ family: 'AF_INET6', address: '::1', flowinfo: 0, scopeId: 0 });
    posix.send(client, 'v6');
    const buffer = Buffer.alloc(4);
    expect(buffer.toString('utf8', 0, posix.recv(server, buffer))).toBe('v6');
    closeAll(client, server, listenFd);
  });

  it('connect to a port with no listener fails ECONNREFUSED', () => {
    const holder = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(holder, { family: 'AF_INET', address: '127.0.0.1', port: 0 }); // bound, never listening
    const name = posix.getsockname(holder) as { port: number };
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const error = errorOf(() => posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port: name.port }));
    expect(error.message).toBe('connect: Connection refused');
    expect(error.code).toBe('ECONNREFUSED');
    closeAll(client, holder);
  });

  it('reports EINVAL, ENOTCONN, EAFNOSUPPORT, EPIPE and EBADF like C', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    expect(errorOf(() => posix.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 })).code).toBe('EINVAL');
    expect(errorOf(() => posix.getpeername(fd)).code).toBe('ENOTCONN');
    expect(errorOf(() => posix.recv(fd, Buffer.alloc(1))).code).toBe('ENOTCONN');
    const inet4 = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    expect(errorOf(() => posix.bind(inet4, { family: 'AF_INET6', port: 0 })).code).toBe('EAFNOSUPPORT');
    posix.close(inet4);
    expect(errorOf(() => posix.socket(4242, posix.SOCK_STREAM)).code).toBe('EAFNOSUPPORT');
    posix.close(fd);
    const closed = errorOf(() => posix.send(fd, 'x'));
    expect(closed).toMatchObject({ code: 'EBADF', errno: posix.EBADF, syscall: 'send', message: 'send: Bad file descriptor' });
    expect(errorOf(() => posix.close(fd)).code).toBe('EBADF');

    // Node ignores SIGPIPE: sending to a connection the peer reset fails EPIPE/ECONNRESET, the process lives.
    const { listenFd, client, server } = tcpPair();
    posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_LINGER, { onoff: 1, linger: 0 });
    posix.close(server); // RST
    const codes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      try {
        posix.send(client, 'x');
      } catch (error) {
        if (posix.isSyscallError(error)) codes.add(error.code);
      }
    }
    expect([...codes].some((c) => c === 'EPIPE' || c === 'ECONNRESET')).toBe(true);
    closeAll(client, listenFd);
  });
});

