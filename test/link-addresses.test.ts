// AF_PACKET and AF_NETLINK addresses, IPv6 scope ids by interface name and
// the if_* calls, checked against `ip`, Python's socket module and the
// packets themselves. The AF_PACKET capture runs in a network namespace of
// its own (`unshare -n`), so it sees only the test's own connection.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as posix from '../lib/posix.js';
import { closeAll, expectNoLeaks } from './helpers/loopback.js';

const here = dirname(fileURLToPath(import.meta.url));

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

interface Sighting {
  aux: { status: number; len: number; snaplen: number; mac: number; net: number };
  address: posix.PacketAddress;
  bytes: number;
  source: number;
  destination: number;
  flags: number;
}
interface CaptureReport {
  ipLink: string;
  loIndex: number;
  nameOfIndex: string;
  bound: posix.PacketAddress;
  clientPort: number;
  port: number;
  sightings: Sighting[];
  linkLocal: Record<string, posix.Inet6Address | { error: string }>;
  rawFrame: { sent: number; payload: string; address: posix.PacketAddress };
  promisc: { before: number; member: number; after: number };
}

describe('AF_PACKET in a network namespace of the test', () => {
  let report: CaptureReport;
  beforeAll(() => {
    const script = join(here, 'fixtures/link/packet-syn.mjs');
    const out = execFileSync('unshare', ['-n', process.execPath, script], { encoding: 'utf8', timeout: 30_000 });
    report = JSON.parse(out) as CaptureReport;
  });

  it('sees the SYN of a connection twice on lo: outgoing, then arriving for this host', () => {
    const lo = Number(/^(\d+): lo:/.exec(report.ipLink)?.[1]);
    expect(lo).toBeGreaterThan(0);
    expect(report.loIndex).toBe(lo);
    expect(report.sightings.map((seen) => seen.address.pkttype)).toEqual([posix.PACKET_OUTGOING, posix.PACKET_HOST]);
    for (const seen of report.sightings) {
      expect(seen.address).toEqual({
        family: 'AF_PACKET',
        protocol: 0x0800, // ETH_P_IP, in host order as the user wrote it
        ifindex: lo,
        hatype: 772, // ARPHRD_LOOPBACK of <net/if_arp.h>
        pkttype: seen.address.pkttype,
        address: '00:00:00:00:00:00', // lo's link/loopback address in `ip link`
      });
      expect(report.ipLink).toContain('link/loopback 00:00:00:00:00:00');
      expect(seen.source).toBe(report.clientPort);
      expect(seen.destination).toBe(report.port);
      expect(seen.bytes).toBeGreaterThanOrEqual(14 + 20 + 20);
      // PACKET_AUXDATA: the frame's own length and where its network header starts.
      expect(seen.aux).toMatchObject({ len: seen.bytes, snaplen: seen.bytes });
      expect(seen.aux.net - seen.aux.mac).toBe(14);
      expect(seen.aux.status & posix.TP_STATUS_USER).toBe(posix.TP_STATUS_USER);
    }
    expect(posix.ETH_P_IP).toBe(0x0800);
    expect(posix.ARPHRD_LOOPBACK).toBe(772);
  });

  it('PACKET_ADD_MEMBERSHIP with packet_mreq(PACKET_MR_PROMISC) counts in `ip -d link` promiscuity, and DROP undoes it', () => {
    expect(report.promisc).toEqual({ before: 0, member: 1, after: 0 });
    expect(posix.packet_mreq({ ifindex: 1, type: posix.PACKET_MR_MULTICAST, address: '01:00:5e:00:00:01' })).toHaveLength(16); // sizeof(struct packet_mreq)
    expect(() => posix.packet_mreq({ ifindex: 1 } as posix.PacketMreq)).toThrow(TypeError);
    expect(() => posix.packet_mreq({ ifindex: 'nosuchif0', type: 1 })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });

  it('getsockname of the bound packet socket names lo and ETH_P_ALL', () => {
    expect(report.bound).toMatchObject({ family: 'AF_PACKET', ifindex: report.loIndex, protocol: posix.ETH_P_ALL });
    expect(report.nameOfIndex).toBe('lo');
  });

  it('sendto() with a sockaddr_ll sends a raw Ethernet frame that a SOCK_DGRAM packet socket receives', () => {
    expect(report.rawFrame.sent).toBe(14 + 'a frame from sockfd'.length);
    expect(report.rawFrame.payload).toBe('a frame from sockfd'); // the link header stripped by the kernel
    expect(report.rawFrame.address).toMatchObject({ family: 'AF_PACKET', protocol: 0x88b5, ifindex: report.loIndex, hatype: 772 });
  });

  it('IPv6 link-local binds with the scope id given by interface name, as a zone, and fails without one', () => {
    expect(report.linkLocal.scopeIdName).toMatchObject({ family: 'AF_INET6', address: 'fe80::1', scopeId: report.loIndex });
    expect(report.linkLocal.zoneText).toMatchObject({ family: 'AF_INET6', address: 'fe80::1', scopeId: report.loIndex });
    expect(report.linkLocal.noScope).toEqual({ error: 'EINVAL' });
  });
});

describe('AF_NETLINK', () => {
  // struct nlmsghdr (16 bytes) + struct ifaddrmsg (8 bytes): an RTM_GETADDR dump for AF_INET.
  function getAddrRequest(seq: number): Buffer {
    const request = Buffer.alloc(24);
    request.writeUInt32LE(24, 0);
    request.writeUInt16LE(posix.RTM_GETADDR, 4);
    request.writeUInt16LE(posix.NLM_F_REQUEST | posix.NLM_F_DUMP, 6);
    request.writeUInt32LE(seq, 8);
    request.writeUInt8(posix.AF_INET, 16);
    return request;
  }
  const align = (n: number) => (n + 3) & ~3;

  it('a route socket lists the addresses of lo as `ip -o addr` does, replies from pid 0 (the kernel)', () => {
    const fd = posix.socket(posix.AF_NETLINK, posix.SOCK_RAW, posix.NETLINK_ROUTE);
    try {
      posix.bind(fd, posix.netlink());
      const self = posix.getsockname(fd);
      expect(self.family).toBe('AF_NETLINK');
      if (self.family !== 'AF_NETLINK') return;
      expect(self.pid).toBeGreaterThan(0); // the kernel assigned a port id
      expect(self.groups).toBe(0);
      posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 5000);
      posix.sendto(fd, getAddrRequest(7), 0, { family: 'AF_NETLINK', pid: 0, groups: 0 });
      const found: Array<{ index: number; prefix: number; local: string }> = [];
      const buffer = Buffer.alloc(64 * 1024);
      let done = false;
      for (let reads = 0; reads < 100 && !done; reads++) {
        const { bytes, address } = posix.recvfrom(fd, buffer);
        expect(address).toEqual({ family: 'AF_NETLINK', pid: 0, groups: 0 });
        for (let at = 0; at + 16 <= bytes; ) {
          const length = buffer.readUInt32LE(at), type = buffer.readUInt16LE(at + 4);
          expect(buffer.readUInt32LE(at + 8)).toBe(7);
          if (type === posix.NLMSG_DONE) done = true;
          if (type === posix.NLMSG_ERROR) throw new Error(`netlink error ${buffer.readInt32LE(at + 16)}`);
          if (type === posix.RTM_NEWADDR) {
            const prefix = buffer[at + 17]!, index = buffer.readUInt32LE(at + 20);
            for (let attr = at + 24; attr + 4 <= at + length; ) {
              const attrLength = buffer.readUInt16LE(attr), attrType = buffer.readUInt16LE(attr + 2);
              if (attrLength < 4) break;
              if (attrType === posix.IFA_LOCAL) found.push({ index, prefix, local: [...buffer.subarray(attr + 4, attr + 8)].join('.') });
              attr += align(attrLength);
            }
          }
          if (length < 16) break;
          at += align(length);
        }
      }
      expect(done).toBe(true);
      // `ip -o -4 addr show lo`: "1: lo    inet 127.0.0.1/8 scope host lo ..."
      const ipLines = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'lo'], { encoding: 'utf8' }).trim().split('\n');
      const expected = ipLines.map((line) => {
        const match = /^(\d+):\s+lo\s+inet\s+([\d.]+)\/(\d+)/.exec(line);
        if (!match) throw new Error(`unexpected ip output: ${line}`);
        return { index: Number(match[1]), prefix: Number(match[3]), local: match[2]! };
      });
      const lo = posix.if_nametoindex('lo');
      expect(found.filter((entry) => entry.index === lo)).toEqual(expected);
    } finally {
      posix.close(fd);
    }
  });

  it('binds to multicast groups and reads them back', () => {
    const fd = posix.socket(posix.AF_NETLINK, posix.SOCK_RAW, posix.NETLINK_ROUTE);
    try {
      posix.bind(fd, posix.netlink(posix.RTMGRP_LINK | posix.RTMGRP_IPV4_IFADDR));
      expect(posix.getsockname(fd)).toMatchObject({ family: 'AF_NETLINK', groups: posix.RTMGRP_LINK | posix.RTMGRP_IPV4_IFADDR });
    } finally {
      posix.close(fd);
    }
  });
});

describe('interfaces by name and index', () => {
  it('if_nameindex/if_nametoindex/if_indextoname agree with Python and `ip -o link`', () => {
    const python = JSON.parse(
      execFileSync('python3', ['-c', 'import json, socket; print(json.dumps([[i, n, socket.if_nametoindex(n), socket.if_indextoname(i)] for i, n in socket.if_nameindex()]))'], {
        encoding: 'utf8',
      }),
    ) as Array<[number, string, number, string]>;
    expect(posix.if_nameindex().map(({ index, name }) => [index, name, posix.if_nametoindex(name), posix.if_indextoname(index)])).toEqual(python);
    const ipLinks = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^(\d+): ([^:@]+)[:@]/.exec(line)!;
        return { index: Number(match[1]), name: match[2]! };
      });
    expect(posix.if_nameindex()).toEqual(ipLinks);
  });

  it('getifaddrs lists the IPv4 and IPv6 addresses of `ip -o addr`, with netmasks, and each link once', () => {
    const entries = posix.getifaddrs();
    const prefixOf = (mask: posix.SockAddr | null) =>
      mask && (mask.family === 'AF_INET' || mask.family === 'AF_INET6')
        ? [...(posix.inet_pton(mask.family === 'AF_INET' ? posix.AF_INET : posix.AF_INET6, mask.address) ?? [])].reduce((bits, byte) => bits + byte.toString(2).replace(/0/g, '').length, 0)
        : -1;
    const ours = entries
      .filter((entry) => entry.address?.family === 'AF_INET' || entry.address?.family === 'AF_INET6')
      .map((entry) => {
        const address = entry.address as posix.InetAddress | posix.Inet6Address;
        return `${entry.index} ${entry.name} ${address.family === 'AF_INET' ? 'inet' : 'inet6'} ${address.address}/${prefixOf(entry.netmask)}`;
      })
      .sort();
    const theirs = execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => {
        const match = /^(\d+):\s+(\S+)\s+(inet6?)\s+(\S+)/.exec(line)!;
        return `${match[1]} ${match[2]} ${match[3]} ${match[4]}`;
      })
      .sort();
    expect(ours).toEqual(theirs);
    const links = entries.filter((entry) => entry.address?.family === 'AF_PACKET').map((entry) => entry.name);
    expect(links.sort()).toEqual(posix.if_nameindex().map((entry) => entry.name).sort());
    const lo = entries.find((entry) => entry.name === 'lo' && entry.address?.family === 'AF_INET');
    expect(lo?.flags! & posix.IFF_LOOPBACK).toBe(posix.IFF_LOOPBACK);
    expect(lo?.flags! & posix.IFF_UP).toBe(posix.IFF_UP);
  });

  it('gethostname agrees with Python', () => {
    expect(posix.gethostname()).toBe(execFileSync('python3', ['-c', 'import socket; print(socket.gethostname())'], { encoding: 'utf8' }).trim());
  });

  it('unknown names and indexes are errno errors; bad names are RangeErrors', () => {
    expect(() => posix.if_nametoindex('nosuchif0')).toThrow(expect.objectContaining({ code: 'ENODEV', syscall: 'if_nametoindex(nosuchif0)' }));
    expect(() => posix.if_indextoname(0x7ffffff0)).toThrow(expect.objectContaining({ code: 'ENXIO' }));
    expect(() => posix.if_nametoindex('x'.repeat(16))).toThrow(RangeError);
    expect(() => posix.if_nametoindex('')).toThrow(RangeError);
    expect(() => posix.if_indextoname(0)).toThrow(RangeError);
  });
});

describe('AF_PACKET / AF_NETLINK address validation', () => {
  const udp = () => posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
  it('rejects malformed fields before any system call', () => {
    const fd = udp();
    try {
      const send = (address: posix.AddressInput) => posix.sendto(fd, 'x', 0, address);
      expect(() => send({ family: 'AF_PACKET', address: 'zz:00' })).toThrow(TypeError);
      expect(() => send({ family: 'AF_PACKET', address: '00:11:22:33:44:55:66:77:88' })).toThrow(TypeError);
      expect(() => send({ family: 'AF_PACKET', address: Buffer.alloc(9) })).toThrow(RangeError);
      expect(() => send({ family: 'AF_PACKET', pkttype: 256 })).toThrow(RangeError);
      expect(() => send({ family: 'AF_PACKET', protocol: 0x10000 })).toThrow(RangeError);
      expect(() => send({ family: 'AF_PACKET', ifindex: 1.5 })).toThrow(TypeError);
      expect(() => send({ family: 'AF_PACKET', ifname: 'nosuchif0' })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
      expect(() => send({ family: 'AF_PACKET', ifindex: 9999, ifname: 'lo' })).toThrow(TypeError);
      expect(() => send({ family: 'AF_NETLINK', pid: -1 })).toThrow(RangeError);
      expect(() => send({ family: 'AF_NETLINK', groups: 2 ** 32 })).toThrow(RangeError);
      expect(() => send({ family: 'AF_INET6', address: '::1%', port: 1 })).toThrow(TypeError);
      expect(() => send({ family: 'AF_INET6', address: '::1', port: 1, scopeId: 'nosuchif0' })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
      // The kernel, not the conversion, refuses an AF_PACKET address on a UDP socket.
      expect(() => send({ family: 'AF_PACKET', ifname: 'lo', address: Buffer.from([1, 2, 3, 4, 5, 6]) })).toThrow(
        expect.objectContaining({ syscall: 'sendto' }),
      );
    } finally {
      closeAll(fd);
    }
  });

  it('formats link-layer and netlink addresses for logs', () => {
    expect(posix.formatAddress({ family: 'AF_PACKET', protocol: 0x800, ifindex: 1, hatype: 772, pkttype: 0, address: '00:00:00:00:00:00' })).toBe(
      'packet if1 proto 0x0800 00:00:00:00:00:00',
    );
    expect(posix.formatAddress({ family: 'AF_NETLINK', pid: 0, groups: 0x11 })).toBe('netlink pid 0 groups 0x11');
  });
});
