// `sockfd tour`: the tutorial from start to end on loopback. Each step says
// what the tutorial shows, runs the twins as separate processes (server and
// client, parent and children) and the tools on them, and checks that the
// kernel behaved as the tutorial says. Exit 0 only when every check held.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, UsageError } from '../command.js';
import { childPids, listFds } from '../../lib/procfs.js';
import { Running, listeningPort, startCli, until, type Finished, type StartOptions } from '../../tools/processes.js';
import { classGirl, clientLines, girl } from '../../tools/tutorial-text.js';
import { labChapter } from '../../tools/lab/tour-chapter.js';

interface Check {
  ok: boolean;
  text: string;
}

interface Step {
  /** The tutorial's section, in Chinese as it titles it. */
  section: string;
  title: string;
  /** What to look for, before the commands run. */
  why: string;
  run(tour: Tour): Promise<void>;
}

/** NO_COLOR (no-color.org): set and not empty disables colour; set but empty does not. */
export function noColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

const ansi = { bold: '\x1b[1m', dim: '\x1b[2m', cyan: '\x1b[36m', green: '\x1b[32m', red: '\x1b[31m', reset: '\x1b[0m' };
const MAX_SHOWN_LINES = 14;

const outputLines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** Shared state of one tour: output, checks, the processes it started, its scratch directory. */
class Tour {
  readonly dir = mkdtempSync(join(tmpdir(), 'sockfd-tour-'));
  readonly checks: Check[] = [];
  readonly #started: Running[] = [];

  constructor(readonly color: boolean) {}

  paint(style: keyof typeof ansi, text: string): string {
    return this.color ? `${ansi[style]}${text}${ansi.reset}` : text;
  }

  say(text = ''): void {
    process.stdout.write(text + '\n');
  }

  /**
   * Starts `sockfd args...` (shown as the user would type it), always in a
   * process group of its own (detached), so that the clean-up can stop it
   * and every process it started with one kill(-pgid), whatever the signal
   * or the terminal did.
   */
  start(args: string[], options: StartOptions & { background?: boolean } = {}): Running {
    const { background, ...rest } = options;
    this.say(this.paint('dim', `  $ sockfd ${args.join(' ')}${background ? ' &' : ''}`));
    const running = startCli(args, { cwd: this.dir, ...rest, detached: true });
    this.#started.push(running);
    return running;
  }

  /** Runs `sockfd args...` to the end and shows its output. */
  async run(args: string[], options: StartOptions & { maxLines?: number; only?: RegExp } = {}): Promise<Finished> {
    const { maxLines, only, ...rest } = options;
    const finished = await this.start(args, rest).end();
    this.show(finished.stdout + finished.stderr, maxLines, only);
    return finished;
  }

  /** Output of a command, indented; only the lines matching `only` (if given), long listings shortened in the middle. */
  show(text: string, maxLines = MAX_SHOWN_LINES, only?: RegExp): void {
    const all = text.split('\n').filter((line) => only === undefined || only.test(line));
    if (all.at(-1) === '') all.pop();
    const shown = all.length > maxLines ? [...all.slice(0, maxLines - 3), `... (${all.length - maxLines + 1} more lines)`, ...all.slice(-2)] : all;
    for (const line of shown) this.say(`    ${line}`);
  }

  /** A measurement shown to the reader, not a check: it cannot fail the tour. */
  report(text: string): void {
    this.say(this.paint('cyan', `  → ${text}`));
  }

  check(ok: boolean, text: string): boolean {
    this.checks.push({ ok, text });
    this.say(ok ? this.paint('green', `  ✓ ${text}`) : this.paint('red', `  ✗ ${text}`));
    return ok;
  }

  /**
   * Stops every process the tour started, with its children (SIGKILL to each
   * one's process group), waits for them (bounded), removes the scratch
   * directory. Returns how many were still running.
   */
  async cleanUp(): Promise<number> {
    let stopped = 0;
    for (const running of this.#started) {
      if (running.running) stopped++;
      running.killGroup(); // the twin and whatever it forked, even after the twin itself ended
    }
    await Promise.race([Promise.allSettled(this.#started.map((running) => running.finished)), pause(5_000)]);
    rmSync(this.dir, { recursive: true, force: true });
    return stopped;
  }
}

/** The TCP socket states a process holds, sorted. */
function tcpStates(pid: number): string[] {
  return listFds(pid)
    .flatMap((entry) => (entry.socket && entry.socket.protocol !== 'unix' ? [entry.socket.state] : []))
    .sort();
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

const steps: Step[] = [
  {
    section: '文件描述符的分配规则',
    title: 'fds of a fresh process, and the lowest free fd',
    why: 'A file and a socket are both small integers in the same table, /proc/<pid>/fd. open() and\nsocket() take the lowest free number. Node itself holds a couple of dozen fds, so the numbers\nare higher than the C program\'s 3 and 4. Closing 0, 1 and 2 frees the lowest: the next open() gets 0.',
    async run(tour) {
      const holder = tour.start(['demo', 'fd-hold', '--quiet', '--hold-ms', '30000'], { background: true });
      const match = await holder.waitFor(/文件描述符fd=(\d+)\nsockfd=(\d+)\n/);
      tour.show(match[0]);
      const [fd, sockfd] = [Number(match[1]), Number(match[2])];
      const fds = await tour.run(['fds', String(holder.pid)], { only: new RegExp(`^pid |^ +FD |^ +(0|1|2|${fd}|${sockfd}) `) });
      tour.check(readlinkOr(`/proc/${holder.pid}/fd/${fd}`) === join(tour.dir, 'data.txt'), `fd ${fd} is data.txt in /proc/${holder.pid}/fd`);
      tour.check(sockfd > fd && /^socket:\[\d+\]$/.test(readlinkOr(`/proc/${holder.pid}/fd/${sockfd}`)), `fd ${sockfd}, the next number, is a socket:[inode]`);
      tour.check(fds.code === 0 && fds.stdout.includes('socket:['), 'sockfd fds lists both');
      holder.stop();

      const closer = tour.start(['demo', 'close-std', '0', '1', '2', '--hold-ms', '30000'], { input: '8\n', background: true });
      await until(() => readlinkOr(`/proc/${closer.pid}/fd/0`).endsWith('data.txt'), 'close-std to open data.txt', 10_000).catch(() => {});
      await tour.run(['fds', String(closer.pid)], { only: /^pid |^ +FD |^ +[0-3] / });
      tour.check(
        readlinkOr(`/proc/${closer.pid}/fd/0`) === join(tour.dir, 'data.txt') && !existsSync(`/proc/${closer.pid}/fd/1`),
        'after close(0), close(1), close(2) the next open() got fd 0',
      );
      closer.stop();
    },
  },
  {
    section: 'socket函数详解：open files',
    title: 'socket() until EMFILE',
    why: "Sockets count against the open-files limit (ulimit -n). The tutorial's loop creates sockets\nuntil socket() fails with EMFILE. --limit 64 lowers the limit first: the last fd is 63.",
    async run(tour) {
      const result = await tour.run(['demo', 'exhaust', '--limit', '64'], { maxLines: 6 });
      const last = outputLines(result.stdout).at(-1);
      tour.check(last === 'sockfd = 63', `the last socket got fd 63 (${last ?? 'none'})`);
      tour.check(result.code === 255 && result.stderr === 'socket: Too many open files\n', 'then perror: socket: Too many open files');
    },
  },
  {
    section: '主机字节序与网络字节序',
    title: 'byte order',
    why: 'This CPU stores 0x12345678 least significant byte first; the network order is big-endian.\nhtonl() swaps on such a host. 192.168.190.134 is the integer 3232284294.',
    async run(tour) {
      const result = await tour.run(['demo', 'byteorder']);
      tour.check(result.stdout.includes('192.168.190.134 = 3232284294'), '192.168.190.134 = 3232284294');
      tour.check(
        result.stdout.includes('大端：11000000 10101000 10111110 10000110') && result.stdout.includes('小端：10000110 10111110 10101000 11000000'),
        "its bytes in both orders, as the tutorial's table",
      );
    },
  },
  {
    section: '第一个网络通讯程序',
    title: 'client and server (demo1, demo2)',
    why: 'demo2 binds INADDR_ANY, listens and accepts one client; demo1 connects and sends three\nrequests, each answered "ok". When the client closes, the server\'s recv() returns 0: iret=0.',
    async run(tour) {
      const server = tour.start(['demo', 'server', '0'], { background: true });
      const port = await listeningPort(server.pid);
      const client = await tour.run(['demo', 'client', '127.0.0.1', String(port), '--sleep-ms', '200']);
      const served = await server.end();
      tour.say(tour.paint('dim', '  (the server printed)'));
      tour.show(served.stdout);
      tour.check(outputLines(client.stdout).join('\n') === clientLines(3, girl).join('\n'), 'three rounds, 发送：/接收：ok');
      tour.check(outputLines(served.stdout).at(-1) === 'iret=0' && served.stdout.startsWith('客户端已连接。\n'), 'the server: 客户端已连接。 ... iret=0');
    },
  },
  {
    section: '字符串IP与大端序IP的转换',
    title: 'inet_addr() vs gethostbyname() (demo5)',
    why: 'inet_addr() only reads dotted IPs: "localhost" becomes INADDR_NONE and connect() fails.\ngethostbyname() (demo1) resolves the same name.',
    async run(tour) {
      const server = tour.start(['demo', 'server', '0'], { background: true });
      const port = await listeningPort(server.pid);
      const byInetAddr = await tour.run(['demo', 'inet-addr', 'localhost', String(port)]);
      tour.check(byInetAddr.code === 255 && byInetAddr.stderr.startsWith('connect: '), `inet_addr("localhost") fails: ${byInetAddr.stderr.trim()}`);
      const byName = await tour.run(['demo', 'client', 'localhost', String(port), '--sleep-ms', '0'], { maxLines: 2 });
      tour.check(byName.code === 0 && byName.stdout.startsWith(`发送：${girl(1)}\n接收：ok\n`), 'gethostbyname("localhost") connects');
      await server.end();
    },
  },
  {
    section: '封装socket',
    title: 'the classes (demo7, demo8: TcpClient, TcpServer)',
    why: 'The same exchange through ctcpclient/ctcpserver, here TcpClient and TcpServer: ten rounds,\n编号N not zero-padded (to_string), and the server reports the client\'s IP.',
    async run(tour) {
      const server = tour.start(['demo', 'class-server', '0'], { background: true });
      const port = await listeningPort(server.pid);
      const client = await tour.run(['demo', 'class-client', '127.0.0.1', String(port), '--sleep-ms', '50'], { maxLines: 4 });
      const served = await server.end();
      tour.say(tour.paint('dim', '  (the server printed)'));
      tour.show(served.stdout + served.stderr, 4);
      tour.check(outputLines(client.stdout).length === 20 && client.stdout.includes(`发送：${classGirl(10)}\n`), 'ten rounds, 编号10 not padded');
      tour.check(served.stdout.startsWith('客户端已连接(127.0.0.1)。\n') && served.stderr === 'recv(): Success\n', 'the server: 客户端已连接(127.0.0.1)。 ... recv(): Success');
    },
  },
  {
    section: '多进程的网络服务端',
    title: 'the fork server (demo10) with three clients',
    why: 'The parent accepts and forks a child per client. The parent closes the connection, the\nchild the listening socket: compare their fds. SIGTERM to the parent: it signals its process\ngroup, every child prints 子进程<pid>退出，sig=15.',
    async run(tour) {
      const server = tour.start(['demo', 'fork-server', '0'], { detached: true, background: true });
      const port = await listeningPort(server.pid);
      const clients = [1, 2, 3].map(() => tour.start(['demo', 'class-client', '127.0.0.1', String(port)], { background: true }));
      await until(() => (server.stdout.match(/客户端已连接/g) ?? []).length === 3 && childPids(server.pid).length === 3, 'three children');
      const children = childPids(server.pid);
      tour.say(tour.paint('dim', `  (parent ${server.pid}, children ${children.join(', ')})`));
      await tour.run(['fds', String(server.pid)], { only: /^pid |^ +FD | tcp / });
      await tour.run(['fds', String(children[0])], { only: /^pid |^ +FD | tcp / });
      tour.check(tcpStates(server.pid).join() === 'LISTEN', 'the parent holds only the listening socket');
      tour.check(children.every((pid) => tcpStates(pid).join() === 'ESTABLISHED'), 'each child holds only its connection');
      tour.say(tour.paint('dim', `  $ kill ${server.pid}`));
      server.stop('SIGTERM');
      const served = await server.end();
      await Promise.all(clients.map((client) => client.end()));
      tour.show(outputLines(served.stdout).filter((line) => /退出/.test(line)).join('\n'));
      tour.check(served.stdout.includes('父进程退出，sig=15\n'), 'the parent: 父进程退出，sig=15');
      const exits = [...served.stdout.matchAll(/子进程(\d+)退出，sig=15/g)].map((m) => Number(m[1]));
      tour.check(exits.sort().join() === [...children].sort().join(), 'every child: 子进程<pid>退出，sig=15');
    },
  },
  {
    section: '实现文件传输功能',
    title: 'a file transfer (demo11, demo12) with checksums',
    why: 'demo11 sends struct st_fileinfo (name, size), waits for "ok", sends the bytes, waits for "ok".\ndemo12 stores them. A binary file must arrive intact: compare SHA-256.',
    async run(tour) {
      const source = join(tour.dir, 'send');
      const target = join(tour.dir, 'received');
      mkdirSync(source);
      mkdirSync(target);
      const size = 300_000;
      writeFileSync(join(source, 'blob.bin'), randomBytes(size));
      const server = tour.start(['demo', 'file-server', '0', target], { detached: true, background: true });
      const port = await listeningPort(server.pid);
      const client = await tour.run(['demo', 'file-client', '127.0.0.1', String(port), 'blob.bin', String(size)], { cwd: source });
      await until(() => server.stdout.includes('接收文件内容成功。') || !server.running, 'the server to finish the file', 10_000).catch(() => {});
      server.stop('SIGTERM');
      const served = await server.end();
      tour.say(tour.paint('dim', '  (the server printed)'));
      tour.show(served.stdout, 4);
      const received = join(target, 'blob.bin');
      tour.check(client.code === 0 && client.stdout.includes('发送文件内容成功。'), 'the client: 发送文件内容成功。');
      tour.check(existsSync(received) && sha256(received) === sha256(join(source, 'blob.bin')), `the ${size} bytes arrived intact (SHA-256 equal)`);
    },
  },
  {
    section: '三次握手',
    title: "listen()'s backlog and the accept queue",
    why: 'A server that never accept()s, listen(fd, 3), and eight clients: backlog+1 = 4 complete the\nhandshake and wait in the accept queue (ESTABLISHED). This kernel (Linux >= 4.10) drops the\nothers\' SYNs while the queue is full, so they wait in SYN_SENT; the tutorial\'s 3.10 kernel\nkept them half-open in SYN_RECV.',
    async run(tour) {
      const result = await tour.run(['demo', 'backlog', '0', '--hold-ms', '0'], { maxLines: 20 });
      tour.check(result.stdout.includes('服务端：ESTABLISHED 4个'), 'the server side has backlog+1 = 4 ESTABLISHED connections');
      const leftOut = (result.stdout.match(/ (SYN_SENT|SYN_RECV)$/gm) ?? []).length;
      tour.check(leftOut === 4, `the other 4 are not established (${leftOut} in SYN_SENT/SYN_RECV)`);
    },
  },
  {
    section: '四次挥手',
    title: 'TIME_WAIT and SO_REUSEADDR',
    why: 'The side that closes first keeps the connection in TIME_WAIT for 2MSL. When that is the\nserver, restarting it fails: bind: Address already in use. SO_REUSEADDR (set before bind())\nlets it bind.',
    async run(tour) {
      const plain = await tour.run(['demo', 'time-wait', '0']);
      tour.check(/ TIME_WAIT$/m.test(plain.stdout), "the server's side of the connection is in TIME_WAIT");
      tour.check(plain.code === 255 && plain.stderr === 'bind: Address already in use\n', 'the restart fails: bind: Address already in use');
      const reuse = await tour.run(['demo', 'time-wait', '0', '--reuseaddr']);
      tour.check(reuse.code === 0 && reuse.stdout.includes('bind()成功。'), 'with SO_REUSEADDR the restart binds');
    },
  },
  {
    section: 'TCP缓存',
    title: 'send and receive buffer sizes',
    why: 'Each socket has a send and a receive buffer in the kernel: getsockopt(SO_SNDBUF/SO_RCVBUF).',
    async run(tour) {
      const server = tour.start(['demo', 'server', '0'], { background: true });
      const port = await listeningPort(server.pid);
      const result = await tour.run(['demo', 'bufsize', '127.0.0.1', String(port), '--sleep-ms', '0'], { only: /bufsize/ });
      await server.end();
      tour.check(/^send bufsize=\d+\nrecv bufsize=\d+\n/.test(result.stdout), 'send bufsize=N, recv bufsize=M');
    },
  },
  {
    section: 'Nagle算法',
    title: 'Nagle on and off',
    why: 'A request written as two small send()s: with Nagle the second waits for the ACK of the\nfirst, which the peer delays ~40 ms. TCP_NODELAY sends it at once.',
    async run(tour) {
      const result = await tour.run(['demo', 'nagle', '--rounds', '10']);
      const medians = [...result.stdout.matchAll(/中位数 (\d+\.\d+) ms/g)].map((m) => Number(m[1]));
      tour.check(result.code === 0 && medians.length === 2, 'both modes ran and were measured');
      // Timing is what this step shows, not what it checks (speed belongs to `sockfd bench nagle`):
      // report what this machine measured against what the tutorial describes.
      const [nagle = NaN, noDelay = NaN] = medians;
      tour.report(`measured here: Nagle on, a median of ${nagle} ms per request (the tutorial: ~40 ms, the delayed ACK)`);
      tour.report(`measured here: TCP_NODELAY, a median of ${noDelay} ms per request (no stall)`);
    },
  },
];

const usage = `usage: sockfd tour [--no-color]

Walks through the socket tutorial in order, on loopback: file descriptors and the
lowest-free rule, EMFILE, byte order, inet_addr vs gethostbyname, client and server,
the classes, the fork server, a file transfer, the backlog, TIME_WAIT and
SO_REUSEADDR, buffer sizes, Nagle. Each step explains what to look for, runs the
twins (sockfd demo ...) and the tools (sockfd fds ...) as separate processes, and
checks that the kernel did what the tutorial says. Colours on a terminal only
(not with --no-color, nor with NO_COLOR set to a non-empty value). Ctrl+C or
SIGTERM at any moment stops every process the tour started and removes its
scratch directory. Exit status 0 when every check held, 1 otherwise, 130/143
when stopped by SIGINT/SIGTERM.`;

export const command: Command = {
  name: 'tour',
  summary: 'walk through the tutorial on loopback, running and checking every twin (start here)',
  usage,
  async run(argv) {
    const unknown = argv.filter((arg) => arg !== '--no-color');
    if (unknown.length) throw new UsageError(`unknown argument '${unknown[0]}'`);
    const color = process.stdout.isTTY === true && !argv.includes('--no-color') && !noColor();
    const tour = new Tour(color);
    const started = Date.now();
    // Ctrl+C or SIGTERM at any moment: stop every process of the tour, remove its directory, exit 130/143.
    let interrupt: (signal: 'SIGINT' | 'SIGTERM') => void = () => {};
    const interrupted = new Promise<'SIGINT' | 'SIGTERM'>((resolve) => (interrupt = resolve));
    const onInt = () => interrupt('SIGINT');
    const onTerm = () => interrupt('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const stop = async (signal: 'SIGINT' | 'SIGTERM'): Promise<never> => {
      const stopped = await tour.cleanUp();
      process.stderr.write(`sockfd tour: ${signal}: stopped ${stopped} running process${stopped === 1 ? '' : 'es'} of the tour and removed ${tour.dir}\n`);
      // Steps still waiting on timers of their own must not keep the process alive: leave now.
      process.exit(128 + osConstants.signals[signal]);
    };
    try {
      for (const [index, step] of steps.entries()) {
        tour.say(tour.paint('bold', tour.paint('cyan', `[${index + 1}/${steps.length}] ${step.section} — ${step.title}`)));
        for (const line of step.why.split('\n')) tour.say(`  ${line}`);
        const outcome = await Promise.race([
          step.run(tour).then(
            () => null,
            (error: unknown) => error,
          ),
          interrupted.then((signal) => ({ signal })),
        ]);
        if (outcome !== null && typeof outcome === 'object' && 'signal' in outcome) await stop(outcome.signal as 'SIGINT' | 'SIGTERM');
        if (outcome !== null) tour.check(false, `the step failed: ${(outcome as Error).message.split('\n')[0]}`);
        tour.say();
      }
      // The two machines (sockfd lab); skipped, saying why, where no lab can be made. On a signal
      // the chapter's scenario gets it too and removes the lab it made.
      const labOutcome = await Promise.race([labChapter(tour).then(() => null), interrupted.then((signal) => ({ signal }))]);
      if (labOutcome !== null) await stop(labOutcome.signal);
    } finally {
      await tour.cleanUp();
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    const failed = tour.checks.filter((check) => !check.ok);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (failed.length === 0) {
      tour.say(tour.paint('green', `All ${tour.checks.length} checks of ${steps.length} steps held, as the tutorial says (${seconds} s).`));
      return 0;
    }
    tour.say(tour.paint('red', `${failed.length} of ${tour.checks.length} checks failed (${seconds} s):`));
    for (const check of failed) tour.say(tour.paint('red', `  ✗ ${check.text}`));
    return 1;
  },
};
