// A batched readiness interface: the cheap way to drive many sockets on
// Node's event loop. One epoll set per Readiness (native/readiness.cc); every
// fd that is ready in one loop turn is handled in ONE call from native code
// into JS, which calls each fd's handler synchronously: no promise, no
// allocation and no N-API call per event. Handlers then use the
// non-throwing calls (recvNonBlocking / sendNonBlocking: -EAGAIN is a
// number) and, where they fit, the V8 fast calls behind them.
//
//   const readiness = new Readiness();
//   readiness.watch(fd, READABLE, (events) => { ... recvNonBlocking(fd, buffer) ... });
//   ...
//   readiness.unwatch(fd); close(fd);      // unwatch BEFORE close (the fd number may be reused)
//
// Level-triggered by default (a handler that leaves data unread is called
// again next turn); EDGE and ONESHOT are epoll's. wait(fd, events) is the
// promise form, built on the same set. A Readiness keeps the process alive
// only while it watches something. Each environment (main thread, worker)
// uses its own: a Readiness is bound to the loop of the thread that made it.
import { binding } from './native.js';

export { recvNonBlocking, sendNonBlocking } from './fast-io.js';

const c = binding.constants as Record<string, number>;
/** Data to read (or a connection to accept, or EOF). */
export const READABLE: number = c.EPOLLIN!;
/** Room to write (or a non-blocking connect finished). */
export const WRITABLE: number = c.EPOLLOUT!;
/** The peer shut down its writing side. */
export const PEER_CLOSED: number = c.EPOLLRDHUP!;
/** Urgent data. */
export const PRIORITY: number = c.EPOLLPRI!;
/** Reported without being asked for: an error is pending on the socket (the next call reports it). */
export const ERROR: number = c.EPOLLERR!;
/** Reported without being asked for: hang-up. */
export const HANGUP: number = c.EPOLLHUP!;
/** Edge-triggered: report a change once, not a state every turn. */
export const EDGE: number = c.EPOLLET!;
/** Report once, then stay registered but silent until modify() re-arms. */
export const ONESHOT: number = c.EPOLLONESHOT!;

/** Called with the ready events of `fd` (READABLE | WRITABLE | ERROR | HANGUP ... bits). */
export type ReadyHandler = (events: number, fd: number) => void;

interface NativeReadiness {
  control(op: 0 | 1 | 2, fd: number, events: number, generation: number): void;
  close(): void;
  readonly fds: Int32Array;
  readonly events: Int32Array;
}
type NativeReadinessClass = new (dispatch: (count: number) => void) => NativeReadiness;
const NativeReadiness = binding.Readiness as NativeReadinessClass;

const ADD = 0;
const MODIFY = 1;
const DELETE = 2;

/** One epoll set on this thread's event loop, with a handler per watched fd. */
export class Readiness {
  readonly #native: NativeReadiness;
  // By fd number: the handler and the generation of its watch. An event
  // carries the generation it was registered with; one from an older watch
  // of the same number (a file that is gone, or that a child still holds) is dropped.
  readonly #handlers: (ReadyHandler | undefined)[] = [];
  readonly #generations: number[] = [];
  #nextGeneration = 1;
  #closed = false;

  /** An empty set on this thread's event loop (its own epoll instance); watch() adds fds. */
  constructor() {
    const handlers = this.#handlers;
    const generations = this.#generations;
    let fds: Int32Array;
    let events: Int32Array;
    // The one JS call per loop turn: every ready fd of the batch, in order.
    const dispatch = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const fd = fds[i]!;
        const handler = handlers[fd];
        if (handler !== undefined && generations[fd] === events[2 * i + 1]) handler(events[2 * i]!, fd);
      }
    };
    this.#native = new NativeReadiness(dispatch);
    fds = this.#native.fds;
    events = this.#native.events;
  }

  /** Starts watching `fd` for `events` (READABLE, WRITABLE, ... and EDGE/ONESHOT); `handler` gets each report. */
  watch(fd: number, events: number, handler: ReadyHandler): void {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#live();
    if (this.#handlers[fd] !== undefined) throw new Error(`fd ${fd} is already watched by this Readiness (use modify())`);
    const generation = this.#nextGeneration;
    this.#native.control(ADD, fd, events, generation);
    this.#nextGeneration = generation === 0x7fffffff ? 1 : generation + 1;
    this.#handlers[fd] = handler;
    this.#generations[fd] = generation;
  }

  /** Changes the events (and optionally the handler) of a watched fd; also re-arms a ONESHOT watch. */
  modify(fd: number, events: number, handler?: ReadyHandler): void {
    this.#live();
    const generation = this.#generations[fd];
    if (this.#handlers[fd] === undefined || generation === undefined) throw new Error(`fd ${fd} is not watched by this Readiness`);
    this.#native.control(MODIFY, fd, events, generation);
    if (handler !== undefined) this.#handlers[fd] = handler;
  }

  /** Stops watching `fd`. Call it before close(fd): the fd number may be reused at once. */
  unwatch(fd: number): void {
    this.#live();
    if (this.#handlers[fd] === undefined) return;
    this.#handlers[fd] = undefined;
    this.#generations[fd] = 0;
    try {
      this.#native.control(DELETE, fd, 0, 0);
    } catch (error) {
      // Already closed (EBADF) or never added here (ENOENT): nothing is watched, which is what was asked.
      const code = (error as { code?: unknown }).code;
      if (code !== 'EBADF' && code !== 'ENOENT') throw error;
    }
  }

  /** Whether `fd` is watched by this Readiness. */
  watching(fd: number): boolean {
    return this.#handlers[fd] !== undefined;
  }

  /**
   * The promise form: resolves with the events once `fd` is ready for any of
   * `events`, once. `fd` must not be watched otherwise by this Readiness.
   */
  wait(fd: number, events: number): Promise<number> {
    return new Promise((resolve, reject) => {
      try {
        this.watch(fd, events | ONESHOT, (ready) => {
          this.unwatch(fd);
          resolve(ready);
        });
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Stops everything; the epoll fd is closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.length = 0;
    this.#native.close();
  }

  #live(): void {
    if (this.#closed) throw new Error('this Readiness is closed');
  }
}
