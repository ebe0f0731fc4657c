// The package as a user gets it: `npm pack` (prepack builds and checks the
// prebuilds), then `npm install <tarball>` into a new project with NO C/C++
// compiler, make or python on PATH, on Node 20, 22 and 24; then the commands
// (the bench on its prebuilt C baselines), the tutorial's prebuilt C programs
// and a socket()+fork() program run from that project, ESM and CommonJS, all
// with no compiler on PATH.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
// The tested Nodes (scripts/prebuild-nodes.mjs: this one, the others from the npm registry).
const nodes = JSON.parse(execFileSync(process.execPath, [join(root, 'scripts/prebuild-nodes.mjs'), '--json'], { encoding: 'utf8' })) as {
  major: number;
  node: string;
  version: string;
  abi: number;
}[];
const testedMajors = nodes.map((n) => n.major);
const nodeFor = (major: number) => nodes.find((n) => n.major === major)!;
const work = mkdtempSync(join(tmpdir(), 'sockfd-pack-'));
const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
const compilers = ['cc', 'c99', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3'];

interface Target {
  major: number;
  node: string;
  version: string;
}
interface Installed extends Target {
  project: string;
  pathWithoutCompiler: string;
  installSeconds: number;
  installLog: string;
}

let tarball = '';
let packedFiles: string[] = [];
let tarballBytes = 0;
const installed = new Map<number, Installed>();

function run(target: { node: string }, args: string[], options: { cwd: string; path: string; env?: Record<string, string> }) {
  const child = spawnSync(target.node, args, {
    cwd: options.cwd,
    env: { HOME: process.env.HOME ?? tmpdir(), PATH: options.path, ...options.env },
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr };
}

// The machine's commands without its build tools: one directory with a link to
// every program of PATH except compilers, make and python, and `node` = the target's.
const buildTool = /^(cc|c89|c99|c\+\+|cpp|gcc|g\+\+|clang|make|gmake|python|ld|as|x86_64-linux-gnu-)|^node$|^npm$|^npx$/;
function pathWithoutCompiler(target: Target): string {
  const bin = join(work, `bin-node${target.major}`);
  mkdirSync(bin, { recursive: true });
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir.startsWith('/') || dir.startsWith(root) || dir.includes('node_modules')) continue;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (buildTool.test(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  symlinkSync(target.node, join(bin, 'node'));
  return bin;
}

function install(target: Target): Installed {
  const project = join(work, `project-node${target.major}`);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `try-sockfd-${target.major}`, private: true }));
  const path = pathWithoutCompiler(target);
  const started = performance.now();
  const result = run(target, [npmCli, 'install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], {
    cwd: project,
    path,
    env: { npm_config_cache: join(process.env.HOME ?? tmpdir(), '.npm') },
  });
  const installSeconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`npm install on Node ${target.version} failed:\n${result.stdout}\n${result.stderr}`);
  return { ...target, project, pathWithoutCompiler: path, installSeconds, installLog: result.stdout + result.stderr };
}

beforeAll(() => {
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  packedFiles = info!.files.map((f) => f.path);
  tarballBytes = statSync(tarball).size;
  for (const major of testedMajors) {
    const target = nodeFor(major);
    installed.set(major, install({ major, node: target.node, version: target.version }));
  }
  process.stderr.write(
    `package: ${(tarballBytes / 1024).toFixed(0)} KiB, ${packedFiles.length} files; install without compiler: ` +
      [...installed.values()].map((i) => `Node ${i.version} ${i.installSeconds.toFixed(1)} s`).join(', ') +
      '\n',
  );
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the tarball', () => {
  it('holds what the commands and the README need, and no source maps', () => {
    const needed = [
      'LICENSE',
      'README.md',
      'bin/sockfd.js',
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'bench/c/pingpong.c',
      'c/demo1.cpp',
      'docs/api.md',
      'binding.gyp',
      'native/addon.cc',
      'native/node/addon.cc',
      'scripts/prebuild-install.mjs',
      'prebuilds/linux-x64/sockfd.napi.node',
    ];
    expect(packedFiles).toEqual(expect.arrayContaining(needed));
    // Every C program of c/ and bench/c prebuilt (scripts/prebuild.mjs checked their keys), and who built them.
    // Each at <set>/<name>-<key>/<name>: the binary keeps the program's name (ps, netstat -p).
    const prebuiltC = (set: string) =>
      packedFiles
        .filter((f) => f.startsWith(`prebuilds/linux-x64/c-programs/${set}/`))
        .map((f) => {
          const [keyed, name] = f.split('/').slice(-2);
          expect(keyed).toMatch(new RegExp(`^${name}-[0-9a-f]{16}$`));
          return name!;
        });
    const sources = (dir: string) => packedFiles.filter((f) => f.startsWith(`${dir}/`) && /\.(c|cpp)$/.test(f)).map((f) => f.slice(dir.length + 1).replace(/\.(c|cpp)$/, ''));
    expect(prebuiltC('c').sort()).toEqual(sources('c').sort());
    expect(prebuiltC('bench-c').sort()).toEqual(sources('bench/c').sort());
    expect(prebuiltC('bench-c')).toContain('pingpong');
    expect(packedFiles).toContain('prebuilds/linux-x64/c-programs/BUILT-WITH');
    for (const { abi } of nodes) expect(packedFiles).toContain(`prebuilds/linux-x64/sockfd_node/node.abi${abi}.node`);
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((f) => f.startsWith('test/') || f.startsWith('build/'))).toEqual([]);
  });

  it('holds every file the README links to', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) expect(packedFiles, link).toContain(link.replace(/^\.\//, ''));
  });

  it('declares what it is tested on', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.os).toEqual(['linux']);
    expect(pkg.cpu).toEqual(['x64']);
    expect(pkg.engines).toEqual({ node: '^20.19.0 || ^22.12.0 || ^24.0.0' });
    for (const field of ['repository', 'bugs', 'homepage', 'keywords', 'license']) expect(pkg[field], field).toBeTruthy();
  });
});

describe.each(testedMajors)('installed from the tarball on Node %i', (major) => {
  const target = () => installed.get(major)!;
  const sockfd = () => join(target().project, 'node_modules', 'sockfd');

  it('installed with no compiler on PATH, from the prebuilds', () => {
    const found = spawnSync('/bin/sh', ['-c', compilers.map((c) => `command -v ${c}`).join('; ')], {
      env: { PATH: target().pathWithoutCompiler },
      encoding: 'utf8',
    });
    expect(found.stdout).toBe('');
    expect(target().installLog).toContain('using the prebuilt binaries');
    expect(() => statSync(join(sockfd(), 'build'))).toThrow();
  });

  it('runs `sockfd --version`', () => {
    const result = run(target(), [join(target().project, 'node_modules/.bin/sockfd'), '--version'], {
      cwd: target().project,
      path: target().pathWithoutCompiler,
    });
    expect(result.status, result.stderr).toBe(0);
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(result.stdout).toBe(`sockfd ${version}\n`);
  });

  it('runs socket() + fork() from ESM and from CommonJS require()', () => {
    const program = (load: string) => `${load}
      const fd = s.socket(s.AF_INET, s.SOCK_STREAM, 0);
      s.bind(fd, { family: 'AF_INET', address: '127.0.0.1', port: 0 });
      const { port } = s.getsockname(fd);
      const pid = s.fork();
      if (pid === 0) { s.close(fd); s._exit(port > 0 ? 7 : 1); }
      const status = s.waitpid(pid);
      s.close(fd);
      console.log(JSON.stringify({ exitCode: status.exitCode, port }));`;
    writeFileSync(join(target().project, 'fork.mjs'), program(`import * as s from 'sockfd';`));
    writeFileSync(join(target().project, 'fork.cjs'), program(`const s = require('sockfd');`));
    for (const file of ['fork.mjs', 'fork.cjs']) {
      const result = run(target(), [file], { cwd: target().project, path: target().pathWithoutCompiler });
      expect(result.signal, file).toBeNull();
      expect(result.status, `${file}: ${result.stderr}`).toBe(0);
      expect(result.stderr, file).toBe(''); // no ExperimentalWarning for require(esm)
      const report = JSON.parse(result.stdout) as { exitCode: number; port: number };
      expect(report.exitCode, file).toBe(7);
    }
  });

  it('runs `sockfd bench pingpong --smoke` on its prebuilt C baseline, compiling nothing', () => {
    const result = run(target(), [join(target().project, 'node_modules/.bin/sockfd'), 'bench', 'pingpong', '--smoke'], {
      cwd: target().project,
      path: target().pathWithoutCompiler,
    });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^1-byte round trip +C +\d/m);
    expect(result.stdout).toMatch(/^ +sockfd +\d.*\d\.\d\dx/m);
    expect(result.stdout).toMatch(/\(the package's prebuilt C baselines\)/);
    expect(result.stdout).not.toMatch(/FAILED|no C compiler/);
    expect(() => statSync(join(sockfd(), 'build'))).toThrow(); // nothing was compiled
  });

  it('a changed C source never runs its old prebuilt binary: with no compiler the bench leaves the C rows out and says why', () => {
    const source = join(sockfd(), 'bench', 'c', 'pingpong.c');
    const original = readFileSync(source);
    writeFileSync(source, Buffer.concat([original, Buffer.from('/* edited */\n')]));
    try {
      const result = run(target(), [join(target().project, 'node_modules/.bin/sockfd'), 'bench', 'pingpong', '--smoke'], {
        cwd: target().project,
        path: target().pathWithoutCompiler,
      });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(
        "note: no C compiler: bench/c/pingpong.c has no prebuilt binary for this source and 'cc' is not installed; install a C compiler (gcc) or point CC at one: the rows that need it are left out",
      );
      expect(result.stdout).not.toMatch(/^1-byte round trip +C +\d/m);
      expect(result.stdout).toMatch(/^1-byte round trip +sockfd +\d/m);
      expect(result.stdout + result.stderr).not.toMatch(/FAILED|    at /);
    } finally {
      writeFileSync(source, original);
      rmSync(join(sockfd(), 'build'), { recursive: true, force: true });
    }
  });

  it("runs the tutorial's prebuilt C programs (c/, as `sockfd lab` does) with no compiler; an edited one asks for g++", () => {
    const programs = join(sockfd(), 'dist', 'tools', 'c-programs.js');
    const probe = `const { cProgram } = await import(${JSON.stringify(programs)});
      const { execFileSync } = await import('node:child_process');
      const demo2 = await cProgram('demo2');
      let usage;
      try { execFileSync(demo2, [], { encoding: 'utf8' }); } catch (error) { usage = { status: error.status, stdout: error.stdout }; }
      console.log(JSON.stringify({ demo2, usage }));`;
    const result = run(target(), ['--input-type=module', '-e', probe], { cwd: target().project, path: target().pathWithoutCompiler });
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { demo2: string; usage: { status: number; stdout: string } };
    expect(report.demo2).toMatch(new RegExp(`/node_modules/sockfd/prebuilds/linux-x64/c-programs/c/demo2-[0-9a-f]{16}/demo2$`));
    expect(report.usage).toEqual({ status: 255, stdout: expect.stringMatching(/^Using:\.\/demo2 通讯端口\nExample:\.\/demo2 5005\n/) });

    const source = join(sockfd(), 'c', 'demo2.cpp');
    const original = readFileSync(source);
    writeFileSync(source, Buffer.concat([original, Buffer.from('// edited\n')]));
    try {
      const edited = run(target(), ['--input-type=module', '-e', `const { cProgram } = await import(${JSON.stringify(programs)});
        try { await cProgram('demo2'); console.log('built'); } catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`], {
        cwd: target().project,
        path: target().pathWithoutCompiler,
      });
      expect(edited.status, edited.stderr).toBe(0);
      expect(JSON.parse(edited.stdout)).toEqual({
        code: 'ERR_SOCKFD_NO_C_COMPILER',
        message: "no C compiler: c/demo2.cpp has no prebuilt binary for this source and 'g++' is not installed; install g++ or point CXX at one",
      });
    } finally {
      writeFileSync(source, original);
      rmSync(join(sockfd(), 'build'), { recursive: true, force: true });
    }
  });

  it('fork() with a per-ABI build for another Node throws a clear Error; nothing aborts, the rest works', () => {
    const other = testedMajors.find((m) => m !== major)!;
    const otherAbi = nodeFor(other).abi;
    // A stale build/Release from another Node, as after switching Node versions without `npm rebuild`.
    const stale = join(sockfd(), 'build', 'Release', 'sockfd_node.node-abi');
    mkdirSync(dirname(stale), { recursive: true });
    copyFileSync(join(sockfd(), `prebuilds/linux-x64/sockfd_node/node.abi${otherAbi}.node`), stale);
    try {
      // With the matching prebuild next to it, the stale build is passed over: fork() works.
      const fine = run(target(), ['fork.mjs'], { cwd: target().project, path: target().pathWithoutCompiler });
      expect(fine.status, fine.stderr).toBe(0);
      // Only the stale build: fork() throws, socket() works, the process exits normally.
      const only = run(
        target(),
        [
          '--input-type=module',
          '-e',
          `import * as s from 'sockfd';
           const fd = s.socket(s.AF_INET, s.SOCK_STREAM, 0);
           let error; try { s.fork(); } catch (e) { error = e; }
           s.close(fd);
           console.log(JSON.stringify({ fd, code: error?.code, message: error?.message }));`,
        ],
        { cwd: target().project, path: target().pathWithoutCompiler, env: { SOCKFD_NODE_ADDON: stale } },
      );
      expect(only.signal).toBeNull();
      expect(only.status, only.stderr).toBe(0);
      const report = JSON.parse(only.stdout) as { fd: number; code: string; message: string };
      expect(report.fd).toBeGreaterThan(2);
      expect(report.code).toBe('ERR_SOCKFD_NODE_ADDON');
      expect(report.message).toContain(`built for Node ${other} (NODE_MODULE_VERSION ${otherAbi})`);
      expect(report.message).toContain(`this Node, v${target().version}`);
      expect(report.message).toContain('npm rebuild sockfd');
    } finally {
      rmSync(join(sockfd(), 'build'), { recursive: true, force: true });
    }
  });
});
