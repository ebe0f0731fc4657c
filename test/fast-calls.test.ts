// V8 fast API calls for send/recv/read/write (native/node/fast_calls.cc,
// lib/fast-io.ts): both paths forced in a child Node with
// --allow-natives-syntax (before and after TurboFan optimizes the caller),
// every kind of argument the fast path refuses, an errno from the fast path,
// and a signal arriving while an optimized call blocks in recv().
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fastCalls } from '../lib/fast-io.js';
import { blockedIn, builtForThisV8, runStepChild, type Step } from './helpers/fast-call-children.js';

const root = join(import.meta.dirname, '..');
const child = join(root, 'test', 'fixtures', 'fast-calls', 'child.mjs');
const dist = join(root, 'dist');
const expectFast = builtForThisV8;

/** Runs the fixture (test/helpers/fast-call-children.ts); `onLine` sees each JSON line as it comes (to send a signal at the right moment). */
function runChild(scenario: string, onLine?: (step: Step, pid: number) => void, nodeFlags: string[] = []): Promise<Step[]> {
  return runStepChild(child, [dist, scenario], { nodeFlags, onLine, timeoutMs: 20_000 });
}

const byName = (steps: Step[]) => new Map(steps.map((s) => [s.step, s]));

describe('V8 fast calls for send/recv/read/write/socket/close/clock_gettime', () => {
  it(expectFast ? `are on for this V8 (${process.versions.v8})` : 'are off for this V8, and say why', () => {
    expect(fastCalls.v8).toBe(process.versions.v8);
    if (expectFast && process.env.SOCKFD_FAST_CALLS !== '0') expect(fastCalls).toMatchObject({ enabled: true, reason: '' });
    else expect(fastCalls.reason).not.toBe('');
  });

  it('give the same results and errors before and after optimization, and hand everything they refuse to N-API', async () => {
    const steps = byName(await runChild('paths'));
    const fastCount = (name: string) => (steps.get(name)!.counts as { fast: number }).fast;
    expect(steps.get('unoptimized')).toMatchObject({ result: [5, 5], text: '23456', counts: { fast: 0 } });
    expect(steps.get('optimized')).toMatchObject({ optimized: true, result: [7, 7], text: '3456789' });
    expect(fastCount('optimized')).toBe(expectFast ? 2 : 0);
    // Types the fast path does not take: V8 calls the slow callback, N-API does the work.
    expect(steps.get('string')).toMatchObject({ result: [6, 6] });
    expect(steps.get('int8')).toMatchObject({ result: [3, 3] });
    // Numbers it refuses: the same TypeError/RangeError as before, after one fast call that made no system call.
    const refused: Record<string, { name: string; message: RegExp }> = {
      fractionalFd: { name: 'TypeError', message: /^fd must be an integer/ },
      negativeOffset: { name: 'RangeError', message: /^offset is out of range \(0\.\.10\), got -1/ },
      offsetPastEnd: { name: 'RangeError', message: /^offset is out of range \(0\.\.10\), got 11/ },
      lengthPastEnd: { name: 'RangeError', message: /^length is out of range \(0\.\.2\), got 3/ },
      minusOneLength: { name: 'RangeError', message: /^length is out of range \(0\.\.10\), got -1/ },
      badFlags: { name: 'TypeError', message: /^flags must be an integer/ },
      emptyRecv: { name: 'RangeError', message: /^recv: the buffer has no room/ },
      fractionalOffset: { name: 'TypeError', message: /^offset must be an integer, got 1\.5/ },
      nanOffset: { name: 'TypeError', message: /^offset must be an integer, got NaN/ },
      hugeOffset: { name: 'RangeError', message: /^offset is out of range \(0\.\.10\), got 9007199254740992/ },
      infiniteOffset: { name: 'TypeError', message: /^offset must be an integer, got Infinity/ },
    };
    for (const [name, expected] of Object.entries(refused)) {
      const step = steps.get(name)!;
      expect(step.error, name).toMatchObject({ name: expected.name });
      expect((step.error as { message: string }).message, name).toMatch(expected.message);
      expect(fastCount(name), name).toBe(expectFast ? 1 : 0);
    }
    // The fast functions at the edges of their own range checks: FALLBACK, no system
    // call (nothing queued on the peer), and the N-API path's error as before.
    if (expectFast) {
      const edges = steps.get('edges')!;
      expect(edges.optimized).toBe(true);
      const napiError = (name: string, message: string) => ({ fallback: true, queued: 'EAGAIN', napi: { name, message } });
      expect(edges.results).toEqual({
        fractionalLength: napiError('TypeError', 'length must be an integer, got 2.5'),
        nanLength: napiError('TypeError', 'length must be an integer, got NaN'),
        // -0 is the integer 0: an empty send, which N-API makes (0 bytes).
        negativeZeroLength: { fallback: true, queued: 'EAGAIN', napi: 0 },
        hugeLength: napiError('RangeError', 'length is out of range (0..10), got 2147483648'),
        pastEndLength: napiError('RangeError', 'length is out of range (0..1), got 2'),
        fractionalOffset: napiError('TypeError', 'offset must be an integer, got 0.5'),
        negativeOffset: napiError('RangeError', 'offset is out of range (0..10), got -1'),
        hugeOffset: napiError('RangeError', 'offset is out of range (0..10), got 9.2233720368547758e+18'),
        nanOffset: napiError('TypeError', 'offset must be an integer, got NaN'),
        infiniteLength: napiError('TypeError', 'length must be an integer, got Infinity'),
        // What x86-64's truncation gives for any value it cannot convert (INT_MIN, INT64_MIN), and beyond the view.
        minInt32Length: napiError('RangeError', 'length is out of range (0..10), got -2147483648'),
        minInt64Offset: napiError('RangeError', 'offset is out of range (0..10), got -9.2233720368547758e+18'),
        pastEndOffset: napiError('RangeError', 'offset is out of range (0..10), got 9007199254740994'),
      });
      // fd and flags outside [0, INT32_MAX], or not integers: FALLBACK, and no system call (nothing queued on the peer).
      const declined = { fallback: true, queued: 'EAGAIN' };
      const fdFlagEdges = steps.get('fdFlagEdges')!;
      expect(fdFlagEdges.optimized).toBe(true);
      expect(fdFlagEdges.results).toEqual({
        nanFd: declined, negativeFd: declined, minInt32Fd: declined, hugeFd: declined, infiniteFd: declined, fractionalFd: declined,
        nanFlags: declined, negativeFlags: declined, minInt32Flags: declined, hugeFlags: declined, fractionalFlags: declined,
        negativeZeroFlags: { sent: 1, queued: 1 }, // -0 is the integer 0
      });
      // Every one of them entered the fast function (and each N-API retry the slow one does not count).
      expect(fastCount('edges')).toBeGreaterThanOrEqual(1);
    }
    // An errno from inside a fast call: the perror-style SyscallError of the N-API path.
    expect(steps.get('ebadf')).toMatchObject({ error: { message: 'send: Bad file descriptor', code: 'EBADF', errno: 9, syscall: 'send' } });
    expect(fastCount('ebadf')).toBe(expectFast ? 1 : 0);
    expect(steps.get('readWrite')).toMatchObject({ result: [2, 2], text: '45' });
    expect(fastCount('readWrite')).toBe(expectFast ? 2 : 0);
    expect(steps.get('smallViews')).toMatchObject({ result: [3, 3, [7, 8, 9]] });
    expect(fastCount('smallViews')).toBe(expectFast ? 2 : 0);
  });

  it('socket() and close() from optimized code: fast, with the generation moved on, and a watched fd left to the N-API close', async () => {
    const steps = byName(await runChild('socket-close'));
    const fastCount = (name: string) => (steps.get(name)!.counts as { fast: number }).fast;
    expect(steps.get('openClose')).toMatchObject({ optimized: true, fdWasValid: true });
    expect(fastCount('openClose')).toBe(expectFast ? 2 : 0);
    // lib/async.ts's lifetimes: every close moves the fd's generation on.
    expect(steps.get('generation')).toMatchObject({ moved: 1 });
    expect(fastCount('generation')).toBe(expectFast ? 1 : 0);
    // A fd a wait is pending on: the fast close declines, the N-API close releases the watcher and rejects the wait.
    const watched = steps.get('watched')!;
    expect(watched).toMatchObject({ watchedBefore: { watchers: 1, waiters: 1 }, after: { watchers: 0, waiters: 0 } });
    expect(watched.outcome).toMatchObject({ code: 'EBADF', message: `recv: fd ${watched.fd} was closed while a wait on it was pending (Bad file descriptor)` });
    expect(fastCount('watched')).toBe(expectFast ? 1 : 0);
    // The N-API path's errors, whichever path ran.
    expect(steps.get('closeEbadf')!.error).toMatchObject({ message: 'close: Bad file descriptor', code: 'EBADF', errno: 9, syscall: 'close' });
    expect(steps.get('closeFractional')!.error).toMatchObject({ name: 'TypeError', message: 'fd must be an integer, got 1.5' });
    expect(steps.get('socketEafnosupport')!.error).toMatchObject({ code: 'EAFNOSUPPORT', syscall: 'socket', message: 'socket: Address family not supported by protocol' });
    expect(steps.get('socketFractional')!.error).toMatchObject({ name: 'TypeError', message: 'type must be an integer, got 1.5' });
  });

  it("carry lib/io.ts's sendAll/recvFull: one fast call per send/recv from optimized code, nothing allocated per call, the rest through N-API", async () => {
    // A 1 MiB young generation: the ~140 bytes a call the wrappers' closures cost before would be ~14 MB, a dozen scavenges.
    const steps = byName(await runChild('io-loops', undefined, ['--max-semi-space-size=1']));
    const loops = steps.get('loops')!;
    expect(loops).toMatchObject({ optimized: true, rounds: 100_000, received: 800_000, text: '456789ab' });
    // Per round: sendAll, recvFull, send, recv; each one call (a socketpair takes 16 bytes at once).
    expect(loops.counts).toEqual(expectFast ? { fast: 400_000, slow: 0 } : { fast: 0, slow: 0 });
    if (expectFast) expect(loops.scavenges).toBeLessThanOrEqual(1);
    expect(steps.get('others')!.results).toEqual({
      string: { sent: 13, got: 13, bytes: Buffer.from('héllo wörld').toString('hex') },
      int16: { sent: 6, got: 6, bytes: '414243444546' },
      dataView: { sent: 4, got: 4, bytes: '5758595a' },
      arrayBuffer: { sent: 5, got: 5, bytes: '0102030405' },
      range: { got: 5, bytes: '0000' + Buffer.from('34567').toString('hex') + '00' },
      tooLong: { name: 'RangeError', message: 'send: offset 10 and length 7 do not fit a buffer of 16 bytes' },
    });
  });

  for (const forced of ['fast calls on', 'SOCKFD_FAST_CALLS=0'] as const) {
    it(`carry clock_gettime(id, into) (${forced}): the same readings before and after optimization, refusals and errno as N-API's`, async () => {
      const off = forced === 'SOCKFD_FAST_CALLS=0';
      const steps = byName(await runStepChild(child, [dist, 'clock'], { timeoutMs: 20_000, env: off ? { SOCKFD_FAST_CALLS: '0' } : {} }));
      const fast = expectFast && !off;
      const counts = (name: string) => steps.get(name)!.counts as { fast: number; slow: number };
      // Every reading lies between two of process.hrtime's (libuv's CLOCK_MONOTONIC).
      expect(steps.get('clockUnoptimized')).toMatchObject({ ordered: true, counts: { fast: 0 } });
      expect(steps.get('clockOptimized')).toMatchObject({ optimized: true, ordered: true });
      expect(counts('clockOptimized').fast).toBe(fast ? 100 : 0);
      const refused: Record<string, { name: string; message: string }> = {
        fractionalId: { name: 'TypeError', message: 'clockId must be an integer, got 1.5' },
        nanId: { name: 'TypeError', message: 'clockId must be an integer, got NaN' },
        hugeId: { name: 'RangeError', message: 'clockId is out of range (-2147483648..2147483647), got 2147483648' },
        shortInto: { name: 'RangeError', message: 'into must have room for 2 numbers (seconds, nanoseconds), has 1' },
        otherKind: { name: 'TypeError', message: 'into must be a Float64Array' },
      };
      for (const [name, error] of Object.entries(refused)) {
        expect(steps.get(name), name).toMatchObject({ error, written: false });
        // The fast function declined (FALLBACK); another kind of array reaches it only on V8 13,
        // whose fast functions take a Local<Value> (11.3 and 12.4 call the slow callback then).
        const entered = name !== 'otherKind' || Number(process.versions.v8.split('.')[0]) >= 13;
        expect(counts(name).fast, name).toBe(fast && entered ? 1 : 0);
      }
      expect(steps.get('einval')).toMatchObject({ error: { message: 'clock_gettime: Invalid argument', code: 'EINVAL', syscall: 'clock_gettime' }, written: false });
      expect(counts('einval').fast).toBe(fast ? 1 : 0);
      // A dynamic (negative) clock id, this process's CPU clock, from the fast path too.
      expect(steps.get('ownCpuClock')).toMatchObject({ result: true, written: true });
      expect(counts('ownCpuClock').fast).toBe(fast ? 1 : 0);
    });
  }

  for (const [scenario, outcome] of [
    ['signal', 'runs the handler and resumes'],
    ['signal-eintr', 'runs the handler and throws EINTR with setRestartAfterSignal(false)'],
    ['signal-detach', 'whose handler detaches the buffer ends with ERR_BUFFER_DETACHED, as the N-API path'],
    ['signal-close', 'whose handler closes the fd ends with EBADF, as the N-API path'],
  ] as const) {
    it(`a signal during an optimized recv() ${outcome}`, async () => {
      const signalled: Promise<void>[] = [];
      const steps = byName(
        await runChild(scenario, (step, pid) => {
          if (step.step === 'blocking') signalled.push(blockedIn(pid, 'recvfrom').then(() => void process.kill(pid, 'SIGUSR1')));
        }),
      );
      await Promise.all(signalled);
      expect(steps.get('blocking')).toMatchObject({ optimized: true });
      const received = steps.get('received')!;
      expect(received.handled).toBe(1);
      if (expectFast) expect((received.counts as { fast: number }).fast).toBe(1); // the interrupted call was the fast one
      if (scenario === 'signal') expect(received).toMatchObject({ n: 1, text: 'z' });
      else if (scenario === 'signal-eintr') expect(received.error).toMatchObject({ code: 'EINTR', syscall: 'recv', message: 'recv: Interrupted system call' });
      else if (scenario === 'signal-detach') {
        expect(received.error).toMatchObject({ code: 'ERR_BUFFER_DETACHED' });
        expect((received.error as { message: string }).message).toMatch(/^recv: buffer was detached/);
      } else {
        expect(received.error).toMatchObject({
          code: 'EBADF',
          message: `recv: fd ${received.fd} was closed by a signal handler while the call waited (Bad file descriptor)`,
        });
      }
    });
  }
});
