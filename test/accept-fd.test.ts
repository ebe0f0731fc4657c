// acceptFd (C's accept(fd, NULL, NULL)) and Socket#acceptSocket: the new
// connection's fd alone, checked against what the kernel and a Python peer
// report (/proc/self/fd and fdinfo, Python's own getsockname).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import * as posix from '../lib/posix.js';
import { Socket } from '../lib/socket.js';
import { signal } from '../lib/process.js';
import { closeAll, connectLoopback, expectNoLeaks, listener } from './helpers/loopback.js';

expectNoLeaks();

/** The flags line of /proc/self/fdinfo/<fd> (octal, as the kernel writes it). */
function fdinfoFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('flags:'));
  if (line === undefined) throw new Error(`no flags line for fd ${fd}`);
  return parseInt(line.split(/\s+/)[1] ?? '', 8);
}

function socketInode(fd: number): string {
  const link = readlinkSync(`/proc/self/fd/${fd}`);
  expect(link).toMatch(/^socket:\[\d+\]$/);
  return link;
}

const O_CLOEXEC_BIT = 0o2000000; // the kernel's O_CLOEXEC in fdinfo's flags

describe('acceptFd', () => {
  it('returns the queued connection of a Python client as a new socket fd; its peer is the port Python reports', () => {
    const { fd: listenFd, port } = listener();
    // Python connects (the kernel completes the handshake into the backlog), prints its own end and closes.
    const reported = execFileSync(
      'python3',
      ['-c', `import socket\ns = socket.create_connection(('127.0.0.1', ${port}))\nprint(s.getsockname()[1])\ns.close()`],
      { encoding: 'utf8', timeout: 10_000 },
    );
    const fd = posix.acceptFd(listenFd);
    expect(typeof fd).toBe('number');
    socketInode(fd);
    expect(socketInode(fd)).not.toBe(socketInode(listenFd));
    expect(posix.getpeername(fd)).toEqual({ family: 'AF_INET', address: '127.0.0.1', port: Number(reported.trim()) });
    expect(posix.getsockname(fd)).toEqual({ family: 'AF_INET', address: '127.0.0.1', port });
    // Python closed: the accepted end reads EOF.
    expect(posix.recv(fd, Buffer.alloc(4))).toBe(0);
    closeAll(fd, listenFd);
  });

  it('takes accept4 flags: SOCK_NONBLOCK and SOCK_CLOEXEC show in /proc/self/fdinfo', () => {
    const { fd: listenFd, port } = listener();
    const plainClient = connectLoopback(port);
    const plain = posix.acceptFd(listenFd);
    const flaggedClient = connectLoopback(port);
    const flagged = posix.acceptFd(listenFd, posix.SOCK_NONBLOCK | posix.SOCK_CLOEXEC);
    expect(fdinfoFlags(plain) & posix.O_NONBLOCK).toBe(0);
    expect(fdinfoFlags(plain) & O_CLOEXEC_BIT).toBe(0);
    expect(fdinfoFlags(flagged) & posix.O_NONBLOCK).toBe(posix.O_NONBLOCK);
    expect(fdinfoFlags(flagged) & O_CLOEXEC_BIT).toBe(O_CLOEXEC_BIT);
    // The same connections as accept() would have given: each accepted fd's peer is its client.
    expect(posix.getpeername(plain)).toEqual(posix.getsockname(plainClient));
    expect(posix.getpeername(flagged)).toEqual(posix.getsockname(flaggedClient));
    closeAll(plain, plainClient, flagged, flaggedClient, listenFd);
  });

  it('fails like accept: EINVAL on a socket that is not listening, EAGAIN when non-blocking and nothing waits; the syscall says which call', () => {
    const idle = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    expect(() => posix.acceptFd(idle)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'accept', message: 'accept: Invalid argument' }));
    expect(() => posix.acceptFd(idle, 0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'accept4' }));
    const { fd: listenFd } = listener();
    posix.fcntl(listenFd, posix.F_SETFL, posix.fcntl(listenFd, posix.F_GETFL) | posix.O_NONBLOCK);
    expect(() => posix.acceptFd(listenFd)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    closeAll(idle, listenFd);
  });

  it('validates its arguments before the call', () => {
    const { fd: listenFd } = listener();
    expect(() => posix.acceptFd(-1)).toThrow(RangeError);
    expect(() => posix.acceptFd(1.5)).toThrow(TypeError);
    expect(() => posix.acceptFd(listenFd, -1)).toThrow(RangeError);
    expect(() => posix.acceptFd(listenFd, NaN)).toThrow(TypeError);
    expect(() => posix.acceptFd(listenFd, 'x' as unknown as number)).toThrow(TypeError);
    closeAll(listenFd);
  });
});

describe('Socket#acceptSocket', () => {
  it('is the accepted connection as a Socket of its own, without an address', () => {
    using server = Socket.tcp().bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
    using client = Socket.tcp().connect(server.localAddress as posix.InetAddress);
    using conn = server.acceptSocket();
    expect(conn).toBeInstanceOf(Socket);
    expect(conn.peerAddress).toEqual(client.localAddress);
    client.sendAll('hi');
    expect(conn.recvExactly(2).toString()).toBe('hi');
    server.close();
    expect(() => server.acceptSocket()).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'accept' }));
  });
});

/** A TCP client bound to `address` (any 127.0.0.0/8 address is this host) and connected to `port`. */
function clientFrom(address: string, port: number): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
  posix.bind(fd, { family: 'AF_INET', address, port: 0 });
  posix.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
  return fd;
}

/** The peers of the established connections on local port `port`, as ss prints them. */
function ssPeers(port: number): string[] {
  return execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.trim().split(/\s+/).at(-1) ?? '')
    .sort();
}

describe('accept / accept4: the peer address (IPv4 built in JS from the sockaddr bytes)', () => {
  it('gives every peer as ss sees it, for one-, two- and three-digit octets', () => {
    const { fd: listenFd, port } = listener();
    const sources = ['127.0.0.1', '127.9.10.200', '127.255.0.99'];
    const clients = sources.map((source) => clientFrom(source, port));
    const accepted = [posix.accept(listenFd), posix.accept4(listenFd), posix.accept4(listenFd, posix.SOCK_CLOEXEC)];
    const fromAccept = accepted.map(({ address }) => {
      if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
      expect(Object.keys(address)).toEqual(['family', 'address', 'port']);
      return `${address.address}:${address.port}`;
    });
    expect(fromAccept.sort()).toEqual(ssPeers(port));
    expect(fromAccept.map((peer) => peer.split(':')[0]).sort()).toEqual([...sources].sort());
    closeAll(...accepted.map(({ fd }) => fd), ...clients, listenFd);
  });

  it('IPv6 and Unix peers come back as the native decoder builds them', () => {
    const six = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    posix.bind(six, { family: 'AF_INET6', address: '::1', port: 0 });
    posix.listen(six);
    const sixPort = (posix.getsockname(six) as posix.Inet6Address).port;
    const client6 = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    posix.connect(client6, { family: 'AF_INET6', address: '::1', port: sixPort });
    const accepted6 = posix.accept(six);
    expect(accepted6.address).toEqual(posix.getsockname(client6));
    expect(accepted6.address).toMatchObject({ family: 'AF_INET6', address: '::1' });
    const unix = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    posix.bind(unix, { family: 'AF_UNIX', path: `\0sockfd-accept-test-${process.pid}` });
    posix.listen(unix);
    const clientUnix = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    posix.connect(clientUnix, posix.getsockname(unix) as posix.UnixAddress);
    const acceptedUnix = posix.accept4(unix, 0);
    expect(acceptedUnix.address).toEqual({ family: 'AF_UNIX', path: '' }); // an unbound client: unnamed
    closeAll(accepted6.fd, client6, six, acceptedUnix.fd, clientUnix, unix);
  });

  it('a signal handler that accepts during a blocking accept gets its own peer, and the resumed call its own', () => {
    const { fd: listenFd, port } = listener();
    posix.setsockopt(listenFd, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 20_000); // bounded if the signal came too early
    const clients: number[] = [];
    let inner: posix.Accepted | undefined;
    signal(posix.SIGUSR2, () => {
      clients.push(clientFrom('127.0.0.2', port));
      inner = posix.accept(listenFd);
      clients.push(clientFrom('127.0.0.3', port)); // for the resumed outer call
    });
    try {
      // SIGUSR2 once this thread is blocked in accept (288 = accept4 on x86-64, 43 = accept), waited for, bounded.
      spawn('/bin/sh', ['-c', `for i in $(seq 1 500); do case "$(cat /proc/${process.pid}/syscall)" in "288 "*|"43 "*) break;; esac; sleep 0.01; done; kill -USR2 ${process.pid}`], { stdio: 'ignore' });
      const outer = posix.accept(listenFd);
      expect(inner?.address).toMatchObject({ family: 'AF_INET', address: '127.0.0.2' });
      expect(outer.address).toMatchObject({ family: 'AF_INET', address: '127.0.0.3' });
      expect(outer.address).toEqual(posix.getsockname(clients[1]!));
      expect(inner?.address).toEqual(posix.getsockname(clients[0]!));
      closeAll(outer.fd, inner!.fd);
    } finally {
      signal(posix.SIGUSR2, 'default');
      closeAll(...clients, listenFd);
    }
  });
});
