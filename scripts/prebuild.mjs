// Makes the prebuilt binaries the package ships (prebuildify layout, read by
// node-gyp-build and lib/native.ts), then checks every one of them:
//
//   prebuilds/linux-x64/sockfd.napi.node               the N-API core, one for every Node
//   prebuilds/linux-x64/sockfd_node/node.abi<N>.node   the per-ABI addon, one per Node major
//                                                      of scripts/prebuild-nodes.mjs
//   prebuilds/linux-x64/c-programs/{c,bench-c}/<name>-<key>/<name>
//                                                      the tutorial's C programs (c/) and the
//                                                      benchmarks' C baselines (bench/c), keyed by
//                                                      a hash of source, headers and flags
//                                                      (tools/c-programs.ts cBuildKey), so a
//                                                      changed source never runs a stale binary;
//                                                      BUILT-WITH names the compilers
//
// Built from a copy of binding.gyp and native/ in a temporary directory, so the
// checkout's build/ is left alone; stripped. A build/Release/<addon>.node that
// is newer than binding.gyp and every file of native/ (as `npm ci` just made
// it) is the same build for the running Node and is taken instead of a second
// compile (--fresh compiles everything anyway); so is an addon already in
// prebuilds/ that is newer than those sources (an earlier run of this script,
// e.g. CI's --addons beside its tests). The check runs each Node on the
// core and on every per-ABI build: the matching one must load and report its
// ABI and fork() through it, every other one must fail with an Error (never
// abort the process). The C programs are compiled fresh (never taken from
// build/, whose flags are not known) and checked against their sources' keys.
// It needs dist/ (tools/c-programs.js): prepack runs tsc first.
// `npm pack` runs this (prepack); CI runs `npm pack` in test/pack.
//
//   node scripts/prebuild.mjs           build and check
//   node scripts/prebuild.mjs --fresh   the same, compiling even what build/Release has
//   node scripts/prebuild.mjs --check   only check what is in prebuilds/
//   node scripts/prebuild.mjs --addons  only build the addons (no C programs, no check; needs no dist/)
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { delimiter, dirname, join } from 'node:path';
import { nodeFor, root, testedMajors } from './prebuild-nodes.mjs';

const platformDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const corePath = join(platformDir, 'sockfd.napi.node');
const perAbiDir = join(platformDir, 'sockfd_node');
const nodeGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const addonsOnly = process.argv.includes('--addons');

function log(message) {
  process.stderr.write(`prebuild: ${message}\n`);
}

function run(command, args, options) {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'], ...options });
}

// node-gyp configure + make <target> in `dir`, with `target`'s Node and headers.
function build(dir, target, gypTarget) {
  const env = {
    ...process.env,
    PATH: [dirname(target.node), process.env.PATH].join(delimiter), // `node` in binding.gyp's <!(...)
    npm_config_nodedir: target.nodedir,
  };
  run(target.node, [nodeGyp, 'configure', `--nodedir=${target.nodedir}`, `--target=${target.version}`, '--loglevel=error'], {
    cwd: dir,
    env,
  });
  run('make', ['-C', 'build', `-j${cpuCount()}`, 'BUILDTYPE=Release', 'V=0', gypTarget], { cwd: dir, env });
  return join(dir, 'build', 'Release', builtFile(gypTarget));
}

// binding.gyp names the per-ABI addon *.node-abi (node-gyp-build must not take it for the core).
function builtFile(gypTarget) {
  return gypTarget === 'sockfd_node' ? 'sockfd_node.node-abi' : `${gypTarget}.node`;
}

function cpuCount() {
  return Math.max(1, Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 1);
}

function install(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  run('strip', ['--strip-unneeded', to]);
}

// `file` when it exists and is newer than binding.gyp, package.json and every
// file of native/ (never with --fresh).
function newerThanSources(file) {
  if (process.argv.includes('--fresh') || !existsSync(file)) return undefined;
  const sources = [join(root, 'binding.gyp'), join(root, 'package.json')];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else sources.push(join(dir, entry.name));
    }
  };
  walk(join(root, 'native'));
  const builtAt = statSync(file).mtimeMs;
  return sources.every((source) => statSync(source).mtimeMs < builtAt) ? file : undefined;
}

// The checkout's own build of `gypTarget` when it is newer than all its sources.
function upToDateBuild(gypTarget) {
  return newerThanSources(join(root, 'build', 'Release', builtFile(gypTarget)));
}

// tools/c-programs.js from dist/ (the one code that names, keys and finds the binaries).
async function cPrograms() {
  const module = join(root, 'dist', 'tools', 'c-programs.js');
  if (!existsSync(module)) {
    log(`${module} is missing: build the TypeScript first (npm run build)`);
    process.exit(1);
  }
  return import(pathToFileURL(module).href);
}

function firstLine(command) {
  return execFileSync(command, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
}

async function buildCPrograms() {
  const c = await cPrograms();
  const work = mkdtempSync(join(tmpdir(), 'sockfd-prebuild-c-'));
  try {
    const built = [];
    for (const set of c.cProgramSets) {
      for (const source of c.cProgramSources(set)) {
        built.push(
          c.compileC(source, { outDir: join(work, set.name), flags: set.flags, usePrebuilt: false }).then((binary) => install(binary, c.cPrebuiltPath(source, set.flags))),
        );
      }
    }
    await Promise.all(built);
    const compilers = [process.env.CC || 'cc', process.env.CXX || 'g++'].map(firstLine);
    writeFileSync(join(c.cPrebuiltDir, 'BUILT-WITH'), `${compilers.join('\n')}\n`);
    log(`C programs: ${built.length} (c/, bench/c) with ${compilers[0]}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function checkCPrograms(failures) {
  const c = await cPrograms();
  let count = 0;
  for (const set of c.cProgramSets) {
    const expected = c.cProgramSources(set).map((source) => c.cPrebuiltPath(source, set.flags));
    const setDir = join(c.cPrebuiltDir, set.name);
    const present = existsSync(setDir)
      ? readdirSync(setDir).flatMap((keyed) => readdirSync(join(setDir, keyed)).map((file) => join(setDir, keyed, file)))
      : [];
    for (const file of expected) {
      if (!present.includes(file)) failures.push(`C program ${file} is missing (or its source changed since: run this script again)`);
      else if ((statSync(file).mode & 0o111) === 0) failures.push(`C program ${file} is not executable`);
      else count++;
    }
    for (const file of present) if (!expected.includes(file)) failures.push(`C program ${file} belongs to no current source (stale)`);
  }
  if (!existsSync(join(c.cPrebuiltDir, 'BUILT-WITH'))) failures.push(`${join(c.cPrebuiltDir, 'BUILT-WITH')} is missing`);
  log(`ok  C programs: ${count} prebuilt, each keyed to its current source`);
}

function abiOf(target) {
  return execFileSync(target.node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
}

function buildAll() {
  const work = mkdtempSync(join(tmpdir(), 'sockfd-prebuild-'));
  try {
    cpSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
    cpSync(join(root, 'package.json'), join(work, 'package.json'));
    cpSync(join(root, 'native'), join(work, 'native'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
    // A prebuilt addon newer than every source is this same build made earlier
    // (CI makes them with --addons beside its tests, then `npm pack` takes them);
    // anything else in prebuilds/ is made again.
    const keep = new Set();
    const running = nodeFor(Number(process.versions.node.split('.')[0]));
    const abis = new Map(testedMajors.map((major) => [major, abiOf(nodeFor(major))]));
    if (newerThanSources(corePath)) keep.add(corePath);
    for (const abi of abis.values()) {
      const file = join(perAbiDir, `node.abi${abi}.node`);
      if (newerThanSources(file)) keep.add(file);
    }
    if (existsSync(perAbiDir)) for (const file of readdirSync(perAbiDir)) if (!keep.has(join(perAbiDir, file))) rmSync(join(perAbiDir, file), { force: true });
    if (!keep.has(corePath)) rmSync(corePath, { force: true });
    if (!addonsOnly) rmSync(join(platformDir, 'c-programs'), { recursive: true, force: true });

    const reusedCore = keep.has(corePath) ? corePath : upToDateBuild('sockfd');
    log(`core (N-API) with Node ${running.version}${reusedCore === corePath ? ': prebuilt, up to date' : reusedCore ? ': build/Release/sockfd.node is up to date' : ''}`);
    if (reusedCore !== corePath) install(reusedCore ?? build(work, running, 'sockfd'), corePath);
    for (const major of testedMajors) {
      const target = nodeFor(major);
      const abi = abis.get(major);
      const file = join(perAbiDir, `node.abi${abi}.node`);
      if (keep.has(file)) {
        log(`sockfd_node for Node ${target.version} (NODE_MODULE_VERSION ${abi}): prebuilt, up to date`);
        continue;
      }
      const reused = target.node === process.execPath ? upToDateBuild('sockfd_node') : undefined;
      log(`sockfd_node for Node ${target.version} (NODE_MODULE_VERSION ${abi})${reused ? ': build/Release is up to date' : ''}`);
      rmSync(join(work, 'build'), { recursive: true, force: true });
      install(reused ?? build(work, target, 'sockfd_node'), file);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// Run by each Node: argv = core path, per-ABI path. Prints one JSON line.
const probe = `
const [core, perAbi] = process.argv.slice(1);
const sockfd = require(core);
const fd = sockfd.socket(sockfd.constants.AF_INET, sockfd.constants.SOCK_STREAM, 0);
sockfd.close(fd);
let result;
try { result = { loaded: require(perAbi).builtFor.nodeModuleVersion }; }
catch (error) { result = { error: String(error.message).split('\\n')[0] }; }
if (result.loaded !== undefined) {
  // The core's fork() with this addon's worker parking: the child exits 7 (at once, so the
  // loop-end callbacks fork() keeps for children - lib/process.ts's - are never called here).
  const pid = sockfd.fork(perAbi, () => {}, () => {});
  if (pid === 0) sockfd._exit(7);
  result.forkExit = sockfd.waitpid(pid, 0).exitCode;
}
console.log(JSON.stringify({ abi: Number(process.versions.modules), socket: fd >= 0, ...result }));
`;

async function check() {
  const failures = [];
  await checkCPrograms(failures);
  const perAbi = existsSync(perAbiDir) ? readdirSync(perAbiDir).filter((f) => /^node\.abi\d+\.node$/.test(f)) : [];
  if (!existsSync(corePath)) failures.push(`${corePath} is missing`);
  for (const major of testedMajors) {
    const target = nodeFor(major);
    const abi = abiOf(target);
    if (!perAbi.includes(`node.abi${abi}.node`)) failures.push(`no sockfd_node for Node ${major} (abi ${abi})`);
    for (const file of perAbi) {
      const child = spawnSync(target.node, ['-e', probe, corePath, join(perAbiDir, file)], { encoding: 'utf8' });
      const what = `Node ${target.version} with ${file}`;
      if (child.status !== 0 || child.signal) {
        failures.push(`${what}: exit ${child.status ?? child.signal}\n${child.stderr}`);
        continue;
      }
      const result = JSON.parse(child.stdout);
      const matches = file === `node.abi${abi}.node`;
      if (!result.socket) failures.push(`${what}: the core's socket() failed`);
      else if (matches && result.loaded !== Number(abi)) failures.push(`${what}: did not load (${result.error})`);
      else if (matches && result.forkExit !== 7) failures.push(`${what}: fork() child exited ${result.forkExit}`);
      else if (!matches && result.error === undefined) failures.push(`${what}: loaded a build for another ABI`);
      else log(`ok  ${what}: ${matches ? 'loads, fork() works' : `refused (${result.error.slice(0, 90)}...)`}`);
    }
  }
  if (failures.length > 0) {
    for (const failure of failures) log(`FAIL ${failure}`);
    process.exit(1);
  }
}

if (!process.argv.includes('--check')) {
  buildAll();
  if (!addonsOnly) await buildCPrograms();
}
if (!addonsOnly) await check();
