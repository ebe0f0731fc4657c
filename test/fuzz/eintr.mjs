// The fuzzer's forced interruptions: a signal that arrives while a recv, send,
// read or write of lib/fast-io.ts (or acceptFd or connect of lib/fast-socket.ts:
// SOCKET_ACTIONS below), made from TurboFan code (so the V8 fast call
// itself is the one blocked in the kernel), waits on a socket - and a JS
// handler that then resumes it, makes it report EINTR, detaches, shrinks or
// grows its buffer, closes its fd (or closes it and puts another file under the
// number), throws, or allocates over freed memory. The random signals of the
// watchdog reach a blocked fast call only by chance; these cases make it
// happen, a bounded number of times per run (one in --eintr-share of the calls),
// every action on every call in turn.
//
// How a case goes: a fresh blocking AF_UNIX socketpair (send and write first
// fill it until it would block); the call site for that call and kind of
// buffer, optimized by TurboFan beforehand; then the call. The watchdog thread
// sends SIGUSR1 only once /proc says the main thread is blocked in exactly that
// system call on exactly that fd (and a second one, for resume-twice, once the
// first handler has run and the call blocks again). Each outcome is checked
// against what the action must give - the bytes received or sent, EINTR,
// ERR_BUFFER_DETACHED / ERR_BUFFER_RESIZED, EBADF "closed by a signal
// handler", the thrown value - whichever path (fast, or N-API when V8 took the
// slow callback) ran. Under ASan a stale pointer after any of them is a report.
import { arch } from 'node:os';
import { readFileSync } from 'node:fs';
import { detach, Sentinel } from './world.mjs';
import { callSite, isOptimized, optimizeOnNextCall, prepare } from './fast.mjs';

// The system calls the wrappers make (glibc's recv and send are recvfrom and sendto; acceptFd is accept4), by architecture.
// `poll`: where an interrupted connect goes on (native/socket_calls.cc's ConnectAfterInterruption: glibc's
// poll(&entry, 1, -1), the poll system call on x64, ppoll(fds, 1, NULL, NULL) on arm64).
export const SYSCALL_NUMBERS = {
  x64: { recv: 45, send: 44, read: 0, write: 1, connect: 42, accept: 288, poll: 7 },
  arm64: { recv: 207, send: 206, read: 63, write: 64, connect: 203, accept: 242, poll: 73 },
};

/** What a signal handler does to the blocked call, in the order the cases take them. */
export const ACTIONS = ['resume', 'resume-twice', 'eintr', 'detach', 'shrink', 'grow', 'close', 'close-reuse', 'throw', 'alloc'];
const OPS = ['recv', 'send', 'read', 'write'];
// lib/fast-socket.ts's blocking calls: acceptFd on a listener with nothing queued (the handler's
// resume connects a client), connect to a listener whose accept queue (backlog 0) is full, so the
// kernel drops the SYN and connect waits for its retransmission (the handler's resume accepts the
// queued connection; the retransmitted SYN, about 1 s later, then completes it). No buffer is read
// after the call began (the kernel copied the sockaddr), so shrink and grow have nothing to act on;
// connect's detach detaches the sockaddr's memory and resumes: the connection must still complete.
const SOCKET_ACTIONS = {
  accept: ['resume', 'resume-twice', 'eintr', 'close', 'close-reuse', 'throw', 'alloc'],
  // On unless --eintr-connect off. At load ~10 about 1 connect case in 100 once ended with the handler
  // never run and the connect blocked until its SYN retries ran out (ETIMEDOUT): another signal (a
  // random one the watchdog had decided on before the case began) interrupted the connect first, its
  // handler ran, and the connect went on in poll(), where a watchdog that waited for `connect <fd>`
  // never saw it (test/fuzz-connect-continuation.test.ts shows it). The watchdog now signals in that
  // poll() too (blockedInCall). accept restarts in accept4 and never had it.
  // Those that wait for the retransmitted SYN (about 1 s) alternate with those that end at once. No
  // resume-twice: after the first signal connect goes on in poll() (the handshake continues in the
  // kernel), where the watchdog cannot see which fd it waits on.
  connect: ['eintr', 'resume', 'close', 'detach', 'close-reuse', 'alloc', 'throw'],
};
// The order of cases: every action on each of recv/send/read/write (40), one connect (its actions
// in turn, one per round: each costs up to a second), every accept action (7); then again.
const ROUND = [
  ...OPS.flatMap((op) => ACTIONS.map((action) => ({ op, action }))),
  { op: 'connect', action: null },
  ...SOCKET_ACTIONS.accept.map((action) => ({ op: 'accept', action })),
];
// Kinds of buffer: plain memory (as Buffer.allocUnsafeSlow), a subarray at an odd offset, V8's
// on-heap small Uint8Array (its .buffer, asked for by the handler, moves it off the heap),
// fixed-length and length-tracking views of resizable memory (the only ones shrink and grow take).
const KINDS = ['plain', 'subarray', 'on-heap', 'resizable-fixed', 'resizable-tracking'];
const RESIZABLE = ['resizable-fixed', 'resizable-tracking'];

// The watchdog's view of a case, in the fuzzer's shared Int32Array (fuzz.mjs):
// [4] case serial, [5] system call number (-1: no case; -2: a case being set up), [6] fd, [7] signals wanted,
// [8] signals sent, [9] handled.
export const SLOT = { serial: 4, syscall: 5, fd: 6, wanted: 7, sent: 8, handled: 9 };
export const SHARED_SLOTS = 10;

/**
 * Whether the main thread, whose /proc/<pid>/task/<tid>/syscall line split at spaces is `fields`
 * (number, then arguments in hex), waits where a case's signal must reach it: in `syscall` on `fd`,
 * or, when `syscall` is connect, in the poll() on one fd with no timeout where an interrupted connect
 * goes on (an earlier signal, not the case's, may have interrupted it: its handler ran, and connect
 * does not restart in connect; ConnectAfterInterruption). The fd of that poll is in the memory its
 * first argument points to, which /proc does not show; during a connect case the main thread makes
 * no other such poll. Run in the watchdog's thread as source text: no closure.
 */
export function blockedInCall(fields, syscall, fd, numbers) {
  const number = Number(fields[0]);
  if (number === syscall) return Number(fields[1]) === fd;
  if (syscall !== numbers.connect || number !== numbers.poll) return false;
  // poll(fds, 1, -1) on x64 (the int -1 shows as 0xffffffff); ppoll(fds, 1, NULL, NULL) on arm64.
  return Number(fields[2]) === 1 && (numbers.poll === 7 ? fields[3] === '0xffffffff' || fields[3] === '0xffffffffffffffff' : Number(fields[3]) === 0);
}

/**
 * The watchdog's part (run in its thread, source text): signal the main thread once it is
 * blocked in the case's system call on the case's fd (blockedInCall), once per handled signal.
 * Returns whether a case is on (then the random signals and the 50 ms stop stay off).
 */
export const watchdogSource = `
  const forcedCase = (() => {
    const { readFileSync } = require('node:fs');
    const S = ${JSON.stringify(SLOT)};
    const numbers = ${JSON.stringify(SYSCALL_NUMBERS[arch()] ?? {})};
    const blockedInCall = ${blockedInCall.toString()};
    const path = '/proc/' + process.pid + '/task/' + process.pid + '/syscall';
    return () => {
      const syscall = Atomics.load(shared, S.syscall);
      if (syscall === -1) return false; // no case
      if (syscall < 0) return true; // a case being set up (-2): no random signals, no stop, nothing to signal yet
      const sent = Atomics.load(shared, S.sent);
      if (sent >= Atomics.load(shared, S.wanted) || Atomics.load(shared, S.handled) < sent) return true;
      let fields;
      try { fields = readFileSync(path, 'utf8').split(' '); } catch { return true; }
      if (blockedInCall(fields, Atomics.load(shared, S.syscall), Atomics.load(shared, S.fd), numbers)) {
        Atomics.store(shared, S.sent, sent + 1);
        process.kill(process.pid, 'SIGUSR1');
      }
      return true;
    };
  })();
`;

/**
 * The forced cases. `fastIo` is dist/lib/fast-io.js, `binding` the core,
 * `shared` the watchdog's array, `handoffs()` how many EINTRs the wrappers
 * handed to the N-API <syscall>Interrupted so far (fuzz.mjs counts them).
 */
export class InterruptionCases {
  constructor(w, { fastIo, fastSocket, binding, shared, handoffs, connect = false }) {
    this.w = w;
    this.binding = binding;
    this.c = binding.constants;
    this.fastIo = fastIo;
    this.fastSocket = fastSocket; // dist/lib/fast-socket.js (connectEncoded, acceptFd), when this tree has it
    this.connects = 0;
    // connect cases unless fuzz.mjs --eintr-connect off (SOCKET_ACTIONS' note says what they once found).
    this.withConnect = Boolean(fastSocket) && connect;
    this.shared = shared;
    this.handoffs = handoffs;
    this.numbers = SYSCALL_NUMBERS[arch()];
    this.reason = this.numbers === undefined ? `no system call numbers for ${arch()}` : '';
    this.sites = new Map(); // `${op} ${kind}` -> its own call site
    this.active = null; // the case whose call is running, for the signal handler
    this.inCase = false; // from a case's first step to its last (fuzz.mjs's handlers then leave it alone)
    this.serial = 0;
    this.stats = {
      cases: 0,
      fastInterrupted: 0,
      fromOptimizedCode: 0,
      byAction: Object.fromEntries(ACTIONS.map((a) => [a, 0])),
      // Per kind of buffer: [cases, of them interrupted inside the fast call] (V8 takes the slow callback for some kinds).
      byKind: Object.fromEntries(KINDS.map((k) => [k, [0, 0]])),
      // Per call: [cases, of them interrupted inside the fast call].
      byCall: Object.fromEntries([...OPS, ...(fastSocket ? ['accept'] : []), ...(fastSocket && connect ? ['connect'] : [])].map((op) => [op, [0, 0]])),
    };
    Atomics.store(shared, SLOT.syscall, -1);
    // Is the main thread's /proc/.../syscall readable here? (It is for the process itself.)
    try {
      readFileSync(`/proc/${process.pid}/task/${process.pid}/syscall`, 'utf8');
    } catch (error) {
      this.reason ||= `cannot read /proc/self/task/<tid>/syscall: ${error.message}`;
    }
  }

  get enabled() {
    return this.reason === '';
  }

  /** The call site of `op` for buffers of `kind`: one target and one kind of view in its feedback. */
  site(op, kind) {
    const key = `${op} ${kind}`;
    let site = this.sites.get(key);
    if (site === undefined) {
      const fn = this.fastIo[op];
      prepare(fn);
      site = callSite(fn, op === 'read' || op === 'write' ? 4 : 5, `eintr ${key}`);
      prepare(site);
      this.sites.set(key, site);
    }
    return site;
  }

  /** A view of `kind` with a range [offset, offset + length) inside it, and the memory a handler detaches or resizes. */
  view(kind, length) {
    const r = this.w.random;
    switch (kind) {
      case 'plain': {
        const view = Buffer.allocUnsafeSlow(length);
        return { view, memory: view.buffer };
      }
      case 'subarray': {
        const odd = r.pick([1, 3, 7]);
        const memory = new ArrayBuffer(length + odd + 5);
        return { view: new Uint8Array(memory).subarray(odd, odd + length), memory };
      }
      case 'on-heap':
        return { view: new Uint8Array(Math.min(length, 48)), memory: null }; // memory: view.buffer, when the handler asks
      case 'resizable-fixed': {
        const odd = r.pick([0, 1, 5]);
        const memory = new ArrayBuffer(length + odd + 8, { maxByteLength: length + odd + 8 + 4096 });
        return { view: new Uint8Array(memory, odd, length), memory };
      }
      default: {
        const odd = r.pick([0, 2, 5]);
        const memory = new ArrayBuffer(length + odd, { maxByteLength: length + odd + 4096 });
        return { view: new Uint8Array(memory, odd), memory };
      }
    }
  }

  /** Calls `site` with the case's arguments (the wrappers' form: flags for recv/send; offset and length given). */
  call(site, op, fd, view, offset, length) {
    return op === 'read' || op === 'write' ? site(fd, view, offset, length) : site(fd, view, op === 'send' ? this.c.MSG_NOSIGNAL : 0, offset, length);
  }

  /** Fills the socket's send side until a send would block (bounded). */
  fill(fd) {
    const chunk = Buffer.alloc(4096, 0x2e);
    for (let i = 0; i < 4096; i++) {
      try {
        this.binding.send(fd, chunk, this.c.MSG_DONTWAIT | this.c.MSG_NOSIGNAL);
      } catch (error) {
        if (error.code === 'EAGAIN') return;
        throw error;
      }
    }
    throw new Error('fuzz: eintr: the socket never filled up');
  }

  /** Reads everything queued on `fd` without waiting (bounded); the bytes. */
  drain(fd) {
    const parts = [];
    const buffer = Buffer.alloc(65536);
    for (let i = 0; i < 4096; i++) {
      let n;
      try {
        n = this.binding.recv(fd, buffer, this.c.MSG_DONTWAIT);
      } catch (error) {
        if (error.code === 'EAGAIN') return Buffer.concat(parts);
        throw error;
      }
      if (n === 0) break;
      parts.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(parts);
  }

  /** The next case of the round: its call and action. */
  next() {
    const serial = this.serial++;
    const rounds = ROUND.filter(({ op }) => OPS.includes(op) || (op === 'accept' && this.fastSocket) || (op === 'connect' && this.withConnect));
    const { op, action } = rounds[serial % rounds.length];
    if (op !== 'connect') return { serial, op, action };
    // Actions and kinds of sockaddr view in turn (7 and 5: every pair in 35 connects), plain memory first.
    const n = this.connects++;
    return { serial, op, action: SOCKET_ACTIONS.connect[n % SOCKET_ACTIONS.connect.length], kind: KINDS[n % KINDS.length] };
  }

  /** Counts a case that ended as its action must make it end. */
  count(op, action, kind, optimized, fastInterrupted) {
    this.stats.cases++;
    this.stats.byAction[action]++;
    if (optimized) this.stats.fromOptimizedCode++;
    this.stats.byCall[op][0]++;
    if (kind !== null) this.stats.byKind[kind][0]++;
    if (!fastInterrupted) return;
    this.stats.fastInterrupted++;
    this.stats.byCall[op][1]++;
    if (kind !== null) this.stats.byKind[kind][1]++;
  }

  /**
   * Runs `call` with the watchdog armed on `fd` and `state` given to the signal handler; calls resume
   * after a handler unless the action says otherwise (an action's setRestartAfterSignal(false) is put
   * back after). What it gave, whether a fast call ran, and whether it was interrupted inside it.
   */
  interrupt(serial, op, fd, state, call) {
    const { binding } = this;
    const restart = binding.getRestartAfterSignal();
    binding.setRestartAfterSignal(true);
    const fastBefore = this.fastIo.fastCallCounts().fast;
    const handoffsBefore = this.handoffs();
    this.arm(serial, op, fd, state.action === 'resume-twice' ? 2 : 1); // the watchdog may signal now
    this.active = state;
    let result;
    let threw = false;
    try {
      result = call();
    } catch (error) {
      threw = true;
      result = error;
    } finally {
      this.active = null;
      Atomics.store(this.shared, SLOT.syscall, -2);
      binding.setRestartAfterSignal(restart);
    }
    const fast = this.fastIo.fastCallCounts().fast > fastBefore;
    return { result, threw, fast, inside: fast && this.handoffs() > handoffsBefore };
  }

  /** The case's outcome for the fuzzer's saturation count. */
  outcome(op, action, inside, threw, result) {
    return { outcome: `eintr.${op} ${action} ${inside ? 'fast' : 'napi'} ${threw ? (result === Sentinel ? 'sentinel' : result?.code) : 'n'}` };
  }

  /** Lets the watchdog signal once the main thread blocks in `op`'s system call on `fd` (`wanted` times). */
  arm(serial, op, fd, wanted) {
    Atomics.store(this.shared, SLOT.fd, fd);
    Atomics.store(this.shared, SLOT.wanted, wanted);
    Atomics.store(this.shared, SLOT.sent, 0);
    Atomics.store(this.shared, SLOT.handled, 0);
    Atomics.store(this.shared, SLOT.serial, serial);
    Atomics.store(this.shared, SLOT.syscall, this.numbers[op]);
    Atomics.notify(this.shared, 2); // the watchdog, asleep for up to 2 ms, looks at once
  }

  /**
   * One case: the next action on the next call, a random kind and range. Returns a summary; throws a
   * description on a wrong outcome. From its first step to its last the watchdog sends no random
   * signal and no stop, the fuzzer's handlers leave it alone (inCase), and calls resume after a
   * handler (a fuzzed setRestartAfterSignal(false) is put back after): its set-up calls block too.
   */
  run() {
    const restart = this.binding.getRestartAfterSignal();
    this.inCase = true;
    Atomics.store(this.shared, SLOT.syscall, -2);
    this.binding.setRestartAfterSignal(true);
    try {
      const { serial, op, action, kind } = this.next();
      return op === 'connect' || op === 'accept' ? this.runSocketCase(serial, op, action, kind ?? null) : this.runIoCase(serial, op, action);
    } finally {
      this.binding.setRestartAfterSignal(restart);
      Atomics.store(this.shared, SLOT.syscall, -1);
      this.inCase = false;
    }
  }

  runIoCase(serial, op, action) {
    const { w, binding, c } = this;
    const r = w.random;
    const sending = op === 'send' || op === 'write';
    const kind = action === 'shrink' || action === 'grow' ? r.pick(RESIZABLE) : r.pick(KINDS);
    const length = sending ? r.pick([1, 7, 100, 1024]) : r.pick([1, 7, 100, 4096, 65536]);
    const [fd, peer] = binding.socketpair(c.AF_UNIX, c.SOCK_STREAM);
    const state = { action, op, syscall: op, kind, fd, peer, handled: 0, closed: false, provided: null };
    try {
      // Bounds: a signal that never comes ends the call as EAGAIN after 5 s, a failure below.
      binding.setsockopt(fd, c.SOL_SOCKET, c.SO_RCVTIMEO, 5000);
      binding.setsockopt(fd, c.SOL_SOCKET, c.SO_SNDTIMEO, 5000);
      if (sending) binding.setsockopt(fd, c.SOL_SOCKET, c.SO_SNDBUF, 4096);
      // The site, optimized for this kind of view (warm calls that do not wait: one byte each).
      const site = this.site(op, kind);
      for (let warm = 0; warm < 8 && !isOptimized(site); warm++) {
        if (warm === 3) optimizeOnNextCall(site);
        const { view } = this.view(kind, 1);
        if (!sending) binding.send(peer, Buffer.from('w'));
        this.call(site, op, fd, view, 0, 1);
        if (sending) this.drain(peer);
      }
      if (sending) this.fill(fd);
      const { view, memory } = this.view(kind, length);
      const offset = view.byteLength > 1 && r.chance(0.5) ? r.int(view.byteLength) : 0;
      const range = r.chance(0.5) ? view.byteLength - offset : r.range(1, view.byteLength - offset);
      if (sending) for (let i = 0; i < view.byteLength; i++) view[i] = (i * 7 + serial) & 0xff;
      Object.assign(state, { view, memory, offset, range });
      const optimized = isOptimized(site);
      const { result, threw, fast, inside } = this.interrupt(serial, op, fd, state, () => this.call(site, op, fd, view, offset, range));
      const label = `${op} ${action} (${kind}, ${length} bytes, offset ${offset}, length ${range}, ${optimized ? 'optimized' : 'not optimized'}, ${fast ? 'fast' : 'not fast'}, ${state.handled} handled)`;
      this.check(state, threw, result, label);
      this.count(op, action, kind, optimized, inside);
      return this.outcome(op, action, inside, threw, result);
    } finally {
      this.active = null;
      Atomics.store(this.shared, SLOT.syscall, -2);
      for (const end of [fd, peer])
        try {
          binding.close(end); // fd: closed by the handler already (EBADF, ignored), or the dup2 over it
        } catch {}
    }
  }

  /** The SIGUSR1 handler's part while a case's call runs: the action. Returns false for a signal that is no case's (a stray of the watchdog's random ones). */
  onSignal() {
    const state = this.active;
    if (state === null || state.handled >= Atomics.load(this.shared, SLOT.sent)) return false;
    state.handled++;
    Atomics.store(this.shared, SLOT.handled, state.handled);
    const { binding } = this;
    switch (state.action) {
      case 'resume':
        this.provide(state);
        break;
      case 'resume-twice':
        if (state.handled === 2) this.provide(state); // the first time: nothing, and the call waits again
        break;
      case 'eintr':
        binding.setRestartAfterSignal(false);
        break;
      case 'detach':
        detach(state.memory ?? state.view.buffer, this.w.random);
        if (state.op === 'connect') this.provide(state); // the kernel has the address: the connection goes on
        break;
      case 'shrink':
        // Below the range's end (fixed view: out of bounds; tracking view: shorter than the range).
        state.memory.resize(this.w.random.int(state.view.byteOffset + state.offset + state.range));
        break;
      case 'grow':
        state.memory.resize(state.memory.maxByteLength);
        this.provide(state);
        break;
      case 'close':
        binding.close(state.fd);
        state.closed = true;
        break;
      case 'close-reuse':
        // Another open file under the same number: the resumed call must not act on it.
        binding.close(state.fd);
        binding.dup2(state.peer, state.fd);
        state.closed = true;
        break;
      case 'throw':
        throw Sentinel;
      case 'alloc': {
        const junk = [];
        for (let i = 0; i < 64; i++) junk.push(new ArrayBuffer(this.w.random.pick([16, 1024, 65536])));
        this.provide(state);
        break;
      }
    }
    return true;
  }

  /** What lets the blocked call go on: bytes for a receive, room (the peer drained) for a send, a client for accept, room in the accept queue for connect. */
  provide(state) {
    if (state.op === 'accept' || state.op === 'connect') return this.provideSocket(state);
    if (state.op === 'send' || state.op === 'write') this.drain(state.peer);
    else {
      const length = this.w.random.pick([1, 5, 512, 3000]);
      state.provided = Buffer.from(Array.from({ length }, (_, i) => (i * 13 + 1) & 0xff));
      this.binding.send(state.peer, state.provided, this.c.MSG_DONTWAIT | this.c.MSG_NOSIGNAL);
    }
  }

  /** Throws (a description) unless the call ended as its action must make it end. */
  check(state, threw, result, label) {
    const { op, action } = state;
    const fail = (what) => {
      throw new Error(`eintr case ${label}: ${what}; got ${threw ? `a throw: ${result === Sentinel ? 'the sentinel' : result instanceof Error ? `${result.name} ${result.code} ${result.message}` : JSON.stringify(result)}` : `n = ${result}`}`);
    };
    const error = (code, message) => {
      if (!threw || !(result instanceof Error)) fail(`expected an Error with code ${code}`);
      if (result.code !== code || result.syscall !== state.syscall) fail(`expected code ${code}, syscall ${state.syscall}`);
      if (message !== undefined && !result.message.startsWith(message)) fail(`expected a message starting ${JSON.stringify(message)}`);
    };
    const wanted = action === 'resume-twice' ? 2 : 1;
    if (state.handled !== wanted) fail(`the handler ran ${state.handled} times, not ${wanted}`);
    const { syscall } = state;
    switch (action) {
      case 'eintr':
        return error('EINTR', `${syscall}: Interrupted system call`);
      case 'detach':
        if (op === 'connect') return this.checkSocket(state, threw, result, fail);
        return error('ERR_BUFFER_DETACHED', `${syscall}: `);
      case 'shrink':
        return error('ERR_BUFFER_RESIZED', `${syscall}: `);
      case 'close':
        return error('EBADF', `${syscall}: fd ${state.fd} was closed by a signal handler`);
      case 'close-reuse':
        return error('EBADF', `${syscall}: fd ${state.fd} was closed and reused for another file by a signal handler`);
      case 'throw':
        if (!threw || result !== Sentinel) fail('expected the handler\'s sentinel, thrown through the call');
        return;
      default: {
        if (op === 'accept' || op === 'connect') return this.checkSocket(state, threw, result, fail);
        if (threw || !Number.isInteger(result)) fail('expected a byte count');
        if (result < 1 || result > state.range) fail(`expected 1..${state.range} bytes`);
        const done = Buffer.from(state.view.buffer, state.view.byteOffset + state.offset, result);
        if (op === 'send' || op === 'write') {
          const arrived = this.drain(state.peer);
          if (!arrived.equals(done)) fail(`the peer received ${arrived.length} bytes that are not the ${result} sent`);
        } else {
          const expected = state.provided.subarray(0, Math.min(state.provided.length, state.range));
          if (result !== expected.length || !done.equals(expected)) fail(`expected the ${expected.length} bytes the handler sent`);
        }
      }
    }
  }

  // ---- connect and acceptFd (lib/fast-socket.ts)

  /** An IPv4 TCP listener on 127.0.0.1 (blocking; SO_RCVTIMEO bounds an accept that nothing ends). */
  listener(backlog) {
    const { binding, c } = this;
    const fd = binding.socket(c.AF_INET, c.SOCK_STREAM);
    try {
      binding.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
      binding.listen(fd, backlog);
      binding.setsockopt(fd, c.SOL_SOCKET, c.SO_RCVTIMEO, 5000);
      return { fd, port: binding.getsockname(fd).port };
    } catch (error) {
      binding.close(fd);
      throw error;
    }
  }

  /** The sockaddr_in of 127.0.0.1:port (Linux layout, sa_family in the host's order) in a view of `kind`. */
  sockaddr(kind, port) {
    const { view, memory } = this.view(kind, 16);
    // Byte by byte: asking an on-heap view for its .buffer would move it off the heap.
    const family = this.c.AF_INET; // sa_family in the host's order: x64 and arm64 are little-endian
    view.set([family & 0xff, family >> 8, port >> 8, port & 0xff, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    return { view, memory };
  }

  /** connect through connectEncoded at `site`; when the fast path does not take the view (FALLBACK), the N-API connect. */
  connectAt(site, fd, view, port) {
    if (site(fd, view)) return true;
    this.binding.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
    return false;
  }

  /** A client of the listener: connected (the queue has room), or throws. */
  client(port) {
    const fd = this.binding.socket(this.c.AF_INET, this.c.SOCK_STREAM);
    try {
      this.binding.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
      return fd;
    } catch (error) {
      this.binding.close(fd);
      throw error;
    }
  }

  /** One connect or accept case (see SOCKET_ACTIONS). */
  runSocketCase(serial, op, action, kind) {
    const { w, binding, c } = this;
    const r = w.random;
    const fds = [];
    const own = (fd) => (fds.push(fd), fd);
    const flags = op === 'accept' && r.chance(0.5) ? c.SOCK_CLOEXEC : undefined;
    const state = { action, op, syscall: op === 'accept' && flags === undefined ? 'accept' : op === 'accept' ? 'accept4' : 'connect', kind, handled: 0, closed: false };
    try {
      const listening = this.listener(op === 'connect' ? 0 : 16);
      state.listenFd = own(listening.fd);
      state.port = listening.port;
      state.peer = own(binding.socket(c.AF_INET, c.SOCK_STREAM)); // what close-reuse puts under the number
      let site;
      if (op === 'accept') {
        site = this.socketSite('acceptFd', 'accept');
        for (let warm = 0; warm < 8 && !isOptimized(site); warm++) {
          if (warm === 3) optimizeOnNextCall(site);
          const client = this.client(state.port);
          try {
            binding.close(site(state.listenFd, flags));
          } finally {
            binding.close(client);
          }
        }
        state.fd = state.listenFd; // the call blocks on the listener; close and close-reuse act on it
      } else {
        site = this.socketSite('connectEncoded', `connect ${kind}`);
        // Warm with connections that complete (the queue has room while each is accepted at once).
        for (let warm = 0; warm < 8 && !isOptimized(site); warm++) {
          if (warm === 3) optimizeOnNextCall(site);
          const fd = binding.socket(c.AF_INET, c.SOCK_STREAM);
          try {
            this.connectAt(site, fd, this.sockaddr(kind, state.port).view, state.port);
            binding.close(binding.acceptFd(state.listenFd));
          } finally {
            binding.close(fd);
          }
        }
        state.queued = own(this.client(state.port)); // fills the accept queue: the next SYN is dropped
        state.fd = own(binding.socket(c.AF_INET, c.SOCK_STREAM));
        binding.setsockopt(state.fd, c.SOL_SOCKET, c.SO_SNDTIMEO, 5000); // bounds a connect no signal ends (EINPROGRESS, a failure below)
        // and two SYN retransmissions (at about 1 and 3 s) bound the wait after a resume (connect goes on in
        // poll(), which SO_SNDTIMEO does not bound): a handshake that never completes is ETIMEDOUT, a failure, not a hang.
        binding.setsockopt(state.fd, c.IPPROTO_TCP, c.TCP_SYNCNT, 2);
        Object.assign(state, this.sockaddr(kind, state.port));
      }
      const optimized = isOptimized(site);
      const call = () => (op === 'accept' ? site(state.fd, flags) : this.connectAt(site, state.fd, state.view, state.port));
      const { result, threw, fast, inside } = this.interrupt(serial, op, state.fd, state, call);
      if (op === 'accept' && !threw && Number.isInteger(result)) own(result);
      const label = `${state.syscall} ${action} (${kind ?? `flags ${flags ?? 'none'}`}, ${optimized ? 'optimized' : 'not optimized'}, ${fast ? 'fast' : 'not fast'}, ${state.handled} handled)`;
      this.check(state, threw, result, label);
      this.count(op, action, kind, optimized, inside);
      return this.outcome(op, action, inside, threw, result);
    } finally {
      this.active = null;
      Atomics.store(this.shared, SLOT.syscall, -2);
      for (const fd of [...fds, ...(state.extra ?? [])])
        try {
          binding.close(fd); // closed by the handler already (EBADF, ignored), or the dup2 over it
        } catch {}
    }
  }

  /** The call site of fast-socket's `name`: (fd, sockaddr view) or (fd, flags). */
  socketSite(name, key) {
    let site = this.sites.get(key);
    if (site === undefined) {
      const fn = this.fastSocket[name];
      prepare(fn);
      site = callSite(fn, 2, `eintr ${key}`);
      prepare(site);
      this.sites.set(key, site);
    }
    return site;
  }

  /** accept: a client connects (the accept then takes it); connect: the queued connection is accepted (the retransmitted SYN then fits). */
  provideSocket(state) {
    const { binding } = this;
    state.extra ??= [];
    if (state.op === 'accept') {
      state.client = this.client(state.port);
      state.extra.push(state.client);
    } else {
      const first = binding.acceptFd(state.listenFd);
      state.extra.push(first);
      state.firstPeer = binding.getpeername(first).port;
    }
  }

  /** A connect or accept that must have succeeded: the kernel's addresses of both ends say it is the right connection. */
  checkSocket(state, threw, result, fail) {
    const { binding } = this;
    if (threw) fail('expected the call to succeed');
    if (state.op === 'accept') {
      if (!Number.isInteger(result) || result < 0 || result === state.listenFd) fail('expected a new fd');
      const peer = binding.getpeername(result);
      const client = binding.getsockname(state.client);
      if (peer.port !== client.port || peer.address !== '127.0.0.1') fail(`expected the connection from port ${client.port} that the handler made, got one from ${peer.address}:${peer.port}`);
      return;
    }
    if (result !== true && result !== false) fail('expected connectEncoded\'s answer (true) or the N-API connect\'s (undefined, reported as false)');
    if (state.firstPeer !== binding.getsockname(state.queued).port) fail('the handler did not accept the queued connection');
    const peer = binding.getpeername(state.fd);
    if (peer.port !== state.port || peer.address !== '127.0.0.1') fail(`connected to ${peer.address}:${peer.port}, not the listener's port ${state.port}`);
    // The listener's side of the same connection (queued by the handshake the resumed call waited for; SO_RCVTIMEO bounds it).
    const accepted = binding.acceptFd(state.listenFd);
    state.extra.push(accepted);
    if (binding.getpeername(accepted).port !== binding.getsockname(state.fd).port) fail('the listener accepted another connection than the one connect made');
  }
}
