// sendmsg/recvmsg: scatter/gather, MSG_TRUNC, control messages both ways
// (SCM_CREDENTIALS, IP_PKTINFO/IPV6_PKTINFO, SO_TIMESTAMP(NS), IP_TOS/IP_TTL,
// IP_RECVERR for ECONNREFUSED and MSG_ZEROCOPY completions, raw messages),
// readv, recvmmsg/sendmmsg, and arguments that run JS while being read.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { getuid, getgid } from 'node:process';
import * as posix from '../lib/posix.js';
import { closeAll, expectNoLeaks, tcpPair } from './helpers/loopback.js';

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

function udp(address = '127.0.0.1', family: 'AF_INET' | 'AF_INET6' = 'AF_INET'): { fd: number; port: number } {
  const fd = posix.socket(family === 'AF_INET' ? posix.AF_INET : posix.AF_INET6, posix.SOCK_DGRAM);
  posix.bind(fd, { family, address, port: 0 } as posix.AddressInput);
  posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 5000); // a lost datagram fails the test, never hangs it
  const bound = posix.getsockname(fd);
  return { fd, port: 'port' in bound ? bound.port : 0 };
}

/** Waits (bounded) until fd reports `events`. */
function waitFor(fd: number, events: number): number {
  const entry = { fd, events, revents: 0 };
  expect(posix.poll([entry], 5000)).toBe(1);
  return entry.revents ?? 0;
}

describe('scatter/gather', () => {
  it('sendmsg gathers buffers (views with byteOffset, strings) and recvmsg scatters into several', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_SEQPACKET);
    try {
      const backing = Buffer.from('xxHELLOxx');
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 5); // "HELLO"
      const bang = Buffer.from('!'); // pooled: its byteOffset is not 0
      expect(posix.sendmsg(a, [view, ' ', 'wörld', new DataView(bang.buffer, bang.byteOffset, 1)])).toBe(13);
      const first = Buffer.alloc(4);
      const big = Buffer.alloc(20, '.');
      const second = big.subarray(10, 16); // 6 bytes, at an offset
      const third = new Uint8Array(10);
      const got = posix.recvmsg(b, [first, second, third]);
      expect(got.bytes).toBe(13);
      expect(got.flags & posix.MSG_TRUNC).toBe(0);
      expect(got.address).toEqual({ family: 'AF_UNSPEC' }); // a connected pair: msg_namelen 0
      expect(Buffer.concat([first, second, Buffer.from(third.subarray(0, 3))]).toString()).toBe('HELLO wörld!');
      expect(big.subarray(0, 10).toString()).toBe('.'.repeat(10)); // nothing outside the view was touched
    } finally {
      closeAll(a, b);
    }
  });

  it('a datagram larger than the buffers is cut, and MSG_TRUNC says so (the full size with MSG_TRUNC in flags)', () => {
    const { fd: receiver, port } = udp();
    const sender = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      const to = { family: 'AF_INET' as const, address: '127.0.0.1', port };
      posix.sendmsg(sender, Buffer.alloc(100, 1), null, 0, to);
      const cut = posix.recvmsg(receiver, Buffer.alloc(10));
      expect(cut.bytes).toBe(10);
      expect(cut.flags & posix.MSG_TRUNC).toBe(posix.MSG_TRUNC);
      expect(cut.address).toMatchObject({ family: 'AF_INET', address: '127.0.0.1', port: (posix.getsockname(sender) as posix.InetAddress).port });
      posix.sendmsg(sender, Buffer.alloc(100, 1), null, 0, to);
      expect(posix.recvmsg(receiver, Buffer.alloc(10), 0, posix.MSG_TRUNC).bytes).toBe(100); // the real length, as in C
    } finally {
      closeAll(receiver, sender);
    }
  });

  it('readv fills buffers in order, 0 at end of file', () => {
    const [r, w] = posix.pipe(posix.O_CLOEXEC);
    try {
      posix.write(w, 'abcdefgh');
      posix.close(w);
      const one = Buffer.alloc(3), two = Buffer.alloc(10);
      expect(posix.readv(r, [one, two])).toBe(8);
      expect(one.toString() + two.toString('utf8', 0, 5)).toBe('abcdefgh');
      expect(posix.readv(r, [one])).toBe(0);
    } finally {
      posix.close(r);
    }
  });

  it('refuses too many buffers, strings to receive into, and oversized control buffers', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      expect(() => posix.sendmsg(a, new Array<Buffer>(posix.IOV_MAX + 1).fill(Buffer.alloc(1)))).toThrow(RangeError);
      expect(() => posix.recvmsg(b, ['text' as unknown as Buffer])).toThrow(TypeError);
      expect(() => posix.recvmsg(b, Buffer.alloc(1), 64 * 1024 + 1)).toThrow(RangeError);
      expect(() => posix.recvmsg(b, Buffer.alloc(1), -1)).toThrow(RangeError);
      expect(() => posix.sendmsg(a, 'x', [{ type: 'SO_TIMESTAMP' } as unknown as posix.ControlMessageInput])).toThrow(TypeError);
      expect(() => posix.sendmsg(a, 'x', [{ type: 'IP_TTL', value: 256 }])).toThrow(RangeError);
      expect(() => posix.sendmsg(a, 'x', [{ level: 1, type: 1, data: Buffer.alloc(64 * 1024 + 1) }])).toThrow(RangeError);
      expect(() => posix.sendmsg(a, 'x', 'not an array' as unknown as [])).toThrow(TypeError);
    } finally {
      closeAll(a, b);
    }
  });

  it('arguments that run JS while they are read cannot leave a dangling pointer', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      const doomed = new ArrayBuffer(8);
      const kept = Buffer.from('kept');
      // Reading element 1 detaches element 0's memory (structuredClone with transfer).
      const buffers = [new Uint8Array(doomed), kept];
      Object.defineProperty(buffers, 1, {
        get() {
          structuredClone(doomed, { transfer: [doomed] });
          return kept;
        },
      });
      expect(posix.sendmsg(a, buffers)).toBe(4); // the detached view is empty by the time pointers are taken
      const out = Buffer.alloc(16);
      expect(out.toString('utf8', 0, posix.recv(b, out))).toBe('kept');
      // A control message getter that detaches the data buffer: the buffers are read after the control.
      const late = new ArrayBuffer(4);
      new Uint8Array(late).set([1, 2, 3, 4]);
      const control = [
        {
          get type(): 'IP_TTL' {
            structuredClone(late, { transfer: [late] });
            return 'IP_TTL';
          },
          value: 5,
        },
      ];
      // AF_UNIX ignores IP_TTL; what matters is that the data view was read after the getter emptied it.
      expect(posix.sendmsg(a, new Uint8Array(late), control)).toBe(0);
      expect(posix.recv(b, out)).toBe(0);
    } finally {
      closeAll(a, b);
    }
  });
});

describe('control messages', () => {
  it('SCM_CREDENTIALS with SO_PASSCRED: the kernel attaches the sender’s pid/uid/gid; explicit ones are checked', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(b, posix.SOL_SOCKET, posix.SO_PASSCRED, 1);
      posix.send(a, 'who am i');
      const got = posix.recvmsg(b, Buffer.alloc(16), posix.CMSG_SPACE(12));
      const expected = { pid: process.pid, uid: getuid!(), gid: getgid!() };
      const status = readFileSync('/proc/self/status', 'utf8');
      expect(Number(/^Uid:\s+(\d+)/m.exec(status)![1])).toBe(expected.uid);
      expect(posix.findControl(got.control, 'SCM_CREDENTIALS')).toEqual({ level: posix.SOL_SOCKET, type: 'SCM_CREDENTIALS', ...expected });
      posix.sendmsg(a, 'explicit', [{ type: 'SCM_CREDENTIALS' }]); // defaults: this process
      expect(posix.findControl(posix.recvmsg(b, Buffer.alloc(16), posix.CMSG_SPACE(12)).control, 'SCM_CREDENTIALS')).toMatchObject(expected);
      if (expected.uid !== 0) {
        expect(() => posix.sendmsg(a, 'lie', [{ type: 'SCM_CREDENTIALS', pid: 1 }])).toThrow(expect.objectContaining({ code: 'EPERM' }));
      }
    } finally {
      closeAll(a, b);
    }
  });

  it('IP_PKTINFO shows the destination of datagrams sent to 127.0.0.1 and 127.0.0.2 on one wildcard socket, and picks the reply’s source', () => {
    const { fd: server, port } = udp('0.0.0.0');
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 5000);
    try {
      posix.setsockopt(server, posix.IPPROTO_IP, posix.IP_PKTINFO, 1);
      const lo = posix.if_nametoindex('lo');
      for (const destination of ['127.0.0.1', '127.0.0.2']) {
        posix.sendto(client, destination, 0, { family: 'AF_INET', address: destination, port });
        const buffer = Buffer.alloc(32);
        const got = posix.recvmsg(server, buffer, 64);
        expect(buffer.toString('utf8', 0, got.bytes)).toBe(destination);
        expect(posix.findControl(got.control, 'IP_PKTINFO')).toEqual({ level: posix.IPPROTO_IP, type: 'IP_PKTINFO', ifindex: lo, specDst: destination, addr: destination });
        // Reply from the address the datagram was sent to, chosen per message.
        posix.sendmsg(server, 'reply', [{ type: 'IP_PKTINFO', specDst: destination }], 0, got.address as posix.AddressInput);
        const reply = posix.recvfrom(client, buffer);
        expect(reply.address).toMatchObject({ address: destination, port });
      }
    } finally {
      closeAll(server, client);
    }
  });

  it('IPV6_PKTINFO and IPV6_HOPLIMIT on ::1', () => {
    const { fd: server, port } = udp('::', 'AF_INET6');
    const client = posix.socket(posix.AF_INET6, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(server, posix.IPPROTO_IPV6, posix.IPV6_RECVPKTINFO, 1);
      posix.setsockopt(server, posix.IPPROTO_IPV6, posix.IPV6_RECVHOPLIMIT, 1);
      posix.sendmsg(client, 'six', [{ type: 'IPV6_HOPLIMIT', value: 7 }], 0, { family: 'AF_INET6', address: '::1', port });
      const got = posix.recvmsg(server, Buffer.alloc(8), 128);
      expect(posix.findControl(got.control, 'IPV6_PKTINFO')).toEqual({ level: posix.IPPROTO_IPV6, type: 'IPV6_PKTINFO', addr: '::1', ifindex: posix.if_nametoindex('lo') });
      expect(posix.findControl(got.control, 'IPV6_HOPLIMIT')?.value).toBe(7);
    } finally {
      closeAll(server, client);
    }
  });

  it('IP_TOS and IP_TTL set per datagram arrive as IP_TOS / IP_TTL', () => {
    const { fd: server, port } = udp();
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(server, posix.IPPROTO_IP, posix.IP_RECVTOS, 1);
      posix.setsockopt(server, posix.IPPROTO_IP, posix.IP_RECVTTL, 1);
      const to = { family: 'AF_INET' as const, address: '127.0.0.1', port };
      posix.sendmsg(client, 'marked', [{ type: 'IP_TOS', value: 0x10 }, { type: 'IP_TTL', value: 33 }], 0, to);
      const got = posix.recvmsg(server, Buffer.alloc(8), 128);
      expect(posix.findControl(got.control, 'IP_TOS')?.value).toBe(0x10);
      expect(posix.findControl(got.control, 'IP_TTL')?.value).toBe(33);
      posix.sendmsg(client, 'plain', null, 0, to);
      const plain = posix.recvmsg(server, Buffer.alloc(8), 128);
      expect(posix.findControl(plain.control, 'IP_TTL')?.value).toBe(posix.getsockopt(client, posix.IPPROTO_IP, posix.IP_TTL));
    } finally {
      closeAll(server, client);
    }
  });

  it('SO_TIMESTAMPNS and SO_TIMESTAMP are close to the clock', () => {
    const { fd: server, port } = udp();
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      const to = { family: 'AF_INET' as const, address: '127.0.0.1', port };
      posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_TIMESTAMPNS, 1);
      const before = Date.now();
      posix.sendto(client, 'tick', 0, to);
      const ns = posix.findControl(posix.recvmsg(server, Buffer.alloc(8), 64).control, 'SO_TIMESTAMPNS')!;
      const after = Date.now();
      expect(ns.nsec).toBeGreaterThanOrEqual(0);
      expect(ns.nsec).toBeLessThan(1e9);
      const ms = ns.sec * 1000 + ns.nsec / 1e6;
      expect(ms).toBeGreaterThanOrEqual(before - 5); // CLOCK_REALTIME, as Date.now(); a few ms of rounding
      expect(ms).toBeLessThanOrEqual(after + 5);
      posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_TIMESTAMPNS, 0);
      posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_TIMESTAMP, 1);
      posix.sendto(client, 'tock', 0, to);
      const us = posix.findControl(posix.recvmsg(server, Buffer.alloc(8), 64).control, 'SO_TIMESTAMP')!;
      expect(us.usec).toBeLessThan(1e6);
      expect(Math.abs(us.sec * 1000 + us.usec / 1000 - Date.now())).toBeLessThan(60_000);
    } finally {
      closeAll(server, client);
    }
  });

  it('IP_RECVERR reports ECONNREFUSED on UDP, decoded from sock_extended_err with the ICMP offender', () => {
    const { fd: closed, port: closedPort } = udp();
    posix.close(closed); // nobody listens there now
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(client, posix.IPPROTO_IP, posix.IP_RECVERR, 1);
      posix.sendto(client, 'anyone?', 0, { family: 'AF_INET', address: '127.0.0.1', port: closedPort });
      expect(waitFor(client, posix.POLLERR) & posix.POLLERR).toBe(posix.POLLERR);
      const original = Buffer.alloc(16);
      const got = posix.recvmsg(client, original, 512, posix.MSG_ERRQUEUE);
      expect(got.flags & posix.MSG_ERRQUEUE).toBe(posix.MSG_ERRQUEUE);
      expect(original.toString('utf8', 0, got.bytes)).toBe('anyone?'); // the datagram that failed
      const error = posix.findControl(got.control, 'IP_RECVERR')!;
      expect(error).toMatchObject({
        level: posix.IPPROTO_IP,
        errno: posix.ECONNREFUSED,
        code: 'ECONNREFUSED',
        origin: posix.SO_EE_ORIGIN_ICMP,
        originName: 'SO_EE_ORIGIN_ICMP',
        eeType: 3, // ICMP destination unreachable
        eeCode: 3, // port unreachable
        offender: { family: 'AF_INET', address: '127.0.0.1' },
      });
    } finally {
      posix.close(client);
    }
  });

  it('IPV6_RECVERR reports ECONNREFUSED on UDP over ::1 (ICMPv6 port unreachable)', () => {
    const { fd: closed, port: closedPort } = udp('::1', 'AF_INET6');
    posix.close(closed);
    const client = posix.socket(posix.AF_INET6, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(client, posix.IPPROTO_IPV6, posix.IPV6_RECVERR, 1);
      posix.sendto(client, 'anyone6?', 0, { family: 'AF_INET6', address: '::1', port: closedPort });
      waitFor(client, posix.POLLERR);
      const got = posix.recvmsg(client, Buffer.alloc(16), 512, posix.MSG_ERRQUEUE);
      expect(posix.findControl(got.control, 'IPV6_RECVERR')).toMatchObject({
        level: posix.IPPROTO_IPV6,
        code: 'ECONNREFUSED',
        origin: posix.SO_EE_ORIGIN_ICMP6,
        originName: 'SO_EE_ORIGIN_ICMP6',
        eeType: 1, // ICMPv6 destination unreachable
        eeCode: 4, // port unreachable
        offender: { family: 'AF_INET6', address: '::1' },
      });
    } finally {
      posix.close(client);
    }
  });

  it('SO_TIMESTAMPING with software receive stamps: a timespec close to the clock', () => {
    const { fd: server, port } = udp();
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_TIMESTAMPING, posix.SOF_TIMESTAMPING_RX_SOFTWARE | posix.SOF_TIMESTAMPING_SOFTWARE);
      // The kernel turns receive stamping on through a work item (net_enable_timestamp), so on a
      // busy machine the first datagrams after setsockopt may arrive unstamped; SO_TIMESTAMPING, unlike
      // SO_TIMESTAMP, then sends no stamp at all. Wait for a stamped one, bounded.
      let before = 0;
      let stamp: ReturnType<typeof posix.findControl<'SO_TIMESTAMPING'>>;
      const deadline = Date.now() + 5_000;
      for (let i = 0; i < 500 && stamp === undefined && Date.now() < deadline; i++) {
        before = Date.now();
        posix.sendto(client, 'stamp', 0, { family: 'AF_INET', address: '127.0.0.1', port });
        stamp = posix.findControl(posix.recvmsg(server, Buffer.alloc(8), 128).control, 'SO_TIMESTAMPING');
      }
      if (stamp === undefined) throw new Error('no datagram carried a SO_TIMESTAMPING stamp within 500 tries / 5 s');
      const ms = stamp.software.sec * 1000 + stamp.software.nsec / 1e6;
      expect(ms).toBeGreaterThanOrEqual(before - 5);
      expect(ms).toBeLessThanOrEqual(Date.now() + 5);
      expect(stamp.hardware).toEqual({ sec: 0, nsec: 0 }); // no hardware stamps on loopback
    } finally {
      closeAll(server, client);
    }
  });

  it('MSG_ZEROCOPY completions arrive on the error queue as SO_EE_ORIGIN_ZEROCOPY ranges', () => {
    const { listenFd, client, server } = tcpPair();
    try {
      posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_ZEROCOPY, 1);
      const data = Buffer.alloc(64 * 1024, 7);
      posix.send(client, data, posix.MSG_ZEROCOPY);
      posix.send(client, data, posix.MSG_ZEROCOPY);
      // On loopback the pages are released (and completed) once the receiver has read them.
      const sink = Buffer.alloc(256 * 1024);
      let total = 0;
      for (let reads = 0; total < 2 * data.length && reads < 1000; reads++) total += posix.recv(server, sink);
      expect(total).toBe(2 * data.length);
      const seen: number[] = [];
      for (let i = 0; i < 20 && seen.length < 2; i++) {
        waitFor(client, posix.POLLERR);
        const got = posix.recvmsg(client, Buffer.alloc(1), 128, posix.MSG_ERRQUEUE | posix.MSG_DONTWAIT);
        const done = posix.findControl(got.control, 'IP_RECVERR')!;
        expect(done).toMatchObject({ errno: 0, code: null, origin: posix.SO_EE_ORIGIN_ZEROCOPY, originName: 'SO_EE_ORIGIN_ZEROCOPY', offender: null });
        expect(done.zerocopy).toMatchObject({ first: done.info, last: done.data });
        for (let n = done.zerocopy!.first; n <= done.zerocopy!.last; n++) seen.push(n);
        // Loopback copies (no device can DMA from our pages): the kernel says so.
        expect(done.zerocopy!.copied).toBe(true);
      }
      expect(seen).toEqual([0, 1]);
    } finally {
      closeAll(client, server, listenFd);
    }
  });

  it('raw { level, type, data } goes out as given and comes back typed', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const spare = posix.open('/dev/null', posix.O_RDONLY | posix.O_CLOEXEC);
    try {
      const raw = Buffer.alloc(4);
      raw.writeInt32LE(spare);
      posix.sendmsg(a, 'raw', [{ level: posix.SOL_SOCKET, type: posix.SCM_RIGHTS, data: raw }]);
      const got = posix.recvmsg(b, Buffer.alloc(8), posix.CMSG_SPACE(4), posix.MSG_CMSG_CLOEXEC);
      const fds = posix.findControl(got.control, 'SCM_RIGHTS')!.fds;
      expect(fds).toHaveLength(1);
      closeAll(...fds);
      expect(posix.CMSG_SPACE(4)).toBeGreaterThanOrEqual(posix.CMSG_LEN(4));
      expect(posix.CMSG_LEN(0)).toBe(16); // sizeof(struct cmsghdr) on 64-bit Linux
    } finally {
      closeAll(a, b, spare);
    }
  });
});

describe('recvmmsg / sendmmsg', () => {
  it('move 1,000 datagrams in a few system calls each way, in order, with their senders', () => {
    const { fd: server, port } = udp();
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      posix.setsockopt(server, posix.SOL_SOCKET, posix.SO_RCVBUFFORCE, 16 * 1024 * 1024); // room for all 1,000 at once (root)
      const to = { family: 'AF_INET' as const, address: '127.0.0.1', port };
      const messages = Array.from({ length: 1000 }, (_, i) => ({ buffers: [`datagram `, String(i)], address: to }));
      let sendCalls = 0;
      for (let sent = 0; sent < messages.length; sendCalls++) sent += posix.sendmmsg(client, messages.slice(sent, sent + 1024));
      const buffers = Array.from({ length: 1000 }, () => Buffer.alloc(32));
      const texts: string[] = [];
      let recvCalls = 0;
      while (texts.length < 1000 && recvCalls < 1000) {
        const batch = posix.recvmmsg(server, buffers.slice(texts.length), posix.MSG_WAITFORONE);
        recvCalls++;
        const start = texts.length;
        batch.forEach((message, i) => {
          expect(message.address).toMatchObject({ address: '127.0.0.1', port: (posix.getsockname(client) as posix.InetAddress).port });
          texts.push(buffers[start + i]!.toString('utf8', 0, message.bytes));
        });
      }
      expect(texts).toEqual(messages.map((_, i) => `datagram ${i}`));
      expect(sendCalls).toBe(1);
      expect(recvCalls).toBeLessThanOrEqual(10);
    } finally {
      closeAll(server, client);
    }
  });

  it('recvmmsg with MSG_DONTWAIT on an empty socket is EAGAIN; sendmmsg takes plain data on a connected socket', () => {
    const { fd: server, port } = udp();
    const client = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    try {
      expect(() => posix.recvmmsg(server, [Buffer.alloc(4)], posix.MSG_DONTWAIT)).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'recvmmsg' }));
      posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
      expect(posix.sendmmsg(client, ['one', Buffer.from('two'), ['thr', 'ee']])).toBe(3);
      const got = posix.recvmmsg(server, [Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)]);
      expect(got.map((m) => m.bytes)).toEqual([3, 3, 5]);
      expect(() => posix.sendmmsg(client, [])).toThrow(RangeError);
      expect(() => posix.recvmmsg(server, new Array<Buffer>(posix.UIO_MAXIOV + 1).fill(Buffer.alloc(1)))).toThrow(RangeError);
    } finally {
      closeAll(server, client);
    }
  });
});
