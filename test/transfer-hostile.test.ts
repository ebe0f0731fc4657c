// Hostile input against a running recv-files: every case is followed by a good
// upload that must still succeed, and after all of them nothing outside the
// directory was created or changed, no temporary file remains, the server
// holds no more fds than before and every child was reaped.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { startFileServer, type BackgroundServer } from '../tools/background-server.js';
import { ReplyCode, encodeExtendedHeader, encodeTutorialHeader } from '../lib/transfer/protocol.js';
import { uploadFile } from '../lib/transfer/sender.js';
import { fdCount, parseReply, readUntilClosed, removeDir, scratchDir, sha256, tempFilesIn } from './helpers/transfer.js';
import { connectLoopback } from './helpers/loopback.js';
import { recvExactly, sendAll } from '../lib/io.js';
import { until } from '../tools/until.js';
import { childPids } from '../lib/procfs.js';

const MAX_SIZE = 1024 * 1024;
const IDLE_MS = 1500;

/** A tutorial header with raw name bytes (no validation: that is the point). */
function rawTutorialHeader(name: Uint8Array, size: number): Buffer {
  const header = Buffer.alloc(260);
  Buffer.from(name).copy(header, 0, 0, Math.min(name.length, 256));
  header.writeInt32LE(size, 256);
  return header;
}

/** An extended header with raw name bytes. */
function rawExtendedHeader(name: Uint8Array, size: bigint): Buffer {
  const fixed = encodeExtendedHeader('x', 0).subarray(0, 18);
  const header = Buffer.concat([fixed, Buffer.from(name)]);
  header.writeBigUInt64BE(size, 8);
  header.writeUInt16BE(name.length, 16);
  return header;
}

/** Every path under `root` except the directories in `skip`, with a hash of what it is (content, link target, mode). */
function snapshot(root: string, skip: readonly string[]): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (skip.includes(path)) continue;
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        entries.set(path, `dir ${stat.mode}`);
        walk(path);
      } else if (stat.isSymbolicLink()) {
        entries.set(path, `link ${readlinkSync(path)}`);
      } else {
        entries.set(path, `file ${stat.mode} ${stat.mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
      }
    }
  };
  walk(root);
  return entries;
}

describe('hostile input against recv-files', () => {
  let root: string;
  let dir: string;
  let source: string;
  let server: BackgroundServer;
  let before: Map<string, string>;
  let serverFds: number;
  let good = 0;

  /** The good upload after each case: it must still be stored, byte for byte. */
  function goodUpload(): void {
    const name = `good-${++good}.bin`;
    const content = randomBytes(5000 + good);
    writeFileSync(join(source, name), content);
    uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, name), timeoutMs: 10_000 });
    expect(readFileSync(join(dir, name)).equals(content)).toBe(true);
  }

  /** Sends `bytes`, then reads until the server closes (bounded). */
  function exchange(bytes: Uint8Array, { halfClose = false } = {}): { data: Buffer; closed: boolean } {
    const fd = connectLoopback(server.port);
    try {
      sendAll(fd, bytes);
      if (halfClose) posix.shutdown(fd, posix.SHUT_WR);
      return readUntilClosed(fd);
    } finally {
      posix.close(fd);
    }
  }

  beforeAll(async () => {
    root = scratchDir('hostile');
    dir = join(root, 'dir');
    source = join(root, 'source');
    mkdirSync(dir);
    mkdirSync(source);
    writeFileSync(join(root, 'x'), 'outside, must not change');
    writeFileSync(join(root, 'outside-target'), 'the symlink in dir points here');
    symlinkSync(join(root, 'outside-target'), join(dir, 'link'));
    writeFileSync(join(dir, 'keep.txt'), 'an existing file that failed uploads must not change');
    before = snapshot(root, [dir, source]);
    server = await startFileServer({ dir, maxSize: MAX_SIZE, idleTimeoutMs: IDLE_MS, maxChildren: 8 });
    goodUpload();
    serverFds = fdCount(server.pid);
  });

  afterAll(async () => {
    await server?.stop();
    removeDir(root);
  });

  const badNames: [string, Buffer][] = [
    ['../x', Buffer.from('../x')],
    ['/etc/x', Buffer.from('/etc/x')],
    ['a/b', Buffer.from('a/b')],
    ['.', Buffer.from('.')],
    ['..', Buffer.from('..')],
    ['a control character', Buffer.from('a\x01b')],
    ['a right-to-left override', Buffer.from('invoice\u202Efdp.exe')],
    ['a zero-width space', Buffer.from('keep\u200B.txt')],
    ['a leading BOM', Buffer.from('\uFEFF..')],
  ];

  for (const [label, name] of badNames) {
    it(`tutorial: name ${label} is refused by closing the connection`, () => {
      const result = exchange(rawTutorialHeader(name, 10));
      expect(result).toEqual({ data: Buffer.alloc(0), closed: true });
      goodUpload();
    });

    it(`extended: name ${label} is refused with BAD_NAME`, () => {
      const result = exchange(rawExtendedHeader(name, 10n));
      expect(parseReply(result.data)?.code).toBe(ReplyCode.BAD_NAME);
      expect(result.closed).toBe(true);
      goodUpload();
    });
  }

  it('tutorial: an empty name (a header of NULs) is not taken for anything', () => {
    const result = exchange(Buffer.alloc(260));
    expect(parseReply(result.data)?.code).toBe(ReplyCode.BAD_HEADER); // NUL first byte: judged as extended, wrong magic
    goodUpload();
  });

  it('extended: an empty name is refused', () => {
    expect(parseReply(exchange(rawExtendedHeader(Buffer.alloc(0), 10n)).data)?.code).toBe(ReplyCode.BAD_NAME);
    goodUpload();
  });

  it('tutorial: 256 name bytes with no NUL are refused', () => {
    expect(exchange(rawTutorialHeader(Buffer.alloc(256, 0x61), 10))).toEqual({ data: Buffer.alloc(0), closed: true });
    goodUpload();
  });

  it('extended: a NUL inside the declared name is refused', () => {
    expect(parseReply(exchange(rawExtendedHeader(Buffer.from('a\0b'), 10n)).data)?.code).toBe(ReplyCode.BAD_NAME);
    goodUpload();
  });

  it('tutorial: a negative size is refused', () => {
    expect(exchange(rawTutorialHeader(Buffer.from('negative.bin'), -5))).toEqual({ data: Buffer.alloc(0), closed: true });
    expect(existsSync(join(dir, 'negative.bin'))).toBe(false);
    goodUpload();
  });

  it('a size above the limit is refused (tutorial: closed; extended: TOO_LARGE, even for 2^64-1)', () => {
    expect(exchange(rawTutorialHeader(Buffer.from('huge.bin'), MAX_SIZE + 1))).toEqual({ data: Buffer.alloc(0), closed: true });
    expect(parseReply(exchange(rawExtendedHeader(Buffer.from('huge.bin'), 2n ** 64n - 1n)).data)?.code).toBe(ReplyCode.TOO_LARGE);
    expect(existsSync(join(dir, 'huge.bin'))).toBe(false);
    goodUpload();
  });

  for (const format of ['tutorial', 'extended'] as const) {
    it(`${format}: a size larger than the data, then a disconnect, leaves nothing`, async () => {
      const header = format === 'tutorial' ? encodeTutorialHeader('keep.txt', 10_000) : encodeExtendedHeader('keep.txt', 10_000);
      const fd = connectLoopback(server.port);
      try {
        sendAll(fd, header);
        recvExactly(fd, 2, { timeout: 10_000 }); // "ok" or the extended OK
        sendAll(fd, randomBytes(4000));
      } finally {
        posix.close(fd);
      }
      await server.waitForLine(new RegExp(`${format} name="keep.txt" size=10000 .* failed TRUNCATED: the connection closed after 4000 of 10000 bytes`));
      goodUpload();
    });

    it(`${format}: more data than announced is refused`, async () => {
      const content = randomBytes(3000);
      const fd = connectLoopback(server.port);
      let reply: Buffer;
      try {
        sendAll(fd, format === 'tutorial' ? encodeTutorialHeader('keep.txt', 1000) : encodeExtendedHeader('keep.txt', 1000));
        recvExactly(fd, 2, { timeout: 10_000 });
        // One send: on loopback the extra bytes are queued with the announced ones.
        sendAll(fd, format === 'tutorial' ? content : Buffer.concat([content.subarray(0, 1000), createHash('sha256').update(content.subarray(0, 1000)).digest(), content.subarray(1000)]));
        if (format === 'extended') posix.shutdown(fd, posix.SHUT_WR);
        reply = readUntilClosed(fd).data;
      } finally {
        posix.close(fd);
      }
      if (format === 'extended') expect(parseReply(reply)?.code).toBe(ReplyCode.TOO_MUCH_DATA);
      else expect(reply.length).toBe(0); // no second "ok"
      await server.waitForLine(new RegExp(`${format} name="keep.txt" size=1000 .* refused TOO_MUCH_DATA`));
      goodUpload();
    });
  }

  it('extended: content whose SHA-256 differs from the trailer is refused', () => {
    const fd = connectLoopback(server.port);
    try {
      sendAll(fd, encodeExtendedHeader('keep.txt', 100));
      recvExactly(fd, 2, { timeout: 10_000 });
      sendAll(fd, Buffer.concat([randomBytes(100), Buffer.alloc(32)]));
      posix.shutdown(fd, posix.SHUT_WR);
      const reply = parseReply(readUntilClosed(fd).data);
      expect(reply?.code).toBe(ReplyCode.CHECKSUM_MISMATCH);
    } finally {
      posix.close(fd);
    }
    goodUpload();
  });

  it('a truncated header, then a disconnect', async () => {
    const header = encodeTutorialHeader('truncated.bin', 10);
    expect(exchange(header.subarray(0, 100), { halfClose: true }).closed).toBe(true);
    expect(exchange(encodeExtendedHeader('truncated.bin', 10).subarray(0, 12), { halfClose: true }).closed).toBe(true);
    await server.waitForLine(/failed TRUNCATED: the connection closed after 100 of the 260 header bytes/);
    goodUpload();
  });

  it('260 random bytes (several draws)', () => {
    for (let i = 0; i < 8; i++) {
      const fd = connectLoopback(server.port);
      try {
        sendAll(fd, randomBytes(260));
        posix.shutdown(fd, posix.SHUT_WR); // then nothing more: whatever was announced never arrives
        expect(readUntilClosed(fd).closed).toBe(true);
      } finally {
        posix.close(fd);
      }
    }
    goodUpload();
  });

  it('a client that connects and sends nothing is dropped after the idle timeout', async () => {
    const fd = connectLoopback(server.port);
    try {
      const result = readUntilClosed(fd, IDLE_MS * 5);
      expect(result.closed).toBe(true);
    } finally {
      posix.close(fd);
    }
    await server.waitForLine(/failed TIMEOUT: the client sent nothing for 1500 ms/);
    goodUpload();
  });

  it('a client killed mid-transfer leaves no file and no temporary file', async () => {
    // A separate process that announces 1 MiB, sends 64 KiB and waits to be killed.
    const script = `
      const net = require('node:net');
      const header = Buffer.from(process.argv[1], 'hex');
      const socket = net.connect(Number(process.argv[2]), '127.0.0.1', () => socket.write(header));
      socket.once('data', () => socket.write(Buffer.alloc(65536, 7), () => process.stdout.write('sent\\n')));
      setTimeout(() => {}, 60000);`;
    const victim = spawn(process.execPath, ['-e', script, encodeTutorialHeader('killed.bin', MAX_SIZE).toString('hex'), String(server.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        victim.stdout.once('data', () => resolve());
        victim.once('exit', () => reject(new Error('the client exited before sending')));
      });
      await until(() => (tempFilesIn(dir).length > 0 ? true : undefined), 'the temporary file', 10_000);
    } finally {
      victim.kill('SIGKILL');
    }
    await server.waitForLine(/name="killed.bin" size=1048576 .* failed TRUNCATED/);
    expect(existsSync(join(dir, 'killed.bin'))).toBe(false);
    expect(tempFilesIn(dir)).toEqual([]);
    goodUpload();
  });

  it('a child killed outright (SIGKILL) mid-upload: the parent removes its temporary file when it reaps it', async () => {
    const fd = connectLoopback(server.port);
    try {
      sendAll(fd, encodeExtendedHeader('keep.txt', 100_000));
      expect(parseReply(recvExactly(fd, 2, { timeout: 10_000 }))?.code).toBe(ReplyCode.OK);
      sendAll(fd, randomBytes(10_000));
      const temp = await until(() => tempFilesIn(dir)[0], 'the temporary file', 10_000);
      // The uploading child is the one named in its temporary file (the previous upload's child may not be reaped yet).
      const child = Number(/^\.sockfd-upload-(\d+)-/.exec(temp)?.[1]);
      expect(childPids(server.pid)).toContain(child);
      process.kill(child, 'SIGKILL');
      await server.waitForLine(new RegExp(`child ${child} ended by SIGKILL; removed its temporary file \\.sockfd-upload-${child}-`));
      expect(tempFilesIn(dir)).toEqual([]);
      expect(readUntilClosed(fd).closed).toBe(true);
    } finally {
      posix.close(fd);
    }
    goodUpload();
  });

  it('a symbolic link in the directory is replaced, never followed', () => {
    writeFileSync(join(source, 'link'), 'replaces the link itself');
    uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, 'link') });
    expect(lstatSync(join(dir, 'link')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'link'), 'utf8')).toBe('replaces the link itself');
    goodUpload();
  });

  it('afterwards: nothing outside the directory changed, no temporary file, no fd leaked, every child reaped', async () => {
    expect(snapshot(root, [dir, source])).toEqual(before);
    expect(existsSync('/etc/x')).toBe(false);
    expect(existsSync(join(root, 'b'))).toBe(false);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('an existing file that failed uploads must not change');
    expect(tempFilesIn(dir)).toEqual([]);
    await until(() => (childPids(server.pid).length === 0 ? true : undefined), 'every child reaped', 10_000);
    expect(fdCount(server.pid)).toBe(serverFds);
    const unexpected = readdirSync(dir).filter((name) => !/^good-\d+\.bin$/.test(name) && !['keep.txt', 'link'].includes(name));
    expect(unexpected).toEqual([]);
    expect(sha256(readFileSync(join(root, 'outside-target')))).toBe(sha256(Buffer.from('the symlink in dir points here')));
  });
});

describe('SIGTERM to the server mid-transfer, with no grace period', () => {
  it('the upload in progress is dropped with SHUTTING_DOWN, its temporary file removed, the server exits 0', async () => {
    const root = scratchDir('hostile-term');
    const dir = join(root, 'dir');
    mkdirSync(dir);
    writeFileSync(join(dir, 'target.bin'), 'old content');
    const server = await startFileServer({ dir, idleTimeoutMs: 30_000, graceMs: 0 });
    const fd = connectLoopback(server.port);
    try {
      sendAll(fd, encodeExtendedHeader('target.bin', 1_000_000));
      expect(parseReply(recvExactly(fd, 2, { timeout: 10_000 }))?.code).toBe(ReplyCode.OK);
      sendAll(fd, randomBytes(100_000));
      await until(() => (tempFilesIn(dir).length > 0 ? true : undefined), 'the temporary file', 10_000);
      const children = childPids(server.pid);
      expect(children).toHaveLength(1);
      const exit = await server.stop();
      expect(exit.code, server.errors.join('\n')).toBe(0);
      const reply = parseReply(readUntilClosed(fd).data);
      expect(reply?.code).toBe(ReplyCode.SHUTTING_DOWN);
      expect(tempFilesIn(dir)).toEqual([]);
      expect(readFileSync(join(dir, 'target.bin'), 'utf8')).toBe('old content');
      expect(existsSync(`/proc/${children[0]}`)).toBe(false);
      expect(server.log.some((line) => /name="target.bin" size=1000000 .* failed SHUTTING_DOWN/.test(line))).toBe(true);
    } finally {
      posix.close(fd);
      await server.stop();
    }
    // The good upload after it: a new server on the same directory stores files as before.
    const again = await startFileServer({ dir });
    try {
      writeFileSync(join(root, 'after.bin'), 'after the stop');
      uploadFile({ host: '127.0.0.1', port: again.port, path: join(root, 'after.bin') });
      expect(readFileSync(join(dir, 'after.bin'), 'utf8')).toBe('after the stop');
    } finally {
      await again.stop();
      removeDir(root);
    }
  });
});
