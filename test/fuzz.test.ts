// The native fuzzer (test/fuzz/): every export of the addon has a spec, and a
// bounded seeded run is clean (no non-Error throw, no abort, no hang, no fd
// of the process touched, no watcher left). CI runs it longer under ASan and
// UBSan (.ci/run); `npm run fuzz -- --calls 1000000` runs it on demand.
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binding, tryNodeAddon } from '../lib/native.js';
import { fastCalls } from '../lib/fast-io.js';
import { fastSocketCalls } from '../lib/fast-socket.js';
// Plain JavaScript (.mjs): node runs it directly, under ASan too, and this test imports it.
import { makeSpecs } from './fuzz/specs.mjs';
import { fastFunctionNames, fastSets, makeRawSpecs } from './fuzz/fast.mjs';
import { makeRandom } from './fuzz/world.mjs';

const exported = Object.keys(binding)
  .filter((name) => typeof binding[name] === 'function')
  .sort();

describe('fuzzer', () => {
  it('has a spec for every export of the addon, and none for a name it does not export', () => {
    const specs = makeSpecs({ random: makeRandom(1), c: binding.constants }) as Record<string, unknown>;
    const missing = exported.filter((name) => !(name in specs));
    expect(missing, 'add a spec to test/fuzz/specs.mjs (docs/CONTRIBUTING.md, "Fuzzing")').toEqual([]);
    expect(Object.keys(specs).filter((name) => !exported.includes(name))).toEqual([]);
  });

  it('has a spec for every V8 fast call of sockfd_node (test/fuzz/fast.mjs), where this Node has them', () => {
    const sets = fastSets(tryNodeAddon()).filter(([, set]) => set.available);
    const names = sets.flatMap(([, set]) => fastFunctionNames(set));
    expect(names.length > 0).toBe(fastCalls.enabled);
    if (fastCalls.enabled) expect(names).toEqual(expect.arrayContaining(['send', 'recv', 'read', 'write', 'socket']));
    const specs = makeRawSpecs({ random: makeRandom(1), c: binding.constants }, -0x80000000);
    expect(names.filter((name) => !(name in specs)), 'add a raw spec to test/fuzz/fast.mjs').toEqual([]);
  });

  it('runs 8,000 seeded adversarial calls clean, signals arriving during them, some forced into blocked fast calls', () => {
    const result = spawnSync(process.execPath, [join(import.meta.dirname, 'fuzz', 'fuzz.mjs'), '--calls', '8000', '--seed', '10', '--json'], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(result.stderr).toBe('');
    expect({ status: result.status, signal: result.signal }).toEqual({ status: 0, signal: null });
    const summary = JSON.parse(result.stdout) as {
      calls: number;
      natives: number;
      thrown: Record<string, number>;
      byName: Record<string, number>;
      fast: { on: boolean; targets: number; fromOptimizedCode: number; fastEntries: number; fastEntriesByTarget: Record<string, number> };
      interruptions: {
        on: boolean;
        cases: number;
        fastInterrupted: number;
        byAction: Record<string, number>;
        byKind: Record<string, [number, number]>;
        byCall: Record<string, [number, number]>;
      };
    };
    expect(summary.calls).toBe(8000);
    expect(summary.natives).toBe(exported.length - 1); // all but fork
    // Every kind of outcome happened: errno errors, TypeErrors, RangeErrors, the sentinel thrown through a call.
    for (const kind of ['Error', 'TypeError', 'RangeError', 'sentinel']) expect(summary.thrown[kind], kind).toBeGreaterThan(0);
    // The fast calls were fuzzed from optimized code, and each fast target took its fast path (the addon's own counters).
    expect(summary.fast.on).toBe(fastCalls.enabled);
    if (fastCalls.enabled) {
      expect(summary.fast.fromOptimizedCode).toBeGreaterThan(0);
      for (const [target, entries] of Object.entries(summary.fast.fastEntriesByTarget)) expect(entries, target).toBeGreaterThan(0);
    }
    // Forced interruptions (test/fuzz/eintr.mjs): every handler action met a blocked call, each outcome as the
    // action must make it (the fuzzer fails otherwise), and plain memory's calls were interrupted inside the fast call.
    expect(summary.interruptions.on).toBe(['x64', 'arm64'].includes(arch())); // where /proc's system call numbers are known
    expect(Object.keys(summary.interruptions.byAction).sort()).toEqual(['alloc', 'close', 'close-reuse', 'detach', 'eintr', 'grow', 'resume', 'resume-twice', 'shrink', 'throw']);
    for (const [action, cases] of Object.entries(summary.interruptions.byAction)) expect(cases, action).toBeGreaterThan(0);
    if (fastCalls.enabled) expect(summary.interruptions.byKind['plain']![1]).toBeGreaterThan(0);
    else expect(summary.interruptions.fastInterrupted).toBe(0);
    // Every call had cases: recv/send/read/write, and lib/fast-socket's acceptFd and connect, recv and accept
    // interrupted inside their fast calls (connect's one case a round may meet an earlier signal first: eintr.mjs).
    expect(Object.keys(summary.interruptions.byCall).sort()).toEqual(['accept', 'connect', 'read', 'recv', 'send', 'write']);
    for (const [call, [cases, inside]] of Object.entries(summary.interruptions.byCall)) {
      expect(cases, call).toBeGreaterThan(0);
      if (fastCalls.enabled && fastSocketCalls.enabled && ['recv', 'accept'].includes(call)) expect(inside, call).toBeGreaterThan(0);
    }
  });
});
