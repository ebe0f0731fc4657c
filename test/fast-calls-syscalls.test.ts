// The fast calls make their system calls without glibc's cancellation bracket
// (native/node/raw_syscall.h): connect, accept4, send and recv from optimized
// code (and from their V8 slow callbacks) never enter glibc's wrappers, which
// in Node's multi-threaded process run __pthread_enable_asynccancel and
// __pthread_disable_asynccancel around every call. Checked from outside the
// addon: an LD_PRELOAD library counts the calls that enter glibc's functions
// on the child's sockets; the N-API path (SOCKFD_FAST_CALLS=0), which keeps
// glibc's wrappers, is the reference that shows the counting works.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';
import { compileC } from '../tools/c-programs.js';
import { builtForThisV8, runStepChild, type Step } from './helpers/fast-call-children.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'fast-calls');
const dist = join(packageRoot, 'dist');
const expectFast = process.env.SOCKFD_FAST_CALLS !== '0' && builtForThisV8;
const ROUNDS = 200;

type Counts = { fast: number; slow: number };

async function run(env: NodeJS.ProcessEnv): Promise<{ steps: Map<string, Step>; glibc: Record<string, number> }> {
  const library = await compileC(join(fixtures, 'glibc-entries.c'), { outDir: join(packageRoot, 'build', 'c', 'fast-calls'), flags: ['-shared', '-fPIC', '-ldl'] });
  const dir = mkdtempSync(join(tmpdir(), 'sockfd-glibc-entries-'));
  try {
    const out = join(dir, 'counts.txt');
    // An ASan run preloads its runtime first; ours comes after it.
    const preload = [process.env.LD_PRELOAD, library].filter(Boolean).join(':');
    const steps = await runStepChild(join(fixtures, 'glibc-entries.mjs'), [dist, 'rounds', String(ROUNDS)], {
      env: { ...env, LD_PRELOAD: preload, SOCKFD_GLIBC_ENTRIES_OUT: out },
      timeoutMs: 60_000,
    });
    const glibc = Object.fromEntries(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map(([name, count]) => [name!, Number(count)]),
    );
    return { steps: new Map(steps.map((step) => [step.step, step])), glibc };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('fast calls and glibc', () => {
  it.runIf(expectFast)('connect, accept4, send and recv from optimized code never enter glibc; the N-API path does (the reference)', async () => {
    const fast = await run({});
    expect(fast.steps.get('status')).toMatchObject({ fastIo: true, fastSocket: true });
    expect(fast.steps.get('warm-up')).toMatchObject({ optimized: true });
    const optimized = fast.steps.get('optimized')!;
    expect(optimized.received).toBe(ROUNDS);
    // Every round made its fast calls from optimized code (socket, connect, acceptFd, send, recv, close...).
    expect((optimized.counts as Counts).fast).toBeGreaterThanOrEqual(4 * ROUNDS);
    expect(fast.glibc).toEqual({ connect: 0, accept: 0, accept4: 0, send: 0, sendto: 0, recv: 0, recvfrom: 0, read: 0, write: 0 });

    const napi = await run({ SOCKFD_FAST_CALLS: '0' });
    expect(napi.steps.get('optimized')).toMatchObject({ received: ROUNDS, counts: { fast: 0 } });
    const rounds = ROUNDS + 3; // the timed rounds and the optimizer's three warm() calls
    expect(napi.glibc.connect).toBe(rounds);
    expect(napi.glibc.accept! + napi.glibc.accept4!).toBe(rounds);
    expect(napi.glibc.send! + napi.glibc.sendto!).toBe(rounds);
    expect(napi.glibc.recv! + napi.glibc.recvfrom!).toBe(rounds);
  }, 180_000);
});
