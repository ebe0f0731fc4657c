// The fuzzer's world: a seeded random source, the pool of fds it may use
// (its own sockets, pipes and files; never an fd the process held before it
// started), and the hostile values and actions (detach, resize, close, throw)
// that getters, proxies and signal handlers perform in the middle of a call.
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';

/** sfc32 seeded from one integer: the same seed gives the same sequence. */
export function makeRandom(seed) {
  let a = 0x9e3779b9 ^ seed, b = 0x243f6a88 ^ (seed * 7), c = 0xb7e15162, d = 1;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  const random = {
    next,
    /** An integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** True with probability p. */
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    /** An integer in [min, max]. */
    range: (min, max) => min + Math.floor(next() * (max - min + 1)),
  };
  return random;
}

// A detached buffer's memory lives on in its transferred twin until a GC frees
// it: the fuzzer collects at once, so a stale pointer meets freed memory (ASan).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');

/** Detaches `buffer` and, often, frees its memory right away. */
export function detach(buffer, random) {
  structuredClone(buffer, { transfer: [buffer] });
  if (random.chance(0.5)) collect();
}

/** Thrown on purpose by getters and handlers: natives must pass it through unchanged. */
export const Sentinel = Object.freeze({ fuzzSentinel: true });

/**
 * The per-call context: the buffers and fds the arguments built so far use,
 * which getters and signal handlers may detach, resize or close.
 */
export class CallContext {
  constructor(world) {
    this.world = world;
    this.buffers = [];
    this.fds = [];
    this.reasons = new Set(); // values given to asyncCancel as a rejection reason
  }
}

const MAX_FD_NUMBER = 2 ** 31 - 1;

export class World {
  constructor({ binding, posix, seed }) {
    this.binding = binding;
    this.c = binding.constants;
    this.posix = posix;
    this.random = makeRandom(seed);
    this.dir = mkdtempSync(join(tmpdir(), 'sockfd-fuzz-'));
    writeFileSync(join(this.dir, 'file'), Buffer.alloc(65536, 0x61));
    this.pool = [];
    this.listenPort = 0;
    this.udpPort = 0;
    this.udp6Port = 0;
    this.unixPath = join(this.dir, 'listen.sock');
    this.abstractName = `\0sockfd-fuzz-${process.pid}`;
    this.serial = 0;
    this.current = new CallContext(this);
    // Every fd the process holds now is the process's: the fuzzer never passes
    // one of them to a native and checks after each epoch that all are intact.
    this.baseline = new Map();
    for (const fd of openFds()) {
      try {
        const st = fstatSync(fd);
        this.baseline.set(fd, `${st.dev}:${st.ino}`);
      } catch {
        /* the directory listing's own fd, already closed */
      }
    }
    // An fd number that can never be allocated (at or above the hard limit).
    const { hard } = binding.getrlimit(this.c.RLIMIT_NOFILE);
    this.neverFd = Number.isFinite(hard) && hard < MAX_FD_NUMBER ? hard + 7 : MAX_FD_NUMBER;
  }

  // ---- the pool ----------------------------------------------------------------
  /** Closes every fd the fuzzer made, then makes a fresh pool. */
  refill() {
    this.closeOwned();
    // Fuzzed mkdirat/unlinkat/renameat/O_TRUNC change the directory: start it afresh.
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { recursive: true, force: true });
    writeFileSync(join(this.dir, 'file'), Buffer.alloc(65536, 0x61));
    const b = this.binding, c = this.c;
    const bounded = (fd) => {
      // Most pool sockets are non-blocking (EAGAIN at once); the blocking
      // ones time out within a few ms, and the watchdog's signal ends any
      // call that a fuzzed setsockopt or fcntl made unbounded.
      try {
        b.setsockopt(fd, c.SOL_SOCKET, c.SO_RCVTIMEO, 3);
        b.setsockopt(fd, c.SOL_SOCKET, c.SO_SNDTIMEO, 3);
      } catch {}
      this.pool.push(fd);
      return fd;
    };
    this.peers = new Map(); // fd -> the other end: what a handler writes to, so a resumed receive gets data
    const pair = (x, y) => {
      this.peers.set(x, y);
      this.peers.set(y, x);
    };
    const listen = bounded(b.socket(c.AF_INET, c.SOCK_STREAM));
    b.setsockopt(listen, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
    b.bind(listen, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    b.listen(listen, 64);
    this.listenPort = b.getsockname(listen).port;
    const client = bounded(b.socket(c.AF_INET, c.SOCK_STREAM));
    b.connect(client, { family: 'AF_INET', address: '127.0.0.1', port: this.listenPort });
    pair(client, bounded(b.accept(listen).fd));
    const udp = bounded(b.socket(c.AF_INET, c.SOCK_DGRAM));
    b.bind(udp, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    this.udpPort = b.getsockname(udp).port;
    try {
      const udp6 = bounded(b.socket(c.AF_INET6, c.SOCK_DGRAM));
      b.bind(udp6, { family: 'AF_INET6', address: '::1', port: 0 });
      this.udp6Port = b.getsockname(udp6).port;
    } catch {
      this.udp6Port = this.udpPort;
    }
    for (const type of [c.SOCK_STREAM, c.SOCK_DGRAM, c.SOCK_SEQPACKET]) {
      const [x, y] = b.socketpair(c.AF_UNIX, type);
      pair(bounded(x), bounded(y));
    }
    // A blocking pair with nothing to read and a longer timeout (100 ms): a receive
    // there waits until a signal arrives (the watchdog's, every few ms), so
    // fast calls meet EINTR (test/fuzz/fast.mjs) and the N-API path resumes them.
    const [quiet, quietPeer] = b.socketpair(c.AF_UNIX, c.SOCK_STREAM);
    pair(bounded(quiet), bounded(quietPeer));
    b.setsockopt(quiet, c.SOL_SOCKET, c.SO_RCVTIMEO, 100);
    this.waitingFd = quiet;
    const unixListen = bounded(b.socket(c.AF_UNIX, c.SOCK_STREAM));
    b.bind(unixListen, { family: 'AF_UNIX', path: this.unixPath });
    b.listen(unixListen, 8);
    const [readEnd, writeEnd] = b.pipe(c.O_NONBLOCK);
    this.pool.push(readEnd, writeEnd);
    this.peers.set(readEnd, writeEnd);
    this.pool.push(b.open(join(this.dir, 'file'), c.O_RDWR));
    this.pool.push(b.open('/dev/null', c.O_RDWR));
    this.dirFd = b.open(this.dir, c.O_RDONLY | c.O_DIRECTORY); // the only dirfd the *at calls get
    this.pool.push(this.dirFd);
    for (const fd of this.pool)
      if (fd !== quiet && this.random.chance(0.75)) b.fcntl(fd, c.F_SETFL, b.fcntl(fd, c.F_GETFL) | c.O_NONBLOCK);
    const closed = b.socket(c.AF_INET, c.SOCK_DGRAM);
    b.close(closed); // a number that was ours and is closed now (until someone takes it)
    this.closedFd = closed;
    this.owned = new Set(this.pool);
  }

  /** Records fds a native returned: they are the fuzzer's to close. */
  adopt(fds) {
    for (const fd of fds) if (Number.isInteger(fd) && fd >= 0 && !this.baseline.has(fd)) this.owned.add(fd);
  }

  /** Closes the pool, the adopted fds and any other fd made since the last refill (a native that created one without returning it). */
  closeOwned() {
    let strays = 0;
    const mine = new Set(this.owned ?? []);
    for (const fd of openFds()) {
      if (this.baseline.has(fd) || mine.has(fd)) continue;
      mine.add(fd);
      strays++;
      if (process.env.FUZZ_DEBUG) {
        let what = '?';
        try { what = readlinkSync(`/proc/self/fd/${fd}`); } catch {}
        process.stderr.write(`fuzz: stray fd ${fd} = ${what}\n`);
      }
    }
    for (const fd of mine) {
      if (this.baseline.has(fd)) continue;
      try {
        this.binding.close(fd);
      } catch {}
    }
    this.pool = [];
    this.owned = new Set();
    return strays;
  }

  /** Throws when an fd the process held at the start was closed or replaced. */
  checkBaseline() {
    for (const [fd, identity] of this.baseline) {
      let now = 'closed';
      try {
        const st = fstatSync(fd);
        now = `${st.dev}:${st.ino}`;
      } catch {}
      if (now !== identity) throw new Error(`fuzz: fd ${fd}, held by the process before the fuzzer started, is ${now === 'closed' ? 'closed' : 'another file'} now`);
    }
  }

  dispose() {
    this.closeOwned();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- actions of getters, proxies and signal handlers ------------------------------
  /** Something hostile, done to the current call's buffers and fds. */
  act(context = this.current) {
    const r = this.random;
    switch (r.int(9)) {
      case 0:
      case 1: {
        const buffer = r.pick(context.buffers);
        if (buffer instanceof ArrayBuffer && !buffer.detached) detach(buffer, r);
        break;
      }
      case 2: {
        const buffer = r.pick(context.buffers);
        if (buffer instanceof ArrayBuffer && buffer.resizable && !buffer.detached) buffer.resize(r.int(buffer.maxByteLength + 1));
        break;
      }
      case 3: {
        const fd = r.pick(context.fds);
        if (Number.isInteger(fd) && this.owned.has(fd)) {
          try {
            this.binding.close(fd);
            // The lowest free number is the one just closed: something else gets it.
            if (r.chance(0.5)) this.adopt([this.binding.socket(this.c.AF_UNIX, this.c.SOCK_DGRAM)]);
          } catch {}
        }
        break;
      }
      case 4:
        throw Sentinel;
      case 6: {
        // Data for a blocked receive: once the handler returns, the call resumes and the kernel writes.
        const fd = r.pick(context.fds);
        const peer = this.peers?.get(fd);
        if (peer !== undefined && this.owned.has(peer)) {
          try {
            this.binding.send(peer, Buffer.alloc(r.pick([1, 512, 8192]), 0x62), this.c.MSG_DONTWAIT | this.c.MSG_NOSIGNAL);
          } catch {
            try {
              this.binding.write(peer, Buffer.alloc(512, 0x62));
            } catch {}
          }
        }
        break;
      }
      case 5: {
        // Allocation that reuses freed memory, so a stale pointer reads or writes something real.
        const junk = [];
        for (let i = 0; i < 64; i++) junk.push(new ArrayBuffer(r.pick([16, 1024, 65536])));
        break;
      }
      default:
        break;
    }
  }

  // ---- values -------------------------------------------------------------------------
  /** A value of the wrong kind, or of the right kind out of range. */
  hostile(context = this.current) {
    const r = this.random;
    switch (r.int(34)) {
      case 0: return undefined;
      case 1: return null;
      case 2: return true;
      case 3: return NaN;
      case 4: return Infinity;
      case 5: return -Infinity;
      case 6: return -0;
      case 7: return 0.5;
      case 8: return -1;
      case 9: return 2 ** 31;
      case 10: return 2 ** 32;
      case 11: return 2 ** 53;
      case 12: return 2 ** 63;
      case 13: return -(2 ** 63);
      case 14: return 1e300;
      case 15: return 0n;
      case 16: return 2n ** 64n;
      case 17: return -1n;
      case 18: return '';
      case 19: return 'x'.repeat(r.pick([1, 108, 4096, 70000]));
      case 20: return 'a\0b';
      case 21: return Symbol('fuzz');
      case 22: return {};
      case 23: return [];
      case 24: return [1, 2, 3];
      case 25: return () => {};
      case 26: return Object.create(null);
      case 27: return this.trapObject(context, {});
      case 28: return this.trapProxy(context, {});
      case 29: return this.buffer(context);
      case 30: return new Array(r.pick([2 ** 32 - 1, 2 ** 20 + 1, 5]));
      case 31: return { valueOf: () => { this.act(context); return 3; }, toString: () => { this.act(context); return '3'; } };
      case 32: return '\ud800';
      default: return new Date(0);
    }
  }

  /** A hostile value that is no string (where a string could mean a DNS query or a path outside the fuzzer's directory). */
  hostileNoString(context = this.current) {
    for (;;) {
      const value = this.hostile(context);
      if (typeof value !== 'string') return value;
    }
  }

  /** `valid()` most of the time, a hostile non-string otherwise. */
  maybeNoString(valid, p = 0.12) {
    return this.random.chance(p) ? this.hostileNoString() : valid();
  }

  /** `valid()` most of the time, a hostile value otherwise. */
  maybe(valid, p = 0.12) {
    return this.random.chance(p) ? this.hostile() : valid();
  }

  /** `base` with every property behind a getter that may act (detach, close, throw) before returning it. */
  trapObject(context, base) {
    const object = {};
    for (const [key, value] of Object.entries(base)) {
      Object.defineProperty(object, key, {
        enumerable: true,
        get: () => {
          if (this.random.chance(0.25)) this.act(context);
          return value;
        },
      });
    }
    return object;
  }

  /** `base` behind a proxy whose traps may act. */
  trapProxy(context, base) {
    return new Proxy(base, {
      get: (target, key, receiver) => {
        if (this.random.chance(0.25)) this.act(context);
        return Reflect.get(target, key, receiver);
      },
      has: (target, key) => {
        if (this.random.chance(0.1)) this.act(context);
        return Reflect.has(target, key);
      },
      ownKeys: (target) => {
        if (this.random.chance(0.1)) this.act(context);
        return Reflect.ownKeys(target);
      },
    });
  }

  /** An object of `base`'s fields: plain, behind getters, or a proxy. */
  object(base, context = this.current) {
    const r = this.random;
    const roll = r.int(10);
    if (roll < 6) return base;
    if (roll < 9) return this.trapObject(context, base);
    return this.trapProxy(context, base);
  }

  /** An array of `items`: plain, with index getters that may act, sparse, or a proxy. */
  array(items, context = this.current) {
    const r = this.random;
    const roll = r.int(10);
    if (roll < 6) return items;
    if (roll < 9) {
      const array = items.slice();
      for (let i = 0; i < array.length; i++) {
        const value = array[i];
        Object.defineProperty(array, i, {
          enumerable: true,
          get: () => {
            if (r.chance(0.3)) this.act(context);
            return value;
          },
        });
      }
      return array;
    }
    return this.trapProxy(context, items.slice());
  }

  /** Memory for a view: plain, resizable, shared, or already detached; recorded in the context. */
  memory(length, context) {
    const r = this.random;
    let buffer;
    switch (r.int(8)) {
      case 0:
        buffer = new ArrayBuffer(length, { maxByteLength: length + r.int(4096) });
        break;
      case 1:
        buffer = new SharedArrayBuffer(length);
        break;
      default:
        buffer = new ArrayBuffer(length);
    }
    context.buffers.push(buffer);
    return buffer;
  }

  /** A buffer-like value of any kind (Buffer, TypedArrays, DataView, ArrayBuffer, offset views, zero length). */
  buffer(context = this.current, { strings = false, minLength = 0 } = {}) {
    const r = this.random;
    if (strings && r.chance(0.15)) return r.pick(['', 'hello', 'é✓'.repeat(r.int(100)), 'x'.repeat(r.int(70000))]);
    const length = Math.max(minLength, r.pick([0, 1, 7, 64, 1500, 65536, r.int(300000)]));
    const memory = this.memory(Math.ceil(length / 8) * 8 + 16, context);
    const offset = r.pick([0, 0, 1, 3, 8]);
    const tracking = memory.resizable && r.chance(0.5); // a length-tracking view
    let view;
    switch (r.int(9)) {
      case 0: view = memory; break;
      case 1: view = new DataView(memory, offset, tracking ? undefined : Math.min(length, memory.byteLength - offset)); break;
      case 2: view = new Uint16Array(memory, offset & ~1, tracking ? undefined : Math.floor(length / 2)); break;
      case 3: view = new Float64Array(memory, 8, tracking ? undefined : Math.floor(length / 8)); break;
      case 4: view = new BigUint64Array(memory, 0, tracking ? undefined : Math.floor(length / 8)); break;
      case 5: view = Buffer.from(memory, offset, length); break;
      default: view = new Uint8Array(memory, offset, tracking ? undefined : length);
    }
    // Detached before the call, or shrunk to nothing: views that are already gone.
    if (memory instanceof ArrayBuffer && r.chance(0.06)) detach(memory, r);
    else if (memory.resizable && r.chance(0.1)) memory.resize(r.int(8));
    return view;
  }

  /**
   * A view for a fast call (test/fuzz/fast.mjs): mostly Uint8Arrays, the one
   * kind V8 hands to a fast function, of every shape V8 has for them - on its
   * heap (small, never asked for its buffer), Buffer's pool at an odd offset,
   * subarrays at odd offsets, length-tracking and fixed views of resizable
   * memory resized under them, shared memory, detached, empty - and now and then
   * another kind (the slow callback's case). The memory is recorded in the
   * context, where signal handlers and getters detach and resize it.
   */
  fastView(context = this.current, { receiving = false } = {}) {
    const r = this.random;
    const length = r.pick([1, 1, 3, 7, 64, 65, 1500, 4096, 65536]);
    const odd = r.pick([1, 3, 5, 7, 13]);
    switch (r.int(14)) {
      case 0:
      case 1: {
        const view = new Uint8Array(r.range(1, 64)); // on V8's heap until someone asks for .buffer
        if (!receiving) view.fill(0x63);
        return view;
      }
      case 2:
        return Buffer.allocUnsafe(r.range(1, 4000)); // a slice of Buffer's pool: an odd byteOffset, a shared backing store
      case 3: {
        const memory = this.memory(length + 32, context);
        return new Uint8Array(memory).subarray(odd, odd + length);
      }
      case 4: {
        // Length-tracking over resizable memory, grown or shrunk (perhaps below the view's start).
        const memory = new ArrayBuffer(length + 16, { maxByteLength: length + 4096 });
        context.buffers.push(memory);
        const view = new Uint8Array(memory, r.pick([0, odd]));
        memory.resize(r.pick([0, odd - 1, odd + 1, length, length + 4096]));
        return view;
      }
      case 5: {
        // A fixed-length view whose memory then shrinks below its end: out of bounds, byteLength 0.
        const memory = new ArrayBuffer(length + 16, { maxByteLength: length + 16 });
        context.buffers.push(memory);
        const view = new Uint8Array(memory, odd, length);
        if (r.chance(0.7)) memory.resize(r.int(length + odd));
        return view;
      }
      case 6:
        return new Uint8Array(new SharedArrayBuffer(length + 16), r.pick([0, odd]), length);
      case 7: {
        const memory = this.memory(length + 16, context);
        const view = new Uint8Array(memory, odd, length);
        if (memory instanceof ArrayBuffer) detach(memory, r);
        return view;
      }
      case 8:
        return new Uint8Array(this.memory(16, context), r.pick([0, 16]), 0);
      case 9:
        return r.chance(0.5) ? this.buffer(context, { strings: !receiving }) : this.hostile(context);
      default:
        return new Uint8Array(this.memory(length + 16, context), r.pick([0, 0, odd, 8]), length);
    }
  }

  /**
   * Where clock_gettime(clockId, into) writes its [seconds, nanoseconds]: a Float64Array of
   * every shape V8 has (on its heap, off it at an offset, length-tracking and fixed views of
   * resizable memory shrunk under them, shared, detached, too short), or another kind.
   */
  timespecView(context = this.current) {
    const r = this.random;
    switch (r.int(9)) {
      case 0:
      case 1:
        return new Float64Array(r.pick([2, 2, 3, 1, 0])); // on V8's heap until someone asks for .buffer
      case 2: {
        const memory = new ArrayBuffer(48, { maxByteLength: 96 });
        context.buffers.push(memory);
        const view = new Float64Array(memory, r.pick([0, 8, 32])); // length-tracking
        memory.resize(r.pick([0, 8, 16, 40, 48, 96]));
        return view;
      }
      case 3: {
        const memory = new ArrayBuffer(32, { maxByteLength: 32 });
        context.buffers.push(memory);
        const view = new Float64Array(memory, 8, 2);
        if (r.chance(0.7)) memory.resize(r.int(33));
        return view;
      }
      case 4: {
        const memory = this.memory(40, context);
        const view = new Float64Array(memory, r.pick([0, 8, 24]), r.pick([2, 2, 1, 0]));
        if (memory instanceof ArrayBuffer && r.chance(0.3)) detach(memory, r);
        return view;
      }
      case 5:
        return r.pick([() => new Uint8Array(16), () => new BigInt64Array(2), () => new Float32Array(4), () => [0, 0], () => this.hostileNoString(context)])();
      default:
        return new Float64Array(this.memory(32, context), r.pick([0, 8, 16]), 2);
    }
  }

  /** `bytes` (a Uint8Array) in a view of one of fastView's shapes: on V8's heap, pooled, an odd subarray, resizable (shrunk), shared, detached, another kind. */
  fastViewOf(bytes, context = this.current) {
    const r = this.random;
    const odd = r.pick([1, 3, 5, 7]);
    switch (r.int(9)) {
      case 0:
      case 1:
        return Uint8Array.from(bytes); // on V8's heap
      case 2:
        return Buffer.from(bytes); // Buffer's pool, an odd byteOffset
      case 3: {
        const memory = new ArrayBuffer(bytes.length + odd, { maxByteLength: bytes.length + odd + 64 });
        context.buffers.push(memory);
        const view = new Uint8Array(memory, odd); // length-tracking
        view.set(bytes);
        if (r.chance(0.4)) memory.resize(r.int(bytes.length + odd + 64));
        return view;
      }
      case 4: {
        const view = new Uint8Array(new SharedArrayBuffer(bytes.length + odd), odd);
        view.set(bytes);
        return view;
      }
      case 5: {
        const memory = this.memory(bytes.length + odd, context);
        const view = new Uint8Array(memory, odd, bytes.length);
        view.set(bytes);
        if (memory instanceof ArrayBuffer && r.chance(0.5)) detach(memory, r);
        return view;
      }
      case 6:
        return r.pick([() => new DataView(Uint8Array.from(bytes).buffer), () => Uint8Array.from(bytes).buffer, () => new Int8Array(bytes), () => this.hostileNoString(context)])();
      default: {
        const memory = this.memory(bytes.length + 16, context);
        const view = new Uint8Array(memory, odd, bytes.length);
        view.set(bytes);
        return view;
      }
    }
  }

  // ---- fds and addresses ------------------------------------------------------------------
  /** A pool fd (recorded in the context), or a number that is no fd of ours. */
  fd(context = this.current) {
    const r = this.random;
    let fd;
    if (r.chance(0.08)) fd = r.pick([-1, this.neverFd, 2 ** 31 - 1, this.closedFd, NaN, 1.5, '3', 2 ** 31, null]);
    else fd = this.pool.length ? r.pick(this.pool) : this.neverFd;
    context.fds.push(fd);
    return fd;
  }

  /** A loopback or Unix address the fuzzer owns (its listener, its UDP sockets, port 1), or a broken one. */
  address(context = this.current) {
    const r = this.random;
    let base;
    switch (r.int(9)) {
      case 0: base = { family: 'AF_INET', address: '127.0.0.1', port: this.listenPort }; break;
      case 1: base = { family: 'AF_INET', address: '127.0.0.1', port: this.udpPort }; break;
      case 2: base = { family: 'AF_INET', address: '127.0.0.1', port: r.pick([0, 1]) }; break;
      case 3: base = { family: 'AF_INET6', address: '::1', port: r.pick([this.udp6Port, 1, 0]), flowinfo: r.pick([0, 2 ** 20]), scopeId: 0 }; break;
      case 4: base = { family: 'AF_UNIX', path: r.pick([this.unixPath, join(this.dir, `s${this.serial++ % 8}`), this.abstractName, '']) }; break;
      case 5: base = { family: 'AF_INET', address: 0x0100007f, port: this.udpPort }; break;
      case 6: base = { family: r.pick(['AF_BOGUS', 'AF_PACKET', 'AF_NETLINK', 7, undefined]), address: '127.0.0.1', port: 1, ifindex: 2 ** 40, pid: NaN }; break;
      case 7: base = { family: 'AF_UNIX', path: r.pick(['x\0y', join(this.dir, 'p'.repeat(200)), 5]) }; break;
      default: base = { family: 'AF_INET', address: r.pick(['not-an-ip', '::1', '', '127.0.0.1\0']), port: this.hostile() };
    }
    return this.object(base, context);
  }
}

/** The open fds (not the listing's own, which is closed again by the time it returns). */
export function openFds() {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        fstatSync(fd);
        return true;
      } catch {
        return false;
      }
    });
}
