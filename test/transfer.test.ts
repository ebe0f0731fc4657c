// Round trips through a real `sockfd recv-files` process over loopback, in
// both formats, plus the send-file command (many files, exit status, the
// server's reason) and 20 concurrent uploads against a bound on children.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type BackgroundServer } from '../tools/background-server.js';
import { UploadRefusedError, uploadFile } from '../lib/transfer/sender.js';
import { ProgressBar } from '../tools/progress.js';
import { cProgram } from '../tools/c-programs.js';
import { getrlimit, setrlimit } from '../lib/process.js';
import { RLIMIT_FSIZE } from '../lib/constants.js';
import type { TransferFormat } from '../lib/transfer/protocol.js';
import { randomFile, removeDir, scratchDir, sha256, tempFilesIn } from './helpers/transfer.js';
import { Running, cliPath, type Finished } from '../tools/processes.js';
import { until } from '../tools/until.js';
import { childPids } from '../lib/procfs.js';

function runSockfd(args: string[], timeoutMs = 30_000): Promise<Finished> {
  return new Running(process.execPath, [cliPath, ...args]).end(timeoutMs);
}

describe('round trips through recv-files', () => {
  let root: string;
  let source: string;
  let dir: string;
  let server: BackgroundServer;

  beforeAll(async () => {
    root = scratchDir('transfer');
    source = join(root, 'source');
    dir = join(root, 'stored');
    mkdirSync(source);
    mkdirSync(dir);
    server = await startFileServer({ dir, idleTimeoutMs: 5000 });
  });

  afterAll(async () => {
    const exit = await server?.stop();
    expect(exit?.code).toBe(0);
    removeDir(root);
  });

  const sizes = [0, 1, 4095, 4096, 4097, 10 * 1024 * 1024];
  for (const format of ['extended', 'tutorial'] as TransferFormat[]) {
    for (const size of sizes) {
      it(`${format}: ${size} bytes arrive unchanged`, () => {
        const name = `${format}-${size}.bin`;
        const content = randomFile(source, name, size);
        const result = uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, name), format });
        expect(result.size).toBe(size);
        expect(result.sha256).toBe(format === 'extended' ? sha256(content) : null);
        const stored = readFileSync(join(dir, name));
        expect(sha256(stored)).toBe(sha256(content));
        expect(stored.equals(content)).toBe(true);
      });
    }

    it(`${format}: a file named in Chinese`, async () => {
      const name = `${format}-文件传输-测试.txt`;
      const content = Buffer.from('这是第1个超级女生，编号001。\n'.repeat(100));
      writeFileSync(join(source, name), content);
      uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, name), format });
      expect(sha256(readFileSync(join(dir, name)))).toBe(sha256(content));
      const line = await server.waitForLine(new RegExp(`name="${name}"`));
      expect(line).toMatch(format === 'extended' ? new RegExp(`sha256=${sha256(content)} stored$`) : /sha256=- stored$/);
      expect(line).toMatch(/^\S+ 127\.0\.0\.1:\d+ /);
    });
  }

  it('replaces an existing file only with a complete new one', () => {
    writeFileSync(join(dir, 'replace.txt'), 'old');
    writeFileSync(join(source, 'replace.txt'), 'new content');
    uploadFile({ host: '127.0.0.1', port: server.port, path: join(source, 'replace.txt') });
    expect(readFileSync(join(dir, 'replace.txt'), 'utf8')).toBe('new content');
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it('send-file sends many files in one call and prints one line per file and a total', async () => {
    const names = ['many-1.bin', 'many-2.bin', 'many-3.txt', 'many-4-空.bin', 'many-5.bin'];
    const contents = names.map((name, i) => randomFile(source, name, 1000 * (i + 1) + i));
    const run = await runSockfd(['send-file', '127.0.0.1', String(server.port), ...names.map((n) => join(source, n))]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(names.length + 1);
    names.forEach((name, i) => {
      expect(lines[i]).toContain(`sent ${join(source, name)}: ${contents[i]!.length} bytes`);
      expect(lines[i]).toContain(`sha256 ${sha256(contents[i]!)}`);
      expect(readFileSync(join(dir, name)).equals(contents[i]!)).toBe(true);
    });
    expect(lines[names.length]).toMatch(/^5 of 5 files stored, /);
  });

  it('send-file on a terminal draws a progress bar (bytes, rate, ETA), then the summary', async () => {
    const content = randomFile(source, 'tty.bin', 3 * 1024 * 1024);
    const command = [process.execPath, cliPath, 'send-file', '127.0.0.1', String(server.port), join(source, 'tty.bin')].join(' ');
    // script(1) gives the command a pseudo-terminal; -e passes its exit status on.
    const run = await new Running('script', ['-qec', command, '/dev/null']).end();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\rtty\.bin +\[=+\] 100% 3\.00 MiB\/3\.00 MiB +[\d.]+ (B|KiB|MiB|GiB)\/s ETA +0:00\x1b\[K/);
    // A fixed layout: every frame has the same width, whatever the numbers.
    const frames = run.stdout.split('\r').filter((frame) => frame.endsWith('\x1b[K') && frame.startsWith('tty.bin'));
    expect(frames.length).toBeGreaterThan(0);
    expect(new Set(frames.map((frame) => frame.length)).size).toBe(1);
    expect(run.stdout).toMatch(/\r\x1b\[Ksent \S+tty\.bin: 3145728 bytes/);
    expect(readFileSync(join(dir, 'tty.bin')).equals(content)).toBe(true);
  });

  it('send-file --format tutorial speaks the struct and reports no checksum', async () => {
    const content = randomFile(source, 'tutorial-cli.bin', 5000);
    const run = await runSockfd(['send-file', '--format', 'tutorial', '127.0.0.1', String(server.port), join(source, 'tutorial-cli.bin')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no checksum (tutorial format)');
    expect(readFileSync(join(dir, 'tutorial-cli.bin')).equals(content)).toBe(true);
  });

  it('send-file fails with a usage error for a bad port, and exits 1 for a missing file', async () => {
    expect((await runSockfd(['send-file', '127.0.0.1', 'x', 'f'])).code).toBe(2);
    const missing = await runSockfd(['send-file', '127.0.0.1', String(server.port), join(source, 'no-such-file')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no-such-file.*No such file or directory/);
  });
});

describe('limits and refusals reach the sender', () => {
  let root: string;
  let dir: string;
  let server: BackgroundServer;

  beforeAll(async () => {
    root = scratchDir('transfer-limit');
    dir = join(root, 'stored');
    mkdirSync(dir);
    server = await startFileServer({ dir, maxSize: 1000 });
  });

  afterAll(async () => {
    await server?.stop();
    removeDir(root);
  });

  it('a file above --max-size is refused with the reason; send-file exits 1 and prints it', async () => {
    randomFile(root, 'big.bin', 1001);
    randomFile(root, 'small.bin', 1000);
    expect(() => uploadFile({ host: '127.0.0.1', port: server.port, path: join(root, 'big.bin') })).toThrow(UploadRefusedError);
    try {
      uploadFile({ host: '127.0.0.1', port: server.port, path: join(root, 'big.bin') });
    } catch (error) {
      expect((error as UploadRefusedError).code).toBe('TOO_LARGE');
      expect((error as UploadRefusedError).reason).toContain('1000');
    }
    const run = await runSockfd(['send-file', '127.0.0.1', String(server.port), join(root, 'big.bin'), join(root, 'small.bin')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/big\.bin: refused by the server: TOO_LARGE: 1001 bytes is more than this server's limit of 1000/);
    expect(run.stdout).toMatch(/^sent .*small\.bin: 1000 bytes/m);
    expect(run.stdout).toMatch(/1 of 2 files stored/);
    const line = await server.waitForLine(/name="big.bin".* refused TOO_LARGE: /);
    expect(line).toMatch(/ extended name="big.bin" size=- /);
  });

  it('the tutorial format has no way to say why: the connection just closes', () => {
    expect(() => uploadFile({ host: '127.0.0.1', port: server.port, path: join(root, 'big.bin'), format: 'tutorial' })).toThrow(
      /closed the connection after the header without 'ok'/,
    );
  });
});

describe('IPv6', () => {
  it('recv-files --bind ::1 and send-file to ::1', async () => {
    const root = scratchDir('transfer-ipv6');
    const dir = join(root, 'stored');
    mkdirSync(dir);
    const server = await startFileServer({ dir, bind: '::1' });
    try {
      expect(server.log[0]).toMatch(/listening on \[::1\]:\d+,/);
      const content = randomFile(root, 'six.bin', 70_000);
      const result = uploadFile({ host: '::1', port: server.port, path: join(root, 'six.bin') });
      expect(result.sha256).toBe(sha256(content));
      expect(readFileSync(join(dir, 'six.bin')).equals(content)).toBe(true);
      expect(await server.waitForLine(/ \[::1\]:\d+ extended name="six.bin" /)).toBeTruthy();
    } finally {
      await server.stop();
      removeDir(root);
    }
  });
});

describe('a write that fails on the server (file-size limit, as a full disk)', () => {
  it('the upload fails with STORAGE_ERROR and the write error, the temporary file is removed, the old file stays', async () => {
    const root = scratchDir('transfer-efbig');
    const dir = join(root, 'stored');
    mkdirSync(dir);
    writeFileSync(join(dir, 'big.bin'), 'old content');
    randomFile(root, 'big.bin', 3 * 1024 * 1024);
    // The server inherits RLIMIT_FSIZE from this process at spawn (synchronous); the limit is restored right after.
    const saved = getrlimit(RLIMIT_FSIZE);
    setrlimit(RLIMIT_FSIZE, 1024 * 1024);
    const starting = startFileServer({ dir });
    setrlimit(RLIMIT_FSIZE, saved.soft, saved.hard);
    const server = await starting;
    try {
      let refusal: unknown;
      try {
        uploadFile({ host: '127.0.0.1', port: server.port, path: join(root, 'big.bin') });
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(UploadRefusedError);
      expect((refusal as UploadRefusedError).code).toBe('STORAGE_ERROR');
      expect((refusal as UploadRefusedError).reason).toMatch(/File too large/);
      expect(readFileSync(join(dir, 'big.bin'), 'utf8')).toBe('old content');
      expect(tempFilesIn(dir)).toEqual([]);
      await server.waitForLine(/name="big.bin" size=3145728 .* failed STORAGE_ERROR: writing the file: File too large$/);
    } finally {
      await server.stop();
      removeDir(root);
    }
  });
});

describe('a server that gives up mid-upload', () => {
  it("send-file reports the reason the server sent before it closed, not just the broken pipe", async () => {
    const root = scratchDir('transfer-gives-up');
    try {
      randomFile(root, 'big.bin', 32 * 1024 * 1024); // more than the socket buffers hold
      // A server that reads the header, says go on, takes a little content, says why it stops and closes.
      const script = `
        const net = require('node:net');
        const server = net.createServer((socket) => {
          let seen = 0;
          socket.on('data', (chunk) => {
            seen += chunk.length;
            if (seen > 18 && !socket.wentOn) { socket.wentOn = true; socket.write(Buffer.from([0, 0])); return; }
            if (socket.wentOn && seen > 100000 && !socket.said) {
              socket.said = true;
              socket.pause();
              socket.end(Buffer.concat([Buffer.from([7, 14]), Buffer.from('disk is full!!')]), () => socket.destroy());
              server.close();
            }
          });
        }).listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
      const fake = new Running(process.execPath, ['-e', script]);
      const exited = fake.end();
      const port = Number((await fake.waitFor(/^(\d+)\n/))[1]);
      const run = await runSockfd(['send-file', '127.0.0.1', String(port), join(root, 'big.bin')]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('big.bin: failed on the server: STORAGE_ERROR: disk is full!!');
      await exited;
    } finally {
      removeDir(root);
    }
  });
});

describe('concurrent uploads', () => {
  it('20 clients at once against --max-children 4: every file arrives, every child is reaped', async () => {
    // The tutorial's C client (tools/c-programs): 20 Node processes would cost seconds of start-up alone.
    const demo11 = await cProgram('demo11');
    const root = scratchDir('transfer-concurrent');
    const dir = join(root, 'stored');
    mkdirSync(dir);
    const server = await startFileServer({ dir, maxChildren: 4 });
    try {
      const contents = Array.from({ length: 20 }, (_, i) => randomFile(root, `c${i}.bin`, 256 * 1024 + i));
      let mostChildren = 0; // zombies included: a child counts until the server reaps it
      const sampler = setInterval(() => (mostChildren = Math.max(mostChildren, childPids(server.pid).length)), 5);
      const runs = await Promise.all(
        contents.map((content, i) =>
          new Running(demo11, ['127.0.0.1', String(server.port), `c${i}.bin`, String(content.length)], { cwd: root }).end(60_000),
        ),
      );
      clearInterval(sampler);
      expect(mostChildren).toBeLessThanOrEqual(4);
      for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0);
      contents.forEach((content, i) => expect(readFileSync(join(dir, `c${i}.bin`)).equals(content)).toBe(true));
      await until(() => (childPids(server.pid).length === 0 ? true : undefined), 'every child reaped', 10_000);
      const stored = (): number => server.log.filter((line) => / stored$/.test(line)).length;
      await until(() => (stored() >= 20 ? true : undefined), '20 log lines', 10_000);
      expect(stored()).toBe(20);
      expect(tempFilesIn(dir)).toEqual([]);
    } finally {
      await server.stop();
      removeDir(root);
    }
  });
});

describe('the progress bar layout', () => {
  it('shows percent, bytes, rate and ETA in the given width', () => {
    const bar = new ProgressBar('file.bin', { columns: 80 });
    const line = bar.render(512 * 1024, 1024 * 1024, 1000);
    expect(line).toHaveLength(79);
    expect(line.endsWith('  50%  512 KiB/1.00 MiB  512 KiB/s ETA     0:01')).toBe(true);
    expect(line.startsWith('file.bin ')).toBe(true);
    expect(line).toMatch(/\[=+> *\]/);
  });

  it('keeps one width from the first frame to the last, and one unit system (binary) for sizes and rates', () => {
    const bar = new ProgressBar('a-rather-long-file-name-that-is-cut.iso', { columns: 100 });
    const total = 5 * 1024 ** 3;
    const frames = [0, 1, 1023, 1024, 99_999, 10 * 1024 ** 2, 1024 ** 3, total - 1, total].flatMap((done) =>
      [1, 999, 60_000, 7_200_000].map((ms) => bar.render(done, total, ms)),
    );
    expect(new Set(frames.map((frame) => frame.length))).toEqual(new Set([99]));
    for (const frame of frames) expect(frame).not.toMatch(/\b(kB|MB|GB)\b/);
    expect(frames.at(-1)).toMatch(/ 100% 5\.00 GiB\/5\.00 GiB +[\d.]+ (B|KiB|MiB|GiB)\/s ETA +0:00$/);
  });
});

describe('Ctrl+C during send-file on a terminal', () => {
  it('stops the upload, ends the progress bar line with a newline, says so, exit 130', async () => {
    const root = scratchDir('sigint');
    // A server that takes the header, answers OK, then never reads: the upload blocks, as on a stalled link.
    const stall = new Running(process.execPath, [
      '-e',
      "const s=require('net').createServer((c)=>c.once('data',()=>{c.write(Buffer.from([0,0]));c.pause();})).listen(0,'127.0.0.1',()=>console.log(s.address().port))",
    ]);
    try {
      const port = Number((await stall.waitFor(/^(\d+)\n/))[1]);
      writeFileSync(join(root, 'big.bin'), Buffer.alloc(64 * 1024 * 1024));
      const command = [process.execPath, cliPath, 'send-file', '127.0.0.1', String(port), join(root, 'big.bin')].join(' ');
      // script(1) gives send-file a pseudo-terminal; a ^C written to it is the terminal's Ctrl+C (SIGINT to the foreground job).
      const tty = new Running('script', ['-qec', command, '/dev/null'], { keepStdin: true });
      const result = tty.end(30_000);
      await tty.waitFor(/big\.bin +\[[=> ]+\] +\d+%/, 15_000);
      tty.child.stdin!.write('\x03');
      const { code, stdout: output } = await result;
      expect(code, output).toBe(130);
      // The last frame stays and its line is ended, then the message on a line of its own.
      expect(output).toMatch(/\[[=> ]+\] +\d+% .*ETA +\S+\x1b\[K(\^C)?\r?\n(\^C)?sockfd send-file: \S+big\.bin: interrupted by SIGINT; the upload was abandoned\r?\n$/);
      expect(output).not.toMatch(/^ {4}at /m);
    } finally {
      void stall.stop('SIGKILL');
      removeDir(root);
    }
  });
});
