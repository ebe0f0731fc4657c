// The test kit's fd census (test/helpers/loopback.ts), against /proc/self/fd
// and files this test opens: a stable census leaves out an fd that a moment
// opens and closes, keeps every fd left open, and a failing comparison names
// each fd that differs with what /proc said it was.
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asyncSetFd } from '../lib/async-waits.js';
import * as posix from '../lib/posix.js';
import { censusFds, expectSameFds, openFds, readFds, stableCensus } from './helpers/loopback.js';

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

  it('leaves out an fd closed between two readings, and keeps one left open', async () => {
    const transient = openSync('/dev/null', 'r');
    setTimeout(() => closeSync(transient), 1); // before the census's second reading (25 ms)
    const start = await stableCensus();
    expect(start.stable).toBe(true);
    expect(start.readings).toBeGreaterThanOrEqual(3); // the first reading saw it, the next two agreed without it
    expect(start.fds.has(transient)).toBe(false);

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
});
