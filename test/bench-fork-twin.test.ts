// The fork bench's "C twin" (bench/c/fork.c) stands for a C process of the
// Node process's size, the reference of issue 16's fork targets. Here its
// malloc arenas (glibc's fork() locks and unlocks every one of them, a page
// written on each side of the fork) are checked against glibc's own list of
// them in the real processes, taken from outside the bench by an LD_PRELOAD
// library (test/fixtures/process/arena-report.c: malloc_info(3) at the moment a
// process reads its /proc/self/status, where both take their shape).
// Not under a sanitizer's runtime: it brings its own allocator.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mallocArenas, type ProcessShape } from '../bench/fork.js';
import { nodePeerCommand } from '../bench/harness/harness.js';
import { packageRoot } from '../lib/native.js';
import { benchCProgram, compileC } from '../tools/c-programs.js';

const scratch = mkdtempSync(join(tmpdir(), 'sockfd-arenas-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Measured {
  output: { shape?: ProcessShape };
  /** glibc's arena count at the process's last read of /proc/self/status. */
  glibcArenas: number;
}

let reports = 0;
function runWithArenaReport(library: string, file: string, args: readonly string[]): Measured {
  const report = join(scratch, `report-${++reports}`);
  const env: NodeJS.ProcessEnv = { ...process.env, LD_PRELOAD: library, SOCKFD_ARENA_REPORT: report };
  delete env.SOCKFD_ADDON, delete env.SOCKFD_NODE_ADDON; // the package's own addons (no sanitizer's runtime to come first)
  const child = spawnSync(file, args, { env, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  expect({ status: child.status, signal: child.signal }, child.stderr).toEqual({ status: 0, signal: null });
  const lines = readFileSync(report, 'utf8').trim().split('\n');
  const last = /^arenas (\d+)$/.exec(lines.at(-1) ?? '');
  if (last === null) throw new Error(`no arena report from ${file}: ${lines.join(' | ')}`);
  return { output: JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Measured['output'], glibcArenas: Number(last[1]) };
}

describe('the fork bench\'s C twin', () => {
  it('has the malloc arenas of the Node process it copies, as glibc lists them in both, and the bench reads Node\'s from its maps right', async () => {
    const library = await compileC(join(packageRoot, 'test', 'fixtures', 'process', 'arena-report.c'), {
      outDir: join(packageRoot, 'build', 'c', 'process'),
      flags: ['-shared', '-fPIC', '-ldl'],
    });
    // The bench's own peers: the one whose shape the twin copies, and the one whose fork() calls are timed.
    const shapePeer = nodePeerCommand('fork', 'shape', [0]);
    const node = runWithArenaReport(library, shapePeer.file, shapePeer.args);
    const shape = node.output.shape!;
    // the case is real: Node's threads have arenas of their own besides the main one
    expect(node.glibcArenas).toBeGreaterThan(1);
    // the bench's count from /proc/self/maps is glibc's
    expect(shape.arenas).toBe(node.glibcArenas);
    // the process the bench times (5 forks) has as many, at its end: its forks made none
    const costPeer = nodePeerCommand('fork', 'sockfd-cost', [5, 1, 0]);
    const timed = runWithArenaReport(library, costPeer.file, costPeer.args);
    expect(timed.glibcArenas).toBe(node.glibcArenas);
    expect(timed.output.shape!.arenas).toBe(timed.glibcArenas);

    // The twin, grown to that shape as the bench grows it (bench/fork.ts twinArgs).
    const twinArgs = [shape.anonKiB, shape.fileKiB, shape.mappings, shape.threads, shape.arenas, shape.pteKiB, process.execPath].map(String);
    const twin = runWithArenaReport(library, await benchCProgram('fork'), ['twin-cost', '2', '1', ...twinArgs]);
    expect(twin.glibcArenas).toBe(node.glibcArenas);
    const twinShape = twin.output.shape!;
    expect({ arenas: twinShape.arenas, threads: twinShape.threads }).toEqual({ arenas: twin.glibcArenas, threads: shape.threads });
  }, 120_000);

  it('reads an arena from a maps text: a 64 MiB-aligned anonymous heap, used part read-write and its PROT_NONE rest, or filled', () => {
    const maps = [
      '55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]',
      '7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ',
      '7f0000021000-7f0004000000 ---p 00000000 00:00 0 ',
      '7f0008000000-7f000c000000 rw-p 00000000 00:00 0 ', // filled to the end
      '7f0010000000-7f0010021000 rw-p 00000000 00:00 0 ', // aligned, but its rest is not 64 MiB
      '7f0010021000-7f0010800000 ---p 00000000 00:00 0 ',
      '7f0014001000-7f0014021000 rw-p 00000000 00:00 0 ', // not aligned
      '7f0018000000-7f001c000000 rw-p 00000000 08:01 1234                       /tmp/file', // file-backed
    ].join('\n');
    expect(mallocArenas(maps)).toBe(3);
  });
});
