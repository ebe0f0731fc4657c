// fd passing (SCM_RIGHTS) with peers sockfd did not write: Python's
// socket.send_fds/recv_fds and a C program using sendmsg/recvmsg; several fds
// in one message, truncation without leaks, MSG_CMSG_CLOEXEC, and fds received
// in a worker thread.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import * as posix from '../lib/posix.js';
import { closeAll, expectCensusNow, expectNoLeaks, stableCensus } from './helpers/loopback.js';
import { lines, runC, runProgram, stopAll } from './helpers/c-peers.js';
import { until } from '../tools/until.js';

let dir: string;
expectNoLeaks();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockfd-fdpass-'));
});
afterEach(async () => {
  await stopAll();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let sequence = 0;
function socketPath(): string {
  return join(dir, `s${++sequence}.sock`);
}

function textFile(content: string): string {
  const path = join(dir, `f${++sequence}.txt`);
  writeFileSync(path, content);
  return path;
}

/** A Unix stream listener at a fresh path whose accept() gives up after 10 s. */
function unixListener(): { fd: number; path: string } {
  const path = socketPath();
  const fd = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
  posix.bind(fd, { family: 'AF_UNIX', path });
  posix.listen(fd, 4);
  posix.setsockopt(fd, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 10_000);
  return { fd, path };
}

/** What an fd refers to, as /proc shows it ("socket:[123]", "/tmp/x", "pipe:[9]"). */
function target(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

function isCloseOnExec(fd: number): boolean {
  return (posix.fcntl(fd, posix.F_GETFD) & posix.FD_CLOEXEC) !== 0;
}

describe('with Python’s socket.send_fds / recv_fds', () => {
  it('receives an open file and a connected socket that Python sent', async () => {
    const { fd: listenFd, path } = unixListener();
    const file = textFile('from python\nsecond line\n');
    const python = runProgram('python3', [
      '-c',
      `import socket, sys
a, b = socket.socketpair()
b.sendall(b'via the passed socket')
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = open(sys.argv[2], 'rb')
socket.send_fds(s, [b'two fds'], [f.fileno(), a.fileno()])
print(s.recv(100).decode())`,
      path,
      file,
    ]);
    const { fd: conn } = posix.accept(listenFd);
    try {
      const buffer = Buffer.alloc(64);
      const received = posix.recvFds(conn, buffer, 4);
      expect(buffer.toString('utf8', 0, received.bytes)).toBe('two fds');
      expect(received.flags & posix.MSG_CTRUNC).toBe(0);
      expect(received.fds).toHaveLength(2);
      const [fileFd, socketFd] = received.fds as [number, number];
      try {
        expect(target(fileFd)).toBe(file);
        expect(target(socketFd)).toMatch(/^socket:\[\d+\]$/);
        expect(isCloseOnExec(fileFd) && isCloseOnExec(socketFd)).toBe(true); // recvFds' default MSG_CMSG_CLOEXEC
        const text = Buffer.alloc(64);
        expect(text.toString('utf8', 0, posix.read(fileFd, text))).toBe('from python\nsecond line\n');
        expect(text.toString('utf8', 0, posix.recv(socketFd, text))).toBe('via the passed socket');
        posix.send(conn, 'thanks');
      } finally {
        closeAll(fileFd, socketFd);
      }
    } finally {
      closeAll(conn, listenFd);
    }
    const done = await python.finished;
    expect(done).toMatchObject({ code: 0, stdout: 'thanks\n' });
  });

  it('sends a file and one end of a socketpair that Python receives and uses', async () => {
    const path = socketPath();
    const python = runProgram('python3', [
      '-c',
      `import json, os, socket, sys
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
# Bound and listening under a temporary name, then renamed: the path appears only once connect() can succeed.
l.bind(sys.argv[1] + '.tmp'); l.listen(1); os.rename(sys.argv[1] + '.tmp', sys.argv[1])
c, _ = l.accept()
msg, fds, flags, addr = socket.recv_fds(c, 100, 4)
data = os.pread(fds[0], 100, 0).decode()
peer = socket.socket(fileno=fds[1])
peer.sendall(b'python was here')
print(json.dumps({'msg': msg.decode(), 'count': len(fds), 'file': data}))`,
      path,
    ]);
    await until(() => (existsSync(path) || python.exited ? true : undefined), 'python to listen');
    const file = textFile('sent by sockfd\n');
    const fileFd = posix.open(file, posix.O_RDONLY | posix.O_CLOEXEC);
    const [mine, theirs] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const client = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      posix.connect(client, { family: 'AF_UNIX', path });
      expect(posix.sendFds(client, ['file ', 'and socket'], [fileFd, theirs])).toBe(15);
      posix.close(theirs); // Python holds its own copy now
      const done = await python.finished;
      expect(done.code, done.stderr).toBe(0);
      expect(JSON.parse(done.stdout)).toEqual({ msg: 'file and socket', count: 2, file: 'sent by sockfd\n' });
      const reply = Buffer.alloc(64);
      expect(reply.toString('utf8', 0, posix.recv(mine, reply))).toBe('python was here');
    } finally {
      closeAll(client, fileFd, mine);
    }
  });
});

describe('with a C program using sendmsg/recvmsg', () => {
  it('the C program receives the fd sockfd sent and reads the file through it', async () => {
    const path = socketPath();
    const peer = await runC('fd-pass', ['recv', path]);
    await until(() => (peer.stdout.includes('listening') || peer.exited ? true : undefined), 'fd-pass to listen');
    const fileFd = posix.open(textFile('first line for C\nmore\n'), posix.O_RDONLY | posix.O_CLOEXEC);
    const client = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      posix.connect(client, { family: 'AF_UNIX', path });
      posix.sendmsg(client, [Buffer.from('hello C')], [{ type: 'SCM_RIGHTS', fds: [fileFd] }]);
    } finally {
      closeAll(client, fileFd);
    }
    const done = await peer.finished;
    expect(done.code, done.stderr).toBe(0);
    expect(lines(done.stdout)).toEqual(['listening', 'message hello C', 'fd 0: first line for C']);
  });

  it('sockfd receives the fd the C program sent', async () => {
    const { fd: listenFd, path } = unixListener();
    const file = textFile('the C side opened me\n');
    const peer = await runC('fd-pass', ['send', path, file]);
    const { fd: conn } = posix.accept(listenFd);
    try {
      const buffer = Buffer.alloc(16);
      const message = posix.recvmsg(conn, buffer, posix.CMSG_SPACE(4), posix.MSG_CMSG_CLOEXEC);
      expect(buffer.toString('utf8', 0, message.bytes)).toBe('file');
      const rights = posix.findControl(message.control, 'SCM_RIGHTS');
      expect(rights?.level).toBe(posix.SOL_SOCKET);
      expect(rights?.fds).toHaveLength(1);
      const fd = rights!.fds[0]!;
      try {
        expect(target(fd)).toBe(file);
        expect(isCloseOnExec(fd)).toBe(true);
        expect(readFileSync(`/proc/self/fd/${fd}`, 'utf8')).toBe('the C side opened me\n');
      } finally {
        posix.close(fd);
      }
    } finally {
      closeAll(conn, listenFd);
    }
    const done = await peer.finished;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^sent fd \d+\n$/);
  });
});

describe('several fds, truncation, close-on-exec', () => {
  it('passes five fds in one message, each the same open file as the original', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const [pipeRead, pipeWrite] = posix.pipe(posix.O_CLOEXEC);
    const file = posix.open(textFile('x'), posix.O_RDONLY | posix.O_CLOEXEC);
    const [s1, s2] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const sent = [pipeRead, pipeWrite, file, s1, s2];
    try {
      posix.sendFds(a, 'five', sent);
      const got = posix.recvFds(b, Buffer.alloc(8), 8, 0); // without MSG_CMSG_CLOEXEC
      expect(got.fds).toHaveLength(5);
      expect(got.fds.map(target)).toEqual(sent.map(target));
      expect(got.fds.every((fd) => !sent.includes(fd))).toBe(true); // new numbers
      expect(got.fds.some(isCloseOnExec)).toBe(false); // C semantics without the flag
      // The received write end really is the pipe: bytes written to it come out of the original read end.
      posix.write(got.fds[1]!, 'through the copy');
      const out = Buffer.alloc(32);
      expect(out.toString('utf8', 0, posix.read(pipeRead, out))).toBe('through the copy');
      closeAll(...got.fds);
    } finally {
      closeAll(a, b, ...sent);
    }
  });

  it('MSG_CTRUNC: the fds that fit arrive, the kernel closes the rest, and nothing leaks', async () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const sent = Array.from({ length: 10 }, () => posix.open('/dev/null', posix.O_RDONLY | posix.O_CLOEXEC));
    try {
      const before = await stableCensus();
      posix.sendFds(a, 'ten', sent);
      const message = posix.recvmsg(b, Buffer.alloc(8), posix.CMSG_SPACE(3 * 4), posix.MSG_CMSG_CLOEXEC);
      expect(message.flags & posix.MSG_CTRUNC).toBe(posix.MSG_CTRUNC);
      const fds = posix.findControl(message.control, 'SCM_RIGHTS')?.fds ?? [];
      expect(fds.length).toBeGreaterThan(0);
      expect(fds.length).toBeLessThan(10);
      await expectCensusNow(before, fds); // exactly the returned ones are new
      closeAll(...fds);
      await expectCensusNow(before);
      // recvFds with too small a maxFds says so in flags, too.
      posix.sendFds(a, 'again', sent);
      const again = posix.recvFds(b, Buffer.alloc(8), 2);
      expect(again.flags & posix.MSG_CTRUNC).toBe(posix.MSG_CTRUNC);
      expect(again.fds).toHaveLength(2);
      closeAll(...again.fds);
      await expectCensusNow(before);
      // No room for control at all: every fd is dropped by the kernel.
      posix.sendFds(a, 'none', sent);
      const none = posix.recvmsg(b, Buffer.alloc(8));
      expect(none.flags & posix.MSG_CTRUNC).toBe(posix.MSG_CTRUNC);
      expect(none.control).toEqual([]);
      await expectCensusNow(before);
    } finally {
      closeAll(a, b, ...sent);
    }
  });

  it('a worker thread receives fds that the main thread then uses', async () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    const [pipeRead, pipeWrite] = posix.pipe(posix.O_CLOEXEC);
    const library = pathToFileURL(join(process.cwd(), 'dist/lib/index.js')).href;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.library).then((s) => {
         const got = s.recvFds(workerData.fd, Buffer.alloc(16), 4);
         parentPort.postMessage(got);
       });`,
      { eval: true, workerData: { fd: b, library } },
    );
    try {
      const reply = new Promise<posix.ReceivedFds>((resolve, reject) => worker.once('message', resolve).once('error', reject));
      posix.sendFds(a, 'to the worker', [pipeWrite]);
      const got = await reply;
      expect(got.bytes).toBe('to the worker'.length);
      expect(got.fds).toHaveLength(1);
      expect(target(got.fds[0]!)).toBe(target(pipeWrite));
      posix.write(got.fds[0]!, 'written by main via the worker’s fd');
      posix.close(got.fds[0]!);
      const out = Buffer.alloc(64);
      expect(out.toString('utf8', 0, posix.read(pipeRead, out))).toBe('written by main via the worker’s fd');
    } finally {
      await worker.terminate();
      closeAll(a, b, pipeRead, pipeWrite);
    }
  });

  it('rejects bad fd lists before any system call', () => {
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_DGRAM);
    try {
      expect(() => posix.sendFds(a, 'x', [])).toThrow(RangeError);
      expect(() => posix.sendFds(a, 'x', new Array<number>(254).fill(0))).toThrow(RangeError);
      expect(() => posix.sendFds(a, 'x', [Number.NaN])).toThrow(TypeError);
      expect(() => posix.sendFds(a, 'x', [-1])).toThrow(RangeError);
      expect(() => posix.sendFds(a, 'x', [1.5])).toThrow(TypeError);
      expect(() => posix.recvFds(b, Buffer.alloc(1), 0)).toThrow(RangeError);
      // A closed fd is the kernel's EBADF, with the call's name.
      const closed = posix.dup(a);
      posix.close(closed);
      expect(() => posix.sendFds(a, 'x', [closed])).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'sendmsg' }));
    } finally {
      closeAll(a, b);
    }
  });
});
