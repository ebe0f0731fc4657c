// fork() and what must not cross it: the parent's pending async calls, and a
// Worker thread's hold on V8's process-wide locks. Every fork runs inside a
// fixture process (test/fixtures/process), never in the test runner itself.
import { describe, expect, it } from 'vitest';
import { fixtureRunner } from './helpers/fixtures.js';

const run = fixtureRunner();

interface Forks {
  ok: number;
  hung: number;
  refused: number;
  wrong: unknown[];
  errors: Record<string, number>;
}

describe('fork() and async calls pending in the parent', () => {
  it('the child runs none of them, watches nothing and takes no byte; the parent gets every byte', async () => {
    const fixture = run('fork-pending-async.mjs');
    const result = await fixture.firstJson<Record<string, unknown>>(40_000);
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    expect(result).toEqual({
      waiting: { bytes: 20 * 64 * 1024, expected: 20 * 64 * 1024 },
      immediate: { bytes: 1024, failed: [], expected: 1024 },
      yielding: { bytes: 50, failed: [], expected: 50 },
      queuedBytes: 8,
      // exit 0: no continuation of the parent ran in the child, and it held no watcher
      child: { exitCode: 0, signal: null, hung: false },
      parentWatchersAfter: 0,
    });
  });
});

describe('fork() while a Worker thread exists', () => {
  const message =
    "ERR_FORK_WORKERS (1): fork: 1 Worker thread is running; a child forked now could hang forever (a Worker's isolate " +
    'may hold a process-wide V8 lock at the fork, and the child has no thread to release it). End the Workers ' +
    '(await worker.terminate()) before fork()';
  // A Worker found only by asking every thread (native/node/js_threads.cc).
  const unseen =
    'ERR_FORK_WORKERS (1): fork: 1 Worker thread is running that sockfd did not see created (a Worker made before ' +
    "sockfd was loaded, or Node's thread for the module hooks of --import, --loader or module.register), and a child " +
    "forked now could hang forever (a Worker's isolate may hold a process-wide V8 lock at the fork, and the child has " +
    'no thread to release it). End the Workers (await worker.terminate()) before fork(); module hooks end only with ' +
    'the process: run the program without them (compiled JavaScript)';

  for (const [mode, how] of [
    ['late', 'a Worker made after sockfd was loaded'],
    ['early', 'a Worker made before sockfd was loaded, that loads it'],
    ['before', 'a Worker made before sockfd was loaded, that never loads it'],
    ['before-many', 'a Worker made before sockfd was loaded, that never loads it, listed after 200 libuv pool threads'],
  ] as const) {
    it(`refuses with ERR_FORK_WORKERS while ${how} allocates, then forks again once it ended: no child hangs`, async () => {
      const fixture = run('fork-workers.mjs', ['30', mode]);
      const result = await fixture.firstJson<{ sameTick: string; withWorker: Forks; afterTerminate: Forks }>(120_000);
      expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
      expect(result.sameTick).toBe(mode === 'late' ? 'ERR_FORK_WORKERS' : 'not tried'); // fork() right after new Worker()
      expect(result.withWorker).toEqual({ ok: 0, hung: 0, refused: 30, wrong: [], errors: { [mode.startsWith('before') ? unseen : message]: 30 } });
      expect(result.afterTerminate).toEqual({ ok: 30, hung: 0, refused: 0, wrong: [], errors: {} });
    }, 150_000);
  }
});
