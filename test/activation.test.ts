// listenFds(): socket activation with a fake systemd environment - a child
// started with LISTEN_FDS=2, LISTEN_PID=its own pid and two listening sockets
// as fds 3 and 4 serves on them; the variables are gone from its environment.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as posix from '../lib/posix.js';
import { SD_LISTEN_FDS_START } from '../lib/activation.js';
import { closeAll, expectNoLeaks, listener } from './helpers/loopback.js';
import { Running } from '../tools/processes.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/activation/listen-fds.mjs');

// The suite leaks nothing: every fd it opened is closed again.
expectNoLeaks();

interface Report {
  pid: number;
  sockets: Array<{ fd: number; name: string; address: posix.SockAddr; cloexec: boolean }>;
  envAfter: string[];
  childEnv: string;
  again: number;
}

describe('listenFds', () => {
  it('takes the two sockets passed as fds 3 and 4, with their names, and unsets LISTEN_*', async () => {
    const web = listener();
    const admin = listener();
    // LISTEN_PID must be the service's own pid, known only after fork: the shell sets it and execs node.
    const child = new Running('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, fixture], {
      env: { ...process.env, LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' },
      passFds: [web.fd, admin.fd],
    });
    try {
      const report = await child.firstJson<Report>();
      expect(report.pid).toBe(child.pid);
      expect(report.sockets.map(({ fd, name }) => ({ fd, name }))).toEqual([
        { fd: SD_LISTEN_FDS_START, name: 'web' },
        { fd: SD_LISTEN_FDS_START + 1, name: 'admin' },
      ]);
      expect(report.sockets.map((s) => s.address)).toEqual([posix.getsockname(web.fd), posix.getsockname(admin.fd)]);
      expect(report.sockets.every((s) => s.cloexec)).toBe(true);
      expect(report.envAfter).toEqual([]);
      expect(report.childEnv).toBe('');
      expect(report.again).toBe(0); // a second call finds nothing, as after sd_listen_fds(1)
      for (const { port, fd } of [web, admin]) {
        const client = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
        try {
          posix.setsockopt(client, posix.SOL_SOCKET, posix.SO_RCVTIMEO, 10_000);
          posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
          const reply = Buffer.alloc(64);
          const n = posix.recv(client, reply);
          expect(reply.toString('utf8', 0, n)).toBe(`served by activated fd ${fd === web.fd ? 3 : 4}`);
        } finally {
          posix.close(client);
        }
      }
      expect((await child.finished).code).toBe(0);
    } finally {
      void child.stop('SIGKILL');
      closeAll(web.fd, admin.fd);
    }
  });

  it('ignores variables meant for another pid, but still removes them', () => {
    const run = spawnSync(process.execPath, [fixture], {
      env: { ...process.env, LISTEN_FDS: '2', LISTEN_PID: '1', LISTEN_FDNAMES: 'a:b' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.split('\n')[0]!) as Report;
    expect(report.sockets).toEqual([]);
    expect(report.envAfter).toEqual([]);
    expect(report.childEnv).toBe('');
  });

  it('LISTEN_FDS naming fds that are not open is EBADF; malformed values are RangeErrors', () => {
    const script = (env: Record<string, string>) =>
      spawnSync('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, '--input-type=module', '-e',
        `import { listenFds } from ${JSON.stringify(join(process.cwd(), 'dist/lib/index.js'))};
         try { listenFds(); console.log('ok'); } catch (e) { console.log(e.code ?? e.name); }`], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20_000,
      }).stdout.trim();
    expect(script({ LISTEN_FDS: '40' })).toBe('EBADF'); // fds 3..42 are not all open in that child
    expect(script({ LISTEN_FDS: 'two' })).toBe('RangeError');
    expect(script({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b' })).toBe('RangeError');
  });
});
