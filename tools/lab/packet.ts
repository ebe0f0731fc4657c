// Ethernet / IPv4 / TCP (and enough of UDP, ICMP and ARP to name them) from
// the bytes an AF_PACKET socket hands over, and the Internet checksum the
// wire recomputes (veth leaves TCP/UDP checksums to "hardware" that a
// userspace wire does not have).

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

/** A decoded TCP segment (ports, sequence numbers as the wire carries them). */
export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** The flag bits (TCP_SYN | TCP_ACK ...). */
  flags: number;
  window: number;
  /** Payload bytes. */
  length: number;
  /** Window scale, MSS and SACK-permitted when the segment carries them (SYNs). */
  options: { mss?: number; windowScale?: number; sackPermitted?: boolean; timestamp?: [number, number] };
}

/** One frame, decoded as far as this module understands it. */
export interface Frame {
  /** The Ethernet payload type (0x0800 IPv4, 0x0806 ARP...). */
  etherType: number;
  ipv4?: { src: string; dst: string; protocol: number; id: number; ttl: number; totalLength: number; headerLength: number };
  tcp?: TcpSegment;
  udp?: { srcPort: number; dstPort: number; length: number };
  /** ARP "who-has X tell Y" / "X is-at" in words. */
  arp?: string;
}

const ipText = (bytes: Uint8Array, at: number): string => `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function tcpOptions(bytes: Uint8Array, start: number, end: number): TcpSegment['options'] {
  const options: TcpSegment['options'] = {};
  const data = view(bytes);
  for (let at = start; at < end; ) {
    const kind = bytes[at]!;
    if (kind === 0) break;
    if (kind === 1) {
      at += 1;
      continue;
    }
    const size = bytes[at + 1] ?? 0;
    if (size < 2 || at + size > end) break;
    if (kind === 2 && size === 4) options.mss = data.getUint16(at + 2);
    else if (kind === 3 && size === 3) options.windowScale = bytes[at + 2]!;
    else if (kind === 4) options.sackPermitted = true;
    else if (kind === 8 && size === 10) options.timestamp = [data.getUint32(at + 2), data.getUint32(at + 6)];
    at += size;
  }
  return options;
}

/** Decodes an Ethernet frame; undefined when it is too short to be one. */
export function decodeFrame(bytes: Uint8Array): Frame | undefined {
  if (bytes.byteLength < ETH_HEADER) return undefined;
  const data = view(bytes);
  const etherType = data.getUint16(12);
  const frame: Frame = { etherType };
  if (etherType === ETHERTYPE_ARP && bytes.byteLength >= ETH_HEADER + 28) {
    const op = data.getUint16(ETH_HEADER + 6);
    const sender = ipText(bytes, ETH_HEADER + 14);
    const target = ipText(bytes, ETH_HEADER + 24);
    frame.arp = op === 1 ? `who-has ${target} tell ${sender}` : `${sender} is-at`;
    return frame;
  }
  if (etherType !== ETHERTYPE_IPV4 || bytes.byteLength < ETH_HEADER + 20) return frame;
  const ip = ETH_HEADER;
  if (bytes[ip]! >> 4 !== 4) return frame;
  const headerLength = (bytes[ip]! & 0x0f) * 4;
  const totalLength = data.getUint16(ip + 2);
  const protocol = bytes[ip + 9]!;
  frame.ipv4 = { src: ipText(bytes, ip + 12), dst: ipText(bytes, ip + 16), protocol, id: data.getUint16(ip + 4), ttl: bytes[ip + 8]!, totalLength, headerLength };
  const l4 = ip + headerLength;
  const end = Math.min(bytes.byteLength, ip + totalLength);
  const fragmentOffset = data.getUint16(ip + 6) & 0x1fff;
  if (fragmentOffset !== 0) return frame;
  if (protocol === IPPROTO_TCP && end >= l4 + 20) {
    const dataOffset = (bytes[l4 + 12]! >> 4) * 4;
    frame.tcp = {
      srcPort: data.getUint16(l4),
      dstPort: data.getUint16(l4 + 2),
      seq: data.getUint32(l4 + 4),
      ack: data.getUint32(l4 + 8),
      flags: bytes[l4 + 13]! & 0x3f,
      window: data.getUint16(l4 + 14),
      length: Math.max(0, end - l4 - dataOffset),
      options: tcpOptions(bytes, l4 + 20, Math.min(end, l4 + dataOffset)),
    };
  } else if (protocol === IPPROTO_UDP && end >= l4 + 8) {
    frame.udp = { srcPort: data.getUint16(l4), dstPort: data.getUint16(l4 + 2), length: data.getUint16(l4 + 4) - 8 };
  }
  return frame;
}

/** tcpdump's flag letters: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.` ... */
export function flagLetters(flags: number): string {
  let text = '';
  if (flags & TCP_SYN) text += 'S';
  if (flags & TCP_FIN) text += 'F';
  if (flags & TCP_PSH) text += 'P';
  if (flags & TCP_RST) text += 'R';
  if (flags & TCP_URG) text += 'U';
  if (flags & TCP_ACK) text += '.';
  return text || 'none';
}

/** The tutorial's names for the flags: `SYN`, `SYN, ACK`, `FIN, ACK`, `PSH, ACK` ... */
export function flagNames(flags: number): string {
  const names: string[] = [];
  if (flags & TCP_SYN) names.push('SYN');
  if (flags & TCP_FIN) names.push('FIN');
  if (flags & TCP_RST) names.push('RST');
  if (flags & TCP_PSH) names.push('PSH');
  if (flags & TCP_ACK) names.push('ACK');
  return names.join(', ');
}

/** The flags from tcpdump's letters (`S.` → SYN|ACK); undefined when not letters of flags. */
export function parseFlagLetters(text: string): number | undefined {
  let flags = 0;
  for (const letter of text) {
    const bit = ({ S: TCP_SYN, F: TCP_FIN, P: TCP_PSH, R: TCP_RST, U: TCP_URG, '.': TCP_ACK } as Record<string, number>)[letter];
    if (bit === undefined) return undefined;
    flags |= bit;
  }
  return text === '' ? undefined : flags;
}

function sum16(bytes: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  let at = start;
  for (; at + 1 < end; at += 2) sum += (bytes[at]! << 8) | bytes[at + 1]!;
  if (at < end) sum += bytes[at]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Fills in the TCP or UDP checksum of an IPv4 frame in place (the sender's
 * veth left it "partial", for an offload engine). Returns whether it did.
 */
export function fixTransportChecksum(bytes: Uint8Array): boolean {
  if (bytes.byteLength < ETH_HEADER + 20) return false;
  const data = view(bytes);
  if (data.getUint16(12) !== ETHERTYPE_IPV4 || bytes[ETH_HEADER]! >> 4 !== 4) return false;
  const ip = ETH_HEADER;
  const headerLength = (bytes[ip]! & 0x0f) * 4;
  const totalLength = data.getUint16(ip + 2);
  const protocol = bytes[ip + 9]!;
  if ((data.getUint16(ip + 6) & 0x3fff) !== 0) return false; // fragments: leave them
  const l4 = ip + headerLength;
  const end = ip + totalLength;
  if (end > bytes.byteLength) return false;
  const checksumAt = protocol === IPPROTO_TCP ? l4 + 16 : protocol === IPPROTO_UDP ? l4 + 6 : -1;
  if (checksumAt < 0 || checksumAt + 2 > end) return false;
  const length = end - l4;
  const pseudo = sum16(bytes, ip + 12, ip + 20, 0) + protocol + length;
  data.setUint16(checksumAt, 0);
  let checksum = fold(sum16(bytes, l4, end, pseudo));
  if (protocol === IPPROTO_UDP && checksum === 0) checksum = 0xffff;
  data.setUint16(checksumAt, checksum);
  return true;
}

/** Whether the TCP/UDP checksum of an IPv4 frame is right (tests; the wire fixes, it does not check). */
export function transportChecksumOk(bytes: Uint8Array): boolean {
  const copy = Uint8Array.from(bytes);
  const data = view(bytes);
  const ip = ETH_HEADER;
  const l4 = ip + (bytes[ip]! & 0x0f) * 4;
  const at = bytes[ip + 9] === IPPROTO_TCP ? l4 + 16 : l4 + 6;
  if (!fixTransportChecksum(copy)) return false;
  return view(copy).getUint16(at) === data.getUint16(at);
}
