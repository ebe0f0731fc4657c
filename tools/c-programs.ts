// The C programs of the package: the tutorial's programs in c/ and the
// benchmarks' C baselines in bench/c. Tests, demos, the lab and benchmarks ask
// for a program by name and get the path of a binary for exactly that source:
//
// 1. a prebuilt one the package ships (prebuilds/<platform>-<arch>/c-programs/,
//    made by scripts/prebuild.mjs at `npm pack`), named by a hash of the source,
//    the headers next to it and the flags, so a changed source never runs a
//    stale binary;
// 2. else one compiled with the machine's compiler at -O2 into build/ (cached
//    by modification time);
// 3. else, with no compiler, a NoCCompilerError that says so.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../lib/native.js';

const execFileAsync = promisify(execFile);

/** Where the sources live: `<package>/c`. */
export const cSourceDir: string = join(packageRoot, 'c');
/** Where the binaries go: `<package>/build/c`. */
export const cBuildDir: string = join(packageRoot, 'build', 'c');
/** The benchmarks' C baselines: `<package>/bench/c`. */
export const benchCSourceDir: string = join(packageRoot, 'bench', 'c');
/** Where their binaries go: `<package>/build/bench-c`. */
export const benchCBuildDir: string = join(packageRoot, 'build', 'bench-c');
/**
 * Where the package's prebuilt C programs are: `<set>/<name>-<key>/<name>` (see
 * cBuildKey). The file keeps the program's own name, which `ps`, `netstat -p`
 * and /proc/<pid>/comm show.
 */
export const cPrebuiltDir: string = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'c-programs');

const cxxExtensions = new Set(['.cpp', '.cc', '.cxx']);

/** A directory of C programs the package ships, each built the same way. */
export interface CProgramSet {
  /** 'c' (the tutorial's programs) or 'bench-c' (the benchmarks' baselines); the prebuilt subdirectory. */
  name: string;
  sourceDir: string;
  outDir: string;
  flags: readonly string[];
}

/** The two sets: c/ (g++ -O2) and bench/c (cc -O2 -Wall -pthread). */
export const cProgramSets: readonly CProgramSet[] = [
  { name: 'c', sourceDir: cSourceDir, outDir: cBuildDir, flags: [] },
  { name: 'bench-c', sourceDir: benchCSourceDir, outDir: benchCBuildDir, flags: ['-Wall', '-pthread'] },
];

/** No prebuilt binary fits the source and the compiler it needs is not installed. */
export class NoCCompilerError extends Error {
  /** Always 'ERR_SOCKFD_NO_C_COMPILER'. */
  readonly code = 'ERR_SOCKFD_NO_C_COMPILER';
  constructor(
    /** The source file that could not be built. */
    readonly source: string,
    /** The compiler that was looked for (`cc`, `g++`, or $CC / $CXX). */
    readonly compiler: string,
  ) {
    const cxx = cxxExtensions.has(extname(source));
    const shown = source.startsWith(packageRoot + sep) ? relative(packageRoot, source) : source;
    super(
      `no C compiler: ${shown} has no prebuilt binary for this source and '${compiler}' ` +
        `is not installed; install ${cxx ? 'g++' : 'a C compiler (gcc)'} or point ${cxx ? 'CXX' : 'CC'} at one`,
    );
    this.name = 'NoCCompilerError';
  }
}


/** How to compile one source file. */
export interface CompileOptions {
  /** Directory for the binary (default build/c). */
  outDir?: string;
  /**
   * Flags added after `-O2 -o out source`, e.g. ['-Wall', '-lpthread']. They are not
   * part of the cache key: build variants of one source into different outDirs.
   */
  flags?: readonly string[];
  /** Whether a matching prebuilt binary may be returned instead of compiling (default true). */
  usePrebuilt?: boolean;
}

interface CompilePlan {
  output: string;
  /** Absent when the binary is newer than its inputs. */
  build?: { compiler: string; args: string[]; temporary: string };
}

/** The source files of a set's programs (sorted). */
export function cProgramSources(set: CProgramSet): string[] {
  return readdirSync(set.sourceDir)
    .filter((file) => extname(file) === '.c' || cxxExtensions.has(extname(file)))
    .sort()
    .map((file) => join(set.sourceDir, file));
}

/** The names of the programs in c/ (file names without extension, sorted). */
export function cProgramNames(): string[] {
  return cProgramSources(cProgramSets[0]!).map((source) => basename(source, extname(source)));
}

/** The source file of program `name` in c/ (demo1 → c/demo1.cpp). */
export function cProgramSource(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new RangeError(`not a C program name: '${name}'`);
  for (const extension of ['.c', ...cxxExtensions]) {
    const source = join(cSourceDir, name + extension);
    if (existsSync(source)) return source;
  }
  throw new RangeError(`no C program '${name}' in ${cSourceDir} (have: ${cProgramNames().join(', ')})`);
}

// Newest modification time among the source and the headers next to it, since
// a changed sockfd_sleep.h must rebuild every program that includes it.
function newestInput(source: string): number {
  return Math.max(...[source, ...headersNextTo(source)].map((file) => statSync(file).mtimeMs));
}

function headersNextTo(source: string): string[] {
  const directory = dirname(source);
  return readdirSync(directory)
    .filter((file) => /\.(h|hpp)$/.test(file))
    .sort()
    .map((file) => join(directory, file));
}

/**
 * The name of the build of `source` with `flags`: 16 hex digits of a SHA-256 over
 * the flags, the source and every header next to it. A prebuilt binary is used
 * only when its key is the one of the source at hand.
 */
export function cBuildKey(source: string, flags: readonly string[] = []): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(['-O2', ...flags]));
  for (const file of [source, ...headersNextTo(source)]) {
    hash.update(`\0${basename(file)}\0`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Where the prebuilt binary of `source` with `flags` is (or would be); undefined for sources outside the sets. */
export function cPrebuiltPath(source: string, flags: readonly string[] = []): string | undefined {
  const set = cProgramSets.find((candidate) => candidate.sourceDir === dirname(source));
  if (set === undefined) return undefined;
  const name = basename(source, extname(source));
  return join(cPrebuiltDir, set.name, `${name}-${cBuildKey(source, flags)}`, name);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function plan(source: string, options: CompileOptions): CompilePlan {
  const prebuilt = options.usePrebuilt === false ? undefined : cPrebuiltPath(source, options.flags);
  if (prebuilt !== undefined && isExecutable(prebuilt)) return { output: prebuilt };
  const outDir = options.outDir ?? cBuildDir;
  const output = join(outDir, basename(source, extname(source)));
  if (existsSync(output) && statSync(output).mtimeMs >= newestInput(source)) return { output };
  mkdirSync(outDir, { recursive: true });
  const isCxx = cxxExtensions.has(extname(source));
  const compiler = isCxx ? process.env.CXX || 'g++' : process.env.CC || 'cc';
  // A private temporary name, renamed into place: two test files compiling the
  // same program at once each produce a whole binary, and rename is atomic.
  const temporary = `${output}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  // Flags after the source, where the linker needs libraries (-lpthread).
  const args = ['-O2', '-o', temporary, source, ...(options.flags ?? [])];
  return { output, build: { compiler, args, temporary } };
}

function failure(source: string, build: NonNullable<CompilePlan['build']>, error: unknown): Error {
  rmSync(build.temporary, { force: true });
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new NoCCompilerError(source, build.compiler);
  const stderr = (error as { stderr?: string | Buffer }).stderr?.toString() ?? '';
  return new Error(`${build.compiler} ${build.args.join(' ')} failed:\n${stderr || String(error)}`, { cause: error });
}

// Compilers are big: at most one per CPU at a time, and one build per binary
// in this process however many callers ask for it at once.
const compilerSlots = { free: availableParallelism(), waiting: [] as (() => void)[] };
const building = new Map<string, Promise<string>>();

async function withCompilerSlot<T>(run: () => Promise<T>): Promise<T> {
  if (compilerSlots.free > 0) compilerSlots.free--;
  else await new Promise<void>((resolve) => compilerSlots.waiting.push(resolve));
  try {
    return await run();
  } finally {
    const next = compilerSlots.waiting.shift();
    if (next) next();
    else compilerSlots.free++;
  }
}

/**
 * The binary of `source` (a .c or .cpp path): the package's prebuilt one when it
 * was built from this very source (c/ and bench/c with their set's flags), else
 * compiled unless build/ has one newer than the source. Rejects with
 * NoCCompilerError when it has to compile and the compiler is missing.
 */
export function compileC(source: string, options: CompileOptions = {}): Promise<string> {
  const key = join(options.outDir ?? cBuildDir, basename(source, extname(source)));
  const pending = building.get(key);
  if (pending) return pending;
  const job = withCompilerSlot(async () => {
    const { output, build } = plan(source, options);
    if (!build) return output;
    try {
      await execFileAsync(build.compiler, build.args, { encoding: 'utf8' });
    } catch (error) {
      throw failure(source, build, error);
    }
    renameSync(build.temporary, output);
    return output;
  }).finally(() => building.delete(key));
  building.set(key, job);
  return job;
}

/** compileC without awaiting (blocks while the compiler runs). */
export function compileCSync(source: string, options: CompileOptions = {}): string {
  const { output, build } = plan(source, options);
  if (!build) return output;
  try {
    execFileSync(build.compiler, build.args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw failure(source, build, error);
  }
  renameSync(build.temporary, output);
  return output;
}

/** The binary of bench/c/<name>.c (prebuilt or compiled with -Wall -pthread): `await benchCProgram('pingpong')`. */
export function benchCProgram(name: string): Promise<string> {
  if (!/^[a-z0-9_-]+$/.test(name)) throw new RangeError(`not a C program name: '${name}'`);
  const set = cProgramSets[1]!;
  return compileC(join(set.sourceDir, `${name}.c`), { outDir: set.outDir, flags: set.flags });
}

/** The binary of c/<name>.cpp (or .c), prebuilt or compiled if needed: `await cProgram('demo2')`. */
export function cProgram(name: string, options: CompileOptions = {}): Promise<string> {
  return compileC(cProgramSource(name), options);
}

/** cProgram without awaiting. */
export function cProgramSync(name: string, options: CompileOptions = {}): string {
  return compileCSync(cProgramSource(name), options);
}
