// `npm test` type-checks the tests (test/tsconfig.json: test/**/*.ts, the
// fixtures' .d.mts, the vitest configs) before vitest runs them, because vitest
// only strips types: a test calling an API with the wrong types would run, and
// pass or fail for the wrong reason. `npm run typecheck` runs the check alone.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join('test', 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  process.stderr.write(
    '\nnpm test: the tests do not type-check (tsc -p test/tsconfig.json, errors above).\n' +
      'Tests are type-checked like the library (strict); vitest alone would run them unchecked.\n' +
      'Fix the types in the test (a plain .mjs imported by a test needs a .d.mts next to it, see test/fuzz/),\n' +
      'then `npm run typecheck` repeats just this check.\n',
  );
  process.exit(1);
}
