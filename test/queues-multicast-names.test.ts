// The socket-buffer ioctls against `ss`, multicast membership against
// /proc/net/igmp, TCP Fast Open (in a namespace of the test) against the
// kernel's TcpExt counters, getnameinfo/gethostbyaddr against Python, and the
// Socket methods and async forms of the message calls.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as posix from '../lib/posix.js';
import { Socket } from '../lib/socket.js';
import { recvmsgAsync, sendFdsAsync, recvFdsAsync, recvmmsgAsync, sendmsgAsync } from '../lib/msg-async.js';
import { closeAll, expectNoLeaks, tcpPair } from './helpers/loopback.js';

const here = dirname(fileURLToPath(import.meta.url));

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

describe('ioctl: what waits in the socket buffers', () => {
  it('SIOCINQ / SIOCOUTQ / SIOCOUTQNSD agree with ss Recv-Q / Send-Q while the peer never reads', () => {
    const { listenFd, port, client, server } = tcpPair();
    try {
      posix.fcntl(client, posix.F_SETFL, posix.fcntl(client, posix.F_GETFL) | posix.O_NONBLOCK);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      for (let i = 0; i < 10_000; i++) {
        try {
          sent += posix.send(client, chunk);
        } catch (error) {
          expect(error).toMatchObject({ code: 'EAGAIN' }); // full: a blocking send() would wait here
          break;
        }
      }
      expect(sent).toBeGreaterThan(0);
      // The queues settle once the last segment is acknowledged (bounded wait for a stable reading).
      let inq = -1, outq = -2;
      for (let i = 0; i < 200 && inq + outq !== sent; i++) {
        posix.poll([], 5);
        inq = posix.ioctl(server, posix.SIOCINQ);
        outq = posix.ioctl(client, posix.SIOCOUTQ);
      }
      expect(inq + outq).toBe(sent); // every byte is either waiting at the receiver or unacknowledged at the sender
      expect(posix.ioctl(server, posix.FIONREAD)).toBe(inq);
      expect(posix.ioctl(client, posix.SIOCOUTQNSD)).toBeLessThanOrEqual(outq);
      const clientPort = (posix.getsockname(client) as posix.InetAddress).port;
      // A zero-window probe can still move bytes while ss runs: compare readings taken around one ss call that agree.
      const ssQueues = () => {
        const text = execFileSync('ss', ['-tnH', `( sport = :${port} and dport = :${clientPort} ) or ( sport = :${clientPort} and dport = :${port} )`], { encoding: 'utf8' });
        const rows = text.trim().split('\n').map((line) => line.trim().split(/\s+/));
        return { inq: Number(rows.find((row) => row[3]?.endsWith(`:${port}`))![1]), outq: Number(rows.find((row) => row[3]?.endsWith(`:${clientPort}`))![2]) };
      };
      let ours = { inq, outq };
      let theirs = ssQueues();
      for (let i = 0; i < 20; i++) {
        const before = { inq: posix.ioctl(server, posix.SIOCINQ), outq: posix.ioctl(client, posix.SIOCOUTQ) };
        theirs = ssQueues();
        ours = { inq: posix.ioctl(server, posix.SIOCINQ), outq: posix.ioctl(client, posix.SIOCOUTQ) };
        if (before.inq === ours.inq && before.outq === ours.outq) break;
      }
      expect(theirs).toEqual(ours); // Recv-Q of the reader, Send-Q of the writer
      inq = ours.inq;
      const socket = new Socket(posix.dup(server));
      try {
        expect(socket.readableBytes).toBe(inq);
      } finally {
        socket.close();
      }
    } finally {
      closeAll(client, server, listenFd);
    }
  });

  it('refuses requests whose argument is not one int', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      expect(() => posix.ioctl(fd, 0x8912 /* SIOCGIFCONF: a struct ifconf */)).toThrow(RangeError);
      expect(() => posix.ioctl(fd, posix.FIONREAD, 1)).toThrow(TypeError);
      expect(posix.ioctl(fd, posix.FIONBIO, 1)).toBe(0);
      expect(posix.fcntl(fd, posix.F_GETFL) & posix.O_NONBLOCK).toBe(posix.O_NONBLOCK);
    } finally {
      posix.close(fd);
    }
  });
});

describe('multicast on the loopback', () => {
  const group = '239.7.7.7';
  const groupHex = () => Buffer.from([239, 7, 7, 7]).readUInt32LE().toString(16).toUpperCase().padStart(8, '0'); // /proc prints __be32 in host order
  const joinedOnLo = () =>
    readFileSync('/proc/net/igmp', 'utf8')
      .split(/\n(?=\d+\s)/)
      .filter((block) => /^\d+\s+lo\s/.test(block))
      .some((block) => block.includes(groupHex()));

  it('join: the group’s datagrams arrive; leave: they do not (a unicast marker sent after shows it)', () => {
    const receiver = Socket.udp();
    const sender = Socket.udp();
    try {
      receiver.bind({ family: 'AF_INET', address: '0.0.0.0', port: 0 });
      receiver.receiveTimeout = 5000;
      const port = (receiver.localAddress as posix.InetAddress).port;
      sender.setOption(posix.IPPROTO_IP, posix.IP_MULTICAST_IF, posix.ip_mreqn({ ifindex: 'lo' }));
      sender.setOption(posix.IPPROTO_IP, posix.IP_MULTICAST_LOOP, 1);
      expect(joinedOnLo()).toBe(false);
      receiver.joinGroup(group, 'lo');
      expect(joinedOnLo()).toBe(true);
      const buffer = Buffer.alloc(32);
      sender.sendto('to the group', { family: 'AF_INET', address: group, port });
      const got = receiver.recvmsg(buffer, 0);
      expect(buffer.toString('utf8', 0, got.bytes)).toBe('to the group');
      receiver.leaveGroup(group, 'lo');
      expect(joinedOnLo()).toBe(false);
      sender.sendto('to the group again', { family: 'AF_INET', address: group, port });
      sender.sendto('marker', { family: 'AF_INET', address: '127.0.0.1', port });
      expect(buffer.toString('utf8', 0, receiver.recv(buffer))).toBe('marker');
    } finally {
      receiver.close();
      sender.close();
    }
  });

  it('IPv6: IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP show in /proc/net/igmp6', () => {
    const socket = Socket.udp('AF_INET6');
    const group6 = 'ff15::7777';
    const hex = Buffer.from(posix.inet_pton(posix.AF_INET6, group6)!).toString('hex');
    const member = () => readFileSync('/proc/net/igmp6', 'utf8').split('\n').some((line) => /\slo\s/.test(line) && line.includes(hex));
    try {
      socket.bind({ family: 'AF_INET6', address: '::', port: 0 });
      socket.joinGroup(group6, 'lo');
      expect(member()).toBe(true);
      socket.leaveGroup(group6, 'lo');
      expect(member()).toBe(false);
      expect(() => posix.ipv6_mreq({ multiaddr: '239.1.1.1' })).toThrow(TypeError);
      expect(posix.ip_mreqn({ multiaddr: group, ifindex: 1 })).toHaveLength(12); // sizeof(struct ip_mreqn)
      expect(posix.ipv6_mreq({ multiaddr: group6 })).toHaveLength(20);
      expect(posix.ip_mreq_source({ multiaddr: group, sourceaddr: '127.0.0.1' })).toHaveLength(12);
    } finally {
      socket.close();
    }
  });
});

describe('TCP Fast Open on the client (in a network namespace of the test)', () => {
  it('MSG_FASTOPEN gets a cookie, then carries data in the SYN; TCP_FASTOPEN_CONNECT does the same for connect+send', () => {
    const out = execFileSync('unshare', ['-n', process.execPath, join(here, 'fixtures/link/fastopen.mjs')], { encoding: 'utf8', timeout: 30_000 });
    const report = JSON.parse(out) as {
      viaSendto: Array<{ text: string; synData: boolean }>;
      viaConnect: { text: string; synData: boolean };
      activeBySendto: number;
      passiveBySendto: number;
      cookieRequests: number;
      activeByConnect: number;
    };
    expect(report.viaSendto).toEqual([
      { text: 'sendto 1', synData: false }, // no cookie yet: the SYN asks for one
      { text: 'sendto 2', synData: true },
    ]);
    expect(report.viaConnect).toEqual({ text: 'connect then send', synData: true });
    // The kernel's own counters (TcpExt of /proc/net/netstat, fresh in the namespace).
    expect(report.cookieRequests).toBe(1);
    expect(report.activeBySendto).toBe(1);
    expect(report.passiveBySendto).toBe(1);
    expect(report.activeByConnect).toBe(1);
  });
});

describe('getnameinfo / gethostbyaddr', () => {
  const python = (code: string) => JSON.parse(execFileSync('python3', ['-c', `import json, socket\n${code}`], { encoding: 'utf8' })) as unknown;

  it('agree with Python’s socket module for NI_* flags', () => {
    const cases: Array<[string, number, number]> = [
      ['127.0.0.1', 22, 0],
      ['127.0.0.1', 22, posix.NI_NUMERICHOST],
      ['127.0.0.1', 53, posix.NI_NUMERICSERV | posix.NI_DGRAM],
      ['127.0.0.1', 80, posix.NI_NUMERICHOST | posix.NI_NUMERICSERV],
      ['::1', 443, posix.NI_NUMERICHOST],
    ];
    const expected = python(
      `print(json.dumps([list(socket.getnameinfo((h, p), f)) for h, p, f in ${JSON.stringify(cases)}]))`,
    ) as Array<[string, string]>;
    const ours = cases.map(([host, port, flags]) => {
      const info = posix.getnameinfo(host.includes(':') ? { family: 'AF_INET6', address: host, port } : { family: 'AF_INET', address: host, port }, flags);
      return [info.host, info.service];
    });
    expect(ours).toEqual(expected);
  });

  it('NI_NAMEREQD without a name is EAI_NONAME; gethostbyaddr matches Python’s gethostbyaddr', () => {
    expect(() => posix.getnameinfo({ family: 'AF_INET', address: '192.0.2.123', port: 1 }, posix.NI_NAMEREQD)).toThrow(
      expect.objectContaining({ code: 'EAI_NONAME', syscall: 'getnameinfo' }),
    );
    const [name, , addresses] = python(`print(json.dumps(socket.gethostbyaddr('127.0.0.1')))`) as [string, string[], string[]];
    const ours = posix.gethostbyaddr('127.0.0.1');
    expect(ours?.h_name).toBe(name);
    expect(ours?.h_addr_list).toEqual(addresses);
    expect(() => posix.gethostbyaddr('not an address')).toThrow(TypeError);
  });
});

describe('Socket methods and async forms', () => {
  it('Socket.sendFds / recvFds take Sockets and fds; accessors for SO_PASSCRED / SO_TIMESTAMPNS / IP_PKTINFO', () => {
    const [a, b] = Socket.pair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const passed = Socket.udp();
    try {
      a.sendFds('one socket', [passed]);
      const got = b.recvFds(Buffer.alloc(16), 2);
      expect(got.fds).toHaveLength(1);
      const copy = new Socket(got.fds[0]!);
      expect(copy.type).toBe(posix.SOCK_DGRAM);
      copy.close();
      b.passCredentials = true;
      expect(b.passCredentials).toBe(true);
      a.sendmsg(['with ', 'creds']);
      expect(posix.findControl(b.recvmsg(Buffer.alloc(16), 64).control, 'SCM_CREDENTIALS')?.pid).toBe(process.pid);
      passed.timestampNs = true;
      expect(passed.timestampNs).toBe(true);
      passed.packetInfo = true;
      expect(passed.packetInfo).toBe(true);
      passed.receiveErrors = true;
      expect(passed.receiveErrors).toBe(true);
      passed.close();
      expect(() => a.sendFds('x', [passed])).toThrow(expect.objectContaining({ code: 'EBADF' })); // a closed Socket
    } finally {
      a.close();
      b.close();
      passed.close();
    }
  });

  it('recvmsgAsync waits on the loop; sendFdsAsync/recvFdsAsync pass fds; timeouts name the call', async () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM | posix.SOCK_NONBLOCK | posix.SOCK_CLOEXEC);
    const spare = posix.open('/dev/null', posix.O_RDONLY | posix.O_CLOEXEC);
    try {
      const pending = recvmsgAsync(b, Buffer.alloc(16));
      setImmediate(() => posix.send(a, 'later'));
      expect((await pending).bytes).toBe(5);
      const fdsPending = recvFdsAsync(b, Buffer.alloc(8), 2);
      await sendFdsAsync(a, 'fd', [spare]);
      const got = await fdsPending;
      expect(got.fds).toHaveLength(1);
      expect(posix.fcntl(got.fds[0]!, posix.F_GETFD) & posix.FD_CLOEXEC).toBe(posix.FD_CLOEXEC);
      posix.close(got.fds[0]!);
      await expect(recvmsgAsync(b, Buffer.alloc(1), { timeout: 20 })).rejects.toMatchObject({ name: 'TimeoutError', syscall: 'recvmsg' });
      const controller = new AbortController();
      const aborted = recvmmsgAsync(b, [Buffer.alloc(1)], { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError', syscall: 'recvmmsg' });
      expect(await sendmsgAsync(a, ['a', 'b'])).toBe(2);
      const batch = await recvmmsgAsync(b, [Buffer.alloc(4), Buffer.alloc(4)]);
      expect(batch.map((m) => m.bytes)).toEqual([2]); // what was there, without waiting for the second
    } finally {
      closeAll(a, b, spare);
    }
  });
});
