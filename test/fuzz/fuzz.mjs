#!/usr/bin/env node
// The native fuzzer: seeded random and adversarial calls into every export of
// the addon (test/fuzz/specs.mjs), while signals arrive and getters, proxies
// and signal handlers detach buffers, close fds and throw in the middle of
// calls. A failure is anything but an Error (or the fuzzer's own sentinel)
// thrown by a call, a sanitizer report or abort (the process dies), a hang
// (the watchdog kills the process), an fd the process held before touched,
// or a watcher left behind.
//
//   npm run fuzz -- [--calls N] [--seconds S] [--seed S] [--signals on|off] [--only a,b] [--trace] [--json]
//                   [--fast on|off|require] [--fast-share P] [--eintr-share P] [--eintr-connect on|off]
//
// --fast: a share P (default 0.3) of the calls go to the V8 fast calls of
// sockfd_node from optimized code (test/fuzz/fast.mjs: the raw fast functions
// and lib/fast-io.ts's wrappers); `require` fails when they are off or never
// taken (CI's ASan run); the summary says how many ran fast.
//
// --eintr-share: a share P (default 0.01) of the iterations first run one
// forced interruption (test/fuzz/eintr.mjs): a signal that arrives while a
// fast recv/send/read/write/acceptFd/connect from optimized code is blocked in
// the kernel, whose handler resumes it, makes it report EINTR, detaches, shrinks
// or grows its buffer, closes its fd, throws or allocates; each outcome is checked. 0: none.
// With --fast require, a run whose cases never interrupted a fast call fails.
//
// The same seed makes the same sequence of calls and arguments; the moments
// signals arrive vary (--signals off replays exactly, minus the watchdog's).
// Run against another build with SOCKFD_ADDON (docs/CONTRIBUTING.md: ASan).
import { Worker } from 'node:worker_threads';
import { writeSync } from 'node:fs';
import { types } from 'node:util';
import { makeSpecs } from './specs.mjs';
import { CallContext, Sentinel, World } from './world.mjs';
import { makeFastTargets } from './fast.mjs';
import { InterruptionCases, SHARED_SLOTS, SLOT, watchdogSource } from './eintr.mjs';

const options = parseOptions(process.argv.slice(2));
const dist = new URL('../../dist/lib/', import.meta.url);
// The fast functions count which path ran (read once, when sockfd_node loads).
if (options.fast !== 'off') process.env.SOCKFD_FAST_CALLS_COUNT = '1';
let binding, processLib, fastIo, fastSocket, posix, tryNodeAddon, nodeAddonPath;
try {
  ({ binding, tryNodeAddon, nodeAddonPath } = await import(new URL('native.js', dist)));
  processLib = await import(new URL('process.js', dist));
  fastIo = await import(new URL('fast-io.js', dist));
  posix = await import(new URL('posix.js', dist));
  fastSocket = await import(new URL('fast-socket.js', dist)).catch(() => undefined); // not in every tree
} catch (error) {
  console.error(`fuzz: cannot load the library from dist/ (run npm run build): ${error.message}`);
  process.exit(2);
}

/** Thrown by the watchdog's signal handler to end a call that blocks for too long. */
const WatchdogStop = Object.freeze({ fuzzWatchdog: true });

// ---- the watchdog: random signals during calls, an end to blocked calls, a kill on a hang
// [calls started, in a call, stop, signals on, then a forced interruption's slots (eintr.mjs's SLOT)]
const shared = new Int32Array(new SharedArrayBuffer(4 * SHARED_SLOTS));
shared[3] = options.signals ? 1 : 0;
shared[SLOT.syscall] = -1;
const watchdog = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  const { writeSync } = require('node:fs');
  const shared = workerData.shared;
  let seed = workerData.seed >>> 0 || 1;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  ${watchdogSource}
  let last = -1, since = Date.now();
  while (Atomics.load(shared, 2) === 0) {
    // While a forced interruption waits for its moment, every 0.2 ms.
    Atomics.wait(shared, 2, 0, Atomics.load(shared, ${SLOT.syscall}) >= 0 ? 0.2 : 2);
    const calls = Atomics.load(shared, 0), inCall = Atomics.load(shared, 1);
    if (calls !== last || !inCall) { last = calls; since = Date.now(); }
    const stuck = Date.now() - since;
    const forced = forcedCase(); // its own signals only, then
    if (!forced && inCall && shared[3] && random() < 0.2) process.kill(process.pid, 'SIGUSR1');
    if (!forced && inCall && stuck > 50) process.kill(process.pid, 'SIGUSR2');
    if (inCall && stuck > workerData.hangMs) {
      try {
        const { readFileSync, readlinkSync, readdirSync } = require('node:fs');
        const status = readFileSync('/proc/' + process.pid + '/task/' + process.pid + '/status', 'utf8').split('\\n').filter((l) => /^(State|Sig|Shd)/.test(l));
        const fds = readdirSync('/proc/self/fd').map((fd) => { try { return fd + '=' + readlinkSync('/proc/self/fd/' + fd); } catch { return fd; } });
        writeSync(2, 'fuzz: main thread: ' + status.join('; ') + '\\nfuzz: fds: ' + fds.join(' ') + '\\n');
      } catch {}
      writeSync(2, 'fuzz: HANG: call ' + calls + ' has not returned for ' + stuck + ' ms despite signals (seed ' + workerData.seed + '; rerun with --trace)\\n');
      process.kill(process.pid, 'SIGKILL');
    }
  }
  `,
  { eval: true, workerData: { shared, seed: options.seed + 1, hangMs: options.hangMs } },
);
await new Promise((resolve) => watchdog.once('online', resolve));

const w = new World({ binding, seed: options.seed });
const specs = makeSpecs(w);
const names = Object.keys(specs).filter((name) => typeof binding[name] === 'function' && !specs[name].skip && (!options.only || options.only.includes(name)));
const missing = Object.keys(binding).filter((name) => typeof binding[name] === 'function' && !(name in specs));
if (missing.length) fail(`exports without a fuzz spec (test/fuzz/specs.mjs): ${missing.join(', ')}`);
const fast = options.fast === 'off' ? { targets: [], missing: [], reason: 'off (--fast off)' } : makeFastTargets(w, { modules: { fastIo, fastSocket, posix }, addon: tryNodeAddon(), coreSpecs: specs });
if (fast.missing.length) fail(`fast calls without a fuzz spec (test/fuzz/fast.mjs): ${fast.missing.join(', ')}`);
const fastTargets = fast.targets.filter((t) => !options.only || options.only.includes(t.name));
if (names.length === 0 && fastTargets.length === 0) fail(`no spec to run (--only ${options.only})`);
if (options.fast === 'require' && fastTargets.length === 0) fail(`--fast require: no fast call to fuzz: ${fast.reason || 'none selected'}`);
const fastStart = fastIo.fastCallCounts();
// EINTR in a fast call goes on in the N-API <syscall>Interrupted (lib/fast-io.ts and lib/fast-socket.ts look it up at each call): counted here.
let inFastTarget = false;
let interruptedHandoffs = 0;
for (const name of Object.keys(binding).filter((key) => key.endsWith('Interrupted') && typeof binding[key] === 'function')) {
  const napi = binding[name];
  binding[name] = function (...args) {
    if (inFastTarget) interruptedHandoffs++;
    return napi.apply(this, args);
  };
}

const interruptions = options.eintrShare > 0 ? new InterruptionCases(w, { fastIo, fastSocket, binding, shared, handoffs: () => interruptedHandoffs, connect: options.eintrConnect }) : null;

let inCall = false;
processLib.signal(binding.constants.SIGUSR1, () => {
  if (interruptions?.inCase) return void interruptions.onSignal(); // a forced case's action (a stray signal, or one during its set-up: nothing)
  if (inCall && w.random.chance(0.7)) w.act(w.current); // may throw the sentinel through the blocked call
});
processLib.signal(binding.constants.SIGUSR2, () => {
  if (process.env.FUZZ_DEBUG) writeSync(2, 'SIGUSR2 handler\n');
  if (inCall && !interruptions?.inCase) throw WatchdogStop; // a forced case's calls are bounded by their own timeouts
});

// ---- the loop
const reasons = new Set();
const objectReasons = new WeakSet();
const stats = { calls: 0, returned: 0, thrown: {}, promises: 0, settled: 0, strays: 0, epochs: 0 };
const byName = Object.fromEntries([...names, ...fastTargets.map((t) => t.name)].map((name) => [name, 0]));
const started = Date.now();
const deadline = options.seconds ? started + options.seconds * 1000 : Infinity;
let pendingPromises = 0;
// Saturation: each distinct outcome (target, and what it answered: an Error's
// class and code or message shape, a number's sign or errno, FALLBACK, a type)
// with the second it was first seen, so a summary can tell whether a longer
// run would still find new behaviour (CI's fuzz time is chosen from it).
const outcomes = new Map();
const outcomeOf = (name, threw, value) => {
  if (threw) {
    const kind = value instanceof Error ? value.constructor.name : typeof value;
    const code = value?.code ?? String(value?.message ?? '').replace(/\d+/g, '#').slice(0, 60);
    return `${name} ${kind} ${code}`;
  }
  if (typeof value === 'number') return `${name} ${value === -(2 ** 31) ? 'FALLBACK' : value < 0 ? value : value === 0 ? '0' : '>0'}`;
  return `${name} ${value === null ? 'null' : value instanceof Promise ? 'promise' : typeof value}`;
};
const noteOutcome = (key) => {
  if (!outcomes.has(key)) outcomes.set(key, (Date.now() - started) / 1000);
};

w.refill();
for (let i = 1; i <= options.calls && Date.now() < deadline; i++) {
  if (interruptions?.enabled && w.random.chance(options.eintrShare)) forcedInterruption(i);
  const target = fastTargets.length && (names.length === 0 || w.random.chance(options.fastShare)) ? w.random.pick(fastTargets) : undefined;
  const name = target ? target.name : w.random.pick(names);
  const spec = target ?? specs[name];
  const context = new CallContext(w);
  w.current = context;
  const args = spec.args(context);
  if (options.trace) writeSync(2, `${i} ${name}(${args.map(describe).join(', ')})\n`);
  if (spec.reason !== undefined) remember(args[spec.reason]);
  let result;
  let threw = false;
  let error;
  inCall = true;
  inFastTarget = target !== undefined;
  Atomics.add(shared, 0, 1);
  Atomics.store(shared, 1, 1);
  try {
    // A class (spec.construct): made with new, then spec.exercise calls its methods (their throws count as the call's).
    if (target) result = target.call(args);
    else if (spec.construct) spec.exercise(new binding[name](...args), context);
    else result = binding[name](...args);
  } catch (caught) {
    threw = true;
    error = caught;
  }
  Atomics.store(shared, 1, 0);
  inCall = false;
  inFastTarget = false;
  stats.calls++;
  byName[name]++;
  noteOutcome(outcomeOf(name, threw, threw ? error : result));
  if (threw) {
    const kind = error === Sentinel ? 'sentinel' : error === WatchdogStop ? 'watchdog' : error instanceof Error ? error.constructor.name : null;
    if (kind === null) fail(`call ${i}: ${name}(${args.map(describe).join(', ')}) threw a non-Error: ${describe(error)}`);
    stats.thrown[kind] = (stats.thrown[kind] ?? 0) + 1;
  } else {
    stats.returned++;
    if (target?.check && !target.check(result)) fail(`call ${i}: ${name}(${args.map(describe).join(', ')}) answered ${describe(result)}: not n >= 0, -errno or FALLBACK`);
    if (spec.fds) w.adopt(spec.fds(result, args));
    if (result instanceof Promise) {
      stats.promises++;
      pendingPromises++;
      result.then(
        () => settled(),
        (reason) => {
          if (!(reason instanceof Error) && reason !== Sentinel && !wasGiven(reason))
            fail(`a promise of ${name} was rejected with a non-Error it was not given: ${describe(reason)}`);
          settled();
        },
      );
    }
  }
  if (i % options.epoch === 0) {
    await new Promise((resolve) => setImmediate(resolve)); // watchers fire, promises settle
    epoch();
  } else if (i % 97 === 0) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
epoch();
await new Promise((resolve) => setImmediate(resolve));
const strays = w.closeOwned();
stats.strays += strays;
await new Promise((resolve) => setImmediate(resolve));
const watchers = binding.asyncStats();
w.dispose();
Atomics.store(shared, 2, 1);
Atomics.notify(shared, 2);
await watchdog.terminate();
processLib.signal(binding.constants.SIGUSR1, 'default');
processLib.signal(binding.constants.SIGUSR2, 'default');
if (watchers.watchers !== 0 || watchers.waiters !== 0) fail(`event-loop watchers left after every fd was closed: ${JSON.stringify(watchers)}`);
const seconds = (Date.now() - started) / 1000;
const fastEnd = fastIo.fastCallCounts();
const fastSummary = {
  on: fastTargets.length > 0,
  reason: fast.reason,
  v8: process.versions.v8,
  addon: fastTargets.length ? nodeAddonPath('the fuzzer') : null,
  targets: fastTargets.length,
  calls: fastTargets.reduce((sum, t) => sum + t.calls, 0),
  fromOptimizedCode: fastTargets.reduce((sum, t) => sum + t.fromOptimized, 0),
  optimizations: fastTargets.reduce((sum, t) => sum + t.optimizations, 0),
  // Entries into the C functions (the addon's counters): fast = from optimized code, slow = V8's slow callback.
  fastEntries: fastEnd.fast - fastStart.fast,
  slowEntries: fastEnd.slow - fastStart.slow,
  interruptedHandoffs,
  fastEntriesByTarget: Object.fromEntries(fastTargets.map((t) => [t.name, t.fastEntries])),
};
const interruptionSummary = interruptions?.enabled ? { on: true, ...interruptions.stats } : { on: false, reason: interruptions?.reason ?? 'off (--eintr-share 0)' };
if (options.fast === 'require' && interruptionSummary.on && interruptionSummary.cases > 0 && interruptionSummary.fastInterrupted === 0)
  fail(`--fast require: ${interruptionSummary.cases} forced interruptions and none of them interrupted a fast call: ${JSON.stringify(interruptionSummary)}`);
if (options.fast === 'require' && fastSummary.fastEntries === 0) fail(`--fast require: ${fastSummary.calls} calls into fast targets and no fast call was taken: ${JSON.stringify(fastSummary)}`);
const firstSeen = [...outcomes.values()].sort((a, b) => a - b);
const newPerTenth = Array.from({ length: 10 }, (_, k) => firstSeen.filter((t) => t >= (k * seconds) / 10 && (k === 9 || t < ((k + 1) * seconds) / 10)).length);
const saturation = { outcomes: outcomes.size, lastNewAtSecond: Number((firstSeen.at(-1) ?? 0).toFixed(1)), newPerTenth };
const summary = { seed: options.seed, calls: stats.calls, seconds, callsPerSecond: Math.round(stats.calls / seconds), returned: stats.returned, thrown: stats.thrown, promises: stats.promises, settled: stats.settled, pendingAtEnd: pendingPromises, epochs: stats.epochs, strayFds: stats.strays, natives: names.length, saturation, fast: fastSummary, interruptions: interruptionSummary };
if (options.json) console.log(JSON.stringify({ ...summary, byName }));
else {
  console.log(`fuzz: ${stats.calls} calls into ${names.length} natives and ${fastTargets.length} fast targets clean in ${seconds.toFixed(1)} s (seed ${options.seed}): ${JSON.stringify(summary)}`);
  console.log(
    fastSummary.on
      ? `fuzz: fast calls ON (V8 ${fastSummary.v8}, ${fastSummary.addon}): ${fastSummary.calls} calls into ${fastSummary.targets} fast targets, ${fastSummary.fromOptimizedCode} from optimized code; ` +
          `${fastSummary.fastEntries} fast entries taken, ${fastSummary.slowEntries} slow callbacks, ${interruptedHandoffs} EINTR handed to the N-API path`
      : `fuzz: fast calls OFF: ${fastSummary.reason}`,
  );
  console.log(
    interruptionSummary.on
      ? `fuzz: forced interruptions: ${interruptionSummary.cases} signals during a blocked ${Object.keys(interruptionSummary.byCall).join('/')} from optimized code (${interruptionSummary.fromOptimizedCode} optimized), ` +
          `${interruptionSummary.fastInterrupted} of them inside the fast call; each action: ${Object.entries(interruptionSummary.byAction).map(([a, n]) => `${a} ${n}`).join(', ')}; ` +
          `each call (cases, inside the fast call): ${Object.entries(interruptionSummary.byCall).map(([op, [n, f]]) => `${op} ${n}/${f}`).join(', ')}`
      : `fuzz: forced interruptions OFF: ${interruptionSummary.reason}`,
  );
  console.log(
    `fuzz: ${saturation.outcomes} distinct outcomes (target and answer), the last new one at ${saturation.lastNewAtSecond} s; ` +
      `new ones in each tenth of the run: ${newPerTenth.join(' ')}`,
  );
}
process.exit(0);

// ---- helpers
function epoch() {
  stats.epochs++;
  stats.strays += w.closeOwned();
  w.checkBaseline();
  if (!binding.getRestartAfterSignal()) binding.setRestartAfterSignal(true);
  w.refill();
}

/** One forced interruption (eintr.mjs), before call `i`: a wrong outcome fails the run. */
function forcedInterruption(i) {
  if (options.trace) writeSync(2, `${i} eintr case ${interruptions.serial}\n`);
  inCall = true;
  inFastTarget = true; // its EINTR hand-offs are counted
  Atomics.add(shared, 0, 1);
  Atomics.store(shared, 1, 1);
  try {
    noteOutcome(interruptions.run().outcome);
  } catch (error) {
    fail(`before call ${i}: ${error?.message ?? describe(error)}`);
  } finally {
    Atomics.store(shared, 1, 0);
    inCall = false;
    inFastTarget = false;
  }
}

function settled() {
  stats.settled++;
  pendingPromises--;
}

function remember(reason) {
  if ((typeof reason === 'object' && reason !== null) || typeof reason === 'function') objectReasons.add(reason);
  else reasons.add(reason);
}

function wasGiven(reason) {
  return (typeof reason === 'object' && reason !== null) || typeof reason === 'function' ? objectReasons.has(reason) : reasons.has(reason);
}

/** A short text for a value, without running any of its getters or traps (so --trace changes nothing). */
function describe(value) {
  try {
    return describeUnsafe(value);
  } catch {
    return '<?>';
  }
}

function describeUnsafe(value) {
  if (isProxy(value)) return '<proxy>';
  if (value === Sentinel) return '<sentinel>';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 20)}...' (${value.length})` : JSON.stringify(value);
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return `${value.constructor.name}(${value.byteLength}${value.resizable ? ', resizable' : ''}${value.detached ? ', detached' : ''})`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} at ${value.byteOffset})`;
  if (Array.isArray(value)) {
    if (value.length > 8) return `[${value.length} items]`;
    const items = [];
    for (let i = 0; i < value.length; i++) {
      const own = Object.getOwnPropertyDescriptor(value, i);
      items.push(own === undefined ? '<hole>' : 'value' in own ? describe(own.value) : '<getter>');
    }
    return `[${items.join(', ')}]`;
  }
  if (value && typeof value === 'object') {
    const fields = Object.getOwnPropertyNames(value).slice(0, 8).map((key) => {
      const own = Object.getOwnPropertyDescriptor(value, key);
      return `${key}: ${'value' in own ? describe(own.value) : '<getter>'}`;
    });
    return `{${fields.join(', ')}}`;
  }
  return String(value);
}

function isProxy(value) {
  return types.isProxy(value);
}

function fail(message) {
  writeSync(2, `fuzz: FAIL: ${message} (seed ${options.seed})\n`);
  process.exit(1);
}

function parseOptions(argv) {
  const o = { calls: 20000, seconds: 0, seed: Date.now() % 2 ** 31, signals: true, only: null, trace: false, json: false, epoch: 500, hangMs: 20000, fast: 'on', fastShare: 0.3, eintrShare: 0.01, eintrConnect: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--calls': o.calls = Number(value()); break;
      case '--seconds': o.seconds = Number(value()); if (!argv.includes('--calls') && !argv.some((a) => a.startsWith('--calls='))) o.calls = Infinity; break;
      case '--seed': o.seed = Number(value()); break;
      case '--signals': o.signals = value() !== 'off'; break;
      case '--only': o.only = value().split(','); break;
      case '--trace': o.trace = true; break;
      case '--json': o.json = true; break;
      case '--epoch': o.epoch = Number(value()); break;
      case '--hang-ms': o.hangMs = Number(value()); break;
      case '--fast': o.fast = value(); break;
      case '--fast-share': o.fastShare = Number(value()); break;
      case '--eintr-share': o.eintrShare = Number(value()); break;
      case '--eintr-connect': {
        const v = value();
        if (v !== 'on' && v !== 'off') {
          console.error('fuzz: --eintr-connect must be on or off');
          process.exit(2);
        }
        o.eintrConnect = v === 'on';
        break;
      }
      case '--help':
        console.log('usage: npm run fuzz -- [--calls N] [--seconds S] [--seed S] [--signals on|off] [--only a,b] [--trace] [--json] [--fast on|off|require] [--fast-share P] [--eintr-share P] [--eintr-connect on|off]');
        process.exit(0);
        break;
      default:
        console.error(`fuzz: unknown option ${argv[i]}`);
        process.exit(2);
    }
  }
  for (const key of ['calls', 'seed', 'epoch', 'hangMs'])
    if (!(Number.isInteger(o[key]) || (key === 'calls' && o[key] === Infinity)) || o[key] < 0) {
      console.error(`fuzz: --${key} must be a non-negative integer`);
      process.exit(2);
    }
  if (!['on', 'off', 'require'].includes(o.fast)) {
    console.error('fuzz: --fast must be on, off or require');
    process.exit(2);
  }
  for (const [key, flag] of [['fastShare', '--fast-share'], ['eintrShare', '--eintr-share']])
    if (!(o[key] >= 0 && o[key] <= 1)) {
      console.error(`fuzz: ${flag} must be a number in [0, 1]`);
      process.exit(2);
    }
  return o;
}
