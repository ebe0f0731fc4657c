// getpid, getppid, waitpid, kill, _exit, getrlimit, setrlimit. Calls that
// fork or lower RLIMIT_NOFILE run in fixtures (test/fixtures/process).
import { describe, expect, it } from 'vitest';
import * as root from '../lib/index.js';
import * as posix from '../lib/posix.js';
import { _exit, fork, getpid, getppid, getrlimit, kill, setrlimit, waitpid, type WaitStatus } from '../lib/process.js';
import { fixtureRunner } from './helpers/fixtures.js';

const run = fixtureRunner();

describe('identity', () => {
  it('getpid and getppid are the kernel’s', () => {
    expect(getpid()).toBe(process.pid);
    expect(getppid()).toBe(process.ppid);
  });

  it('every call and constant is a named export of the package root', () => {
    for (const name of ['fork', 'getpid', 'getppid', 'waitpid', 'kill', '_exit', 'getrlimit', 'setrlimit', 'signal', 'setRestartAfterSignal'])
      expect(typeof (root as Record<string, unknown>)[name], name).toBe('function');
    for (const name of ['SIGTERM', 'SIGINT', 'SIGCHLD', 'SIGKILL', 'WNOHANG', 'WUNTRACED', 'RLIMIT_NOFILE', 'RLIMIT_CORE'])
      expect(typeof (root as Record<string, unknown>)[name], name).toBe('number');
    expect(root.fork).toBe(fork);
  });
});

describe('kill', () => {
  it('signal 0 checks that a process exists', () => {
    expect(() => kill(getpid(), 0)).not.toThrow();
  });

  it('reports ESRCH for a process that does not exist, perror-style', () => {
    expect(() => kill(2 ** 31 - 1, 0)).toThrow(
      expect.objectContaining({ message: 'kill: No such process', code: 'ESRCH', errno: posix.ESRCH, syscall: 'kill' }),
    );
  });

  it('checks its arguments', () => {
    expect(() => kill(getpid(), -1)).toThrow(RangeError);
    expect(() => kill(getpid(), posix.SIGRTMAX + 1)).toThrow(RangeError);
    expect(() => kill('1' as unknown as number, 0)).toThrow(TypeError);
    expect(() => kill(2 ** 31, 0)).toThrow(RangeError);
  });
});

describe('waitpid', () => {
  it('decodes exit codes, deaths by signal, stops and continues; WNOHANG; ECHILD', async () => {
    const fixture = run('wait-status.mjs');
    const result = await fixture.firstJson<Record<string, WaitStatus> & { pids: Record<string, number>; reapedTwice: object }>();
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    expect(result.exited).toMatchObject({ exitCode: 37, signal: null, stopped: false });
    expect(result.nothingYet).toEqual({ pid: 0, status: 0, exitCode: null, signal: null, coreDumped: false, stopped: false, continued: false });
    expect(result.killed).toMatchObject({ pid: result.pids.sleeper, exitCode: null, signal: posix.SIGKILL });
    expect(result.terminated).toMatchObject({ pid: result.pids.terminated, exitCode: null, signal: posix.SIGTERM });
    expect(result.stopped).toMatchObject({ pid: result.pids.stoppable, stopped: true, signal: posix.SIGSTOP, exitCode: null });
    expect(result.continued).toMatchObject({ pid: result.pids.stoppable, continued: true, signal: null });
    expect(result.reapedTwice).toEqual({ message: 'waitpid: No child processes', code: 'ECHILD', errno: posix.ECHILD, syscall: 'waitpid' });
  });

  it('checks its arguments', () => {
    expect(() => waitpid(1.5)).toThrow(TypeError);
    expect(() => waitpid(getpid(), -1)).toThrow(RangeError);
  });

  it('_exit checks its argument before ending anything', () => {
    expect(() => _exit('0' as unknown as number)).toThrow(TypeError);
    expect(() => _exit(2 ** 40)).toThrow(RangeError);
  });
});

describe('getrlimit / setrlimit', () => {
  it('reads RLIMIT_NOFILE as numbers and, when asked, as exact bigints', () => {
    const limit = getrlimit(posix.RLIMIT_NOFILE);
    expect(Number.isInteger(limit.soft)).toBe(true);
    expect(limit.soft).toBeLessThanOrEqual(limit.hard);
    const exact = getrlimit(posix.RLIMIT_NOFILE, { bigint: true });
    expect(exact).toEqual({ soft: BigInt(limit.soft), hard: BigInt(limit.hard) });
  });

  it('takes Infinity or 2n**64n-1n for RLIM_INFINITY and round-trips RLIMIT_CORE', () => {
    const original = getrlimit(posix.RLIMIT_CORE, { bigint: true });
    try {
      setrlimit(posix.RLIMIT_CORE, 0);
      expect(getrlimit(posix.RLIMIT_CORE).soft).toBe(0);
      setrlimit(posix.RLIMIT_CORE, { soft: 4096n });
      expect(getrlimit(posix.RLIMIT_CORE, { bigint: true }).soft).toBe(4096n);
      if (original.hard === 2n ** 64n - 1n) {
        expect(getrlimit(posix.RLIMIT_CORE).hard).toBe(Infinity);
        setrlimit(posix.RLIMIT_CORE, Infinity);
        expect(getrlimit(posix.RLIMIT_CORE).soft).toBe(Infinity);
        setrlimit(posix.RLIMIT_CORE, 0n);
        setrlimit(posix.RLIMIT_CORE, 2n ** 64n - 1n);
        expect(getrlimit(posix.RLIMIT_CORE, { bigint: true }).soft).toBe(2n ** 64n - 1n);
      }
    } finally {
      setrlimit(posix.RLIMIT_CORE, original.soft, original.hard);
    }
    expect(getrlimit(posix.RLIMIT_CORE, { bigint: true })).toEqual(original);
  });

  it('fails like C for a soft limit above the hard one', () => {
    const { hard } = getrlimit(posix.RLIMIT_NOFILE);
    expect(() => setrlimit(posix.RLIMIT_NOFILE, hard + 1, hard)).toThrow(
      expect.objectContaining({ message: 'setrlimit: Invalid argument', code: 'EINVAL', syscall: 'setrlimit' }),
    );
  });

  it('checks its arguments', () => {
    expect(() => getrlimit(posix.RLIM_NLIMITS)).toThrow(RangeError);
    expect(() => setrlimit(posix.RLIMIT_CORE, -1)).toThrow(RangeError);
    expect(() => setrlimit(posix.RLIMIT_CORE, 1.5)).toThrow(TypeError);
    expect(() => setrlimit(posix.RLIMIT_CORE, NaN)).toThrow(TypeError);
    expect(() => setrlimit(posix.RLIMIT_CORE, 2n ** 64n)).toThrow(RangeError);
    expect(() => setrlimit(posix.RLIMIT_CORE, '1' as unknown as number)).toThrow(TypeError);
  });

  it('EMFILE at RLIMIT_NOFILE 64: socket: Too many open files, last fd 63, a closed fd is reused', async () => {
    const fixture = run('emfile.mjs');
    const result = await fixture.firstJson<{
      after: { soft: number; hard: number };
      before: { soft: number; hard: number };
      lastFd: number;
      error: { message: string; code: string; errno: number; syscall: string };
      closedFd: number;
      reopened: number;
    }>();
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    expect(result.after).toEqual({ soft: 64, hard: result.before.hard });
    expect(result.error).toEqual({ message: 'socket: Too many open files', code: 'EMFILE', errno: posix.EMFILE, syscall: 'socket' });
    expect(result.lastFd).toBe(63);
    expect(result.reopened).toBe(result.closedFd);
  });
});
