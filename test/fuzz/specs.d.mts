// Types of specs.mjs for the TypeScript tests that import it (test/fuzz.test.ts).
import type { Random } from './world.mjs';

/** One spec per export of the addon, by name; building them only needs the random source and the constants (the addon's `constants`). */
export function makeSpecs(w: { random: Random; c: unknown }): Record<string, unknown>;
