import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The packed-package tests build prebuilds and install tarballs (minutes):
    // `npm run test:package` runs them, and CI (.ci/run).
    exclude: ['test/pack/**', '**/node_modules/**'],
    // Child processes, not threads: fork() and signal tests need a process of their own.
    pool: 'forks',
    // In CI (.ci/run, CI=true) one test file per CPU: vitest's own default
    // leaves a CPU to itself (1 file at a time on a 2-CPU machine), while most
    // files spend their time waiting for children, sockets and timers. Elsewhere
    // vitest's default, as a developer's machine runs other things too.
    ...(process.env.CI ? { maxWorkers: '100%' } : {}),
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
