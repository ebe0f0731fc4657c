// Child of test/fuzz-connect-continuation.test.ts: what the fuzzer's connect cases met under load
// (s6-infra.md: "the handler ran 0 times, not 1; ETIMEDOUT"), made deterministic. A signal is
// pending (its JS handler not yet run) when connect blocks on a dropped SYN, as a random signal of
// the watchdog's can be: sockfd's nudge interrupts the connect, the handler runs, and connect goes
// on in poll() (native/socket_calls.cc's ConnectAfterInterruption), not in connect(). A watchdog
// that signals only when /proc shows `connect <fd>` then never signals, nobody makes room in the
// accept queue, and the SYN's retries run out. A thread here records what /proc shows the main
// thread in, and signals as the fuzzer's watchdog now does (blockedInCall): in that poll().
// Prints one JSON line.
import { Worker } from 'node:worker_threads';
import { arch } from 'node:os';
import { SYSCALL_NUMBERS } from './eintr.mjs';

const dist = new URL('../../dist/lib/', import.meta.url);
const { binding } = await import(new URL('native.js', dist));
const processLib = await import(new URL('process.js', dist));
const fastSocket = await import(new URL('fast-socket.js', dist));
const { encodeInet } = await import(new URL('sockaddr-bytes.js', dist));
const c = binding.constants;
// lib/fast-socket.ts hands a fast connect's EINTR to the N-API connectInterrupted (looked up at each call): counted.
let handoffs = 0;
const connectInterrupted = binding.connectInterrupted;
binding.connectInterrupted = function (...args) {
  handoffs++;
  return connectInterrupted.apply(this, args);
};
const numbers = SYSCALL_NUMBERS[arch()];
if (numbers === undefined) {
  console.log(JSON.stringify({ skipped: `no system call numbers for ${arch()}` }));
  process.exit(0);
}

// [0] stop, [1] the fd to watch (0: not yet), [2] signals sent.
const shared = new Int32Array(new SharedArrayBuffer(16));
const watcher = new Worker(
  `
  const { workerData, parentPort } = require('node:worker_threads');
  const { readFileSync } = require('node:fs');
  const { shared, numbers } = workerData;
  const blockedInCall = ${(await import('./eintr.mjs')).blockedInCall.toString()};
  const path = '/proc/' + process.pid + '/task/' + process.pid + '/syscall';
  const lines = [];
  const started = Date.now();
  parentPort.postMessage('ready');
  while (Atomics.load(shared, 0) === 0 && Date.now() - started < 15000) {
    const fd = Atomics.load(shared, 1);
    let fields;
    try { fields = readFileSync(path, 'utf8').trim().split(' '); } catch { continue; }
    const line = fields.slice(0, 4).join(' ');
    if (fd !== 0 && lines.at(-1) !== line) lines.push(line);
    // The fuzzer's rule: once, when the main thread waits where the case's signal must reach it, but not
    // in connect itself: this thread plays a watchdog that came too late for the connect, as under load.
    if (fd !== 0 && Atomics.load(shared, 2) === 0 && Number(fields[0]) !== numbers.connect && blockedInCall(fields, numbers.connect, fd, numbers)) {
      Atomics.store(shared, 2, 1);
      process.kill(process.pid, 'SIGUSR1');
    }
  }
  parentPort.postMessage(lines);
  `,
  { eval: true, workerData: { shared, numbers } },
);
await new Promise((resolve) => watcher.once('message', resolve));

const listener = binding.socket(c.AF_INET, c.SOCK_STREAM);
binding.bind(listener, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
binding.listen(listener, 0);
const port = binding.getsockname(listener).port;
const queued = binding.socket(c.AF_INET, c.SOCK_STREAM);
binding.connect(queued, { family: 'AF_INET', address: '127.0.0.1', port }); // fills the accept queue: the next SYN is dropped
const fd = binding.socket(c.AF_INET, c.SOCK_STREAM);
binding.setsockopt(fd, c.IPPROTO_TCP, c.TCP_SYNCNT, 2); // no signal: ETIMEDOUT after ~3 s, never a hang

const handlerRuns = [];
let firstPeer;
processLib.signal(c.SIGUSR1, () => {
  handlerRuns.push(Atomics.load(shared, 2) === 0 ? 'stray' : 'watchdog');
  // The case's "resume": room in the accept queue, so the retransmitted SYN (about 1 s on) is taken.
  if (Atomics.load(shared, 2) === 1 && firstPeer === undefined) firstPeer = binding.acceptFd(listener);
});
Atomics.store(shared, 1, fd);
process.kill(process.pid, 'SIGUSR1'); // the stray: caught now (pending), its JS handler not run yet
const started = Date.now();
let outcome = 'connected';
let path = 'fast';
try {
  if (!fastSocket.connectEncoded(fd, encodeInet(port, '127.0.0.1'))) {
    path = 'napi';
    binding.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
  }
} catch (error) {
  outcome = error.code ?? String(error);
}
const elapsedMs = Date.now() - started;
const peerPort = outcome === 'connected' ? binding.getpeername(fd).port : null;
Atomics.store(shared, 0, 1);
const lines = await new Promise((resolve) => watcher.once('message', resolve));
for (const end of [fd, queued, listener, ...(firstPeer === undefined ? [] : [firstPeer])]) binding.close(end);
console.log(JSON.stringify({ outcome, path, fastSocketCalls: fastSocket.fastSocketCalls.enabled, handoffs, elapsedMs, handlerRuns, fd, port, peerPort, lines, numbers }));
