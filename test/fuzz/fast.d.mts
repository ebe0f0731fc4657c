// Types of fast.mjs for the TypeScript tests that import it (test/fuzz.test.ts); only what they use.
import type { Random } from './world.mjs';

/** The raw fast functions' fuzz specs, by name (one per function of sockfd_node's fastCalls but `counts`). */
export function makeRawSpecs(w: { random: Random; c: unknown }, FALLBACK: number): Record<string, unknown>;

/** The sets of fast functions sockfd_node exports (fastCalls, fastSocketCalls...), by export name. */
export function fastSets(addon: unknown): [string, { available: boolean } & Record<string, unknown>][];

/** The functions of a set that are fast calls (all but its counters). */
export function fastFunctionNames(set: Record<string, unknown>): string[];
