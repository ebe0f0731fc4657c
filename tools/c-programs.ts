// The C reference programs in c/ (the tutorial's programs), compiled on demand
// with the machine's compiler at -O2 into build/c/. Tests, demos and benchmarks
// ask for a program by name and get the path of an up-to-date binary.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../lib/native.js';

const execFileAsync = promisify(execFile);

/** Where the sources live: `<package>/c`. */
export const cSourceDir: string = join(packageRoot, 'c');
/** Where the binaries go: `<package>/build/c`. */
export const cBuildDir: string = join(packageRoot, 'build', 'c');

const cxxExtensions = new Set(['.cpp', '.cc', '.cxx']);

/** How to compile one source file. */
export interface CompileOptions {
  /** Directory for the binary (default build/c). */
  outDir?: string;
  /**
   * Flags added after `-O2 -o out source`, e.g. ['-Wall', '-lpthread']. They are not
   * part of the cache key: build variants of one source into different outDirs.
   */
  flags?: readonly string[];
}

interface CompilePlan {
  output: string;
  /** Absent when the binary is newer than its inputs. */
  build?: { compiler: string; args: string[]; temporary: string };
}

/** The names of the programs in c/ (file names without extension, sorted). */
export function cProgramNames(): string[] {
  return readdirSync(cSourceDir)
    .filter((file) => extname(file) === '.c' || cxxExtensions.has(extname(file)))
    .map((file) => basename(file, extname(file)))
    .sort();
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
  const directory = dirname(source);
  const headers = readdirSync(directory).filter((file) => /\.(h|hpp)$/.test(file));
  return Math.max(statSync(source).mtimeMs, ...headers.map((file) => statSync(join(directory, file)).mtimeMs));
}

function plan(source: string, options: CompileOptions): CompilePlan {
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

function failure(build: NonNullable<CompilePlan['build']>, error: unknown): Error {
  rmSync(build.temporary, { force: true });
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

/** Compiles `source` (a .c or .cpp path) unless its binary is up to date; resolves to the binary's path. */
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
      throw failure(build, error);
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
    throw failure(build, error);
  }
  renameSync(build.temporary, output);
  return output;
}

/** The binary of c/<name>.cpp (or .c), compiled if needed: `await cProgram('demo2')`. */
export function cProgram(name: string, options: CompileOptions = {}): Promise<string> {
  return compileC(cProgramSource(name), options);
}

/** cProgram without awaiting. */
export function cProgramSync(name: string, options: CompileOptions = {}): string {
  return compileCSync(cProgramSource(name), options);
}
