// TcpClient / TcpServer over real loopback sockets: the tutorial's methods,
// typed errors, whole messages, binary data, many connections, options.
import { describe, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  EndOfStreamError,
  HostNotFoundError,
  AlreadyConnectedError,
  MessageTooLargeError,
  TcpClient,
  TcpServer,
  isSyscallError,
  Socket,
} from '../lib/index.js';
import { expectCensusNow, stableCensus, tcpClassPair } from './helpers/loopback.js';
import { until } from '../tools/until.js';
import { execFileSync } from 'node:child_process';

describe('TcpServer / TcpClient: the tutorial methods', () => {
  it('initServer(0) reads back the port; accept, clientIp, send, recv(maxlen), closeClient, closeListen', async () => {
    const before = await stableCensus();
    const server = new TcpServer().initServer(0);
    expect(server.port).toBeGreaterThan(0);
    expect(server.listenFd).toBeGreaterThanOrEqual(0);
    expect(server.clientFd).toBe(-1);
    const client = new TcpClient();
    client.connect('127.0.0.1', server.port);
    expect(client.ip).toBe('127.0.0.1');
    expect(client.port).toBe(server.port);
    expect(client.fd).toBeGreaterThanOrEqual(0);
    server.accept();
    expect(server.clientIp()).toBe('127.0.0.1');
    expect(server.clientFd).toBeGreaterThanOrEqual(0);

    expect(client.send('这是第1个超级女生，编号1。')).toBe(Buffer.byteLength('这是第1个超级女生，编号1。'));
    expect(server.recv(1024)?.toString()).toBe('这是第1个超级女生，编号1。');
    server.send('ok');
    expect(client.recv(1024)?.toString()).toBe('ok');

    // recv(maxlen) takes at most maxlen bytes, as the C class does.
    client.send('abcdef');
    expect(server.recv(4)?.toString()).toBe('abcd');
    expect(server.recv(4)?.toString()).toBe('ef');

    expect(client.close()).toBe(true);
    expect(client.close()).toBe(false);
    expect(client.fd).toBe(-1);
    expect(server.recv(1024)).toBeNull(); // the peer closed: recv() returned 0
    expect(server.closeClient()).toBe(true);
    expect(server.closeClient()).toBe(false);
    expect(server.closeListen()).toBe(true);
    expect(server.closeListen()).toBe(false);
    expect(server.listenFd).toBe(-1);
    await expectCensusNow(before);
  });

  it('connect to a port nobody listens on: ECONNREFUSED, perror-style message, no fd left behind', async () => {
    const probe = new TcpServer({ bindAddress: '127.0.0.1' }).initServer(0);
    const port = probe.port;
    probe.closeListen();
    const before = await stableCensus();
    const client = new TcpClient();
    let caught: unknown;
    try {
      client.connect('127.0.0.1', port);
    } catch (error) {
      caught = error;
    }
    expect(isSyscallError(caught, 'ECONNREFUSED')).toBe(true);
    expect((caught as Error).message).toBe('connect: Connection refused');
    expect(client.fd).toBe(-1);
    expect(client.connected).toBe(false);
    await expectCensusNow(before);
  });

  it('an unknown host name: HostNotFoundError; a host name that resolves: connects', () => {
    expect(() => new TcpClient().connect('no-such-host.invalid', 5005)).toThrow(HostNotFoundError);
    const server = new TcpServer().initServer(0);
    const client = new TcpClient().connect('localhost', server.port);
    expect(server.accept().ip).toBe('127.0.0.1');
    client.close();
    server.close();
  });

  it('connect twice: AlreadyConnectedError; calls without a connection: ENOTCONN', () => {
    const { server, client } = tcpClassPair();
    expect(() => client.connect('127.0.0.1', server.port)).toThrow(AlreadyConnectedError);
    client.close();
    for (const call of [() => client.send('x'), () => client.recv(10), () => client.recvMessage()]) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(isSyscallError(caught, 'ENOTCONN')).toBe(true);
    }
    server.close();
    expect(() => new TcpServer().recv(10)).toThrow(/not connected/);
    expect(() => new TcpServer().accept()).toThrow(/not connected/);
  });

  it('initServer on a port in use: EADDRINUSE, and the server holds no fd', async () => {
    const first = new TcpServer().initServer(0);
    const before = await stableCensus();
    const second = new TcpServer();
    expect(() => second.initServer(first.port)).toThrow('bind: Address already in use');
    expect(second.listenFd).toBe(-1);
    await expectCensusNow(before);
    first.close();
  });

  it('recv(maxlen) rejects a maxlen below 1 before any call', () => {
    const { server, client } = tcpClassPair();
    expect(() => client.recv(0)).toThrow(RangeError);
    expect(() => server.recv(1.5)).toThrow(RangeError);
    client.close();
    server.close();
  });

  it('Symbol.dispose closes everything', async () => {
    const before = await stableCensus();
    const { server, client, connection } = tcpClassPair();
    client[Symbol.dispose]();
    server[Symbol.dispose]();
    expect(connection.closed).toBe(true);
    expect(server.listenFd).toBe(-1);
    await expectCensusNow(before);
  });
});

describe('whole messages and binary data', () => {
  it('recvExactly gathers bytes sent in pieces', () => {
    const { server, client, connection } = tcpClassPair();
    client.send('abc');
    client.send(new Uint8Array([0, 1, 2, 255]));
    client.send(Buffer.from('xyz'));
    expect(connection.recvExactly(10)).toEqual(Buffer.from([0x61, 0x62, 0x63, 0, 1, 2, 255, 0x78, 0x79, 0x7a]));
    client.send('12');
    client.close();
    expect(() => server.recvExactly(3)).toThrow(EndOfStreamError);
    server.close();
  });

  it('sendMessage / recvMessage keep message boundaries, including empty and NUL-filled messages', () => {
    const { server, client } = tcpClassPair();
    const messages = [Buffer.from('ok'), Buffer.alloc(0), Buffer.alloc(1000, 0), Buffer.from('这是第1个超级女生')];
    for (const message of messages) client.sendMessage(message);
    for (const message of messages) expect(server.recvMessage()).toEqual(message);
    client.close();
    expect(server.recvMessage()).toBeNull();
    server.close();
  });

  it('recvMessage: EOF inside a message is EndOfStreamError; an oversized length is refused', () => {
    const { server, client, connection } = tcpClassPair();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(100);
    client.send(Buffer.concat([header, Buffer.from('only ten b')]));
    client.close();
    expect(() => connection.recvMessage()).toThrow(EndOfStreamError);
    server.close();

    const second = tcpClassPair();
    second.client.sendMessage(Buffer.alloc(64));
    expect(() => second.server.recvMessage(63)).toThrow(MessageTooLargeError);
    second.client.close();
    second.server.close();
  });

  it('a header split across segments is still read whole', () => {
    const { server, client } = tcpClassPair({}, { noDelay: true });
    client.send(Buffer.from([0, 0]));
    client.send(Buffer.from([0, 3]));
    client.send('abc');
    expect(server.recvMessage()?.toString()).toBe('abc');
    client.close();
    server.close();
  });

  it('8 MiB of random bytes round-trip intact through an echo server in a worker thread', async () => {
    const server = new TcpServer({ bindAddress: '127.0.0.1' }).initServer(0);
    server.listener.receiveTimeout = 15_000; // bounds accept() should the worker never connect
    const worker = new Worker(
      `const { TcpClient } = await import(${JSON.stringify(new URL('../dist/lib/index.js', import.meta.url).href)});
       const { workerData } = await import('node:worker_threads');
       const client = new TcpClient().connect('127.0.0.1', workerData.port);
       for (let m; (m = client.recvMessage()) !== null; ) client.sendMessage(m);
       client.close();`,
      { eval: true, workerData: { port: server.port } },
    );
    const exited = new Promise<number>((resolve, reject) => {
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    const connection = server.accept();
    connection.socket.receiveTimeout = 15_000;
    const payload = randomBytes(8 * 1024 * 1024);
    // Send and receive in chunks so that neither side's buffers fill while the other waits.
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < payload.length; offset += 256 * 1024) {
      connection.sendMessage(payload.subarray(offset, offset + 256 * 1024));
      const echoed = connection.recvMessage();
      if (echoed === null) throw new Error('echo closed early');
      chunks.push(echoed);
    }
    server.closeClient();
    expect(await exited).toBe(0);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(digest(Buffer.concat(chunks))).toBe(digest(payload));
    server.close();
  });
});

describe('a server holding many connections, and the construction options', () => {
  it('accepts 20 clients, keeps them all, and talks to each one', () => {
    const server = new TcpServer({ bindAddress: '127.0.0.1', backlog: 32 }).initServer(0);
    const clients = Array.from({ length: 20 }, () => new TcpClient().connect('127.0.0.1', server.port));
    const accepted = clients.map(() => server.accept());
    expect(server.connections.size).toBe(20);
    clients.forEach((client, i) => client.sendMessage(`client ${i}`));
    // Answer in reverse order: each connection is independent of "the current client".
    for (const connection of [...accepted].reverse()) {
      const message = connection.recvMessage()?.toString() ?? '';
      connection.sendMessage(`${message} ok`);
    }
    clients.forEach((client, i) => expect(client.recvMessage()?.toString()).toBe(`client ${i} ok`));
    accepted[3]!.close();
    expect(server.connections.size).toBe(19);
    expect(server.closeConnection(accepted[4]!)).toBe(true);
    expect(server.connections.size).toBe(18);
    clients.forEach((client) => client.close());
    server.close();
    expect(server.connections.size).toBe(0);
    expect(accepted.every((c) => c.closed)).toBe(true);
  });

  it('backlog, reuseAddr, bindAddress and noDelay reach the kernel', () => {
    const server = new TcpServer({ bindAddress: '127.0.0.1', reuseAddr: true, noDelay: true, backlog: 3 }).initServer(0);
    expect(server.listener.reuseAddr).toBe(true);
    expect(server.listener.localAddress).toMatchObject({ family: 'AF_INET', address: '127.0.0.1', port: server.port });
    const client = new TcpClient({ noDelay: true, bindAddress: '127.0.0.1' }).connect('127.0.0.1', server.port);
    const connection = server.accept();
    expect(connection.socket.noDelay).toBe(true);
    expect(client.connection.socket.noDelay).toBe(true);
    const plainClient = new TcpClient().connect('127.0.0.1', server.port);
    expect(plainClient.connection.socket.noDelay).toBe(false);
    plainClient.close();
    server.close();
    client.close();

    const plain = new TcpServer().initServer(0);
    expect(plain.listener.reuseAddr).toBe(false);
    expect(plain.listener.localAddress).toMatchObject({ address: '0.0.0.0' });
    plain.close();
  });

  it('IPv6: a server on ::1 and a client connecting to an IPv6 literal', () => {
    const server = new TcpServer({ bindAddress: '::1' }).initServer(0);
    const client = new TcpClient().connect('::1', server.port);
    const connection = server.accept();
    expect(server.clientIp()).toBe('::1');
    client.send('v6');
    expect(connection.recv(10)?.toString()).toBe('v6');
    client.close();
    server.close();
  });

  it('the backlog limits the accept queue to backlog+1 completed connections', async () => {
    const server = new TcpServer({ bindAddress: '127.0.0.1', backlog: 2 }).initServer(0);
    const sockets = Array.from({ length: 5 }, () => Socket.tcp());
    for (const socket of sockets) {
      socket.nonBlocking = true;
      try {
        socket.connect({ family: 'AF_INET', address: '127.0.0.1', port: server.port });
      } catch (error) {
        if (!isSyscallError(error, 'EINPROGRESS')) throw error;
      }
    }
    // Wait (bounded) for the handshakes, not for a guessed time: the kernel's count of the
    // listener's accept queue (its Recv-Q in ss -ltn) reaches backlog+1 and the other two
    // clients are still in SYN_SENT.
    const queue = (): { recvQ: number; synSent: number } => {
      const rows = execFileSync('ss', ['-tan', `( sport = :${server.port} or dport = :${server.port} )`], { encoding: 'utf8' }).trim().split('\n').slice(1);
      const fields = rows.map((row) => row.trim().split(/\s+/));
      const listen = fields.find((f) => f[0] === 'LISTEN');
      return { recvQ: Number(listen?.[1] ?? -1), synSent: fields.filter((f) => f[0] === 'SYN-SENT').length };
    };
    await until(() => {
      const { recvQ, synSent } = queue();
      return recvQ === 3 && synSent === 2;
    }, 'three connections in the accept queue, two in SYN_SENT', 10_000);
    server.listener.nonBlocking = true;
    let accepted = 0;
    for (let i = 0; i < 5; i++) {
      try {
        server.accept();
        accepted++;
      } catch (error) {
        if (!isSyscallError(error, 'EAGAIN')) throw error;
        break;
      }
    }
    expect(accepted).toBe(3);
    sockets.forEach((s) => s.close());
    server.close();
  });
});
