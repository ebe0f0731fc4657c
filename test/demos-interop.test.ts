// The twins against the C reference programs (c/, compiled on demand): every
// client twin against the C server and every server twin against the C client,
// with the C-against-C run as the expected output, and the bytes each side
// puts on the wire compared with what the C program sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cProgram } from '../tools/c-programs.js';
import { childPids, listFds } from '../lib/procfs.js';
import { TcpClient } from '../lib/tcp-client.js';
import { TcpServer } from '../lib/tcp-server.js';
import { Running, lines, listeningPort, packageDir, run, startCli, until } from './helpers/twins.js';
import { classGirl, girl } from '../tools/tutorial-text.js';

const FAST_C = { ...process.env, SOCKFD_SLEEP_SCALE: '0.01' };
const FAST_TWIN = ['--sleep-ms', '10'];

const binaries: Record<string, string> = {};
const started: Running[] = [];
beforeAll(async () => {
  for (const name of ['demo1', 'demo2', 'demo3', 'demo4', 'demo5', 'demo7', 'demo8', 'demo10', 'bufsize-client', 'fd-hold', 'exhaust'])
    binaries[name] = await cProgram(name);
});
afterAll(() => {
  for (const running of started) running.stop('SIGKILL');
});

function startC(name: string, args: string[], env: NodeJS.ProcessEnv = FAST_C, detached = false): Running {
  const running = new Running(binaries[name]!, args, { cwd: packageDir, env, detached });
  started.push(running);
  return running;
}
function startTwin(args: string[], detached = false): Running {
  const running = startCli(['demo', ...args], { detached });
  started.push(running);
  return running;
}

interface Session {
  client: { code: number | null; stdout: string; stderr: string };
  server: { code: number | null; stdout: string; stderr: string };
}

/** A server (twin or C) on port 0, then a client (twin or C) against it, both to the end. */
async function session(startServer: () => Running, startClient: (port: number) => Running): Promise<Session> {
  const server = startServer();
  const port = await listeningPort(server.pid);
  const client = startClient(port);
  const [clientDone, serverDone] = await Promise.all([client.finished, server.finished]);
  return { client: clientDone, server: serverDone };
}

/** What a client puts on the wire: a plain server records every byte and answers "ok" to each recv(). */
async function clientBytes(startClient: (port: number) => Running): Promise<Buffer> {
  const server = new TcpServer({ bindAddress: '127.0.0.1' }).initServer(0);
  server.listener.receiveTimeout = 15_000; // bounds accept() (SO_RCVTIMEO applies to it on Linux)
  const client = startClient(server.port);
  const received: Buffer[] = [];
  try {
    // Blocking calls: this thread waits, the client is another process.
    server.accept().socket.receiveTimeout = 15_000;
    for (let chunk; (chunk = server.recv(4096)) !== null; ) {
      received.push(chunk);
      server.send('ok');
    }
  } finally {
    server.close();
  }
  await client.finished;
  return Buffer.concat(received);
}

/** What a server puts on the wire in answer to the tutorial's requests. */
async function serverBytes(startServer: () => Running, requests: string[]): Promise<Buffer> {
  const server = startServer();
  const port = await listeningPort(server.pid);
  const replies: Buffer[] = [];
  const client = new TcpClient().connect('127.0.0.1', port);
  client.connection.socket.receiveTimeout = 15_000;
  for (const request of requests) {
    client.send(request);
    const reply = client.recv(1024);
    if (reply === null) break;
    replies.push(reply);
  }
  client.close();
  await server.finished;
  return Buffer.concat(replies);
}


describe('demo1 / demo2 against the C programs', () => {
  it('twin client vs C server and C client vs twin server print what C vs C prints', async () => {
    const [cc, tc, ct] = await Promise.all([
      session(() => startC('demo2', ['0']), (port) => startC('demo1', ['127.0.0.1', String(port)])),
      session(() => startC('demo2', ['0']), (port) => startTwin(['client', '127.0.0.1', String(port), ...FAST_TWIN])),
      session(() => startTwin(['server', '0']), (port) => startC('demo1', ['127.0.0.1', String(port)])),
    ]);
    expect(lines(cc.client.stdout)).toHaveLength(6); // the baseline itself ran
    expect(tc.client).toEqual(cc.client);
    expect(tc.server).toEqual(cc.server);
    expect(ct.client).toEqual(cc.client);
    expect(ct.server).toEqual(cc.server);
  });

  it('the twin client sends the bytes the C client sends; the twin server answers the bytes the C server answers', async () => {
    const fromC = await clientBytes((port) => startC('demo1', ['127.0.0.1', String(port)]));
    const fromTwin = await clientBytes((port) => startTwin(['client', '127.0.0.1', String(port), ...FAST_TWIN]));
    expect(fromC).toEqual(Buffer.from([1, 2, 3].map(girl).join('')));
    expect(fromTwin).toEqual(fromC);

    const requests = [1, 2, 3].map(girl);
    const cReplies = await serverBytes(() => startC('demo2', ['0']), requests);
    const twinReplies = await serverBytes(() => startTwin(['server', '0']), requests);
    expect(cReplies).toEqual(Buffer.from('okokok'));
    expect(twinReplies).toEqual(cReplies);
  });

  it('demo5 twin against the C server, and its bytes', async () => {
    const [cc, tc] = await Promise.all([
      session(() => startC('demo2', ['0']), (port) => startC('demo5', ['127.0.0.1', String(port)])),
      session(() => startC('demo2', ['0']), (port) => startTwin(['inet-addr', '127.0.0.1', String(port), ...FAST_TWIN])),
    ]);
    expect(lines(cc.client.stdout)).toHaveLength(20);
    expect(tc).toEqual(cc);
    const fromC = await clientBytes((port) => startC('demo5', ['127.0.0.1', String(port)]));
    const fromTwin = await clientBytes((port) => startTwin(['demo5', '127.0.0.1', String(port), ...FAST_TWIN]));
    expect(fromTwin).toEqual(fromC);
  });
});

describe('demo7 / demo8 (the classes) against the C programs', () => {
  it('twin client vs C server and C client vs twin server print what C vs C prints', async () => {
    const [cc, tc, ct] = await Promise.all([
      session(() => startC('demo8', ['0']), (port) => startC('demo7', ['127.0.0.1', String(port)])),
      session(() => startC('demo8', ['0']), (port) => startTwin(['class-client', '127.0.0.1', String(port), ...FAST_TWIN])),
      session(() => startTwin(['class-server', '0']), (port) => startC('demo7', ['127.0.0.1', String(port)])),
    ]);
    expect(lines(cc.server.stdout)[0]).toBe('客户端已连接(127.0.0.1)。');
    expect(cc.server.stderr).toBe('recv(): Success\n');
    expect(tc).toEqual(cc);
    expect(ct).toEqual(cc);
  });

  it('the same bytes on the wire as the C class programs', async () => {
    const fromC = await clientBytes((port) => startC('demo7', ['127.0.0.1', String(port)]));
    const fromTwin = await clientBytes((port) => startTwin(['class-client', '127.0.0.1', String(port), ...FAST_TWIN]));
    expect(fromC).toEqual(Buffer.from(Array.from({ length: 10 }, (_, i) => classGirl(i + 1)).join('')));
    expect(fromTwin).toEqual(fromC);
    const requests = Array.from({ length: 10 }, (_, i) => classGirl(i + 1));
    expect(await serverBytes(() => startTwin(['class-server', '0']), requests)).toEqual(await serverBytes(() => startC('demo8', ['0']), requests));
  });
});

/** The TCP sockets `pid` holds, by state. */
function tcpStates(pid: number): string[] {
  return listFds(pid)
    .flatMap((entry) => (entry.socket && entry.socket.protocol !== 'unix' ? [entry.socket.state] : []))
    .sort();
}

interface ForkServerRun {
  stdout: string[];
  code: number | null;
  children: number[];
  parentSockets: string[];
  childSockets: string[][];
  clientOutputs: { stdout: string; stderr: string }[];
}

/**
 * A fork server (twin or C) in a process group of its own, 3 concurrent C
 * demo7 clients at 1 s per round, SIGTERM to the parent mid-session.
 */
async function forkServerScenario(startServer: () => Running): Promise<ForkServerRun> {
  const server = startServer();
  const port = await listeningPort(server.pid);
  // The tutorial's 1 s between rounds: sessions outlast the set-up even on a loaded machine.
  const clients = [0, 1, 2].map(() => startC('demo7', ['127.0.0.1', String(port)], { ...process.env, SOCKFD_SLEEP_SCALE: '1' }));
  await until(() => (server.stdout.match(/客户端已连接/g) ?? []).length === 3 && childPids(server.pid).length === 3, 'three children');
  await until(() => (server.stdout.match(/接收：这是第2个/g) ?? []).length === 3, 'a second round on every connection');
  const children = childPids(server.pid);
  const parentSockets = tcpStates(server.pid);
  const childSockets = children.map(tcpStates);
  server.stop('SIGTERM');
  const finished = await server.finished;
  const clientOutputs = await Promise.all(clients.map((client) => client.finished));
  await until(() => children.every((pid) => !existsSync(`/proc/${pid}`)), 'the children to exit', 5_000);
  return { stdout: lines(finished.stdout), code: finished.code, children, parentSockets, childSockets, clientOutputs };
}

function expectForkServerBehaviour(result: ForkServerRun): void {
  expect(result.code).toBe(0);
  // The parent kept only the listening socket, each child only its connection.
  expect(result.parentSockets).toEqual(['LISTEN']);
  expect(result.childSockets).toEqual([['ESTABLISHED'], ['ESTABLISHED'], ['ESTABLISHED']]);
  expect(result.stdout.filter((line) => line === '客户端已连接(127.0.0.1)。')).toHaveLength(3);
  expect(result.stdout.filter((line) => line === '父进程退出，sig=15')).toHaveLength(1);
  const exits = result.stdout.flatMap((line) => {
    const match = /^子进程(\d+)退出，sig=15$/.exec(line);
    return match ? [Number(match[1])] : [];
  });
  expect(exits.sort()).toEqual([...result.children].sort());
  const requests = new Set(Array.from({ length: 10 }, (_, i) => `接收：${classGirl(i + 1)}`));
  for (const line of result.stdout) {
    expect(
      requests.has(line) || line === '发送：ok' || line === '客户端已连接(127.0.0.1)。' || /^父进程退出，sig=15$|^子进程\d+退出，sig=15$/.test(line),
      line,
    ).toBe(true);
  }
  for (const client of result.clientOutputs) {
    expect(client.stdout.startsWith(`发送：${classGirl(1)}\n接收：ok\n`)).toBe(true);
    expect(client.stderr).toBe('recv(): Success\n'); // the child closed the connection on SIGTERM
  }
}

describe('demo10, the fork server, against C clients', () => {
  it('the twin serves 3 concurrent C clients, closes the fds it does not need, and shuts down on SIGTERM as the C does', async () => {
    const [twin, c] = await Promise.all([
      forkServerScenario(() => startTwin(['fork-server', '0'], true)),
      forkServerScenario(() => startC('demo10', ['0'], FAST_C, true)),
    ]);
    expectForkServerBehaviour(c); // the expectations hold for the C program...
    expectForkServerBehaviour(twin); // ...and for the twin
  });

  it('a finished session: the C client and the child print what they print with the C server (recv(): Invalid argument)', async () => {
    const oneSession = async (startServer: () => Running) => {
      const server = startServer();
      const port = await listeningPort(server.pid);
      const client = await startC('demo7', ['127.0.0.1', String(port)]).finished;
      await until(() => server.stderr.includes('\n'), "the child's perror");
      const result = { client, serverStdout: server.stdout, serverStderr: server.stderr };
      server.stop('SIGTERM');
      await server.finished;
      return result;
    };
    const [twin, c] = await Promise.all([
      oneSession(() => startTwin(['fork-server', '0'], true)),
      oneSession(() => startC('demo10', ['0'], FAST_C, true)),
    ]);
    expect(c.serverStderr).toBe('recv(): Invalid argument\n');
    expect(lines(c.serverStdout)).toHaveLength(21);
    expect(twin).toEqual(c);
  });

  it('the twin class client against the C fork server', async () => {
    const server = startC('demo10', ['0'], FAST_C, true);
    const port = await listeningPort(server.pid);
    const twinClient = await startTwin(['class-client', '127.0.0.1', String(port), ...FAST_TWIN]).finished;
    const cClient = await startC('demo7', ['127.0.0.1', String(port)]).finished;
    server.stop('SIGTERM');
    await server.finished;
    expect(lines(cClient.stdout)).toHaveLength(20);
    expect(twinClient).toEqual(cClient);
  });
});

/** fd numbers differ (Node holds a couple of dozen fds itself): compare the rest. */
const withoutFds = (text: string): string => text.replace(/(fd=|sockfd = )\d+/g, '$1N');

describe('the other programs: the same lines as the C, fd numbers aside', () => {
  it('demo3 / demo4: the same lines and the same data.txt', async () => {
    const cDir = mkdtempSync(join(tmpdir(), 'sockfd-c-'));
    const twinDir = mkdtempSync(join(tmpdir(), 'sockfd-twin-'));
    try {
      const cWrite = await run(binaries['demo3']!, [], { cwd: cDir });
      const twinWrite = await startCli(['demo', 'demo3'], { cwd: twinDir }).end();
      expect(withoutFds(twinWrite.stdout)).toBe(withoutFds(cWrite.stdout));
      expect(readFileSync(join(twinDir, 'data.txt'))).toEqual(readFileSync(join(cDir, 'data.txt')));
      const cRead = await run(binaries['demo4']!, [], { cwd: cDir });
      const twinRead = await startCli(['demo', 'demo4'], { cwd: twinDir }).end();
      expect(withoutFds(twinRead.stdout)).toBe(withoutFds(cRead.stdout));
      expect(cRead.stdout).toBe('文件描述符fd=3\n我是一只傻傻鸟。\n');
    } finally {
      rmSync(cDir, { recursive: true, force: true });
      rmSync(twinDir, { recursive: true, force: true });
    }
  });

  it('fd-hold: the same two lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-hold-'));
    try {
      const c = await run(binaries['fd-hold']!, [], { cwd: dir, env: { ...process.env, SOCKFD_SLEEP_SCALE: '0' } });
      const twin = await startCli(['demo', 'fd-hold', '--quiet', '--hold-ms', '0'], { cwd: dir }).end();
      expect(c.stdout).toBe('文件描述符fd=3\nsockfd=4\n');
      expect(withoutFds(twin.stdout)).toBe(withoutFds(c.stdout));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exhaust under ulimit -n 64: the same last line and error as the C loop', async () => {
    const underLimit = (command: string, args: string[]) =>
      run('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', command, ...args], { cwd: packageDir });
    const c = await underLimit(binaries['exhaust']!, ['127.0.0.1', '5005']);
    const twin = await underLimit(process.execPath, ['bin/sockfd.js', 'demo', 'exhaust', '127.0.0.1', '5005']);
    expect(c.stdout.startsWith('sockfd = 3\n')).toBe(true);
    expect(lines(twin.stdout).at(-1)).toBe(lines(c.stdout).at(-1));
    expect(twin.stderr).toBe(c.stderr);
    expect(twin.code).toBe(c.code);
  });

  it('bufsize: the same buffer sizes and lines as the C client against the C server', async () => {
    const [cc, tc] = await Promise.all([
      session(() => startC('demo2', ['0']), (port) => startC('bufsize-client', ['127.0.0.1', String(port)])),
      session(() => startC('demo2', ['0']), (port) => startTwin(['bufsize', '127.0.0.1', String(port), ...FAST_TWIN])),
    ]);
    expect(lines(cc.client.stdout)[0]).toMatch(/^send bufsize=\d+$/);
    expect(tc).toEqual(cc);
  });

  it('a reader that goes away (| head -1): the twin dies of SIGPIPE, silently, as the C client does', async () => {
    // The client prints a line, head exits, the next line (300 ms later) meets a closed pipe.
    const writerStatus = async (client: (port: number) => string) => {
      const server = startC('demo2', ['0']);
      const port = await listeningPort(server.pid);
      const result = await run('bash', ['-c', `${client(port)} | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
        cwd: packageDir,
        env: { ...process.env, SOCKFD_SLEEP_SCALE: '0.3' },
      });
      server.stop();
      return { status: result.stdout.trim(), stderr: result.stderr };
    };
    const c = await writerStatus((port) => `${binaries['demo1']} 127.0.0.1 ${port}`);
    const twin = await writerStatus((port) => `${process.execPath} bin/sockfd.js demo client 127.0.0.1 ${port} --sleep-ms 300`);
    expect(c).toEqual({ status: '141', stderr: '' }); // 128 + SIGPIPE
    expect(twin).toEqual(c);
  });
});
