// What the fast-call suites (test/fast-calls, test/connect-fast) share: the
// V8s sockfd_node's fast calls are built for, a child Node run with
// --allow-natives-syntax that reports its steps as JSON lines, and the wait
// until that child blocks in a given system call.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';

/** The V8s of Node 20, 22 and 24 (native/node/v8_fast_api.h); anywhere else fast calls are off and say why. */
const builtFor = ['11.3.244.8', '12.4.254.21', '13.6.233.17'];
export const builtForThisV8 = builtFor.some((v8) => process.versions.v8 === v8 || process.versions.v8.startsWith(`${v8}-`));

/** One JSON line a fixture printed. */
export interface Step {
  step: string;
  [key: string]: unknown;
}

export interface StepChildOptions {
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  /** The child is killed after this long (bounded; stretched under ASan, see boundOf). */
  timeoutMs: number;
  /** Sees each step as it comes (to send a signal at the right moment). */
  onLine?: (step: Step, pid: number) => void;
}

/**
 * Under ASan (CI preloads libasan) a child Node starts and runs several times slower: on a loaded
 * 2-CPU machine the io-loops fixture was killed at its 20 s bound while still in Node's start-up
 * (perf: ~6% of a CPU, in OpenSSL's initialisation and V8's deserializer under ASan), where it takes
 * 2 s alone. The kill bound stretches with it, below vitest's 60 s per test. A bound, not a timing.
 */
const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');
const boundOf = (timeoutMs: number): number => (sanitized ? Math.max(timeoutMs, Math.min(timeoutMs * 2.5, 55_000)) : timeoutMs);

/** Runs `node --allow-natives-syntax … script ...args` with call counting on; its steps in order. */
export function runStepChild(script: string, args: string[], options: StepChildOptions): Promise<Step[]> {
  const { nodeFlags = [], env = {}, timeoutMs, onLine = () => undefined } = options;
  const label = args.slice(1).join(' ');
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--allow-natives-syntax', ...nodeFlags, script, ...args], {
      env: { ...process.env, SOCKFD_FAST_CALLS_COUNT: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const steps: Step[] = [];
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), boundOf(timeoutMs));
    proc.stdout.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      for (let nl; (nl = pending.indexOf('\n')) >= 0; ) {
        const step = JSON.parse(pending.slice(0, nl)) as Step;
        pending = pending.slice(nl + 1);
        steps.push(step);
        onLine(step, proc.pid!);
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(steps);
      else reject(new Error(`fixture ${label} ended with ${signal ?? code}: ${stderr}`));
    });
  });
}

// Syscall numbers in /proc/<pid>/syscall, where these tests know them.
const syscallNumbers: Record<string, Record<string, number>> = {
  x64: { recvfrom: 45, connect: 42, accept4: 288 },
  arm64: { recvfrom: 207, connect: 203, accept4: 242 },
};

/** Resolves once `pid` is blocked in `syscall` (bounded: 10 s); elsewhere, once it is blocked in any. */
export async function blockedIn(pid: number, syscall: 'recvfrom' | 'connect' | 'accept4'): Promise<void> {
  const number = syscallNumbers[arch()]?.[syscall];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const fields = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
    if (number === undefined ? fields[0] !== 'running' && fields.length > 1 : Number(fields[0]) === number) return;
    if (Date.now() > deadline) throw new Error(`pid ${pid} never blocked in ${syscall} (syscall: ${fields.join(' ')})`);
    await new Promise((r) => setImmediate(r));
  }
}
