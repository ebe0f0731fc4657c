// The shape of the errors the addon throws for a failing system call.

/** A failing system call: message reads like perror ("bind: Address already in use"). */
export interface SyscallError extends Error {
  /** errno name, e.g. 'EADDRINUSE'. */
  code: string;
  /** errno value, positive as in C (Node's own errors use negative numbers). */
  errno: number;
  /** The system call that failed, e.g. 'bind'. */
  syscall: string;
}

/**
 * A SyscallError made in JS, for failures the addon did not throw (a call on
 * a closed Socket, a connection that never came): `${syscall}: ${text}`.
 */
export function syscallError(syscall: string, code: string, errno: number, text: string): SyscallError {
  const error = new Error(`${syscall}: ${text}`) as SyscallError;
  error.code = code;
  error.errno = errno;
  error.syscall = syscall;
  return error;
}

/** True when `error` came from a failing system call (optionally with that errno name). */
export function isSyscallError(error: unknown, code?: string): error is SyscallError {
  if (!(error instanceof Error)) return false;
  const candidate = error as Partial<SyscallError>;
  if (typeof candidate.code !== 'string' || typeof candidate.errno !== 'number' || typeof candidate.syscall !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** recvExactly()/recvExactlyAsync() met end of stream before it had every byte. */
export class EndOfStreamError extends Error {
  override name = 'EndOfStreamError';
  /** Always 'ERR_END_OF_STREAM'. */
  readonly code = 'ERR_END_OF_STREAM';
  /** An Error saying how many of the expected bytes came. */
  constructor(
    /** The receiving call ('recv', 'recvMessage'...). */
    readonly syscall: string,
    /** Bytes received before the end of stream. */
    readonly received: number,
    /** Bytes that were asked for. */
    readonly expected: number,
  ) {
    super(`${syscall}: connection closed by peer after ${received} of ${expected} bytes`);
  }
}
