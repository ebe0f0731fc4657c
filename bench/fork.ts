// fork: what one fork() costs from Node (sockfd's fork, which parks V8's
// worker threads and re-enables forking of the heap) at a small and a large
// heap, against C with as much memory touched and against a C "twin" grown
// to the Node process's size (anonymous and file-backed RSS, mappings,
// threads); and the connections per second of a fork-per-connection server
// (the tutorial's demo10 shape), sockfd vs C vs the C twin, all driven by the
// same C client. The fork() call in the parent and the whole round (fork to
// waitpid done, the child's run included) are separate cases.
import { readFileSync } from 'node:fs';
import * as posix from '../lib/posix.js';
import { _exit, fork, signal, waitpid } from '../lib/process.js';
import { aloneRun, bySize, measureCase, measuredSpec, pairRun, sizeLabel, workWithin, type BenchContext, type Benchmark } from './harness/harness.js';
import { CaseRecorder, runMetric, type CaseResult, type RunOutput, type Target } from './harness/model.js';
import { intArg, listenAnnounced, nowNs, printResult, sendAll } from './harness/peer-io.js';
import { recvFull } from '../lib/io.js';

const NAME = 'fork';

/** Keeps about `mib` MiB of live JS objects (arrays of doubles, 64 KiB each) in the V8 heap. */
function growHeap(mib: number): number[][] {
  const keep: number[][] = [];
  for (let i = 0; i < mib * 16; i++) keep.push(new Array<number>(8192).fill(i + 0.5));
  return keep;
}

/** What makes fork() expensive in this process: resident memory by kind, mappings, threads, malloc arenas, page tables. */
export interface ProcessShape {
  anonKiB: number;
  fileKiB: number;
  mappings: number;
  threads: number;
  /** glibc's malloc arenas: fork() locks each before fork(2) and unlocks it after, a write to its page on each side. */
  arenas: number;
  pteKiB: number;
}

// A glibc arena other than the main one lives in heaps of HEAP_MAX_SIZE (64 MiB
// on 64-bit) reserved at an address aligned to that size: an anonymous mapping
// at such an address, read-write as far as the heap is in use, the rest of the
// 64 MiB PROT_NONE (a heap filled to the end has no such rest). An arena grown
// past one heap would count once a heap; this process's never do.
const ARENA_HEAP = 64 * 1024 * 1024;

/** glibc's malloc arenas in `maps` (/proc/PID/maps): the main one (in libc's data) and one a 64 MiB heap. */
export function mallocArenas(maps: string): number {
  const lines = maps.split('\n').filter((line) => line !== '');
  const anonymous = lines.map((line) => {
    const [range = '', perms = '', , , inode = '', path] = line.split(/\s+/);
    const [start = 0, end = 0] = range.split('-').map((address) => Number.parseInt(address, 16));
    return { start, end, perms, anonymous: inode === '0' && (path === undefined || path === '') };
  });
  let heaps = 0;
  anonymous.forEach((mapping, i) => {
    if (!mapping.anonymous || !mapping.perms.startsWith('rw') || mapping.start % ARENA_HEAP !== 0) return;
    const rest = anonymous[i + 1];
    const end = rest?.anonymous && rest.perms === '---p' && rest.start === mapping.end ? rest.end : mapping.end;
    if (end - mapping.start === ARENA_HEAP) heaps++;
  });
  return 1 + heaps;
}

/** The shape of this process, from /proc/self/status and /proc/self/maps. */
export function processShape(): ProcessShape {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const mappings = maps.split('\n').filter((line) => line !== '').length;
  return { anonKiB: field('RssAnon'), fileKiB: field('RssFile'), mappings, threads: field('Threads'), arenas: mallocArenas(maps), pteKiB: field('VmPTE') };
}

function describeShape(shape: ProcessShape): string {
  return `${Math.round(shape.anonKiB / 1024)} MiB anon + ${Math.round(shape.fileKiB / 1024)} MiB file RSS, ${shape.mappings} mappings, ${shape.threads} threads, ${shape.arenas} malloc arenas, ${shape.pteKiB} KiB page tables`;
}

/** Prints the shape of a Node process like the measuring peers (same modules, heap grown to HEAP_MB). */
function shapePeer(args: readonly string[]): void {
  const heap = growHeap(intArg(args, 0, 'HEAP_MB'));
  printResult({ shape: processShape(), arrays: heap.length } as RunOutput);
}

function sockfdCost(args: readonly string[]): void {
  const count = intArg(args, 0, 'COUNT');
  const warmup = intArg(args, 1, 'WARMUP');
  const heapMib = intArg(args, 2, 'HEAP_MB');
  const heap = growHeap(heapMib);
  process.stderr.write(`heap used: ${sizeLabel(Math.round(process.memoryUsage().heapUsed / 1048576) * 1048576)} in ${heap.length} arrays\n`);
  const samples = new Float64Array(count);
  const rounds = new Float64Array(count);
  for (let i = -warmup; i < count; i++) {
    const start = nowNs();
    const pid = fork();
    if (pid === 0) _exit(0);
    const elapsed = nowNs() - start;
    const status = waitpid(pid);
    const round = nowNs() - start;
    if (status.exitCode !== 0) throw new Error(`child ${pid} ended with ${JSON.stringify(status)}`);
    if (i >= 0) {
      samples[i] = elapsed;
      rounds[i] = round;
    }
  }
  printResult({ samples_ns: Array.from(samples, Math.round), round_ns: Array.from(rounds, Math.round), shape: processShape() } as RunOutput);
}

function sockfdServer(args: readonly string[]): void {
  const count = intArg(args, 0, 'COUNT');
  const listener = listenAnnounced();
  signal(posix.SIGCHLD, 'ignore'); // the kernel reaps the children, as in the tutorial
  const byte = Buffer.alloc(1);
  for (let i = 0; i < count; i++) {
    const { fd } = posix.accept(listener);
    const pid = fork();
    if (pid === 0) {
      posix.close(listener);
      // recvFull, not peer-io's recvAll: every child would compile recvAll,
      // which the parent never runs (~0.3-1 ms of CPU per child: V8's parser
      // faulted in from the node binary). Code only children run is compiled
      // in each child; sockfd warms its own (lib/process.ts), see docs/process.md.
      if (recvFull(fd, byte) === byte.length) sendAll(fd, byte);
      posix.close(fd);
      _exit(0);
    }
    posix.close(fd);
  }
  posix.close(listener);
}

async function run(context: BenchContext) {
  const quick = context.quick;
  const largeHeapMib = bySize(context, { full: 512, quick: 128, smoke: 16 });
  const small = bySize(context, { full: { count: 100, warmup: 10, runs: 3 }, quick: { count: 30, warmup: 5, runs: 1 }, smoke: { count: 5, warmup: 1, runs: 1 } });
  const large = bySize(context, { full: { count: 20, warmup: 3, runs: 3 }, quick: { count: 10, warmup: 2, runs: 1 }, smoke: { count: 3, warmup: 1, runs: 1 } });
  const server = bySize(context, { full: { count: 300, warmup: 10, runs: 3 }, quick: { count: 30, warmup: 5, runs: 1 }, smoke: { count: 5, warmup: 1, runs: 1 } });
  // Room for the large heap (V8's default limit depends on the machine's memory).
  const nodeFlags = [`--max-old-space-size=${largeHeapMib * 3}`];
  const cases: CaseResult[] = [];
  const notes: string[] = [];
  const twin = 'C twin';
  const impls = ['C', twin, 'sockfd'] as const;
  // The size of the Node process the twin copies: a peer that loads the same modules and grows the same heap.
  const shapeOf = async (heapMib: number): Promise<ProcessShape> => {
    const output = (await aloneRun(context, context.node(NAME, 'shape', [heapMib], nodeFlags))) as { shape?: ProcessShape };
    if (output.shape === undefined) throw new Error('the shape peer printed no shape');
    return output.shape;
  };
  const twinArgs = (shape: ProcessShape): (string | number)[] => [shape.anonKiB, shape.fileKiB, shape.mappings, shape.threads, shape.arenas, shape.pteKiB, process.execPath];
  const leftOutCases: string[] = [];
  for (const [label, heapMib, sizes] of [
    ['fork() + _exit, small heap', 0, small],
    [`fork() + _exit, ${largeHeapMib} MiB heap`, largeHeapMib, large],
  ] as const) {
    const targets: Target[] = heapMib === 0 ? [{ subject: 'sockfd', reference: twin, ratio: 1.2 }] : [];
    const note =
      heapMib === 0
        ? 'time of the fork() call in the parent; C: a bare process; C twin: a C process of the Node process\'s size; sockfd: a Node process as it starts'
        : `time of the fork() call in the parent; C: ${heapMib} MiB malloc'd and touched; C twin: the Node process's size; sockfd: ${heapMib} MiB of live JS arrays`;
    // --control: the C twin (the targets' reference) runs twice a round, an A/A row; --only-targets: only what the targets need.
    const spec = measuredSpec(context, { name: label, kind: 'latency', impls, note, targets, control: twin });
    if (spec.impls.length === 0) {
      leftOutCases.push(label, `${label}: whole round`); // --only-targets: no target here (its shape is not even measured)
      continue;
    }
    const shape = await shapeOf(heapMib);
    const twinShapes: ProcessShape[] = [];
    const { targets: _forkTargets, ...roundFields } = spec;
    const round = new CaseRecorder({ ...roundFields, name: `${label}: whole round`, note: 'fork() in the parent to waitpid() done: the child\'s run and exit included' });
    const runOnce = async (impl: string, warm: boolean, recordedAs: string): Promise<RunOutput> => {
      const count = warm ? sizes.warmup : sizes.count;
      const command =
        impl === 'C'
          ? context.c(NAME, 'cost', count, sizes.warmup, heapMib)
          : impl === twin
            ? context.c(NAME, 'twin-cost', count, sizes.warmup, ...twinArgs(shape))
            : context.node(NAME, 'sockfd-cost', [count, sizes.warmup, heapMib], nodeFlags);
      const output = (await aloneRun(context, command)) as RunOutput & { round_ns?: number[]; shape?: ProcessShape };
      if (!warm) {
        if (!Array.isArray(output.round_ns)) throw new Error(`${command.label} printed no round_ns`);
        round.add(recordedAs, { samples_ns: output.round_ns });
        if (impl === twin && output.shape) twinShapes.push(output.shape);
      }
      return output;
    };
    cases.push(await measureCase(context, spec, { runs: sizes.runs, runOnce, warmupRun: !quick }));
    cases.push(round.result());
    notes.push(`${label}: Node ${describeShape(shape)}${twinShapes[0] ? `; its C twin ${describeShape(twinShapes[0])}` : ''}`);
  }
  const serverShape = await shapeOf(0);
  const warmupRate = new Map<string, number>(); // connections/s of each warm-up run
  const runServer = async (impl: string, warm: boolean): Promise<RunOutput> => {
    const count = warm ? server.warmup : workWithin(server.count, warmupRate.get(impl), quick ? 1 : 4, server.warmup);
    const total = count + server.warmup;
    const serverCommand =
      impl === 'C'
        ? context.c(NAME, 'server', total)
        : impl === twin
          ? context.c(NAME, 'twin-server', total, ...twinArgs(serverShape))
          : context.node(NAME, 'sockfd-server', [total]);
    const output = await pairRun(context, serverCommand, (port) => context.c(NAME, 'client', port, count, server.warmup));
    if (warm) warmupRate.set(impl, runMetric('rate', output));
    else if (count < server.count && !notes.some((n) => n.startsWith(`${impl}:`)))
      notes.push(`${impl}: ${count} connections per server run instead of ${server.count}, to stay within the time bound`);
    return output;
  };
  cases.push(
    await measureCase(
      context,
      {
        name: 'fork-per-connection server',
        kind: 'rate',
        impls,
        note: 'connections/s, one at a time: accept, fork, the child answers 1 byte and exits (the same C client for all servers)',
        targets: [{ subject: 'sockfd', reference: twin, ratio: 0.5 }],
        control: twin,
      },
      { runs: server.runs, runOnce: runServer, warmupRun: !quick },
    ),
  );
  return {
    title: 'fork: the cost of one fork() from Node, and a fork-per-connection server',
    description:
      'fork() timed in the parent (the child calls _exit(0) at once and is reaped with waitpid) at a small heap and at a large one; ' +
      'the page tables of the whole address space are copied, so the cost grows with the memory mapped. sockfd\'s fork() also ' +
      'parks V8\'s worker threads and re-enables forking of the V8 heap (MADV_DOFORK) first. The server case is the tutorial\'s ' +
      'demo10 shape, one child per connection, served one connection at a time. "C twin" is a C process grown first to the ' +
      'measured size of the Node process (anonymous and file-backed RSS, mappings, threads, page tables: see the notes), ' +
      'so the difference to it is what Node and sockfd add beyond size. Each fork case has a second table: the whole round ' +
      '(fork to waitpid done), which includes the child\'s run. Targets (issue 16): fork() at a small heap at most 1.2x the ' +
      'C twin; the server at least 0.5x the C twin.',
    parameters: {
      smallHeap: `${small.runs} runs x ${small.count} forks`,
      largeHeap: `${large.runs} runs x ${large.count} forks at ${largeHeapMib} MiB`,
      server: `${server.runs} runs x ${server.count} connections`,
    },
    cases,
    notes,
    ...(leftOutCases.length > 0 ? { leftOutCases } : {}),
  };
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: 'one fork() from Node at small and large heap vs C and a C twin of Node\'s size; fork-per-connection server connections/s',
  cPrograms: [NAME],
  peers: { shape: shapePeer, 'sockfd-cost': sockfdCost, 'sockfd-server': sockfdServer },
  run,
};
