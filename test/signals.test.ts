// signal(): real sigaction handlers that run while the main thread is blocked
// in a call of this package, and soon after arrival otherwise. SIGUSR2 and
// SIGALRM here belong to this test file's own worker process; the demo10
// shutdown runs in a fixture with a process group of its own.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { getRestartAfterSignal, setRestartAfterSignal, signal } from '../lib/process.js';
import { procStat, startFixture } from './helpers/fixtures.js';
import { childPids } from '../lib/procfs.js';
import { until } from '../tools/until.js';
import { closeAll, listener } from './helpers/loopback.js';

/** Sends `sig` to this process from another process after `ms` (the event loop is blocked meanwhile). */
function signalLater(sig: string, ms: number): void {
  spawn('/bin/sh', ['-c', `sleep ${ms / 1000}; kill -${sig} ${process.pid}`], { stdio: 'ignore' });
}

afterEach(() => {
  signal(posix.SIGUSR2, 'default');
  signal(posix.SIGALRM, 'default');
  setRestartAfterSignal(true);
});

describe('signal()', () => {
  it('returns what it replaced', () => {
    const handler = (): void => {};
    expect(signal(posix.SIGUSR2, handler)).toBe('default');
    expect(signal(posix.SIGUSR2, 'ignore')).toBe(handler);
    expect(signal(posix.SIGUSR2, 'default')).toBe('ignore');
  });

  it('refuses the signals Node, V8, glibc or the kernel keep, with EINVAL and the reason', () => {
    const refused = [posix.SIGKILL, posix.SIGSTOP, posix.SIGSEGV, posix.SIGBUS, posix.SIGFPE, posix.SIGILL, posix.SIGPROF, posix.SIGRTMAX - 1, posix.SIGRTMAX];
    for (let sig = 32; sig < posix.SIGRTMIN; sig++) refused.push(sig);
    for (const sig of refused) {
      let caught: unknown;
      try {
        signal(sig, 'ignore');
      } catch (error) {
        caught = error;
      }
      expect(caught, `signal ${sig}`).toMatchObject({ code: 'EINVAL', errno: posix.EINVAL, syscall: 'signal' });
      expect((caught as Error).message).toMatch(/^signal: Invalid argument: .+ is refused: /);
    }
    expect(() => signal(posix.SIGKILL, 'ignore')).toThrow(/SIGKILL is refused: the kernel/);
  });

  it('checks its arguments before any system call', () => {
    expect(() => signal(0, 'ignore')).toThrow(RangeError);
    expect(() => signal(posix.SIGRTMAX + 1, 'ignore')).toThrow(RangeError);
    expect(() => signal(1.5, 'ignore')).toThrow(TypeError);
    expect(() => signal(posix.SIGUSR2, 'catch' as never)).toThrow(TypeError);
  });

  it('runs the handler while blocked in recv(), then resumes the call', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const seen: number[] = [];
    signal(posix.SIGUSR2, (sig) => {
      seen.push(sig);
      posix.send(b, 'from the handler');
    });
    signalLater('USR2', 100);
    const buffer = Buffer.alloc(64);
    const n = posix.recv(a, buffer); // returns only because the handler sent something
    expect(buffer.toString('utf8', 0, n)).toBe('from the handler');
    expect(seen).toEqual([posix.SIGUSR2]);
    closeAll(a, b);
  });

  it('throws EINTR after the handler when setRestartAfterSignal(false)', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    let ran = 0;
    signal(posix.SIGUSR2, () => ran++);
    setRestartAfterSignal(false);
    expect(getRestartAfterSignal()).toBe(false);
    signalLater('USR2', 100);
    expect(() => posix.recv(a, Buffer.alloc(8))).toThrow(expect.objectContaining({ code: 'EINTR', syscall: 'recv', message: 'recv: Interrupted system call' }));
    expect(ran).toBe(1);
    closeAll(a, b);
  });

  it('throws EINTR after the handler with setRestartAfterSignal(false) even when the handler itself was interrupted in a blocking call', () => {
    // The handler blocks in recv() on an empty pair; SIGALRM, raised by the
    // handler itself, interrupts that inner call (the nudge timer, armed since
    // SIGUSR2 arrived, makes it return EINTR), whose own EINTR the handler
    // catches. The outer recv() must still report its own interruption, not
    // resume and take the byte the handler sent (it did, when the inner call
    // consumed the "a signal arrived" flag of the outer one).
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const [c, d] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const seen: string[] = [];
    signal(posix.SIGALRM, () => seen.push('alarm'));
    signal(posix.SIGUSR2, () => {
      seen.push('usr2');
      posix.send(b, 'x'); // what a wrongly resumed outer recv() would take
      process.kill(process.pid, 'SIGALRM');
      try {
        posix.recv(c, Buffer.alloc(1));
        seen.push('inner returned');
      } catch (error) {
        seen.push(`inner ${(error as NodeJS.ErrnoException).code}`);
      }
    });
    setRestartAfterSignal(false);
    process.kill(process.pid, 'SIGUSR2'); // pending: handled once recv() below is interrupted by the nudge
    expect(() => posix.recv(a, Buffer.alloc(8))).toThrow(expect.objectContaining({ code: 'EINTR', syscall: 'recv' }));
    expect(seen).toEqual(['usr2', 'alarm', 'inner EINTR']);
    closeAll(a, b, c, d);
  });

  it("lets the handler's exception end the blocked call", () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    signal(posix.SIGUSR2, () => {
      throw new Error('thrown by the SIGUSR2 handler');
    });
    signalLater('USR2', 100);
    expect(() => posix.recv(a, Buffer.alloc(8))).toThrow('thrown by the SIGUSR2 handler');
    closeAll(a, b);
  });

  it('delivers a signal that arrives while JS runs, through the event loop', async () => {
    const seen: number[] = [];
    signal(posix.SIGALRM, (sig) => seen.push(sig));
    process.kill(process.pid, 'SIGALRM');
    await until(() => seen.length > 0, 'the handler to run', 5000);
    expect(seen).toEqual([posix.SIGALRM]);
  });

  it('runs a handler whose signal came just before a blocking accept()', () => {
    const { fd: listenFd, port } = listener();
    const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    signal(posix.SIGUSR2, () => posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port }));
    process.kill(process.pid, 'SIGUSR2'); // pending: the loop does not run before accept() blocks
    const { fd } = posix.accept(listenFd); // returns only because the handler connected
    expect(fd).toBeGreaterThan(2);
    closeAll(fd, client, listenFd);
  });
});

function talk(port: number, text: string): Promise<NetSocket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (data) => (data.toString() === 'ok' ? resolve(socket) : reject(new Error(`reply ${data.toString()}`))));
    socket.on('error', reject);
  });
}

describe('the tutorial demo10 shutdown', () => {
  it('parent blocked in accept() gets SIGTERM, signals its group, children close and exit, all exit 0', async () => {
    const fixture = startFixture('demo10.mjs');
    try {
      const { port, refused } = await fixture.firstJson<{ port: number; refused: number[] }>();
      const expectedRefused = [posix.SIGKILL, posix.SIGSTOP, posix.SIGSEGV, posix.SIGBUS, posix.SIGFPE, posix.SIGILL, posix.SIGPROF, posix.SIGRTMAX - 1, posix.SIGRTMAX];
      for (let sig = 32; sig < posix.SIGRTMIN; sig++) expectedRefused.push(sig);
      expect(refused).toEqual(expectedRefused.sort((x, y) => x - y));

      const clients = await Promise.all(['one', 'two', 'three'].map((text) => talk(port, text)));
      const children = childPids(fixture.pid);
      expect(children.length).toBe(3);
      const closedByChild = clients.map((socket) => new Promise<void>((resolve) => socket.on('end', resolve)));

      // the parent is back in accept(): the kernel says where it sleeps
      const wchan = (): string => readFileSync(`/proc/${fixture.pid}/wchan`, 'utf8');
      await until(() => wchan().includes('accept'), 'the fixture to block in accept', 5000);
      process.kill(fixture.pid, 'SIGTERM');
      expect(await fixture.end(10_000)).toMatchObject({ code: 0, signal: null });
      await Promise.all(closedByChild); // each child's handler closed its socket
      await until(() => children.every((pid) => procStat(pid) === null), 'the children to exit', 5000);

      const lines = fixture.stdout.split('\n');
      expect(lines).toContain('父进程退出，sig=15');
      for (const pid of children) expect(lines).toContain(`子进程${pid}退出，sig=15`);
      for (const socket of clients) socket.destroy();
    } finally {
      fixture.killGroup();
    }
  }, 60_000);
});
