// lib/procfs: /proc/net tables parsed into typed entries (from fixed samples and
// from live sockets whose addresses, ports, states and queues the test knows),
// and the fds of a process with their targets and resolved sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as posix from '../lib/posix.js';
import {
  type FdEntry,
  type InetSocketEntry,
  type SocketEntry,
  type UnixSocketEntry,
  childPids,
  listFds,
  parseInetTable,
  parseUnixTable,
  processName,
  readSockets,
  socketInode,
  socketOwners,
} from '../lib/procfs.js';
import { spawn } from 'node:child_process';
import { closeAll, expectNoLeaks, listener, readFds, sameReading, tcpPair } from './helpers/loopback.js';
import { asyncSetFd } from '../lib/async-waits.js';

let dir: string;
expectNoLeaks();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockfd-procfs-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function inetSocket(inode: number, protocols = ['tcp', 'tcp6', 'udp', 'udp6'] as const): InetSocketEntry {
  const entry = readSockets({ protocols }).find((socket) => socket.inode === inode);
  if (!entry || entry.protocol === 'unix') throw new Error(`no inet socket with inode ${inode}`);
  return entry;
}

function inodeOf(fd: number): number {
  const inode = socketInode(readlinkSync(`/proc/self/fd/${fd}`));
  if (inode === undefined) throw new Error(`fd ${fd} is not a socket`);
  return inode;
}

function portOf(fd: number): number {
  const address = posix.getsockname(fd);
  if (address.family !== 'AF_INET' && address.family !== 'AF_INET6') throw new Error('not an inet socket');
  return address.port;
}

// The samples are written as a little-endian host (x86-64, arm64) prints them;
// on a big-endian host the kernel prints each 32-bit address word byte-swapped.
function asThisHostPrints(sample: string): string {
  if (endianness() === 'LE') return sample;
  return sample.replace(/\b([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})\b/g, (_, address: string, port: string) =>
    `${address.replace(/(..)(..)(..)(..)/g, '$4$3$2$1')}:${port}`,
  );
}

describe('parsing the tables', () => {
  const tcpSample = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:138D 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:138D 0100007F:E8A2 01 00000010:00000020 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1',
    '   2: 0100007F:138D 0100007F:E8A4 06 00000000:00000000 03:00001712 00000000     0        0 0 3 0000000000000000',
    '',
  ].join('\n');
  const tcp6Sample = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0',
    '   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 20 4 30 10 -1',
    '   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0',
  ].join('\n');

  it('reads addresses, ports, states and queues of /proc/net/tcp', () => {
    expect(parseInetTable(asThisHostPrints(tcpSample), 'tcp')).toEqual([
      { protocol: 'tcp', localAddress: '0.0.0.0', localPort: 5005, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', stateCode: 10, recvQ: 2, sendQ: 0, uid: 1000, inode: 4242 },
      { protocol: 'tcp', localAddress: '127.0.0.1', localPort: 5005, remoteAddress: '127.0.0.1', remotePort: 59554, state: 'ESTABLISHED', stateCode: 1, recvQ: 32, sendQ: 16, uid: 0, inode: 4243 },
      { protocol: 'tcp', localAddress: '127.0.0.1', localPort: 5005, remoteAddress: '127.0.0.1', remotePort: 59556, state: 'TIME_WAIT', stateCode: 6, recvQ: 0, sendQ: 0, uid: 0, inode: 0 },
    ]);
  });

  it('writes IPv6 addresses as inet_ntop does: ::1, ::ffff:127.0.0.1, 2001:db8::1', () => {
    const entries = parseInetTable(asThisHostPrints(tcp6Sample), 'tcp6');
    expect(entries.map((e) => [e.localAddress, e.localPort, e.remoteAddress, e.remotePort, e.state])).toEqual([
      ['::1', 8080, '::', 0, 'LISTEN'],
      ['::ffff:127.0.0.1', 8080, '::ffff:127.0.0.1', 49152, 'ESTABLISHED'],
      ['2001:db8::1', 80, '::', 0, 'LISTEN'],
    ]);
  });

  it('reads /proc/net/unix: listening, connected, abstract, unnamed, a path with spaces', () => {
    const sample = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 100 /run/x.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 101',
      '0000000000000000: 00000002 00000000 00000000 0002 01 102 @abstract-name',
      '0000000000000000: 00000003 00000000 00000000 0005 03 103 /tmp/with space/s.sock',
      '0000000000000000: 00000002 00000000 00000000 0001 02 104',
      '',
    ].join('\n');
    expect(parseUnixTable(sample)).toEqual([
      { protocol: 'unix', refCount: 2, type: 'STREAM', state: 'LISTENING', accepting: true, inode: 100, path: '/run/x.sock' },
      { protocol: 'unix', refCount: 3, type: 'STREAM', state: 'CONNECTED', accepting: false, inode: 101, path: '' },
      { protocol: 'unix', refCount: 2, type: 'DGRAM', state: '', accepting: false, inode: 102, path: '@abstract-name' },
      { protocol: 'unix', refCount: 3, type: 'SEQPACKET', state: 'CONNECTED', accepting: false, inode: 103, path: '/tmp/with space/s.sock' },
      { protocol: 'unix', refCount: 2, type: 'STREAM', state: 'CONNECTING', accepting: false, inode: 104, path: '' },
    ]);
  });

  it('rejects lines that are not the kernel format', () => {
    expect(() => parseInetTable('header\n   0: zz:0050 00000000:0000 0A 0:0 0 0 0 0 1\n', 'tcp')).toThrow(/procfs/);
    expect(() => parseInetTable('header\n   0: 0100007F:0050\n', 'tcp')).toThrow(/short line/);
    expect(() => parseUnixTable('header\nnot a unix line\n')).toThrow(/procfs/);
  });

  it('finds the inode in socket:[N] targets only', () => {
    expect(socketInode('socket:[12345]')).toBe(12345);
    expect(socketInode('pipe:[12345]')).toBeUndefined();
    expect(socketInode('/tmp/socket:[1]')).toBeUndefined();
  });
});

describe('live sockets', () => {
  it('a listener: LISTEN on its port, Recv-Q counts connections not yet accepted', () => {
    const { fd, port } = listener(8);
    const clients = [0, 1].map(() => {
      const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
      posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
      return client;
    });
    try {
      expect(inetSocket(inodeOf(fd))).toMatchObject({
        protocol: 'tcp',
        localAddress: '127.0.0.1',
        localPort: port,
        remoteAddress: '0.0.0.0',
        remotePort: 0,
        state: 'LISTEN',
        recvQ: 2,
        sendQ: 0,
      });
    } finally {
      closeAll(fd, ...clients);
    }
  });

  it('a connected pair: both ends ESTABLISHED with mirrored addresses; unread bytes in Recv-Q', () => {
    const { listenFd, port, client, server } = tcpPair();
    try {
      posix.send(client, Buffer.alloc(100, 1));
      const clientPort = portOf(client);
      const serverEntry = inetSocket(inodeOf(server));
      expect(serverEntry).toMatchObject({ state: 'ESTABLISHED', localPort: port, remoteAddress: '127.0.0.1', remotePort: clientPort });
      expect(inetSocket(inodeOf(client))).toMatchObject({ state: 'ESTABLISHED', localPort: clientPort, remotePort: port, recvQ: 0 });
      // Loopback delivers at once: the 100 bytes wait in the server's receive queue.
      expect(serverEntry.recvQ).toBe(100);
    } finally {
      closeAll(listenFd, client, server);
    }
  });

  it('the side that closes first goes to TIME_WAIT, held by no fd (inode 0)', () => {
    const { listenFd, port, client, server } = tcpPair();
    const clientPort = portOf(client);
    posix.close(server);
    // The client reads the EOF, then closes: the server side's FIN_WAIT2 becomes TIME_WAIT.
    expect(posix.recv(client, Buffer.alloc(16))).toBe(0);
    posix.close(client);
    closeAll(listenFd);
    const timeWait = readSockets({ protocols: ['tcp'] }).find(
      (s): s is InetSocketEntry => s.protocol === 'tcp' && s.localPort === port && s.remotePort === clientPort,
    );
    expect(timeWait).toMatchObject({ state: 'TIME_WAIT', inode: 0, localAddress: '127.0.0.1' });
  });

  it('UDP: an unconnected socket is CLOSE, a connected one ESTABLISHED', () => {
    const a = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    const b = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      posix.bind(a, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
      posix.connect(b, { family: 'AF_INET', address: '127.0.0.1', port: portOf(a) });
      expect(inetSocket(inodeOf(a))).toMatchObject({ protocol: 'udp', state: 'CLOSE', localPort: portOf(a), remotePort: 0 });
      expect(inetSocket(inodeOf(b))).toMatchObject({ protocol: 'udp', state: 'ESTABLISHED', remoteAddress: '127.0.0.1', remotePort: portOf(a) });
    } finally {
      closeAll(a, b);
    }
  });

  it('IPv6: a listener on ::1 is in tcp6 with address ::1', () => {
    const fd = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    try {
      posix.bind(fd, { family: 'AF_INET6', address: '::1', port: 0 });
      posix.listen(fd, 4);
      expect(inetSocket(inodeOf(fd))).toMatchObject({ protocol: 'tcp6', localAddress: '::1', localPort: portOf(fd), state: 'LISTEN' });
    } finally {
      closeAll(fd);
    }
  });

  it('Unix: a listener bound to a path is LISTENING, a socketpair CONNECTED', () => {
    const path = join(dir, 'listen.sock');
    const fd = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    const [x, y] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      posix.bind(fd, { family: 'AF_UNIX', path });
      posix.listen(fd, 4);
      const unix = readSockets({ protocols: ['unix'] }) as UnixSocketEntry[];
      expect(unix.find((s) => s.inode === inodeOf(fd))).toMatchObject({ type: 'STREAM', state: 'LISTENING', accepting: true, path });
      expect(unix.find((s) => s.inode === inodeOf(x))).toMatchObject({ type: 'DGRAM', state: 'CONNECTED', path: '' });
      expect(unix.find((s) => s.inode === inodeOf(y))).toMatchObject({ type: 'DGRAM', state: 'CONNECTED' });
    } finally {
      closeAll(fd, x, y);
    }
  });

  it('reads only the sockets asked for by inode', () => {
    const { listenFd, client, server } = tcpPair();
    const [x, y] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      const wanted = new Set([inodeOf(server), inodeOf(x)]);
      const found = readSockets({ inodes: wanted });
      expect(found.map((entry) => [entry.protocol, entry.inode]).sort()).toEqual([
        ['tcp', inodeOf(server)],
        ['unix', inodeOf(x)],
      ].sort());
      expect(readSockets({ inodes: new Set() })).toEqual([]);
    } finally {
      closeAll(listenFd, client, server, x, y);
    }
  });

  it('reads another process\'s network namespace through /proc/<pid>/net (here the same one)', () => {
    const { fd, port } = listener();
    try {
      const found = readSockets({ pid: process.pid, protocols: ['tcp'] }).some((s: SocketEntry) => s.inode === inodeOf(fd));
      expect(found).toBe(true);
      expect(port).toBeGreaterThan(0);
    } finally {
      closeAll(fd);
    }
  });
});

describe('listFds', () => {
  it('lists this process\'s fds with their targets, as /proc/self/fd has them', () => {
    const path = join(dir, 'known.txt');
    const file = openSync(path, 'w');
    const { fd: socket, port } = listener();
    try {
      const fds = listFds();
      const byFd = new Map(fds.map((entry) => [entry.fd, entry]));
      expect(byFd.get(file)).toEqual({ fd: file, target: path });
      expect(byFd.get(socket)).toMatchObject({
        fd: socket,
        target: `socket:[${inodeOf(socket)}]`,
        socketInode: inodeOf(socket),
        socket: { protocol: 'tcp', state: 'LISTEN', localPort: port },
      });
      const listed = fds.map((entry) => entry.fd);
      expect(listed).toEqual([...listed].sort((a, b) => a - b));
      // Every fd the kernel lists, with its readlink, and nothing else (the census's own
      // reading: /proc/self/fd without the listing's directory fd). Another thread's
      // transient fd (Node 22/24 read NODE_EXTRA_CA_CERTS on one) can change the fds
      // between two readings: the comparison is made when the readings on both sides of
      // listFds() agree (bounded; a listFds that differs fails every attempt).
      const targets = (entries: FdEntry[]) => new Map(entries.filter((entry) => entry.fd !== asyncSetFd()).map((entry) => [entry.fd, entry.target]));
      let kernel = new Map<number, string>();
      let listedNow = new Map<number, string>();
      for (let tries = 0; tries < 20; tries++) {
        const kernelBefore = readFds();
        listedNow = targets(listFds());
        kernel = readFds();
        if (sameReading(kernelBefore, kernel) && sameReading(listedNow, kernel)) break;
      }
      expect(listedNow).toEqual(kernel);
    } finally {
      closeSync(file);
      closeAll(socket);
    }
  });

  it('a socket that is in no table (fresh, unbound) has its inode but no entry', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    try {
      const entry = listFds().find((e) => e.fd === fd);
      expect(entry?.socketInode).toBe(inodeOf(fd));
      expect(entry?.socket).toBeUndefined();
    } finally {
      closeAll(fd);
    }
  });

  it('fails like the file system for a pid that does not exist, and rejects nonsense pids', () => {
    // pid_max is at most 2^22: this pid cannot exist.
    expect(() => listFds(2 ** 22 + 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => listFds(0)).toThrow(RangeError);
    expect(() => listFds(-1)).toThrow(RangeError);
    expect(() => listFds(1.5)).toThrow(RangeError);
  });
});

describe('processes', () => {
  it('socketOwners names the pid and fd holding each socket', () => {
    const { fd } = listener();
    try {
      expect(socketOwners().get(inodeOf(fd))).toEqual([{ pid: process.pid, name: processName(process.pid), fd }]);
      expect(processName(process.pid)).toBe(readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
    } finally {
      closeAll(fd);
    }
  });

  it('childPids lists the processes this one started', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(childPids(process.pid)).toContain(child.pid);
      expect(processName(child.pid!)).toBe('sleep');
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    expect(childPids(process.pid)).not.toContain(child.pid);
    expect(processName(2 ** 22 + 1)).toBeUndefined();
  });
});
