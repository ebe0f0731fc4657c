// Every bad invocation of the sockfd command gets a clear one-line message and
// exit 1 (failure) or 2 (usage): never a Node stack trace, never Node's raw
// error text. Each case here printed a stack trace or a wrong message before.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as posix from '../lib/posix.js';
import { startFileServer, type BackgroundServer } from '../tools/background-server.js';
import { cliPath } from '../tools/processes.js';
import { until } from '../tools/until.js';
import { listeningPort, run, runCli, startCli } from './helpers/twins.js';
import { removeDir, scratchDir } from './helpers/transfer.js';
import { freePort } from './helpers/loopback.js';

/** No stack trace, no Node-internal error text. */
function expectClean(output: { stdout: string; stderr: string }): void {
  const all = output.stdout + output.stderr;
  expect(all).not.toMatch(/^ {4}at /m);
  expect(all).not.toMatch(/node:internal|ERR_[A-Z_]+|Error: /);
}

/** A TCP port something listens on (a socket of this process, closed in afterAll). */
let busyFd: number;
let busyPort: number;
let root: string;

beforeAll(() => {
  root = scratchDir('cli-bad');
  busyFd = posix.socket(posix.AF_INET, posix.SOCK_STREAM | posix.SOCK_CLOEXEC, 0); // CLOEXEC: not in the children's /proc/<pid>/fd before their exec
  posix.bind(busyFd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
  posix.listen(busyFd, 1);
  const address = posix.getsockname(busyFd);
  busyPort = 'port' in address ? address.port : 0;
});

afterAll(() => {
  posix.close(busyFd);
  removeDir(root);
});

describe('the sockfd command itself', () => {
  it('with no arguments: the usage on stderr (a usage error), nothing on stdout, exit 2', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^sockfd: which command\?\n\nusage: sockfd <command>/);
  });

  it('--version works with 30 fds (ulimit -n 30): no command is imported for it', async () => {
    const result = await run('sh', ['-c', `ulimit -n 30 && exec "${process.execPath}" "${cliPath}" --version`]);
    expectClean(result);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^sockfd \d+\.\d+\.\d+\n$/);
  });
});

describe('demo reuseport', () => {
  it('--port <a port in use>: bind: Address already in use, exit 1', async () => {
    const result = await runCli(['demo', 'reuseport', '--workers', '2', '--port', String(busyPort)]);
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('sockfd demo reuseport: bind: Address already in use\n');
  });

  it('--host nonsense: a usage error naming the option, exit 2', async () => {
    const result = await runCli(['demo', 'reuseport', '--host', 'nonsense']);
    expectClean(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockfd demo reuseport: --host takes an IPv4 or IPv6 address .* got 'nonsense'\n\nusage: /);
  });
});

describe('the twins', () => {
  it('demo backlog 0 --clients 100000 under ulimit -n 200: socket: Too many open files, exit 1', async () => {
    const result = await run('sh', ['-c', `ulimit -n 200 && exec "${process.execPath}" "${cliPath}" demo backlog 0 --clients 100000 --hold-ms 0 --settle-ms 0`]);
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('sockfd demo backlog: socket: Too many open files\n');
  });

  it('demo nagle --rounds 0 is a usage error (it used to run one round)', async () => {
    const result = await runCli(['demo', 'nagle', '--rounds', '0']);
    expectClean(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockfd demo nagle: --rounds takes a positive integer, got '0'\n/);
    expect(result.stdout).toBe('');
  });

  it("demo exhaust --help describes --limit N, not X", async () => {
    const result = await runCli(['demo', 'exhaust', '--help']);
    expect(result.stdout).toMatch(/^ {2}--limit N +set RLIMIT_NOFILE/m);
    expect(result.stdout).not.toMatch(/--limit X/);
  });

  it('demo server -1 is the C program\'s argv: atoi("-1") = -1, port 65535, no option error with an unbalanced quote', async () => {
    const server = startCli(['demo', 'server', '-1']);
    try {
      // It listens on 65535 (htons(-1)), or fails to bind it the way the C would when that port is taken.
      const outcome = await Promise.race([listeningPort(server.pid, 15_000).then((port) => ({ port })), server.finished.then((f) => ({ finished: f }))]);
      if ('port' in outcome) expect(outcome.port, server.stdout + server.stderr).toBe(65535);
      else expect(outcome.finished.stderr).toBe('bind: Address already in use\n');
      expect(server.stderr).not.toMatch(/Unknown option|'--/);
    } finally {
      server.stop('SIGKILL');
      await server.end();
    }
  });

  it('demo server abc listens on a random port, as the C does, and says why in one line on stderr', async () => {
    const server = startCli(['demo', 'server', 'abc']);
    try {
      const port = await listeningPort(server.pid, 15_000);
      expect(port).toBeGreaterThan(0);
      await until(() => server.stderr.includes('\n'), 'a line on stderr', 10_000);
      expect(server.stderr).toBe("sockfd: note: 'abc' is not a number; atoi() reads it as 0, as the C program does (port 0: the kernel picks a free port)\n");
    } finally {
      server.stop('SIGKILL');
      await server.end();
    }
  });
});

describe('recv-files', () => {
  it('--bind nonsense: a usage error naming the option, exit 2', async () => {
    const result = await runCli(['recv-files', '--bind', 'nonsense', '0', root]);
    expectClean(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockfd recv-files: --bind takes an IPv4 or IPv6 address .* got 'nonsense'\n\nusage: /);
  });

  it('a directory that does not exist: perror-style, exit 1', async () => {
    const result = await runCli(['recv-files', '0', '/nonexistent/dir']);
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('sockfd recv-files: /nonexistent/dir: No such file or directory\n');
  });

  it('a file where the directory should be: Not a directory, exit 1', async () => {
    writeFileSync(join(root, 'a-file'), 'x');
    const result = await runCli(['recv-files', '0', join(root, 'a-file')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`sockfd recv-files: ${join(root, 'a-file')}: Not a directory\n`);
  });

  it('--max-children 0 is a usage error: the message and the usage, exit 2', async () => {
    const result = await runCli(['recv-files', '--max-children', '0', '0', root]);
    expectClean(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockfd recv-files: --max-children takes a positive integer, got '0'\n\nusage: sockfd recv-files/);
  });

  for (const [option, value] of [
    ['--grace-ms', 'soon'],
    ['--min-rate', 'fast'],
    ['--header-timeout-ms', '0'],
    ['--slot-wait-ms', '1.5'],
  ] as const) {
    it(`${option} ${value} is a usage error, exit 2`, async () => {
      const result = await runCli(['recv-files', option, value, '0', root]);
      expectClean(result);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^sockfd recv-files: ${option}`));
    });
  }

  it('a read-only directory (a read-only tmpfs): refused at start with the reason, exit 1', async () => {
    const mount = join(root, 'ro');
    mkdirSync(mount);
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount]);
    expect(mounted.code, mounted.stderr).toBe(0);
    try {
      const result = await runCli(['recv-files', '0', mount], { timeoutMs: 15_000 });
      expectClean(result);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(''); // it never listened
      expect(result.stderr).toBe(`sockfd recv-files: ${mount}: cannot create files here: Read-only file system\n`);
    } finally {
      expect((await run('umount', [mount])).code).toBe(0);
    }
  });
});

describe('send-file', () => {
  let server: BackgroundServer;
  let dir: string;

  beforeAll(async () => {
    dir = join(root, 'received');
    mkdirSync(dir);
    server = await startFileServer({ dir, bind: '::1' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a missing file with the server down is "No such file or directory", not "Connection refused"', async () => {
    const result = await runCli(['send-file', '127.0.0.1', String(freePort()), join(root, 'missing.bin')]);
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`sockfd send-file: ${join(root, 'missing.bin')}: No such file or directory\n`);
  });

  it('a missing file with the server up: no connection at all, so no TRUNCATED line in its log', async () => {
    const before = server.log.length;
    const result = await runCli(['send-file', '[::1]', String(server.port), join(root, 'missing.bin')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`sockfd send-file: ${join(root, 'missing.bin')}: No such file or directory\n`);
    // A good upload after it: its line is the only new one.
    writeFileSync(join(root, 'after-missing.txt'), 'after');
    expect((await runCli(['send-file', '[::1]', String(server.port), join(root, 'after-missing.txt')])).code).toBe(0);
    await server.waitForLine(/name="after-missing.txt" .* stored$/);
    expect(server.log.slice(before)).toHaveLength(1);
  });

  it("'[::1]' is accepted as the host, as sockfd prints IPv6 addresses", async () => {
    writeFileSync(join(root, 'bracketed.txt'), 'bracketed');
    const result = await runCli(['send-file', '[::1]', String(server.port), join(root, 'bracketed.txt')]);
    expectClean(result);
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'bracketed.txt'), 'utf8')).toBe('bracketed');
  });

  it('--json prints one object per file, stored or not, and nothing else', async () => {
    writeFileSync(join(root, 'one.txt'), 'one');
    const result = await runCli(['send-file', '--json', '::1', String(server.port), join(root, 'one.txt'), join(root, 'missing.bin')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    const objects = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects).toHaveLength(2);
    expect(objects[0]).toMatchObject({ file: join(root, 'one.txt'), name: 'one.txt', size: 3, format: 'extended', outcome: 'stored', code: 'OK' });
    expect(objects[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(objects[1]).toMatchObject({ file: join(root, 'missing.bin'), outcome: 'failed', code: 'ENOENT', reason: 'No such file or directory' });
  });
});
