#!/usr/bin/env node
// Says whether this process gets V8 fast calls, from which sockfd_node, and
// proves they are taken: a call site optimized by TurboFan runs 1,000
// send+recv pairs on a socketpair and the addon's own counters
// (SOCKFD_FAST_CALLS_COUNT) say how many entered the fast C functions.
// Exit 1 when they are off or not taken. .ci/run runs it under ASan.
//   node scripts/fast-calls-status.mjs      (with SOCKFD_ADDON / SOCKFD_NODE_ADDON for another build)
import { setFlagsFromString } from 'node:v8';

process.env.SOCKFD_FAST_CALLS_COUNT = '1'; // read by sockfd_node when it loads, below
setFlagsFromString('--allow-natives-syntax');
const dist = new URL('../dist/lib/', import.meta.url);
const { fastCalls, fastCallCounts, send, recv } = await import(new URL('fast-io.js', dist));
const { nodeAddonPath, binding } = await import(new URL('native.js', dist));
if (!fastCalls.enabled) {
  console.log(`fast calls: OFF (V8 ${fastCalls.v8}): ${fastCalls.reason}`);
  process.exit(1);
}
const { AF_UNIX, SOCK_STREAM } = binding.constants;
const [a, b] = binding.socketpair(AF_UNIX, SOCK_STREAM);
/** How many of 1,000 send+recv pairs from a TurboFan call site of its own entered the fast C functions. */
function fastOf(out, into) {
  const pair = new Function('send', 'recv', 'a', 'b', 'out', 'into', 'return send(a, out) + recv(b, into);');
  new Function('f', 'send', 'recv', '%PrepareFunctionForOptimization(f); %PrepareFunctionForOptimization(send); %PrepareFunctionForOptimization(recv);')(pair, send, recv);
  for (let i = 0; i < 3; i++) pair(send, recv, a, b, out, into);
  // Optimized twice: on V8 13 the first optimized code of the first such site in a process deopts
  // after one call (--trace-deopt: "Insufficient type feedback for generic named access", a property
  // read that 3 warm calls never reached) and stayed unoptimized (2 of 2000); the second stays.
  for (let round = 0; round < 2; round++) {
    new Function('f', '%OptimizeFunctionOnNextCall(f);')(pair);
    for (let i = 0; i < 3; i++) pair(send, recv, a, b, out, into);
  }
  const before = fastCallCounts();
  for (let i = 0; i < 1000; i++) pair(send, recv, a, b, out, into);
  return fastCallCounts().fast - before.fast;
}
// Buffers with a backing store of their own (what the fast path is for), then V8's small on-heap
// Uint8Arrays (Buffer.alloc(1) is one), which each V8 may treat differently: both are shown.
const taken = fastOf(Buffer.allocUnsafeSlow(1).fill('x'), Buffer.allocUnsafeSlow(1));
const onHeap = fastOf(Buffer.alloc(1, 'x'), Buffer.alloc(1));
binding.close(a);
binding.close(b);
console.log(
  `fast calls: ${taken > 0 ? 'ON' : 'NOT TAKEN'} (V8 ${fastCalls.v8}, ${nodeAddonPath('fast calls')}): ${taken} of 2000 calls from optimized code entered the fast C functions` +
    ` (with small on-heap buffers, Buffer.alloc(1): ${onHeap} of 2000)`,
);
process.exit(taken > 0 ? 0 : 1);
