// `sockfd lab`: two hosts and a wire in network namespaces of this test's own.
// References: the C programs' output on loopback, `ss`, `ip`, /proc/self/mountinfo,
// Python's socket module for timing and datagram counts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cProgram } from '../tools/c-programs.js';
import { Running, cliPath } from '../tools/processes.js';
import { listNamespaces } from '../tools/lab/namespaces.js';
import { readCounters } from '../tools/lab/settings.js';
import { eventually, hostSnapshot, isRoot, listeningOn, onHost, onHostSync, sockfdDone, testLab } from './helpers/lab.js';

const { env, names } = testLab('l');
const fast = { ...process.env, SOCKFD_SLEEP_SCALE: '0.01' };
const mine = (): string[] => listNamespaces().filter((name) => name.startsWith(names.prefix));

describe.runIf(isRoot)('sockfd lab (root)', () => {
  let before: ReturnType<typeof hostSnapshot>;
  let wirePid = 0;

  beforeAll(async () => {
    before = hostSnapshot();
    const up = await sockfdDone(env, ['lab', 'up']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/lab up: host 132 \(192\.168\.28\.132/);
    wirePid = readCounters(names)!.pid;
  });

  afterAll(async () => {
    await sockfdDone(env, ['lab', 'down']);
  });

  it('puts 192.168.28.0/24 only inside the lab, with no route out, and leaves the host namespace alone', () => {
    const now = hostSnapshot();
    expect(now.links).toEqual(before.links);
    expect(now.addresses).toEqual(before.addresses);
    expect(now.routes).toEqual(before.routes);
    expect(now.addresses.join('\n')).not.toContain('192.168.28.');
    // New mounts in the host namespace: only the namespaces' own files (and /run/netns itself).
    const added = now.mounts.filter((m) => !before.mounts.includes(m));
    for (const mount of added) expect(mount === '/run/netns' || mount.startsWith(`/run/netns/${names.prefix}`)).toBe(true);
    for (const host of ['132', '133'] as const) {
      const routes = onHostSync(names, host, 'ip', ['route']).trim().split('\n');
      expect(routes).toEqual([`192.168.28.0/24 dev eth0 proto kernel scope link src 192.168.28.${host} `.trim()]);
      expect(onHostSync(names, host, 'ip', ['-o', '-4', 'addr']).trim().split('\n').map((l) => l.split(/\s+/)[3])).toEqual(['127.0.0.1/8', `192.168.28.${host}/24`]);
    }
    expect(onHostSync(names, 'wire', 'ip', ['route']).trim()).toBe('');
    expect(onHostSync(names, 'wire', 'ip', ['-o', '-4', 'addr']).trim().split('\n').map((l) => l.split(/\s+/)[3])).toEqual(['127.0.0.1/8']);
    // Nothing in the lab reaches an address outside it.
    expect(() => onHostSync(names, '133', 'python3', ['-c', "import socket; s=socket.socket(); s.settimeout(2); s.connect(('10.0.0.1', 80))"])).toThrow(/unreachable/i);
  });

  it('up on an existing lab says so and keeps it', async () => {
    const again = await sockfdDone(env, ['lab', 'up', '--delay', '5']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already up; kept it/);
    expect(readCounters(names)!.pid).toBe(wirePid);
    const status = await sockfdDone(env, ['lab', 'status', '--json']);
    const parsed = JSON.parse(status.stdout) as { up: boolean; wire: { running: boolean; settings: { delayMs: number } } };
    expect(parsed.up).toBe(true);
    expect(parsed.wire.running).toBe(true);
    expect(parsed.wire.settings.delayMs).toBe(0);
  });

  it('runs the C demo2 on 132 and demo1 on 133 with the output they have on loopback', async () => {
    const [demo1, demo2] = await Promise.all([cProgram('demo1'), cProgram('demo2')]);
    const pair = async (serverHost: '132' | '133', clientHost: '132' | '133', address: string, port: number) => {
      const server = onHost(names, serverHost, demo2, [String(port)], fast);
      await listeningOn(names, serverHost, port);
      const client = await onHost(names, clientHost, demo1, [address, String(port)], fast).end(20_000);
      return { client: client.stdout, server: (await server.end(20_000)).stdout };
    };
    const loopback = await pair('132', '132', '127.0.0.1', 6101);
    const lab = await pair('132', '133', '192.168.28.132', 6102);
    expect(loopback.client).toContain('接收：ok');
    expect(lab).toEqual(loopback);
  });

  it('runs the twins both ways across the lab, with the C programs\' output', async () => {
    const [demo1, demo2] = await Promise.all([cProgram('demo1'), cProgram('demo2')]);
    const pair = async (serverHost: '132' | '133', clientHost: '132' | '133', port: number, twin: boolean) => {
      const server = twin ? onHost(names, serverHost, 'sockfd', ['demo', 'server', String(port)], fast) : onHost(names, serverHost, demo2, [String(port)], fast);
      await listeningOn(names, serverHost, port);
      const address = `192.168.28.${serverHost}`;
      const client = await (twin ? onHost(names, clientHost, 'sockfd', ['demo', 'client', address, String(port)], fast) : onHost(names, clientHost, demo1, [address, String(port)], fast)).end(20_000);
      return { client: client.stdout, server: (await server.end(20_000)).stdout };
    };
    const c = await pair('133', '132', 6103, false);
    expect(await pair('133', '132', 6104, true)).toEqual(c);
    expect(await pair('132', '133', 6105, true)).toEqual(c);
  });

  it('lab exec 132 -- sockfd netstat shows the ESTABLISHED pair with the lab\'s addresses', async () => {
    const server = onHost(names, '132', 'sockfd', ['demo', 'server', '5005']);
    await listeningOn(names, '132', 5005);
    const client = onHost(names, '133', 'sockfd', ['demo', 'client', '192.168.28.132', '5005', '--sleep-ms', '3000']);
    const line = await eventually('the ESTABLISHED line in sockfd netstat on 132', () => {
      const shown = onHostSync(names, '132', process.execPath, [cliPath, 'netstat', '-t']);
      return shown.split('\n').find((l) => /192\.168\.28\.132:5005\s+192\.168\.28\.133:\d+\s+ESTABLISHED/.test(l));
    });
    expect(line).toMatch(/^tcp/);
    const viaLab = await sockfdDone(env, ['lab', 'exec', '132', '--', 'sockfd', 'netstat', '-t', '--port', '5005']);
    expect(viaLab.code).toBe(0);
    expect(viaLab.stdout).toMatch(/192\.168\.28\.132:5005\s+192\.168\.28\.133:\d+\s+ESTABLISHED/);
    client.stop('SIGTERM');
    server.stop('SIGTERM');
    await Promise.all([client.end(5000), server.end(5000)]);
  });

  it('--delay 20 makes a round trip take at least 40 ms (measured by Python)', async () => {
    const set = await sockfdDone(env, ['lab', 'set', '--delay', '20']);
    expect(set.stdout).toMatch(/delay 20 ms/);
    try {
      const server = onHost(names, '132', 'python3', ['-c', 'import socket\nl=socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("", 6106)); l.listen(5)\ns,_=l.accept()\nwhile True:\n  d=s.recv(100)\n  if not d: break\n  s.sendall(d)']);
      await listeningOn(names, '132', 6106);
      const probe = 'import socket,time\nc=socket.socket(); t=time.monotonic(); c.connect(("192.168.28.132", 6106)); hs=time.monotonic()-t\nrtts=[]\nfor i in range(5):\n  t=time.monotonic(); c.sendall(b"x"); c.recv(10); rtts.append(time.monotonic()-t)\nprint(round(hs*1000,3), round(min(rtts)*1000,3))';
      const out = onHostSync(names, '133', 'python3', ['-c', probe]);
      const [handshake, echo] = out.trim().split(' ').map(Number);
      expect(handshake).toBeGreaterThanOrEqual(40);
      expect(echo).toBeGreaterThanOrEqual(40);
      expect(echo).toBeLessThan(200);
      await server.end(5000);
    } finally {
      await sockfdDone(env, ['lab', 'set', '--delay', '0']);
    }
  });

  it('--loss drops about the share asked, counted on the wire and by the receiver', async () => {
    await sockfdDone(env, ['lab', 'set', '--loss', '20']);
    try {
      const start = readCounters(names)!.directions['133>132'];
      // The receiver's own count of datagrams its full buffer dropped (under load), from /proc/net/snmp.
      const udpReceiveBufferErrors = (): number => {
        const [names_, values] = onHostSync(names, '132', 'cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
        const index = names_!.split(/\s+/).indexOf('RcvbufErrors');
        return Number(values!.split(/\s+/)[index]);
      };
      const errorsBefore = udpReceiveBufferErrors();
      const receiver = onHost(names, '132', 'python3', ['-c', 'import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 6107)); s.settimeout(20.0)\nn=0\nprint("ready", flush=True)\ntry:\n  while True:\n    s.recv(100); n+=1; s.settimeout(1.0)\nexcept socket.timeout: pass\nprint(n)']);
      await receiver.waitFor(/ready/);
      onHostSync(names, '133', 'python3', ['-c', 'import socket,time\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(2000):\n  s.sendto(b"%d" % i, ("192.168.28.132", 6107))\n  if i % 20 == 0: time.sleep(0.002)']);
      const received = Number((await receiver.end(20_000)).stdout.trim().split('\n').at(-1));
      const bufferErrors = udpReceiveBufferErrors() - errorsBefore;
      const end = await eventually('the wire\'s counters', () => {
        const c = readCounters(names)!.directions['133>132'];
        return c.delivered + c.lost - start.delivered - start.lost >= 2000 ? c : undefined;
      });
      const ipv4 = end.ipv4 - start.ipv4;
      const lost = end.lost - start.lost;
      expect(ipv4).toBeGreaterThanOrEqual(2000);
      expect(lost / ipv4).toBeGreaterThan(0.16);
      expect(lost / ipv4).toBeLessThan(0.24);
      expect(received + bufferErrors).toBe(2000 - lost);
    } finally {
      await sockfdDone(env, ['lab', 'set', '--loss', '0']);
    }
  });

  it('down removes every namespace, interface, process and mount, also after a crash', async () => {
    // A crash: the wire killed, a stray process left in a host.
    const stray = onHost(names, '133', 'sleep', ['600']);
    await eventually('the stray sleep', () => stray.running && stray.pid > 0);
    process.kill(wirePid, 'SIGKILL');
    await eventually('the wire to die', () => {
      try {
        process.kill(wirePid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const status = await sockfdDone(env, ['lab', 'status']);
    expect(status.stdout).toMatch(/not running/);
    const down = await sockfdDone(env, ['lab', 'down']);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/lab down: removed/);
    await stray.end(5000);
    expect(stray.running).toBe(false);
    expect(mine()).toEqual([]);
    expect(existsSync(names.stateDir)).toBe(false);
    const after = hostSnapshot();
    expect(after.links).toEqual(before.links);
    expect(after.addresses).toEqual(before.addresses);
    expect(after.mounts.filter((m) => m.includes(names.prefix))).toEqual([]);
    if (!before.mounts.includes('/run/netns') && listNamespaces().length === 0) expect(after.mounts).not.toContain('/run/netns');
    const again = await sockfdDone(env, ['lab', 'down']);
    expect(again.stdout).toMatch(/was not up; nothing left behind/);
  });
});

describe.runIf(isRoot)('sockfd lab for a user who is not root (nobody, via setpriv)', () => {
  it('makes the same lab inside a user namespace, and down removes it and its keeper', async () => {
    const user = testLab('u');
    const asNobody = (args: string[]) =>
      new Running('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'XDG_RUNTIME_DIR', process.execPath, cliPath, ...args], { env: user.env }).end(60_000);
    const keepers = (): string[] => execFileSync('ps', ['-eo', 'pid,user,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('sleep 2147483647'));
    const before = keepers();
    try {
      const up = await asNobody(['lab', 'up', '--delay', '10']);
      expect(up.stderr).toBe('');
      expect(up.stdout).toMatch(/lab up: host 132/);
      // The host's namespace did not get the user's lab: its namespaces live in the keeper's.
      expect(listNamespaces().filter((n) => n.startsWith(user.names.prefix))).toEqual([]);
      const addr = await asNobody(['lab', 'exec', '132', '--', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      expect(addr.stdout).toContain('192.168.28.132/24');
      const probe = await asNobody(['lab', 'exec', '133', '--', 'python3', '-c', 'import socket,time\nc=socket.socket(); t=time.monotonic()\ntry: c.connect(("192.168.28.132", 6108))\nexcept ConnectionRefusedError: print("refused", round((time.monotonic()-t)*1000))']);
      const [word, ms] = probe.stdout.trim().split(' ');
      expect(word).toBe('refused'); // 132 answered through the wire
      expect(Number(ms)).toBeGreaterThanOrEqual(20);
      const status = await asNobody(['lab', 'status']);
      expect(status.stdout).toMatch(/the lab is up/);
      expect(keepers().length).toBe(before.length + 1);
    } finally {
      const down = await asNobody(['lab', 'down']);
      expect(down.stdout).toMatch(/lab down: removed/);
    }
    expect(keepers()).toEqual(before);
    expect(existsSync(`/tmp/sockfd-lab-65534-${user.names.prefix}`)).toBe(false);
  });
});

describe('sockfd lab usage', () => {
  it('rejects bad options with exit 2', async () => {
    const bad = await sockfdDone(env, ['lab', 'up', '--loss', '200']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--loss must be a number 0\.\.100/);
    const rate = await sockfdDone(env, ['lab', 'set', '--rate', 'fast']);
    expect(rate.code).toBe(2);
    const place = await sockfdDone(env, ['lab', 'exec', '134', '--', 'true']);
    expect(place.code).toBe(2);
    expect((await sockfdDone(env, ['lab', '--help'])).stdout).toMatch(/^usage: sockfd lab up/);
  });
});
