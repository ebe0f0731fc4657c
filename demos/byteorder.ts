// The byte order section: how this host stores 0x12345678, what htonl/ntohl
// do to it, and 192.168.190.134 as the 32-bit integer 3232284294 with its
// bytes in big-endian (network) and little-endian order.
import * as posix from '../lib/posix.js';
import type { Demo } from './support/demo.js';
import { parseTwinArgs, print, twinHelp } from './support/tutorial-io.js';

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
const bits = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(2).padStart(8, '0')).join(' ');
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** The bytes of a uint32 as this CPU keeps it in memory. */
export function memoryBytes(value: number): Uint8Array {
  return new Uint8Array(new Uint32Array([value]).buffer);
}

/** The demo's report, line by line (exported for the tour's checks). */
export function byteOrderReport(ip = '192.168.190.134'): string[] {
  const value = 0x12345678;
  const host = memoryBytes(value);
  const littleEndian = host[0] === 0x78;
  const net = posix.htonl(value);
  const s_addr = posix.inet_addr(ip);
  const asNumber = posix.ntohl(s_addr);
  const big = memoryBytes(s_addr); // s_addr is kept in network order: big-endian in memory
  const little = Uint8Array.from(big).reverse();
  return [
    `本机字节序：${littleEndian ? '小端序（Little Endian）' : '大端序（Big Endian）'}`,
    `0x12345678 在内存中（地址从低到高）：${hex(host)}`,
    `htonl(0x12345678) = ${hex32(net)}，在内存中：${hex(memoryBytes(net))}（网络字节序，大端序）`,
    `ntohl(${hex32(net)}) = ${hex32(posix.ntohl(net))}`,
    `htons(5005) = ${posix.htons(5005)}（0x${posix.htons(5005).toString(16).padStart(4, '0')}），ntohs(${posix.htons(5005)}) = ${posix.ntohs(posix.htons(5005))}`,
    '',
    `${ip} = ${asNumber}（${hex32(asNumber)}）`,
    `inet_addr("${ip}") = ${s_addr}：sin_addr.s_addr 按网络字节序存放，在内存中：${hex(big)}`,
    `大端：${bits(big)}`,
    `小端：${bits(little)}`,
  ];
}

export const demo: Demo = {
  name: 'byteorder',
  programs: [],
  summary: '0x12345678 in memory on this host, htonl/ntohl, 192.168.190.134 = 3232284294 in both orders',
  usage: twinHelp(
    "The byte order section: the bytes of 0x12345678 as this CPU stores them, htonl()/ntohl()\nand htons()/ntohs(), and an IPv4 address (default 192.168.190.134, the tutorial's)\nas one 32-bit integer with its bytes in big-endian (network) and little-endian order.",
    'usage: sockfd demo byteorder [ip]',
    {},
  ),
  run(argv) {
    const { positionals } = parseTwinArgs(argv, {});
    if (positionals.length > 1) {
      print('usage: sockfd demo byteorder [ip]\n');
      return 255;
    }
    const ip = positionals[0] ?? '192.168.190.134';
    if (posix.inet_pton(posix.AF_INET, ip) === null) {
      print(`${ip}：不是IPv4地址。\n`);
      return 255;
    }
    print(byteOrderReport(ip).join('\n') + '\n');
    return 0;
  },
};
