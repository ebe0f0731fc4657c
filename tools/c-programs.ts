// The C programs of the package: the tutorial's programs in c/ and the
// benchmarks' C baselines in bench/c. Tests, demos, the lab and benchmarks ask
// for a program by name and get the path of a binary for exactly that source:
//
// 1. a prebuilt one the package ships (prebuilds/<platform>-<arch>/c-programs/,
//    made by scripts/prebuild.mjs at `npm pack`), named by a hash of the source,
//    the headers next to it and the flags, so a changed source never runs a
//    stale binary - if it can run here: its dynamic linker exists and accepts
//    it (a binary built against a newer glibc than this machine's cannot run);
// 2. else one compiled with the machine's compiler at -O2 into build/ (cached
//    by modification time);
// 3. else, with no compiler, a NoCCompilerError that says so (and why the
//    prebuilt one could not be used).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
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
    /** Why the prebuilt binary for this source cannot run here, when there is one (see whyCannotRun). */
    readonly prebuiltProblem?: string,
  ) {
    const cxx = cxxExtensions.has(extname(source));
    const shown = source.startsWith(packageRoot + sep) ? relative(packageRoot, source) : source;
    const prebuilt = prebuiltProblem === undefined ? 'has no prebuilt binary for this source' : `has a prebuilt binary that cannot run on this machine (${prebuiltProblem})`;
    super(
      `no C compiler: ${shown} ${prebuilt} and '${compiler}' ` +
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
  /** The prebuilt binary to try first instead of the package's one for this source (cPrebuiltPath). */
  prebuiltPath?: string;
}

interface CompilePlan {
  output: string;
  /** Absent when the binary is newer than its inputs. */
  build?: { compiler: string; args: string[]; temporary: string; prebuiltProblem?: string };
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

// ELF constants (<elf.h>): the machine of this CPU, PT_INTERP.
const elfMachine: Readonly<Record<string, number>> = { x64: 62, arm64: 183, ia32: 3, arm: 40, riscv64: 243, ppc64: 21, s390x: 22 };
const PT_INTERP = 3;

/** The dynamic linker an ELF executable names (PT_INTERP), null for a static one; a problem when it is no ELF for this CPU. */
function elfInterpreter(binary: string): { interpreter: string | null } | { problem: string } {
  const fd = openSync(binary, 'r');
  try {
    const header = Buffer.alloc(64);
    const read = (buffer: Buffer, position: number) => readSync(fd, buffer, 0, buffer.length, position);
    if (read(header, 0) < 64 || header.readUInt32BE(0) !== 0x7f454c46) return { problem: 'not an ELF executable' };
    if (header[4] !== 2 || header[5] !== 1) return { problem: 'not a 64-bit little-endian ELF' };
    const machine = header.readUInt16LE(18);
    const expected = elfMachine[process.arch];
    if (expected !== undefined && machine !== expected) return { problem: `an ELF for another CPU (e_machine ${machine}, this one is ${process.arch})` };
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    if (phentsize < 56 || phnum > 256) return { problem: 'a damaged ELF (program headers)' };
    const entry = Buffer.alloc(phentsize);
    for (let i = 0; i < phnum; i++) {
      if (read(entry, phoff + i * phentsize) < phentsize) return { problem: 'a damaged ELF (program headers)' };
      if (entry.readUInt32LE(0) !== PT_INTERP) continue;
      const size = Number(entry.readBigUInt64LE(32));
      if (size < 2 || size > 4096) return { problem: 'a damaged ELF (PT_INTERP)' };
      const name = Buffer.alloc(size);
      read(name, Number(entry.readBigUInt64LE(8)));
      return { interpreter: name.toString('latin1').replace(/\0.*$/s, '') };
    }
    return { interpreter: null };
  } finally {
    closeSync(fd);
  }
}

// Answers of whyCannotRun, by path and modification time: one dynamic-linker run per binary and process.
const runnable = new Map<string, string | undefined>();

/**
 * Why the executable `binary` cannot run on this machine, or undefined when it
 * can: no ELF for this CPU, a dynamic linker (PT_INTERP) that does not exist
 * here, or one that refuses it - a library missing, or a symbol version this
 * machine's libraries lack (a binary linked against a newer glibc). Asks the
 * dynamic linker itself (`ld.so --list`, which loads and checks the libraries
 * without running the program).
 */
export function whyCannotRun(binary: string): string | undefined {
  const key = `${binary}\0${statSync(binary).mtimeMs}`;
  if (runnable.has(key)) return runnable.get(key);
  const answer = ((): string | undefined => {
    const elf = elfInterpreter(binary);
    if ('problem' in elf) return elf.problem;
    if (elf.interpreter === null) return undefined; // static: nothing to load
    if (!isExecutable(elf.interpreter)) return `its dynamic linker ${elf.interpreter} does not exist here`;
    const listed = spawnSync(elf.interpreter, ['--list', binary], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (listed.error) return `its dynamic linker ${elf.interpreter} does not run: ${listed.error.message}`;
    // glibc's answers: "version `GLIBC_2.99' not found (required by ...)" on stderr,
    // "libx.so.1 => not found" on stdout; both with exit status 0.
    const refusal = `${listed.stderr}\n${listed.stdout}`.split('\n').find((line) => /not found|cannot|error/i.test(line));
    if (listed.status !== 0 || refusal !== undefined)
      return (refusal ?? listed.stderr.split('\n')[0] ?? `exit status ${listed.status}`).trim().replace(`${binary}: `, '');
    return undefined;
  })();
  runnable.set(key, answer);
  return answer;
}

function plan(source: string, options: CompileOptions): CompilePlan {
  const prebuilt = options.usePrebuilt === false ? undefined : (options.prebuiltPath ?? cPrebuiltPath(source, options.flags));
  let prebuiltProblem: string | undefined;
  if (prebuilt !== undefined && isExecutable(prebuilt)) {
    prebuiltProblem = whyCannotRun(prebuilt);
    if (prebuiltProblem === undefined) return { output: prebuilt };
  }
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
  return { output, build: { compiler, args, temporary, prebuiltProblem } };
}

function failure(source: string, build: NonNullable<CompilePlan['build']>, error: unknown): Error {
  rmSync(build.temporary, { force: true });
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new NoCCompilerError(source, build.compiler, build.prebuiltProblem);
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
