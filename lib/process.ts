// Process control by the C names: fork, getpid, getppid, waitpid, kill,
// _exit, getrlimit, setrlimit, signal. fork() leaves a working Node in the
// child (native/fork.cc); here the child's process.pid is made right and
// every way out of the child is routed to _exit(2), because Node's own
// teardown joins threads that only exist in the parent. See docs/process.md.
// The constants (SIGTERM, WNOHANG, RLIMIT_NOFILE, ...) are compiled in from
// the headers and exported with all the others (lib/constants.ts).
import { writeSync } from 'node:fs';
// The module's binding, not the global: globalThis.process is an accessor, and
// each read of it runs a JS getter (at every fork; Baseline code that writes
// its own bytecode age and budget, a page fault on the first call after each fork).
import process from 'node:process';
import { inspect } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { EventEmitter } from 'node:events';
import { isMainThread, Worker } from 'node:worker_threads';
import { binding, nodeAddonPath } from './native.js';
import { enterForkedChild } from './fork-epoch.js';
import { close, socketpair } from './posix.js';
import { AF_UNIX, SOCK_STREAM } from './constants.js';
import { recvExactly, recvFull, recvSome, sendAll, writeAll } from './io.js';

/** What fork() throws when no build of the per-Node addon matches this Node. */
export { NodeAddonUnavailableError } from './native.js';

/** What waitpid() reports about one child. */
export interface WaitStatus {
  /** The child's pid; 0 when WNOHANG was given and no child had changed state. */
  pid: number;
  /** The raw status word (for the W* macros not decoded here). */
  status: number;
  /** WEXITSTATUS when the child exited, else null. */
  exitCode: number | null;
  /** WTERMSIG when a signal killed it, WSTOPSIG when it stopped, else null. */
  signal: number | null;
  coreDumped: boolean;
  /** WIFSTOPPED (only reported with WUNTRACED). */
  stopped: boolean;
  /** WIFCONTINUED (only reported with WCONTINUED). */
  continued: boolean;
}

/** A resource limit; Infinity is RLIM_INFINITY. */
export interface Rlimit {
  soft: number;
  hard: number;
}
/** A resource limit, exact: RLIM_INFINITY is 2n ** 64n - 1n. */
export interface RlimitBigInt {
  soft: bigint;
  hard: bigint;
}
/** A limit as setrlimit() takes it: an integer, Infinity, or a bigint. */
export type RlimitValue = number | bigint;

/** A JS signal handler; it gets the signal number, as in C. */
export type SignalHandler = (signal: number) => void;
/** What signal() installs. */
export type SignalDisposition = SignalHandler | 'ignore' | 'default';
/** What signal() replaced; 'foreign' is a handler not installed by signal() (Node's or libuv's). */
export type PreviousDisposition = SignalDisposition | 'foreign';

interface ProcessBinding {
  /**
   * `addonPath`: the loaded per-ABI addon, whose worker parking fork() uses (native/node/fork_parking.h).
   * In the child, `beforeExit` and `exit` run when its event loop runs dry (native/fork.cc, section 3).
   */
  fork(addonPath: string, beforeExit: () => void, exit: () => void): number;
  /** With `pidCell` (forkPidCell()'s), the pid goes to pidCell[0] and fork returns undefined (native/fork.cc says why). */
  fork(addonPath: string, beforeExit: () => void, exit: () => void, pidCell: Int32Array): undefined;
  /** An Int32Array(1) over fork()'s wipe-on-fork memory; undefined off the main thread or without external ArrayBuffers. */
  forkPidCell(): Int32Array | undefined;
  getpid(): number;
  getppid(): number;
  waitpid(pid: number, options?: number): WaitStatus;
  kill(pid: number, signal: number): void;
  _exit(status?: number): never;
  getrlimit(resource: number, asBigInt: true): RlimitBigInt;
  getrlimit(resource: number, asBigInt?: false): Rlimit;
  setrlimit(resource: number, soft: RlimitValue, hard?: RlimitValue): void;
  signalAction(signal: number, disposition: number): number;
  setSignalDispatcher(dispatch: (signal: number) => void): void;
  setRestartAfterSignal(restart: boolean): void;
  getRestartAfterSignal(): boolean;
}

const native = binding as unknown as ProcessBinding;

// ---- identities and children --------------------------------------------------
/** getpid(2): always the caller's real pid (also in a forked child). */
export const getpid: () => number = native.getpid;
/** getppid(2) */
export const getppid: () => number = native.getppid;
/**
 * waitpid(2). Blocks unless `options` has WNOHANG; a signal handled with
 * signal() runs during the wait. Prefer a specific pid: waitpid(-1) also
 * reaps children of node:child_process, which then never see their exit.
 */
export const waitpid: (pid: number, options?: number) => WaitStatus = native.waitpid;
/** kill(2): pid 0 is the caller's process group, a negative pid the group -pid; signal 0 only checks. */
export const kill: (pid: number, signal: number) => void = native.kill;
/** _exit(2): ends the process at once; no 'exit' event, queued output is not flushed. */
export const _exit: (status?: number) => never = native._exit;

// ---- fork ------------------------------------------------------------------------
interface StdioHandle {
  _handle?: { setBlocking?(blocking: boolean): unknown };
}


interface ProcessInternals {
  reallyExit(code?: number): void;
  _exiting: boolean;
}

function currentExitCode(fallback: number): number {
  const code = process.exitCode ?? fallback;
  const number = Number(code);
  return Number.isInteger(number) ? number : 1;
}

function writeFatal(error: unknown): void {
  try {
    writeSync(2, `${inspect(error)}\n\nNode.js ${process.version}\n`);
  } catch {
    // stderr is gone: nothing else to report to
  }
}

let childExitsRouted = false;

// The forked child's whole set-up and exit path. Every function here is a
// parenthesized function expression: V8 compiles those with the module
// instead of on first call, so the parent holds their bytecode before it
// forks and no child parses and compiles them again (each child did, ~1 ms
// of CPU each: V8's parser and compiler faulted in from the node binary,
// whose page-table entries a fork does not copy). As long as the parent
// forks, it keeps its bytecode (warmForkedChildPath), so that V8 does not
// flush what only children run.
const childReallyExit = (function childReallyExit(code?: number): void {
  native._exit(currentExitCode(code ?? 0));
});

type Emit = (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;
let parentEmit: Emit | undefined;

// Every process.emit of the child passes here. 'exit' ends in _exit after
// its handlers. 'uncaughtException' is what Node's fatal-exception path
// emits (for unhandled rejections too): with no listener Node would go on to
// its teardown, so then the error is reported as Node does and the child
// exits(1); a listener of it (or of 'uncaughtExceptionMonitor', which Node
// emits first) that throws ends it as Node would (7). Done here
// rather than by a listener of sockfd's: the child's listeners stay the
// parent's, and adding one cost every child ~30 page faults (fork-per-
// connection server) for a path most children never take.
const emitThenExit = (function emitThenExit(this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
  const emit = parentEmit!;
  if (event === 'uncaughtException' || event === 'uncaughtExceptionMonitor') {
    let handled: boolean;
    try {
      handled = emit.call(this, event, ...args);
    } catch (error) {
      // A listener threw: Node prints that error and exits with 7 without
      // 'exit' (its teardown: SIGSEGV in a child). Status 7 is Node's
      // kExceptionInFatalExceptionHandler.
      writeFatal(error);
      return native._exit(7);
    }
    if (handled || event === 'uncaughtExceptionMonitor') return handled;
    writeFatal(args[0]);
    process.exit(1);
  }
  if (event !== 'exit') return emit.call(this, event, ...args);
  const emitted = typeof args[0] === 'number' ? args[0] : 0;
  try {
    emit.call(this, event, ...args);
  } catch (error) {
    // As Node: the error is reported, the exit code stays unless it was 0.
    writeFatal(error);
    native._exit(currentExitCode(emitted) || 1);
  }
  return native._exit(currentExitCode(emitted));
});

const childBeforeExit = (function childBeforeExit(): void {
  process.emit('beforeExit', currentExitCode(0));
});

const childLoopEnded = (function childLoopEnded(): void {
  (process as unknown as ProcessInternals)._exiting = true;
  process.emit('exit', currentExitCode(0)); // ends in _exit
});

// Every way a forked child can end reaches _exit after the 'exit' handlers:
// process.exit() (emits 'exit', then reallyExit), reallyExit itself, an
// uncaught exception (emitThenExit), and the event loop running dry (the
// native fork() starts that watch in the child: childBeforeExit, then
// childLoopEnded).
const routeChildExits = (function routeChildExits(): void {
  if (childExitsRouted) return;
  childExitsRouted = true;
  (process as unknown as ProcessInternals).reallyExit = childReallyExit;
  parentEmit = process.emit as Emit;
  process.emit = emitThenExit as typeof process.emit;
});

// Node 24's V8 compiles Sparkplug (baseline) code on a worker thread by
// default (Node 20 and 22 do it on the main thread). A batch compiled there
// before a fork crashed the child when it installed it (SIGSEGV in
// BaselineBatchCompiler::InstallBatch, 1 child in 50 of a busy fork-per-
// connection server; setting the flag only in the child did not help). So a
// process that loads sockfd compiles Sparkplug code on the main thread, as
// Node 20 and 22 always do (0 crashes in 200 children).
setFlagsFromString('--no-concurrent-sparkplug');

// stdout and stderr need not be made blocking here: the parent did it just
// before the fork, and the flag lives in the file description they share.
// The descriptors are made in the parent: an object literal run for the first
// time (in every child) costs more than the property definition.
const childPid: PropertyDescriptor = { value: 0, writable: false, enumerable: true, configurable: true };
const childPpid: PropertyDescriptor = { get: native.getppid, enumerable: true, configurable: true };
// The child's pid goes into childPid through this store, which the parent
// runs before its first fork (warmForkedChildPath) with two different values:
// V8 tracks a field that was only ever written once as constant, and the
// child's first write of another value there changed the descriptor's map and
// deoptimized the code that relied on it (~20 page faults a child, measured
// with perf in the bench's fork server).
const setChildPid = (function setChildPid(pid: number): void {
  childPid.value = pid;
});
const becomeChild = (function becomeChild(): void {
  enterForkedChild(); // first: no call the parent had pending may go on here
  setChildPid(native.getpid());
  Object.defineProperty(process, 'pid', childPid);
  Object.defineProperty(process, 'ppid', childPpid);
  routeChildExits();
});

let childPathWarm = false;

// Before the first fork, two V8 flags for this process and its children:
// - V8 hands optimizing compiles to its worker threads, which a child does
//   not have: queued there they never finish. For on-stack replacement (hot
//   loops, measured 5-10x slower without it) --no-concurrent-osr compiles on
//   the main thread; function-level TurboFan is decided at start-up
//   (docs/process.md). Set here, in the parent, once: setting a flag costs
//   ~40k instructions (V8 re-derives every implied flag), in every child it
//   was a quarter of the child's own set-up.
// - V8 flushes the bytecode of functions that have not run for a few major
//   GCs (--bytecode-old-age), and the parent never runs the child's path:
//   without --no-flush-bytecode a long-running fork server would lose the
//   bytecode compiled above, and every child would compile it again (and
//   whatever else of the application only children run).
function warmForkedChildPath(): void {
  childPathWarm = true;
  setChildPid(-1);
  setChildPid(0);
  setFlagsFromString('--no-concurrent-osr');
  setFlagsFromString('--no-flush-bytecode');
  warmByteLoops();
}

// The byte loops of lib/io.ts (behind sockfd's Socket, TcpConnection and
// posix-level helpers) and Node's fs.writeSync are what the children of a
// fork server run, and what its parent, which only accepts, forks and
// closes, may never have run: each child compiled them (the bench server's
// children compiled 8 functions of lib/io.ts each). Run once here, on a
// socketpair that is closed again before fork() goes on. Best effort: a
// failure (EMFILE, say) only means a child compiles them itself.
function warmByteLoops(): void {
  let pair: [number, number];
  try {
    pair = socketpair(AF_UNIX, SOCK_STREAM, 0);
  } catch {
    return;
  }
  const [a, b] = pair;
  try {
    const byte = Buffer.alloc(1);
    sendAll(a, 'ab');
    sendAll(a, byte); // a buffer takes another path than a string (lib/fast-io.ts's sendRange)
    recvFull(b, byte);
    recvSome(b, byte);
    writeAll(a, byte);
    writeSync(a, byte);
    writeSync(a, 'c');
    recvExactly(b, 2, { timeout: 1000 });
    recvSome(b, 1);
  } catch {
    // nothing to warm then
  } finally {
    try {
      close(a);
    } finally {
      close(b);
    }
  }
}

/**
 * fork(2): the child's pid in the parent, 0 in the child. Safe in Node 20,
 * 22 and 24 without flags (V8's worker threads are parked around the fork,
 * by the per-Node addon sockfd_node: where no build of it matches this Node,
 * fork() throws a NodeAddonUnavailableError saying to run `npm rebuild
 * sockfd`). Only the main thread may fork, and only while no Worker thread
 * exists: otherwise it throws an Error with code 'ERR_FORK_WORKERS' (a child
 * could hang in V8). In the child: timers, promises, fs, dns and net work; a
 * thread-pool request the parent had in flight never completes; the parent's
 * pending async socket calls (recvAsync, ...) never settle and watch nothing;
 * process.pid is the child's own; every exit ends in _exit(2) after the
 * 'exit' handlers ran; stdout and stderr are blocking (in both processes).
 */
export function fork(): number {
  // One function on the way of every call, with the rare branches out of
  // line: after each fork, every page the parent writes costs it a page
  // fault (~2-5 us here), and each JS function it runs writes its own
  // (its bytecode's age, its interrupt budget: Sparkplug code, which a fork
  // server's few calls a second never leave). Five such functions were ~10
  // faults a fork().
  if (liveWorkers.size !== 0) refuseWhileWorkersRun();
  // Parking V8's workers needs the per-ABI addon: without a build for this
  // Node, fork() throws (NodeAddonUnavailableError) before anything changed.
  const addonPath = forkAddonPath ?? (forkAddonPath = nodeAddonPath('fork()'));
  // In Node 20 a pipe on stdout/stderr is non-blocking: output still queued
  // at _exit would be lost, and output queued at fork would be written
  // twice. The flag lives in the file description, which parent and child
  // share (and which any other process sharing it may change: so at every fork).
  (process.stdout as unknown as StdioHandle)._handle?.setBlocking?.(true);
  (process.stderr as unknown as StdioHandle)._handle?.setBlocking?.(true);
  if (!childPathWarm) warmForkedChildPath();
  // The pid comes back in forkPidCell's Int32Array, if this Node gives one:
  // a number made by the native call after fork(2) would cost the parent two
  // more page faults (copies, while the child runs) at every fork.
  const cell = pidCell === undefined ? (pidCell = native.forkPidCell() ?? null) : pidCell;
  // Between attempts control returns to JS, where V8 can serve what a busy
  // worker waits for (a GC it requested from the main thread, say).
  let pid: number;
  for (let attempt = 1; ; attempt++) {
    try {
      if (cell === null) pid = native.fork(addonPath, childBeforeExit, childLoopEnded);
      else {
        native.fork(addonPath, childBeforeExit, childLoopEnded, cell);
        pid = cell[0]!;
      }
      break;
    } catch (error) {
      if (attempt === forkAttempts || (error as { code?: unknown }).code !== 'ERR_FORK_WORKERS_BUSY') throw error;
    }
  }
  if (pid === 0) becomeChild();
  return pid;
}

let forkAddonPath: string | undefined; // nodeAddonPath's answer, once it gave one
let pidCell: Int32Array | null | undefined; // forkPidCell()'s answer (null: none), from the first fork on

// ---- Workers: fork() refuses while any exists ---------------------------------------
// A Worker's isolate may hold a process-wide V8 lock (cppgc's, during a major
// GC's atomic pause) at the instant of the fork; in the child that thread does
// not exist, the lock is never released and the child hangs in its first
// major GC. Workers cannot be parked safely (one blocked in Atomics.wait or a
// system call never reaches a safe point), so fork() refuses while they exist.
// A Worker counts from its construction - its thread starts inside the
// constructor, while Node's own 'worker' event only comes on the next tick,
// too late for `new Worker(...); fork()` - until its 'exit', which Node emits
// after the thread was joined. The constructor is seen through
// EventEmitter.init, which every EventEmitter's constructor calls (one
// instanceof per emitter made on this thread). Workers created before this
// module was loaded are only seen by the native side if they load sockfd
// themselves (native/fork.cc counts those environments).
const liveWorkers = new Set<Worker>();
if (isMainThread) {
  type Init = (this: unknown, ...args: unknown[]) => unknown;
  const emitters = EventEmitter as unknown as { init: Init };
  const init = emitters.init;
  emitters.init = function (this: unknown, ...args: unknown[]): unknown {
    const result = init.apply(this, args);
    if (this instanceof Worker) countWorker(this);
    return result;
  };
}

function countWorker(worker: Worker): void {
  liveWorkers.add(worker);
  worker.once('exit', () => liveWorkers.delete(worker));
  // A constructor that threw (bad arguments) started no thread: its threadId getter throws.
  process.nextTick(() => {
    try {
      if (typeof worker.threadId === 'number') return;
    } catch {
      // no handle: never started
    }
    liveWorkers.delete(worker);
  });
}

/** The error of a fork() refused because Workers exist. */
export interface ForkWorkersError extends Error {
  code: 'ERR_FORK_WORKERS';
  /** How many Workers exist. */
  workers: number;
}

function refuseWhileWorkersRun(): void {
  const workers = liveWorkers.size;
  if (workers === 0) return; // the native side checks the Workers it counts itself (fork() calls this only when some exist)
  const count = workers === 1 ? '1 Worker thread is' : `${workers} Worker threads are`;
  const error = new Error(
    `fork: ${count} running; a child forked now could hang forever (a Worker's isolate may hold a ` +
      `process-wide V8 lock at the fork, and the child has no thread to release it). End the Workers ` +
      `(await worker.terminate()) before fork()`,
  ) as ForkWorkersError;
  error.code = 'ERR_FORK_WORKERS';
  error.workers = workers;
  throw error;
}

const forkAttempts = 3; // fork() tries again while V8's workers are busy (ERR_FORK_WORKERS_BUSY)

// ---- rlimits -----------------------------------------------------------------------
/** getrlimit(2): `{ soft, hard }` as numbers (Infinity = RLIM_INFINITY), or exact bigints. */
export function getrlimit(resource: number): Rlimit;
export function getrlimit(resource: number, options: { bigint: true }): RlimitBigInt;
export function getrlimit(resource: number, options?: { bigint?: boolean }): Rlimit | RlimitBigInt {
  return options?.bigint === true ? native.getrlimit(resource, true) : native.getrlimit(resource);
}

/**
 * setrlimit(2). Values are integers, Infinity or bigints (RLIM_INFINITY is
 * Infinity or 2n ** 64n - 1n). `hard` defaults to the current hard limit.
 */
export function setrlimit(resource: number, soft: RlimitValue, hard?: RlimitValue): void;
export function setrlimit(resource: number, limit: { soft: RlimitValue; hard?: RlimitValue }): void;
export function setrlimit(
  resource: number,
  limit: RlimitValue | { soft: RlimitValue; hard?: RlimitValue },
  hard?: RlimitValue,
): void {
  if (typeof limit === 'object' && limit !== null) native.setrlimit(resource, limit.soft, limit.hard);
  else native.setrlimit(resource, limit, hard);
}

// ---- signals ------------------------------------------------------------------------
enum Disposition {
  Default = 0,
  Ignore = 1,
  Handler = 2,
}

const handlers = new Map<number, SignalHandler>();
let dispatcherInstalled = false;

function dispatch(signalNumber: number): void {
  handlers.get(signalNumber)?.(signalNumber);
}

/**
 * signal(2) done with sigaction and without SA_RESTART: a handler runs while
 * the main thread is blocked in a call of this package (the call then
 * resumes, or throws EINTR after setRestartAfterSignal(false)), and soon
 * after arrival while JS runs. 'ignore' and 'default' are SIG_IGN and
 * SIG_DFL (signal(SIGCHLD, 'ignore') makes the kernel reap children).
 * Refused with EINVAL: SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGPROF and glibc's 32/33. Do not mix with process.on(sig) for one signal.
 */
export function signal(signalNumber: number, disposition: SignalDisposition): PreviousDisposition {
  let mode: Disposition;
  if (typeof disposition === 'function') mode = Disposition.Handler;
  else if (disposition === 'ignore') mode = Disposition.Ignore;
  else if (disposition === 'default') mode = Disposition.Default;
  else throw new TypeError("disposition must be a function, 'ignore' or 'default'");
  if (mode === Disposition.Handler && !dispatcherInstalled) {
    native.setSignalDispatcher(dispatch);
    dispatcherInstalled = true;
  }
  const before = native.signalAction(signalNumber, mode);
  const previousHandler = handlers.get(signalNumber);
  if (typeof disposition === 'function') handlers.set(signalNumber, disposition);
  else handlers.delete(signalNumber);
  if (before === Disposition.Handler && previousHandler) return previousHandler;
  if (before === Disposition.Ignore) return 'ignore';
  if (before === Disposition.Default) return 'default';
  return 'foreign';
}

/** Whether a blocking call resumes after its signal handlers ran (true, the default) or throws EINTR. */
export const setRestartAfterSignal: (restart: boolean) => void = native.setRestartAfterSignal;
/** The current setRestartAfterSignal() choice. */
export const getRestartAfterSignal: () => boolean = native.getRestartAfterSignal;
