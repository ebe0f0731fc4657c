// Byte order, address text and every address family: IPv4, IPv6, Unix
// (path and abstract), UDP datagrams and socketpair.
import { describe, expect, it } from 'vitest';
import { endianness, tmpdir } from 'node:os';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as posix from '../lib/posix.js';
import { closeAll, expectNoLeaks } from './helpers/loopback.js';

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

describe('byte order', () => {
  it('htonl/htons swap on this little-endian host and ntohl/ntohs undo it', () => {
    // Expected values computed independently: the big-endian bytes read back in host order.
    const host = endianness();
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0x12345678);
    const asHost = host === 'LE' ? big.readUInt32LE() : big.readUInt32BE();
    expect(posix.htonl(0x12345678)).toBe(asHost);
    if (host === 'LE') expect(posix.htonl(0x12345678)).toBe(0x78563412);
    expect(posix.ntohl(posix.htonl(0x12345678))).toBe(0x12345678);
    expect(posix.htons(5005)).toBe(host === 'LE' ? ((5005 & 0xff) << 8) | (5005 >> 8) : 5005);
    expect(posix.ntohs(posix.htons(5005))).toBe(5005);
    expect(posix.htonl(0xffffffff)).toBe(0xffffffff); // unsigned, never negative
    expect(() => posix.htons(65536)).toThrow(RangeError);
    expect(() => posix.htonl(-1)).toThrow(RangeError);
    expect(() => posix.htonl(2 ** 32)).toThrow(RangeError);
    expect(() => posix.htons(1.5)).toThrow(TypeError);
  });

  it('192.168.190.134 is 3232284294, big-endian in s_addr', () => {
    const sAddr = posix.inet_addr('192.168.190.134');
    expect(posix.ntohl(sAddr)).toBe(3232284294);
    expect(3232284294).toBe(((192 * 256 + 168) * 256 + 190) * 256 + 134);
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(sAddr); // s_addr as it lies in memory on this host
    if (endianness() === 'LE') expect([...bytes]).toEqual([192, 168, 190, 134]);
    expect(posix.inet_ntoa(sAddr)).toBe('192.168.190.134');
    expect(posix.inet_aton('192.168.190.134')).toBe(sAddr);
    expect(posix.inet_aton('not an address')).toBeNull();
  });

  it('inet_addr of a host name is INADDR_NONE (demo5), gethostbyname resolves it (demo1)', () => {
    expect(posix.inet_addr('localhost')).toBe(posix.INADDR_NONE);
    expect(posix.INADDR_NONE).toBe(0xffffffff);
    const host = posix.gethostbyname('localhost');
    expect(host).not.toBeNull();
    expect(host!.h_addrtype).toBe(posix.AF_INET);
    expect(host!.h_length).toBe(4);
    expect(host!.h_addr_list).toContain('127.0.0.1');
    expect(posix.gethostbyname('127.0.0.1')!.h_addr_list).toEqual(['127.0.0.1']);
  });

  it('inet_pton/inet_ntop for both families', () => {
    expect([...posix.inet_pton(posix.AF_INET, '10.1.2.3')!]).toEqual([10, 1, 2, 3]);
    const v6 = posix.inet_pton(posix.AF_INET6, '::1')!;
    expect(v6.length).toBe(16);
    expect(v6[15]).toBe(1);
    expect(posix.inet_ntop(posix.AF_INET6, v6)).toBe('::1');
    expect(posix.inet_pton(posix.AF_INET, '300.1.1.1')).toBeNull();
    expect(() => posix.inet_pton(12345, '1.2.3.4')).toThrow(/Address family not supported/);
    expect(() => posix.inet_ntop(posix.AF_INET, Buffer.alloc(3))).toThrow(RangeError);
  });

  it('getaddrinfo resolves numeric hosts and reports EAI_* codes', () => {
    const results = posix.getaddrinfo('127.0.0.1', 5005, { socktype: posix.SOCK_STREAM });
    expect(results[0]).toMatchObject({
      family: posix.AF_INET,
      socktype: posix.SOCK_STREAM,
      address: { family: 'AF_INET', address: '127.0.0.1', port: 5005 },
    });
    try {
      posix.getaddrinfo('not-a-number', null, { flags: posix.AI_NUMERICHOST });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'EAI_NONAME', syscall: 'getaddrinfo' });
    }
  });
});

describe('address families', () => {
  it('a listening socket bound to INADDR_ANY as the tutorial fills it: htonl(INADDR_ANY)', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(fd, { family: 'AF_INET', address: posix.htonl(posix.INADDR_ANY), port: posix.htons(0) });
    expect(posix.getsockname(fd)).toMatchObject({ family: 'AF_INET', address: '0.0.0.0' });
    posix.close(fd);
  });

  it('UDP datagrams keep their boundaries and recvfrom names the sender', () => {
    const a = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    const b = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    posix.bind(a, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    posix.bind(b, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    const aName = posix.getsockname(a);
    const bName = posix.getsockname(b) as posix.InetAddress;
    expect(posix.sendto(a, 'one', 0, bName)).toBe(3);
    expect(posix.sendto(a, 'two!', 0, bName)).toBe(4);
    const buffer = Buffer.alloc(64);
    const first = posix.recvfrom(b, buffer);
    expect(first.bytes).toBe(3);
    expect(first.address).toEqual(aName);
    expect(buffer.toString('utf8', 0, first.bytes)).toBe('one');
    expect(posix.recvfrom(b, buffer).bytes).toBe(4);
    closeAll(a, b);
  });

  it('Unix-domain sockets by path and by abstract name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-unix-'));
    const path = join(dir, 's.sock');
    for (const address of [posix.unix(path), posix.abstract(`sockfd-test-${process.pid}`)]) {
      const listenFd = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
      posix.bind(listenFd, address);
      posix.listen(listenFd);
      expect(posix.getsockname(listenFd)).toEqual(address);
      const client = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
      posix.connect(client, address);
      const { fd: server } = posix.accept(listenFd);
      expect(posix.getpeername(client)).toEqual(address);
      posix.send(client, 'unix');
      const buffer = Buffer.alloc(8);
      expect(buffer.toString('utf8', 0, posix.recv(server, buffer))).toBe('unix');
      const cred = posix.getsockopt(server, posix.SOL_SOCKET, posix.SO_PEERCRED) as posix.PeerCred;
      expect(cred.pid).toBe(process.pid);
      closeAll(client, server, listenFd);
    }
    expect(existsSync(path)).toBe(true); // a path socket leaves its file behind; an abstract one does not
    rmSync(dir, { recursive: true });
  });

  it('socketpair gives two connected ends', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    posix.write(a, 'ping');
    const buffer = Buffer.alloc(8);
    expect(buffer.toString('utf8', 0, posix.read(b, buffer))).toBe('ping');
    posix.write(b, 'pong');
    expect(buffer.toString('utf8', 0, posix.read(a, buffer))).toBe('pong');
    closeAll(a, b);
  });
});
