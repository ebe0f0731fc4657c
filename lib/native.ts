// Loads the addon once. node-gyp-build picks a prebuilt binary when one is
// present and build/Release otherwise; SOCKFD_ADDON points at another build
// (the Debug or ASan build from CMakeLists.txt) for development.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`sockfd: cannot find the package root above ${start}`);
  }
}

/** The directory that holds package.json and binding.gyp. */
export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

const loadBuild = require('node-gyp-build') as (dir: string) => unknown;

/**
 * The raw addon. Each lib module views it through an interface of the native
 * functions it uses (`binding as unknown as SomeBinding`), so the typing of a
 * concern lives next to its wrappers.
 */
export const binding: Record<string, unknown> = (
  process.env.SOCKFD_ADDON ? require(process.env.SOCKFD_ADDON) : loadBuild(packageRoot)
) as Record<string, unknown>;

/** Constants compiled in from the system headers. */
export const nativeConstants = binding.constants as Readonly<Record<string, number>>;
