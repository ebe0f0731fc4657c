// The message calls when a signal handler runs while they block: the call
// resumes after the handler (taking its buffers' pointers again), a buffer
// the handler detached is an Error rather than a kernel write into freed
// memory, and fds that arrive afterwards are still delivered exactly once.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { signal } from '../lib/process.js';
import { closeAll } from './helpers/loopback.js';

/** Sends `sig` to this process from another process after `ms` (the event loop is blocked meanwhile). */
function signalLater(sig: string, ms: number): void {
  spawn('/bin/sh', ['-c', `sleep ${ms / 1000}; kill -${sig} ${process.pid}`], { stdio: 'ignore' });
}

afterEach(() => {
  signal(posix.SIGUSR2, 'default');
});

describe('sendmsg/recvmsg and signals', () => {
  it('recvmsg resumes after the handler and receives the fds the handler sent', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const spare = posix.open('/dev/null', posix.O_RDONLY | posix.O_CLOEXEC);
    try {
      signal(posix.SIGUSR2, () => posix.sendFds(b, 'from the handler', [spare]));
      signalLater('USR2', 100);
      const buffer = Buffer.alloc(32);
      const got = posix.recvmsg(a, [buffer.subarray(0, 4), buffer.subarray(4)], posix.CMSG_SPACE(4), posix.MSG_CMSG_CLOEXEC);
      expect(buffer.toString('utf8', 0, got.bytes)).toBe('from the handler');
      const fds = posix.findControl(got.control, 'SCM_RIGHTS')!.fds;
      expect(fds).toHaveLength(1);
      posix.close(fds[0]!);
    } finally {
      closeAll(a, b, spare);
    }
  });

  it('a receive buffer detached by the handler ends the call with an Error, and the datagram stays queued', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      const memory = new ArrayBuffer(64);
      signal(posix.SIGUSR2, () => {
        structuredClone(memory, { transfer: [memory] }); // detaches it
        posix.send(b, 'arrives after');
      });
      signalLater('USR2', 100);
      expect(() => posix.recvmsg(a, new Uint8Array(memory))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_BUFFER_/) }));
      const fresh = Buffer.alloc(32);
      expect(fresh.toString('utf8', 0, posix.recvmsg(a, fresh).bytes)).toBe('arrives after');
    } finally {
      closeAll(a, b);
    }
  });

  it('recvmmsg resumes after the handler too', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      signal(posix.SIGUSR2, () => {
        posix.send(b, 'one');
        posix.send(b, 'two');
      });
      signalLater('USR2', 100);
      const got = posix.recvmmsg(a, [Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)], posix.MSG_WAITFORONE);
      expect(got.map((m) => m.bytes)).toEqual([3, 3]);
    } finally {
      closeAll(a, b);
    }
  });
});
