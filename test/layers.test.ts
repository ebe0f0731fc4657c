// The layers of the tree run one way (docs/CONTRIBUTING.md, "Layers"):
//   native <- lib <- tools <- {demos, cli, bench};  cli may import demos and bench;  tests anything.
// Every import of every source file is parsed (static, re-export, side-effect and
// literal dynamic imports) and resolved to the folder it lands in; a direction
// the picture does not allow fails with the file and the import.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');

type Layer = 'lib' | 'tools' | 'demos' | 'cli' | 'bench' | 'test';
const scanned: readonly Layer[] = ['lib', 'tools', 'demos', 'cli', 'bench', 'test'];

/** What each layer may import besides itself. */
const allowed: Readonly<Record<Layer, readonly Layer[]>> = {
  lib: [],
  tools: ['lib'],
  demos: ['lib', 'tools'],
  bench: ['lib', 'tools'],
  cli: ['lib', 'tools', 'demos', 'bench'],
  test: ['lib', 'tools', 'demos', 'cli', 'bench'],
};

const sourceExtensions = ['.ts', '.mts', '.js', '.mjs', '.cjs'];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return sourceExtensions.some((ext) => name.endsWith(ext)) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Every module specifier a file names: `import ... from 'x'`, `export ... from 'x'`,
 * `import 'x'` and `import('x')`. A small scanner, not a regex over the text: the
 * insides of comments, strings, template literals and regular expressions are
 * skipped, so an import written in a comment or a string is not one.
 */
export function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  let code = ''; // what was read so far, outside comments and literals
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      if (c !== '`' && /(?:\bfrom|\bimport|\bimport\s*\()\s*$/.test(code.slice(-40))) specifiers.push(text.slice(i + 1, j));
      code += ' "" ';
      i = j + 1;
    } else if (c === '/' && /(?:^|[(,=:[!&|?{};+\-*%<>~^]|\breturn|\btypeof)\s*$/.test(code.slice(-40))) {
      // a regular expression literal: up to the closing slash outside a [...] class
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j++;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      code += ' /re/ ';
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  return specifiers;
}

/** The layer a path inside the repository belongs to (dist/x is x's layer; bin/ is the CLI). */
export function layerOf(pathFromRoot: string): Layer | 'native' | 'other' {
  const parts = pathFromRoot.split(sep);
  const top = parts[0] === 'dist' ? parts[1] : parts[0];
  if (top === 'bin') return 'cli';
  if (top === 'native' || top === 'build') return 'native';
  return (scanned as readonly string[]).includes(top ?? '') ? (top as Layer) : 'other';
}

interface Violation {
  file: string;
  specifier: string;
  reason: string;
}

const runtimeDependencies = new Set(Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: object }).dependencies ?? {}));
const builtins = new Set(builtinModules);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** What is wrong with `specifier` imported by `file` (absolute), or undefined. */
export function checkImport(file: string, specifier: string): string | undefined {
  const from = layerOf(relative(root, file));
  if (from === 'native' || from === 'other') return undefined;
  if (!specifier.startsWith('.')) {
    if (specifier.startsWith('node:') || builtins.has(specifier)) return undefined;
    // What ships (everything but the tests) may need only what `npm install --omit=dev` brings.
    if (from !== 'test' && !runtimeDependencies.has(packageName(specifier))) return `imports ${packageName(specifier)}, which is not a runtime dependency`;
    return undefined;
  }
  const target = resolve(dirname(file), specifier);
  const to = layerOf(relative(root, target));
  if (to === from) return undefined;
  if (to === 'other') return `imports ${relative(root, target)}, outside every layer`;
  if (to === 'native') return from === 'lib' ? undefined : `${from} reaches the addon directly (only lib/native.ts loads it)`;
  return allowed[from].includes(to) ? undefined : `${from} may not import ${to}`;
}

/** Does the relative import name a file that exists (the .ts behind a .js name)? */
function resolves(file: string, specifier: string): boolean {
  const target = resolve(dirname(file), specifier);
  if (relative(root, target).split(sep)[0] === 'dist') return true; // built by pretest
  const candidates = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts')];
  return candidates.some((candidate) => existsSync(candidate));
}

function scan(): { files: number; relativeImports: number; violations: Violation[]; unresolved: string[] } {
  const violations: Violation[] = [];
  const unresolved: string[] = [];
  let files = 0;
  let relativeImports = 0;
  for (const layer of [...scanned, 'bin']) {
    for (const file of sourceFiles(join(root, layer))) {
      files++;
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('.')) {
          relativeImports++;
          if (!resolves(file, specifier)) unresolved.push(`${relative(root, file)}: '${specifier}'`);
        }
        const reason = checkImport(file, specifier);
        if (reason) violations.push({ file: relative(root, file), specifier, reason });
      }
    }
  }
  return { files, relativeImports, violations, unresolved };
}

// Inside lib: the classes that own an fd sit on the raw API, never the other way.
const libClasses = new Set(['lib/socket.ts', 'lib/tcp-connection.ts', 'lib/tcp-client.ts', 'lib/tcp-server.ts', 'lib/net-handoff.ts', 'lib/activation.ts']);

/** What is wrong with a lib module importing another lib module, or undefined. */
export function checkInsideLib(fileFromRoot: string, targetFromRoot: string): string | undefined {
  const target = targetFromRoot.replace(/\.js$/, '.ts');
  if (target === 'lib/index.ts') return 'imports lib/index.ts (only users do)';
  if (libClasses.has(target) && !libClasses.has(fileFromRoot) && fileFromRoot !== 'lib/index.ts') {
    return `the raw API imports the class module ${target}`;
  }
  return undefined;
}

describe('import directions', () => {
  it('inside lib the raw API (posix, async, transfer, ...) never imports the classes', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(join(root, 'lib'))) {
      const from = relative(root, file);
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const reason = checkInsideLib(from, relative(root, resolve(dirname(file), specifier)));
        if (reason) violations.push(`${from}: '${specifier}' — ${reason}`);
      }
    }
    expect(violations).toEqual([]);
    expect(checkInsideLib('lib/async.ts', 'lib/socket.js')).toMatch(/raw API imports the class/);
    expect(checkInsideLib('lib/transfer/sender.ts', 'lib/tcp-client.js')).toMatch(/raw API imports the class/);
    expect(checkInsideLib('lib/socket.ts', 'lib/index.js')).toMatch(/only users/);
    expect(checkInsideLib('lib/tcp-client.ts', 'lib/socket.js')).toBeUndefined();
    expect(checkInsideLib('lib/socket.ts', 'lib/async.js')).toBeUndefined();
  });

  it('every import in lib/ tools/ demos/ cli/ bench/ test/ runs the allowed way', () => {
    const { files, relativeImports, violations, unresolved } = scan();
    // The parser found the tree's imports (not an empty pass) and each one names a real file.
    expect(files).toBeGreaterThan(100);
    expect(relativeImports).toBeGreaterThan(300);
    expect(unresolved).toEqual([]);
    expect(violations.map((v) => `${v.file}: '${v.specifier}' — ${v.reason}`)).toEqual([]);
  });

  it('the checker sees each kind of import and rejects each forbidden direction', () => {
    const source = [
      "import { a } from '../tools/a.js';",
      "import type {\n  B,\n  C,\n} from './b.js';",
      "export * from '../cli/c.js';",
      "import '../demos/side-effect.js';",
      "const m = await import('../bench/d.js');",
      "// import { e } from '../cli/in-a-comment.js';",
      "/* export * from '../cli/in-a-block.js'; */",
      "const s = 'from \\'../cli/in-a-string.js\\'';",
    ].join('\n');
    expect(importsOf(source)).toEqual(['../tools/a.js', './b.js', '../cli/c.js', '../demos/side-effect.js', '../bench/d.js']);
    // A regular expression with a quote in it does not start a string that hides the next import.
    expect(importsOf("const q = /'/g;\nimport { f } from '../tools/f.js';")).toEqual(['../tools/f.js']);

    const at = (path: string): string => join(root, path);
    expect(checkImport(at('lib/x.ts'), '../tools/a.js')).toBe('lib may not import tools');
    expect(checkImport(at('lib/transfer/x.ts'), '../../cli/main.js')).toBe('lib may not import cli');
    expect(checkImport(at('tools/x.ts'), '../demos/support/demo.js')).toBe('tools may not import demos');
    expect(checkImport(at('demos/x.ts'), '../cli/command.js')).toBe('demos may not import cli');
    expect(checkImport(at('bench/harness/x.ts'), '../../demos/server.js')).toBe('bench may not import demos');
    expect(checkImport(at('bench/x.ts'), '../cli/main.js')).toBe('bench may not import cli');
    expect(checkImport(at('demos/x.ts'), '../build/Release/sockfd.node')).toMatch(/addon directly/);
    expect(checkImport(at('lib/x.ts'), 'vitest')).toMatch(/not a runtime dependency/);

    expect(checkImport(at('lib/x.ts'), './posix.js')).toBeUndefined();
    expect(checkImport(at('tools/x.ts'), '../lib/posix.js')).toBeUndefined();
    expect(checkImport(at('demos/support/x.ts'), '../../tools/usage-error.js')).toBeUndefined();
    expect(checkImport(at('cli/commands/x.ts'), '../../demos/support/demo.js')).toBeUndefined();
    expect(checkImport(at('cli/commands/x.ts'), '../../bench/harness/run.js')).toBeUndefined();
    expect(checkImport(at('test/helpers/x.ts'), '../../cli/commands/bench.js')).toBeUndefined();
    expect(checkImport(at('test/fixtures/x.mjs'), '../../dist/lib/index.js')).toBeUndefined();
    expect(checkImport(at('lib/native.ts'), 'node-gyp-build')).toBeUndefined();
    expect(checkImport(at('test/x.ts'), 'vitest')).toBeUndefined();
  });
});
