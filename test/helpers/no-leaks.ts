// For async suites: every fd the file opened is closed again by its end, and
// no poll watcher is left behind (compared with /proc/self/fd before it ran).
import { afterAll, beforeAll, expect } from 'vitest';
import { watcherStats } from '../../lib/async.js';
import { openFds } from './loopback.js';

/** Registers the before/after census of the calling test file; returns the fds seen before. */
export function expectNoFdOrWatcherLeft(): { readonly before: number[] } {
  const census = { before: [] as number[] };
  beforeAll(() => {
    census.before = openFds();
  });
  afterAll(() => {
    expect(openFds()).toEqual(census.before);
    expect(watcherStats()).toEqual({ watchers: 0, active: 0, waiters: 0 });
  });
  return census;
}
