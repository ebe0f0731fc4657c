// Why the fuzzer's forced connect cases once ended "the handler ran 0 times, not 1; ETIMEDOUT" under
// load (s6-infra.md), shown deterministically, and that the watchdog's rule (test/fuzz/eintr.mjs's
// blockedInCall) now reaches the connect where it goes on. The child (test/fuzz/connect-continuation.mjs)
// makes a signal pending before a connect blocks on a dropped SYN; /proc is the reference for where
// the main thread waits.
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockedInCall, SYSCALL_NUMBERS } from './fuzz/eintr.mjs';

interface Continuation {
  skipped?: string;
  outcome: string;
  path: 'fast' | 'napi';
  fastSocketCalls: boolean;
  handoffs: number;
  elapsedMs: number;
  handlerRuns: string[];
  fd: number;
  port: number;
  peerPort: number | null;
  lines: string[];
  numbers: { connect: number; poll: number };
}

describe('a connect interrupted by an earlier signal goes on in poll(), where the watchdog now signals', () => {
  it('blockedInCall: the call on its fd; for connect also poll(fds, 1, -1), never for another call or fd', () => {
    const x64 = SYSCALL_NUMBERS.x64!;
    const at = (line: string) => line.split(' ');
    expect(blockedInCall(at('42 0x18 0x7ffc59cd7290 0x10'), x64.connect, 24, x64)).toBe(true);
    expect(blockedInCall(at('42 0x19 0x7ffc59cd7290 0x10'), x64.connect, 24, x64)).toBe(false);
    expect(blockedInCall(at('7 0x7ffc59cd71c8 0x1 0xffffffff'), x64.connect, 24, x64)).toBe(true);
    expect(blockedInCall(at('7 0x7ffc59cd71c8 0x2 0xffffffff'), x64.connect, 24, x64)).toBe(false); // two fds: not that poll
    expect(blockedInCall(at('7 0x7ffc59cd71c8 0x1 0x3e8'), x64.connect, 24, x64)).toBe(false); // a timeout: not that poll
    expect(blockedInCall(at('7 0x7ffc59cd71c8 0x1 0xffffffff'), x64.accept, 24, x64)).toBe(false); // accept restarts in accept4
    expect(blockedInCall(at('288 0x18 0x0 0x0'), x64.accept, 24, x64)).toBe(true);
    expect(blockedInCall(at('running'), x64.connect, 24, x64)).toBe(false);
    const arm64 = SYSCALL_NUMBERS.arm64!;
    expect(blockedInCall(at('73 0xffffd1c8 0x1 0x0'), arm64.connect, 24, arm64)).toBe(true);
  });

  it('a pending signal\'s nudge interrupts the blocked connect; after its handler the main thread waits in poll, never in connect again; the watchdog\'s signal there resumes it', () => {
    const child = spawnSync(process.execPath, [join(import.meta.dirname, 'fuzz', 'connect-continuation.mjs')], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    const seen = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Continuation;
    if (seen.skipped !== undefined) return void expect(arch()).not.toBe('x64'); // only where the numbers are known
    const { connect, poll } = seen.numbers;
    const fields = seen.lines.map((line) => line.split(' '));
    const inConnect = fields.findIndex((f) => Number(f[0]) === connect && Number(f[1]) === seen.fd);
    const inPoll = fields.findIndex((f) => Number(f[0]) === poll);
    // The connect was interrupted (the nudge comes 1 ms after the stray, so /proc may show it in connect only
    // briefly, or not at all to this thread): with fast socket calls, the fast connect handed its EINTR to
    // connectInterrupted once; then the main thread waited in poll.
    if (seen.fastSocketCalls) expect([seen.path, seen.handoffs]).toEqual(['fast', 1]);
    expect(inPoll, seen.lines.join(' | ')).toBeGreaterThanOrEqual(0);
    if (inConnect >= 0) expect(inConnect).toBeLessThan(inPoll);
    // From the first poll on, never `connect <fd>` again: a watchdog waiting for it (the old rule) never signals,
    // and the connect's SYN, dropped by the full accept queue, would have run out of retries (ETIMEDOUT).
    expect(fields.slice(inPoll).some((f) => Number(f[0]) === connect)).toBe(false);
    expect(fields.slice(inPoll).filter((f) => Number(f[0]) === poll).every((f) => blockedInCall(f, connect, seen.fd, seen.numbers))).toBe(true);
    // The stray's handler ran first (inside the interrupted connect), then the watchdog's, which made room in the
    // accept queue: the retransmitted SYN (about 1 s later) connected, to the listener's port.
    expect(seen.handlerRuns).toEqual(['stray', 'watchdog']);
    expect(seen.outcome).toBe('connected');
    expect(seen.peerPort).toBe(seen.port);
  }, 40_000);
});
