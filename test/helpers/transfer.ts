// Shared by the transfer tests: scratch directories, files of known content,
// reads of a raw client (for hostile input).
// Sockets, ports, sends and waits: ./loopback.ts, lib/io.ts, tools/until.ts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as posix from '../../lib/posix.js';
import { isSyscallError } from '../../lib/errors.js';
import { TEMP_PREFIX } from '../../lib/transfer/protocol.js';

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

/** Decodes an extended reply from raw bytes: code, reason. */
export function parseReply(bytes: Buffer): { code: number; reason: string } | null {
  if (bytes.length < 2 || bytes.length < 2 + bytes[1]!) return null;
  return { code: bytes[0]!, reason: bytes.subarray(2, 2 + bytes[1]!).toString('utf8') };
}

/** The fds of a process (names in /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
