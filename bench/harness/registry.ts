// Finds the benchmarks: every module bench/<name>.js (next to harness/) that
// exports `benchmark`. Adding a benchmark is adding one file; nothing to list.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Benchmark } from './harness.js';

/** The directory that holds the compiled benchmark modules (dist/bench). */
export const benchDir: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** The names of the benchmark modules, without loading them (sorted). */
export function benchmarkFiles(dir: string = benchDir): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -'.js'.length))
    .sort();
}

function isBenchmark(value: unknown): value is Benchmark {
  const candidate = value as Partial<Benchmark> | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.summary === 'string' &&
    typeof candidate.run === 'function' &&
    Array.isArray(candidate.cPrograms) &&
    typeof candidate.peers === 'object'
  );
}

/** Loads one benchmark module by file name; throws when it does not export a benchmark of that name. */
export async function loadBenchmark(name: string, dir: string = benchDir): Promise<Benchmark> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new RangeError(`not a benchmark name: '${name}'`);
  const module = (await import(pathToFileURL(join(dir, `${name}.js`)).href)) as { benchmark?: unknown };
  if (!isBenchmark(module.benchmark)) throw new Error(`bench/${name}.js does not export a benchmark`);
  if (module.benchmark.name !== name) throw new Error(`bench/${name}.js exports benchmark '${module.benchmark.name}'; the names must match`);
  return module.benchmark;
}

/** Every benchmark, in name order. */
export async function loadBenchmarks(dir: string = benchDir): Promise<Benchmark[]> {
  return Promise.all(benchmarkFiles(dir).map((name) => loadBenchmark(name, dir)));
}

/** A module in bench/ that could not be loaded, and why. */
export interface LoadFailure {
  name: string;
  error: string;
}

/** Every benchmark that loads; the others are reported, not thrown (one broken module must not hide the rest). */
export async function loadBenchmarksSafely(dir: string = benchDir): Promise<{ benchmarks: Benchmark[]; failures: LoadFailure[] }> {
  const benchmarks: Benchmark[] = [];
  const failures: LoadFailure[] = [];
  for (const name of benchmarkFiles(dir)) {
    try {
      benchmarks.push(await loadBenchmark(name, dir));
    } catch (error) {
      failures.push({ name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { benchmarks, failures };
}
