// `sockfd fds` and `sockfd netstat` run as a user runs them (node bin/sockfd.js):
// fds against a C fixture that says which fds it holds, netstat against `ss`
// for sockets this test creates (LISTEN, ESTABLISHED, TIME_WAIT).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as posix from '../lib/posix.js';
import { lines, runC, stopAll } from './helpers/c-peers.js';
import { until } from '../tools/until.js';
import { closeAll, expectNoLeaks, listener } from './helpers/loopback.js';

const execFileAsync = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function sockfd(...args: string[]): Promise<CliResult> {
  try {
    // A busy machine (benchmarks leave tens of thousands of TIME_WAIT) makes big tables.
    const { stdout, stderr } = await execFileAsync(process.execPath, ['bin/sockfd.js', ...args], {
      encoding: 'utf8',
      timeout: 50_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** `sockfd args...` that must succeed; its stdout. */
async function sockfdOk(...args: string[]): Promise<string> {
  const result = await sockfd(...args);
  expect(result, `sockfd ${args.join(' ')}`).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

let dir: string;
expectNoLeaks();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockfd-fds-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(stopAll);

/** The rows of `sockfd fds` text output, cut at the header's column positions. */
function parseFdsTable(text: string): { header: string; rows: Record<string, string>[] } {
  const [header = '', columnsLine = '', ...rowLines] = lines(text);
  const names = ['TARGET', 'PROTO', 'LOCAL', 'FOREIGN', 'STATE'];
  const starts = names.map((name) => columnsLine.indexOf(name));
  const rows = rowLines.map((line) => {
    const row: Record<string, string> = { FD: line.slice(0, starts[0]).trim() };
    names.forEach((name, i) => (row[name] = line.slice(starts[i], starts[i + 1] ?? line.length).trim()));
    return row;
  });
  return { header, rows };
}

describe('sockfd fds', () => {
  it('shows the fds a process holds: its file and each socket with addresses and state', async () => {
    const file = join(dir, 'held file.txt');
    const fixture = await runC('fd-fixture', [file], { keepStdin: true });
    try {
      await until(() => (fixture.stdout.includes('ready\n') ? true : undefined), 'the fixture to be ready');
      // "kind fd detail" lines, as the fixture itself reports its fds.
      const said = new Map(lines(fixture.stdout).map((line) => {
        const [kind = '', ...rest] = line.split(' ');
        return [kind, rest];
      }));
      const fdOf = (kind: string) => said.get(kind)![0]!;
      const listenPort = said.get('listen')![1]!;
      const clientPort = said.get('client')![1]!;
      const udpPort = said.get('udp')![1]!;
      const [unixA = '', unixB = ''] = said.get('unix')!;

      const { header, rows } = parseFdsTable(await sockfdOk('fds', String(fixture.pid)));
      const byFd = new Map(rows.map((row) => [row.FD!, row]));

      // Every fd the kernel lists for the pid, with the link target the kernel gives.
      const kernelFds = readdirSync(`/proc/${fixture.pid}/fd`).sort((a, b) => Number(a) - Number(b));
      expect(rows.map((row) => row.FD)).toEqual(kernelFds);
      for (const fd of kernelFds) expect(byFd.get(fd)?.TARGET).toBe(readlinkSync(`/proc/${fixture.pid}/fd/${fd}`));
      expect(header).toBe(`pid ${fixture.pid} (fd-fixture): ${kernelFds.length} fds`);

      expect(byFd.get(fdOf('file'))).toMatchObject({ TARGET: file, PROTO: '', STATE: '' });
      expect(byFd.get(fdOf('listen'))).toMatchObject({ PROTO: 'tcp', LOCAL: `127.0.0.1:${listenPort}`, FOREIGN: '0.0.0.0:*', STATE: 'LISTEN' });
      expect(byFd.get(fdOf('client'))).toMatchObject({
        PROTO: 'tcp',
        LOCAL: `127.0.0.1:${clientPort}`,
        FOREIGN: `127.0.0.1:${listenPort}`,
        STATE: 'ESTABLISHED',
      });
      expect(byFd.get(fdOf('accepted'))).toMatchObject({
        PROTO: 'tcp',
        LOCAL: `127.0.0.1:${listenPort}`,
        FOREIGN: `127.0.0.1:${clientPort}`,
        STATE: 'ESTABLISHED',
      });
      expect(byFd.get(fdOf('udp'))).toMatchObject({ PROTO: 'udp', LOCAL: `127.0.0.1:${udpPort}`, FOREIGN: '0.0.0.0:*', STATE: '' });
      for (const fd of [unixA, unixB]) expect(byFd.get(fd)).toMatchObject({ PROTO: 'unix/STREAM', LOCAL: '(unnamed)', STATE: 'CONNECTED' });
      expect(byFd.get(fdOf('file'))?.TARGET).toMatch(/^\//);

      // --json carries the same fds and sockets.
      const json = JSON.parse(await sockfdOk('fds', '--json', String(fixture.pid))) as { fd: number; socket?: { state: string } }[];
      expect(json.map((entry) => String(entry.fd))).toEqual(kernelFds);
      expect(json.find((entry) => String(entry.fd) === fdOf('listen'))?.socket?.state).toBe('LISTEN');
    } finally {
      fixture.child.stdin!.end();
      await fixture.finished;
    }
  });

  it('without a pid shows its own process', async () => {
    const child = spawn(process.execPath, ['bin/sockfd.js', 'fds'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(lines(stdout)[0]).toMatch(new RegExp(`^pid ${child.pid} \\(node\\): \\d+ fds$`));
    // Its stdout is the socket Node's spawn gave it: fd 1 is a Unix socket.
    const { rows } = parseFdsTable(stdout);
    expect(rows.find((row) => row.FD === '1')).toMatchObject({ PROTO: 'unix/STREAM', STATE: 'CONNECTED' });
  });

  it('usage errors exit 2, a missing process exits 1, --help exits 0', async () => {
    const missing = await sockfd('fds', String(2 ** 22 + 1));
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: `sockfd fds: no process with pid ${2 ** 22 + 1}\n` });
    for (const args of [['abc'], ['0'], ['1', '2'], ['--bogus']]) {
      const result = await sockfd('fds', ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^sockfd fds: .*\n\nusage: sockfd fds/s);
    }
    const help = await sockfd('fds', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: sockfd fds \[pid\]/);
  });
});

// ss spells states its own way; netstat's names are what sockfd prints.
const ssToNetstat: Readonly<Record<string, string>> = {
  ESTAB: 'ESTABLISHED',
  'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
};

interface Row {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  foreign: string;
}

const portOfAddress = (address: string) => address.slice(address.lastIndexOf(':') + 1);

/** `ss -tan` rows; addresses written as netstat writes them (no brackets around IPv6). */
function ssRows(ports: Set<string>): Row[] {
  const filter = [...ports].map((port) => `sport = :${port} or dport = :${port}`).join(' or ');
  const text = execFileSync('ss', ['-tan', `( ${filter} )`], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return lines(text)
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .map(([state = '', recvQ = '', sendQ = '', local = '', foreign = '']) => ({
      state: ssToNetstat[state] ?? state,
      recvQ: Number(recvQ),
      sendQ: Number(sendQ),
      local: local.replace(/[[\]]/g, ''),
      foreign: foreign.replace(/[[\]]/g, ''),
    }))
    .filter((row) => ports.has(portOfAddress(row.local)) || ports.has(portOfAddress(row.foreign)));
}

/** The Internet rows of `sockfd netstat` text output. */
function netstatRows(text: string, ports: Set<string>): (Row & { proto: string; line: string })[] {
  return lines(text)
    .filter((line) => /^(tcp|udp)6?\s/.test(line))
    .map((line) => {
      const [proto = '', recvQ = '', sendQ = '', local = '', foreign = '', state = ''] = line.trim().split(/\s+/);
      return { proto, recvQ: Number(recvQ), sendQ: Number(sendQ), local, foreign, state, line };
    })
    .filter((row) => ports.has(portOfAddress(row.local)) || ports.has(portOfAddress(row.foreign)));
}

const byText = (a: Row, b: Row) => JSON.stringify(a).localeCompare(JSON.stringify(b));

describe('sockfd netstat', () => {
  it('agrees with ss -tan on LISTEN (with pending connections), ESTABLISHED (with unread bytes) and TIME_WAIT', async () => {
    const fds: number[] = [];
    const connectTo = (port: number, family = posix.AF_INET, address = '127.0.0.1') => {
      const fd = posix.socket(family, posix.SOCK_STREAM);
      fds.push(fd);
      posix.connect(fd, family === posix.AF_INET ? { family: 'AF_INET', address, port } : { family: 'AF_INET6', address, port });
      return fd;
    };
    try {
      // A listener with two connections waiting for accept().
      const pending = listener(5);
      fds.push(pending.fd);
      connectTo(pending.port);
      connectTo(pending.port);
      // An accepted connection with 100 unread bytes on the server side.
      const serving = listener(5);
      fds.push(serving.fd);
      const client = connectTo(serving.port);
      const { fd: accepted } = posix.accept(serving.fd);
      fds.push(accepted);
      posix.send(client, Buffer.alloc(100, 7));
      // A connection the server closes first: TIME_WAIT on the server's side.
      const closing = connectTo(serving.port);
      const { fd: closedFirst } = posix.accept(serving.fd);
      posix.close(closedFirst);
      expect(posix.recv(closing, Buffer.alloc(8))).toBe(0);
      posix.close(fds.splice(fds.indexOf(closing), 1)[0]!);
      // IPv6 too.
      const v6 = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
      fds.push(v6);
      posix.bind(v6, { family: 'AF_INET6', address: '::1', port: 0 });
      posix.listen(v6, 7);
      const v6Address = posix.getsockname(v6);
      const v6Port = v6Address.family === 'AF_INET6' ? v6Address.port : 0;
      connectTo(v6Port, posix.AF_INET6, '::1');

      const ports = new Set([pending.port, serving.port, v6Port].map(String));
      await until(() => (ssRows(ports).some((row) => row.state === 'TIME_WAIT') ? true : undefined), 'TIME_WAIT');

      const stdout = await sockfdOk('netstat', '--tcp');
      const ours = netstatRows(stdout, ports);
      const theirs = ssRows(ports);

      // netstat's Send-Q of a LISTEN socket is 0; ss puts the backlog limit there.
      const listenSendQ = new Map(theirs.filter((row) => row.state === 'LISTEN').map((row) => [row.local, row.sendQ]));
      expect([...listenSendQ.values()].sort()).toEqual([5, 5, 7]);
      expect(ours.filter((row) => row.state === 'LISTEN').map((row) => row.sendQ)).toEqual([0, 0, 0]);
      const comparable = (rows: Row[]) =>
        rows.map(({ state, recvQ, sendQ, local, foreign }) => ({ state, recvQ, sendQ: state === 'LISTEN' ? 0 : sendQ, local, foreign })).sort(byText);
      expect(comparable(ours)).toEqual(comparable(theirs));

      // What the test made, line by line as netstat prints it.
      const line = (proto: string, recvQ: number, local: string, foreign: string, state: string) =>
        `${proto.padEnd(4)}  ${String(recvQ).padStart(6)} ${'0'.padStart(6)} ${local.padEnd(23)} ${foreign.padEnd(23)} ${state}`;
      const texts = ours.map((row) => row.line);
      expect(texts).toContain(line('tcp', 2, `127.0.0.1:${pending.port}`, '0.0.0.0:*', 'LISTEN'));
      expect(texts).toContain(line('tcp', 100, `127.0.0.1:${serving.port}`, `127.0.0.1:${portOf(client)}`, 'ESTABLISHED'));
      expect(texts).toContain(line('tcp6', 1, `::1:${v6Port}`, ':::*', 'LISTEN'));
      expect(ours.filter((row) => row.state === 'TIME_WAIT' && row.local === `127.0.0.1:${serving.port}`)).toHaveLength(1);
      expect(lines(stdout).slice(0, 2)).toEqual([
        'Active Internet connections (servers and established)',
        'Proto Recv-Q Send-Q Local Address           Foreign Address         State',
      ]);
    } finally {
      closeAll(...fds);
    }
  });

  it('filters by port and state (netstat and ss spellings), and shows UDP and Unix sockets', async () => {
    const tcp = listener(5);
    const udp = posix.socket(posix.AF_INET, posix.SOCK_DGRAM);
    const unixPath = join(dir, 'netstat.sock');
    const unix = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      posix.bind(udp, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
      const udpAddress = posix.getsockname(udp);
      const udpPort = udpAddress.family === 'AF_INET' ? udpAddress.port : 0;
      posix.bind(unix, { family: 'AF_UNIX', path: unixPath });
      posix.listen(unix, 3);

      const byPort = await sockfdOk('netstat', '--port', String(tcp.port));
      const portLines = lines(byPort).slice(2);
      expect(portLines).toEqual([`tcp        0      0 ${`127.0.0.1:${tcp.port}`.padEnd(23)} ${'0.0.0.0:*'.padEnd(23)} LISTEN`]);
      expect(byPort).not.toContain('UNIX');

      for (const spelling of ['LISTEN', 'listen', 'listening']) {
        const rows = lines(await sockfdOk('netstat', '-t', '--state', spelling)).slice(2);
        expect(rows.every((row) => row.trimEnd().endsWith(' LISTEN')), spelling).toBe(true);
        expect(rows.some((row) => row.includes(`127.0.0.1:${tcp.port} `)), spelling).toBe(true);
      }
      // netstat's habits: -n and -a change nothing, -l is --state LISTEN.
      expect(await sockfdOk('netstat', '-nlt', '--port', String(tcp.port))).toBe(await sockfdOk('netstat', '--tcp', '--state', 'LISTEN', '--port', String(tcp.port)));
      expect(await sockfdOk('netstat', '-na', '--port', String(tcp.port))).toBe(byPort);
      const estab = await sockfdOk('netstat', '--tcp', '--state', 'estab', '--port', String(tcp.port));
      expect(lines(estab).slice(2)).toEqual([]);

      const udpResult = await sockfdOk('netstat', '--udp', '--port', String(udpPort));
      expect(lines(udpResult).slice(2)).toEqual([`udp        0      0 ${`127.0.0.1:${udpPort}`.padEnd(23)} 0.0.0.0:*`]);
      const ssUdp = execFileSync('ss', ['-uan', `( sport = :${udpPort} )`], { encoding: 'utf8' });
      expect(lines(ssUdp).slice(1).map((row) => row.trim().split(/\s+/).slice(0, 4))).toEqual([['UNCONN', '0', '0', `127.0.0.1:${udpPort}`]]);

      const unixResult = await sockfdOk('netstat', '--unix');
      const inode = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/self/fd/${unix}`))![1]!;
      expect(lines(unixResult).slice(0, 2)).toEqual([
        'Active UNIX domain sockets (servers and established)',
        'Proto RefCnt Flags       Type       State         I-Node   Path',
      ]);
      const ours = lines(unixResult).find((row) => row.endsWith(` ${unixPath}`));
      expect(ours).toMatch(new RegExp(`^unix  \\d+ +\\[ ACC \\] +STREAM +LISTENING +${inode} +${unixPath.replace(/[.]/g, '\\.')}$`));
      expect(unixResult).not.toContain('Active Internet');
    } finally {
      closeAll(tcp.fd, udp, unix);
    }
  });

  it('--programs names the process of each socket, as ss -p does', async () => {
    const fixture = await runC('fd-fixture', [join(dir, 'programs.txt')], { keepStdin: true });
    try {
      await until(() => (fixture.stdout.includes('ready\n') ? true : undefined), 'the fixture to be ready');
      const said = new Map(lines(fixture.stdout).map((line) => [line.split(' ')[0], line.split(' ').slice(1)] as const));
      const port = said.get('listen')![1]!;
      const result = await sockfdOk('netstat', '--tcp', '--programs', '--port', port);
      expect(lines(result)[1]).toBe('Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name');
      const rows = lines(result).slice(2);
      // listener, client end, accepted end: all three held by the fixture.
      expect(rows).toHaveLength(3);
      for (const row of rows) expect(row.endsWith(` ${fixture.pid}/fd-fixture`), row).toBe(true);
      // ss -p says the same: users:(("fd-fixture",pid=N,fd=M)) on each line.
      const ss = execFileSync('ss', ['-tanp', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
      const ssPids = lines(ss).slice(1).map((line) => /pid=(\d+)/.exec(line)?.[1]);
      expect(ssPids).toEqual([String(fixture.pid), String(fixture.pid), String(fixture.pid)]);
      const json = JSON.parse(await sockfdOk('netstat', '--json', '--programs', '--port', port)) as { owners: { pid: number; name: string; fd: number }[] }[];
      const ownerFds = json.flatMap((entry) => entry.owners.map((owner) => [owner.pid, owner.name, String(owner.fd)]));
      expect(ownerFds.sort()).toEqual(
        ['listen', 'client', 'accepted'].map((kind) => [fixture.pid, 'fd-fixture', said.get(kind)![0]!]).sort(),
      );
    } finally {
      fixture.child.stdin!.end();
      await fixture.finished;
    }
  });

  it('--json gives the entries; usage errors exit 2', async () => {
    const tcp = listener(5);
    try {
      const json = JSON.parse(await sockfdOk('netstat', '--json', '--port', String(tcp.port))) as unknown[];
      expect(json).toEqual([expect.objectContaining({ protocol: 'tcp', localPort: tcp.port, state: 'LISTEN', recvQ: 0, sendQ: 0 })]);
    } finally {
      closeAll(tcp.fd);
    }
    for (const args of [['--state', 'sleeping'], ['--port', 'http'], ['--port', '70000'], ['extra'], ['--nope'], ['-l', '--state', 'estab']]) {
      const result = await sockfd('netstat', ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^sockfd netstat: .*usage: sockfd netstat/s);
    }
  });
});

function portOf(fd: number): number {
  const address = posix.getsockname(fd);
  return address.family === 'AF_INET' || address.family === 'AF_INET6' ? address.port : 0;
}
