// fork: what one fork() costs from Node (sockfd's fork, which parks V8's
// worker threads and re-enables forking of the heap) at a small and a large
// heap, against C with as much memory touched; and the connections per
// second of a fork-per-connection server (the tutorial's demo10 shape),
// sockfd vs C, both driven by the same C client.
import * as posix from '../lib/posix.js';
import { _exit, fork, signal, waitpid } from '../lib/process.js';
import { aloneRun, bySize, measureCase, pairRun, sizeLabel, workWithin, type BenchContext, type Benchmark } from './harness/harness.js';
import { runMetric, type CaseResult, type RunOutput } from './harness/model.js';
import { intArg, listenAnnounced, nowNs, printResult, recvAll, sendAll } from './harness/peer-io.js';

const NAME = 'fork';

/** Keeps about `mib` MiB of live JS objects (arrays of doubles, 64 KiB each) in the V8 heap. */
function growHeap(mib: number): number[][] {
  const keep: number[][] = [];
  for (let i = 0; i < mib * 16; i++) keep.push(new Array<number>(8192).fill(i + 0.5));
  return keep;
}

function sockfdCost(args: readonly string[]): void {
  const count = intArg(args, 0, 'COUNT');
  const warmup = intArg(args, 1, 'WARMUP');
  const heapMib = intArg(args, 2, 'HEAP_MB');
  const heap = growHeap(heapMib);
  process.stderr.write(`heap used: ${sizeLabel(Math.round(process.memoryUsage().heapUsed / 1048576) * 1048576)} in ${heap.length} arrays\n`);
  const samples = new Float64Array(count);
  for (let i = -warmup; i < count; i++) {
    const start = nowNs();
    const pid = fork();
    if (pid === 0) _exit(0);
    const elapsed = nowNs() - start;
    const status = waitpid(pid);
    if (status.exitCode !== 0) throw new Error(`child ${pid} ended with ${JSON.stringify(status)}`);
    if (i >= 0) samples[i] = elapsed;
  }
  printResult({ samples_ns: Array.from(samples, Math.round) });
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
      if (recvAll(fd, byte)) sendAll(fd, byte);
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
  for (const [label, heapMib, sizes] of [
    ['fork() + _exit, small heap', 0, small],
    [`fork() + _exit, ${largeHeapMib} MiB heap`, largeHeapMib, large],
  ] as const) {
    const runOnce = (impl: string, warm: boolean): Promise<RunOutput> => {
      const count = warm ? sizes.warmup : sizes.count;
      const command =
        impl === 'C' ? context.c(NAME, 'cost', count, sizes.warmup, heapMib) : context.node(NAME, 'sockfd-cost', [count, sizes.warmup, heapMib], nodeFlags);
      return aloneRun(context, command);
    };
    const note =
      heapMib === 0
        ? 'time of the fork() call in the parent; C: a bare process; sockfd: a Node process as it starts'
        : `time of the fork() call in the parent; C: ${heapMib} MiB malloc'd and touched; sockfd: ${heapMib} MiB of live JS arrays`;
    cases.push(await measureCase(context, { name: label, kind: 'latency', impls: ['C', 'sockfd'], note }, { runs: sizes.runs, runOnce, warmupRun: !quick }));
  }
  const warmupRate = new Map<string, number>(); // connections/s of each warm-up run
  const notes: string[] = [];
  const runServer = async (impl: string, warm: boolean): Promise<RunOutput> => {
    const count = warm ? server.warmup : workWithin(server.count, warmupRate.get(impl), quick ? 1 : 4, server.warmup);
    const serverCommand = impl === 'C' ? context.c(NAME, 'server', count + server.warmup) : context.node(NAME, 'sockfd-server', [count + server.warmup]);
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
        impls: ['C', 'sockfd'],
        note: 'connections/s, one at a time: accept, fork, the child answers 1 byte and exits (the same C client for both servers)',
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
      'demo10 shape, one child per connection, served one connection at a time.',
    parameters: {
      smallHeap: `${small.runs} runs x ${small.count} forks`,
      largeHeap: `${large.runs} runs x ${large.count} forks at ${largeHeapMib} MiB`,
      server: `${server.runs} runs x ${server.count} connections`,
    },
    cases,
    notes,
  };
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: 'one fork() from Node at small and large heap vs C; fork-per-connection server connections/s vs C',
  cPrograms: [NAME],
  peers: { 'sockfd-cost': sockfdCost, 'sockfd-server': sockfdServer },
  run,
};
