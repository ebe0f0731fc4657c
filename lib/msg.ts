// sendmsg/recvmsg and their kin: scatter/gather over several buffers, control
// messages (ancillary data) as typed objects both ways, fd passing in the
// shape of Python's socket.send_fds/recv_fds, readv, and the datagram
// batches recvmmsg/sendmmsg. C names, C semantics (native/msg.cc).
import { binding } from './native.js';
import { MSG_CMSG_CLOEXEC } from './constants.js';
import type { AddressInput, SockAddr } from './sockaddr.js';

type BinaryData = ArrayBufferView | ArrayBuffer;
type Data = BinaryData | string;

/** One buffer or several (scatter/gather: filled or sent in order). */
export type Buffers = BinaryData | readonly BinaryData[];
/** One chunk of data or several, strings sent as UTF-8. */
export type DataBuffers = Data | readonly Data[];

// ---- control messages to send -----------------------------------------------------

/** Any control message by its numbers: `data` is the payload after the cmsghdr. */
export interface RawControlMessage {
  level: number;
  type: number;
  data: Buffer;
}

/** A control message for sendmsg(): typed by name, or raw by numbers. */
export type ControlMessageInput =
  /** SOL_SOCKET: pass open fds (the receiver gets new fds for the same open files). */
  | { type: 'SCM_RIGHTS'; fds: readonly number[] }
  /** SOL_SOCKET: credentials; each defaults to this process's own (the kernel checks them). */
  | { type: 'SCM_CREDENTIALS'; pid?: number; uid?: number; gid?: number }
  /** IPPROTO_IP: send from `specDst` and/or out of interface `ifindex`. */
  | { type: 'IP_PKTINFO'; ifindex?: number; specDst?: string; addr?: string }
  /** IPPROTO_IPV6: send from `addr` and/or out of interface `ifindex`. */
  | { type: 'IPV6_PKTINFO'; ifindex?: number; addr?: string }
  /** Per-datagram TOS, TTL, hop limit or traffic class. */
  | { type: 'IP_TOS' | 'IP_TTL' | 'IPV6_HOPLIMIT' | 'IPV6_TCLASS'; value: number }
  | { level: number; type: number; data?: BinaryData };

// ---- control messages received --------------------------------------------------------

/** struct sock_extended_err of an IP_RECVERR / IPV6_RECVERR message (MSG_ERRQUEUE). */
export interface ExtendedErrorMessage {
  level: number;
  type: 'IP_RECVERR' | 'IPV6_RECVERR';
  /** ee_errno, and its name ('ECONNREFUSED'), null when 0 (zerocopy, timestamps). */
  errno: number;
  code: string | null;
  /** ee_origin (SO_EE_ORIGIN_*) and its name. */
  origin: number;
  originName: string;
  /** ee_type, ee_code: the ICMP type and code for ICMP origins. */
  eeType: number;
  eeCode: number;
  /** ee_info, ee_data. */
  info: number;
  data: number;
  /** SO_EE_ORIGIN_ZEROCOPY: the sends numbered first..last completed; copied = the kernel copied after all. */
  zerocopy?: { first: number; last: number; copied: boolean };
  /** SO_EE_OFFENDER: who reported it (the ICMP sender), null when none. */
  offender: SockAddr | null;
}

/** A control message recvmsg() decoded; anything else comes raw. */
export type ControlMessage =
  | { level: number; type: 'SCM_RIGHTS'; fds: number[] }
  | { level: number; type: 'SCM_CREDENTIALS'; pid: number; uid: number; gid: number }
  | { level: number; type: 'SO_TIMESTAMP'; sec: number; usec: number }
  | { level: number; type: 'SO_TIMESTAMPNS'; sec: number; nsec: number }
  | { level: number; type: 'SO_TIMESTAMPING'; software: { sec: number; nsec: number }; hardware: { sec: number; nsec: number } }
  | { level: number; type: 'SO_RXQ_OVFL'; value: number }
  | { level: number; type: 'IP_PKTINFO'; ifindex: number; specDst: string; addr: string }
  | { level: number; type: 'IPV6_PKTINFO'; addr: string; ifindex: number }
  | { level: number; type: 'IP_TOS' | 'IP_TTL' | 'IPV6_HOPLIMIT' | 'IPV6_TCLASS'; value: number }
  | { level: number; type: 'IP_ORIGDSTADDR'; address: SockAddr }
  /** SOL_PACKET with PACKET_AUXDATA on: struct tpacket_auxdata (status has TP_STATUS_CSUMNOTREADY, TP_STATUS_VLAN_VALID, ...). */
  | { level: number; type: 'PACKET_AUXDATA'; status: number; len: number; snaplen: number; mac: number; net: number; vlanTci: number; vlanTpid: number }
  | ExtendedErrorMessage
  | RawControlMessage;

/** The names of the typed control messages. */
export type ControlMessageName = Extract<ControlMessage['type'], string>;

/** recvmsg(): bytes received, msg_flags (MSG_TRUNC, MSG_CTRUNC, ...), the sender and the control messages. */
export interface ReceivedMessage {
  bytes: number;
  flags: number;
  address: SockAddr;
  control: ControlMessage[];
}

/** One datagram of sendmmsg(): its data, and optionally a destination and control messages. */
export type OutgoingMessage = DataBuffers | { buffers: DataBuffers; address?: AddressInput; control?: readonly ControlMessageInput[] };

/** recvFds(): the data, the fds that arrived (open, yours to close), msg_flags and the sender. */
export interface ReceivedFds {
  bytes: number;
  fds: number[];
  flags: number;
  address: SockAddr;
}

interface MsgBinding {
  sendmsg(fd: number, buffers: DataBuffers, control?: readonly ControlMessageInput[] | null, flags?: number, address?: AddressInput | null): number;
  recvmsg(fd: number, buffers: Buffers, controlLength?: number, flags?: number): ReceivedMessage;
  readv(fd: number, buffers: Buffers): number;
  sendmmsg(fd: number, messages: readonly OutgoingMessage[], flags?: number): number;
  recvmmsg(fd: number, buffers: readonly Buffers[], flags?: number, controlLength?: number): ReceivedMessage[];
  CMSG_SPACE(length: number): number;
  CMSG_LEN(length: number): number;
}

const native = binding as unknown as MsgBinding;

/**
 * sendmsg(2): the buffers in order as one message, with control messages
 * (SCM_RIGHTS, ...) and, for an unconnected socket, a destination.
 */
export const sendmsg: (
  fd: number,
  buffers: DataBuffers,
  control?: readonly ControlMessageInput[] | null,
  flags?: number,
  address?: AddressInput | null,
) => number = native.sendmsg;

/**
 * recvmsg(2) into the buffers in order. `controlLength` is the control
 * buffer's size (CMSG_SPACE of what you expect; 0 by default, as in C:
 * control messages are then dropped and MSG_CTRUNC set). Received fds are
 * open fds you own; pass MSG_CMSG_CLOEXEC to get them close-on-exec.
 */
export const recvmsg: (fd: number, buffers: Buffers, controlLength?: number, flags?: number) => ReceivedMessage = native.recvmsg;

/** readv(2): fills the buffers in order; 0 at end of file. */
export const readv: (fd: number, buffers: Buffers) => number = native.readv;

/** sendmmsg(2): several datagrams in one system call; returns how many were sent. */
export const sendmmsg: (fd: number, messages: readonly OutgoingMessage[], flags?: number) => number = native.sendmmsg;

/**
 * recvmmsg(2): up to `buffers.length` datagrams in one system call, one
 * buffer (or list of buffers) each. A blocking call waits for all of them
 * unless flags has MSG_WAITFORONE (or MSG_DONTWAIT), as in C.
 */
export const recvmmsg: (fd: number, buffers: readonly Buffers[], flags?: number, controlLength?: number) => ReceivedMessage[] =
  native.recvmmsg;

/** CMSG_SPACE(3): the control-buffer room one message of `length` payload bytes takes. */
export const CMSG_SPACE: (length: number) => number = native.CMSG_SPACE;
/** CMSG_LEN(3): cmsg_len of a message of `length` payload bytes. */
export const CMSG_LEN: (length: number) => number = native.CMSG_LEN;

const FD_BYTES = 4; // sizeof(int)

/**
 * Python's socket.send_fds(): `data` and the fds in one sendmsg() with one
 * SCM_RIGHTS message. Returns the bytes sent. The fds stay open here.
 */
export function sendFds(fd: number, data: DataBuffers, fds: readonly number[], flags = 0, address?: AddressInput): number {
  return sendmsg(fd, data, [{ type: 'SCM_RIGHTS', fds }], flags, address);
}

/**
 * Python's socket.recv_fds(): data into `buffer` and up to `maxFds` fds.
 * MSG_CMSG_CLOEXEC is on by default (child processes do not inherit them).
 * When more fds were sent than fit, the kernel closes the rest and `flags`
 * has MSG_CTRUNC; the ones that arrived are returned.
 */
export function recvFds(fd: number, buffer: Buffers, maxFds: number, flags = MSG_CMSG_CLOEXEC): ReceivedFds {
  if (!Number.isInteger(maxFds) || maxFds < 1 || maxFds > 253) throw new RangeError(`maxFds must be 1..253 (SCM_MAX_FD), got ${maxFds}`);
  const message = recvmsg(fd, buffer, CMSG_SPACE(maxFds * FD_BYTES), flags);
  const fds: number[] = [];
  for (const item of message.control) if (item.type === 'SCM_RIGHTS') fds.push(...item.fds);
  return { bytes: message.bytes, fds, flags: message.flags, address: message.address };
}

/** The first control message of that name, typed (undefined when absent). */
export function findControl<N extends ControlMessageName>(
  control: readonly ControlMessage[],
  name: N,
): (ControlMessage & { type: N }) | undefined {
  return control.find((item) => item.type === name) as (ControlMessage & { type: N }) | undefined;
}
