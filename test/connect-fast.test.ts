// V8 fast calls for connect (pre-encoded sockaddr, IPv4 and IPv6), acceptFd,
// shutdown and setsockopt (native/node/fast_socket_calls.cc, lib/fast-socket.ts):
// both paths forced in a child Node with --allow-natives-syntax (before and
// after TurboFan optimizes the caller), Python's socket module as the peer
// that says which connections arrived from where, the N-API path
// (SOCKFD_FAST_CALLS=0) as the reference for every result and error, and a
// signal arriving while an optimized connect or accept blocks.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fastSocketCalls } from '../lib/fast-socket.js';
import { blockedIn, builtForThisV8, runStepChild, type Step } from './helpers/fast-call-children.js';

const root = join(import.meta.dirname, '..');
const fixtureDir = join(root, 'test', 'fixtures', 'connect-fast');
const dist = join(root, 'dist');
const expectFast = process.env.SOCKFD_FAST_CALLS !== '0' && builtForThisV8;

type Counts = { fast: number; slow: number };

function runChild(scenario: string, args: string[], env: NodeJS.ProcessEnv = {}, onLine?: (step: Step, pid: number) => void): Promise<Map<string, Step>> {
  return runStepChild(join(fixtureDir, 'child.mjs'), [dist, scenario, ...args], { env, onLine, timeoutMs: 30_000 }).then((steps) => new Map(steps.map((step) => [step.step, step])));
}

interface Peer {
  family: string;
  host: string;
  port: number;
}

/** Python's socket module listening on 127.0.0.1 and ::1; `peers` fills as it accepts. */
async function pythonServer(): Promise<{ port4: number; port6: number; peers: Peer[]; stop: () => Promise<void> }> {
  const proc: ChildProcessByStdio<Writable, Readable, null> = spawn('python3', [join(fixtureDir, 'server.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const peers: Peer[] = [];
  let pending = '';
  const ports = await new Promise<{ port4: number; port6: number }>((resolve, reject) => {
    proc.once('error', reject);
    proc.stdout.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      for (let nl; (nl = pending.indexOf('\n')) >= 0; ) {
        const line = JSON.parse(pending.slice(0, nl)) as Peer & { port4?: number; port6?: number };
        pending = pending.slice(nl + 1);
        if (line.port4 !== undefined) resolve({ port4: line.port4, port6: line.port6! });
        else peers.push(line);
      }
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      proc.once('close', () => resolve());
      proc.stdin.end();
    });
  return { ...ports, peers, stop };
}

const withoutCounts = (step: Step | undefined) => {
  if (step === undefined) return undefined;
  const { counts: _counts, ...rest } = step;
  return rest;
};

describe('V8 fast calls for connect/acceptFd/shutdown/setsockopt', () => {
  it(expectFast ? `are on for this V8 (${process.versions.v8})` : 'are off here, and say why', () => {
    if (expectFast) expect(fastSocketCalls).toEqual({ enabled: true, reason: '' });
    else expect(fastSocketCalls.reason).not.toBe('');
  });

  it('connect (IPv4, IPv6), accept, options, shutdown and close: fast once optimized, as Python sees them, with the N-API path\'s results and errors', async () => {
    const python = await pythonServer();
    let fast: Map<string, Step>;
    let reference: Map<string, Step>;
    try {
      fast = await runChild('paths', [String(python.port4), String(python.port6)]);
      reference = await runChild('paths', [String(python.port4), String(python.port6)], { SOCKFD_FAST_CALLS: '0' });
    } finally {
      await python.stop();
    }
    expect(fast.get('status')).toMatchObject({ enabled: expectFast });
    expect(reference.get('status')).toMatchObject({ enabled: false, reason: 'disabled by SOCKFD_FAST_CALLS=0' });
    for (const family of ['AF_INET', 'AF_INET6']) {
      const cold = fast.get(`${family} unoptimized`)!;
      const hot = fast.get(`${family} optimized`)!;
      for (const step of [cold, hot]) expect(step).toMatchObject({ paired: true, noDelay: true, eof: 0 });
      // (life() itself may be deoptimized again by its first optimized run on Node 24; its wrappers are what make the calls.)
      expect(hot).toMatchObject({ fdsLeft: 0 });
      // Before any optimization (the IPv6 round comes after the IPv4 one optimized the wrappers): all slow callbacks.
      if (family === 'AF_INET') expect(cold.counts).toEqual(expectFast ? { fast: 0, slow: 12 } : { fast: 0, slow: 0 });
      // socket x2, setsockopt x2, connect x2, acceptFd, shutdown, recv, close x3: all fast calls, none left to N-API's slow callbacks.
      expect(hot.counts).toEqual(expectFast ? { fast: 12, slow: 0 } : { fast: 0, slow: 0 });
      // Python accepted each connection from the port the client's getsockname reports.
      for (const run of [fast, reference]) {
        for (const name of [`${family} unoptimized`, `${family} warm`, `${family} optimized`]) {
          const local = run.get(name)!.local as number;
          expect(python.peers, `${name}: Python saw port ${local}`).toContainEqual({ family, host: family === 'AF_INET' ? '127.0.0.1' : '::1', port: local });
        }
      }
    }
    expect(fast.get('probes optimized')).toMatchObject({ optimized: true });
    const expected: Record<string, object> = {
      connectRefused: { error: { code: 'ECONNREFUSED', syscall: 'connect', message: 'connect: Connection refused' } },
      connectBadFd: { error: { code: 'EBADF', syscall: 'connect', message: 'connect: Bad file descriptor' } },
      connectWrongFamily: { error: { code: 'EINVAL', syscall: 'connect' } }, // an IPv4 sockaddr for an IPv6 socket
      acceptBadFd: { error: { code: 'EBADF', syscall: 'accept', message: 'accept: Bad file descriptor' } },
      acceptWouldBlock: { error: { code: 'EAGAIN', syscall: 'accept4' } },
      acceptNotListening: { error: { code: 'EINVAL', syscall: 'accept4' } },
      shutdownNotConnected: { error: { code: 'ENOTCONN', syscall: 'shutdown' } },
      optionUnknown: { error: { code: 'ENOPROTOOPT', syscall: 'setsockopt' } },
      connectFractionalFd: { error: { name: 'TypeError', message: 'fd must be an integer, got 1.5' } },
      connectBadText: { error: { name: 'TypeError', message: "address.address is not an IPv4 address: '127.0.0.256'" } },
      connectNulText: { error: { name: 'TypeError' } },
      connectPortRange: { error: { name: 'RangeError' } },
      connectFractionalPort: { error: { name: 'TypeError' } },
      connect6BadText: { error: { name: 'TypeError', message: "address.address is not an IPv6 address: '::g'" } },
      connect6ScopeRange: { error: { name: 'RangeError' } },
      acceptFractionalFlags: { error: { name: 'TypeError' } },
      shutdownHowRange: { error: { name: 'RangeError' } },
      optionFractional: { error: { name: 'TypeError' } },
      connectSAddr: { result: { family: 'AF_INET', address: '127.0.0.1', toListener: true } },
      timeoutOption: { result: 1500 },
    };
    // The errno cases: the error came from a fast call (optimized wrappers).
    const fromFastCall = ['connectRefused', 'connectBadFd', 'connectWrongFamily', 'acceptBadFd', 'acceptWouldBlock', 'acceptNotListening', 'shutdownNotConnected', 'optionUnknown'];
    for (const [name, outcome] of Object.entries(expected)) {
      expect(fast.get(name), name).toMatchObject(outcome);
      // Same result or error, field by field, as the N-API path gives.
      expect(withoutCounts(fast.get(name)), name).toEqual(withoutCounts(reference.get(name)));
      if (expectFast && fromFastCall.includes(name)) expect((fast.get(name)!.counts as Counts).fast, name).toBeGreaterThanOrEqual(1);
      expect(reference.get(name)!.counts, name).toEqual({ fast: 0, slow: 0 });
    }
    expect(fast.get('class')).toMatchObject({ paired: true });
    expect(withoutCounts(fast.get('class'))).toEqual(withoutCounts(reference.get('class')));
    // Socket.tcp (socket), connect, acceptSocket, noDelay (setsockopt), shutdown, close x2.
    if (expectFast) expect(fast.get('class')!.counts).toEqual({ fast: 7, slow: 0 });
  }, 60_000);

  for (const [scenario, outcome] of [
    ['accept-signal', 'runs the handler and resumes, taking the connection the handler made'],
    ['accept-signal-eintr', 'runs the handler and throws EINTR with setRestartAfterSignal(false)'],
    ['accept-signal-close', 'whose handler closes the listener ends with EBADF, as the N-API path'],
  ] as const) {
    it(`a signal during an optimized blocking acceptFd() ${outcome}`, async () => {
      const signalled: Promise<void>[] = [];
      const steps = await runChild(scenario, [], {}, (step, pid) => {
        if (step.step === 'blocking') signalled.push(blockedIn(pid, 'accept4').then(() => void process.kill(pid, 'SIGUSR1')));
      });
      await Promise.all(signalled);
      expect(steps.get('blocking')).toMatchObject({ optimized: true });
      const accepted = steps.get('accepted')!;
      expect(accepted.handled).toBe(1);
      if (expectFast) expect((accepted.counts as Counts).fast).toBeGreaterThanOrEqual(1); // the interrupted call was the fast one
      if (scenario === 'accept-signal') expect(accepted).toMatchObject({ paired: true });
      else if (scenario === 'accept-signal-eintr') expect(accepted.error).toMatchObject({ code: 'EINTR', syscall: 'accept', message: 'accept: Interrupted system call' });
      else
        expect(accepted.error).toMatchObject({
          code: 'EBADF',
          message: `accept: fd ${accepted.fd} was closed by a signal handler while the call waited (Bad file descriptor)`,
        });
    });
  }

  for (const [scenario, outcome] of [
    ['connect-signal', 'runs the handler, then waits for the handshake, which completes'],
    ['connect-signal-eintr', 'runs the handler and throws EINTR with setRestartAfterSignal(false)'],
    ['connect-signal-close', 'whose handler closes the fd ends with EBADF, as the N-API path'],
  ] as const) {
    it(`a signal during an optimized blocking connect() ${outcome}`, async () => {
      const signalled: Promise<void>[] = [];
      const steps = await runChild(scenario, [], {}, (step, pid) => {
        if (step.step === 'blocking') signalled.push(blockedIn(pid, 'connect').then(() => void process.kill(pid, 'SIGUSR1')));
      });
      await Promise.all(signalled);
      expect(steps.get('blocking')).toMatchObject({ optimized: true });
      const connected = steps.get('connected')!;
      expect(connected.handled).toBe(1);
      if (expectFast) expect((connected.counts as Counts).fast).toBeGreaterThanOrEqual(1);
      if (scenario === 'connect-signal') {
        expect(connected.error).toBeUndefined();
        expect(connected).toMatchObject({ firstWasQueued: true, peerOfBlocked: { family: 'AF_INET', address: '127.0.0.1', port: connected.port } });
      } else if (scenario === 'connect-signal-eintr') {
        expect(connected.error).toMatchObject({ code: 'EINTR', syscall: 'connect', message: 'connect: Interrupted system call' });
      } else {
        expect(connected.error).toMatchObject({
          code: 'EBADF',
          message: `connect: fd ${connected.fd} was closed by a signal handler while the call waited (Bad file descriptor)`,
        });
      }
    }, 30_000);
  }
});
