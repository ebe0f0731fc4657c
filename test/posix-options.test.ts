// Socket options read back from the kernel: TCP_NODELAY, buffer sizes,
// SO_LINGER, timeouts, keep-alive, TCP_INFO and raw bytes.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as posix from '../lib/posix.js';
import { Socket } from '../lib/socket.js';
import { closeAll, expectNoLeaks, tcpPair } from './helpers/loopback.js';

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

describe('socket options', () => {
  it('TCP_NODELAY set and read back', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    expect(posix.getsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY)).toBe(0);
    posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY, true);
    expect(posix.getsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY)).toBe(1);
    posix.close(fd);
  });

  it('SO_SNDBUF/SO_RCVBUF read back as the kernel doubles them, within its limits', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    const wmemMax = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const want = 32768;
    posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_SNDBUF, want);
    posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_RCVBUF, want);
    // socket(7): the kernel doubles the value (bookkeeping overhead), capped by {w,r}mem_max.
    expect(posix.getsockopt(fd, posix.SOL_SOCKET, posix.SO_SNDBUF)).toBe(2 * Math.min(want, wmemMax));
    expect(posix.getsockopt(fd, posix.SOL_SOCKET, posix.SO_RCVBUF)).toBe(2 * Math.min(want, rmemMax));
    posix.close(fd);
  });

  it('SO_LINGER as { onoff, linger }', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    expect(posix.getsockopt(fd, posix.SOL_SOCKET, posix.SO_LINGER)).toEqual({ onoff: 0, linger: 0 });
    posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_LINGER, { onoff: 1, linger: 7 });
    expect(posix.getsockopt(fd, posix.SOL_SOCKET, posix.SO_LINGER)).toEqual({ onoff: 1, linger: 7 });
    posix.close(fd);
  });

  it('SO_RCVTIMEO in milliseconds makes a blocking recv fail EAGAIN', () => {
    const { listenFd, client, server } = tcpPair();
    posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 50);
    // The kernel keeps timeouts in jiffies, rounding up: read back within one tick (HZ >= 100).
    const readBack = posix.getsockopt(server, posix.SOL_SOCKET, posix.SO_RCVTIMEO) as number;
    expect(readBack).toBeGreaterThanOrEqual(50);
    expect(readBack).toBeLessThanOrEqual(60);
    try {
      posix.recv(server, Buffer.alloc(8));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'EAGAIN', syscall: 'recv', message: 'recv: Resource temporarily unavailable' });
    }
    posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_SNDTIMEO, 1500.5);
    const sendTimeout = posix.getsockopt(client, posix.SOL_SOCKET, posix.SO_SNDTIMEO) as number;
    expect(sendTimeout).toBeGreaterThanOrEqual(1500.5);
    expect(sendTimeout).toBeLessThanOrEqual(1511);
    expect(() => posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_SNDTIMEO, -1)).toThrow(RangeError);
    closeAll(client, server, listenFd);
  });

  it('TCP_INFO decodes the state and round-trip estimates of a live connection', () => {
    const { listenFd, client, server } = tcpPair();
    posix.send(client, 'x');
    posix.recv(server, Buffer.alloc(1));
    const info = posix.getsockopt(client, posix.IPPROTO_TCP, posix.TCP_INFO) as posix.TcpInfo;
    expect(info.state).toBe(posix.TCP_ESTABLISHED);
    expect(info.stateName).toBe('ESTABLISHED');
    expect(info.rtt).toBeGreaterThan(0);
    expect(info.sndCwnd).toBeGreaterThan(0);
    expect(info.sndMss).toBeGreaterThan(0);
    const listening = posix.getsockopt(listenFd, posix.IPPROTO_TCP, posix.TCP_INFO) as posix.TcpInfo;
    expect(listening.stateName).toBe('LISTEN');
    closeAll(client, server, listenFd);
  });

  it('any option as raw bytes', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_KEEPALIVE, Buffer.from(new Int32Array([1]).buffer));
    const raw = Buffer.alloc(16);
    const length = posix.getsockopt(fd, posix.SOL_SOCKET, posix.SO_KEEPALIVE, raw);
    expect(length).toBe(4);
    expect(raw.readInt32LE(0)).toBe(1);
    expect(posix.getsockopt(fd, posix.IPPROTO_TCP, posix.TCP_CONGESTION)).toMatch(/^[a-z0-9]+$/);
    posix.close(fd);
  });
});

describe('Socket option accessors', () => {
  it('read back what they set', () => {
    using socket = Socket.tcp();
    socket.noDelay = true;
    socket.reuseAddr = true;
    socket.reusePort = true;
    socket.keepAlive = true;
    socket.keepAliveIdle = 30;
    socket.keepAliveInterval = 5;
    socket.keepAliveCount = 4;
    socket.linger = 3;
    socket.receiveTimeout = 250;
    socket.sendTimeout = 125;
    expect(socket.noDelay).toBe(true);
    expect(socket.reuseAddr).toBe(true);
    expect(socket.reusePort).toBe(true);
    expect(socket.keepAlive).toBe(true);
    expect([socket.keepAliveIdle, socket.keepAliveInterval, socket.keepAliveCount]).toEqual([30, 5, 4]);
    expect(socket.linger).toBe(3);
    socket.linger = null;
    expect(socket.linger).toBeNull();
    expect(socket.receiveTimeout).toBeGreaterThanOrEqual(250); // rounded up to a jiffy
    expect(socket.receiveTimeout).toBeLessThanOrEqual(260);
    expect(socket.sendTimeout).toBeGreaterThanOrEqual(125);
    expect(socket.sendTimeout).toBeLessThanOrEqual(135);
    expect(socket.type).toBe(posix.SOCK_STREAM);
    expect(socket.nonBlocking).toBe(false);
    socket.nonBlocking = true;
    expect(socket.nonBlocking).toBe(true);
    socket.sendBufferSize = 16384;
    expect(socket.sendBufferSize).toBe(32768);
    expect(socket.receiveBufferSize).toBeGreaterThan(0);
    expect(socket.takeError()).toBe(0);
  });
});
