// Every twin run as a user runs it (`node bin/sockfd.js demo ...`), its output
// checked line by line. Expected text comes from the tutorial (or from the C
// reference programs in test/demos-interop.test.ts), never from the twins.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir, endianness } from 'node:os';
import { join } from 'node:path';
import { cProgramSync } from '../tools/c-programs.js';
import { TcpServer } from '../lib/tcp-server.js';
import { lines, listeningPort, run, runCli, ssStates, startCli, tableStates, Running } from './helpers/twins.js';
import { classGirl, clientLines, firewallNote, girl, serverLines } from '../tools/tutorial-text.js';
import { until } from '../tools/until.js';


let workDir: string;
const started: Running[] = [];
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'sockfd-demos-'));
});
afterAll(() => {
  for (const running of started) running.stop('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});
function start(args: string[], options: Parameters<typeof startCli>[1] = {}): Running {
  const running = startCli(args, options);
  started.push(running);
  return running;
}

describe('sockfd demo: the command', () => {
  it('--help lists every twin of the issue by name and tutorial program', async () => {
    const { code, stdout } = await runCli(['demo', '--help']);
    expect(code).toBe(0);
    for (const [name, program] of [
      ['client', 'demo1'], ['server', 'demo2'], ['file-write', 'demo3'], ['file-read', 'demo4'], ['inet-addr', 'demo5'],
      ['any-addr', 'demo6'], ['class-client', 'demo7'], ['class-server', 'demo8'], ['fork-server', 'demo10'],
    ]) expect(stdout).toMatch(new RegExp(`^  ${name} \\(${program}\\) `, 'm'));
    for (const name of ['fd-hold', 'close-std', 'exhaust', 'backlog', 'time-wait', 'bufsize', 'nagle', 'byteorder'])
      expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('an unknown twin and a bad option are usage errors (exit 2); help <name> shows one twin', async () => {
    const unknown = await runCli(['demo', 'demo99']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no twin called 'demo99'");
    const badOption = await runCli(['demo', 'client', '--sleep-ms', 'soon', '127.0.0.1', '1']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('--sleep-ms takes a non-negative integer');
    const help = await runCli(['demo', 'help', 'demo7']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Using:sockfd demo class-client 服务端的IP 服务端的端口');
    expect(help.stdout).toContain('--sleep-ms');
  });

  it("wrong arguments print the tutorial's usage lines with the command adapted, on stdout, exit 255", async () => {
    const clientLines = (name: string, ip: string) => [`Using:sockfd demo ${name} 服务端的IP 服务端的端口`, `Example:sockfd demo ${name} ${ip} 5005`];
    const serverLines = (name: string) => [`Using:sockfd demo ${name} 通讯端口`, `Example:sockfd demo ${name} 5005`, ...firewallNote];
    const cases: [string[], string[]][] = [
      [['demo1'], clientLines('client', '192.168.101.139')],
      [['client', '127.0.0.1'], clientLines('client', '192.168.101.139')],
      [['demo2'], serverLines('server')],
      [['server', '1', '2'], serverLines('server')],
      [['demo5'], clientLines('inet-addr', '192.168.101.138')],
      [['demo6'], serverLines('any-addr')],
      [['demo7', 'x'], clientLines('class-client', '192.168.101.138')],
      [['demo8'], serverLines('class-server')],
      [['demo10'], serverLines('fork-server')],
      [['bufsize'], clientLines('bufsize', '192.168.101.139')],
      [['backlog'], serverLines('backlog')],
      [['time-wait'], serverLines('time-wait')],
      [['exhaust', 'only-one'], clientLines('exhaust', '192.168.101.139')],
    ];
    // Three at a time: enough to overlap start-up, not so many that a loaded machine stalls.
    const results: Awaited<ReturnType<typeof runCli>>[] = [];
    for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map(([args]) => runCli(['demo', ...args])))));
    for (const [index, [args, expected]] of cases.entries()) {
      const { code, stdout } = results[index]!;
      expect(code, args.join(' ')).toBe(255);
      expect(lines(stdout), args.join(' ')).toEqual(expected);
      // The C programs end the usage with an empty line ("\n\n").
      expect(stdout.endsWith('\n\n'), args.join(' ')).toBe(true);
    }
  });
});

describe('client and server twins (demo1/demo2, demo5, demo6, demo7/demo8)', () => {
  it('demo1 against demo2: 3 rounds, 发送：/接收：, the server ends with iret=0', async () => {
    const server = start(['demo', 'server', '0']);
    const port = await listeningPort(server.pid);
    const client = await runCli(['demo', 'client', '127.0.0.1', String(port), '--sleep-ms', '0']);
    expect(client.code).toBe(0);
    expect(lines(client.stdout)).toEqual(clientLines(3, girl));
    const served = await server.finished;
    expect(served.code).toBe(0);
    expect(lines(served.stdout)).toEqual(['客户端已连接。', ...serverLines(3, girl), 'iret=0']);
  });

  it('demo1 by host name (gethostbyname), and its failures: refused connect, unknown host', async () => {
    const server = start(['demo', 'demo2', '0']);
    const port = await listeningPort(server.pid);
    const byName = await runCli(['demo', 'demo1', 'localhost', String(port), '--sleep-ms', '0']);
    expect(lines(byName.stdout)[0]).toBe(`发送：${girl(1)}`);
    await server.finished;

    const refused = await runCli(['demo', 'demo1', '127.0.0.1', String(port)]);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toBe('connect: Connection refused\n');
    expect(refused.stdout).toBe('');

    const unknown = await runCli(['demo', 'demo1', 'no-such-host.invalid', '5005']);
    expect(unknown.code).toBe(255);
    expect(unknown.stdout).toBe('gethostbyname failed.\n\n');
  });

  it('demo5 (inet_addr): an IP works for 10 rounds; a host name becomes INADDR_NONE and connect fails like the C', async () => {
    const server = start(['demo', 'server', '0']);
    const port = await listeningPort(server.pid);
    const ok = await runCli(['demo', 'inet-addr', '127.0.0.1', String(port), '--sleep-ms', '0']);
    expect(ok.code).toBe(0);
    expect(lines(ok.stdout)).toEqual(clientLines(10, girl));
    await server.finished;

    const name = await runCli(['demo', 'demo5', 'localhost', String(port)]);
    const c = await run(cProgramSync('demo5'), ['localhost', String(port)]);
    expect(name.code).toBe(255);
    expect(c.code).toBe(255);
    expect(name.stderr).toBe(c.stderr); // "connect: Network is unreachable" on the tutorial's machine
    expect(name.stderr).toMatch(/^connect: /);
  });

  it('demo6 binds INADDR_ANY (127.0.0.2 reaches it) or, with --bind, one address (127.0.0.2 is refused)', async () => {
    const any = start(['demo', 'any-addr', '0']);
    const anyPort = await listeningPort(any.pid);
    const viaOther = await runCli(['demo', 'client', '127.0.0.2', String(anyPort), '--sleep-ms', '0']);
    expect(viaOther.code).toBe(0);
    expect(lines((await any.finished).stdout)[0]).toBe('客户端已连接。');

    const one = start(['demo', 'demo6', '0', '--bind', '127.0.0.1']);
    const onePort = await listeningPort(one.pid);
    const refused = await runCli(['demo', 'client', '127.0.0.2', String(onePort)]);
    expect(refused.stderr).toBe('connect: Connection refused\n');
    const accepted = await runCli(['demo', 'client', '127.0.0.1', String(onePort), '--sleep-ms', '0']);
    expect(accepted.code).toBe(0);
    expect(lines((await one.finished).stdout).at(-1)).toBe('iret=0');
  });

  it('demo7 against demo8: 10 rounds, 编号N not padded, 客户端已连接(ip)。, recv(): Success', async () => {
    const server = start(['demo', 'class-server', '0']);
    const port = await listeningPort(server.pid);
    const client = await runCli(['demo', 'class-client', '127.0.0.1', String(port), '--sleep-ms', '0']);
    expect(client.code).toBe(0);
    expect(lines(client.stdout)).toEqual(clientLines(10, classGirl));
    const served = await server.finished;
    expect(served.code).toBe(0);
    expect(lines(served.stdout)).toEqual(['客户端已连接(127.0.0.1)。', ...serverLines(10, classGirl)]);
    expect(served.stderr).toBe('recv(): Success\n');

    const refused = await runCli(['demo', 'demo7', '127.0.0.1', String(port)]);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toBe('connect(): Connection refused\n');
  });

  it('demo8 on a port in use: initserver(): Address already in use', async () => {
    const holder = start(['demo', 'class-server', '0']);
    const port = await listeningPort(holder.pid);
    const second = await runCli(['demo', 'demo8', String(port)]);
    expect(second.code).toBe(255);
    expect(second.stderr).toBe('initserver(): Address already in use\n');
    holder.stop();
  });

  it('bufsize: send bufsize=N / recv bufsize=M after connect, then the rounds', async () => {
    const server = start(['demo', 'server', '0']);
    const port = await listeningPort(server.pid);
    const client = await runCli(['demo', 'bufsize', '127.0.0.1', String(port), '--sleep-ms', '0']);
    const out = lines(client.stdout);
    expect(out[0]).toMatch(/^send bufsize=[1-9]\d*$/);
    expect(out[1]).toMatch(/^recv bufsize=[1-9]\d*$/);
    expect(out.slice(2)).toEqual(clientLines(3, girl));
    await server.finished;
  });

  it('a reply with a NUL byte is printed up to the NUL by demo1 (char buffer) and whole by demo7 (std::string)', async () => {
    for (const [twin, expected] of [
      ['client', Buffer.from('接收：ab\n')],
      ['class-client', Buffer.from('接收：ab\0cd\n')],
    ] as const) {
      const server = new TcpServer({ bindAddress: '127.0.0.1' }).initServer(0);
      server.listener.receiveTimeout = 15_000; // bounds the blocking accept() and recv()s below
      const client = start(['demo', twin, '127.0.0.1', String(server.port), '--sleep-ms', '0']);
      // accept() blocks this thread only until the twin (another process) connects.
      server.accept().socket.receiveTimeout = 15_000;
      server.recv(1024);
      server.send(Buffer.from('ab\0cd'));
      server.recv(1024);
      server.close();
      const finished = await client.finished;
      const printed = Buffer.from(finished.stdout.split('\n')[1]! + '\n');
      expect(printed).toEqual(expected);
    }
  });
});

describe('files and fds (demo3, demo4, fd-hold, close-std)', () => {
  it('demo3 writes data.txt and prints its fd; demo4 reads it back', async () => {
    const written = await runCli(['demo', 'file-write'], { cwd: workDir });
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^文件描述符fd=\d+\n$/);
    expect(readFileSync(join(workDir, 'data.txt'), 'utf8')).toBe('我是一只傻傻鸟。\n');
    const read = await runCli(['demo', 'demo4'], { cwd: workDir });
    expect(read.code).toBe(0);
    expect(lines(read.stdout)).toEqual([expect.stringMatching(/^文件描述符fd=\d+$/), '我是一只傻傻鸟。']);
  });

  it('demo4 without data.txt: perror("open(data.txt)")', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sockfd-empty-'));
    const read = await runCli(['demo', 'file-read'], { cwd: empty });
    rmSync(empty, { recursive: true });
    expect(read.code).toBe(255);
    expect(read.stderr).toBe('open(data.txt): No such file or directory\n');
  });

  it('fd-hold: the file and the socket are the fds /proc/<pid>/fd shows; it lists them itself', async () => {
    const holder = start(['demo', 'fd-hold', '--hold-ms', '20000'], { cwd: workDir });
    const [, fd, sockfd] = (await holder.waitFor(/^文件描述符fd=(\d+)\nsockfd=(\d+)\n/)) as unknown as [string, string, string];
    expect(Number(sockfd)).toBeGreaterThan(Number(fd));
    expect(readlinkSync(`/proc/${holder.pid}/fd/${fd}`)).toBe(join(workDir, 'data.txt'));
    expect(readlinkSync(`/proc/${holder.pid}/fd/${sockfd}`)).toMatch(/^socket:\[\d+\]$/);
    await holder.waitFor(/socket:\[\d+\]/);
    expect(holder.stdout).toMatch(new RegExp(`^\\s*${fd}  ${join(workDir, 'data.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(holder.stdout).toMatch(new RegExp(`^\\s*${sockfd}  socket:\\[\\d+\\]`, 'm'));
    holder.stop();
  });

  it('close-std: nothing closed, 0 closed, 1 closed, all closed', async () => {
    const none = await runCli(['demo', 'close-std'], { cwd: workDir, input: '8\n' });
    expect(none.stdout).toMatch(/^cout ii = 8\n文件描述符fd=\d+\n$/);
    expect(none.stderr).toBe('cerr ii = 8\n');

    const stdin = await runCli(['demo', 'close-std', '0'], { cwd: workDir, input: '8\n' });
    expect(stdin.stdout).toBe('cout ii = 0\n文件描述符fd=0\n'); // the lowest free fd is the one just closed
    expect(stdin.stderr).toBe('cerr ii = 0\n');

    const stdout = await runCli(['demo', 'close-std', '1'], { cwd: workDir, input: '8\n' });
    expect(stdout.stdout).toBe('');
    expect(stdout.stderr).toBe('cerr ii = 8\n');
    expect(readFileSync(join(workDir, 'data.txt'), 'utf8')).toBe('我是一只傻傻鸟。\n');

    const all = start(['demo', 'close-std', '0', '1', '2', '--hold-ms', '20000'], { cwd: workDir, input: '8\n' });
    const fd0 = (): string | undefined => {
      try {
        return readlinkSync(`/proc/${all.pid}/fd/0`);
      } catch {
        return undefined; // not there yet
      }
    };
    const target = await until(() => (fd0()?.endsWith('data.txt') ? fd0() : undefined), 'close-std to open data.txt as fd 0', 10_000);
    expect(target).toBe(join(workDir, 'data.txt'));
    expect(() => readlinkSync(`/proc/${all.pid}/fd/1`)).toThrow();
    expect(() => readlinkSync(`/proc/${all.pid}/fd/2`)).toThrow();
    all.stop();
    const finished = await all.finished;
    expect(finished.stdout + finished.stderr).toBe('');
  });

  it('close-std rejects anything but 0, 1, 2', async () => {
    const bad = await runCli(['demo', 'close-std', '3']);
    expect(bad.code).toBe(2);
  });
});

describe.concurrent('exhaust, byteorder, nagle', () => {
  const expectExhausted = (result: { code: number | null; stdout: string; stderr: string }, limit: number) => {
    expect(result.code).toBe(255);
    expect(result.stderr).toBe('socket: Too many open files\n');
    const numbers = lines(result.stdout).map((line) => {
      const match = /^sockfd = (\d+)$/.exec(line);
      expect(match, line).not.toBeNull();
      return Number(match![1]);
    });
    expect(numbers.length).toBeGreaterThan(0);
    expect(numbers.at(-1)).toBe(limit - 1);
    numbers.forEach((n, i) => i > 0 && expect(n).toBeGreaterThan(numbers[i - 1]!));
  };

  it('under `ulimit -n 64`: sockfd = N lines up to 63, then socket: Too many open files', async () => {
    const result = await run('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, 'bin/sockfd.js', 'demo', 'exhaust'], {
      cwd: new URL('..', import.meta.url).pathname,
    });
    expectExhausted(result, 64);
  });

  it('--limit 64 lowers both limits itself', async () => {
    expectExhausted(await runCli(['demo', 'exhaust', '--limit', '64']), 64);
  });

  it('byteorder: the host order, htonl, and 192.168.190.134 = 3232284294 in both orders', async () => {
    const { code, stdout } = await runCli(['demo', 'byteorder']);
    expect(code).toBe(0);
    const out = lines(stdout);
    const little = endianness() === 'LE';
    expect(out[0]).toBe(`本机字节序：${little ? '小端序（Little Endian）' : '大端序（Big Endian）'}`);
    expect(out[1]).toBe(`0x12345678 在内存中（地址从低到高）：${little ? '0x78 0x56 0x34 0x12' : '0x12 0x34 0x56 0x78'}`);
    expect(out[2]).toBe(`htonl(0x12345678) = ${little ? '0x78563412' : '0x12345678'}，在内存中：0x12 0x34 0x56 0x78（网络字节序，大端序）`);
    expect(out).toContain(`192.168.190.134 = ${192 * 2 ** 24 + 168 * 2 ** 16 + 190 * 2 ** 8 + 134}（0xc0a8be86）`);
    // The tutorial's two lines, verbatim.
    expect(out).toContain('大端：11000000 10101000 10111110 10000110');
    expect(out).toContain('小端：10000110 10111110 10101000 11000000');
  });

  it('nagle: both modes measured and reported', async () => {
    const { code, stdout } = await runCli(['demo', 'nagle', '--rounds', '5']);
    expect(code).toBe(0);
    const out = lines(stdout);
    expect(out).toHaveLength(4);
    expect(out[0]).toBe('Nagle算法开启（默认）：每次请求两次send()（4字节 + 4字节），再recv()回复，共5次');
    expect(out[2]).toBe('TCP_NODELAY开启（禁用Nagle算法）：同样的5次请求');
    for (const line of [out[1], out[3]]) expect(line).toMatch(/^ {2}每次往返：中位数 \d+\.\d\d ms，最小 \d+\.\d\d ms，最大 \d+\.\d\d ms$/);
  });
});

describe.concurrent('the states the kernel really has (backlog, time-wait) against ss', () => {
  it('backlog: backlog+1 ESTABLISHED on the server side, the table equal to ss -tan', async () => {
    const twin = start(['demo', 'backlog', '0', '--backlog', '3', '--clients', '8', '--hold-ms', '20000']);
    await twin.waitFor(/（pid \d+，端口(\d+)/);
    const port = Number(/端口(\d+)/.exec(twin.stdout)![1]);
    const shown = tableStates(twin.stdout);
    const kernel = ssStates(port);
    expect(shown).toEqual(kernel);
    const serverEstablished = kernel.filter((line) => line.startsWith(`127.0.0.1:${port} `) && line.endsWith(' ESTABLISHED'));
    expect(serverEstablished).toHaveLength(4);
    // The other 4 are either half-open on the server (older kernels) or still SYN_SENT on the client.
    const leftOut = kernel.filter((line) => line.endsWith(' SYN_SENT') || (line.startsWith(`127.0.0.1:${port} `) && line.endsWith(' SYN_RECV')));
    expect(leftOut).toHaveLength(4);
    expect(twin.stdout).toContain('服务端：ESTABLISHED 4个');
    twin.stop();
  });

  it('time-wait: the TIME_WAIT line is the one ss shows; the restart fails with bind: Address already in use', async () => {
    const result = await runCli(['demo', 'time-wait', '0']);
    expect(result.code).toBe(255);
    expect(result.stderr).toBe('bind: Address already in use\n');
    const out = lines(result.stdout);
    expect(out[0]).toBe('客户端已连接。');
    const port = Number(/bind\(\)端口(\d+)/.exec(result.stdout)![1]);
    expectOwnTimeWait(result.stdout, port);
  });

  it('time-wait --reuseaddr: the restart binds', async () => {
    const result = await runCli(['demo', 'time-wait', '0', '--reuseaddr']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(lines(result.stdout).at(-1)).toBe('bind()成功。');
    const port = Number(/bind\(\)端口(\d+)/.exec(result.stdout)![1]);
    expectOwnTimeWait(result.stdout, port);
  });

  it("time-wait beside another process's connection on the same port number: only the demo's own is shown", async () => {
    // Python (not the code under test) holds an ESTABLISHED loopback connection whose client
    // end has local port P: with SO_REUSEADDR on both, Linux lets the demo's listener bind P
    // too, as it lets an ephemeral port serve connections to different destinations.
    const python = new Running('python3', ['-c', [
      'import socket, sys',
      'listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)',
      'client = socket.socket(); client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      'client.bind(("127.0.0.1", 0)); client.connect(listener.getsockname()); peer, _ = listener.accept()',
      'print(client.getsockname()[1], listener.getsockname()[1], flush=True)',
      'sys.stdin.read()',
    ].join('\n')], { keepStdin: true, timeoutMs: 60_000 });
    started.push(python);
    const match = await python.waitFor(/^(\d+) (\d+)$/m);
    const [port, otherPort] = [Number(match[1]), Number(match[2])];
    const other = `127.0.0.1:${port} 127.0.0.1:${otherPort} ESTABLISHED`;
    const result = await runCli(['demo', 'time-wait', String(port), '--reuseaddr']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectOwnTimeWait(result.stdout, port);
    // The other connection was there on the same port number all along, and is not in the table.
    expect(ssStates(port)).toContain(other);
    expect(tableStates(result.stdout)).not.toContain(other);
    python.child.stdin!.end();
    expect((await python.finished).code).toBe(0);
  });
});

/**
 * The time-wait demo's table is its own connection only (the server's port and its
 * client's): one line, the server's end in TIME_WAIT, and exactly what `ss` lists for
 * that pair of ports.
 */
function expectOwnTimeWait(stdout: string, port: number): void {
  const shown = tableStates(stdout);
  expect(shown).toHaveLength(1);
  const clientPort = Number(new RegExp(`^127\\.0\\.0\\.1:${port} 127\\.0\\.0\\.1:(\\d+) TIME_WAIT$`).exec(shown[0]!)?.[1]);
  expect(clientPort).toBeGreaterThan(0);
  expect(clientPort).not.toBe(port);
  expect(ssStates(port, undefined, clientPort)).toEqual(shown);
}
