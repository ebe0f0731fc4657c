// The test kit's fd census (test/helpers/loopback.ts), against /proc/self/fd
// and files this test opens: a stable census leaves out an fd that a moment
// opens and closes, keeps every fd left open, and a failing comparison names
// each fd that differs with what /proc said it was.
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asyncSetFd } from '../lib/async-waits.js';
import * as posix from '../lib/posix.js';
import { censusFds, expectCensusNow, expectSameFds, openFds, readFds, stableCensus } from './helpers/loopback.js';

describe('the fd census', () => {
  it('names every fd as /proc/self/fd does, without the listing its own directory fd', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const reading = readFds();
      expect(reading.get(fd)).toBe('/dev/null');
      for (const [n, what] of reading) if (n !== fd) expect(what).toBe(readlinkSync(`/proc/self/fd/${n}`));
      // openFds() lists the directory fd it read /proc/self/fd through (gone once it returns); the census
      // does not (nor the async calls' epoll set, which this file never makes).
      expect(asyncSetFd()).toBe(-1);
      expect(openFds().length).toBe(censusFds().length + 1);
    } finally {
      closeSync(fd);
    }
  });

  it('leaves out an fd that a moment opens and closes, and keeps one left open', async () => {
    // One closed before the census's second reading (25 ms), one after its third
    // (60 ms: as Node 22/24's thread reading NODE_EXTRA_CA_CERTS held its fd at load).
    const brief = openSync('/dev/null', 'r');
    const longer = openSync('/dev/null', 'r');
    const opened = performance.now();
    setTimeout(() => closeSync(brief), 1);
    setTimeout(() => closeSync(longer), 60);
    const start = await stableCensus();
    const took = performance.now() - opened;
    expect(start.stable).toBe(true);
    // The first reading saw both; a later one saw them gone (so at least 3 readings), and the census
    // returned only after 100 ms of agreement after that: at least 60 + 100 ms from here. The readings'
    // count alone depends on the 25 ms gaps, which a loaded machine stretches (5 readings once at load 9).
    expect(start.readings).toBeGreaterThanOrEqual(3);
    expect(took).toBeGreaterThanOrEqual(159); // timers fire no earlier than asked (1 ms of rounding)
    expect(start.fds.has(brief)).toBe(false);
    expect(start.fds.has(longer)).toBe(false);

    const leaked = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    try {
      const end = await stableCensus();
      expect(end.fds.get(leaked)).toMatch(/^socket:\[\d+\]$/);
      let message = '';
      try {
        expectSameFds(start, end);
      } catch (error) {
        message = String((error as Error).message);
      }
      const inode = readlinkSync(`/proc/self/fd/${leaked}`);
      expect(message).toContain(`fd ${leaked} (${inode}) open at end, not at start`);
      expect(() => expectSameFds(end, start)).toThrow(`fd ${leaked} (${inode}) open at start, closed at end`);
    } finally {
      posix.close(leaked);
    }
    expectSameFds(start, await stableCensus());
  });

  it('mid-test: exactly the fds a test was given are new, no more and no fewer', async () => {
    const start = await stableCensus();
    const [a, b] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    try {
      await expectCensusNow(start, [a, b]);
      // One of them not named: it is a leak.
      await expect(expectCensusNow(start, [a])).rejects.toThrow(`fd ${b} (${readlinkSync(`/proc/self/fd/${b}`)}) open at end, not at start`);
      posix.close(b);
      // One named but gone: the census says so too.
      await expect(expectCensusNow(start, [a, b])).rejects.toThrow(/expected \[.*\] to deeply equal/s);
    } finally {
      posix.close(a);
    }
    await expectCensusNow(start);
  });
});
