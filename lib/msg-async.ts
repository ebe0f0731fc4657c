// The message calls on Node's event loop: sendmsg/recvmsg, sendFds/recvFds
// and recvmmsg/sendmmsg without blocking. Each tries the call with
// MSG_DONTWAIT (native try-calls in native/msg.cc) and, when it would block,
// waits for readiness through lib/async.ts's untilReadyAsync: one deadline and
// abort signal for the whole call, and the fd-generation and starvation
// guards of every async call.
import { binding } from './native.js';
import { MSG_CMSG_CLOEXEC } from './constants.js';
import { untilReadyAsync, type AsyncOptions, type WaitFirstOption } from './async.js';
import type { AddressInput } from './sockaddr.js';
import { CMSG_SPACE, type Buffers, type ControlMessageInput, type DataBuffers, type OutgoingMessage, type ReceivedFds, type ReceivedMessage } from './msg.js';

interface TryMsgBinding {
  trySendmsg(fd: number, buffers: DataBuffers, control?: readonly ControlMessageInput[] | null, flags?: number, address?: AddressInput | null): number;
  tryRecvmsg(fd: number, buffers: Buffers, controlLength?: number, flags?: number): ReceivedMessage | number;
  trySendmmsg(fd: number, messages: readonly OutgoingMessage[], flags?: number): number;
  tryRecvmmsg(fd: number, buffers: readonly Buffers[], flags?: number, controlLength?: number): ReceivedMessage[] | number;
}
const native = binding as unknown as TryMsgBinding;

/** Options of sendmsgAsync. */
export interface SendMsgOptions extends AsyncOptions {
  /** Control messages (ancillary data) to send: SCM_RIGHTS fds, IP_PKTINFO, ... */
  control?: readonly ControlMessageInput[];
  /** MSG_* flags; MSG_DONTWAIT and MSG_NOSIGNAL are always added. */
  flags?: number;
  /** Destination of an unconnected datagram socket (msg_name). */
  address?: AddressInput;
}

/** Options of recvmsgAsync / recvmmsgAsync. */
export interface RecvMsgOptions extends AsyncOptions, WaitFirstOption {
  /** Control buffer size per message (CMSG_SPACE of what you expect); default 0. */
  controlLength?: number;
  /** MSG_* flags; MSG_DONTWAIT is always added. */
  flags?: number;
}

/** sendmsg() without blocking the loop; resolves to the bytes sent. */
export function sendmsgAsync(fd: number, buffers: DataBuffers, options: SendMsgOptions = {}): Promise<number> {
  const { control, flags, address } = options;
  return untilReadyAsync('sendmsg', fd, 'write', options, () => native.trySendmsg(fd, buffers, control ?? null, flags, address ?? null));
}

/** recvmsg() without blocking the loop. */
export function recvmsgAsync(fd: number, buffers: Buffers, options: RecvMsgOptions = {}): Promise<ReceivedMessage> {
  const { controlLength, flags } = options;
  return untilReadyAsync('recvmsg', fd, 'read', options, () => native.tryRecvmsg(fd, buffers, controlLength, flags));
}

/** sendFds() without blocking the loop. */
export function sendFdsAsync(fd: number, data: DataBuffers, fds: readonly number[], options: Omit<SendMsgOptions, 'control'> = {}): Promise<number> {
  return sendmsgAsync(fd, data, { ...options, control: [{ type: 'SCM_RIGHTS', fds }] });
}

/** recvFds() without blocking the loop; MSG_CMSG_CLOEXEC unless `flags` says otherwise. */
export async function recvFdsAsync(fd: number, buffer: Buffers, maxFds: number, options: Omit<RecvMsgOptions, 'controlLength'> = {}): Promise<ReceivedFds> {
  if (!Number.isInteger(maxFds) || maxFds < 1 || maxFds > 253) throw new RangeError(`maxFds must be 1..253 (SCM_MAX_FD), got ${maxFds}`);
  const message = await recvmsgAsync(fd, buffer, { ...options, flags: options.flags ?? MSG_CMSG_CLOEXEC, controlLength: CMSG_SPACE(maxFds * 4) });
  const fds: number[] = [];
  for (const item of message.control) if (item.type === 'SCM_RIGHTS') fds.push(...item.fds);
  return { bytes: message.bytes, fds, flags: message.flags, address: message.address };
}

/** sendmmsg() without blocking the loop; resolves to how many messages went (at least 1). */
export function sendmmsgAsync(fd: number, messages: readonly OutgoingMessage[], options: Omit<SendMsgOptions, 'control' | 'address'> = {}): Promise<number> {
  return untilReadyAsync('sendmmsg', fd, 'write', options, () => native.trySendmmsg(fd, messages, options.flags));
}

/** recvmmsg() without blocking the loop: the datagrams that are there (at least one), up to buffers.length. */
export function recvmmsgAsync(fd: number, buffers: readonly Buffers[], options: RecvMsgOptions = {}): Promise<ReceivedMessage[]> {
  return untilReadyAsync('recvmmsg', fd, 'read', options, () => native.tryRecvmmsg(fd, buffers, options.flags, options.controlLength));
}
