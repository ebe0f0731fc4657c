// Shared by the transfer tests: scratch directories, files of known content,
// a raw client that speaks bytes (for hostile input), waits with bounds.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as posix from '../lib/posix.js';
import { isSyscallError } from '../lib/errors.js';
import { TEMP_PREFIX } from '../lib/transfer/protocol.js';

export function scratchDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `sockfd-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `size` random bytes to dir/name; returns the content. */
export function randomFile(dir: string, name: string, size: number): Buffer {
  const content = randomBytes(size);
  writeFileSync(join(dir, name), content);
  return content;
}

export function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(TEMP_PREFIX));
}

/** Polls `check` every 20 ms until it returns a value other than undefined, at most `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A blocking client socket connected to 127.0.0.1:port. */
export function connectLoopback(port: number): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_CLOEXEC, 0);
  try {
    posix.connect(fd, { family: 'AF_INET', address: '127.0.0.1', port });
    return fd;
  } catch (error) {
    posix.close(fd);
    throw error;
  }
}

export function sendAll(fd: number, data: Uint8Array): void {
  for (let sent = 0; sent < data.length; ) sent += posix.send(fd, data, posix.MSG_NOSIGNAL, sent, data.length - sent);
}

/**
 * Everything the server sends until it closes the connection (bounded by
 * `timeoutMs`; a reset counts as closed). `closed` is false on timeout.
 */
export function readUntilClosed(fd: number, timeoutMs = 10_000): { data: Buffer; closed: boolean } {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(4096);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || posix.poll([{ fd, events: posix.POLLIN }], left) === 0) return { data: Buffer.concat(chunks), closed: false };
    let n: number;
    try {
      n = posix.recv(fd, buffer);
    } catch (error) {
      if (isSyscallError(error, 'ECONNRESET')) return { data: Buffer.concat(chunks), closed: true };
      throw error;
    }
    if (n === 0) return { data: Buffer.concat(chunks), closed: true };
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
}

/** Reads exactly n bytes (bounded); throws when the server closes first. */
export function readExactly(fd: number, n: number, timeoutMs = 10_000): Buffer {
  const buffer = Buffer.alloc(n);
  const deadline = Date.now() + timeoutMs;
  for (let got = 0; got < n; ) {
    const left = deadline - Date.now();
    if (left <= 0 || posix.poll([{ fd, events: posix.POLLIN }], left) === 0) throw new Error(`timed out after ${got} of ${n} bytes`);
    const r = posix.recv(fd, buffer, 0, got, n - got);
    if (r === 0) throw new Error(`connection closed after ${got} of ${n} bytes`);
    got += r;
  }
  return buffer;
}

/** Decodes an extended reply from raw bytes: code, reason. */
export function parseReply(bytes: Buffer): { code: number; reason: string } | null {
  if (bytes.length < 2 || bytes.length < 2 + bytes[1]!) return null;
  return { code: bytes[0]!, reason: bytes.subarray(2, 2 + bytes[1]!).toString('utf8') };
}

/** The fds of a process (names in /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Pids of the children of `pid` (zombies included: they stay children until reaped). */
export function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended
    }
  }
  return pids;
}

/** A free TCP port on 127.0.0.1 for programs that cannot take port 0 (the C demo12): bound, read, closed. */
export function freePort(): number {
  const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  try {
    posix.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    const address = posix.getsockname(fd);
    return 'port' in address ? address.port : 0;
  } finally {
    posix.close(fd);
  }
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output until it exits; kills it (and rejects) after `timeoutMs`. */
export function finished(child: ChildProcess, timeoutMs = 30_000): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${child.spawnfile} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
