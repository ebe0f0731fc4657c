// The ping-pong bench's round as TurboFan compiles it (bench/pingpong.ts's own
// peers, V8 11.3 / Node 20, where the bench's numbers come from; the suite is
// not in CI's Node 22/24 lists).
// 1. It is one blob: every call the round makes (two nowNs with their
//    clock_gettime, sendAll with sendRange, recvAll with recvFull and
//    recvRange, lengthOf on both) is inlined into the loop. V8 inlines a
//    function's callees only up to a cumulative bytecode budget
//    (--max-inlined-bytecode-size-cumulative, 920 bytes on V8 11.3); the
//    client's round needs 861-865 of it (it fits a budget of 865, not 860; the
//    server's fits 700), so some 55 bytes more in lib/fast-io.ts, lib/io.ts,
//    lib/clock.ts or bench/harness/peer-io.ts call a callee out of line on
//    every round (and leave it interpreted until it tiers up by itself, ~1 s
//    into a window). The peers run with --trace-turbo-inlining; this reads
//    which call sites each loop's compile inlined. A callee the trace lists as
//    a candidate and that was not inlined fails the test; a run with a budget
//    of 800 bytes shows that the check sees such a callee.
// 2. It allocates nothing: V8's new-space use across 10,000 compiled server
//    rounds (test/fixtures/pingpong-round/allocation.mjs). Before lib/io.ts
//    read each call's options in sendAll and recvFull themselves, the server's
//    round kept recvAll's `{ length }` object: 32 bytes a round, a scavenge
//    every ~50,000 rounds inside the bench's window.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runProgram, stopAll } from './helpers/c-peers.js';
import { inliningOf, traceFlags, type InliningOfCompile } from './helpers/turbo-inlining.js';

const dist = join(import.meta.dirname, '..', 'dist');
const peer = join(dist, 'bench', 'harness', 'peer.js');
const allocationFixture = join(import.meta.dirname, 'fixtures', 'pingpong-round', 'allocation.mjs');
/** The bench's full lead-in (bench/pingpong.ts): TurboFan compiles both loops inside it. */
const WARMUP = 20_000;
const ROUNDS = 2_000;

/** One sockfd ping-pong pair of the bench's own peers; each side's stdout (trace and result). */
async function pingPong(serverFlags: string[], clientFlags: string[]): Promise<{ server: string; client: string }> {
  const server = runProgram(process.execPath, [...serverFlags, peer, 'pingpong', 'sockfd-server'], { timeoutMs: 60_000 });
  const port = Number((await server.waitForLine(/^port \d+$/, 20_000)).slice(5));
  const client = runProgram(process.execPath, [...clientFlags, peer, 'pingpong', 'sockfd-client', String(port), String(ROUNDS), String(WARMUP)], { timeoutMs: 60_000 });
  const [clientEnd, serverEnd] = [await client.end(60_000), await server.end(60_000)];
  expect(clientEnd, clientEnd.stderr).toMatchObject({ code: 0 });
  expect(serverEnd, serverEnd.stderr).toMatchObject({ code: 0 });
  expect(clientEnd.stdout).toMatch(/^\{"samples_ns":\[/m);
  return { server: serverEnd.stdout, client: clientEnd.stdout };
}

/** The last compile of `root` (the code the rounds run at the end). */
function lastCompile(trace: string, root: string): InliningOfCompile {
  const compiles = inliningOf(trace, root);
  expect(compiles.length, `TurboFan compiled ${root} during ${WARMUP + ROUNDS} rounds`).toBeGreaterThan(0);
  return compiles.at(-1)!;
}

afterEach(stopAll);

describe("the ping-pong bench's round, compiled by TurboFan", () => {
  it('fits the inlining budget: client and server loops inline every callee of the round', { timeout: 120_000 }, async () => {
    const { server, client } = await pingPong(traceFlags, traceFlags);
    const clientLoop = lastCompile(client, 'sockfdClient');
    expect(clientLoop.outOfLine, 'call sites of the client round TurboFan left out of line (the inlining budget)').toEqual({});
    expect(clientLoop.inlined).toMatchObject({ nowNs: 2, clock_gettime: 2, sendAll: 1, sendRange: 1, recvAll: 1, recvFull: 1, recvRange: 1, lengthOf: 2 });
    const serverLoop = lastCompile(server, 'sockfdServer');
    expect(serverLoop.outOfLine, 'call sites of the server round TurboFan left out of line (the inlining budget)').toEqual({});
    expect(serverLoop.inlined).toMatchObject({ sendAll: 1, sendRange: 1, recvAll: 1, recvFull: 1, recvRange: 1, lengthOf: 2 });
  });

  it('the check sees a callee left out of line: the same client with a budget of 800 bytes', { timeout: 120_000 }, async () => {
    const { client } = await pingPong([], [...traceFlags, '--max-inlined-bytecode-size-cumulative=800']);
    const clientLoop = lastCompile(client, 'sockfdClient');
    expect(Object.values(clientLoop.outOfLine).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('allocates nothing: the server round over a socketpair, after TurboFan compiled it', () => {
    const { perRound } = JSON.parse(execFileSync(process.execPath, [allocationFixture, dist], { encoding: 'utf8', timeout: 60_000 })) as { perRound: number[] };
    // 5 or 6 windows of 10,000 rounds without a collection; ~0.2 bytes a round is the measuring itself
    // (the statistics it reads once a window), 32 one object a round.
    expect(perRound.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...perRound), `new-space bytes a round: ${perRound.join(', ')}`).toBeLessThan(2);
  });
});
