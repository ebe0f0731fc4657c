// The async-echo bench's promise-API server round as TurboFan compiles it
// (bench/async-echo.ts's own sockfd-server peer, wait-first, and its
// sockfd-client; V8 11.3 / Node 20, where the bench's numbers come from).
// V8 inlines a function's callees only up to a cumulative bytecode budget
// (--max-inlined-bytecode-size-cumulative, 920 bytes on V8 11.3) and charges
// an inlinee's whole bytecode, whatever path a call takes. The echo loop's
// round - recvAsync's wait-first path with its Call, promise, waitOn and the
// set's add(), then sendAllMaybeAsync's path with options - needs ~863 of it;
// a few dozen bytes more anywhere on that path (lib/async.ts, lib/async-waits.ts)
// and a callee is called out of line on every request, or a Call is built by
// the construct stub (~300 instructions more a request: session 7's
// regression). The one callee left out on purpose is sendAllRange (the sends
// themselves, 154 bytes: one call a reply, with numbers only).
// The readiness dispatch (lib/async-waits.ts #dispatch) must inline the whole
// resume of a ready recv: ready, resume, go, attempt, tryRecvPlain.
// A run with a budget of 800 bytes shows that the check sees a callee left out.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runProgram, stopAll } from './helpers/c-peers.js';
import { inliningOf, traceFlags, type InliningOfCompile } from './helpers/turbo-inlining.js';

const dist = join(import.meta.dirname, '..', 'dist');
const peer = join(dist, 'bench', 'harness', 'peer.js');
/** The bench's connection count; 300 rounds each is 30,000 requests: TurboFan compiles both loops early in them. */
const CLIENTS = 100;
const ROUNDS = 300;

/** The bench's sockfd server (wait-first) with `serverFlags`, driven by the bench's sockfd client; the server's stdout. */
async function echoServerTrace(serverFlags: string[]): Promise<string> {
  const server = runProgram(process.execPath, [...serverFlags, peer, 'async-echo', 'sockfd-server', String(CLIENTS)], { timeoutMs: 90_000 });
  const port = Number((await server.waitForLine(/^port \d+$/, 20_000)).slice(5));
  const client = runProgram(process.execPath, [peer, 'async-echo', 'sockfd-client', String(port), String(CLIENTS), String(ROUNDS), '64'], { timeoutMs: 90_000 });
  const [clientEnd, serverEnd] = [await client.end(90_000), await server.end(90_000)];
  expect(clientEnd, clientEnd.stderr).toMatchObject({ code: 0 });
  expect(serverEnd, serverEnd.stderr).toMatchObject({ code: 0 });
  expect(clientEnd.stdout).toMatch(/"ops":30000/);
  return serverEnd.stdout;
}

/**
 * The last compile of `root` before its first deoptimization: the code the requests run. The loop's
 * close path (`n === 0`, posix.close) has no feedback until the first client leaves, which is after
 * the last request; TurboFan compiled the loop long before, so that close deoptimizes it, and what
 * it compiles then (with sendAllMaybeAsync since optimized on its own, left out of line) runs only
 * the remaining closes. Whether that recompile happens within the run is timing (seen on one VM
 * every time, never on another), so it is not the round's code.
 */
function lastCompile(trace: string, root: string): InliningOfCompile {
  const lines = trace.split('\n');
  let compiled = false;
  const deopt = lines.findIndex((line) => {
    if (/^\[compiling method .*<JSFunction (\S+) /.exec(line)?.[1] === root) compiled = true;
    return compiled && line.startsWith('[bailout') && line.includes(`<JSFunction ${root} `);
  });
  const compiles = inliningOf(deopt < 0 ? trace : lines.slice(0, deopt).join('\n'), root);
  expect(compiles.length, `TurboFan compiled ${root} during ${CLIENTS * ROUNDS} requests`).toBeGreaterThan(0);
  return compiles.at(-1)!;
}

afterEach(stopAll);

describe("the async-echo bench's promise-API round, compiled by TurboFan", () => {
  it('fits the inlining budget: the echo loop inlines its whole wait-first recv and reply path, the dispatch its whole resume', { timeout: 120_000 }, async () => {
    const trace = await echoServerTrace([...traceFlags, '--trace-deopt']);
    const echo = lastCompile(trace, 'echo');
    expect(echo.outOfLine, 'call sites of the echo round TurboFan left out of line (the inlining budget)').toEqual({ sendAllRange: 1 });
    expect(echo.inlined).toMatchObject({
      recvAsync: 1,
      onlyWaitFirst: 1,
      recvWait: 1,
      Call: 1,
      wait: 1,
      generationOf: 1,
      waitOn: 1,
      waits: 1,
      add: 1,
      sendAllMaybeAsync: 1,
      sendAllWith: 1,
    });
    // The dispatch: the resume of a ready recv. A call that waits again from there (an accept that met EAGAIN
    // while the clients connected: whether that happened before TurboFan compiled the dispatch depends on the
    // timing) may call the wait's add() out of line: that is not a request's path.
    const dispatch = lastCompile(trace, '#dispatch');
    const resumePath = ['ready', 'resume', 'go', 'generationOf', 'attempt', 'tryRecvPlain', '#count'];
    expect(
      resumePath.filter((name) => name in dispatch.outOfLine || !((dispatch.inlined[name] ?? 0) >= 1)),
      `the dispatch's resume of a ready recv, not all inlined (out of line: ${JSON.stringify(dispatch.outOfLine)})`,
    ).toEqual([]);
  });

  it('the check sees a callee left out of line: the same server with a budget of 800 bytes', { timeout: 120_000 }, async () => {
    const trace = await echoServerTrace([...traceFlags, '--trace-deopt', '--max-inlined-bytecode-size-cumulative=800']);
    const { sendAllRange: _, ...others } = lastCompile(trace, 'echo').outOfLine;
    expect(Object.values(others).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
