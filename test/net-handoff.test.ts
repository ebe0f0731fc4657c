// Hand-off to Node: sockets sockfd made carry real traffic as net.Socket,
// net.Server and http.Server, and Node owns (and closes) the fd afterwards.
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Socket } from '../lib/socket.js';
import { recvAsync, recvExactlyAsync, sendAllAsync, watcherStats } from '../lib/async.js';
import { toNetServer, toNetSocket } from '../lib/net-handoff.js';
import { asyncSocketPair, httpGet } from './helpers/loopback.js';

type Inet = { family: 'AF_INET'; address: string; port: number };

function inetAddress(socket: Socket): Inet {
  const address = socket.localAddress;
  if (address.family !== 'AF_INET') throw new Error('expected AF_INET');
  return address;
}

/** Collects what a net.Socket receives until `length` bytes arrived. */
function readFromNet(socket: net.Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total < length) return;
      socket.off('data', onData).off('error', reject).pause();
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData).on('error', reject).resume();
  });
}

describe('toNetSocket', () => {
  it('a connected sockfd socket becomes a net.Socket that carries traffic both ways', async () => {
    const { client, server: peer } = await asyncSocketPair();
    const netSocket = toNetSocket(client);
    expect(client.closed).toBe(true); // ownership moved
    expect(netSocket).toBeInstanceOf(net.Socket);
    expect(netSocket.remotePort).toBe(inetAddress(peer).port);

    const toPeer = randomBytes(1 << 20);
    const fromPeer = randomBytes(1 << 20);
    netSocket.write(toPeer);
    const [atPeer, atNet] = await Promise.all([
      recvExactlyAsync(peer.fd, toPeer.length),
      (async () => {
        await sendAllAsync(peer.fd, fromPeer);
        return readFromNet(netSocket, fromPeer.length);
      })(),
    ]);
    expect(atPeer.equals(toPeer)).toBe(true);
    expect(atNet.equals(fromPeer)).toBe(true);

    // Node owns the fd: destroying the net.Socket closes it, and the peer sees EOF.
    netSocket.destroy();
    await once(netSocket, 'close');
    expect(await recvAsync(peer.fd, Buffer.alloc(1))).toBe(0);
    peer.close();
  });

  it('a call pending on the fd rejects with EBADF when the fd is handed over', async () => {
    const { client, server: peer } = await asyncSocketPair();
    const before = watcherStats().watchers;
    const pending = client.recvAsync(Buffer.alloc(4)).catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    const netSocket = toNetSocket(client);
    expect(await pending).toMatchObject({ code: 'EBADF', syscall: 'recv' });
    expect(((await pending) as Error).message).toMatch(/was handed over while a wait on it was pending/);
    expect(watcherStats().watchers).toBe(before - 1);
    peer.send('to net');
    expect((await readFromNet(netSocket, 6)).toString()).toBe('to net');
    netSocket.destroy();
    peer.close();
  });

  it('a Unix-domain socketpair end becomes a net.Socket too', async () => {
    const [a, b] = Socket.pair();
    const netSocket = toNetSocket(a);
    netSocket.write('over AF_UNIX');
    expect((await recvExactlyAsync(b.fd, 12)).toString()).toBe('over AF_UNIX');
    netSocket.end();
    await once(netSocket, 'finish');
    expect(await recvAsync(b.fd, Buffer.alloc(1))).toBe(0);
    netSocket.destroy();
    b.close();
  });

  it('refuses what net cannot own, and the caller keeps the socket', () => {
    using unconnected = Socket.tcp();
    expect(() => toNetSocket(unconnected)).toThrow(expect.objectContaining({ code: 'ENOTCONN' }) as Error);
    expect(unconnected.closed).toBe(false);
    using udp = Socket.udp();
    expect(() => toNetSocket(udp)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'toNetSocket' }) as Error);
    expect(udp.closed).toBe(false);
    const closed = Socket.tcp();
    closed.close();
    expect(() => toNetSocket(closed)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
  });
});

describe('toNetServer', () => {
  it('a listening socket with SO_REUSEPORT is served by net.Server', async () => {
    const listener = Socket.tcp();
    listener.reusePort = true;
    listener.bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
    const address = inetAddress(listener);
    const server = toNetServer(listener, net.createServer((conn) => conn.pipe(conn)));
    expect(listener.closed).toBe(true);
    await once(server, 'listening');
    expect((server.address() as net.AddressInfo).port).toBe(address.port);

    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        using client = Socket.tcp();
        await client.connectAsync(address);
        const payload = randomBytes(10_000 + i);
        await client.sendAllAsync(payload);
        return (await client.recvExactlyAsync(payload.length)).equals(payload);
      }),
    );
    expect(clients.every(Boolean)).toBe(true);
    server.close();
    await once(server, 'close');
  });

  it('an http.Server answers requests on the handed-over socket', async () => {
    const listener = Socket.tcp().bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
    const { port } = inetAddress(listener);
    const server = toNetServer(
      listener,
      http.createServer((request, response) => response.end(`you asked for ${request.url}`)),
    );
    await once(server, 'listening');
    const body = await httpGet(port, '/sockfd');
    expect(body).toBe('you asked for /sockfd');
    server.close();
    await once(server, 'close');
  });

  it('a pending acceptAsync rejects when the socket is handed over, then net accepts', async () => {
    const listener = Socket.tcp().bind({ family: 'AF_INET', address: '127.0.0.1', port: 0 }).listen();
    const address = inetAddress(listener);
    const pending = listener.acceptAsync().catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    const server = toNetServer(listener);
    expect(await pending).toMatchObject({ code: 'EBADF', syscall: 'accept' });
    const connected = once(server, 'connection');
    using client = Socket.tcp();
    await client.connectAsync(address);
    const [conn] = (await connected) as [net.Socket];
    conn.end('bye');
    expect((await client.recvExactlyAsync(3)).toString()).toBe('bye');
    conn.destroy(); // server.close() waits for its connections
    server.close();
    await once(server, 'close');
  });

  it('refuses a socket that is not listening', () => {
    using socket = Socket.tcp();
    expect(() => toNetServer(socket)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'toNetServer' }) as Error);
    expect(socket.closed).toBe(false);
  });
});
