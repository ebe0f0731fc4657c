// The C reference programs (c/): each builds with the machine's compiler and
// behaves as the tutorial shows, C client against C server over 127.0.0.1.
// Expected lines are the tutorial's, written out here.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, copyFileSync } from 'node:fs';
import { connect, createServer, type Socket as NetSocket } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchCSourceDir,
  cBuildKey,
  cPrebuiltDir,
  cPrebuiltPath,
  cProgram,
  cProgramNames,
  cProgramSource,
  cSourceDir,
  compileC,
  compileCSync,
  NoCCompilerError,
  whyCannotRun,
} from '../tools/c-programs.js';
import { childPids, listFds } from '../lib/procfs.js';
import {
  fastSleep,
  inheritedFds,
  lines,
  lowestFreeInChild,
  runC,
  runProgram,
  startCServer,
  stopAll,
} from './helpers/c-peers.js';
import { until } from '../tools/until.js';
import { classGirl, clientLines, firewallNote, girl, serverLines } from '../tools/tutorial-text.js';
import { freePort } from './helpers/loopback.js';

afterEach(stopAll);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sockfd-c-'));
}

const rounds = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

const serverUsage = (program: string) => [
  `Using:./${program} 通讯端口`,
  `Example:./${program} 5005`,
  '',
  ...firewallNote,
  '',
];
const clientUsage = (program: string, example: string) => [`Using:./${program} 服务端的IP 服务端的端口`, `Example:./${program} ${example} 5005`, ''];

/** Server-side TCP states on `port` as `ss -tan` reports them (independent of lib/procfs). */
function ssStates(port: number): { state: string; recvQ: number; sendQ: number; local: string; peer: string }[] {
  const text = execFileSync('ss', ['-tan', `( sport = :${port} )`], { encoding: 'utf8' });
  return lines(text)
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .map(([state = '', recvQ = '', sendQ = '', local = '', peer = '']) => ({ state, recvQ: Number(recvQ), sendQ: Number(sendQ), local, peer }));
}

describe('building', () => {
  it('compiles every program in c/ with the machine compiler at -O2', async () => {
    const names = cProgramNames();
    expect(names).toEqual(expect.arrayContaining(['demo1', 'demo2', 'demo5', 'demo6', 'demo7', 'demo8', 'demo10', 'demo11', 'demo12']));
    expect(names).toEqual(expect.arrayContaining(['backlog-server', 'timewait-server', 'reuseaddr-server', 'bufsize-client']));
    const binaries = await Promise.all(names.map((name) => cProgram(name, { usePrebuilt: false }))); // compiled here, even where npm pack left prebuilt ones
    for (const binary of binaries) expect(statSync(binary).mode & 0o111).not.toBe(0);
  }, 180_000); // ~20 compilers at once: 17 s at load 5, over the 60 s default once at load 13 beside another test file (CI runs one file per CPU)

  it('reuses a binary newer than its source, rebuilds after the source changes, survives concurrent builds', async () => {
    const outDir = tempDir();
    const sourceDir = tempDir();
    try {
      const source = join(sourceDir, 'demo2.cpp');
      copyFileSync(cProgramSource('demo2'), source);
      // Two processes (two test files) build one program at once: each writes a
      // temporary file and renames it, so both succeed and the binary is whole.
      const script = `const m = await import(${JSON.stringify(join(process.cwd(), 'dist/tools/c-programs.js'))});
        process.stdout.write(await m.compileC(${JSON.stringify(source)}, { outDir: ${JSON.stringify(outDir)} }));`;
      const builds = await Promise.all(
        [0, 1].map(() => runProgram(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 60_000 }).finished),
      );
      for (const build of builds) expect(build).toMatchObject({ code: 0, stdout: join(outDir, 'demo2'), stderr: '' });
      expect(readdirSync(outDir)).toEqual(['demo2']);
      // In one process, callers asking at once share one build.
      const [first, second] = await Promise.all([compileC(source, { outDir }), compileC(source, { outDir })]);
      expect(first).toBe(join(outDir, 'demo2'));
      expect(second).toBe(first);
      const built = statSync(first).mtimeMs;
      await compileC(source, { outDir });
      expect(statSync(first).mtimeMs).toBe(built);
      const later = new Date(built + 5_000);
      utimesSync(source, later, later);
      await compileC(source, { outDir });
      expect(statSync(first).mtimeMs).toBeGreaterThan(built);
      // The rebuilt binary runs: the usage text of demo2.
      const usage = await runProgram(first, []).finished;
      expect(lines(usage.stdout)).toEqual(serverUsage('demo2'));
    } finally {
      rmSync(outDir, { recursive: true, force: true });
      rmSync(sourceDir, { recursive: true, force: true });
    }
  });

  it('reports a compile error with the compiler output', async () => {
    const dir = tempDir();
    try {
      const source = join(dir, 'broken.cpp');
      writeFileSync(source, 'int main() { int fd == -1; }\n');
      await expect(compileC(source, { outDir: dir })).rejects.toThrow(/broken\.cpp.*error/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes extra flags, libraries after the source (C with cc)', async () => {
    const dir = tempDir();
    try {
      const source = join(dir, 'flags.c');
      writeFileSync(
        source,
        '#include <math.h>\n#include <stdio.h>\nint main(void) { volatile double x = 2.0; printf("%s %.0f\\n", WORD, pow(x, 10.0)); return 0; }\n',
      );
      const binary = await compileC(source, { outDir: dir, flags: ['-DWORD="flags"', '-lm'] });
      expect((await runProgram(binary, []).finished).stdout).toBe('flags 1024\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without the compiler it needs: a NoCCompilerError naming the source and the compiler (no temporary left)', async () => {
    const dir = tempDir();
    const saved = { CC: process.env.CC, CXX: process.env.CXX };
    try {
      writeFileSync(join(dir, 'plain.c'), 'int main(void) { return 0; }\n');
      writeFileSync(join(dir, 'plain.cpp'), 'int main() { return 0; }\n');
      process.env.CC = join(dir, 'no-such-cc');
      process.env.CXX = join(dir, 'no-such-cxx');
      const error = await compileC(join(dir, 'plain.c'), { outDir: dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoCCompilerError);
      expect(error).toMatchObject({ code: 'ERR_SOCKFD_NO_C_COMPILER', compiler: join(dir, 'no-such-cc'), source: join(dir, 'plain.c') });
      expect((error as Error).message).toMatch(/^no C compiler: .*plain\.c has no prebuilt binary for this source and '.*no-such-cc' is not installed; install a C compiler \(gcc\) or point CC at one$/);
      expect(() => compileCSync(join(dir, 'plain.cpp'), { outDir: dir })).toThrow(/'.*no-such-cxx' is not installed; install g\+\+ or point CXX at one$/);
      expect(readdirSync(dir).sort()).toEqual(['plain.c', 'plain.cpp']);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a prebuilt binary that cannot run here (newer glibc, missing dynamic linker, another CPU) is compiled from source instead, or named in the error without a compiler', async () => {
    const dir = tempDir();
    const saved = process.env.CC;
    try {
      const source = join(dir, 'who.c');
      writeFileSync(source, '#include <stdio.h>\nint main(void) { puts(WHO); return 0; }\n');
      // "Prebuilt" binaries made here, then made unrunnable the ways a shipped one can be.
      const good = await compileC(source, { outDir: join(dir, 'good'), flags: ['-DWHO="prebuilt"'], usePrebuilt: false });
      const bytes = readFileSync(good);
      const variant = (name: string, change: (copy: Buffer) => void): string => {
        const copy = Buffer.from(bytes);
        change(copy);
        const path = join(dir, name);
        writeFileSync(path, copy, { mode: 0o755 });
        return path;
      };
      const replaceText = (copy: Buffer, pattern: RegExp, by: (found: string) => string) => {
        const text = copy.toString('latin1');
        let count = 0;
        for (const match of text.matchAll(pattern)) {
          const replacement = by(match[0]);
          expect(replacement.length).toBe(match[0].length);
          copy.write(replacement, match.index, 'latin1');
          count++;
        }
        expect(count).toBeGreaterThan(0);
      };
      // Linked against a glibc newer than any: every symbol version it needs becomes GLIBC_9.*.
      const newer = variant('newer-glibc', (copy) => replaceText(copy, /GLIBC_2\.[0-9.]+/g, (v) => 'GLIBC_9' + v.slice(7).replace(/[0-9]/g, '9')));
      // Built for a system whose dynamic linker lives elsewhere (PT_INTERP names a file that does not exist).
      const elsewhere = variant('other-interpreter', (copy) => replaceText(copy, /\/[^\0]*\/ld-[^\0]*\.so[^\0]*(?=\0)/g, (p) => '/no-such-dir/' + 'x'.repeat(p.length - 13)));
      // An ELF for another CPU.
      const foreign = variant('other-cpu', (copy) => copy.writeUInt16LE(copy.readUInt16LE(18) === 62 ? 183 : 62, 18));

      // What the kernel and the dynamic linker say, not this module: the good one runs, the others do not.
      expect((await runProgram(good, []).finished).stdout).toBe('prebuilt\n');
      const refused = spawnSync(newer, [], { encoding: 'utf8' });
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/version `GLIBC_9[0-9.]*' not found/);
      // execve(2)'s own answer, through Python (libuv's spawn retries ENOEXEC through /bin/sh).
      const execve = (path: string) =>
        spawnSync('python3', ['-c', 'import os, sys\ntry: os.execv(sys.argv[1], [sys.argv[1]])\nexcept OSError as e: print(e.errno)', path], { encoding: 'utf8' }).stdout.trim();
      expect(execve(elsewhere)).toBe(String(osConstants.errno.ENOENT));
      expect(execve(foreign)).toBe(String(osConstants.errno.ENOEXEC));

      expect(whyCannotRun(good)).toBeUndefined();
      expect(whyCannotRun(newer)).toMatch(/version `GLIBC_9[0-9.]*' not found/);
      expect(whyCannotRun(elsewhere)).toMatch(/^its dynamic linker \/no-such-dir\/x+ does not exist here$/);
      expect(whyCannotRun(foreign)).toMatch(/^an ELF for another CPU \(e_machine (62|183), this one is /);

      // A runnable prebuilt binary is used as it is; an unrunnable one is compiled from the source.
      expect(await compileC(source, { outDir: join(dir, 'a'), flags: ['-DWHO="compiled"'], prebuiltPath: good })).toBe(good);
      for (const [name, prebuiltPath] of [['b', newer], ['c', elsewhere], ['d', foreign]] as const) {
        const binary = await compileC(source, { outDir: join(dir, name), flags: ['-DWHO="compiled"'], prebuiltPath });
        expect(binary, name).toBe(join(dir, name, 'who'));
        expect((await runProgram(binary, []).finished).stdout, name).toBe('compiled\n');
      }
      // No compiler either: the error says why the prebuilt binary was not used.
      process.env.CC = join(dir, 'no-such-cc');
      const error = await compileC(source, { outDir: join(dir, 'e'), prebuiltPath: newer }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoCCompilerError);
      expect(error).toMatchObject({ code: 'ERR_SOCKFD_NO_C_COMPILER', prebuiltProblem: expect.stringMatching(/GLIBC_9/) });
      expect((error as Error).message).toMatch(
        /^no C compiler: .*who\.c has a prebuilt binary that cannot run on this machine \(.*version `GLIBC_9[0-9.]*' not found.*\) and '.*no-such-cc' is not installed; install a C compiler \(gcc\) or point CC at one$/,
      );
      expect(() => compileCSync(source, { outDir: join(dir, 'f'), prebuiltPath: elsewhere })).toThrow(/cannot run on this machine \(its dynamic linker .* does not exist here\)/);
    } finally {
      if (saved === undefined) delete process.env.CC;
      else process.env.CC = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys a build by its source, the headers next to it and the flags; only c/ and bench/c have prebuilt binaries', () => {
    const dir = tempDir();
    try {
      const source = join(dir, 'keyed.c');
      writeFileSync(source, 'int main(void) { return 0; }\n');
      const key = cBuildKey(source);
      expect(key).toMatch(/^[0-9a-f]{16}$/);
      expect(cBuildKey(source)).toBe(key);
      expect(cBuildKey(source, ['-Wall'])).not.toBe(key);
      writeFileSync(join(dir, 'keyed.h'), '#define X 1\n');
      const withHeader = cBuildKey(source);
      expect(withHeader).not.toBe(key);
      writeFileSync(join(dir, 'keyed.h'), '#define X 2\n');
      expect(cBuildKey(source)).not.toBe(withHeader);
      writeFileSync(source, 'int main(void) { return 1; }\n');
      expect(cBuildKey(source)).not.toBe(key);
      // A copy of a package program elsewhere is not the package's program: no prebuilt binary for it.
      expect(cPrebuiltPath(source)).toBeUndefined();
      const demo2 = cProgramSource('demo2');
      expect(cPrebuiltPath(demo2)).toBe(join(cPrebuiltDir, 'c', `demo2-${cBuildKey(demo2)}`, 'demo2')); // ps and netstat -p show demo2
      const pingpong = join(benchCSourceDir, 'pingpong.c');
      expect(cPrebuiltPath(pingpong, ['-Wall', '-pthread'])).toBe(join(cPrebuiltDir, 'bench-c', `pingpong-${cBuildKey(pingpong, ['-Wall', '-pthread'])}`, 'pingpong'));
      expect(cSourceDir).toBe(join(process.cwd(), 'c'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names only programs that exist', () => {
    expect(() => cProgramSource('no-such-program')).toThrow(RangeError);
    expect(() => cProgramSource('../lib/x')).toThrow(RangeError);
  });
});

describe('usage and failures, as the tutorial prints them', () => {
  it('every program given wrong arguments prints its usage lines and returns -1', async () => {
    const cases: [string, string[]][] = [
      ['demo1', clientUsage('demo1', '192.168.101.139')],
      ['demo2', serverUsage('demo2')],
      ['demo5', clientUsage('demo5', '192.168.101.138')],
      ['demo6', serverUsage('demo6')],
      ['demo7', clientUsage('demo7', '192.168.101.138')],
      ['demo8', serverUsage('demo8')],
      ['demo10', serverUsage('demo10')],
      ['demo11', ['Using:./demo11 服务端的IP 服务端的端口 文件名 文件大小', 'Example:./demo11 192.168.101.138 5005 aaa.txt 2424', '']],
      ['demo12', ['Using:./demo12 通讯端口 文件存放的目录', 'Example:./demo12 5005 /tmp', '', ...serverUsage('demo12').slice(3)]],
    ];
    for (const [name, expected] of cases) {
      const result = await (await runC(name, [])).finished;
      expect(lines(result.stdout), name).toEqual(expected);
      expect(result.code, name).toBe(255);
    }
  });

  it('a client facing a closed port: connect: Connection refused', async () => {
    const port = freePort();
    for (const name of ['demo1', 'demo5']) {
      const result = await (await runC(name, ['127.0.0.1', String(port)])).finished;
      expect(result.stderr, name).toBe('connect: Connection refused\n');
      expect(result.code).toBe(255);
    }
    const classClient = await (await runC('demo7', ['127.0.0.1', String(port)])).finished;
    expect(classClient.stderr).toBe('connect(): Connection refused\n');
  });

  it('demo5 takes only an IP: inet_addr("localhost") is INADDR_NONE, and connect fails', async () => {
    const { port } = await startCServer('demo6', (p) => [String(p)]);
    const result = await (await runC('demo5', ['localhost', String(port)])).finished;
    // 255.255.255.255 is a broadcast address: TCP refuses it (the tutorial saw the same errno).
    expect(result.stderr).toBe('connect: Network is unreachable\n');
    expect(result.code).toBe(255);
  });

  it('a server on a port in use: bind: Address already in use (initserver() for the class servers)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      for (const [name, message] of [
        ['demo2', 'bind: Address already in use'],
        ['demo6', 'bind: Address already in use'],
        ['demo8', 'initserver(): Address already in use'],
        ['timewait-server', 'bind: Address already in use'],
      ] as const) {
        const result = await (await runC(name, [String(port)])).finished;
        expect(result.stderr, name).toBe(`${message}\n`);
        expect(result.code, name).toBe(255);
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('client and server exchanges', () => {
  it('demo1 against demo2: three rounds, iret=0 when the client leaves', async () => {
    const { server, port } = await startCServer('demo2', (p) => [String(p)]);
    const client = await (await runC('demo1', ['127.0.0.1', String(port)], { env: fastSleep })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(3, girl));
    expect(client.stderr).toBe('');
    expect(client.code).toBe(0);
    const served = await server.finished;
    expect(lines(served.stdout)).toEqual(['客户端已连接。', ...serverLines(3, girl), 'iret=0']);
    expect(served.code).toBe(0);
  });

  it('demo1 resolves a host name with gethostbyname (localhost)', async () => {
    const { server, port } = await startCServer('demo2', (p) => [String(p)]);
    const client = await (await runC('demo1', ['localhost', String(port)], { env: fastSleep })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(3, girl));
    expect(lines((await server.finished).stdout).at(-1)).toBe('iret=0');
  });

  it('demo1 prints "gethostbyname failed." and a blank line for a name that does not resolve', async () => {
    const result = await (await runC('demo1', ['no-such-host.invalid', '5005'])).finished;
    expect(result.stdout).toBe('gethostbyname failed.\n\n');
    expect(result.code).toBe(255);
  });

  it('demo5 (inet_addr) against demo6 (INADDR_ANY): ten rounds', async () => {
    const { server, port } = await startCServer('demo6', (p) => [String(p)]);
    const client = await (await runC('demo5', ['127.0.0.1', String(port)], { env: fastSleep })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(10, girl));
    const served = await server.finished;
    expect(lines(served.stdout)).toEqual(['客户端已连接。', ...serverLines(10, girl), 'iret=0']);
  });

  it('demo7 against demo8 (the classes): ten rounds, 编号1 classGirl, recv(): Success at the end', async () => {
    const { server, port } = await startCServer('demo8', (p) => [String(p)]);
    const client = await (await runC('demo7', ['127.0.0.1', String(port)], { env: fastSleep })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(10, classGirl));
    expect(client.code).toBe(0);
    const served = await server.finished;
    expect(lines(served.stdout)).toEqual(['客户端已连接(127.0.0.1)。', ...serverLines(10, classGirl)]);
    // recv() returned 0 and errno was never set: perror says Success, as in the tutorial.
    expect(served.stderr).toBe('recv(): Success\n');
  });

  it('rw-client (write/read) against demo2: ten rounds', async () => {
    const { server, port } = await startCServer('demo2', (p) => [String(p)]);
    const client = await (await runC('rw-client', ['127.0.0.1', String(port)], { env: fastSleep })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(10, girl));
    expect(lines((await server.finished).stdout)).toEqual(['客户端已连接。', ...serverLines(10, girl), 'iret=0']);
  });

  it('bufsize-client prints the socket buffer sizes, then talks as demo1', async () => {
    const { server, port } = await startCServer('demo2', (p) => [String(p)]);
    const client = await (await runC('bufsize-client', ['127.0.0.1', String(port)], { env: fastSleep })).finished;
    const [send = '', recv = '', ...rest] = lines(client.stdout);
    expect(send).toMatch(/^send bufsize=[1-9]\d*$/);
    expect(recv).toMatch(/^recv bufsize=[1-9]\d*$/);
    expect(rest).toEqual(clientLines(3, girl));
    await server.finished;
  });
});

/** True when process `pid` ignores `signal` (SigIgn in /proc/<pid>/status: bit signo-1). */
function ignores(pid: number, signal: NodeJS.Signals): boolean {
  const mask = /^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';
  return ((BigInt(`0x${mask}`) >> BigInt(osConstants.signals[signal] - 1)) & 1n) === 1n;
}

describe('demo10: the fork-per-connection server', () => {
  it('serves several concurrent demo7 clients, each in a child; recv(): Invalid argument as in the tutorial', async () => {
    // detached: FathEXIT runs kill(0,SIGTERM), which must reach demo10's group, not ours.
    const { server, port } = await startCServer('demo10', (p) => [String(p)], { detached: true });
    const clients = await Promise.all(rounds(3).map(() => runC('demo7', ['127.0.0.1', String(port)], { env: fastSleep })));
    for (const client of await Promise.all(clients.map((c) => c.finished))) {
      expect(lines(client.stdout)).toEqual(clientLines(10, classGirl));
      expect(client.code).toBe(0);
    }
    // Each child writes whole lines; three conversations interleave line by line.
    const expectedOut = rounds(3).flatMap(() => ['客户端已连接(127.0.0.1)。', ...serverLines(10, classGirl)]);
    await until(() => (lines(server.stdout).length >= expectedOut.length ? true : undefined), 'three children to finish');
    // errno was left at EINVAL by signal(SIGKILL,SIG_IGN) in the ignore-all loop.
    await until(() => (lines(server.stderr).length >= 3 ? true : undefined), 'three perror lines');
    expect(lines(server.stdout).sort()).toEqual(expectedOut.sort());
    expect(lines(server.stderr)).toEqual(['recv(): Invalid argument', 'recv(): Invalid argument', 'recv(): Invalid argument']);
    // A child that has printed its perror line may not have exited yet; a SIGTERM then would
    // (rightly, as in C) reach it too and add its 子进程…退出 line. Stop the parent once it is alone.
    await until(() => (childPids(server.pid).length === 0 ? true : undefined), 'the children to exit');
    const stopped = await server.stop('SIGTERM');
    expect(lines(stopped.stdout).at(-1)).toBe('父进程退出，sig=15');
    expect(stopped.code).toBe(0);
  });

  it('parent keeps only the listener, the child only the client; SIGTERM stops both with their messages', async () => {
    const { server, port } = await startCServer('demo10', (p) => [String(p)], { detached: true });
    // A client that stays connected, so a child is alive when the parent is stopped.
    const idle: NetSocket = connect(port, '127.0.0.1');
    idle.on('error', () => {});
    try {
      await new Promise<void>((resolve) => idle.once('connect', resolve));
      const childPid = await until(() => childPids(server.pid)[0], 'the child');
      // fds 0..2 are Node's stdio socketpairs; the program's own sockets come after.
      const ownSockets = (pid: number) => listFds(pid).filter((fd) => fd.fd > 2 && fd.socketInode !== undefined);
      const parentSockets = await until(() => {
        const sockets = ownSockets(server.pid);
        return sockets.length === 1 ? sockets : undefined;
      }, 'the parent to close the client fd');
      expect(parentSockets[0]!.socket).toMatchObject({ protocol: 'tcp', state: 'LISTEN', localPort: port });
      const childSockets = await until(() => {
        const sockets = ownSockets(childPid);
        return sockets.length === 1 ? sockets : undefined;
      }, 'the child to close the listener');
      expect(childSockets[0]!.socket).toMatchObject({
        protocol: 'tcp',
        state: 'ESTABLISHED',
        localPort: port,
        remotePort: idle.localPort,
      });
      // The child closes the listener *before* it installs ChldEXIT; until then it
      // still has the parent's FathEXIT (the lesson's race). signal(SIGINT,SIG_IGN)
      // comes right after signal(SIGTERM,ChldEXIT): wait until SIGINT is ignored.
      await until(() => (ignores(childPid, 'SIGINT') ? true : undefined), 'the child to install its handlers');
      const stopped = await server.stop('SIGTERM');
      expect(lines(stopped.stdout)).toContain('父进程退出，sig=15');
      await until(() => {
        try {
          readFileSync(`/proc/${childPid}/stat`);
          return undefined;
        } catch {
          return true;
        }
      }, 'the child to exit');
      // The child's line went to the same pipe; the parent's kill(0,SIGTERM) reached it.
      await until(() => (server.stdout.includes(`子进程${childPid}退出，sig=15`) ? true : undefined), 'the child message');
      expect(lines(server.stdout).sort()).toEqual(['客户端已连接(127.0.0.1)。', '父进程退出，sig=15', `子进程${childPid}退出，sig=15`].sort());
    } finally {
      idle.destroy();
    }
  });
});

describe('demo11 / demo12: the file transfer', () => {
  // One chunk only: with several, demo12's lesson bug (a short recv() counted as
  // a full 4096) corrupts the copy whenever TCP delivers a chunk in two parts.
  it('uploads a binary file of one chunk; the copy has the same checksum; then SIGTERM stops the server', async () => {
    const from = tempDir();
    const to = tempDir();
    try {
      const content = randomBytes(4000);
      writeFileSync(join(from, 'photo.bin'), content);
      const { server, port } = await startCServer('demo12', (p) => [String(p), to], { detached: true });
      const client = await (await runC('demo11', ['127.0.0.1', String(port), 'photo.bin', String(content.length)], { cwd: from })).finished;
      expect(lines(client.stdout)).toEqual([`发送文件信息的结构体photo.bin(${content.length})。`, '发送文件内容成功。']);
      expect(client.code).toBe(0);
      await until(() => (lines(server.stdout).length >= 3 ? true : undefined), 'the child to finish');
      expect(lines(server.stdout)).toEqual(['客户端已连接(127.0.0.1)。', `文件信息结构体photo.bin(${content.length})。`, '接收文件内容成功。']);
      const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
      expect(sha(readFileSync(join(to, 'photo.bin')))).toBe(sha(content));
      await until(() => (childPids(server.pid).length === 0 ? true : undefined), 'the child to exit');
      const stopped = await server.stop('SIGTERM');
      expect(lines(stopped.stdout).at(-1)).toBe('父进程退出，sig=15');
    } finally {
      rmSync(from, { recursive: true, force: true });
      rmSync(to, { recursive: true, force: true });
    }
  });

  it('keeps the lesson bug: a 0-byte file fails on both sides', async () => {
    const from = tempDir();
    const to = tempDir();
    try {
      writeFileSync(join(from, 'empty.txt'), '');
      const { server, port } = await startCServer('demo12', (p) => [String(p), to], { detached: true });
      const client = await (await runC('demo11', ['127.0.0.1', String(port), 'empty.txt', '0'], { cwd: from })).finished;
      // send() of 0 bytes returns 0, which the class treats as failure; errno is untouched.
      expect(lines(client.stdout)).toEqual(['发送文件信息的结构体empty.txt(0)。']);
      expect(client.stderr).toBe('sendfile(): Success\n');
      expect(client.code).toBe(255);
      await until(() => (server.stdout.includes('接收文件内容失败。') ? true : undefined), 'the child to give up');
      expect(lines(server.stdout)).toEqual(['客户端已连接(127.0.0.1)。', '文件信息结构体empty.txt(0)。', '接收文件内容失败。']);
      await server.stop('SIGTERM');
    } finally {
      rmSync(from, { recursive: true, force: true });
      rmSync(to, { recursive: true, force: true });
    }
  });
});

describe('the handshake and close lessons', () => {
  it('backlog-server (listen(fd,3), never accepts): backlog+1 connections complete, Recv-Q 4', async () => {
    const { port } = await startCServer('backlog-server', (p) => [String(p)]);
    const clients = rounds(7).map(() => connect(port, '127.0.0.1').on('error', () => {}));
    try {
      const established = await until(() => {
        const states = ssStates(port);
        const listen = states.find((s) => s.state === 'LISTEN');
        return listen?.recvQ === 4 ? states.filter((s) => s.state === 'ESTAB') : undefined;
      }, 'the accept queue to fill');
      expect(established).toHaveLength(4);
      // ss shows the backlog limit in the listener's Send-Q.
      expect(ssStates(port).find((s) => s.state === 'LISTEN')?.sendQ).toBe(3);
    } finally {
      for (const client of clients) client.destroy();
    }
  });

  /** Runs `name` on `port`, connects a client that closes after the server did; resolves to the server's output. */
  async function closeFirst(name: string, port: number): Promise<string[]> {
    const server = await runC(name, [String(port)]);
    await until(() => (ssStates(port).some((s) => s.state === 'LISTEN') || server.exited ? true : undefined), `${name} to listen`);
    const client = connect(port, '127.0.0.1');
    client.on('error', () => {});
    // The server's FIN arrives, Node's socket ends its side too: the server side goes to TIME_WAIT.
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    const served = await server.finished;
    await until(() => ssStates(port).some((s) => s.state === 'TIME-WAIT' && s.local === `127.0.0.1:${port}`), 'TIME-WAIT on the server port');
    return lines(served.stdout + served.stderr);
  }

  async function bindFails(name: string, port: number): Promise<void> {
    const result = await (await runC(name, [String(port)])).finished;
    expect(result.stderr, name).toBe('bind: Address already in use\n');
    expect(result.code, name).toBe(255);
  }

  it('timewait-server closes first: its port holds TIME_WAIT and no server can bind it', async () => {
    const { server, port } = await startCServer('timewait-server', (p) => [String(p)]);
    await server.stop('SIGKILL');
    expect(await closeFirst('timewait-server', port)).toEqual(['客户端已连接。']);
    await bindFails('timewait-server', port);
    // Linux lets a bind reuse a TIME_WAIT port only when both sockets set
    // SO_REUSEADDR: the old one did not, so even reuseaddr-server fails here.
    await bindFails('reuseaddr-server', port);
  });

  it('reuseaddr-server closes first: restarting it binds at once, timewait-server still cannot', async () => {
    const { server, port } = await startCServer('reuseaddr-server', (p) => [String(p)]);
    await server.stop('SIGKILL');
    expect(await closeFirst('reuseaddr-server', port)).toEqual(['客户端已连接。']);
    await bindFails('timewait-server', port);
    expect(await closeFirst('reuseaddr-server', port)).toEqual(['客户端已连接。']);
  });

  it('timewait-client sleeps after connect, then talks three rounds with write/read', async () => {
    const { server, port } = await startCServer('demo2', (p) => [String(p)]);
    // sleep(1000) at scale 0.001 is one second.
    const client = await (await runC('timewait-client', ['127.0.0.1', String(port)], { env: { SOCKFD_SLEEP_SCALE: '0.001' } })).finished;
    expect(lines(client.stdout)).toEqual(clientLines(3, girl));
    await server.finished;
  });
});

describe('the fd lessons', () => {
  it('demo3 writes data.txt and prints its fd, the lowest free one; demo4 reads it back', async () => {
    const dir = tempDir();
    try {
      const lowest = lowestFreeInChild();
      const written = await (await runC('demo3', [], { cwd: dir })).finished;
      expect(lines(written.stdout)).toEqual([`文件描述符fd=${lowest}`]);
      expect(readFileSync(join(dir, 'data.txt'), 'utf8')).toBe('我是一只傻傻鸟。\n');
      const read = await (await runC('demo4', [], { cwd: dir })).finished;
      expect(lines(read.stdout)).toEqual([`文件描述符fd=${lowest}`, '我是一只傻傻鸟。']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fd-hold holds data.txt and a socket at the fds it prints, visible in /proc while it sleeps', async () => {
    const dir = tempDir();
    try {
      const holder = await runC('fd-hold', [], { cwd: dir, env: fastSleep });
      const seen = await until(() => {
        const fds = listFds(holder.pid);
        const file = fds.find((fd) => fd.target === join(dir, 'data.txt'));
        const socket = fds.find((fd) => fd.socketInode !== undefined && fd.fd > 2); // 0..2 are Node's socketpairs
        return file && socket ? { file: file.fd, socket: socket.fd } : undefined;
      }, 'data.txt and a socket in /proc');
      const result = await holder.finished;
      // stdout is a pipe, so printf's lines arrive when the program exits.
      expect(lines(result.stdout)).toEqual([`文件描述符fd=${seen.file}`, `sockfd=${seen.socket}`]);
      expect(seen.file).toBe(lowestFreeInChild());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exhaust creates sockets until socket: Too many open files (ulimit -n 64)', async () => {
    const binary = await cProgram('exhaust');
    const inherited = new Set(inheritedFds());
    // The shell lowers both limits, then becomes the program (exec keeps the limit).
    const limited = await runProgram('/bin/sh', ['-c', 'ulimit -n 64 && exec "$0" 127.0.0.1 5005', binary]).finished;
    const expected = rounds(63)
      .filter((fd) => fd >= 3 && !inherited.has(fd))
      .map((fd) => `sockfd = ${fd}`);
    expect(lines(limited.stdout)).toEqual(expected);
    expect(limited.stderr).toBe('socket: Too many open files\n');
    expect(limited.code).toBe(255);
  });
});
