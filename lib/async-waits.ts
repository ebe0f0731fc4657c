// The waits of lib/async.ts: every call that would block waits here for its
// fd's readiness, on ONE Readiness (native/readiness.cc) per environment and
// fork epoch - one epoll set on this thread's loop, every ready fd of a loop
// turn handled in one JS call (no per-fd watcher, no per-wait N-API call).
//
// The set of an environment is made at its first wait and lives as long as
// the environment (a forked child makes its own): one epoll fd, never again
// per connection (a new set costs ~23 us), and none in a process that makes
// no async call (the tutorial's programs show their /proc/<pid>/fd as C's
// do). An fd stays in the set, level-triggered, from its
// first wait until it is closed through sockfd, with the events its waiters asked for: a recv/send
// loop that waits again for the same events costs no epoll_ctl. When the set
// reports an fd that nobody waits on for those events, the registration is
// narrowed then (or the fd taken out), once.
//
// What the set cannot do alone is in native/async_poll.cc: the keeper that
// holds the loop while calls wait (the set itself is unreferenced: an idle
// registered fd must not keep the process alive), close() of a registered fd
// (native close calls `closed` below, which takes the fd out of the set before
// its number is free and rejects its waits), and fork (the child forgets the
// parent's registrations: the epoll set is shared with the parent).
import { binding } from './native.js';
import { EBADF } from './constants.js';
import { isSyscallError, syscallError, type SyscallError } from './errors.js';
import { forkEpoch } from './fork-epoch.js';

/** The poll watchers of this thread's event loop (one per fd ever waited on and still open). */
export interface WatcherStats {
  /** fds registered in this thread's readiness set (each waited on at least once and not closed since). */
  watchers: number;
  /** Registered fds some call waits on. */
  active: number;
  /** Calls waiting. */
  waiters: number;
}

interface NativeReadiness {
  control(op: number, fd: number, events: number, generation: number): void;
  close(): void;
  unref(): void;
  readonly fds: Int32Array;
  readonly events: Int32Array;
  /** The epoll fd (-1 once closed). */
  readonly fd: number;
}

interface WaitsBinding {
  asyncGeneration(fd: number): number;
  asyncGenerations(): Uint32Array | undefined;
  Readiness: new (dispatch: (count: number) => void) => NativeReadiness;
  asyncCore(onClosed: (fd: number, why: string) => void): Int32Array;
  asyncWatch(fd: number): void;
  asyncKeepAlive(on: boolean): void;
  asyncEvents: { readable: number; writable: number; failed: number };
}

const native = binding as unknown as WaitsBinding;
/** Data to read, a connection to accept, or EOF (EPOLLIN). */
export const READABLE: number = native.asyncEvents.readable;
/** Room to send, or a finished connect (EPOLLOUT). */
export const WRITABLE: number = native.asyncEvents.writable;
/** An error or hang-up, reported whatever was asked: every waiter of the fd retries its call. */
const FAILED: number = native.asyncEvents.failed;

// How many times `fd` was closed through sockfd (any thread): read from the
// native table without a call for the common numbers (native/async_poll.cc).
const generationTable = native.asyncGenerations() ?? new Uint32Array(0);

/** The fd number's generation: it moves on at every close (dup2 onto it, hand-off) through sockfd, in any thread. */
export function generationOf(fd: number): number {
  return fd === (fd | 0) && fd >= 0 && fd < generationTable.length ? generationTable[fd]! : native.asyncGeneration(fd);
}

const ADD = 0;
const MODIFY = 1;
const DELETE = 2;

// The Int32Array shared with native/async_poll.cc.
const WAITING = 0; // calls waiting (written here)
const REFERENCED = 1; // the keeper holds the loop (written there)
const IN_BATCH = 2; // a batch was dispatched this loop turn: the keeper's check comes after its reactions

/**
 * One wait for an fd's readiness: a call of lib/async.ts (which retries its
 * system call right there, no promise per wait) or the raw promise wait.
 */
export interface Waiter {
  /** READABLE and/or WRITABLE. */
  readonly events: number;
  /**
   * True when ready() runs no code but the library's (its system call, then
   * its own promise settled): the dispatch may then run it at once. The others
   * - a promise whose reactions are anyone's code - are resolved in order, and
   * the direct waiters after one of them run in a microtask queued at their
   * place, so that every continuation still runs in the order the waits came.
   */
  readonly direct: boolean;
  /** The fd is ready for one of `events` (or failed: every waiter retries its call). */
  ready(events: number): void;
  /** The wait ended without readiness (close, cancel) with `reason`. */
  fail(reason: unknown): void;
}

/** The raw wait (binding.asyncWait): a promise of the ready events. */
class PromiseWaiter implements Waiter {
  readonly direct = false;
  constructor(
    readonly events: number,
    readonly id: number,
    readonly ready: (events: number) => void,
    readonly fail: (reason: unknown) => void,
  ) {}
}

// Direct waiters that came after a promise waiter in one dispatch: run in the
// microtask queued where they stand (pairs of waiter and events).
function runLater(batch: (Waiter | number)[]): void {
  for (let i = 0; i < batch.length; i += 2) (batch[i] as Waiter).ready(batch[i + 1] as number);
}

/** One registered fd: its waiters in the order they came, and what the set has for it. */
class Watch {
  /**
   * Its waiters, the first `count` slots (the rest undefined): the array
   * never shrinks, so the wait after a wait stores into a slot - no array
   * length change and no growth per wait.
   */
  readonly waiters: (Waiter | undefined)[] = [];
  count = 0;
  /** The events of its registration in the set (0: not in the set). */
  registered = 0;
  /** The tag its registration carries in the events (stale events of an older registration are dropped). */
  tag = 0;
  constructor(
    /** The fd number's generation when it was registered: another thread's close moves it on. */
    readonly generation: number,
  ) {}
}

/** The poll error a failed registration becomes: lib/async.ts names the caller's call instead. */
function pollError(error: unknown): unknown {
  if (!isSyscallError(error) || error.syscall !== 'epoll_ctl') return error;
  return syscallError('poll', error.code, error.errno, error.message.slice('epoll_ctl: '.length));
}

/** Why a pending wait ended without readiness: an EBADF that names the fd. */
function waitEnded(fd: number, why: string): SyscallError & { fd: number } {
  const error = syscallError('poll', 'EBADF', EBADF, `fd ${fd} was ${why} while a wait on it was pending (Bad file descriptor)`) as SyscallError & { fd: number };
  error.fd = fd;
  return error;
}

/** The waits of one environment in one fork epoch. */
class Waits {
  readonly epoch = forkEpoch;
  readonly #watches: (Watch | undefined)[] = [];
  #watchers = 0;
  #active = 0;
  #nextTag = 1;
  readonly #shared: Int32Array;
  readonly #set: NativeReadiness;
  readonly #fds: Int32Array;
  readonly #events: Int32Array;
  /** The events of the dispatch's ready waiters, reused from batch to batch (numbers: no write barrier). */
  readonly #readyEvents: number[] = [];

  constructor() {
    this.#shared = native.asyncCore((fd, why) => this.#closed(fd, why));
    this.#set = new native.Readiness((count) => this.#dispatch(count));
    this.#set.unref(); // the keeper holds the loop, while calls wait
    this.#fds = this.#set.fds;
    this.#events = this.#set.events;
  }

  stats(): WatcherStats {
    return { watchers: this.#watchers, active: this.#active, waiters: this.#shared[WAITING]! };
  }

  /**
   * Adds `waiter` to `fd`'s waits; throws (a poll error) when the fd cannot
   * be registered. `generation`: the fd number's generation as the caller
   * just read it (generationOf).
   */
  add(fd: number, waiter: Waiter, generation: number): void {
    // The common wait - the fd registered, for these events, and its number
    // not closed elsewhere since - is small enough for V8 to inline into the
    // caller; everything else is #addRegistering's.
    // Written out here, not #append's and #count's calls: their bytecode
    // counts against the caller's inlining budget too, and this is every
    // wait of an echo loop (test/async-echo-round.test.ts).
    const watch = this.#watches[fd];
    if (watch !== undefined && (watch.registered & waiter.events) === waiter.events && watch.generation === generation) {
      watch.waiters[watch.count] = waiter;
      if (++watch.count === 1) this.#active++;
      const shared = this.#shared;
      shared[WAITING]++; // #count(1): the keeper holds the loop from the first wait on
      if (shared[REFERENCED] === 0) native.asyncKeepAlive(true);
      return;
    }
    this.#addRegistering(fd, waiter);
  }

  #append(watch: Watch, waiter: Waiter): void {
    watch.waiters[watch.count] = waiter;
    if (++watch.count === 1) this.#active++;
    this.#count(1);
  }

  #addRegistering(fd: number, waiter: Waiter): void {
    const events = waiter.events;
    let watch = this.#watches[fd];
    if (watch !== undefined && watch.generation !== generationOf(fd)) {
      // The registration belongs to a file that is gone - closed through
      // sockfd by another thread, which could not tell this one: forgotten,
      // its waits ended as at close.
      this.#closed(fd, 'closed');
      watch = undefined;
    }
    if (watch === undefined) {
      watch = new Watch(generationOf(fd));
      try {
        this.#register(fd, watch, events); // first: it validates the fd (RangeError, EBADF) before anything is kept
      } catch (error) {
        throw pollError(error);
      }
      native.asyncWatch(fd);
      this.#watches[fd] = watch;
      this.#watchers++;
    } else if ((watch.registered & events) !== events) {
      try {
        this.#register(fd, watch, events | union(watch));
      } catch (error) {
        throw pollError(error);
      }
    }
    this.#append(watch, waiter);
  }

  /** Ends `waiter`'s pending wait on `fd` with `reason` (its fail()); false when it is not pending (any more). */
  cancel(fd: number, waiter: Waiter, reason: unknown): boolean {
    const watch = this.#watches[fd];
    if (watch === undefined) return false;
    const waiters = watch.waiters;
    const count = watch.count;
    let i = 0;
    while (i < count && waiters[i] !== waiter) i++;
    if (i === count) return false;
    for (; i < count - 1; i++) waiters[i] = waiters[i + 1];
    waiters[count - 1] = undefined;
    if (--watch.count === 0) this.#active--;
    this.#count(-1);
    waiter.fail(reason); // the registration is narrowed when the set next reports the fd
    return true;
  }

  /** The set's epoll fd (-1 once closed). */
  get fd(): number {
    return this.#set.fd;
  }

  /** Stops the set (a forked child drops the parent's: it must not change it). */
  abandon(): void {
    this.#set.close();
  }

  #register(fd: number, watch: Watch, events: number): void {
    if (watch.registered === 0) {
      const tag = this.#nextTag;
      this.#set.control(ADD, fd, events, tag);
      this.#nextTag = tag === 0x7fffffff ? 1 : tag + 1;
      watch.tag = tag;
    } else {
      this.#set.control(MODIFY, fd, events, watch.tag);
    }
    watch.registered = events;
  }

  /** Registers what the waiters still want, or takes the fd out of the set when nobody waits. */
  #narrow(fd: number, watch: Watch): void {
    const wanted = union(watch);
    if (wanted === watch.registered) return;
    try {
      if (wanted === 0) {
        watch.registered = 0;
        this.#set.control(DELETE, fd, 0, 0);
      } else {
        this.#register(fd, watch, wanted);
      }
    } catch {
      watch.registered = 0; // the fd is gone (closed without sockfd): the next wait registers it again
    }
  }

  /** The waiting count, and the keeper: held from the first wait; let go by its check after a batch, or here. */
  #count(delta: number): void {
    const shared = this.#shared;
    const waiting = shared[WAITING]! + delta;
    shared[WAITING] = waiting;
    if ((waiting > 0) === (shared[REFERENCED] === 0)) this.#keep(waiting); // small: the common case changes nothing
  }

  #keep(waiting: number): void {
    if (waiting > 0) native.asyncKeepAlive(true);
    else if (this.#shared[IN_BATCH] === 0) native.asyncKeepAlive(false);
  }

  // The one JS call per loop turn: every ready fd of the batch, in order.
  //
  // The common batch - every reported fd has one waiter, a direct one (a call
  // of lib/async.ts: its system call and its own promise, nothing else), ready
  // for what was reported, as in a server that waits on each connection for
  // its next request - is run fd by fd in one pass: the waiter taken off, then
  // run. That is the order the general form below gives, without its arrays.
  // A direct waiter touches nothing but its own fd (a wait again on it), so
  // taking the next fd's waiter off after it, not before, changes nothing.
  //
  // From the first fd that is not like that on, the general form: the ready
  // waiters are taken off first (every fd's waits and counts settled), then
  // run in the order they came: the direct ones here, until the first promise
  // waiter is resolved; from there on every run of direct waiters goes into a
  // microtask queued at its place, after the reactions of the promises before
  // it - as if each had been a promise.
  #dispatch(count: number): void {
    if (this.epoch !== forkEpoch) {
      this.abandon(); // a forked child's copy of the parent's set
      return;
    }
    this.#shared[IN_BATCH] = 1;
    const fds = this.#fds;
    const events = this.#events;
    const watches = this.#watches;
    let i = 0;
    let taken = 0;
    for (; i < count; i++) {
      const watch = watches[fds[i]!];
      if (watch === undefined || watch.tag !== events[2 * i + 1]) continue;
      const waiter = watch.waiters[0];
      const reported = events[2 * i]!;
      if (watch.count !== 1 || !waiter!.direct || ((waiter!.events & reported) === 0 && (reported & FAILED) === 0)) break;
      watch.waiters[0] = undefined;
      watch.count = 0;
      this.#active--;
      taken++;
      waiter!.ready(reported); // may wait on its fd again: counted there
    }
    if (taken !== 0) this.#count(-taken);
    if (i < count) this.#dispatchRest(i, count);
  }

  /** The general form of #dispatch, from batch entry `first` on. */
  #dispatchRest(first: number, count: number): void {
    const fds = this.#fds;
    const events = this.#events;
    // A new array per batch: storing a (young) waiter into it needs no
    // write barrier's remembered-set entry, as one kept from batch to batch
    // (old) would, for every waiter.
    const ready: Waiter[] = new Array<Waiter>(count - first);
    const readyEvents = this.#readyEvents;
    let readyCount = 0;
    let emptied = 0;
    for (let i = first; i < count; i++) {
      const fd = fds[i]!;
      const watch = this.#watches[fd];
      if (watch === undefined || watch.tag !== events[2 * i + 1]) continue;
      const reported = events[2 * i]!;
      const all = (reported & FAILED) !== 0; // every waiter retries and meets the error (or EOF)
      const waiters = watch.waiters;
      const waiting = watch.count;
      let kept = 0;
      for (let j = 0; j < waiting; j++) {
        const waiter = waiters[j]!;
        if (all || (waiter.events & reported) !== 0) {
          ready[readyCount] = waiter;
          readyEvents[readyCount++] = reported;
        } else waiters[kept++] = waiter;
      }
      if (kept === waiting) {
        this.#narrow(fd, watch); // reported for nobody: stop reporting it
        continue;
      }
      for (let j = kept; j < waiting; j++) waiters[j] = undefined;
      watch.count = kept;
      if (kept === 0) emptied++;
    }
    if (readyCount === 0) return;
    this.#active -= emptied;
    this.#count(-readyCount);
    let direct = true; // no promise resolved yet: nothing but library code has run since the batch came
    let later: (Waiter | number)[] | undefined;
    for (let k = 0; k < readyCount; k++) {
      const waiter = ready[k]!;
      if (!waiter.direct) {
        direct = false;
        later = undefined; // direct waiters after this one go into a microtask of their own
        waiter.ready(readyEvents[k]!);
      } else if (direct) {
        waiter.ready(readyEvents[k]!);
      } else {
        if (later === undefined) {
          later = [];
          void Promise.resolve(later).then(runLater);
        }
        later.push(waiter, readyEvents[k]!);
      }
    }
  }

  // Called by native close (and dup2, and the hand-off to net) for a
  // registered fd, before its number is free: out of the set, waits rejected.
  #closed(fd: number, why: string): void {
    const watch = this.#watches[fd];
    if (watch === undefined) return;
    this.#watches[fd] = undefined;
    this.#watchers--;
    if (watch.registered !== 0) {
      try {
        this.#set.control(DELETE, fd, 0, 0);
      } catch {
        // Already gone from the set (the file was closed another way): nothing to take out.
      }
    }
    const waiters = watch.waiters;
    const count = watch.count;
    if (count === 0) return;
    watch.count = 0;
    this.#active--;
    this.#count(-count);
    const error = waitEnded(fd, why);
    for (let i = 0; i < count; i++) waiters[i]!.fail(error);
  }
}

function union(watch: Watch): number {
  let events = 0;
  for (let i = 0; i < watch.count; i++) events |= watch.waiters[i]!.events;
  return events;
}

let current: Waits | undefined;

/** This environment's waits; a forked child starts afresh (the parent's calls stay pending there). */
function waits(): Waits {
  const waits = current;
  return waits !== undefined && waits.epoch === forkEpoch ? waits : renewWaits();
}

function renewWaits(): Waits {
  current?.abandon();
  current = new Waits();
  return current;
}

/**
 * Adds `waiter` to `fd`'s waits in this environment (lib/async.ts's calls);
 * throws a poll error when the fd cannot be registered. `generation`: the fd
 * number's generation, as the caller read it just before (generationOf).
 */
export function waitOn(fd: number, waiter: Waiter, generation: number): void {
  waits().add(fd, waiter, generation);
}

/** Ends `waiter`'s pending wait on `fd` with `reason`; false when it is not pending. */
export function cancelWait(fd: number, waiter: Waiter, reason: unknown): boolean {
  return current !== undefined && current.epoch === forkEpoch && current.cancel(fd, waiter, reason);
}

/** Resolves with the ready events once `fd` is ready for one of `events`: the raw promise wait. */
export function waitFor(fd: number, events: number, id: number): Promise<number> {
  if (!Number.isInteger(events) || events <= 0 || (events & ~(READABLE | WRITABLE)) !== 0)
    throw new RangeError(`events must be READABLE and/or WRITABLE, got ${String(events)}`);
  return new Promise<number>((resolve, reject) => {
    try {
      waitOn(fd, new PromiseWaiter(events, id, resolve, reject), generationOf(fd));
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * The epoll fd of this environment's set, or -1 while there is none (before
 * the first wait, in a forked child before its own). For fd censuses: the set
 * is the library's, kept for the environment once made, like libuv's own.
 */
export function asyncSetFd(): number {
  return current === undefined || current.epoch !== forkEpoch ? -1 : current.fd;
}

/** The registrations and waits of this thread (diagnostics: a leak shows as watchers that never go). */
export function waitStats(): WatcherStats {
  return current === undefined || current.epoch !== forkEpoch ? { watchers: 0, active: 0, waiters: 0 } : current.stats();
}

// The raw wait stays where the lifetime tests (test/async-lifetimes.test.ts)
// reach it: binding.asyncWait(fd, events, id), a native call before the waits
// moved onto the Readiness. Not enumerable: it is no export of the addon.
Object.defineProperty(binding, 'asyncWait', { value: waitFor, enumerable: false });
