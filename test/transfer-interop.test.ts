// Interop with the tutorial's own programs (c/demo11.cpp, c/demo12.cpp, built
// by tools/c-programs): the C client uploads to recv-files, send-file uploads
// to the C server, and the twins print what the C prints and put the same
// bytes on the wire.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { cProgram } from '../tools/c-programs.js';
import { childPids } from '../lib/procfs.js';
import { startFileServer, type BackgroundServer } from '../tools/background-server.js';
import { uploadFile } from '../lib/transfer/sender.js';
import { randomFile, removeDir, scratchDir } from './helpers/transfer.js';
import { Running, cliPath, type Finished } from '../tools/processes.js';
import { connectLoopback, freePort } from './helpers/loopback.js';
import { recvExactly } from '../lib/io.js';
import { until } from '../tools/until.js';

function run(command: string, args: string[], cwd: string): Promise<Finished> {
  return new Running(command, args, { cwd }).end();
}

/** A server program (C demo12 or its twin) in a process group of its own: the C's SIGTERM handler does kill(0, SIGTERM). */
interface GroupServer {
  process: Running;
  output: Promise<Finished>;
  port: number;
}

async function startGroupServer(command: string, args: (port: number) => string[]): Promise<GroupServer> {
  const port = freePort();
  const child = new Running(command, args(port), { detached: true });
  const output = child.end(120_000);
  await until(
    () => {
      try {
        posix.close(connectLoopback(port)); // an empty connection: both servers log it as a failed recv and go on
        return true;
      } catch {
        return undefined;
      }
    },
    `${command} listening on ${port}`,
    10_000,
  );
  return { process: child, output, port };
}

// A child that has sent its last reply may still be alive; a SIGTERM then reaches it too
// (kill(0, SIGTERM)) and adds a 子进程…退出 line. Stop the parent once it is alone.
async function stopGroupServer(server: GroupServer): Promise<Finished> {
  const parent = server.process.pid;
  // Best effort: a stuck child must not keep the server running; the output check then fails.
  await until(() => (childPids(parent).length === 0 ? true : undefined), 'the children to exit', 10_000).catch(() => undefined);
  server.process.stop('SIGTERM');
  return server.output;
}

let demo11: string;
let demo12: string;
let root: string;
let source: string;

beforeAll(async () => {
  [demo11, demo12] = await Promise.all([cProgram('demo11'), cProgram('demo12')]);
  root = scratchDir('interop');
  source = join(root, 'source');
  mkdirSync(source);
});

afterAll(() => removeDir(root));

describe("the tutorial's C client uploads to recv-files", () => {
  let dir: string;
  let server: BackgroundServer;

  beforeAll(async () => {
    dir = join(root, 'from-c');
    mkdirSync(dir);
    server = await startFileServer({ dir });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const files: [string, number][] = [
    ['c-1.bin', 1],
    ['c-4096.bin', 4096],
    ['c-4097.bin', 4097],
    ['c-10m.bin', 10 * 1024 * 1024],
    ['c-文件.bin', 3000],
  ];
  for (const [name, size] of files) {
    it(`${name} (${size} bytes)`, async () => {
      const content = randomFile(source, name, size);
      const result = await run(demo11, ['127.0.0.1', String(server.port), name, String(size)], source);
      expect(result.stdout).toBe(`发送文件信息的结构体${name}(${size})。\n发送文件内容成功。\n`);
      expect(result.code).toBe(0);
      expect(readFileSync(join(dir, name)).equals(content)).toBe(true);
      expect(await server.waitForLine(new RegExp(`tutorial name="${name}" size=${size} .* stored$`))).toBeTruthy();
    });
  }
});

describe("send-file uploads to the tutorial's C server", () => {
  let dir: string;
  let server: GroupServer;

  beforeAll(async () => {
    dir = join(root, 'to-c');
    mkdirSync(dir);
    server = await startGroupServer(demo12, (port) => [String(port), dir]);
  });

  afterAll(async () => {
    if (server) await stopGroupServer(server);
  });

  // At most 60000 bytes: the C server counts a short recv() as a full 4096-byte
  // block (the tutorial's bug), which only a file that arrives in one segment avoids.
  const files: [string, number][] = [
    ['s-1.bin', 1],
    ['s-4095.bin', 4095],
    ['s-4097.bin', 4097],
    ['s-60000.bin', 60000],
    ['s-文件.bin', 2000],
  ];
  for (const [name, size] of files) {
    it(`${name} (${size} bytes)`, () => {
      const content = randomFile(source, name, size);
      const result = uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, name), format: 'tutorial' });
      expect(result.size).toBe(size);
      expect(readFileSync(join(dir, name)).equals(content)).toBe(true);
    });
  }

  it('the extended format is told apart: the C answers "ok" to anything, send-file says to use the tutorial format', () => {
    writeFileSync(join(source, 'ext.txt'), 'x');
    expect(() => uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, 'ext.txt') })).toThrow(/--format tutorial/);
  });

  it("sockfd send-file without --format falls back to the tutorial's format by itself, saying so in one line", async () => {
    const content = randomFile(source, 'fallback.bin', 3000);
    const result = await run(process.execPath, [cliPath, 'send-file', '127.0.0.1', String(server.port), join(source, 'fallback.bin')], source);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe(
      `sockfd send-file: ${join(source, 'fallback.bin')}: the server speaks only the tutorial's format (demo12): sending it again in that format, without a checksum\n`,
    );
    expect(result.stdout).toMatch(/no checksum \(tutorial format\), stored\n$/);
    expect(readFileSync(join(dir, 'fallback.bin')).equals(content)).toBe(true);
  });
});

/** Runs a client against a capture server in this process: returns the bytes it sent (header, content). */
async function capture(client: (port: number) => Running, size: number): Promise<{ header: Buffer; content: Buffer; output: Finished }> {
  const listenFd = posix.socket(posix.AF_INET, posix.SOCK_STREAM, 0);
  try {
    posix.bind(listenFd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
    posix.listen(listenFd, 1);
    const address = posix.getsockname(listenFd);
    const output = client('port' in address ? address.port : 0).end();
    if (posix.poll([{ fd: listenFd, events: posix.POLLIN }], 10_000) === 0) throw new Error('the client did not connect');
    const { fd } = posix.accept(listenFd);
    try {
      const header = recvExactly(fd, 260, { timeout: 10_000 });
      posix.send(fd, 'ok');
      const content = recvExactly(fd, size, { timeout: 10_000 });
      posix.send(fd, 'ok');
      return { header, content, output: await output };
    } finally {
      posix.close(fd);
    }
  } finally {
    posix.close(listenFd);
  }
}

describe('the twins demo11/demo12 against the C programs', () => {
  it('demo11: the same lines and the same bytes on the wire as the C', async () => {
    const name = 'twin-文件.bin';
    randomFile(source, name, 10_000);
    const fromC = await capture((port) => new Running(demo11, ['127.0.0.1', String(port), name, '10000'], { cwd: source }), 10_000);
    const fromTwin = await capture(
      (port) => new Running(process.execPath, [cliPath, 'demo', 'demo11', '127.0.0.1', String(port), name, '10000'], { cwd: source }),
      10_000,
    );
    expect(fromTwin.header.equals(fromC.header)).toBe(true);
    expect(fromTwin.content.equals(fromC.content)).toBe(true);
    expect(fromTwin.output.stdout).toBe(fromC.output.stdout);
    expect(fromTwin.output.stdout).toBe(`发送文件信息的结构体${name}(10000)。\n发送文件内容成功。\n`);
    expect(fromTwin.output.code).toBe(0);
  });

  it('demo11: wrong arguments print the usage and exit 255, as the C', async () => {
    const c = await run(demo11, [], source);
    const twin = await run(process.execPath, [cliPath, 'demo', 'demo11'], source);
    expect(c.code).toBe(255);
    expect(twin.code).toBe(255);
    expect(twin.stdout).toBe(c.stdout.replaceAll('./demo11', 'sockfd demo file-client'));
  });

  it('demo12: the same lines as the C for an upload by the C client, and on SIGTERM', async () => {
    const name = 'twin12.bin';
    const content = randomFile(source, name, 5000);
    const outputs: string[] = [];
    for (const start of [
      (dir: string) => startGroupServer(demo12, (port) => [String(port), dir]),
      (dir: string) => startGroupServer(process.execPath, (port) => [cliPath, 'demo', 'demo12', String(port), dir]),
    ]) {
      const dir = scratchDir('interop-12');
      try {
        const server = await start(dir);
        const upload = await run(demo11, ['127.0.0.1', String(server.port), name, '5000'], source);
        expect(upload.code).toBe(0);
        expect(readFileSync(join(dir, name)).equals(content)).toBe(true);
        const { stdout } = await stopGroupServer(server);
        // Drop the probe connection's lines (a client that sent nothing) and pids.
        outputs.push(stdout.replace(/^客户端已连接\(127\.0\.0\.1\)。\n(?!文件信息)/m, '').replace(/子进程\d+/g, '子进程N'));
      } finally {
        removeDir(dir);
      }
    }
    expect(outputs[1]).toBe(outputs[0]);
    expect(outputs[0]).toContain(`客户端已连接(127.0.0.1)。\n文件信息结构体${name}(5000)。\n接收文件内容成功。\n`);
    expect(outputs[0]).toContain('父进程退出，sig=15\n');
  });
});
