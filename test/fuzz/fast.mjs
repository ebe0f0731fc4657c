// The fuzzer's fast targets: the V8 fast calls of sockfd_node
// (native/node/fast_calls.cc and the files beside it), called from optimized
// code. The N-API core's specs (specs.mjs) never reach them: V8 takes a fast
// call only from TurboFan code whose call site has seen one target, with
// arguments of the C signature's types.
//
// So each target gets a call site of its own (its own function, its own
// feedback), warmed, optimized with %OptimizeFunctionOnNextCall and optimized
// again after every deopt. Two kinds of target:
//   fast.<name>  the raw fast function (fastCalls.<name>): hostile views
//                (detached, resizable and shrunk, shared, subarrays at odd
//                offsets, V8's on-heap small Uint8Arrays, other kinds) and
//                numbers (NaN, -0, fractions, 2**31, 2**53...), fds closed
//                under it; the answer must be n >= 0, -errno or FALLBACK;
//   io.<name>    lib/fast-io.ts's wrapper (what lib/posix.ts exports) with the
//                core spec's arguments: FALLBACK and EINTR go to the N-API
//                path (<syscall>Interrupted after a signal), whose signal
//                handlers detach, shrink and close (world.act).
// Every function of fastCalls needs a raw spec here (fuzz.mjs fails without
// one, as for the core's exports): a new fast call must be fuzzed before it ships.
import { setFlagsFromString } from 'node:v8';

// V8's natives (%...), for the call sites only. Set at run time: node reads
// V8 flags when it parses, so only the functions made below see them.
setFlagsFromString('--allow-natives-syntax');
const prepare = new Function('f', '%PrepareFunctionForOptimization(f);');
const optimizeOnNextCall = new Function('f', '%OptimizeFunctionOnNextCall(f);');
const optimizationStatus = new Function('f', 'return %GetOptimizationStatus(f);');
const TURBOFANNED = 1 << 6; // V8's OptimizationStatus::kTurboFanned (11.3 to 13.6)

/** A call site of its own for `fn` taking `arity` arguments: one target in its feedback, so TurboFan makes it a fast call. */
function callSite(fn, arity, name) {
  const params = Array.from({ length: arity }, (_, i) => `a${i}`).join(', ');
  return new Function('fn', `return function ${name.replace(/\W/g, '_')}(${params}) { return fn(${params}); };`)(fn);
}

/**
 * The raw fast functions' specs, by name: `arity`, `args(ctx)` and `fds(result)`.
 * `check(result)`: what a fast function may answer (an int32: n >= 0, -errno or FALLBACK).
 */
export function makeRawSpecs(w, FALLBACK) {
  const r = w.random;
  const c = w.c;
  const number = (valid) =>
    r.chance(0.85)
      ? valid()
      : r.chance(0.85)
        ? r.pick([-0, -1, -2, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -(2 ** 31), Number.MIN_VALUE])
        : w.hostileNoString(); // not a number at all: V8 calls the slow callback
  const fd = (ctx) => {
    const value = w.fd(ctx); // the pool, or numbers that are no fd of ours (never -0: that would be fd 0)
    return Object.is(value, -0) ? 0.5 : value;
  };
  const flags = () => number(() => r.pick([0, 0, c.MSG_DONTWAIT, c.MSG_DONTWAIT | c.MSG_NOSIGNAL, c.MSG_PEEK | c.MSG_DONTWAIT, c.MSG_NOSIGNAL, c.MSG_TRUNC | c.MSG_DONTWAIT, c.MSG_WAITALL, r.int(2 ** 16)]));
  // offset and length valid for the view most of the time (so calls reach the system call), -1 = to the end.
  const range = (view) => {
    let size = 64; // not a view (or a proxy, whose traps must not run here): any numbers will do
    try {
      if (view instanceof Uint8Array) size = view.byteLength;
    } catch {}
    const offset = number(() => r.pick([0, 0, 1, r.int(size + 1), size]));
    const room = Number.isInteger(offset) && offset >= 0 && offset <= size ? size - offset : 0;
    const length = number(() => r.pick([-1, -1, room, r.int(room + 1), room + 1, 0]));
    return [offset, length];
  };
  const transfer = (receiving) => ({
    arity: 5,
    args: (ctx) => {
      const view = w.fastView(ctx, { receiving });
      return [fd(ctx), view, receiving || r.chance(0.5) ? flags() : 0, ...range(view)];
    },
  });
  const specs = {
    send: transfer(false),
    recv: transfer(true),
    write: transfer(false),
    read: transfer(true),
    socket: {
      arity: 3,
      args: () => [
        number(() => r.pick([c.AF_INET, c.AF_INET6, c.AF_UNIX, 12345])),
        number(() => r.pick([c.SOCK_STREAM, c.SOCK_DGRAM, c.SOCK_SEQPACKET, c.SOCK_STREAM | c.SOCK_NONBLOCK, c.SOCK_DGRAM | c.SOCK_CLOEXEC, 99])),
        number(() => r.pick([0, 0, c.IPPROTO_TCP, c.IPPROTO_UDP, 255])),
      ],
      fds: (result) => (result >= 0 ? [result] : []),
    },
    close: { arity: 1, args: (ctx) => [fd(ctx)] },
    // fast_socket_calls.cc. connect's bytes only ever name loopback (127.0.0.1 / ::1) or no
    // internet address at all: a random view could name any host, so none is passed.
    connect: { arity: 2, args: (ctx) => [fd(ctx), sockaddrView(ctx)] },
    acceptFd: { arity: 2, args: (ctx) => [fd(ctx), number(() => r.pick([0, 0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC, c.SOCK_NONBLOCK | c.SOCK_CLOEXEC, 1]))], fds: (result) => (result >= 0 ? [result] : []) },
    shutdown: { arity: 2, args: (ctx) => [fd(ctx), number(() => r.pick([0, 1, 2, 3]))] },
    setIntOption: {
      arity: 4,
      args: (ctx) => [
        fd(ctx),
        number(() => r.pick([c.SOL_SOCKET, c.IPPROTO_TCP, c.IPPROTO_IP, c.IPPROTO_IPV6, 9999])),
        number(() => r.pick([c.SO_REUSEADDR, c.SO_KEEPALIVE, c.SO_RCVBUF, c.SO_SNDBUF, c.SO_RCVTIMEO, c.SO_LINGER, c.TCP_NODELAY, 12345])),
        number(() => r.pick([0, 1, -1, 4096, 2 ** 31 - 1, -(2 ** 31)])),
      ],
    },
  };
  // A sockaddr_in (127.0.0.1) or sockaddr_in6 (::1) to the world's listener or a closed port, at
  // an odd offset, on or off the V8 heap, cut short, too long, of another family, detached, or not a view.
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const sockaddrView = (ctx) => {
    const six = r.chance(0.4);
    const length = six ? 28 : 16;
    const bytes = new Uint8Array(length);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, r.chance(0.9) ? (six ? c.AF_INET6 : c.AF_INET) : c.AF_UNIX, little);
    view.setUint16(2, r.pick([w.listenPort, w.listenPort, 1, 0]));
    if (six) bytes[23] = 1; // ::1
    else bytes.set([127, 0, 0, 1], 4);
    switch (r.int(7)) {
      case 0: return bytes; // on the V8 heap (28 bytes and less)
      case 1: { const store = new Uint8Array(new ArrayBuffer(length + 3)); store.set(bytes, 3); return store.subarray(3); } // odd offset, off-heap
      case 2: return bytes.subarray(0, r.int(length)); // cut short
      case 3: { const longer = new Uint8Array(length + 1 + r.int(200)); longer.set(bytes); return longer; } // too long
      case 4: { const gone = new Uint8Array(new ArrayBuffer(length)); gone.set(bytes); structuredClone(gone.buffer, { transfer: [gone.buffer] }); return gone; } // detached
      case 5: for (;;) { const value = w.hostileNoString(ctx); if (!ArrayBuffer.isView(value)) return value; } // not a view (a random one could name any host)
      default: { const store = new Uint8Array(new ArrayBuffer(length)); store.set(bytes); return store; }
    }
  };
  const check = (result) => (Number.isInteger(result) && result >= -4095 && result <= 2 ** 31 - 1) || result === FALLBACK;
  for (const spec of Object.values(specs)) spec.check = check;
  // The same kinds of argument in the wrappers' form (lib/fast-io.ts: optional
  // offset and length, undefined = to the end; read and write take no flags),
  // blocking more often (no MSG_DONTWAIT), so that signals meet a fast call
  // blocked in the kernel and EINTR goes on in the N-API path.
  const wrapperArgs = (receiving, withFlags) => (ctx) => {
    const view = w.fastView(ctx, { receiving });
    const [offset, length] = range(view);
    const optional = (value) => (value === -1 && r.chance(0.9) ? undefined : value);
    const tail = [r.chance(0.3) ? undefined : offset, optional(length)];
    const target = receiving && r.chance(0.2) ? w.waitingFd : fd(ctx); // a receive that waits for a signal
    if (target === w.waitingFd) ctx.fds.push(target);
    return [target, view, ...(withFlags ? [number(() => r.pick([0, 0, 0, c.MSG_DONTWAIT, c.MSG_NOSIGNAL, c.MSG_WAITALL]))] : []), ...tail];
  };
  specs.wrapperArgs = { send: wrapperArgs(false, true), recv: wrapperArgs(true, true), write: wrapperArgs(false, false), read: wrapperArgs(true, false) };
  return specs;
}

// The wrappers of lib/fast-io.ts: the core spec whose arguments they take, the number of their parameters.
const wrappers = {
  send: ['send', 5], recv: ['recv', 5], read: ['read', 4], write: ['write', 4], socket: ['socket', 3], close: ['close', 1],
  recvNonBlocking: ['recv', 5], sendNonBlocking: ['send', 5],
};

/**
 * The fast targets, or why there are none. `fastIo` is dist/lib/fast-io.js,
 * `raw` the addon's fastCalls object, `coreSpecs` specs.mjs's table.
 */
export function makeFastTargets(w, { fastIo, raw, coreSpecs }) {
  if (!fastIo.fastCalls.enabled || raw === undefined) return { targets: [], missing: [], reason: fastIo.fastCalls.reason };
  const rawSpecs = makeRawSpecs(w, raw.FALLBACK);
  const { wrapperArgs } = rawSpecs;
  delete rawSpecs.wrapperArgs;
  const rawNames = Object.keys(raw).filter((name) => typeof raw[name] === 'function' && name !== 'counts');
  const missing = rawNames.filter((name) => !(name in rawSpecs));
  const targets = [];
  for (const name of rawNames.filter((n) => n in rawSpecs)) {
    const spec = rawSpecs[name];
    targets.push(new FastTarget(`fast.${name}`, raw[name], spec.arity, spec.args, spec.fds, spec.check, fastIo.fastCallCounts));
  }
  for (const [name, [core, arity]] of Object.entries(wrappers)) {
    const spec = coreSpecs[core];
    if (typeof fastIo[name] !== 'function' || spec === undefined) continue;
    prepare(fastIo[name]); // its feedback too, so it inlines into the site and its fast call becomes one
    // Half the core spec's arguments (every kind of value), half the fast path's kinds (Uint8Arrays of every shape).
    const args = wrapperArgs[core] ? (ctx) => (w.random.chance(0.5) ? spec.args(ctx) : wrapperArgs[core](ctx)) : spec.args;
    targets.push(new FastTarget(`io.${name}`, fastIo[name], arity, args, spec.fds, undefined, fastIo.fastCallCounts));
  }
  return { targets, missing, reason: '' };
}

/** One target: its own call site, optimized again whenever V8 dropped the optimized code. */
class FastTarget {
  constructor(name, fn, arity, args, fds, check, counts) {
    this.name = name;
    this.counts = counts;
    this.fastEntries = 0;
    this.arity = arity;
    this.args = (ctx) => {
      const list = args(ctx);
      list.length = arity; // the site passes exactly the C signature's count (more or fewer: no fast call)
      return list;
    };
    this.fds = fds;
    this.check = check;
    this.site = callSite(fn, arity, name);
    prepare(this.site);
    this.calls = 0;
    this.sinceOptimize = 0;
    this.optimizations = 0;
    this.fromOptimized = 0;
  }

  /** Calls the site with `args`; counts whether it ran optimized code. */
  call(args) {
    const optimized = (optimizationStatus(this.site) & TURBOFANNED) !== 0;
    if (optimized) this.fromOptimized++;
    else if (++this.sinceOptimize >= 3) {
      // Three calls of feedback (the warm-up, or what deoptimized it), then TurboFan on the next call.
      optimizeOnNextCall(this.site);
      this.sinceOptimize = 0;
      this.optimizations++;
    }
    this.calls++;
    const before = this.counts();
    try {
      return this.site(...args);
    } finally {
      this.fastEntries += this.counts().fast - before.fast;
    }
  }
}
