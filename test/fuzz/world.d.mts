// Types of world.mjs for the TypeScript tests that import it (test/fuzz.test.ts);
// only what they use. The fuzzer itself is plain JavaScript (node runs it, under ASan too).

/** The fuzzer's seeded random source (sfc32). */
export interface Random {
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(list: readonly T[]): T;
  /** An integer in [min, max]. */
  range(min: number, max: number): number;
}

/** sfc32 seeded from one integer: the same seed gives the same sequence. */
export function makeRandom(seed: number): Random;
