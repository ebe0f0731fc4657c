// Small views that live inside V8's heap (new Uint8Array(n), Buffer.alloc(n),
// n <= 64) through native/node/fast_calls.cc: the slow callback (unoptimized
// code) sends from a copy of their bytes and receives into a stack buffer it
// stores back, never giving the view a backing store (on V8 13, whose fast
// call cannot receive into an on-heap view, a receive still gives it one);
// the fast call (optimized code) as before. Bytes checked against the same calls with
// off-heap views, MSG_TRUNC and MSG_PEEK included; a signal while the slow
// callback blocks still ends in the N-API path's re-validation.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { blockedIn, builtForThisV8, runStepChild, type Step } from './helpers/fast-call-children.js';

const root = join(import.meta.dirname, '..');
const child = join(root, 'test', 'fixtures', 'fast-calls', 'on-heap.mjs');
const dist = join(root, 'dist');
const expectFast = builtForThisV8 && process.env.SOCKFD_FAST_CALLS !== '0';
// V8 13's fast call cannot receive into an on-heap view (it answers FALLBACK):
// there the slow callback gives a view it receives into its buffer, so that
// later fast calls take it (sends still go from a copy).
const fastReceivesOnHeap = Number(process.versions.v8.split('.')[0]) < 13;
// The bytes of the on-heap views the unoptimized exchanges receive into
// (recvRange 16, recvOne 1, peek 4 + 4, readWrite 8, udpTrunc 8, tcpTrunc 8, proxyPrototype 4).
const receivedIntoBytes = 53;

function runChild(scenario: string, onLine?: (step: Step, pid: number) => void): Promise<Step[]> {
  return runStepChild(child, [dist, scenario], { onLine, nodeFlags: ['--expose-gc'], timeoutMs: 20_000 });
}
const byName = (steps: Step[]) => new Map(steps.map((s) => [s.step, s]));

describe('on-heap views through the fast calls', () => {
  it('are sent and received byte for byte before and after optimization, and the slow path makes no backing store for them', async () => {
    const steps = byName(await runChild('paths'));
    const reference = steps.get('reference')!.results as Record<string, unknown>;
    // Known answers first, so that the reference itself is checked.
    expect(reference).toMatchObject({
      sendRange: { sent: 10, got: '161d242b323940474e55' },
      sendToEnd: { sent: 4, got: 'a6adb4bb' },
      recvRange: { n: 7, view: 'eeeeeeeeee030a11181f262deeeeeeee' },
      recvOne: { n: 1, view: '5a', rest: 1 },
      peek: { n: 4, peeked: Buffer.from('peek').toString('hex'), again: 4, taken: Buffer.from('peek').toString('hex') },
      readWrite: { w: 4, r: 4, view: '1112192027111111' },
      udpTrunc: { n: 10, view: '2222050c131a2222' },
      tcpTrunc: { n: 3, view: '3333333333333333' },
      proxyPrototype: { n: 4, view: Buffer.from('prox').toString('hex'), trapsDuringRecv: 0 },
    });
    const unoptimized = steps.get('unoptimized')!;
    expect(unoptimized.results).toEqual(reference);
    // 20 calls in all, each one slow callback (from expectFast builds; otherwise none reach it).
    expect(unoptimized.counts).toEqual(expectFast ? { fast: 0, slow: 20 } : { fast: 0, slow: 0 });
    if (expectFast) expect(unoptimized.backingStoresMade).toBe(fastReceivesOnHeap ? 0 : receivedIntoBytes);
    const alloc = steps.get('bufferAlloc')!;
    expect(alloc).toMatchObject({ n: 1, sent: 1, echoed: '42' });
    if (expectFast) expect(alloc.backingStoresMade).toBe(fastReceivesOnHeap ? 0 : 1);
    // From optimized code: the same bytes (on V8 13 a receive into a fresh on-heap view goes
    // to N-API, and that first fallback deoptimizes the caller).
    const optimized = steps.get('optimized')!;
    expect(optimized).toMatchObject({ result: [3, 3] });
    if (fastReceivesOnHeap) expect(optimized.optimized).toBe(true);
    expect(optimized.view).toBe('0000' + (optimized.expected as string) + '000000');
    if (expectFast) expect((optimized.counts as { fast: number }).fast).toBe(2);
  });

  for (const [scenario, outcome] of [
    ['signal', 'runs the handler and resumes in N-API, the byte landing in the view'],
    ['signal-detach', 'whose handler gives the view a buffer and detaches it ends with ERR_BUFFER_DETACHED'],
    ['signal-close', 'whose handler closes the fd ends with EBADF'],
  ] as const) {
    it(`a signal while the slow callback blocks in recv() into an on-heap view ${outcome}`, async () => {
      const signalled: Promise<void>[] = [];
      const steps = byName(
        await runChild(scenario, (step, pid) => {
          if (step.step === 'blocking') signalled.push(blockedIn(pid, 'recvfrom').then(() => void process.kill(pid, 'SIGUSR1')));
        }),
      );
      await Promise.all(signalled);
      const received = steps.get('received')!;
      expect(received.handled).toBe(1);
      // The interrupted call was the slow callback's (unoptimized code).
      if (expectFast) expect((received.counts as { fast: number; slow: number }).slow).toBeGreaterThanOrEqual(1);
      if (scenario === 'signal') expect(received).toMatchObject({ n: 1, view: '447a4444' });
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
