// The Socket class's leak report with deferred registration (lib/socket.ts):
// a new Socket is held until the end of the job or until 256 wait, then the
// ones still open are registered. Whatever the timing, every Socket collected
// while open is reported, and none that was closed or detached is - checked
// in a child Node with --expose-gc, with /proc/self/fd as the witness that
// the reported fd really is still open.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const dist = join(import.meta.dirname, '..', 'dist', 'lib', 'index.js');

function runScript(body: string): { reports: string[]; leaked: number[]; open: boolean[] } {
  const script = `
    const { Socket, close } = await import(${JSON.stringify(dist)});
    const { readlinkSync } = await import('node:fs');
    const reports = [];
    process.on('warning', (w) => { if (w.code === 'SOCKFD_LEAK') reports.push(w.message); });
    const leaked = [];
    ${body}
    for (let i = 0; i < 6; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    const open = leaked.map((fd) => readlinkSync('/proc/self/fd/' + fd).startsWith('socket:'));
    console.log(JSON.stringify({ reports, leaked, open }));
    for (const fd of leaked) close(fd);
  `;
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as { reports: string[]; leaked: number[]; open: boolean[] };
}

const report = (fd: number) => `sockfd: Socket with fd ${fd} was garbage-collected without close(); the fd is still open`;

describe('Socket leak report, registration deferred', () => {
  it('reports the ones leaked inside one long synchronous run (past the 256-Socket batch), and no closed or detached one', () => {
    const { reports, leaked, open } = runScript(`
      const detached = [];
      (() => {
        for (let i = 0; i < 700; i++) {
          const socket = Socket.tcp();
          if (i === 3 || i === 300 || i === 699) leaked.push(socket.fd);
          else if (i % 7 === 0) detached.push(socket.detach());
          else socket.close();
        }
      })();
      for (const fd of detached) close(fd);
    `);
    expect(leaked).toHaveLength(3);
    expect(reports.sort()).toEqual(leaked.map(report).sort());
    expect(open).toEqual([true, true, true]);
  });

  it('reports a Socket leaked after it lived across jobs, and none closed after registration', () => {
    const { reports, leaked } = runScript(`
      const kept = [Socket.tcp(), Socket.tcp()];
      await new Promise((r) => setImmediate(r)); // both registered by now
      kept[0].close();
      leaked.push(kept[1].fd);
      kept.length = 0;
    `);
    expect(reports).toEqual(leaked.map(report));
  });
});
