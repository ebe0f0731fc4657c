// What a forked child of a fork server compiles, as V8 logs it (its perf map,
// --perf-basic-prof), not as sockfd says: nothing. sockfd's byte loops are
// compiled in the parent before its first fork (lib/process.ts,
// warmByteLoops); a function only children run is parsed and compiled in
// every child again (~60 page faults and ~0.4 ms of CPU a child of the
// bench's fork server, perf record / perf stat, for lib/fast-io's sendRange).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/native.js';

describe('a forked child', () => {
  it("compiles none of the code it runs: sockfd's byte loops with a Buffer (sendAll, recvFull, writeAll) were compiled in the parent", () => {
    const children = 4;
    const fixture = spawnSync(process.execPath, ['--perf-basic-prof', join(packageRoot, 'test', 'fixtures', 'process', 'fork-child-compiles.mjs'), String(children)], {
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    expect({ status: fixture.status, signal: fixture.signal, stderr: fixture.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const { statuses, first, made } = JSON.parse(fixture.stdout.trim().split('\n').at(-1)!) as { statuses: number[]; first: string[]; made: string[] };
    expect(statuses).toEqual(Array(children + 1).fill(0));
    // the map logs lazy compiles: the parent's own of the Buffer send loop, before its first fork
    expect(first.filter((name) => name.startsWith('JS:~sendRange '))).toHaveLength(1);
    // "JS:~": bytecode compiled on a function's first call (lazily), by a child or by the parent, after the first round
    expect(made.filter((line) => line.startsWith('JS:~'))).toEqual([]);
  });
});
