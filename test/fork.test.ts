// fork() in Node 20 without flags. Every fork runs inside a fixture process
// (test/fixtures/process), never in the test runner itself.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connect, type Socket as NetSocket } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fdTable, fixtureRunner, procStat } from './helpers/fixtures.js';
import { childPids } from '../lib/procfs.js';
import { packageRoot } from '../lib/native.js';
import { compileC } from '../tools/c-programs.js';
import { until } from '../tools/until.js';

const run = fixtureRunner();

interface StressReport {
  forks: number;
  ok: number;
  hangs: number;
  crashes: unknown[];
  wrong: unknown[];
  byWay: Record<string, number>;
}

describe('fork()', () => {
  it('forks 200 times under GC pressure: no hang, no crash, every exit status right', async () => {
    const fixture = run('fork-stress.mjs', ['200']);
    const exit = await fixture.end(240_000);
    const result = JSON.parse(fixture.stdout.trim().split('\n').pop()!) as StressReport;
    expect({ hangs: result.hangs, crashes: result.crashes, wrong: result.wrong }).toEqual({ hangs: 0, crashes: [], wrong: [] });
    expect(result.forks).toBe(200);
    expect(result.ok).toBe(200);
    expect(result.byWay).toEqual({ 'process.exit': 50, _exit: 50, 'loop-dry': 50, uncaught: 50 });
    // the uncaught exceptions were reported on stderr, as Node does
    expect(fixture.stderr.match(/ends by an uncaught exception/g)?.length).toBe(50);
    expect(exit).toMatchObject({ code: 0, signal: null });
  }, 300_000);

  it('forks the mappings V8 made after the previous fork (V8 marks each MADV_DONTFORK; a skipped one kills the child)', async () => {
    const fixture = run('fork-new-mappings.mjs');
    const result = await fixture.firstJson<Record<string, unknown>>(60_000);
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    // the case is real: V8 made new DONTFORK mappings between the first and the second fork
    expect(result.newDontFork).toBeGreaterThan(0);
    const ok = { exitCode: 0, signal: null };
    expect(result).toMatchObject({ first: ok, second: ok, third: ok });
  });

  it('leaves shared MADV_DONTFORK mappings out of the child, also one made after an earlier fork (fork() reuses what it learned of the maps)', async () => {
    // An LD_PRELOAD library makes such a page at load and at each getrlimit(); after any sanitizer runtime already preloaded.
    const fixtures = join(packageRoot, 'test', 'fixtures', 'process');
    const library = await compileC(join(fixtures, 'shared-dontfork.c'), { outDir: join(packageRoot, 'build', 'c', 'process'), flags: ['-shared', '-fPIC'] });
    const preload = [process.env.LD_PRELOAD, library].filter(Boolean).join(':');
    const fixture = spawnSync(process.execPath, [join(fixtures, 'fork-shared-dontfork.mjs')], {
      env: { ...process.env, LD_PRELOAD: preload },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect({ status: fixture.status, signal: fixture.signal, stderr: fixture.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const result = JSON.parse(fixture.stdout.split('\n')[0]!) as { atLoad: number; afterFirst: number };
    // the kernel says (VmFlags 'dc') there were such pages at the first fork, and one more at the second
    expect(result.atLoad).toBeGreaterThan(0);
    expect(result.afterFirst).toBe(result.atLoad + 1);
    // how many of them each child found in its own /proc/self/maps
    expect(result).toMatchObject({ first: 0, second: 0, third: 0 });
  });

  it('keeps what fork() writes at every call in memory the child does not share (MADV_WIPEONFORK), which a child finds empty and uses for its own forks', async () => {
    const fixture = run('fork-scratch.mjs');
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    const [childLine, parentLine] = fixture.stdout.trim().split('\n');
    type Mapping = { range: string; rssKiB: number };
    const child = JSON.parse(childLine!) as { atStart: Mapping[]; afterOwnFork: Mapping[]; grandchildExit: number };
    const parent = JSON.parse(parentLine!) as { beforeFirst: Mapping[]; parent: Mapping[]; childExit: number };
    // made at the first fork (the core's scratch and the census's: one mapping when the kernel placed them side by side), and written by it
    expect(parent.beforeFirst).toEqual([]);
    expect(parent.parent.length).toBeGreaterThanOrEqual(1);
    for (const mapping of parent.parent) expect(mapping.rssKiB).toBeGreaterThan(0);
    // the kernel gave the child the same ranges with no page in them; its own fork then used them
    const ranges = parent.parent.map((mapping) => mapping.range);
    expect(child.atStart.map((mapping) => mapping.range)).toEqual(ranges);
    for (const mapping of child.atStart) expect(mapping.rssKiB).toBe(0);
    expect(child.afterOwnFork.map((mapping) => mapping.range)).toEqual(ranges);
    // the child's fork writes the core's scratch and the census's state; the parking lots
    // (sockfd_node's own region) it never uses: a child parks nothing. Where the kernel placed
    // that region apart (Node 24 here: 3 mappings), it stays empty in the child.
    expect(child.afterOwnFork.some((mapping) => mapping.rssKiB > 0)).toBe(true);
    expect({ grandchild: child.grandchildExit, child: parent.childExit }).toEqual({ grandchild: 7, child: 0 });
  });

  it("asks the V8 platform's workers, and threads made before them, whether they run JavaScript only until a fork parked the workers; libuv's pool at each fork; the calling thread checks the maps", async () => {
    // An LD_PRELOAD library sees, from outside sockfd, every question the census sends
    // (rt_tgsigqueueinfo) and each thread's start routine: the platform's 3 workers
    // (--v8-pool-size=3) share one, libuv's 2 pool threads (UV_THREADPOOL_SIZE=2) another.
    const fixtures = join(packageRoot, 'test', 'fixtures', 'process');
    const library = await compileC(join(fixtures, 'thread-trace.c'), { outDir: join(packageRoot, 'build', 'c', 'process'), flags: ['-shared', '-fPIC', '-ldl'] });
    const tracePath = join(mkdtempSync(join(tmpdir(), 'sockfd-census-')), 'trace');
    // Alone in LD_PRELOAD, with the package's own addons: under a sanitizer's
    // runtime (which must come first) every thread would start in its wrapper.
    const env: NodeJS.ProcessEnv = { ...process.env, LD_PRELOAD: library, SOCKFD_THREAD_TRACE: tracePath, UV_THREADPOOL_SIZE: '2' };
    if (process.env.LD_PRELOAD) delete env.SOCKFD_ADDON, delete env.SOCKFD_NODE_ADDON;
    const forks = 5;
    const fixture = spawnSync(process.execPath, ['--v8-pool-size=3', join(fixtures, 'fork-census.mjs'), String(forks)], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect({ status: fixture.status, signal: fixture.signal, stderr: fixture.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const { main, blocking, listed } = JSON.parse(fixture.stdout.split('\n')[0]!) as { main: number; blocking: number[]; listed: number[] };
    const started = new Map<number, string>(); // tid -> start routine
    const asked: number[][] = []; // the tids asked at each fork
    const listing: number[][] = []; // the tids that opened /proc/self/map_files at each fork
    for (const line of readFileSync(tracePath, 'utf8').split('\n')) {
      const [what, value, routine] = line.split(' ');
      if (what === 'thread') started.set(Number(value), routine!);
      else if (what === 'fork') asked.push([]), listing.push([]);
      else if (what === 'ask') asked.at(-1)!.push(Number(value));
      else if (what === 'maps' && listing.length > 0) listing.at(-1)!.push(Number(value));
    }
    expect(asked.length).toBe(forks);
    const byRoutine = new Map<string, number[]>();
    for (const [tid, routine] of started) byRoutine.set(routine, [...(byRoutine.get(routine) ?? []), tid]);
    const platform = [...byRoutine.values()].filter((tids) => tids.length === 3);
    const pool = [...byRoutine.values()].filter((tids) => tids.length === 2);
    expect({ platform: platform.length, pool: pool.length }).toEqual({ platform: 1, pool: 1 });
    const sorted = (tids: number[]) => [...tids].sort((a, b) => a - b);
    const known = new Set([...platform[0]!, ...pool[0]!]);
    // the first census asks every thread but the caller, the platform's workers too: nothing is known yet
    expect(sorted(asked[0]!.filter((tid) => known.has(tid)))).toEqual(sorted([...known]));
    expect(asked.flat()).not.toContain(main);
    // /proc lists threads in the order they were made: those before the platform's last
    // worker were made before it, so before any JavaScript could run (the delayed-task thread)
    const lastWorker = Math.max(...platform[0]!.map((tid) => listed.indexOf(tid)));
    expect(lastWorker).toBeGreaterThan(0);
    // the check of the file-backed mappings runs at every fork, on the calling thread, after the
    // census (native/fork.cc; s9's A/B measured it as a platform worker's errand and found no gain)
    for (let i = 0; i < forks; i++) {
      expect(listing[i]!.length).toBeGreaterThan(0);
      expect({ fork: i, others: listing[i]!.filter((tid) => tid !== main) }).toEqual({ fork: i, others: [] });
    }
    const early = listed.slice(0, lastWorker).filter((tid) => tid !== main && !known.has(tid));
    expect(early.length).toBeGreaterThan(0);
    const others = sorted(asked[0]!.filter((tid) => !known.has(tid) && !early.includes(tid))); // Node's inspector thread...
    expect(sorted(asked[0]!.filter((tid) => early.includes(tid)))).toEqual(sorted(early));
    for (let i = 1; i < forks; i++) {
      // parked by the first fork, or made before those: never asked again
      expect(asked[i]!.filter((tid) => platform[0]!.includes(tid) || early.includes(tid))).toEqual([]);
      // libuv's pool threads could be a Worker's as far as /proc tells: asked every time
      expect(sorted(asked[i]!.filter((tid) => pool[0]!.includes(tid)))).toEqual(sorted(pool[0]!));
      // the rest: asked, unless it blocks the signal and was seen to in two censuses (forks 1 and 2)
      expect(sorted(asked[i]!.filter((tid) => !known.has(tid) && !early.includes(tid)))).toEqual(
        others.filter((tid) => !blocking.includes(tid) || i < 2),
      );
    }
    rmSync(dirname(tracePath), { recursive: true, force: true });
  });

  it('finds the parking table only in the sockfd_node loaded from the given path, before and after a fork found it', async () => {
    const fixture = run('fork-addon-path.mjs');
    const result = await fixture.firstJson<Record<string, unknown>>(30_000);
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    const refusals = {
      missing: 'fork: sockfd_node is not loaded from /nonexistent/sockfd_node.node-abi',
      core: expect.stringMatching(/^fork: \/.*\.node has no sockfd_fork_parking_v1 \(npm rebuild sockfd\)$/),
    };
    expect(result).toEqual({
      before: refusals,
      forked: 7,
      after: { ...refusals, nodeAddon: true },
      withoutLoopEnd: 'fork(addonPath, beforeExit, exit): beforeExit and exit must be functions',
    });
  });

  it('leaves a working child: pid, ppid, timers, promises, fs, dns, net and a fork of its own', async () => {
    const fixture = run('child-life.mjs');
    const life = await fixture.firstJson<Record<string, unknown>>(30_000);
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    expect(life.pid).not.toBe(life.parentPid);
    expect(life.getpid).toBe(life.pid);
    expect(life.statPid).toBe(life.pid);
    expect(life.ppid).toBe(life.parentPid);
    expect(life.getppid).toBe(life.parentPid);
    expect(life).toMatchObject({ timer: 'fired', address: '127.0.0.1', echoed: 'ping', grandchildExit: 42 });
  });

  it('ends a child with the status plain Node gives for each way out', async () => {
    interface Ended {
      exitCode: number | null;
      signal: number | null;
      hung: boolean;
      output: string;
    }
    const fixture = run('exit-paths.mjs');
    const results = await fixture.firstJson<Record<string, Ended> & { workerThreadRefusals: string[] }>(60_000);
    expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
    const codes = Object.fromEntries(
      Object.entries(results)
        .filter(([name]) => name !== 'workerThreadRefusals')
        .map(([name, ended]) => [name, (ended as Ended).hung ? 'hung' : (ended as Ended).signal ?? (ended as Ended).exitCode]),
    );
    // the values `node -e` gives for the same code without any fork
    expect(codes).toEqual({
      'beforeExit schedules more work, then the loop runs dry': 23,
      "an 'exit' handler changes process.exitCode": 31,
      'process.exitCode and the loop running dry': 9,
      'an unhandled rejection': 1,
      "an 'uncaughtException' listener keeps the child going": 12,
      "an exception in an 'exit' handler": 1,
      'process.reallyExit': 44,
      'an exception thrown at once, in the code that forked': 1,
      "the child has the parent's 'uncaughtException' listeners (none)": 50,
      "an 'uncaughtException' listener added, then removed before the throw": 1,
      "an 'uncaughtException' listener throws": 7,
      "an 'uncaughtExceptionMonitor' listener throws": 7,
      // the grandchild ends with 17, the child with that + 1
      "a child's own child lets its loop run dry, then so does the child": 18,
      'forked in a setImmediate callback, then the loop runs dry': 8,
      'forked in a promise reaction, then the loop runs dry': 8,
      'forked in a process.nextTick callback, then the loop runs dry': 8,
    });
    expect(results['an exception thrown at once, in the code that forked']!.output).toMatch(/^Error: thrown right after fork\n/);
    expect(results["an 'uncaughtException' listener added, then removed before the throw"]!.output).toMatch(/^Error: thrown once nobody listens\n/);
    // only the listener's error, as Node prints it, and no 'exit' event
    expect(results["an 'uncaughtException' listener throws"]!.output).toMatch(/^Error: thrown by the listener\n(?![^]*'exit' emitted)/);
    expect(results["an 'uncaughtExceptionMonitor' listener throws"]!.output).toMatch(/^Error: thrown by the monitor\n/);
    for (const from of ['setImmediate callback', 'promise reaction', 'process.nextTick callback'])
      expect(results[`forked in a ${from}, then the loop runs dry`]!.output).toBe('beforeExit 8\n');
    expect(results['an unhandled rejection']!.output).toMatch(/^Error: rejected in the child\n/);
    expect(results["an exception in an 'exit' handler"]!.output).toMatch(/^Error: thrown while exiting\n/);
    expect(results["an 'uncaughtException' listener keeps the child going"]!.output).toBe('handled: thrown in a timer\n');
    expect(results.workerThreadRefusals).toEqual([
      'fork: only the main thread can fork (not a worker_thread)',
      'signal: only the main thread may install signal handlers',
    ]);
  });

  for (const ending of ['exit', 'dry']) {
    it(`passes 4 MiB from a forked child through a stdout pipe (child ends by ${ending === 'exit' ? 'process.exit' : 'its loop running dry'})`, async () => {
      const fixture = run('stdout-pipe.mjs', [ending, '4']);
      expect(await fixture.end(60_000)).toMatchObject({ code: 0, signal: null });
      const pattern = Buffer.alloc(65536);
      for (let i = 0; i < pattern.length; i++) pattern[i] = 97 + (i % 26);
      expect(fixture.stdoutBytes.length).toBe(4 * 1024 * 1024);
      for (let offset = 0; offset < fixture.stdoutBytes.length; offset += pattern.length)
        expect(fixture.stdoutBytes.subarray(offset, offset + pattern.length).equals(pattern)).toBe(true);
    });
  }
});

function echoClient(port: number, payload: Buffer): Promise<{ socket: NetSocket; echoed: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let echoed = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      echoed = Buffer.concat([echoed, data]);
      if (echoed.length >= payload.length) resolve({ socket, echoed });
    });
    socket.on('error', reject);
    socket.setTimeout(30_000, () => reject(new Error('echo timed out')));
  });
}

describe('fork-per-connection echo server', () => {
  for (const [reaping, clients] of [['handler', 20], ['ignore', 20]] as const) {
    it(`serves ${clients} concurrent clients, leaks no fd and leaves no zombie (SIGCHLD ${reaping === 'handler' ? 'handler + waitpid' : "'ignore'"})`, async () => {
      const server = run('echo-server.mjs', [reaping]);
      const { port, listenFd } = await server.firstJson<{ port: number; listenFd: number }>();
      const parentBefore = fdTable(server.pid);
      const listening = parentBefore.get(listenFd)!;
      expect(listening).toMatch(/^socket:/);

      const payloads = Array.from({ length: clients }, (_, i) => randomBytes(16_384 + i * 1024));
      const sessions = await Promise.all(payloads.map((payload) => echoClient(port, payload)));
      sessions.forEach(({ echoed }, i) => expect(echoed.equals(payloads[i]!)).toBe(true));

      // every connection is open: one child each, holding its connection and
      // the sockets it inherited (Node's stdio socketpairs), not the listening one
      const inherited = new Set([...parentBefore.values()].filter((target) => target.startsWith('socket:')));
      const children = childPids(server.pid);
      expect(children.length).toBe(clients);
      for (const child of children) {
        const sockets = [...fdTable(child).values()].filter((target) => target.startsWith('socket:'));
        expect(sockets).not.toContain(listening);
        expect(sockets.filter((target) => !inherited.has(target)).length).toBe(1);
      }
      // the parent closed every accepted fd: its table is what it was
      expect(fdTable(server.pid)).toEqual(parentBefore);

      for (const { socket } of sessions) socket.end();
      // a child that exited but was not reaped stays listed with state Z
      await until(() => childPids(server.pid).length === 0, 'the children to exit', 20_000);
      expect(childPids(server.pid).map((pid) => procStat(pid)?.state)).toEqual([]);
      expect(fdTable(server.pid)).toEqual(parentBefore);

      process.kill(server.pid, 'SIGTERM');
      expect(await server.end(60_000)).toMatchObject({ code: 0, signal: null });
    }, 120_000);
  }
});
