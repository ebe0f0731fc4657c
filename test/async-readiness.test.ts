// The promise API on its readiness set (lib/async-waits.ts): what the set
// adds to the async suites - an fd another thread closed (and whose number
// came back) is registered afresh, a registered fd nobody waits on keeps no
// process alive, every ready fd of a turn is resolved before any of their
// continuations runs, and the steady state of a recv/send loop makes no
// epoll_ctl (counted by strace, a reference the code did not produce).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as posix from '../lib/posix.js';
import { recvAsync, sendAllAsync, watcherStats } from '../lib/async.js';
import { binding } from '../lib/native.js';
import { expectNoLeaks } from './helpers/loopback.js';

const rawWait = binding.asyncWait as (fd: number, events: number, id: number) => Promise<number>;
const READABLE = (binding.asyncEvents as { readable: number }).readable;

const dist = join(import.meta.dirname, '..', 'dist', 'lib');
const distUrl = (file: string) => JSON.stringify(pathToFileURL(join(dist, file)).href);

expectNoLeaks({ watchers: true });

/** Runs an ES module script with node; its stdout, exit status and how long it took. */
function runScript(script: string, args: string[] = [], timeout = 20_000): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], { encoding: 'utf8', timeout });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe('the promise API on one readiness set per thread', () => {
  it('a number closed by another thread and reused here gets a fresh registration: the wait resolves, the old one ends with EBADF', async () => {
    const [a, aPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const [keep, keepPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM); // keeps the set alive meanwhile
    const [fresh, freshPeer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM); // made now, so they cannot take a's number
    const kept = recvAsync(keep, Buffer.alloc(1));
    const old = recvAsync(a, Buffer.alloc(8)).then(
      () => 'resolved',
      (error: Error & { code?: string }) => `${error.code} ${error.message}`,
    );
    await new Promise((resolve) => setImmediate(resolve));
    // A worker closes `a` through sockfd: this thread is not told, only the generation moves on.
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       import(workerData.posix).then((posix) => posix.close(workerData.fd));`,
      { eval: true, workerData: { posix: pathToFileURL(join(dist, 'posix.js')).href, fd: a } },
    );
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0);
    // The number comes back for a new socket (F_DUPFD: the lowest free number >= a, which is a).
    const again = posix.fcntl(fresh, posix.F_DUPFD, a);
    expect(again).toBe(a);
    posix.close(fresh);
    const received = recvAsync(again, Buffer.alloc(8));
    posix.send(freshPeer, 'new one!');
    expect(await received).toBe(8);
    expect(await old).toBe(`EBADF recv: fd ${a} was closed while a wait on it was pending (Bad file descriptor)`);
    posix.send(keepPeer, 'k');
    expect(await kept).toBe(1);
    for (const fd of [again, freshPeer, aPeer, keep, keepPeer]) posix.close(fd);
    expect(watcherStats()).toEqual({ watchers: 0, active: 0, waiters: 0 });
  });

  it('resolves every ready fd of one loop turn before any continuation runs', async () => {
    const pairs = Array.from({ length: 20 }, () => posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM));
    const waitingSeen: number[] = []; // by each continuation: the calls still waiting
    const pending = pairs.map(([fd]) =>
      recvAsync(fd, Buffer.alloc(4)).then((n) => {
        waitingSeen.push(watcherStats().waiters);
        return n;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve)); // every call waits
    expect(watcherStats()).toMatchObject({ active: 20, waiters: 20 });
    for (const [, peer] of pairs) posix.send(peer, 'data');
    expect(await Promise.all(pending)).toEqual(pairs.map(() => 4));
    expect(waitingSeen).toEqual(pairs.map(() => 0)); // one batch: none was still waiting when the first went on
    for (const [fd, peer] of pairs) {
      posix.close(fd);
      posix.close(peer);
    }
  });

  it('a batch that mixes calls with a raw promise wait and a second waiter: the continuations run in the order the fds were reported', async () => {
    // The dispatch runs a batch of one-call fds in one pass and hands the rest
    // of the batch, from the first fd that is not like that, to its general
    // form: both parts must keep the order (epoll reports fds in the order
    // they became ready: the order of the sends below).
    const pairs = Array.from({ length: 6 }, () => posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM));
    const order: string[] = [];
    const buffers = pairs.map(() => Buffer.alloc(4));
    const pending = [
      recvAsync(pairs[0]![0], buffers[0]!).then(() => order.push('call 0')),
      recvAsync(pairs[1]![0], buffers[1]!).then(() => order.push('call 1')),
      rawWait(pairs[2]![0], READABLE, 4_000_000_100).then(() => order.push('raw wait 2')),
      recvAsync(pairs[3]![0], buffers[3]!).then(() => order.push('call 3')),
      recvAsync(pairs[4]![0], buffers[4]!).then(() => order.push('call 4a')),
      recvAsync(pairs[4]![0], buffers[5]!).then(() => order.push('call 4b')),
      recvAsync(pairs[5]![0], Buffer.alloc(4)).then(() => order.push('call 5')),
    ];
    await new Promise((resolve) => setImmediate(resolve)); // every call waits
    expect(watcherStats()).toMatchObject({ active: 6, waiters: 7 });
    for (const [, peer] of pairs) posix.send(peer, 'data');
    posix.send(pairs[4]![1], 'more'); // for the second waiter of fd 4
    await Promise.all(pending);
    expect(order).toEqual(['call 0', 'call 1', 'raw wait 2', 'call 3', 'call 4a', 'call 4b', 'call 5']);
    expect(watcherStats()).toMatchObject({ active: 0, waiters: 0 });
    for (const [fd, peer] of pairs) {
      posix.close(fd);
      posix.close(peer);
    }
  });

  it('makes its epoll set at the first wait, not at load, and keeps that one set for the next sockets (anon_inode:[eventpoll] in /proc/self/fd)', () => {
    const { stdout, stderr, status } = runScript(`
      import { readdirSync, readlinkSync } from 'node:fs';
      const epolls = () => readdirSync('/proc/self/fd').filter((fd) => {
        try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[eventpoll]'; } catch { return false; }
      }).length;
      const before = epolls(); // node's own (libuv's loop)
      const posix = await import(${distUrl('posix.js')});
      const { recvAsync } = await import(${distUrl('async.js')});
      const { asyncSetFd } = await import(${distUrl('async-waits.js')});
      const loaded = epolls() - before;
      const echoOnce = async () => {
        const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
        const n = recvAsync(a, Buffer.alloc(4)); // waits: nothing sent yet
        posix.send(b, 'x');
        await n;
        const seen = { extra: epolls() - before, fd: asyncSetFd(), link: readlinkSync('/proc/self/fd/' + asyncSetFd()) };
        posix.close(a);
        posix.close(b);
        return seen;
      };
      const first = await echoOnce();
      const second = await echoOnce();
      console.log(JSON.stringify({ loaded, first: first.extra, link: first.link, second: second.extra, sameSet: first.fd === second.fd, after: epolls() - before }));`);
    expect({ stdout, status }, stderr).toEqual({
      stdout: JSON.stringify({ loaded: 0, first: 1, link: 'anon_inode:[eventpoll]', second: 1, sameSet: true, after: 1 }) + '\n',
      status: 0,
    });
  });

  it('a process whose registered sockets nobody waits on exits by itself', () => {
    const { stdout, status } = runScript(`
      import * as posix from ${distUrl('posix.js')};
      import { recvAsync, sendAllAsync, watcherStats } from ${distUrl('async.js')};
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
      const got = recvAsync(b, Buffer.alloc(4));
      setTimeout(() => sendAllAsync(a, 'ping'), 20);
      console.log(await got, JSON.stringify(watcherStats()));
      // a and b stay open and registered: the process must still end.`);
    expect(status).toBe(0);
    expect(stdout).toBe('4 {"watchers":1,"active":0,"waiters":0}\n');
  });

  it('a recv/send echo loop makes one epoll_ctl per fd, not one per request (strace)', () => {
    const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
    if (strace.error !== undefined) throw new Error('strace is needed (apt-get install strace; .ci/run installs it)');
    const rounds = 2000;
    const script = `
      import * as posix from ${distUrl('posix.js')};
      import { recvAsync, sendAllAsync } from ${distUrl('async.js')};
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
      const buffer = Buffer.alloc(64);
      const echo = (async () => { for (;;) { const n = await recvAsync(b, buffer); if (n === 0) return; await sendAllAsync(b, buffer, { length: n }); } })();
      const reply = Buffer.alloc(64);
      for (let i = 0; i < ${rounds}; i++) {
        await sendAllAsync(a, reply);
        for (let got = 0; got < 64; ) got += await recvAsync(a, reply, { offset: got, length: 64 - got });
      }
      posix.close(a);
      await echo;
      posix.close(b);
      console.log('done');`;
    const summary = join(mkdtempSync(join(tmpdir(), 'sockfd-async-strace-')), 'summary');
    const result = spawnSync('strace', ['-f', '-c', '-e', 'trace=epoll_ctl,recvfrom,sendto', '-o', summary, process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ stdout: result.stdout, error: result.error }, result.stderr).toEqual({ stdout: 'done\n', error: undefined });
    const table = readFileSync(summary, 'utf8');
    rmSync(dirname(summary), { recursive: true, force: true });
    const calls = (name: string): number => {
      const line = table.split('\n').find((l) => l.trim().endsWith(` ${name}`));
      return line === undefined ? 0 : Number(line.trim().split(/\s+/)[3]);
    };
    expect(calls('recvfrom')).toBeGreaterThanOrEqual(2 * rounds); // the requests really went through recv
    expect(calls('epoll_ctl')).toBeLessThan(50); // node's own, and a few per fd for the set
  });

  it('waitFirst: a request/response server makes one recv a request and meets no EAGAIN; try-first meets one every request (strace)', () => {
    const rounds = 300;
    // A lockstep echo in one thread: the server's next recv always comes
    // before its client's next request (which needs a loop turn), so a
    // try-first recv fails once every request and a wait-first one never.
    const script = (recvOptions: string) => `
      import * as posix from ${distUrl('posix.js')};
      import { recvAsync, recvExactlyAsync, sendAllAsync } from ${distUrl('async.js')};
      const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
      const buffer = Buffer.alloc(64);
      const options = ${recvOptions};
      const echo = (async () => { for (;;) { const n = await recvAsync(b, buffer, options); if (n === 0) return; await sendAllAsync(b, buffer, { length: n }); } })();
      const reply = Buffer.alloc(64);
      for (let i = 0; i < ${rounds}; i++) {
        await sendAllAsync(a, reply);
        await recvExactlyAsync(a, reply);
      }
      posix.close(a);
      await echo;
      console.log(b);
      posix.close(b);`;
    const recvsOf = (recvOptions: string): { total: number; eagain: number } => {
      const log = join(mkdtempSync(join(tmpdir(), 'sockfd-async-strace-')), 'log');
      const result = spawnSync('strace', ['-f', '-e', 'trace=recvfrom', '-o', log, process.execPath, '--input-type=module', '-e', script(recvOptions)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ status: result.status, error: result.error }, result.stderr).toEqual({ status: 0, error: undefined });
      const server = Number(result.stdout.trim());
      expect(Number.isInteger(server), result.stdout).toBe(true);
      const lines = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.includes(`recvfrom(${server},`));
      rmSync(dirname(log), { recursive: true, force: true });
      return { total: lines.length, eagain: lines.filter((line) => line.includes('EAGAIN')).length };
    };
    // rounds requests and the EOF: rounds + 1 recvs that got something.
    expect(recvsOf('{ waitFirst: true }')).toEqual({ total: rounds + 1, eagain: 0 });
    const tryFirst = recvsOf('undefined');
    expect(tryFirst.total - tryFirst.eagain).toBe(rounds + 1);
    expect(tryFirst.eagain).toBeGreaterThanOrEqual(rounds);
  });
});
