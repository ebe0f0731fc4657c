import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The packed-package tests build prebuilds and install tarballs (minutes):
    // `npm run test:package` runs them, and CI (.ci/run).
    exclude: ['test/pack/**', '**/node_modules/**'],
    // Child processes, not threads: fork() and signal tests need a process of their own.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
