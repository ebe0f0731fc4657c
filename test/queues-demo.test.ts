// `sockfd demo queues`: can send() block? The demo fills a connection whose
// receiver never reads; its numbers must add up (every byte sent waits in the
// receiver's queue or unacknowledged in the sender's) and a blocking send()
// must wait until SO_SNDTIMEO ends it with EAGAIN.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const cli = join(import.meta.dirname, '..', 'bin', 'sockfd.js');
const run = promisify(execFile);

interface Row {
  sent: number;
  outq: number;
  unsent: number;
  inq: number;
}

describe('sockfd demo queues', () => {
  it('fills the buffers until send() would block; SIOCINQ + SIOCOUTQ account for every byte', async () => {
    const { stdout } = await run(process.execPath, [cli, 'demo', 'queues', '--sndbuf', '32768', '--rcvbuf', '32768', '--json'], { timeout: 60_000 });
    const report = JSON.parse(stdout) as {
      sndbuf: number;
      rcvbuf: number;
      rows: Row[];
      blockedAfter: number;
      settled: Row;
      blockingError: string;
      readByPeer: number;
      resumed: number;
    };
    expect(report.sndbuf).toBe(2 * 32768); // Linux doubles SO_SNDBUF (bookkeeping), as getsockopt shows
    expect(report.rcvbuf).toBe(2 * 32768);
    expect(report.blockedAfter).toBeGreaterThan(0);
    expect(report.settled.sent).toBe(report.blockedAfter);
    expect(report.settled.inq + report.settled.outq).toBe(report.settled.sent);
    expect(report.settled.inq).toBeGreaterThan(0);
    expect(report.settled.outq).toBeGreaterThan(0);
    for (const row of report.rows) {
      expect(row.unsent).toBeLessThanOrEqual(row.outq);
      // Mid-flight a byte may count twice (arrived, its ACK not yet processed): each queue alone is bounded.
      expect(row.inq).toBeLessThanOrEqual(row.sent);
      expect(row.outq).toBeLessThanOrEqual(row.sent);
    }
    expect(report.rows.map((r) => r.sent)).toEqual([...report.rows.map((r) => r.sent)].sort((a, b) => a - b));
    expect(report.blockingError).toBe('send: Resource temporarily unavailable');
    expect(report.readByPeer).toBeGreaterThan(0);
    expect(report.resumed).toBeGreaterThan(0);
  });

  it('prints the tutorial’s question and the answer as a table', async () => {
    const { stdout } = await run(process.execPath, [cli, 'demo', 'queues', '--sndbuf', '32768', '--rcvbuf', '32768'], { timeout: 60_000 });
    expect(stdout).toContain('send()函数有可能会阻塞吗？');
    expect(stdout).toMatch(/sent by send\(\)\s+SIOCOUTQ\s+SIOCOUTQNSD\s+SIOCINQ \(peer\)/);
    expect(stdout).toMatch(/A blocking send\(\) waited \d+ ms until SO_SNDTIMEO ended it: send: Resource temporarily unavailable\./);
  });

  it('wrong arguments are a usage error (exit 2)', async () => {
    await expect(run(process.execPath, [cli, 'demo', 'queues', '--chunk', 'x'])).rejects.toMatchObject({ code: 2 });
  });
});
