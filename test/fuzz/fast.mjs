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
/** %PrepareFunctionForOptimization: `f` collects the feedback TurboFan needs. */
export const prepare = new Function('f', '%PrepareFunctionForOptimization(f);');
/** %OptimizeFunctionOnNextCall: TurboFan compiles `f` when it is next called. */
export const optimizeOnNextCall = new Function('f', '%OptimizeFunctionOnNextCall(f);');
const optimizationStatus = new Function('f', 'return %GetOptimizationStatus(f);');
const TURBOFANNED = 1 << 6; // V8's OptimizationStatus::kTurboFanned (11.3 to 13.6)
/** Whether `f` runs TurboFan code now. */
export const isOptimized = (f) => (optimizationStatus(f) & TURBOFANNED) !== 0;

/** A call site of its own for `fn` taking `arity` arguments: one target in its feedback, so TurboFan makes it a fast call. */
export function callSite(fn, arity, name) {
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
  // Options whose int value changes nothing beyond the fuzzer's own loopback sockets (as specs.mjs's setsockopt).
  const intOptions = [
    [c.SOL_SOCKET, c.SO_REUSEADDR], [c.SOL_SOCKET, c.SO_REUSEPORT], [c.SOL_SOCKET, c.SO_KEEPALIVE], [c.SOL_SOCKET, c.SO_RCVBUF],
    [c.SOL_SOCKET, c.SO_SNDBUF], [c.SOL_SOCKET, c.SO_RCVTIMEO], [c.SOL_SOCKET, c.SO_SNDTIMEO], [c.SOL_SOCKET, c.SO_OOBINLINE],
    [c.SOL_SOCKET, c.SO_RCVLOWAT], [c.SOL_SOCKET, c.SO_PRIORITY], [c.SOL_SOCKET, c.SO_PASSCRED], [c.SOL_SOCKET, c.SO_TYPE],
    [c.IPPROTO_TCP, c.TCP_NODELAY], [c.IPPROTO_TCP, c.TCP_CORK], [c.IPPROTO_TCP, c.TCP_QUICKACK], [c.IPPROTO_TCP, c.TCP_MAXSEG],
    [c.IPPROTO_TCP, c.TCP_KEEPIDLE], [c.IPPROTO_TCP, c.TCP_USER_TIMEOUT], [c.IPPROTO_IP, c.IP_TOS], [c.IPPROTO_IP, c.IP_TTL],
    [c.IPPROTO_IPV6, c.IPV6_V6ONLY], [c.IPPROTO_IP, c.IP_RECVERR], [c.SOL_SOCKET, c.SO_LINGER], [c.SOL_SOCKET, 12345], [9999, 1],
  ];
  // A sockaddr_in / sockaddr_in6 (Linux layouts) of 127.0.0.1 or ::1 and one of the fuzzer's ports,
  // or bytes the fast connect refuses (wrong size, or a family that does not match the size).
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1; // sa_family is in the host's order
  const sockaddrBytes = () => {
    const port = r.pick([w.listenPort, w.listenPort, w.udpPort, w.udp6Port, 0, 1]);
    if (r.chance(0.8)) {
      const six = r.chance(0.4);
      const bytes = new Uint8Array(six ? 28 : 16);
      const view = new DataView(bytes.buffer);
      view.setUint16(0, six ? c.AF_INET6 : c.AF_INET, little);
      view.setUint16(2, port, false);
      if (six) bytes[23] = 1; // ::1
      else bytes.set([127, 0, 0, 1], 4);
      return bytes;
    }
    const bytes = Uint8Array.from({ length: r.pick([0, 1, 2, 15, 16, 17, 27, 28, 29, 110, 128]) }, () => r.int(256));
    if (bytes.length >= 2) new DataView(bytes.buffer).setUint16(0, bytes.length === 16 ? c.AF_INET6 : bytes.length === 28 ? c.AF_INET : r.pick([c.AF_UNIX, 0, 0xffff]), little);
    return bytes;
  };
  // Those bytes in any shape of view (world.fastViewOf), or a loopback sockaddr cut short or
  // followed by more bytes (a size the fast path refuses, whatever the bytes after it).
  const sockaddrView = (ctx) => {
    const bytes = sockaddrBytes();
    switch (r.int(8)) {
      case 0: return bytes.subarray(0, r.int(bytes.length));
      case 1: { const longer = new Uint8Array(bytes.length + 1 + r.int(200)); longer.set(bytes); return longer; }
      default: return w.fastViewOf(bytes, ctx);
    }
  };
  const fd = (ctx) => {
    const value = w.fd(ctx); // the pool, or numbers that are no fd of ours (never -0: that would be fd 0)
    return Object.is(value, -0) ? 0.5 : value;
  };
  const clockId = () => number(() => r.pick([c.CLOCK_MONOTONIC, c.CLOCK_REALTIME, c.CLOCK_BOOTTIME, c.CLOCK_PROCESS_CPUTIME_ID, c.CLOCK_THREAD_CPUTIME_ID, c.CLOCK_MONOTONIC_COARSE, ((~process.pid) << 3) | 2, -1, 99, -(2 ** 31)]));
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
    // fast_socket_calls.cc. connect's bytes are a sockaddr of the fuzzer's own loopback
    // addresses in every shape of view, or bytes the fast path must refuse by their size or
    // family - never 16 or 28 bytes of AF_INET/AF_INET6 with another address.
    connect: { arity: 2, args: (ctx) => [fd(ctx), sockaddrView(ctx)] },
    acceptFd: { arity: 2, args: (ctx) => [fd(ctx), number(() => r.pick([0, 0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC, c.SOCK_NONBLOCK | c.SOCK_CLOEXEC, 1]))], fds: (result) => (result >= 0 ? [result] : []) },
    shutdown: { arity: 2, args: (ctx) => [fd(ctx), number(() => r.pick([0, 1, 2, 3]))] },
    // fast_clock.cc: any clock id (the named ones, negative dynamic ones, ids the kernel refuses).
    clock_gettime: { arity: 2, args: (ctx) => [clockId(), w.timespecView(ctx)] },
    setIntOption: {
      arity: 4,
      args: (ctx) => {
        const [level, name] = r.pick(intOptions);
        return [fd(ctx), number(() => level), number(() => name), number(() => r.pick([0, 1, 1, 2, -1, 4096, 2 ** 31 - 1, -(2 ** 31)]))];
      },
    },
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
  specs.wrapperArgs = {
    send: wrapperArgs(false, true), recv: wrapperArgs(true, true), write: wrapperArgs(false, false), read: wrapperArgs(true, false),
    connectEncoded: specs.connect.args,
  };
  return specs;
}

// The JS wrappers of the fast calls: [module, function, the core spec whose arguments they
// take (or a raw-style one, wrapperArgs), the number of their parameters]. A missing one
// (an older tree) is left out.
const wrappers = [
  ['fastIo', 'send', 'send', 5], ['fastIo', 'recv', 'recv', 5], ['fastIo', 'read', 'read', 4], ['fastIo', 'write', 'write', 4],
  ['fastIo', 'socket', 'socket', 3], ['fastIo', 'close', 'close', 1], ['fastIo', 'recvNonBlocking', 'recv', 5], ['fastIo', 'sendNonBlocking', 'send', 5],
  ['fastSocket', 'acceptFd', 'acceptFd', 2], ['fastSocket', 'shutdown', 'shutdown', 2], ['fastSocket', 'setsockopt', 'setsockopt', 4],
  ['fastSocket', 'connectEncoded', 'connectEncoded', 2], ['posix', 'connect', 'connect', 2], ['posix', 'clock_gettime', 'clock_gettime', 2],
];

/** The sets of fast functions sockfd_node exports (fastCalls, fastSocketCalls, ...): objects with a boolean `available`. */
export function fastSets(addon) {
  return Object.entries(addon ?? {}).filter(([, set]) => set !== null && typeof set === 'object' && typeof set.available === 'boolean');
}

/** The functions of a set that are fast calls (all but its counters). */
export function fastFunctionNames(set) {
  return Object.keys(set).filter((name) => typeof set[name] === 'function' && name !== 'counts');
}

/**
 * The fast targets, or why there are none. `modules` are dist/lib's fast-io,
 * fast-socket (when the tree has it) and posix; `addon` is sockfd_node's
 * exports; `coreSpecs` specs.mjs's table.
 */
export function makeFastTargets(w, { modules, addon, coreSpecs }) {
  const { fastIo } = modules;
  const sets = fastSets(addon).filter(([, set]) => set.available);
  if (!fastIo.fastCalls.enabled || sets.length === 0) return { targets: [], missing: [], reason: fastIo.fastCalls.reason };
  const rawSpecs = makeRawSpecs(w, sets[0][1].FALLBACK);
  const { wrapperArgs } = rawSpecs;
  delete rawSpecs.wrapperArgs;
  const targets = [];
  const missing = [];
  const seen = new Set();
  for (const [setName, set] of sets)
    for (const name of fastFunctionNames(set)) {
      const spec = rawSpecs[name];
      if (spec === undefined) {
        missing.push(`${setName}.${name}`);
        continue;
      }
      const label = seen.has(name) ? `fast.${setName}.${name}` : `fast.${name}`;
      seen.add(name);
      targets.push(new FastTarget(label, set[name], spec.arity, spec.args, spec.fds, spec.check, fastIo.fastCallCounts));
    }
  for (const [module, name, core, arity] of wrappers) {
    if (module === 'posix' && modules.fastSocket === undefined) continue; // posix.connect is a fast call only beside lib/fast-socket.ts
    const fn = modules[module]?.[name];
    const spec = coreSpecs[core];
    const raw = wrapperArgs[core];
    if (typeof fn !== 'function' || (spec === undefined && raw === undefined)) continue;
    prepare(fn); // its feedback too, so it inlines into the site and its fast call becomes one
    // Half the core spec's arguments (every kind of value), half the fast path's kinds (Uint8Arrays of every shape).
    const args = spec && raw ? (ctx) => (w.random.chance(0.5) ? spec.args(ctx) : raw(ctx)) : (spec?.args ?? raw);
    targets.push(new FastTarget(`io.${name}`, fn, arity, args, spec?.fds, undefined, fastIo.fastCallCounts));
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
    const optimized = isOptimized(this.site);
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
