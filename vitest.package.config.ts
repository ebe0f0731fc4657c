import { defineConfig } from 'vitest/config';

// `npm run test:package`: packs the package (prepack builds and checks the
// prebuilds), installs the tarball with no compiler on PATH and runs it on
// each tested Node. Minutes, so not part of `npm test`; CI runs it (.ci/run).
export default defineConfig({
  test: {
    include: ['test/pack/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
